"""Policy optimisation against a reward model with TRL's RLOOTrainer.

RLOO samples several replies per prompt, scores each with the reward model, subtracts
``beta`` × KL(policy ‖ SFT reference) from the score, and uses the mean score of the *other*
replies to the same prompt as the baseline: no value model, unlike PPO. With leave-one-out
advantages each prompt's advantages sum to about zero, so the logged loss sits near zero while
the policy learns: the reward and KL curves show progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labkit.core.evaluate import generate_replies
from labkit.methods.reward import score
from labkit.methods.planner import plan_run, refuse_if_too_big, training_method
from labkit.methods.settings import TrainerSettings, use_gradient_checkpointing
from labkit.methods.trainer import TrainResult, run_trainer
from labkit.paths import RUNS_DIR


@dataclass
class RLSettings(TrainerSettings):
    """RLOO settings. Where a default differs from TRL's, the comment says why.

    ``batch_size`` here counts prompts per step; each is answered ``num_generations`` times.
    """

    recipe: ClassVar[str] = "rloo"

    max_steps: int = 60
    learning_rate: float = 3e-5  # small: each step follows the reward model's judgement of a few samples
    batch_size: int = 8  # prompts per step
    beta: float = 0.05  # weight of the KL penalty that keeps the policy near the SFT model
    num_generations: int = 8  # replies sampled per prompt; their mean is the leave-one-out baseline
    max_completion_length: int = 24  # our answers are one short sentence
    temperature: float = 1.0
    warmup_steps: int = 0
    logging_steps: int = 2
    output_dir: str = str(RUNS_DIR / "rloo")

    def group_arguments(self, gradient_checkpointing: bool = False) -> dict:
        """The trainer arguments of a method that samples a group of replies per prompt (RLOO, GRPO)."""
        arguments = self.trl_arguments(gradient_checkpointing)
        # TRL's batch counts completions: prompts per step × replies per prompt.
        arguments["per_device_train_batch_size"] = self.batch_size * self.num_generations
        return {**arguments, "beta": self.beta, "num_generations": self.num_generations,
                "max_completion_length": self.max_completion_length, "temperature": self.temperature,
                **self.extra}

    def to_rloo_config(self, gradient_checkpointing: bool = False):
        from trl import RLOOConfig

        return RLOOConfig(**self.group_arguments(gradient_checkpointing))


def train_policy(policy, tokenizer, reward_model, questions: list[str], settings: RLSettings | None = None,
                 callbacks=(), peft_config=None) -> TrainResult:
    """Optimise ``policy`` (a causal LM) to raise ``reward_model``'s score on replies to ``questions``.

    The reference for the KL penalty is a frozen copy of the starting policy (RLOOTrainer loads it).
    A live plot shows the mean reward-model score and the KL as training goes.
    """
    from datasets import Dataset
    from trl import RLOOTrainer

    from labkit.core.plots import LivePlotCallback, Panel

    settings = settings or RLSettings()
    prompts = Dataset.from_dict({"prompt": [[{"role": "user", "content": q}] for q in questions]})
    plot = LivePlotCallback({}, title="RLOO: the policy learns what the reward model likes")
    refuse_if_too_big(plan_run(policy, settings, training_method(policy, peft_config), "rlhf", lora=peft_config))
    checkpointing = use_gradient_checkpointing(policy, settings.gradient_checkpointing)
    trainer = RLOOTrainer(model=policy, reward_funcs=reward_model, args=settings.to_rloo_config(checkpointing),
                          train_dataset=prompts, processing_class=tokenizer, reward_processing_classes=tokenizer,
                          peft_config=peft_config,
                          callbacks=settings.callbacks(plot, callbacks))
    # The reward's log key carries the reward model's name, known only once the trainer is built.
    plot.panels.update({"mean reward": Panel("reward-model score", {f"rewards/{trainer.reward_func_names[0]}/mean":
                                                                     "sampled answers"}),
                        "KL(policy ‖ SFT reference)": Panel("nats per token", {"kl": "sampled answers"})})
    return run_trainer(trainer)


def sampled_rewards(policy, tokenizer, reward_model, questions: list[str], samples: int = 4, seed: int = 0,
                    max_new_tokens: int = 24) -> list[float]:
    """Reward-model scores of ``samples`` sampled replies per question: the policy as RL sees it."""
    import torch

    torch.manual_seed(seed)
    conversations = [[{"role": "user", "content": q}] for q in questions] * samples
    replies = generate_replies(policy, tokenizer, conversations, max_new_tokens=max_new_tokens, do_sample=True)
    return score(reward_model, tokenizer, [c[0]["content"] for c in conversations], replies)
