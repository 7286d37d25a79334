"""Lesson 07's GRPO runs with the doctor watching, and crafted logs for the rules a short run never trips.

>>> sorted(sick_runs())
['KL running away', 'answers clipped', 'format reward gamed', 'reward saturated', 'zero-variance groups']
>>> from labkit.lessons.l07_grpo.rewards import MAX_REWARD
>>> from labkit.methods.grpo_doctor import diagnose
>>> all(diagnose(logs, "correct_answer", "well_formed", MAX_REWARD)[0].rule == rule for rule, logs in sick_runs().items())
True
"""

from __future__ import annotations

from labkit.lessons.l07_grpo.rewards import MAXIMA
from labkit.methods.grpo import GRPOSettings, train_grpo
from labkit.methods.grpo_doctor import RunDoctor
from labkit.methods.trainer import TrainResult


def run_with_doctor(profile: str, folder, tokenizer, reward_funcs: list, train_dataset, settings: GRPOSettings,
                    stop_when_stuck: bool = False, log=print) -> tuple[TrainResult, RunDoctor]:
    """GRPO on a fresh copy of the model in ``folder``, with the run doctor reading every log.

    Returns the run and the doctor, whose ``history`` holds the logs and ``flags`` what it found.
    """
    from labkit.lessons.l07_grpo import policy_and_adapters

    names = [f.__name__ for f in reward_funcs]
    doctor = RunDoctor(correctness="correct_answer" if "correct_answer" in names else None,
                       form="well_formed" if "well_formed" in names else None,
                       max_reward=sum(MAXIMA.get(name, 0.0) for name in names) or None,
                       stop_when_stuck=stop_when_stuck, log=log)
    policy, adapters = policy_and_adapters(profile, folder)
    result = train_grpo(policy, tokenizer, reward_funcs, train_dataset, settings, callbacks=[doctor],
                        peft_config=adapters)
    return result, doctor


def _logs(**series) -> list[dict]:
    n = len(next(iter(series.values())))
    return [{"step": 2 * (i + 1), **{key: values[i] for key, values in series.items()}} for i in range(n)]


def sick_runs() -> dict[str, list[dict]]:
    """Logs of runs with one trouble each, written as TRL logs them: the rule each should trip → its logs."""
    healthy = dict(frac_reward_zero_std=[0.1] * 6, kl=[0.01, 0.02, 0.02, 0.03, 0.03, 0.04],
                   reward=[0.6, 0.7, 0.8, 0.9, 1.0, 1.1], **{"completions/clipped_ratio": [0.0] * 6})
    return {
        "zero-variance groups": _logs(**{**healthy, "frac_reward_zero_std": [1.0] * 6, "reward": [0.0] * 6}),
        "answers clipped": _logs(**{**healthy, "completions/clipped_ratio": [0.4, 0.5, 0.5, 0.6, 0.6, 0.7]}),
        "KL running away": _logs(**{**healthy, "kl": [0.1, 0.3, 0.5, 0.9, 1.4, 2.2]}),
        "reward saturated": _logs(**{**healthy, "reward": [1.5, 1.6, 1.65, 1.68, 1.7, 1.7]}),
        "format reward gamed": _logs(**{**healthy, "rewards/well_formed/mean": [0.02, 0.04, 0.06, 0.16, 0.18, 0.2],
                                        "rewards/correct_answer/mean": [0.3, 0.31, 0.3, 0.3, 0.29, 0.31]}),
    }
