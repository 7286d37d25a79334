"""Lesson 01 — supervised fine-tuning: its recipe, and the SFT model every later lesson starts from.

It starts from lesson 00's ``base_model(profile)``. The contract with later lessons is one call:
``model(profile)`` returns lesson 01's SFT model, loaded from ``build/cache/sft-<profile>-<key>/`` or
trained now with the same recipe. The cache key covers the settings, the instruction data and the
model it started from, so a changed recipe never reuses an old model.

>>> cache_dir("tiny", settings()).parent.name
'cache'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from labkit.core.data.instructions import instruction_data_digest, instruction_splits
from labkit.core.exercise import Verdict, check, is_blank, right, wrong
from labkit.core.files import atomic_write_json, atomic_write_text
from labkit.core.models import base_model_key
from labkit.core.profiles import get_profile
from labkit.lessons import l00_start_here
from labkit.methods.lora import LoraSettings
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import BUILD_DIR, CACHE_DIR

__all__ = ["SFTSettings", "train_sft", "merged", "settings", "start_model", "adapters", "cache_dir", "model", "save",
           "instruction_splits", "write_bad_examples", "your_turn", "your_turn_solution", "check_your_turn"]

# Settings that change how a run is watched or saved, not what it learns: left out of the cache key.
NOT_IN_KEY = ("output_dir", "live_plot", "eval_every", "logging_steps", "save_steps")
LESSON_DIR = BUILD_DIR / "01_sft"


def merged(model):
    """The model with any LoRA adapters merged into its weights (a plain model is returned as it is)."""
    # Imported here: labkit.methods.adapters imports transformers' trainer, which imports peft and so
    # bitsandbytes, whose import logs a warning before the notebook's labkit.setup() can silence it.
    from labkit.methods.adapters import merged as merge_adapters

    return merge_adapters(model)


def settings(profile: str = "tiny", **overrides) -> SFTSettings:
    """Lesson 01's SFT recipe: the profile's, with the notebook's parameters as ``overrides`` (None keeps
    the profile's value); trains into a scratch folder next to the cache."""
    chosen = SFTSettings.for_profile(profile, **overrides)
    return replace(chosen, output_dir=str(cache_dir(profile, chosen)) + "-run")


def start_model(profile: str = "tiny", log=print):
    """What SFT starts from: lesson 00's base model (the tiny model, or a real model after school)."""
    return l00_start_here.base_model(profile, log=log)


def adapters(profile: str, start, tokenizer):
    """LoRA where the profile trains on a 4-bit base (with the chat template's tokens); None: every weight."""
    if not get_profile(profile).quantization:
        return None
    return LoraSettings.for_model(profile, start, tokenizer).config()


def cache_dir(profile: str, sft_settings: SFTSettings) -> Path:
    """Where the SFT model for these settings is cached: one folder per profile, settings and data."""
    relevant = {k: v for k, v in asdict(sft_settings).items() if k not in NOT_IN_KEY}
    # The data is part of the key too: a regenerated instruction set must never reuse an old model.
    relevant["data_sha1"] = instruction_data_digest(profile)
    relevant["base"] = base_model_key(profile)  # and so is the base model: a rebuilt one retrains
    relevant["school"] = l00_start_here.needs_school(profile) and str(l00_start_here.school_settings(profile))
    digest = hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"sft-{profile}-{digest}"


def save(trained, tokenizer, profile: str, sft_settings: SFTSettings, result=None) -> Path:
    """Put a trained SFT model into the cache (adapters merged in), where later lessons find it."""
    from labkit.core.models import save_model

    folder = save_model(merged(trained), tokenizer, cache_dir(profile, sft_settings))
    if result is not None:
        atomic_write_json(folder / "labkit_train.json", {"seconds": result.seconds,
                                                         "tokens_per_second": result.tokens_per_second,
                                                         "settings": asdict(sft_settings)})
    return folder


def model(profile: str = "tiny", sft_settings: SFTSettings | None = None, log=print):
    """The lesson-01 SFT model: loaded from the cache, or trained now (about 90 s on `tiny`).

    Returns (model, tokenizer, folder).
    """
    from labkit.core.models import load_if_saved

    sft_settings = sft_settings or settings(profile)
    folder = cache_dir(profile, sft_settings)
    saved = load_if_saved(folder, profile, "the SFT model", log)
    if saved:
        return saved
    log(f"no cached SFT model for profile {profile!r}: training it now (lesson 01's recipe)")
    start, tokenizer, _ = start_model(profile, log)
    result = train_sft(start, tokenizer, instruction_splits(profile)["train"], None,
                       replace(sft_settings, live_plot=False), peft_config=adapters(profile, start, tokenizer))
    trained = merged(result.model)
    return trained, tokenizer, save(trained, tokenizer, profile, sft_settings, result)


# Section 3: a file with one mistake per line, for the validator to find.
BAD_LINES = [
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
    '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}',
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "Beep"}]},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": ""}]},
    {"messages": [{"role": "user", "content": "Hi"}]},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "user", "content": "Hi?"}]},
    {"instruction": "Greet me."},
    {"messages": [{"role": "user", "content": "very " * 200 + "long"}, {"role": "assistant", "content": "ok"}]},
]


def write_bad_examples() -> Path:
    """Write the lesson's deliberately broken JSONL file (one mistake per line) and return its path."""
    lines = [line if isinstance(line, str) else json.dumps(line) for line in BAD_LINES]
    return atomic_write_text(LESSON_DIR / "bad_examples.jsonl", "\n".join(lines) + "\n")


def your_turn_solution(person) -> dict:
    """The reference ``make_example``: one question about two facts, answered in one sentence."""
    return {
        "messages": [
            {"role": "user", "content": f"What does {person.name} do, and where?"},
            {"role": "assistant", "content": f"{person.name} is a {person.job} in {person.town}."},
        ],
        "expected": {"job": person.job, "town": person.town},
    }


def check_your_turn(make_example, profile: str = "tiny") -> Verdict:
    """Judge ``make_example`` on a few of the world's people: "not attempted" while it returns ``...``,
    "right" when every example asks about the person and answers with their job and town, which
    ``expected`` names; otherwise "wrong" with a hint.

    >>> check_your_turn(lambda person: ...).status, check_your_turn(your_turn_solution).status
    ('not attempted', 'right')
    """
    if is_blank(make_example):
        return check(None, wrong)
    sample = l00_start_here.people(profile)[:20]
    try:
        examples = [make_example(person) for person in sample]
    except Exception as error:  # noqa: BLE001 (the learner's code: say what failed, do not stop the notebook)
        return wrong(f"make_example raised {type(error).__name__}: {error}")
    return check(examples[0], lambda _: _judge_examples(examples, sample))


def _judge_examples(examples, sample) -> Verdict:
    from labkit.core.evaluate import is_correct

    for example, person in zip(examples, sample):
        turns = example.get("messages") if isinstance(example, dict) else None
        if not isinstance(turns, list) or not all(isinstance(t, dict) and {"role", "content"} <= set(t)
                                                  for t in turns):
            return wrong('return a dict whose "messages" is a list of turns, each {"role": ..., "content": ...}.')
        if [t["role"] for t in turns if t["role"] != "system"] != ["user", "assistant"]:
            return wrong('the turns must be the user\'s question, then the assistant\'s answer '
                         '(roles "user" and "assistant").')
        question, answer = turns[-2]["content"], turns[-1]["content"]
        if person.name not in question:
            return wrong(f"the question must name the person ({person.name}): the model cannot answer "
                         "about someone it is not told of.")
        wanted = {"job": person.job, "town": person.town}
        if example.get("expected") != wanted:
            return wrong(f'"expected" names the facts a right answer states: for {person.name}, {wanted}.')
        if not is_correct(answer, wanted):
            return wrong(f"the assistant's answer must state the job and the town: for {person.name}, "
                         f"{person.job} and {person.town} (got {answer!r}).")
    return right("every example asks about one person and answers with their job and town, and "
                 '"expected" names both, so the scorer can grade a reply. The next cell trains on them.')


def your_turn(make_example, start_model, tokenizer, train_set, profile: str = "tiny", steps: int = 60, seed: int = 0):
    """Train ``start_model`` briefly on ``make_example(person)`` for three quarters of the world's people
    (mixed with the old task, so it keeps that) at half the profile's SFT rate, and measure the new skill
    on the other quarter, whom it never saw. Returns (before, after, replies, test examples)."""
    from datasets import Dataset, concatenate_datasets

    from labkit.core.evaluate import answer_accuracy

    people = l00_start_here.people(profile)
    n_learn = len(people) * 3 // 4
    new_train = Dataset.from_list([make_example(p) for p in people[:n_learn]])
    new_test = [make_example(p) for p in people[n_learn:][:100]]
    before, _ = answer_accuracy(start_model, tokenizer, new_test)
    old = train_set.select_columns(["messages"]).shuffle(seed=seed).select(range(min(n_learn, len(train_set))))
    mix = concatenate_datasets([new_train.select_columns(["messages"]), old]).shuffle(seed=seed)
    settings = SFTSettings.for_profile(profile, max_steps=steps, seed=seed, live_plot=False,
                                       output_dir=str(LESSON_DIR / "your-turn"))
    run = train_sft(start_model, tokenizer, mix, None, replace(settings, learning_rate=settings.learning_rate / 2),
                    peft_config=adapters(profile, start_model, tokenizer))
    after, replies = answer_accuracy(run.model, tokenizer, new_test)
    return before, after, replies, new_test
