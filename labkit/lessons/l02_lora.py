"""Lesson 02 — LoRA: the lab that fine-tunes the base model in full and with LoRA at several ranks.

Every run starts from a fresh copy of lesson 00's base model, trains the same task for the same number
of steps (the profile's "full" and "lora" recipes), and is measured on the shared test questions.
Runs are kept in ``build/02_lora/<run>/``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.core.evaluate import answer_accuracy, continuation_accuracy, logits_on, max_abs_difference
from labkit.core.exercise import Verdict, check, right, wrong
from labkit.lessons import l00_start_here
from labkit.methods.lora import LoraSettings
from labkit.methods.lora_math import count_lora_parameters, linear_layers, load_architecture_config, lora_report
from labkit.methods.sft import SFTSettings, train_sft
from labkit.methods.tracking import dashboard_command, logged_metrics, tracking_arguments, without_trackio_lines
from labkit.paths import BUILD_DIR

__all__ = ["count_lora_parameters", "load_architecture_config", "lora_report", "LoraSettings", "Lab",
           "folder_megabytes", "merge_check", "merge_verdict", "alpha_dial", "plot_lab", "describe_lab", "forgetting",
           "PROJECT", "dashboard_command", "logged_metrics", "YOUR_TURN", "your_turn_solution", "check_your_turn"]

RUNS = BUILD_DIR / "02_lora"
PROJECT = "labkit-02-lora"  # the trackio project the rank sweep logs to (labkit.methods.tracking)


# Your turn: the LoRA parameters of Mistral-7B with adapters on the four attention projections.
YOUR_TURN = {"model": "mistral-7b", "rank": 16, "target_modules": ("q_proj", "k_proj", "v_proj", "o_proj")}


def your_turn_solution() -> int:
    """The exercise's answer, from labkit's LoRA maths (the counts the tests check against peft)."""
    return count_lora_parameters(load_architecture_config(YOUR_TURN["model"]), YOUR_TURN["rank"],
                                 YOUR_TURN["target_modules"])


def check_your_turn(answer) -> Verdict:
    """Right if ``answer`` is Mistral-7B's trainable LoRA count; wrong with a hint for the usual slips.

    >>> check_your_turn(None).status, check_your_turn(your_turn_solution()).status
    ('not attempted', 'right')
    >>> check_your_turn(16_777_216).message.startswith("k_proj and v_proj")
    True
    """
    return check(answer, _judge_count)


def _judge_count(answer) -> Verdict:
    config = load_architecture_config(YOUR_TURN["model"])
    rank, targets = YOUR_TURN["rank"], YOUR_TURN["target_modules"]
    layers = [layer for layer in linear_layers(config) if layer.name in targets]
    per_layer = sum(rank * (layer.in_features + layer.out_features) for layer in layers)
    solution = your_turn_solution()  # = per_layer × the number of decoder layers
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return wrong(f"give a whole number of parameters, such as 4194304, not {answer!r}.")
    if answer == solution:
        shapes = ", ".join(f"{layer.name} {layer.in_features}→{layer.out_features}" for layer in layers)
        return right(f"{solution:,}. Each adapted layer adds r·(in + out): {shapes}, so {per_layer:,} per "
                     f"decoder layer, times {config.num_hidden_layers} layers. k_proj and v_proj are narrow "
                     f"because Mistral shares {config.num_key_value_heads} key/value heads among "
                     f"{config.num_attention_heads} query heads (grouped-query attention).")
    hidden = config.hidden_size
    slips = {
        rank * 2 * hidden * len(targets) * config.num_hidden_layers:
            f"k_proj and v_proj are not {hidden} × {hidden} in Mistral: it uses grouped-query attention, "
            f"{config.num_key_value_heads} key/value heads of {hidden // config.num_attention_heads}. Read their "
            "shapes from the config (num_key_value_heads, head_dim).",
        per_layer: f"that is one decoder layer; Mistral-7B has {config.num_hidden_layers}.",
        solution // 2: "count both matrices: A is r × in and B is out × r.",
        solution * 2: "each adapted layer has one A (r × in) and one B (out × r), no more.",
    }
    return wrong(slips.get(answer, "each adapted layer adds r·(in + out). Take in and out of q_proj, k_proj, "
                                   "v_proj and o_proj from Mistral's config (hidden_size, num_attention_heads, "
                                   "num_key_value_heads), add the four, and multiply by num_hidden_layers."))


def folder_megabytes(folder) -> float:
    """Megabytes (MiB) of the safetensors files in a folder: what a run saves."""
    return sum(f.stat().st_size for f in Path(folder).glob("*.safetensors")) / 2**20


@dataclass
class Lab:
    """The lesson's runs: one profile, one budget of steps, one test set.

    ``max_steps`` and the learning rates default (None) to the profile's "full" and "lora" recipes.
    With ``track``, every run is logged to the local trackio project :data:`PROJECT`, named
    ``run_names[name]`` (the run's name and when the lab started, so a rerun adds new lines).
    """

    profile: str = "tiny"
    max_steps: int | None = None
    n_eval: int = 100
    seed: int = 0
    track: bool = False

    def __post_init__(self):
        self.started = time.strftime("%Y-%m-%d %H:%M:%S")
        self.run_names: dict[str, str] = {}
        splits = instruction_splits(self.profile)
        self.train_set = splits["train"]
        self.eval_set = splits["test"].select(range(min(self.n_eval, len(splits["test"]))))
        self.people = l00_start_here.people(self.profile)
        _, self.tokenizer, _ = l00_start_here.base_model(self.profile)  # sends a real model to school first

    def fresh_base(self):
        """A fresh copy of the base model, as every run starts from."""
        return l00_start_here.base_model(self.profile, log=lambda message: None)[0]

    def logged_losses(self) -> dict[str, list[float]]:
        """Each tracked run's training loss, read back from the local trackio store."""
        return {name: [row["train/loss"] for row in logged_metrics(PROJECT, run_name) if "train/loss" in row]
                for name, run_name in self.run_names.items()}

    def fine_tune(self, name: str, learning_rate: float | None = None, lora: LoraSettings | None = None):
        """Fine-tune a fresh copy of the base model (all weights, or a LoRA adapter); return its row and result."""
        model = self.fresh_base()
        base_parameters = model.num_parameters()
        settings = SFTSettings.for_profile(self.profile, "lora" if lora else "full", max_steps=self.max_steps,
                                           learning_rate=learning_rate, seed=self.seed,
                                           output_dir=str(RUNS / name), live_plot=False)
        if self.track:
            self.run_names[name] = f"{name} ({self.started})"
            settings.extra = tracking_arguments(PROJECT, self.run_names[name])
        result = without_trackio_lines(lambda: train_sft(model, self.tokenizer, self.train_set, None, settings,
                                                         peft_config=lora.config() if lora else None))
        accuracy, _ = answer_accuracy(result.model, self.tokenizer, self.eval_set)
        result.model.save_pretrained(RUNS / name / "saved")  # LoRA: the adapter alone
        trainable = sum(p.numel() for p in result.model.parameters() if p.requires_grad)
        row = {"run": name, "trainable": trainable, "trainable %": 100 * trainable / base_parameters,
               "accuracy": accuracy, "seconds": result.seconds, "peak MB": result.peak_memory_mb,
               "saved MB": folder_megabytes(RUNS / name / "saved")}
        print(f"{name:>12}: accuracy {accuracy:.0%} in {result.seconds:.0f} s, {trainable:,} trainable parameters")
        return row, result


def forgetting(base_model, tokenizer, models: dict, people) -> dict[str, float]:
    """Lesson 00's probe before and after: the share of ``people``'s facts each model states when it
    continues its pre-training's own "Question: … Answer:" format. Keys: "base" and those of ``models``.

    What a fine-tuned model scores below the base is what fine-tuning made it forget.
    """
    return {name: continuation_accuracy(model, tokenizer, people, style="qa")[0]
            for name, model in {"base": base_model, **models}.items()}


def alpha_dial(adapter_model, tokenizer, eval_set, factors=(0.0, 0.5, 1.0, 1.5),
               trained_accuracy: float | None = None) -> dict[float, float]:
    """Accuracy with every adapter's scale α/r multiplied by each factor (0: the adapter switched off).

    ``trained_accuracy``, when given, is factor 1's (the run already measured it). The trained scale
    is put back afterwards.
    """
    from peft.tuners.lora import LoraLayer

    layers = [m for m in adapter_model.modules() if isinstance(m, LoraLayer)]
    trained = [dict(layer.scaling) for layer in layers]
    accuracy = {}
    try:
        for factor in factors:
            if factor == 1.0 and trained_accuracy is not None:
                accuracy[factor] = trained_accuracy
                continue
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


def describe_lab(rows: list[dict], ranks: list[int]) -> str:
    """This run's result in words: full fine-tuning against the best LoRA rank and the smallest.

    >>> print(describe_lab([{"run": "full", "accuracy": 0.5, "trainable": 1000},
    ...                     {"run": "LoRA r=4", "accuracy": 0.25, "trainable": 10},
    ...                     {"run": "LoRA r=16", "accuracy": 0.75, "trainable": 40}], [4, 16]))
    full fine-tuning:  50% with 1,000 trainable parameters
    best LoRA, r=16:   75% with 40 (4.0% as many), 25 points ahead of full fine-tuning
    smallest, r=4:     25% with 10, 25 points behind full fine-tuning
    """
    full = next(r for r in rows if r["run"] == "full")
    lora = {rank: next(r for r in rows if r["run"] == f"LoRA r={rank}") for rank in ranks}
    best = max(ranks, key=lambda rank: (lora[rank]["accuracy"], -rank))

    def versus(row) -> str:
        points = round(100 * (row["accuracy"] - full["accuracy"]))
        return "level with full fine-tuning" if points == 0 else \
            f"{abs(points)} points {'ahead of' if points > 0 else 'behind'} full fine-tuning"

    lines = [f"{'full fine-tuning:':18} {full['accuracy']:.0%} with {full['trainable']:,} trainable parameters",
             (f"{f'best LoRA, r={best}:':18} {lora[best]['accuracy']:.0%} with {lora[best]['trainable']:,} "
              f"({100 * lora[best]['trainable'] / full['trainable']:.1f}% as many), {versus(lora[best])}")]
    if min(ranks) != best:
        smallest = lora[min(ranks)]
        lines.append(f"{f'smallest, r={min(ranks)}:':18} {smallest['accuracy']:.0%} with {smallest['trainable']:,}, "
                     f"{versus(smallest)}")
    return "\n".join(lines)


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
