"""The LoRA rank explorer: move the rank, pick the target modules, see what LoRA would train.

>>> from labkit.ui.widgets import RankExplorer
>>> explorer = RankExplorer(model="llama-2-7b", rank=8)   # display it in a notebook cell
>>> explorer.report.trainable
4194304

Every figure comes from labkit.methods.lora_math / labkit.methods.memory (arithmetic on the config, microseconds).
The plot's axes are drawn once; an update blits only the curve and the marker (matplotlib
blitting), which keeps each change far below the 50 ms an interactive slider needs.
"""

from __future__ import annotations

import io

import ipywidgets as widgets

from labkit.methods.lora_math import (ARCHITECTURES, config_path, default_target_modules, load_architecture_config,
                         lora_report, target_module_names)
from labkit.methods.memory import estimate_training_memory, format_bytes

MAX_RANK = 256


def available_architectures() -> tuple[str, ...]:
    """The architectures whose config is on disk (the tiny one appears once it is pre-trained)."""
    return tuple(name for name in ARCHITECTURES if config_path(name).exists())


class RankExplorer(widgets.VBox):
    """A rank slider, target-module checkboxes and a model dropdown with live LoRA figures.

    Memory is for one AdamW step on ``batch_size`` × ``seq_len`` tokens in ``dtype``
    (default "mixed": bf16 compute, fp32 master weights; see labkit.methods.memory).
    """

    def __init__(self, model: str = "llama-2-7b", rank: int = 16, target_modules=None,
                 batch_size: int = 1, seq_len: int = 512, dtype: str = "mixed"):
        self.batch_size, self.seq_len, self.dtype = batch_size, seq_len, dtype
        self._configs = {}
        self.model_dropdown = widgets.Dropdown(options=available_architectures(), value=model,
                                               description="model")
        self.rank_slider = widgets.IntSlider(value=rank, min=1, max=MAX_RANK, description="rank r",
                                             continuous_update=True,
                                             layout=widgets.Layout(width="460px"))
        self.targets_box = widgets.HBox()
        self.figures = widgets.HTML()
        self.plot = widgets.Image(format="png")
        self.model_dropdown.add_class("labkit-model-dropdown")
        self.rank_slider.add_class("labkit-rank-slider")
        self.targets_box.add_class("labkit-targets")
        self.figures.add_class("labkit-rank-figures")
        self.plot.add_class("labkit-rank-plot")
        super().__init__([self.model_dropdown, self.rank_slider,
                          widgets.HBox([widgets.Label("target_modules"), self.targets_box]),
                          widgets.HBox([self.figures, self.plot])])
        self.add_class("labkit-rank-explorer")
        self._figure = _Plot()
        self._build_checkboxes(target_modules)
        self.model_dropdown.observe(self._on_model, names="value")
        self.rank_slider.observe(lambda _: self.update(), names="value")
        self.update()

    @property
    def config(self):
        name = self.model_dropdown.value
        if name not in self._configs:  # ~1 ms to parse; cached so switching back is instant
            self._configs[name] = load_architecture_config(name)
        return self._configs[name]

    @property
    def target_modules(self) -> tuple[str, ...]:
        return tuple(box.description for box in self.targets_box.children if box.value)

    @property
    def report(self):
        return lora_report(self.config, self.rank_slider.value, self.target_modules)

    def _build_checkboxes(self, wanted=None):
        names = target_module_names(self.config)
        keep = [name for name in (wanted or ()) if name in names] or default_target_modules(self.config)
        boxes = []
        for name in names:
            box = widgets.Checkbox(value=name in keep, description=name, indent=False,
                                   layout=widgets.Layout(width="auto"))
            box.add_class("labkit-target")
            box.add_class(f"labkit-target-{name}")
            box.observe(lambda _: self.update(), names="value")
            boxes.append(box)
        self.targets_box.children = boxes

    def _on_model(self, _change):
        self._build_checkboxes(self.target_modules)
        self.update()

    def update(self, draw: bool = True):
        """Recompute the figures and (unless ``draw`` is False) the plot."""
        targets = self.target_modules
        if not targets:
            self.figures.value = "<b>Tick at least one target module: LoRA needs a layer to wrap.</b>"
            if draw:  # no curve for no adapters: the old one would claim a count that no longer holds
                self.plot.value = self._figure.render_empty("no target module ticked")
            return
        config, rank = self.config, self.rank_slider.value
        report = lora_report(config, rank, targets)
        memory = {method: estimate_training_memory(config, method, rank=rank, target_modules=targets,
                                                   batch_size=self.batch_size, seq_len=self.seq_len,
                                                   dtype=self.dtype)
                  for method in ("full", "lora")}
        self.figures.value = _figures_html(report, memory, self.batch_size, self.seq_len)
        if draw:
            self.plot.value = self._figure.render(report.trainable // rank, report.base_total, rank,
                                                  f"{report.name}: {'+'.join(targets)}")


def _figures_html(report, memory, batch_size, seq_len) -> str:
    full, lora = memory["full"], memory["lora"]
    rows = [
        ("trainable parameters (LoRA A and B)",
         f'<span class="labkit-trainable-count">{report.trainable:,}</span>'),
        ("base model parameters (frozen)", f'<span class="labkit-base-count">{report.base_total:,}</span>'),
        ("trainable share of the base", f"{report.trainable_percent:.4f} %"),
        ("peft's “all params” (base + adapters)",
         f"{report.peft_total:,} → trainable% {report.peft_trainable_percent:.4f}"),
        ("adapter file on disk",
         f"{report.adapter_mb_fp32:.2f} MB fp32 · {report.adapter_mb_bf16:.2f} MB bf16"),
        ("training memory, full fine-tuning",
         f'<span class="labkit-memory-full">{format_bytes(full.total)}</span>'),
        ("training memory, LoRA", f'<span class="labkit-memory-lora">{format_bytes(lora.total)}</span>'),
    ]
    body = "".join(f"<tr><td>{label}</td><td style='text-align:right'><b>{value}</b></td></tr>"
                   for label, value in rows)
    note = (f"Memory: one AdamW step, batch {batch_size} × {seq_len} tokens, bf16 with fp32 master "
            "weights; activations are an estimate.")
    return f"<table>{body}</table><small>{note}</small>"


class _Plot:
    """Trainable parameters against rank (log-log), with the current rank marked.

    The axes are fixed (ranks 1–256, 10^3 to 10^11 parameters: every model here fits), so they
    are drawn once; each update blits only the moving artists onto that cached background.
    """

    def __init__(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        # A bare Figure, not pyplot: nothing leaks into the notebook's inline output.
        self.figure = Figure(figsize=(4.8, 3.0), dpi=90)
        FigureCanvasAgg(self.figure)
        axes = self.axes = self.figure.add_subplot()
        axes.set_xscale("log", base=2)
        axes.set_xticks([1, 4, 16, 64, 256], ["1", "4", "16", "64", "256"])
        axes.set_yscale("log")
        axes.set_xlim(0.8, MAX_RANK * 1.25)  # room around r=1 and r=256, so their markers are not cut
        axes.set_ylim(1e3, 1e11)
        axes.set_xlabel("rank r")
        axes.set_ylabel("parameters")
        self.ranks = list(range(1, MAX_RANK + 1))
        # Animated artists are left out of full draws, so they can be blitted on their own.
        (self.curve,) = axes.plot([], [], color="tab:blue", label="LoRA: trainable", animated=True)
        (self.full_line,) = axes.plot([], [], color="tab:red", linestyle="--",
                                      label="full fine-tuning: all", animated=True)
        (self.marker,) = axes.plot([], [], "o", color="tab:orange", animated=True)
        self.label = axes.annotate("", (1, 1), xytext=(6, -14), textcoords="offset points",
                                   animated=True, fontsize=9)
        self.title = axes.text(0.5, 1.02, "", transform=axes.transAxes, ha="center", fontsize=9,
                               animated=True)
        axes.legend(loc="lower right", fontsize=8, frameon=False)
        self.figure.tight_layout()
        self.figure.canvas.draw()
        self._background = self.figure.canvas.copy_from_bbox(self.figure.bbox)

    def render_empty(self, title: str) -> bytes:
        """The axes alone, with ``title``: nothing to plot."""
        for artist in (self.curve, self.full_line, self.marker):
            artist.set_data([], [])
        self.label.set_text("")
        self.title.set_text(title)
        return self._png()

    def render(self, per_rank: int, base: int, rank: int, title: str) -> bytes:
        """Draw the curve, the full fine-tuning line and the marker; return the PNG."""
        trainable = per_rank * rank
        self.curve.set_data(self.ranks, [per_rank * r for r in self.ranks])
        self.full_line.set_data([1, MAX_RANK], [base, base])
        self.marker.set_data([rank], [trainable])
        self.label.xy = (rank, trainable)
        self.label.xyann = (6, -14) if rank <= 32 else (-110, 8)  # keep the label inside the axes
        self.label.set_text(f"r={rank}: {trainable:,}")
        self.title.set_text(title)
        return self._png()

    def _png(self) -> bytes:
        from PIL import Image

        canvas = self.figure.canvas
        canvas.restore_region(self._background)
        for artist in (self.curve, self.full_line, self.marker, self.label, self.title):
            self.axes.draw_artist(artist)
        # PNG encoding is most of an update's time: RGB (no alpha) and light compression.
        image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
        png = io.BytesIO()
        image.save(png, format="png", compress_level=1)
        return png.getvalue()
