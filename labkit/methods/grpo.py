"""GRPO with verifiable rewards: TRL's GRPOTrainer, scored by plain Python functions instead of a judge.

GRPO samples a group of ``num_generations`` answers per prompt, scores each with the reward
functions, and uses the group itself as the baseline: an answer's advantage is its reward minus the
group's mean, divided by the group's standard deviation. No value model (unlike PPO), no reward model
(unlike lesson 03). A group whose answers all score the same has advantages of zero: nothing to learn.

>>> settings = GRPOSettings(max_steps=3, batch_size=2, num_generations=4, precision="no")
>>> config = settings.to_grpo_config()
>>> config.per_device_train_batch_size, config.num_generations, config.beta
(8, 4, 0.04)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from labkit.core.evaluate import generate_replies
from labkit.core.plots import Panel
from labkit.methods.planner import plan_run, refuse_if_too_big, training_method
from labkit.methods.rloo import RLSettings
from labkit.methods.settings import use_gradient_checkpointing
from labkit.methods.trainer import TrainResult, run_trainer
from labkit.paths import RUNS_DIR


@dataclass
class GRPOSettings(RLSettings):
    """GRPO settings. Where a default differs from TRL's, the comment says why.

    ``batch_size`` counts prompts per step; each is answered ``num_generations`` times.
    """

    recipe: ClassVar[str] = "grpo"

    max_steps: int = 60
    learning_rate: float = 3e-5  # TRL's 1e-6 suits billion-parameter models
    batch_size: int = 8  # prompts per step
    num_generations: int = 8  # the group: answers sampled per prompt, compared with each other
    max_completion_length: int = 48  # a two-sentence reasoning and a verdict fit well inside
    temperature: float = 1.0  # sampling spread: too low and a group's answers are all alike
    # TRL's default is 0 (no reference model, no leash). The course keeps the KL leash of lesson 03,
    # at DeepSeekMath's original 0.04, so the lesson can show it and the doctor can watch it.
    beta: float = 0.04
    # Adam's first steps are its largest (each weight moves by about the full rate): a short ramp keeps the
    # first update from throwing the policy off its reference.
    warmup_steps: int = 4
    logging_steps: int = 2
    output_dir: str = str(RUNS_DIR / "grpo")

    def to_grpo_config(self, gradient_checkpointing: bool = False):
        from trl import GRPOConfig

        return GRPOConfig(**self.group_arguments(gradient_checkpointing))


def group_advantages(rewards: list[float], epsilon: float = 1e-4) -> list[float]:
    """GRPO's advantage of each answer in one group: (reward − group mean) / (group std + ε), as TRL computes it.

    >>> [round(a, 2) for a in group_advantages([1, 0, 0, 1])]
    [0.87, -0.87, -0.87, 0.87]
    >>> group_advantages([0, 0, 0, 0])  # a dead group: nothing to learn
    [0.0, 0.0, 0.0, 0.0]
    """
    import statistics

    mean, std = statistics.mean(rewards), statistics.stdev(rewards)  # TRL: torch.std, the n − 1 kind
    return [(r - mean) / (std + epsilon) for r in rewards]


def leave_one_out_advantages(rewards: list[float]) -> list[float]:
    """RLOO's advantage (lesson 03): each reward minus the mean of the *other* answers to the same prompt.

    >>> [round(a, 2) for a in leave_one_out_advantages([1, 0, 0, 1])]
    [0.67, -0.67, -0.67, 0.67]
    """
    total, n = sum(rewards), len(rewards)
    return [r - (total - r) / (n - 1) for r in rewards]


def reward_panels(reward_funcs) -> dict:
    """The live plot's panels: each reward function's mean, the groups with nothing to learn, the KL."""
    return {"mean reward per function": Panel("reward", {f"rewards/{f.__name__}/mean": f.__name__
                                                         for f in reward_funcs}),
            "groups with all rewards equal": Panel("share of groups", {"frac_reward_zero_std": "no learning signal"}),
            "KL(policy ‖ reference)": Panel("nats per token", {"kl": "sampled answers"})}


def train_grpo(policy, tokenizer, reward_funcs: list, train_dataset, settings: GRPOSettings | None = None,
               callbacks=(), peft_config=None) -> TrainResult:
    """Optimise ``policy`` (a causal LM) for the sum of ``reward_funcs`` on the prompts of ``train_dataset``.

    Each reward function is plain Python with TRL's signature, ``f(completions, **columns) -> list[float]``:
    the dataset's other columns (the facts an answer must state, say) arrive as keyword arguments.
    The reference for the KL leash (``settings.beta`` > 0) is the starting policy, frozen: TRL loads it again
    from ``policy.config.name_or_path``, so load the policy from its saved folder, not a model changed in
    memory. With ``peft_config`` (a LoRA adapter on a 4-bit base) it is the base with the adapter switched off.
    """
    from trl import GRPOTrainer

    from labkit.core.plots import LivePlotCallback

    settings = settings or GRPOSettings()
    plot = LivePlotCallback(reward_panels(reward_funcs), title="GRPO: rewards, dead groups and the KL leash")
    # The memory model's "rlhf" counts a reward model too: an over-estimate here, on the safe side.
    refuse_if_too_big(plan_run(policy, settings, training_method(policy, peft_config), "rlhf", lora=peft_config))
    checkpointing = use_gradient_checkpointing(policy, settings.gradient_checkpointing)
    trainer = GRPOTrainer(model=policy, reward_funcs=list(reward_funcs), args=settings.to_grpo_config(checkpointing),
                          train_dataset=train_dataset, processing_class=tokenizer, peft_config=peft_config,
                          callbacks=settings.callbacks(plot, callbacks))
    return run_trainer(trainer)


def sampled_rewards(policy, tokenizer, reward_funcs: list, dataset, samples: int = 4, seed: int = 0,
                    temperature: float = 1.0, max_new_tokens: int = 48) -> list[float]:
    """The summed reward of ``samples`` sampled answers per prompt of ``dataset``: the policy as GRPO sees it."""
    import torch

    torch.manual_seed(seed)
    rows = list(dataset) * samples
    replies = generate_replies(policy, tokenizer, [row["prompt"] for row in rows], max_new_tokens=max_new_tokens,
                               do_sample=True, temperature=temperature)
    completions = [[{"role": "assistant", "content": reply}] for reply in replies]
    columns = {key: [row[key] for row in rows] for key in rows[0] if key not in ("prompt", "messages")}
    scores = [f(completions=completions, **columns) for f in reward_funcs]
    return [sum(per_function) for per_function in zip(*scores)]
