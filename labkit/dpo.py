"""DPO with LoRA: learn from preference pairs directly; the reference is the same model, adapter off.

>>> result = train_dpo(load_model(sft_folder), tokenizer, pairs)            # doctest: +SKIP
>>> preference_accuracy(result.model, tokenizer, heldout_pairs, beta=0.1)   # doctest: +SKIP
(0.97, 1.8)

DPO's implicit reward of a response y is β · (log π(y|x) − log π_ref(y|x)). With LoRA the weights
are W + BA, and B starts at zero, so disabling the adapter gives back exactly W: the reference
model for free, with no second copy of the weights in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.train import RUNS_DIR, TrainResult, run_trainer, use_gradient_checkpointing

DPO_PLOT = {"implicit rewards": ["rewards/chosen", "rewards/rejected"], "margin": ["rewards/margins"],
            "pairs ranked right": ["rewards/accuracies"]}


@dataclass
class DPOSettings:
    """DPO + LoRA settings. Where a default differs from TRL's, the comment says why."""

    max_steps: int = 40
    learning_rate: float = 2e-3  # TRL's 1e-6 is for full fine-tuning of large models; LoRA on 3M needs far more
    beta: float = 0.1  # how strongly the policy is held to the reference (higher: closer)
    # Weight of an SFT loss on the chosen answers added to DPO's (TRL's loss_type ["sigmoid", "sft"],
    # known as RPO). Plain DPO (0) can lower both answers' probabilities; on the tiny model its
    # text then falls apart. 0 gives plain DPO.
    sft_weight: float = 1.0
    batch_size: int = 16  # pairs per step
    max_length: int = 128
    lora_r: int = 16
    lora_alpha: int = 32
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    warmup_steps: int = 5
    seed: int = 0
    logging_steps: int = 5
    output_dir: str = str(RUNS_DIR / "dpo")
    live_plot: bool = True
    gradient_checkpointing: bool | None = None  # None: only for models over 100M parameters (see train.py)
    extra: dict = field(default_factory=dict)  # any other DPOConfig field, passed through

    def to_dpo_config(self, gradient_checkpointing: bool = False):
        from trl import DPOConfig

        losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, self.sft_weight]} if self.sft_weight else {}
        return DPOConfig(output_dir=self.output_dir, max_steps=self.max_steps, learning_rate=self.learning_rate,
                         beta=self.beta, **losses, per_device_train_batch_size=self.batch_size,
                         max_length=self.max_length, warmup_steps=self.warmup_steps, seed=self.seed, data_seed=self.seed,
                         logging_steps=self.logging_steps, save_strategy="no", report_to="none", bf16=False,
                         disable_tqdm=False, activation_checkpointing=gradient_checkpointing, **self.extra)

    def lora_config(self):
        from peft import LoraConfig

        return LoraConfig(r=self.lora_r, lora_alpha=self.lora_alpha, target_modules=list(self.target_modules),
                          lora_dropout=0.0, task_type="CAUSAL_LM")


def train_dpo(model, tokenizer, train_dataset, settings: DPOSettings | None = None, callbacks=()) -> TrainResult:
    """DPO with TRL's DPOTrainer on prompt/chosen/rejected pairs, training a new LoRA adapter on ``model``.

    No ``ref_model`` is passed: TRL computes the reference log-probabilities with the adapter disabled.
    """
    from trl import DPOTrainer

    from labkit.plots import LivePlotCallback

    settings = settings or DPOSettings()
    plot = LivePlotCallback(DPO_PLOT, title=f"DPO (beta = {settings.beta})")
    checkpointing = use_gradient_checkpointing(model, settings.gradient_checkpointing)
    trainer = DPOTrainer(model=model, args=settings.to_dpo_config(checkpointing),
                         train_dataset=train_dataset.select_columns(["prompt", "chosen", "rejected"]),
                         processing_class=tokenizer, peft_config=settings.lora_config(),
                         callbacks=[*([plot] if settings.live_plot else []), *callbacks])
    result = run_trainer(trainer)
    result.model.eval()
    return result


def completion_logps(model, tokenizer, prompts: list, completions: list, batch_size: int = 64):
    """Sum of log-probabilities of each completion (a message list) after its prompt, as a float tensor."""
    import torch

    rows = []
    for prompt, completion in zip(prompts, completions, strict=True):
        head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
        head_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        rows.append((full_ids, len(head_ids)))
    totals = []
    model.eval()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        scored = torch.zeros((len(chunk), width), dtype=torch.bool)
        for i, (row, n_head) in enumerate(chunk):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
            scored[i, n_head:len(row)] = True
        with torch.no_grad():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
        logps = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(model.device))[..., 0]
        totals.append((logps * scored[:, 1:].to(model.device)).sum(-1).cpu())
    return torch.cat(totals)


def implicit_rewards(model, tokenizer, pairs, beta: float):
    """DPO's implicit rewards β·(log π − log π_ref) of each pair's chosen and rejected response.

    ``model`` is a peft model: the reference is the same model with its adapter disabled.
    """
    logps = {k: completion_logps(model, tokenizer, pairs["prompt"], pairs[k]) for k in ("chosen", "rejected")}
    with model.disable_adapter():
        ref = {k: completion_logps(model, tokenizer, pairs["prompt"], pairs[k]) for k in ("chosen", "rejected")}
    return beta * (logps["chosen"] - ref["chosen"]), beta * (logps["rejected"] - ref["rejected"])


def preference_accuracy(model, tokenizer, pairs, beta: float) -> tuple[float, float]:
    """Held-out preference accuracy (share of pairs whose chosen response has the higher implicit reward),
    and the mean margin."""
    chosen, rejected = implicit_rewards(model, tokenizer, pairs, beta)
    return (chosen > rejected).float().mean().item(), (chosen - rejected).mean().item()


def parameters_in_memory(*objects) -> int:
    """Numbers held by the given models' parameters (the weights), each storage counted once.

    >>> import torch
    >>> layer = torch.nn.Linear(2, 2)
    >>> parameters_in_memory(layer, layer)
    6
    """
    seen, total = set(), 0
    for obj in objects:
        if obj is None:
            continue
        for tensor in obj.parameters():  # buffers (e.g. rotary frequencies) are not weights
            key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tensor.numel())
            if key not in seen:
                seen.add(key)
                total += tensor.numel()
    return total


def beta_sweep(folder, tokenizer, train_dataset, heldout_pairs, questions: list[str], betas=(0.03, 0.1, 0.3, 1.0),
               settings: DPOSettings | None = None, log=print) -> list[dict]:
    """Train one short DPO run per beta from the model in ``folder``; measure what each reached."""
    from dataclasses import replace

    from labkit.models import load_model
    from labkit.reward import preferred_behaviour_rate

    settings = settings or DPOSettings()
    rows = []
    for beta in betas:
        run = train_dpo(load_model(folder), tokenizer, train_dataset, replace(settings, beta=beta, live_plot=False))
        chosen, rejected = implicit_rewards(run.model, tokenizer, heldout_pairs, beta)
        rate, _ = preferred_behaviour_rate(run.model, tokenizer, questions)
        # How far the policy moved from the reference on held-out chosen answers, in nats (log-ratio / beta).
        rows.append({"beta": beta, "preference_accuracy": (chosen > rejected).float().mean().item(),
                     "preferred_behaviour_rate": rate, "drift_nats": (chosen / beta).mean().item(),
                     "seconds": run.seconds})
        log(f"beta {beta:<5} accuracy {rows[-1]['preference_accuracy']:.0%}  polite {rate:.0%}  "
            f"drift {rows[-1]['drift_nats']:+.2f} nats  ({run.seconds:.0f} s)")
    return rows


def plot_beta_sweep(rows: list[dict]):
    """Preference accuracy, behaviour rate and drift against beta (log scale)."""
    import matplotlib.pyplot as plt

    betas = [r["beta"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.plot(betas, [r["preference_accuracy"] for r in rows], marker="o", label="held-out preference accuracy")
    left.plot(betas, [r["preferred_behaviour_rate"] for r in rows], marker="o", label="polite replies (greedy)")
    left.set(xscale="log", xlabel="beta", ylim=(0, 1.05), title="what DPO reached")
    left.legend(fontsize=8)
    right.plot(betas, [r["drift_nats"] for r in rows], marker="o", color="tab:red")
    right.set(xscale="log", xlabel="beta", ylabel="nats", title="drift from the reference (chosen answers)")
    fig.tight_layout()
    plt.close(fig)
    return fig
