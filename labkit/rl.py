"""Policy optimisation against the reward model with TRL's RLOOTrainer, and lesson 03's cached results.

>>> result = train_policy(policy, tokenizer, reward_model, questions)   # doctest: +SKIP
>>> result.losses("kl")[-1]                                               # doctest: +SKIP
0.03

RLOO samples several replies per prompt, scores each with the reward model, subtracts
``beta`` × KL(policy ‖ SFT reference) from the score, and uses the mean score of the *other*
replies to the same prompt as the baseline: no value model, unlike PPO.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from labkit.train import RUNS_DIR, TrainResult, run_trainer, use_gradient_checkpointing


@dataclass
class RLSettings:
    """RLOO settings. Where a default differs from TRL's, the comment says why."""

    max_steps: int = 60
    learning_rate: float = 3e-5  # small: each step follows the reward model's judgement of a few samples
    beta: float = 0.05  # weight of the KL penalty that keeps the policy near the SFT model
    num_generations: int = 8  # replies sampled per prompt; their mean is the leave-one-out baseline
    prompts_per_step: int = 8
    max_completion_length: int = 24  # our answers are one short sentence
    temperature: float = 1.0
    seed: int = 0
    logging_steps: int = 2
    output_dir: str = str(RUNS_DIR / "rloo")
    live_plot: bool = True
    gradient_checkpointing: bool | None = None  # None: only for models over 100M parameters (see train.py)
    extra: dict = field(default_factory=dict)  # any other RLOOConfig field, passed through

    def to_rloo_config(self, gradient_checkpointing: bool = False):
        from trl import RLOOConfig

        return RLOOConfig(output_dir=self.output_dir, max_steps=self.max_steps, learning_rate=self.learning_rate,
                          beta=self.beta, num_generations=self.num_generations,
                          per_device_train_batch_size=self.prompts_per_step * self.num_generations,
                          max_completion_length=self.max_completion_length, temperature=self.temperature,
                          seed=self.seed, data_seed=self.seed, logging_steps=self.logging_steps,
                          save_strategy="no", report_to="none", bf16=False, disable_tqdm=False,
                          activation_checkpointing=gradient_checkpointing, **self.extra)


def train_policy(policy, tokenizer, reward_model, questions: list[str], settings: RLSettings | None = None,
                 callbacks=()) -> TrainResult:
    """Optimise ``policy`` (a causal LM) to raise ``reward_model``'s score on replies to ``questions``.

    The reference for the KL penalty is a frozen copy of the starting policy (RLOOTrainer loads it).
    A live plot shows the mean reward-model score and the KL as training goes.
    """
    from datasets import Dataset
    from trl import RLOOTrainer

    from labkit.plots import LivePlotCallback

    settings = settings or RLSettings()
    prompts = Dataset.from_dict({"prompt": [[{"role": "user", "content": q}] for q in questions]})
    plot = LivePlotCallback({}, title="RLOO: the policy learns what the reward model likes")
    trainer = RLOOTrainer(model=policy, reward_funcs=reward_model, args=settings.to_rloo_config(use_gradient_checkpointing(policy, settings.gradient_checkpointing)),
                          train_dataset=prompts, processing_class=tokenizer, reward_processing_classes=tokenizer,
                          callbacks=[*([plot] if settings.live_plot else []), *callbacks])
    # The reward's log key carries the reward model's name, known only once the trainer is built.
    plot.panels.update({"mean reward (reward model score)": [f"rewards/{trainer.reward_func_names[0]}/mean"],
                        "KL(policy ‖ SFT reference) per token": ["kl"]})
    result = run_trainer(trainer)
    result.model.eval()
    return result


def sampled_rewards(policy, tokenizer, reward_model, questions: list[str], samples: int = 4, seed: int = 0,
                    max_new_tokens: int = 24) -> list[float]:
    """Reward-model scores of ``samples`` sampled replies per question: the policy as RL sees it."""
    import torch

    from labkit.evaluate import generate_replies
    from labkit.reward import score

    torch.manual_seed(seed)
    conversations = [[{"role": "user", "content": q}] for q in questions] * samples
    replies = generate_replies(policy, tokenizer, conversations, max_new_tokens=max_new_tokens, do_sample=True)
    return score(reward_model, tokenizer, [c[0]["content"] for c in conversations], replies)


# Lesson 04 compares DPO with lesson 03's run; lesson 03 leaves its numbers and policy here.
def rlhf_cache_dir(profile: str = "tiny"):
    from labkit.pipeline import CACHE_DIR

    return CACHE_DIR / f"rlhf-{profile}"


def save_rlhf_run(profile: str, summary: dict, policy=None, tokenizer=None):
    """Keep lesson 03's summary (and its policy) for lesson 04; returns the folder."""
    from labkit.models import save_model

    folder = rlhf_cache_dir(profile)
    folder.mkdir(parents=True, exist_ok=True)
    if policy is not None:
        save_model(policy, tokenizer, folder / "policy")
    tmp = folder / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(folder / "summary.json")
    return folder


def load_rlhf_run(profile: str = "tiny") -> dict | None:
    """Lesson 03's cached summary, or None if lesson 03 has not run for this profile."""
    path = rlhf_cache_dir(profile) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


@dataclass
class RLHFRecipe:
    """Lesson 03's recipe at its default size, for recomputing its numbers when no cache exists."""

    # The notebook's parameters reward_steps and rl_steps.
    reward: dict = field(default_factory=lambda: {"max_steps": 40})  # RewardSettings overrides
    rl: dict = field(default_factory=lambda: {"max_steps": 40})  # RLSettings overrides
    n_eval: int = 200


def run_rlhf(profile: str = "tiny", recipe: RLHFRecipe | None = None, log=print) -> dict:
    """Lesson 03 headless: reward model on the shipped pairs, RLOO against it; caches and returns the summary.

    Labels come from the shipped set only (no learner here), so the run is the same on every machine.
    """
    from labkit.data.preferences import load_preference_set
    from labkit.models import load_model
    from labkit.pipeline import instruction_splits, sft_model
    from labkit.reward import RewardSettings, preferred_behaviour_rate, train_reward_model

    recipe = recipe or RLHFRecipe()
    _, tokenizer, folder = sft_model(profile, log=log)
    splits = instruction_splits(profile)
    questions = [e["messages"][0]["content"] for e in splits["train"]]
    heldout = [e["messages"][0]["content"] for e in splits["validation"]][:recipe.n_eval]
    log("recomputing lesson 03's RLHF run (reward model, then RLOO)")
    reward = train_reward_model(folder, tokenizer, load_preference_set("train"),
                                RewardSettings(live_plot=False, **recipe.reward))
    policy = train_policy(load_model(folder), tokenizer, reward.model, questions,
                          RLSettings(live_plot=False, **recipe.rl))
    rate, _ = preferred_behaviour_rate(policy.model, tokenizer, heldout)
    summary = rlhf_summary(reward, policy, rate, {"recipe": asdict(recipe)})
    save_rlhf_run(profile, summary, policy.model, tokenizer)
    return summary


def rlhf_summary(reward: TrainResult, policy: TrainResult, behaviour_rate: float, extra=None) -> dict:
    """The numbers lesson 04 compares DPO with: two trainings, three models held while the policy trains."""
    return {"models_trained": 2, "models_in_memory": 3,  # policy, frozen reference, reward model
            "wall_seconds": reward.seconds + policy.seconds,
            "peak_memory_mb": max(reward.peak_memory_mb, policy.peak_memory_mb),
            "reward_seconds": reward.seconds, "policy_seconds": policy.seconds,
            "preferred_behaviour_rate": behaviour_rate, **(extra or {})}
