"""The run doctor: reads a GRPO run's logs while it trains and names what is wrong, with a one-line fix.

The troubles GRPO users meet most (TRL and Unsloth issue threads: "reward=0 and loss=0",
"frac_reward_zero_std") all show in the metrics TRL already logs. Each rule below reads the last
few logs and returns a :class:`Flag`, or None when the run looks healthy in that respect.

>>> dead = [{"step": s, "frac_reward_zero_std": 1.0, "reward": 0.0, "loss": 0.0} for s in (1, 2, 3)]
>>> [flag.rule for flag in diagnose(dead)]
['zero-variance groups']
>>> diagnose([{"step": s, "frac_reward_zero_std": 0.1, "reward": 0.4} for s in (1, 2, 3)])
[]
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from transformers import TrainerCallback

WINDOW = 3  # logs a rule reads: enough to smooth one noisy batch, few enough to speak early
ZERO_STD_LIMIT = 0.5  # over half of the groups scored every answer the same: most of the batch teaches nothing
CLIPPED_LIMIT = 0.2  # one answer in five cut off by max_completion_length
KL_LIMIT = 0.5  # nats per token: far beyond the SFT model, where the checker's rewards are all that hold it
SATURATED_SHARE = 0.95  # the reward within 5% of the most it can give
FORMAT_RISE, CORRECT_RISE = 0.3, 0.1  # a reward's rise, relative to its highest logged mean


@dataclass(frozen=True)
class Flag:
    """One diagnosis: what the logs show, since which step, and the fix to try."""

    rule: str
    step: int
    finding: str
    fix: str

    def __str__(self) -> str:
        return f"⚠ {self.rule} (step {self.step}): {self.finding}\n  fix: {self.fix}"


def recent(history: list[dict], key: str, window: int = WINDOW) -> list[float]:
    """The last ``window`` logged values of ``key``."""
    return [h[key] for h in history if key in h][-window:]


def _step(history: list[dict]) -> int:
    return history[-1].get("step", len(history)) if history else 0


def zero_variance(history: list[dict]) -> Flag | None:
    """Groups whose answers all scored the same: every advantage is 0, so is the gradient (and the loss)."""
    values = recent(history, "frac_reward_zero_std")
    if len(values) < WINDOW or statistics.mean(values) < ZERO_STD_LIMIT:
        return None
    return Flag("zero-variance groups", _step(history),
                f"{statistics.mean(values):.0%} of groups gave every answer the same reward: no answer beats "
                "its group, so nothing is learned",
                "give partial credit, a bigger group (num_generations), a higher temperature, or an easier start")


def clipped(history: list[dict]) -> Flag | None:
    """Answers cut off at the length limit: never finished, so never scored as finished answers are."""
    values = recent(history, "completions/clipped_ratio")
    if len(values) < WINDOW or statistics.mean(values) < CLIPPED_LIMIT:
        return None
    return Flag("answers clipped", _step(history),
                f"{statistics.mean(values):.0%} of answers hit max_completion_length before ending",
                "raise max_completion_length, or reward answers that end (mask_truncated_completions=True)")


def kl_runaway(history: list[dict]) -> Flag | None:
    """The policy racing away from its reference: the KL high and still rising."""
    values = [h["kl"] for h in history if "kl" in h]
    last, before = values[-WINDOW:], values[-2 * WINDOW:-WINDOW]
    if not before or statistics.mean(last) < KL_LIMIT or statistics.mean(last) <= statistics.mean(before):
        return None
    return Flag("KL running away", _step(history),
                f"KL to the reference is {statistics.mean(last):.2f} per token and rising",
                "lower learning_rate, or raise beta to shorten the leash")


def saturated(history: list[dict], max_reward: float | None) -> Flag | None:
    """The reward at its maximum: the task is solved, and groups are about to go all-equal."""
    values = recent(history, "reward")
    if max_reward is None or len(values) < WINDOW or statistics.mean(values) < SATURATED_SHARE * max_reward:
        return None
    return Flag("reward saturated", _step(history),
                f"mean reward {statistics.mean(values):.2f} of at most {max_reward:g}: little left to learn",
                "stop here (it worked), or move on to harder questions")


def rise(history: list[dict], key: str) -> float | None:
    """How much ``key`` rose from the first logs to the last, relative to its highest logged value."""
    values = [h[key] for h in history if key in h]
    if len(values) < 2 * WINDOW or max(values) <= 0:
        return None
    return (statistics.mean(values[-WINDOW:]) - statistics.mean(values[:WINDOW])) / max(values)


def format_gamed(history: list[dict], correctness: str | None, form: str | None) -> Flag | None:
    """The format reward climbing while correctness does not: the model learned to look right."""
    if not correctness or not form:
        return None
    form_rise, correct_rise = rise(history, f"rewards/{form}/mean"), rise(history, f"rewards/{correctness}/mean")
    if form_rise is None or correct_rise is None or form_rise < FORMAT_RISE or correct_rise >= CORRECT_RISE:
        return None
    return Flag("format reward gamed", _step(history),
                f"{form} rose {form_rise:.0%} while {correctness} moved {correct_rise:+.0%}",
                f"pay {form} only with a correct answer, or lower its weight")


def diagnose(history: list[dict], correctness: str | None = None, form: str | None = None,
             max_reward: float | None = None) -> list[Flag]:
    """Every rule's flag for these logs (``history``: TRL's log dicts, each with its ``step``).

    ``correctness`` and ``form`` name the reward functions that check the answer and its format;
    ``max_reward`` is the most the rewards together can give. Rules that need one skip without it.
    """
    flags = [zero_variance(history), clipped(history), kl_runaway(history), saturated(history, max_reward),
             format_gamed(history, correctness, form)]
    return [flag for flag in flags if flag is not None]


@dataclass
class RunDoctor(TrainerCallback):
    """A TrainerCallback that diagnoses the run at every log and prints each new flag once.

    With ``stop_when_stuck``, a run whose groups have nothing to learn is stopped: its steps would
    change nothing.
    """

    correctness: str | None = None
    form: str | None = None
    max_reward: float | None = None
    stop_when_stuck: bool = False
    log: object = print
    history: list[dict] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        self.history.append({"step": state.global_step, **logs})
        seen = {flag.rule for flag in self.flags}
        for flag in diagnose(self.history, self.correctness, self.form, self.max_reward):
            if flag.rule not in seen:
                self.flags.append(flag)
                self.log(str(flag))
                if self.stop_when_stuck and flag.rule == "zero-variance groups":
                    self.log("  the doctor stops this run: its steps would change nothing")
                    control.should_training_stop = True

    @property
    def rules_flagged(self) -> list[str]:
        return [flag.rule for flag in self.flags]

    def report(self) -> str:
        """Every flag raised in the run, or a clean bill of health."""
        return "\n".join(map(str, self.flags)) or "the doctor found nothing wrong with this run"


def zero_std_fraction(history: list[dict]) -> float:
    """The run's mean share of groups whose answers all scored the same (TRL's ``frac_reward_zero_std``)."""
    values = [h["frac_reward_zero_std"] for h in history if "frac_reward_zero_std" in h]
    if not values:
        raise ValueError("no frac_reward_zero_std in these logs: is it a GRPO run, and did it log (logging_steps)?")
    return statistics.mean(values)
