"""Lesson 05 — QLoRA end to end: a 4-bit NF4 base with LoRA on top; train, save, reload, merge, chat.

Its files live in one run folder per profile and settings (``run_dir``): ``adapter/``, ``merged/``,
``gguf/`` and the trainer's output. It measures on the same held-out questions as lessons 01–04
(``instruction_splits``). After the merge, ``deploy`` exports the merged model to GGUF for llama.cpp
and Ollama and measures how often the GGUF files answer as the PyTorch model does
(``make deploy-check`` runs it on a small model).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.core.evaluate import generate_replies
from labkit.core.exercise import Verdict, check, right, wrong
from labkit.core.models import load_model, load_tokenizer
from labkit.lessons import l00_start_here
from labkit.methods.adapters import (
    AdaptersInFloat32,
    adapter_megabytes,
    load_adapter,
    merge_adapter,
    save_adapter,
    save_merged,
)
from labkit.methods.gguf_chat import GGUFChat, compare_with_pytorch, load_gguf
from labkit.methods.gguf_export import export_gguf, write_modelfile
from labkit.methods.lora import ATTENTION_PROJECTIONS, LoraSettings
from labkit.methods.lora_math import (
    count_base_parameters,
    count_lora_parameters,
    linear_layers,
    load_architecture_config,
)
from labkit.methods.memory import (
    estimate_training_memory,
    format_bytes,
    quantized_weight_bytes,
)
from labkit.methods.quantization import (
    linear4bit_bytes,
    quantized_layer_names,
    summarize_quantization,
    weight_bytes_by_precision,
)
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import RUNS_DIR

__all__ = [
    "ATTENTION_PROJECTIONS",
    "AdaptersInFloat32",
    "GGUFChat",
    "LoraSettings",
    "SFTSettings",
    "adapter_megabytes",
    "base_folder",
    "check_memory_estimate",
    "deploy",
    "estimate_training_memory",
    "format_bytes",
    "full_precision_base_fits",
    "instruction_splits",
    "linear4bit_bytes",
    "load_adapter",
    "load_architecture_config",
    "load_gguf",
    "lora_settings",
    "memory_exercise_facts",
    "memory_solution",
    "merge_adapter",
    "merged_model",
    "quantized_layer_names",
    "run_dir",
    "save_adapter",
    "save_merged",
    "saved_merged_model",
    "settings",
    "summarize_quantization",
    "train_sft",
    "weight_bytes_by_precision",
]

REPLY_TOKENS = 32  # new tokens per held-out answer, as labkit.core.evaluate.answer_accuracy generates


def run_dir(profile: str, max_steps: int, lora_r: int, seed: int) -> Path:
    """Where this lesson keeps a run (adapter/, merged/, trainer/): one folder per profile and
    settings, so a short test run never replaces the adapter a learner trained.

    >>> run_dir("tiny", 100, 16, 0).name
    '05_qlora-tiny-r16-100steps-seed0'
    """
    return RUNS_DIR / f"05_qlora-{profile}-r{lora_r}-{max_steps}steps-seed{seed}"


def lora_settings(profile: str, model, tokenizer, **overrides) -> LoraSettings:
    """The lesson's adapters: the profile's rank and scale on the attention projections, with a little
    dropout (the QLoRA paper's recipe), plus the rows of any role tokens the base model never saw."""
    return LoraSettings.for_model(profile, model, tokenizer, **{"target_modules": ATTENTION_PROJECTIONS,
                                                                "lora_dropout": 0.05, **overrides})


def settings(profile: str, **overrides) -> SFTSettings:
    """The profile's QLoRA recipe, with the notebook's parameters (None keeps the profile's)."""
    return SFTSettings.for_profile(profile, "qlora", **overrides)


def base_folder(profile: str = "tiny") -> Path:
    """The model this lesson quantizes: lesson 00's base model (after school on real models)."""
    return l00_start_here.base_folder(profile)


def saved_merged_model(profile: str = "tiny"):
    """The newest merged model this lesson saved for ``profile``, or the base model if none is saved yet."""
    saved = sorted(RUNS_DIR.glob(f"05_qlora-{profile}-*/merged/config.json"), key=lambda p: p.stat().st_mtime)
    return load_model(saved[-1].parent if saved else base_folder(profile))


def full_precision_base_fits(profile: str = "tiny") -> bool:
    """Whether the base model in 16-bit fits the device with room to train LoRA (for the comparison run)."""
    import json

    from labkit.core.env import pick_device
    from labkit.core.model_size import estimate_parameters
    from labkit.methods.planner import HEADROOM, device_memory

    config = json.loads((base_folder(profile) / "config.json").read_text())
    return 2 * estimate_parameters(config) * 1.5 < HEADROOM * device_memory(pick_device())


def merged_model(profile: str = "tiny", max_steps: int | None = None, lora_r: int | None = None, seed: int = 0,
                 log=print) -> Path:
    """The folder of this lesson's merged model for these settings (None: the profile's), made now if
    absent: the notebook's sections 2–6 (4-bit base, LoRA, training, saved adapter, merge) without the
    teaching.

    >>> merged_model("tiny", max_steps=60)  # doctest: +SKIP
    PosixPath('.../build/runs/05_qlora-tiny-r16-60steps-seed0/merged')
    """
    from peft import get_peft_model, prepare_model_for_kbit_training

    recipe = settings(profile, max_steps=max_steps, seed=seed, live_plot=False)
    lora_r = lora_r or LoraSettings.for_profile(profile).r
    folder = run_dir(profile, recipe.max_steps, lora_r, seed)
    if (folder / "merged" / "config.json").exists():
        return folder / "merged"
    log(f"no merged lesson-05 model in {folder}: training QLoRA for {recipe.max_steps} steps now")
    tokenizer = load_tokenizer(base_folder(profile))
    # use_reentrant=False: torch's recommended checkpointing, which warns when the choice is left open
    model = prepare_model_for_kbit_training(load_model(base_folder(profile), quantization="4bit"),
                                            gradient_checkpointing_kwargs={"use_reentrant": False})
    model = get_peft_model(model, lora_settings(profile, model, tokenizer, r=lora_r, lora_alpha=2 * lora_r).config())
    run = train_sft(model, tokenizer, instruction_splits(profile)["train"], None,
                    replace(recipe, output_dir=str(folder / "trainer")),
                    callbacks=[AdaptersInFloat32()])
    adapter = save_adapter(run.model, folder / "adapter", tokenizer)
    return save_merged(merge_adapter(base_folder(profile), adapter), tokenizer, folder / "merged")


def deploy(merged_folder: str | Path, profile: str = "tiny", out_dir: str | Path | None = None,
           n_eval: int | None = None) -> tuple[dict, dict]:
    """Export the merged model to GGUF (f16 and q8_0) with an Ollama Modelfile, then answer the held-out
    questions with each file and with the PyTorch model, greedily.

    Returns the report (agreement per file, q8_0's size against f16's, seconds) and the comparisons
    (``labkit.methods.gguf_chat.Comparison``, with both sides' replies). ``n_eval`` limits the questions
    (default: the whole test split). Files go to ``out_dir`` (default: ``gguf/`` beside the merged folder).
    """
    start = time.perf_counter()
    merged_folder = Path(merged_folder)
    out_dir = Path(out_dir) if out_dir else merged_folder.parent / "gguf"
    files = export_gguf(merged_folder, out_dir, profile)
    write_modelfile(merged_folder, files["q8_0"])
    test = instruction_splits(profile)["test"]
    conversations = [example["messages"][:-1] for example in test][:n_eval]
    pytorch_replies = generate_replies(load_model(merged_folder, quantization=None), load_tokenizer(merged_folder),
                                       conversations, max_new_tokens=REPLY_TOKENS)
    comparisons = {outtype: compare_with_pytorch(path, pytorch_replies, conversations, REPLY_TOKENS)
                   for outtype, path in files.items()}
    report = {"gguf_agreement_f16": comparisons["f16"].agreement,
              "gguf_agreement_q8_0": comparisons["q8_0"].agreement,
              "gguf_bytes_ratio_q8_0_vs_f16": comparisons["q8_0"].bytes / comparisons["f16"].bytes,
              "seconds": round(time.perf_counter() - start, 1)}
    return report, comparisons


# Your turn: the memory a 13B QLoRA run needs, in section 9's recipe, checked against labkit's estimator.
EXERCISE_MODEL = "llama-2-13b"
EXERCISE_RECIPE = {"rank": 16, "target_modules": ATTENTION_PROJECTIONS, "batch_size": 4, "seq_len": 512,
                   "dtype": "mixed", "gradient_checkpointing": True}
TOLERANCE = 0.03  # the scales' 1/64 byte per weight may be left out; the adapters or the embeddings may not
GIB = 2**30


def memory_exercise_facts(name: str = EXERCISE_MODEL) -> dict:
    """What the estimate is made of, from the model's config: parameter counts, and the activations
    (an estimate that depends on the kernels, so it is given rather than asked)."""
    config = load_architecture_config(name)
    estimate = estimate_training_memory(config, "qlora", **EXERCISE_RECIPE)
    return {"parameters (P)": count_base_parameters(config),
            "in the projections (P_proj)": sum(layer.count * layer.in_features * layer.out_features
                                                for layer in linear_layers(config)),
            "LoRA parameters at r = 16 on q, k, v, o (T)": count_lora_parameters(
                config, EXERCISE_RECIPE["rank"], EXERCISE_RECIPE["target_modules"]),
            "activations, estimated (GiB)": round(estimate.activations / GIB, 3)}


def memory_solution(name: str = EXERCISE_MODEL) -> float:
    """The reference solution: the estimator's total, in GiB."""
    return estimate_training_memory(load_architecture_config(name), "qlora", **EXERCISE_RECIPE).total / GIB


def _mistakes(name: str) -> dict[str, float]:
    """Totals (GiB) that common slips give, each with the hint it deserves."""
    config = load_architecture_config(name)
    facts = memory_exercise_facts(name)
    base, adapters = facts["parameters (P)"], facts["LoRA parameters at r = 16 on q, k, v, o (T)"]
    qlora = estimate_training_memory(config, "qlora", **EXERCISE_RECIPE)
    return {
        "that is plain LoRA: every weight in bf16. QLoRA stores the projections in NF4, half a byte each plus "
        "a scale per block of 64.": estimate_training_memory(config, "lora", **EXERCISE_RECIPE).total / GIB,
        "that is full fine-tuning: gradients and AdamW state for every weight. Here only the adapters train.":
            estimate_training_memory(config, "full", **EXERCISE_RECIPE).total / GIB,
        "you put every weight in NF4. Only the projections are quantized: the embeddings, the norms and "
        "lm_head stay in bf16, (P − P_proj) · 2 bytes.":
            (quantized_weight_bytes(base) + adapters * 16 + qlora.activations) / GIB,
        "the activations are missing: add the estimate given above.": (qlora.total - qlora.activations) / GIB,
        "the adapters are missing: T trainable parameters in fp32 cost 4 (weights) + 4 (gradients) + "
        "8 (AdamW) = 16 bytes each.": (qlora.total - adapters * 16) / GIB,
        "that is the total in GB (10⁹ bytes). GPU tools print GiB, 2³⁰ bytes: divide the bytes by 2**30.":
            qlora.total / 1e9,
    }


def check_memory_estimate(answer, name: str = EXERCISE_MODEL) -> Verdict:
    """Right when ``answer`` (GiB) is within 3% of labkit's estimate for a QLoRA run of ``name``.

    >>> [check_memory_estimate(gib).status for gib in (memory_solution(), 27.3, None)]
    ['right', 'wrong', 'not attempted']
    """
    def judge(gib) -> Verdict:
        if not isinstance(gib, (int, float)) or isinstance(gib, bool) or gib <= 0:
            return wrong(f"give one positive number, in GiB, such as 12.5; you gave {gib!r}.")
        if gib > 1e6:
            return wrong(f"{gib:,.0f} looks like bytes: give GiB (bytes / 2**30).")
        config = load_architecture_config(name)
        estimate = estimate_training_memory(config, "qlora", **EXERCISE_RECIPE)
        total = estimate.total / GIB
        if abs(gib - total) <= TOLERANCE * total:
            lora = estimate_training_memory(config, "lora", **EXERCISE_RECIPE).total / GIB
            return right(f"labkit's estimator says {estimate}. The 4-bit projections are most of it. It fits a "
                         f"16 GB GPU with room to spare, where plain LoRA would need {lora:.1f} GiB: QLoRA is what "
                         "puts a 13B model within reach of one consumer card.")
        slip, value = min(_mistakes(name).items(), key=lambda item: abs(item[1] - gib))
        if abs(value - gib) <= 0.02 * value:
            return wrong(f"{gib:.2f} GiB: {slip}")
        return wrong(f"{gib:.2f} GiB is too {'high' if gib > total else 'low'}. Add up: the projections in NF4, "
                     "P_proj · (0.5 + 1/64) bytes; the rest of the base in bf16, (P − P_proj) · 2; the adapters, "
                     "T · 16 (fp32 weights, gradients, AdamW); and the activations given above. Then divide by 2**30.")

    return check(answer, judge)
