"""Run a TRL trainer the same way for every method: timed, its peak memory measured, the result unwrapped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainResult:
    """What a training run gives back: the trained model and how the run went."""

    model: object
    seconds: float
    tokens_per_second: float
    peak_memory_mb: float
    history: list[dict]
    trainer: object = None

    def losses(self, key: str = "loss") -> list[float]:
        """The logged values of ``key`` (e.g. "loss", "eval_loss", "kl"), in step order."""
        return self.series(key)[1]

    def series(self, key: str = "loss") -> tuple[list[int], list[float]]:
        """The steps at which ``key`` was logged, and its values there."""
        points = [(h["step"], h[key]) for h in self.history if key in h]
        return [step for step, _ in points], [value for _, value in points]


def run_trainer(trainer, **train_arguments) -> TrainResult:
    """``trainer.train()``, timed, with its peak memory, as a TrainResult (the path every labkit trainer takes).

    Tokens per second count the tokens the trainer saw (0 where it counts none, e.g. the reward model).
    """
    from labkit.core.measure import measure

    device = "cuda" if str(trainer.model.device).startswith("cuda") else "cpu"
    with measure(device) as m:
        trainer.train(**train_arguments)
    tokens = trainer.state.num_input_tokens_seen
    # With bf16, accelerate wraps the model's forward in autocast; unwrap it so the trained model
    # answers in fp32, exactly as it will once saved and reloaded.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    model.eval()
    return TrainResult(model=model, seconds=m.seconds, tokens_per_second=tokens / m.seconds,
                       peak_memory_mb=m.peak_memory_mb, history=list(trainer.state.log_history),
                       trainer=trainer)
