"""Live training plots: a Trainer callback that redraws curves in the notebook as logs arrive.

>>> panel = Panel("nats per token", {"loss": "training", "eval_loss": "validation"})
>>> panel.curves["eval_loss"]
'validation'
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import TrainerCallback


@dataclass(frozen=True)
class Panel:
    """One plot: its y-axis label, and the logged keys it draws, each with the name its legend shows."""

    ylabel: str
    curves: dict[str, str]  # log key (as TRL logs it) -> legend label a learner reads


def in_notebook() -> bool:
    try:
        from IPython import get_ipython

        return get_ipython() is not None and hasattr(get_ipython(), "kernel")
    except ImportError:
        return False


class LivePlotCallback(TrainerCallback):
    """Plot chosen logged metrics against the step, updating one figure in place.

    ``panels`` maps a panel title to a :class:`Panel`, e.g.
    ``{"loss": Panel("nats per token", {"loss": "training", "eval_loss": "validation"})}``.
    Every log is kept in ``self.history``.
    """

    def __init__(self, panels: dict[str, Panel] | None = None, title: str = "training", every: int = 1):
        self.panels = panels or {"loss": Panel("nats per token", {"loss": "training", "eval_loss": "validation"})}
        self.title, self.every = title, every
        self.history: list[dict] = []
        self._handle = None
        self._logs_seen = 0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs:
            return
        self.history.append({"step": state.global_step, **logs})
        self._logs_seen += 1
        if in_notebook() and self._logs_seen % self.every == 0:
            self.draw()

    def on_train_end(self, args, state, control, **kwargs):
        if in_notebook():
            self.draw()

    def series(self, key: str) -> tuple[list[int], list[float]]:
        points = [(h["step"], h[key]) for h in self.history if key in h]
        return [p[0] for p in points], [p[1] for p in points]

    def figure(self):
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(self.panels), figsize=(4.5 * len(self.panels), 3.2), squeeze=False)
        for ax, (name, panel) in zip(axes[0], self.panels.items()):
            for key, label in panel.curves.items():
                steps, values = self.series(key)
                if steps:
                    ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=label)
            ax.set(title=name, xlabel="optimizer step", ylabel=panel.ylabel)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=8)
        fig.suptitle(self.title)
        fig.tight_layout()
        plt.close(fig)
        return fig

    def draw(self):
        from IPython.display import display

        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)


def label_log_axis(ax, values, axis: str = "x") -> None:
    """A logarithmic axis labelled at ``values`` as they are written (0.03, 16), not as powers of ten."""
    from matplotlib.ticker import FixedLocator, NullLocator

    target = ax.xaxis if axis == "x" else ax.yaxis
    getattr(ax, f"set_{axis}scale")("log")
    target.set_major_locator(FixedLocator(list(values)))
    target.set_minor_locator(NullLocator())
    target.set_major_formatter(lambda value, _: f"{value:g}")
