"""The durable preference-label store: one append-only JSONL line per click, never lost, never doubled.

>>> import tempfile
>>> from labkit.core.data.label_records import make_pair
>>> store = LabelStore(Path(tempfile.mkdtemp()) / "03_rlhf.jsonl")
>>> pair = make_pair("Where does Alma Ashby live?", "Happy to help! …", "Ugh, fine. …")
>>> store.add(pair, "a", annotator="ada")["choice"]
'a'
>>> store.export().dataset.num_rows, store.export().dataset[0]["chosen"][0]["content"]
(1, 'Happy to help! …')

How it stays durable (written by hand: no library offers an fsync'd, locked, append-only label log):
- every label is one line, written with one ``write`` call and fsynced before ``add`` returns,
  so a crash loses at most the click in flight;
- writers hold a file lock (``<file>.lock``) while they read the latest state and append, so two
  kernels labeling the same file never write the same label twice;
- undo appends a retraction line instead of rewriting the file: nothing written is ever changed;
- a line that does not parse (a crash mid-write, a hand edit) is reported with its line number and
  skipped; the next write starts on a fresh line, so it never swallows a later label.
"""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

from labkit.core.data.label_records import (CHOICES, SIMULATED_ANNOTATOR, parse_label_lines, simulated_choice)
from labkit.core.data.validate import Problem
from labkit.core.files import read_jsonl, write_jsonl
LOCK_TIMEOUT_SECONDS = 30


class DuplicateLabelError(ValueError):
    """This annotator already has a label for this pair (perhaps from another kernel)."""


@dataclass
class PreferenceExport:
    """A store exported for training: TRL's preference format, and what was left out and why."""

    dataset: object  # datasets.Dataset with prompt / chosen / rejected (conversational)
    pairs: int = 0
    ties: int = 0
    skips: int = 0
    human: int = 0
    simulated: int = 0

    def __str__(self) -> str:
        return (f"{len(self.dataset)} preference pairs exported from {self.pairs} labeled pairs "
                f"({self.human} by people, {self.simulated} simulated); left out: {self.ties} ties, "
                f"{self.skips} skips")

    def mix(self, shipped: int = 0) -> TrainingMix:
        """Who the exported pairs came from, next to ``shipped`` pairs from a shipped set."""
        simulated = sum(self.dataset["simulated"]) if len(self.dataset) else 0
        return TrainingMix(shipped, len(self.dataset) - simulated, simulated)


@dataclass(frozen=True)
class TrainingMix:
    """What a preference training set is made of: shipped pairs, pairs labeled by people, simulated ones.

    >>> str(TrainingMix(shipped=640, by_people=3, simulated=9))
    '652 pairs: 640 shipped, 3 labeled by people, 9 by the simulated annotator'
    """

    shipped: int
    by_people: int
    simulated: int

    def __str__(self) -> str:
        return (f"{self.shipped + self.by_people + self.simulated} pairs: {self.shipped} shipped, "
                f"{self.by_people} labeled by people, {self.simulated} by the simulated annotator")


@dataclass
class LabelStore:
    """An append-only, fsynced, file-locked JSONL store of preference labels (see the module doc)."""

    path: Path
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self):
        self.path = Path(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT_SECONDS)
        self._records: list[dict] = []
        self._offset, self._lines = 0, 0
        self._reported = 0
        with self._lock:
            self._refresh(at_end=True)

    # Reading -------------------------------------------------------------------------------------

    def _refresh(self, at_end: bool = False) -> None:
        """Read what other writers appended since the last read (the caller holds the lock).

        ``at_end``: a final line with no newline is complete-or-dead (writers hold the lock while
        writing), so it is parsed and reported now instead of waiting for its newline.
        """
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        complete, tail = data[:end], data[end:]
        if at_end and tail:
            complete, tail = data, b""
        records, problems = parse_label_lines(complete, str(self.path), self._lines + 1)
        self._records += records
        self.problems += problems
        self._offset += len(complete)
        self._lines += complete.count(b"\n")  # a consumed partial line stays the current line
        if len(self.problems) > self._reported:
            listing = "\n".join(f"  {p}" for p in self.problems[self._reported:])
            warnings.warn(f"{self.path}: {len(self.problems) - self._reported} bad line(s) skipped:\n{listing}",
                          stacklevel=3)
            self._reported = len(self.problems)

    def reload(self) -> "LabelStore":
        """Pick up labels other kernels wrote since this store last looked."""
        with self._lock:
            self._refresh(at_end=True)
        return self

    def active_labels(self) -> list[dict]:
        """Labels not undone, in the order they were written."""
        undone = {r["label_id"] for r in self._records if r["type"] == "undo"}
        return [r for r in self._records if r["type"] == "label" and r["label_id"] not in undone]

    def labeled_pair_ids(self, annotator: str | None = None) -> set[str]:
        """Pairs with an active label (by ``annotator``, or by anyone)."""
        return {r["pair_id"] for r in self.active_labels() if annotator is None or r["annotator"] == annotator}

    def next_unlabeled(self, pairs: list[dict], annotator: str | None = None) -> int | None:
        """Index of the first pair without an active label (by ``annotator``), or None when all are done."""
        done = self.labeled_pair_ids(annotator)
        return next((i for i, pair in enumerate(pairs) if pair["pair_id"] not in done), None)

    # Writing -------------------------------------------------------------------------------------

    def _append(self, record: dict) -> None:
        """Write one line and fsync it (the caller holds the lock and has refreshed)."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a dead writer's partial line: end it first
                line = b"\n" + line
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        new_file = self._offset == 0
        self._refresh(at_end=True)
        if new_file:  # the file's directory entry must be durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def add(self, pair: dict, choice: str, annotator: str, simulated: bool = False,
            shown_first: str = "a") -> dict:
        """Record one label, durably. ``choice`` is "a", "b" (the better response), "tie" or "skip".

        Raises DuplicateLabelError if ``annotator`` already labeled this pair (e.g. in another kernel).
        """
        if choice not in CHOICES:
            raise ValueError(f"choice must be one of {', '.join(CHOICES)}, not {choice!r}")
        if not annotator or not annotator.strip():
            raise ValueError("an annotator name is needed: labels say who made them")
        record = {"type": "label", "label_id": uuid.uuid4().hex, "pair_id": pair["pair_id"],
                  "prompt": pair["prompt"], "response_a": pair["response_a"], "response_b": pair["response_b"],
                  "choice": choice, "annotator": annotator.strip(), "simulated": simulated,
                  "timestamp": time.time(), "shown_first": shown_first, "meta": pair.get("meta", {})}
        with self._lock:
            self._refresh(at_end=True)
            if pair["pair_id"] in self.labeled_pair_ids(record["annotator"]):
                raise DuplicateLabelError(f"{record['annotator']!r} already labeled pair {pair['pair_id']} "
                                          f"in {self.path}; undo that label first to change it")
            self._append(record)
        return record

    def undo_last(self, annotator: str) -> dict | None:
        """Retract ``annotator``'s most recent active label, durably; returns it (None if nothing to undo)."""
        with self._lock:
            self._refresh(at_end=True)
            mine = [r for r in self.active_labels() if r["annotator"] == annotator.strip()]
            if not mine:
                return None
            self._retract(mine[-1])
        return mine[-1]

    def _retract(self, label: dict) -> None:
        """Append an undo line for ``label`` (the caller holds the lock and has refreshed)."""
        self._append({"type": "undo", "label_id": label["label_id"], "pair_id": label["pair_id"],
                      "annotator": label["annotator"], "timestamp": time.time()})

    def start_again(self, pairs: list[dict]) -> int:
        """Retract every active label on these pairs (appending undo lines); returns how many.

        Nothing written is changed: the retracted labels stay in the file, marked undone.
        """
        wanted = {pair["pair_id"] for pair in pairs}
        with self._lock:
            self._refresh(at_end=True)
            labels = [r for r in self.active_labels() if r["pair_id"] in wanted]
            for label in labels:
                self._retract(label)
        return len(labels)

    def who_labeled(self, pairs: list[dict]) -> tuple[int, int]:
        """Of these pairs, how many carry a label by a person, and how many only a simulated one."""
        labels = self.effective_labels()
        found = [labels[p["pair_id"]] for p in pairs if p["pair_id"] in labels]
        simulated = sum(r["simulated"] for r in found)
        return len(found) - simulated, simulated

    def fill_simulated(self, pairs: list[dict], rule=simulated_choice) -> int:
        """Label every pair nobody has labeled with the simulated annotator; returns how many it added.

        It never touches a pair a person labeled, so a learner's own labels always win.
        """
        self.reload()
        added = 0
        for pair in pairs:
            if pair["pair_id"] in self.labeled_pair_ids():
                continue
            try:
                self.add(pair, rule(pair), SIMULATED_ANNOTATOR, simulated=True)
                added += 1
            except DuplicateLabelError:  # another kernel filled it meanwhile
                pass
        return added

    # Using the labels ----------------------------------------------------------------------------

    def effective_labels(self) -> dict[str, dict]:
        """One label per pair: the latest by a person if any, else the latest simulated one."""
        chosen: dict[str, dict] = {}
        for record in self.active_labels():  # in write order, so later labels replace earlier ones
            current = chosen.get(record["pair_id"])
            if current is None or not (record["simulated"] and not current["simulated"]):
                chosen[record["pair_id"]] = record
        return chosen

    def export(self) -> PreferenceExport:
        """The labels in TRL's conversational preference format (prompt / chosen / rejected).

        Ties and skips carry no preference: they are left out, and counted.
        """
        from datasets import Dataset

        self.reload()
        labels = list(self.effective_labels().values())
        rows = []
        for r in labels:
            if r["choice"] not in ("a", "b"):
                continue
            better, worse = ("response_a", "response_b") if r["choice"] == "a" else ("response_b", "response_a")
            rows.append({"prompt": [{"role": "user", "content": r["prompt"]}],
                         "chosen": [{"role": "assistant", "content": r[better]}],
                         "rejected": [{"role": "assistant", "content": r[worse]}],
                         "pair_id": r["pair_id"], "annotator": r["annotator"], "simulated": r["simulated"]})
        columns = ("prompt", "chosen", "rejected", "pair_id", "annotator", "simulated")
        dataset = Dataset.from_list(rows) if rows else Dataset.from_dict({c: [] for c in columns})
        return PreferenceExport(dataset, pairs=len(labels), ties=sum(r["choice"] == "tie" for r in labels),
                                skips=sum(r["choice"] == "skip" for r in labels),
                                human=sum(not r["simulated"] for r in labels),
                                simulated=sum(r["simulated"] for r in labels))


def save_pairs(pairs: list[dict], path: Path) -> Path:
    """Write the pairs to label, atomically."""
    return write_jsonl(pairs, path)


def load_pairs(path: Path) -> list[dict]:
    """Read pairs written by :func:`save_pairs`."""
    return read_jsonl(path)
