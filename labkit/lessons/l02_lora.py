"""Lesson 02 — LoRA: the lab that fine-tunes the base model in full and with LoRA at several ranks.

Every run starts from a fresh copy of lesson 00's base model, trains the same task for the same number
of steps (the profile's "full" and "lora" recipes), and is measured on the shared test questions.
Runs are kept in ``build/02_lora/<run>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.core.evaluate import answer_accuracy, logits_on, max_abs_difference
from labkit.lessons import l00_start_here
from labkit.methods.lora import LoraSettings
from labkit.methods.lora_math import count_lora_parameters, load_architecture_config, lora_report
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import BUILD_DIR

__all__ = ["count_lora_parameters", "load_architecture_config", "lora_report", "LoraSettings", "Lab",
           "folder_megabytes", "merge_check", "merge_verdict", "alpha_dial", "plot_lab"]

RUNS = BUILD_DIR / "02_lora"


def folder_megabytes(folder) -> float:
    """Megabytes (MiB) of the safetensors files in a folder: what a run saves."""
    return sum(f.stat().st_size for f in Path(folder).glob("*.safetensors")) / 2**20


@dataclass
class Lab:
    """The lesson's runs: one profile, one budget of steps, one test set.

    ``max_steps`` and the learning rates default (None) to the profile's "full" and "lora" recipes.
    """

    profile: str = "tiny"
    max_steps: int | None = None
    n_eval: int = 100
    seed: int = 0

    def __post_init__(self):
        splits = instruction_splits(self.profile)
        self.train_set = splits["train"]
        self.eval_set = splits["test"].select(range(min(self.n_eval, len(splits["test"]))))
        _, self.tokenizer, _ = l00_start_here.base_model(self.profile)  # sends a real model to school first

    def fine_tune(self, name: str, learning_rate: float | None = None, lora: LoraSettings | None = None):
        """Fine-tune a fresh copy of the base model (all weights, or a LoRA adapter); return its row and result."""
        model, _, _ = l00_start_here.base_model(self.profile, log=lambda message: None)
        base_parameters = model.num_parameters()
        settings = SFTSettings.for_profile(self.profile, "lora" if lora else "full", max_steps=self.max_steps,
                                           learning_rate=learning_rate, seed=self.seed,
                                           output_dir=str(RUNS / name), live_plot=False)
        result = train_sft(model, self.tokenizer, self.train_set, None, settings,
                           peft_config=lora.config() if lora else None)
        accuracy, _ = answer_accuracy(result.model, self.tokenizer, self.eval_set)
        result.model.save_pretrained(RUNS / name / "saved")  # LoRA: the adapter alone
        trainable = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
        row = {"run": name, "trainable": trainable, "trainable %": 100 * trainable / base_parameters,
               "accuracy": accuracy, "seconds": result.seconds, "peak MB": result.peak_memory_mb,
               "saved MB": folder_megabytes(RUNS / name / "saved")}
        print(f"{name:>12}: accuracy {accuracy:.0%} in {result.seconds:.0f} s, {trainable:,} trainable parameters")
        return row, result


def alpha_dial(adapter_model, tokenizer, eval_set, factors=(0.0, 0.5, 1.0, 1.5)) -> dict[float, float]:
    """Accuracy with every adapter's scale α/r multiplied by each factor (0: the adapter switched off).

    The trained scale is put back afterwards.
    """
    from peft.tuners.lora import LoraLayer

    layers = [m for m in adapter_model.modules() if isinstance(m, LoraLayer)]
    trained = [dict(layer.scaling) for layer in layers]
    accuracy = {}
    try:
        for factor in factors:
            for layer, scale in zip(layers, trained):
                layer.scaling["default"] = scale["default"] * factor
            accuracy[factor], _ = answer_accuracy(adapter_model, tokenizer, eval_set)
    finally:
        for layer, scale in zip(layers, trained):
            layer.scaling.update(scale)
    return accuracy


def merge_verdict(merged_model, difference: float) -> str:
    """What a merge's largest logit difference means; raises if a merge that should be exact was not.

    On a 16- or 32-bit base, merging is exact algebra (W + B·A·α/r): only float rounding, under 1e-3.
    On a 4-bit base (QLoRA profiles), ``merge_and_unload`` writes W + B·A·α/r back in NF4, rounding
    every weight to one of 16 levels again, so small updates can round away: that merge is lossy.
    Lesson 05 merges a QLoRA adapter into the 16-bit base instead.
    """
    if getattr(merged_model.config, "quantization_config", None) is not None:
        return (f"4-bit base: the merge rounded every weight to NF4's 16 levels again (largest logit change "
                f"{difference:.2f}), so it is lossy; lesson 05 merges a QLoRA adapter into the 16-bit base instead")
    if difference >= 1e-3:
        raise AssertionError(f"the merged model computes something else: logits moved by {difference:.2e}")
    return "the merged model computes the same function, up to float rounding"


def merge_check(adapter_model, tokenizer, conversations: list[list[dict]]):
    """Merge the adapter into the weights; return the merged model and the largest logit difference it made."""
    before = logits_on(adapter_model, tokenizer, conversations)
    merged = adapter_model.merge_and_unload()
    return merged, max_abs_difference(before, logits_on(merged, tokenizer, conversations))


def plot_lab(rows: list[dict], ranks: list[int]):
    """Accuracy and trainable parameters against the rank (full fine-tuning as a dashed line), and what each run saves."""
    import matplotlib.pyplot as plt

    from labkit.core.plots import label_log_axis

    full = next(r for r in rows if r["run"] == "full")
    lora = [next(r for r in rows if r["run"] == f"LoRA r={rank}") for rank in ranks]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 3.4))
    left.plot(ranks, [r["accuracy"] for r in lora], "o-", label="LoRA")
    left.axhline(full["accuracy"], color="grey", ls="--", label="full fine-tuning")
    left.set(xlabel="rank r", ylabel="held-out accuracy", title="accuracy", ylim=(0, 1))
    left.legend()
    middle.plot(ranks, [r["trainable"] for r in lora], "o-", label="LoRA")
    middle.axhline(full["trainable"], color="grey", ls="--", label="full fine-tuning")
    middle.set(xlabel="rank r", ylabel="parameters", yscale="log", title="trainable parameters")
    middle.legend()
    middle.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")  # counts as written, not powers of ten
    middle.yaxis.set_minor_formatter(lambda value, _: "")
    for ax in (left, middle):
        label_log_axis(ax, ranks)
    right.bar([r["run"] for r in rows], [r["saved MB"] for r in rows])
    right.set(ylabel="MB on disk", title="what you save")
    right.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    plt.close(fig)
    return fig
