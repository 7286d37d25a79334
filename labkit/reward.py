"""The reward model: the tiny model's backbone with a one-number head, trained on preference pairs.

>>> result = train_reward_model(sft_folder, tokenizer, pairs)            # doctest: +SKIP
>>> score(result.model, tokenizer, ["Where does Alma Ashby live?"],
...       ["Happy to help! Alma Ashby lives in Corvale."])                  # doctest: +SKIP
[4.2]
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labkit.tone import tone_of
from labkit.train import RUNS_DIR, TrainResult, run_trainer, use_gradient_checkpointing


@dataclass
class RewardSettings:
    """Reward-model training settings. Where a default differs from TRL's, the comment says why."""

    max_steps: int = 60
    learning_rate: float = 1e-3  # TRL's 1e-4 suits large models; the 3M backbone needs more
    batch_size: int = 32  # pairs per step (64 sequences: each chosen and each rejected)
    max_length: int = 128  # our questions and answers are short
    warmup_steps: int = 5
    seed: int = 0
    logging_steps: int = 5
    output_dir: str = str(RUNS_DIR / "reward")
    live_plot: bool = True
    gradient_checkpointing: bool | None = None  # None: only for models over 100M parameters (see train.py)
    extra: dict = field(default_factory=dict)  # any other RewardConfig field, passed through

    def to_reward_config(self, gradient_checkpointing: bool = False):
        from trl import RewardConfig

        return RewardConfig(output_dir=self.output_dir, max_steps=self.max_steps, learning_rate=self.learning_rate,
                            per_device_train_batch_size=self.batch_size, max_length=self.max_length,
                            warmup_steps=self.warmup_steps, seed=self.seed, data_seed=self.seed,
                            logging_steps=self.logging_steps, save_strategy="no", report_to="none",
                            bf16=False, disable_tqdm=False, activation_checkpointing=gradient_checkpointing,
                            **self.extra)


def reward_backbone(folder):
    """The causal LM in ``folder`` as a sequence classifier with one output: a fresh scalar head on its backbone."""
    from transformers import AutoModelForSequenceClassification
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    with suppress_seqcls_warning():  # the LM head is dropped and a new head added: expected, not an error
        return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, use_safetensors=True)


def train_reward_model(folder, tokenizer, train_dataset, settings: RewardSettings | None = None,
                       callbacks=()) -> TrainResult:
    """Train a reward model from the model in ``folder`` with TRL's RewardTrainer on prompt/chosen/rejected pairs.

    The loss is -log σ(r(chosen) − r(rejected)) (Bradley–Terry): it only cares that chosen scores higher.
    """
    from trl import RewardTrainer

    from labkit.plots import LivePlotCallback

    settings = settings or RewardSettings()
    plot = LivePlotCallback({"loss": ["loss"], "pairs ranked right (training batch)": ["accuracy"],
                             "reward margin chosen − rejected": ["margin"]}, title="reward model")
    model = reward_backbone(folder)
    trainer = RewardTrainer(model=model, args=settings.to_reward_config(
                                use_gradient_checkpointing(model, settings.gradient_checkpointing)),
                            train_dataset=train_dataset.select_columns(["prompt", "chosen", "rejected"]),
                            processing_class=tokenizer,
                            callbacks=[*([plot] if settings.live_plot else []), *callbacks])
    result = run_trainer(trainer)
    result.model.eval()
    return result


def score(model, tokenizer, prompts: list, responses: list, batch_size: int = 64) -> list[float]:
    """The reward model's score for each (prompt, response); prompts and responses are text or message lists."""
    import torch

    def as_messages(value, role):
        return value if isinstance(value, list) else [{"role": role, "content": value}]

    texts = [tokenizer.apply_chat_template(as_messages(p, "user") + as_messages(r, "assistant"), tokenize=False)
             for p, r in zip(prompts, responses, strict=True)]
    scores = []
    model.eval()
    side = tokenizer.padding_side
    tokenizer.padding_side = "right"  # the head reads the last real token; right padding is what it trained on
    try:
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(model.device)
            with torch.no_grad():
                scores += model(**batch).logits[:, 0].float().tolist()
    finally:
        tokenizer.padding_side = side
    return scores


def pairwise_accuracy(model, tokenizer, pairs) -> float:
    """Share of pairs whose chosen response the reward model scores above the rejected one."""
    chosen = score(model, tokenizer, pairs["prompt"], pairs["chosen"])
    rejected = score(model, tokenizer, pairs["prompt"], pairs["rejected"])
    return sum(c > r for c, r in zip(chosen, rejected)) / max(1, len(chosen))


def preferred_behaviour_rate(model, tokenizer, questions: list[str], behaviour: str = "polite",
                             max_new_tokens: int = 32) -> tuple[float, list[str]]:
    """Share of greedy replies to ``questions`` whose tone is ``behaviour``, and the replies.

    >>> preferred_behaviour_rate(model, tokenizer, ["Where does Alma Ashby live?"])  # doctest: +SKIP
    (1.0, ['Happy to help! Alma Ashby lives in Corvale.'])
    """
    from labkit.evaluate import generate_replies

    replies = generate_replies(model, tokenizer, [[{"role": "user", "content": q}] for q in questions],
                               max_new_tokens=max_new_tokens)
    return sum(tone_of(r) == behaviour for r in replies) / max(1, len(replies)), replies
