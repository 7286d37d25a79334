"""Pick the better response: the preference labeling widget, and its blind A/B mode.

>>> from labkit.core.data.labels import LabelStore
>>> labeler = Labeler(LabelStore("labels/03_rlhf.jsonl"), pairs, annotator="ada")  # doctest: +SKIP
>>> labeler  # display it; every click is on disk before the next  # doctest: +SKIP

The two responses appear side by side in a random order (fixed per pair, so it does not change when
the notebook is reopened). "A" and "B" on the buttons mean left and right on screen; the store
records which stored response that was. In blind mode (lesson 04) the pairs come from two models,
and which model wrote which side stays hidden until every pair is scored, by you or, once you press
"Let the simulated annotator finish", by the simulated annotator. "Start again" retracts the blind
scores, so a comparison filled in without you can be judged again.

Under "Run All" the cell after the widget awaits :meth:`Labeler.wait_for_learner`: the cells below
wait until you have labeled enough pairs or pressed the finish button.
"""

from __future__ import annotations

import asyncio
import html
import random
import time

import ipywidgets as widgets

from labkit.core.data.blind import BlindResult, blind_result
from labkit.core.data.label_records import SIMULATED_ANNOTATOR
from labkit.core.data.labels import DuplicateLabelError, LabelStore

BOX = "border:1px solid #bbb;border-radius:6px;padding:8px;min-height:3em;white-space:pre-wrap"


def left_side(pair_id: str, seed: int = 0) -> str:
    """Which stored response ("a" or "b") is shown on the left: random, but fixed per pair and seed."""
    return "a" if random.Random(f"{seed}:{pair_id}").random() < 0.5 else "b"


class Labeler(widgets.VBox):
    """Prompt, two responses, buttons A better / B better / tie / skip / undo last, progress and count.

    ``blind=True``: the pairs' ``meta`` names the model behind each side; the names and ``model``'s
    win rate appear only once every pair is labeled, after a person's judgements (or their "finish").
    """

    def __init__(self, store: LabelStore, pairs: list[dict], annotator: str = "you", seed: int = 0,
                 blind: bool = False, model: str | None = None):
        self.store, self.pairs, self.seed, self.blind, self.model = store, pairs, seed, blind, model
        self.index: int | None = None
        self.released = False  # the learner (or the lesson, when headless) let the simulated annotator finish
        self.annotator = widgets.Text(value=annotator, description="annotator")
        self.prompt = widgets.HTML()
        self.left, self.right = widgets.HTML(layout=_half()), widgets.HTML(layout=_half())
        names = [("a-better", "A better"), ("b-better", "B better"), ("tie", "Tie"), ("skip", "Skip"),
                 ("undo", "Undo last"), ("finish", "Let the simulated annotator finish")]
        self.buttons = {key: widgets.Button(description=text, layout=widgets.Layout(width="auto"))
                        for key, text in names + ([("start-again", "Start again")] if blind else [])}
        self.progress = widgets.IntProgress(min=0, max=max(1, len(pairs)), description="labeled")
        self.count, self.status, self.reveal = widgets.HTML(), widgets.HTML(), widgets.HTML()
        for name, widget in (("annotator", self.annotator), ("prompt", self.prompt), ("response-a", self.left),
                             ("response-b", self.right), ("progress", self.progress), ("count", self.count),
                             ("status", self.status), ("reveal", self.reveal)):
            widget.add_class(f"labkit-labeler-{name}")
        for key, button in self.buttons.items():
            button.add_class(f"labkit-labeler-{key}")
        self.buttons["a-better"].on_click(lambda _: self.choose("left"))
        self.buttons["b-better"].on_click(lambda _: self.choose("right"))
        self.buttons["tie"].on_click(lambda _: self.choose("tie"))
        self.buttons["skip"].on_click(lambda _: self.choose("skip"))
        self.buttons["undo"].on_click(lambda _: self.undo())
        self.buttons["finish"].on_click(lambda _: self.fill_simulated())
        if blind:
            self.buttons["start-again"].on_click(lambda _: self.start_again())
        self.annotator.observe(lambda _: self.refresh(), names="value")
        judging = [self.buttons[key] for key in ("a-better", "b-better", "tie", "skip", "undo")]
        handing_over = [b for key, b in self.buttons.items() if key in ("finish", "start-again")]
        super().__init__([self.annotator, self.prompt, widgets.HBox([self.left, self.right]), widgets.HBox(judging),
                          widgets.HBox([self.progress, self.count]), widgets.HBox(handing_over),
                          self.status, self.reveal])
        self.add_class("labkit-labeler")
        self.refresh()

    @property
    def name(self) -> str:
        return self.annotator.value.strip()

    def refresh(self) -> None:
        """Reread the store (another kernel or the simulated annotator may have written) and redraw."""
        self.store.reload()
        # Blind mode labels each pair once, by anyone; otherwise each annotator labels every pair.
        self.index = self.store.next_unlabeled(self.pairs, None if self.blind else self.name or None)
        people, simulated = self.store.who_labeled(self.pairs)
        done = len(self.pairs) - sum(1 for p in self.pairs if p["pair_id"] not in
                                     self.store.labeled_pair_ids(None if self.blind else self.name or None))
        self.progress.value = done
        who = "scored" if self.blind else f"labeled by {html.escape(self.name or '(no name)')}"
        self.count.value = (f"<b>{done} / {len(self.pairs)}</b> {who} · pairs labeled by people: {people}, "
                            f"by the simulated annotator: {simulated}")
        finished = self.index is None
        for key in ("a-better", "b-better", "tie", "skip", "finish"):
            self.buttons[key].disabled = finished
        if finished and self.blind and not (people or self.released):
            self.prompt.value = ("<b>Every pair was scored by the simulated annotator, none by a person</b> "
                                 "(a run without you). Press <i>Start again</i> to judge them yourself.")
            self.left.value = self.right.value = ""
        elif finished:
            self.prompt.value = "<b>All pairs are labeled.</b>"
            self.left.value = self.right.value = ""
        else:
            pair = self.pairs[self.index]
            first = left_side(pair["pair_id"], self.seed)
            second = "b" if first == "a" else "a"
            self.prompt.value = f"<b>Prompt</b> (pair {self.index + 1} of {len(self.pairs)}): {html.escape(pair['prompt'])}"
            self.left.value = f"<div style='{BOX}'><b>A</b><br>{html.escape(pair['response_' + first])}</div>"
            self.right.value = f"<div style='{BOX}'><b>B</b><br>{html.escape(pair['response_' + second])}</div>"
        revealed = self.blind and finished and (people or self.released)
        self.reveal.value = _reveal_html(blind_result(self.store, self.pairs, self.model)) if revealed else ""

    def choose(self, which: str) -> None:
        """Label the pair on screen: "left", "right", "tie" or "skip"."""
        if self.index is None:
            return
        if not self.name:
            self.status.value = "<span style='color:#b00'>Type your name in the annotator box first.</span>"
            return
        pair = self.pairs[self.index]
        first = left_side(pair["pair_id"], self.seed)
        choice = {"left": first, "right": "b" if first == "a" else "a"}.get(which, which)
        try:
            self.store.add(pair, choice, self.name, shown_first=first)
            said = {"left": "A better", "right": "B better", "tie": "a tie", "skip": "skipped"}[which]
            self.status.value = f"saved: {said} for pair {self.index + 1}"
        except DuplicateLabelError:
            self.status.value = "this pair was already labeled by you in another session; moving on"
        self.refresh()

    def undo(self) -> None:
        """Retract your last label (durably) and show that pair again."""
        undone = self.store.undo_last(self.name) if self.name else None
        self.status.value = "nothing of yours to undo" if undone is None else "undone: your last label"
        self.refresh()

    def fill_simulated(self) -> int:
        """Let the simulated annotator label what nobody labeled (marked simulated); returns how many."""
        self.released = True
        added = self.store.fill_simulated(self.pairs)
        self.status.value = f"the simulated annotator labeled the {added} pairs nobody had labeled"
        self.refresh()
        return added

    def start_again(self) -> int:
        """Retract every label on these pairs (durably, as undo lines) and show the first pair again."""
        retracted = self.store.start_again(self.pairs)
        self.released = False
        self.status.value = f"started again: {retracted} labels retracted"
        self.refresh()
        return retracted

    def ready(self, enough: int) -> bool:
        """True once people have labeled ``enough`` of these pairs (or all), or the simulated annotator was let finish."""
        people, _ = self.store.reload().who_labeled(self.pairs)
        return self.released or people >= min(enough, len(self.pairs))

    async def wait_for_learner(self, enough: int, headless: bool = False, poll_seconds: float = 0.2) -> None:
        """Hold this cell, and the cells Run All queued after it, until :meth:`ready`; use with ``await``.

        Nothing here processes events by hand: from ipykernel 7.4 on, the kernel handles widget
        clicks while an async cell awaits, and keeps the queued cells back until it returns.
        ``headless``: nobody can click (papermill, tests), so it returns at once, as it does on an
        older kernel (Colab's), which would never see the clicks.
        """
        if headless or self.ready(enough):
            return
        wanted = min(enough, len(self.pairs))
        if not _kernel_handles_clicks_while_waiting():
            print(f"This kernel cannot take clicks while a cell waits (it needs ipykernel 7.4 or later), so the "
                  f"lesson does not stop here: label {wanted} pairs above, then run the cells below again.")
            return
        print(f"The lesson waits here for you: label {wanted} pairs in the widget above, or press "
              "“Let the simulated annotator finish”. The cells below run after that.")
        start = time.monotonic()
        while not self.ready(enough):
            await asyncio.sleep(poll_seconds)
        people, _ = self.store.who_labeled(self.pairs)
        print(f"Going on after {time.monotonic() - start:.0f} s, with {people} pairs labeled by people.")


def _kernel_handles_clicks_while_waiting() -> bool:
    """True in an ipykernel 7.4+ kernel: it dispatches widget messages while an async cell awaits."""
    from IPython import get_ipython

    if getattr(get_ipython(), "kernel", None) is None:  # plain Python, or a shell without a kernel
        return False
    import ipykernel

    major, minor = (int(part) for part in ipykernel.__version__.split(".")[:2])
    return (major, minor) >= (7, 4)


def _half():
    return widgets.Layout(width="50%")


def _reveal_html(result: BlindResult) -> str:
    low, high = result.interval
    note = (f"<br><i>{result.simulated} labels came from the {SIMULATED_ANNOTATOR} annotator.</i>"
            if result.simulated else "")
    return (f"<div class='labkit-labeler-result'><b>Revealed:</b> {html.escape(result.model)} vs "
            f"{html.escape(result.other)} — win rate <b>{result.win_rate:.0%}</b> (95% CI {low:.0%}–{high:.0%}), "
            f"{result.wins} wins, {result.losses} losses, {result.ties} ties, {result.skips} skips.{note}</div>")
