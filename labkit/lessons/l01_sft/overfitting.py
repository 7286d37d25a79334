"""Lesson 01, training settings: a run that over-fits on purpose, so the learner reads the curves.

Few examples, many passes over them, a high constant learning rate: the training loss falls towards
zero while the validation loss, after a first dip, climbs. The step where validation was lowest is
where early stopping would have kept the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labkit.lessons.l01_sft import LESSON_DIR, adapters, start_model
from labkit.methods.sft import SFTSettings, train_sft

EXAMPLES = 16  # so few that the model can memorise them
EPOCHS = 25  # passes over those examples
RATE_FACTOR = 10  # times the profile's SFT learning rate
EVAL_EXAMPLES = 64
EVAL_POINTS = 12  # validation-loss points on the curve: each costs a pass over EVAL_EXAMPLES


@dataclass(frozen=True)
class Overfit:
    """The curves of the run and where it turned: the step of lowest validation loss."""

    steps: list[int]
    train_loss: list[float]
    eval_steps: list[int]
    eval_loss: list[float]
    seconds: float
    max_steps: int  # steps trained: the last logged step is earlier when the log interval does not divide it

    @property
    def best_step(self) -> int:
        return self.eval_steps[self.eval_loss.index(min(self.eval_loss))]

    @property
    def rise(self) -> float:
        """How far validation loss climbed from its lowest point to the end of the run."""
        return self.eval_loss[-1] - min(self.eval_loss)


def settings(profile: str = "tiny", seed: int = 0) -> SFTSettings:
    """The profile's SFT recipe, bent to over-fit: small batches, many epochs, a constant high rate."""
    chosen = SFTSettings.for_profile(profile, seed=seed)
    batch = min(8, chosen.batch_size)
    steps = EPOCHS * EXAMPLES // batch
    return replace(chosen, batch_size=batch, gradient_accumulation_steps=1, max_steps=steps,
                   learning_rate=chosen.learning_rate * RATE_FACTOR, warmup_steps=0,
                   lr_scheduler_type="constant", logging_steps=max(1, steps // EVAL_POINTS),
                   eval_every=max(1, steps // EVAL_POINTS), output_dir=str(LESSON_DIR / "overfit"))


def overfit_run(profile: str, train_set, validation_set, seed: int = 0, log=print) -> Overfit:
    """Fine-tune lesson 00's model afresh on ``EXAMPLES`` training examples for ``EPOCHS`` epochs,
    measuring validation loss as it goes (the live plot shows both curves)."""
    model, tokenizer, _ = start_model(profile, log=log)
    chosen = settings(profile, seed)
    run = train_sft(model, tokenizer, train_set.shuffle(seed=seed).select(range(EXAMPLES)),
                    validation_set.select(range(min(EVAL_EXAMPLES, len(validation_set)))),
                    chosen, peft_config=adapters(profile, model, tokenizer))
    (steps, train_loss), (eval_steps, eval_loss) = run.series("loss"), run.series("eval_loss")
    return Overfit(steps=steps, train_loss=train_loss, eval_steps=eval_steps, eval_loss=eval_loss,
                   seconds=run.seconds, max_steps=chosen.max_steps)
