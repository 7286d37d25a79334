"""Lesson 00 — start here: what the base model knows, what it cannot do yet, and "school" for real models.

The tiny model was pre-trained on the course's corpus, so it knows the invented people. A real base
model (SmolLM2, Qwen2.5, Mistral) has never met them. On those profiles this lesson first sends the
model to school: a short continued pre-training on the corpus's biographies and Q/A documents about
the profile's world, cached in ``build/cache/school-<profile>-<key>/``.

The contract with every later lesson is ``base_model(profile)``: the model lessons 01–06 start from
(the tiny model itself, or the school model, trained now if missing).

>>> biography(make_people()[0]).startswith(make_people()[0].name)
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from labkit.core.data.instructions import world
from labkit.core.data.world import make_people
from labkit.core.files import atomic_write_json
from labkit.core.models import base_model_key
from labkit.core.profiles import get_profile
from labkit.lessons.registry import LESSONS
from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import CACHE_DIR, CORPUS_PATH

__all__ = ["make_people", "people", "biography", "lesson_table", "profile_lines", "school_data", "school_settings", "go_to_school",
           "base_model", "base_folder", "needs_school"]

NOT_IN_KEY = ("output_dir", "live_plot", "eval_every", "logging_steps", "save_steps")


def people(profile: str = "tiny") -> list:
    """The invented people of this profile's world, in the world's fixed order."""
    return make_people()[:get_profile(profile).world_people]


def biography(person) -> str:
    """The first biography of ``person`` in the pre-training corpus (not a Question/Answer document)."""
    with CORPUS_PATH.open(encoding="utf-8") as corpus:
        for line in corpus:
            text = json.loads(line)["text"]
            if text.startswith(person.name) and "Question" not in text:
                return text
    raise LookupError(f"no biography of {person.name} in {CORPUS_PATH}")


def lesson_table() -> str:
    """The course's lessons as a Markdown table, from the lesson registry."""
    rows = ["| # | lesson | teaches | you will | measured effect |", "|---|---|---|---|---|"]
    for lesson in LESSONS:
        rows.append(f"| {lesson.number} | [{lesson.slug}]({lesson.notebook.name}) | {lesson.teaches} "
                    f"| {lesson.interactive} | {lesson.effect} |")
    return "\n".join(rows)


def model_origin(profile) -> str:
    """Where a profile's model comes from, in a few words."""
    return {"local": "data/tiny (ships with labkit)", "hub": profile.model_id,
            "standin": f"stand-in for {profile.model_id}, built offline"}[profile.source]


def profile_lines() -> list[str]:
    """One line per profile: name, model, hardware, expected time."""
    from labkit.core.profiles import PROFILES

    return [f"{p.name:15} {model_origin(p):40} {p.hardware:34} {p.expected_time}" for p in PROFILES.values()]


def needs_school(profile: str) -> bool:
    """Whether this profile's base model must first learn the invented world (every real model does)."""
    return get_profile(profile).school


def school_data(profile: str):
    """The corpus documents (biographies, Q/A) about the profile's world, training split, as a ``text`` dataset."""
    from datasets import Dataset

    people = world(profile)
    texts = []
    with CORPUS_PATH.open(encoding="utf-8") as corpus:
        for line in corpus:
            document = json.loads(line)
            if document["split"] == "train" and any(name in document["text"] for name in people):
                texts.append(document["text"])
    return Dataset.from_dict({"text": texts})


def school_settings(profile: str, **overrides) -> SFTSettings:
    """The profile's school recipe: plain next-token prediction on packed documents."""
    return SFTSettings.for_profile(profile, "school", packing=True, completion_only_loss=False, **overrides)


def _school_dir(profile: str, settings: SFTSettings) -> Path:
    relevant = {k: v for k, v in asdict(settings).items() if k not in NOT_IN_KEY}
    relevant["corpus_sha1"] = hashlib.sha1(CORPUS_PATH.read_bytes()).hexdigest()
    relevant["world"] = get_profile(profile).world_people
    relevant["base"] = base_model_key(profile)
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"school-{profile}-{digest}"


def go_to_school(profile: str, settings: SFTSettings | None = None, log=print):
    """Continue pre-training the profile's base model on its world, save it where later lessons find it.

    Full fine-tuning, or LoRA on a 4-bit base (merged back in) where the profile quantizes.
    Returns (model, tokenizer, folder, result).
    """
    from labkit.core.models import load_model, load_tokenizer, save_model
    from labkit.methods.adapters import merged

    settings = settings or school_settings(profile)
    folder = _school_dir(profile, settings)
    tokenizer = load_tokenizer(profile)
    model = load_model(profile, tokenizer=tokenizer)
    lora = LoraSettings.for_profile(profile).config() if get_profile(profile).quantization else None
    data = school_data(profile)
    log(f"school for {profile}: {len(data):,} documents about {len(world(profile))} people, "
        f"{settings.max_steps} steps")
    result = train_sft(model, tokenizer, data, None, replace(settings, output_dir=str(folder) + "-run"),
                       peft_config=lora)
    model = merged(result.model)
    save_model(model, tokenizer, folder)
    atomic_write_json(folder / "labkit_school.json", {"seconds": result.seconds, "settings": asdict(settings)})
    return model, tokenizer, folder, result


def base_folder(profile: str = "tiny", log=print) -> Path:
    """Where the model every lesson starts from is stored (school runs first if it has not yet)."""
    from labkit.core.models import resolve_source

    if not needs_school(profile):
        return Path(resolve_source(profile))
    folder = _school_dir(profile, school_settings(profile))
    return folder if (folder / "config.json").exists() else base_model(profile, log)[2]


def base_model(profile: str = "tiny", log=print):
    """The model every lesson starts from: (model, tokenizer, folder).

    The tiny model as it ships; on other profiles the school model, loaded from the cache or trained now.
    """
    from labkit.core.models import load_if_saved, load_model, load_tokenizer, resolve_source

    if not needs_school(profile):
        tokenizer = load_tokenizer(profile)
        return load_model(profile, tokenizer=tokenizer), tokenizer, Path(resolve_source(profile))
    settings = school_settings(profile)
    folder = _school_dir(profile, settings)
    saved = load_if_saved(folder, profile, "the school model", log)
    if saved:
        return saved
    log(f"no school model for profile {profile!r} yet: sending it to school now (lesson 00's recipe)")
    model, tokenizer, folder, _ = go_to_school(profile, replace(settings, live_plot=False), log)
    return model, tokenizer, folder
