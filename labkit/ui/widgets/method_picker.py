"""The method picker: select a fine-tuning method to see its cost, complexity and use case.

>>> from labkit.ui.widgets import MethodPicker
>>> picker = MethodPicker(model="mistral-7b", method="qlora")   # display it in a notebook cell
>>> picker.estimate.total < 16 * 2**30   # 4-bit weights, but activations for 4 × 512 tokens
True

Full fine-tuning, LoRA and QLoRA are ways to update the weights; SFT, RLHF and DPO are
objectives (what the model learns from), each trained in one of those three ways. So an
objective's card has a "train the weights with" choice, and SFT's memory equals that choice's:
SFT changes the data and the loss, not the memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import ipywidgets as widgets

from labkit.methods.lora_math import load_architecture_config
from labkit.methods.memory import METHODS, estimate_method_memory, format_bytes
from labkit.ui.widgets.rank_explorer import available_architectures


@dataclass(frozen=True)
class MethodCard:
    """What the picker says about one method, besides the memory it computes."""

    title: str
    trains: str
    models: str  # which models are trained / held in memory
    data: str
    pick_when: str
    complexity: str


CARDS = {
    "full": MethodCard(
        "Full fine-tuning", "every weight of the model",
        "1 model, trained whole: weights, a gradient and two AdamW moments for every parameter",
        "thousands to millions of examples in the target format",
        "the task is far from pre-training, you have lots of data and GPUs, and want the last "
        "points of quality. Watch for forgetting (lesson 02 measures it).",
        "simple code, the highest cost"),
    "lora": MethodCard(
        "LoRA", "small low-rank adapters B·A next to frozen weights (0.01–1 % of the parameters)",
        "1 model held, frozen; only the adapters are trained",
        "hundreds to tens of thousands of examples",
        "the default on one GPU: near full-fine-tuning quality, little forgetting, adapters of a few "
        "MB, many tasks sharing one base.",
        "simple (peft)"),
    "qlora": MethodCard(
        "QLoRA", "LoRA adapters on a base quantized to 4-bit NF4",
        "1 model held in 4-bit, frozen; the adapters are trained in 16/32-bit",
        "as for LoRA",
        "the model does not fit your GPU in 16-bit (a 7B model on a 16 GB card). Steps are slower "
        "(weights are dequantized on the fly) and quality is a little below LoRA.",
        "simple to moderate (peft + bitsandbytes)"),
    "sft": MethodCard(
        "SFT (supervised fine-tuning)", "to imitate demonstrations: loss on the completion of "
        "prompt → completion pairs or chat messages",
        "1 model, trained with the method chosen below",
        "1k–100k good demonstrations (instruction → response)",
        "first, right after pre-training: it teaches the format and the task (lesson 01).",
        "simple (TRL SFTTrainer)"),
    "rlhf": MethodCard(
        "RLHF (reward model + PPO family)", "to maximise a learned reward: people rank answers, a "
        "reward model learns their taste, the policy is optimised against it with a KL leash",
        "3: the policy (trained), a frozen reference and a frozen reward model (trained in a stage "
        "before); classic PPO adds a 4th, a trained value model",
        "10k+ preference pairs for the reward model, plus prompts for the policy's own samples",
        "quality is easier to judge than to write, or you have a reward to optimise (tests, "
        "checkers); you can afford a sampling loop and its tuning.",
        "high: several models, generation in the loop, unstable if untuned"),
    "dpo": MethodCard(
        "DPO (direct preference optimisation)", "to prefer the chosen over the rejected answer, "
        "straight from preference pairs, against a frozen reference",
        "2: the policy (trained) and a frozen reference",
        "thousands of (prompt, chosen, rejected) pairs",
        "you have preference pairs and want RLHF's effect without a reward model or sampling.",
        "moderate (TRL DPOTrainer)"),
}
LABELS = {"full": "Full FT", "lora": "LoRA", "qlora": "QLoRA", "sft": "SFT", "rlhf": "RLHF", "dpo": "DPO"}


class MethodPicker(widgets.VBox):
    """Pick a model and a method; see its memory (weights, gradients, optimizer, activations),
    models in memory, data needed and when to choose it.

    Memory is for one AdamW step on ``batch_size`` × ``seq_len`` tokens, bf16 compute with fp32
    master weights (labkit.methods.memory, dtype "mixed"); activations are an estimate.
    """

    def __init__(self, model: str = "llama-2-7b", method: str = "lora", train_with: str = "lora",
                 batch_size: int = 4, seq_len: int = 512, rank: int = 16):
        self.batch_size, self.seq_len, self.rank = batch_size, seq_len, rank
        self.model_dropdown = widgets.Dropdown(options=available_architectures(), value=model,
                                               description="model")
        self.method_buttons = widgets.ToggleButtons(
            options=[(LABELS[key], key) for key in CARDS], value=method, description="method")
        self.train_with = widgets.Dropdown(options=[(LABELS[key], key) for key in METHODS],
                                           value=train_with, description="train with")
        self.checkpointing = widgets.Checkbox(value=False, description="gradient checkpointing",
                                             indent=False)
        self.card = widgets.HTML()
        self.checkpointing.add_class("labkit-picker-checkpointing")
        self.model_dropdown.add_class("labkit-picker-model")
        self.method_buttons.add_class("labkit-method-buttons")
        self.train_with.add_class("labkit-picker-train-with")
        self.card.add_class("labkit-method-card")
        super().__init__([self.model_dropdown, self.method_buttons,
                          widgets.HBox([self.train_with, self.checkpointing]), self.card])
        self.add_class("labkit-method-picker")
        for control in (self.model_dropdown, self.method_buttons, self.train_with, self.checkpointing):
            control.observe(lambda _: self.update(), names="value")
        self.update()

    @property
    def estimate(self):
        config = load_architecture_config(self.model_dropdown.value)
        return estimate_method_memory(config, self.method_buttons.value, train_with=self.train_with.value,
                                      rank=self.rank, batch_size=self.batch_size,
                                      seq_len=self.seq_len, dtype="mixed",
                                      gradient_checkpointing=self.checkpointing.value)

    def update(self):
        method = self.method_buttons.value
        # The weight-update methods are their own "train with"; only objectives choose one.
        self.train_with.layout.visibility = "hidden" if method in METHODS else "visible"
        card = CARDS[method]
        if method in ("rlhf", "dpo") and self.train_with.value != "full":
            card = replace(card, models=card.models + ". With adapters, the reference is the base "
                           "with its adapters switched off: no second copy of the weights")
        self.card.value = _card_html(card, self.estimate, self.model_dropdown.value,
                                     self.batch_size, self.seq_len)


def _card_html(card: MethodCard, estimate, model: str, batch_size: int, seq_len: int) -> str:
    parts = [("weights", estimate.weights), ("gradients", estimate.gradients),
             ("optimizer state", estimate.optimizer_state),
             ("activations (estimate)", estimate.activations)]
    widest = max(size for _, size in parts) or 1
    bars = "".join(
        f"<tr><td>{name}</td><td style='text-align:right'>{format_bytes(size)}</td>"
        f"<td><div style='background:#4c72b0;height:10px;width:{max(1, 200 * size // widest)}px'>"
        f"</div></td></tr>" for name, size in parts)
    facts = [("trains", card.trains), ("models in memory", card.models), ("data needed", card.data),
             ("pick it when", card.pick_when), ("complexity", card.complexity)]
    rows = "".join(f"<tr><td style='vertical-align:top'><b>{k}</b></td><td>{v}</td></tr>" for k, v in facts)
    return (f"<h4>{card.title} on {model}</h4>"
            f"<p>estimated GPU memory: <b class='labkit-memory-total'>{format_bytes(estimate.total)}</b> "
            f"<small>(one AdamW step, batch {batch_size} × {seq_len} tokens, bf16 + fp32 master "
            f"weights; activations are an estimate)</small></p>"
            f"<table>{bars}</table><table>{rows}</table>")
