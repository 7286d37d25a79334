"""The label store under faults, under concurrency and with bad input: no label is lost or doubled."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from labkit.core.data.label_records import SIMULATED_ANNOTATOR, make_pair, parse_label_lines, simulated_choice
from labkit.core.data.labels import DuplicateLabelError, LabelStore

# A labeling session as a separate process: resume at the first unlabeled pair, label, and print
# each pair id only once `add` has returned (i.e. once the label is on disk).
WORKER = textwrap.dedent("""
    import json, os, sys, time
    from labkit.core.data.labels import DuplicateLabelError, LabelStore, load_pairs
    store_path, pairs_path, annotator, choice, start_gate, pace = sys.argv[1:7]
    pairs = load_pairs(pairs_path)
    store = LabelStore(store_path)
    if start_gate:  # say we are ready, then wait for the gate to open, so sessions really overlap
        open(f"{start_gate}.ready-{os.getpid()}", "w").close()
        while not os.path.exists(start_gate):
            time.sleep(0.001)
    while True:
        store.reload()
        index = store.next_unlabeled(pairs, annotator)
        if index is None:
            break
        try:
            store.add(pairs[index], choice, annotator)
        except DuplicateLabelError:
            continue  # the other session took this pair first
        print(pairs[index]["pair_id"], flush=True)
        time.sleep(float(pace))  # a labeler's pause between clicks, outside the lock
""")


def make_pairs(n: int) -> list[dict]:
    return [make_pair(f"Where does person {i} live?", f"Happy to help! Person {i} lives in Corvale.",
                      f"Person {i} lives in Corvale.") for i in range(n)]


def start_worker(store: Path, pairs_file: Path, annotator: str, choice: str = "a",
                 start_gate: Path | None = None, pace: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(store), str(pairs_file), annotator, choice,
                             str(start_gate or ""), str(pace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def open_gate_when_ready(gate: Path, workers: int, timeout: float = 120) -> None:
    """Wait until every worker has loaded its libraries, then let them all start labeling at once."""
    deadline = time.monotonic() + timeout
    while len(list(gate.parent.glob(f"{gate.name}.ready-*"))) < workers:
        assert time.monotonic() < deadline, "the labeling sessions did not start"
        time.sleep(0.01)
    gate.touch()


def active_ids(store: Path, annotator: str) -> list[str]:
    return [r["pair_id"] for r in LabelStore(store).active_labels() if r["annotator"] == annotator]


N_PAIRS = 4000  # more than 30 short sessions can label (~250 labels/s), so no session finishes the list


@pytest.fixture
def pairs_file(tmp_path):
    from labkit.core.data.labels import save_pairs

    return save_pairs(make_pairs(N_PAIRS), tmp_path / "pairs.jsonl")


def test_sigkill_loses_at_most_the_label_in_flight_and_resume_adds_no_duplicates(tmp_path, pairs_file):
    store = tmp_path / "labels.jsonl"
    rng = random.Random(0)
    acknowledged: set[str] = set()
    kills_mid_labeling = 0
    for _ in range(30):
        worker = start_worker(store, pairs_file, "ada")
        # Wait for the first acknowledged label, so the kill lands inside the labeling loop however
        # slow start-up is on a busy machine, then kill at a random moment a little later.
        first = worker.stdout.readline()
        time.sleep(rng.uniform(0.0, 0.3))
        worker.send_signal(signal.SIGKILL)
        # Read the rest through the same file object: readline() may have buffered more lines than the
        # first, and communicate() reads the pipe's descriptor directly, past that buffer.
        out = worker.stdout.read()
        worker.stderr.read()
        worker.wait()
        acked_now = set((first + out).split())
        kills_mid_labeling += worker.returncode == -signal.SIGKILL and bool(acked_now)
        records, problems = parse_label_lines(store.read_bytes(), str(store))
        assert not problems, f"the file does not parse after a kill: {problems}"
        stored = [r["pair_id"] for r in records if r["annotator"] == "ada"]
        assert len(stored) == len(set(stored)), "resuming wrote a duplicate label"
        assert acknowledged | acked_now <= set(stored), "a label that was acknowledged was lost"
        # Written but not yet acknowledged when the kill came: at most the one label in flight.
        assert len(set(stored) - acknowledged - acked_now) <= 1
        acknowledged = set(stored)
    assert kills_mid_labeling >= 20, "too few kills landed mid-labeling: make the pair list longer"
    worker = start_worker(store, pairs_file, "ada")
    out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    stored = active_ids(store, "ada")
    assert sorted(stored) == sorted({p["pair_id"] for p in make_pairs(N_PAIRS)}), "every pair labeled once"


@pytest.mark.parametrize("annotators", [("ada", "ada"), ("ada", "bob")], ids=["same-annotator", "two-annotators"])
def test_two_sessions_at_once_lose_nothing_and_write_no_duplicate(tmp_path, annotators):
    from labkit.core.data.labels import save_pairs

    store, pairs_file = tmp_path / "labels.jsonl", save_pairs(make_pairs(400), tmp_path / "pairs.jsonl")
    gate = tmp_path / "go"
    # A short pause between labels, as a person makes: without it one session re-takes the file lock the
    # moment it lets go, and the other (filelock polls every 50 ms) may wait until the list is done.
    workers = [start_worker(store, pairs_file, name, choice, gate, pace=0.005)
               for name, choice in zip(annotators, ("a", "b"))]
    open_gate_when_ready(gate, len(workers))
    outputs = [w.communicate(timeout=180) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    acknowledged = [out.split() for out, _ in outputs]
    every_pair = {p["pair_id"] for p in make_pairs(400)}
    for name in set(annotators):
        stored = active_ids(store, name)
        assert len(stored) == len(set(stored)), f"duplicate labels by {name}"
        assert set(stored) == every_pair, f"{name} lost labels"
    if annotators[0] == annotators[1]:  # they shared the work: each pair went to exactly one session
        assert not set(acknowledged[0]) & set(acknowledged[1])
        assert len(acknowledged[0]) + len(acknowledged[1]) == len(every_pair)
        assert acknowledged[0] and acknowledged[1], "both sessions should have labeled some pairs"


def test_truncated_and_wrong_schema_lines_are_reported_with_line_numbers(tmp_path):
    path = tmp_path / "labels.jsonl"
    pair = make_pair("Q?", "Happy to help! A.", "A.")
    LabelStore(path).add(pair, "a", "ada")  # line 1
    good = json.loads(path.read_text())
    wrong_choice = {**good, "label_id": "x1", "choice": "maybe"}
    missing_field = {k: v for k, v in good.items() if k != "annotator"}
    with path.open("a") as f:
        f.write(json.dumps(wrong_choice) + "\n")  # line 2
        f.write(json.dumps(missing_field) + "\n")  # line 3
        f.write("[1, 2]\n")  # line 4
        f.write('{"type": "label", "label_id": "cut sho')  # line 5: a crash mid-write
    with pytest.warns(UserWarning, match="bad line"):
        store = LabelStore(path)
    found = {(p.line, p.field) for p in store.problems}
    assert found == {(2, "choice"), (3, "annotator"), (4, "(line)"), (5, "(line)")}
    assert all(str(path) in str(p) for p in store.problems)
    assert len(store.active_labels()) == 1
    # The next label starts on a fresh line: the truncated one is never glued to it.
    other = make_pair("Q2?", "Happy to help! B.", "B.")
    store.add(other, "b", "ada")
    lines = path.read_text().splitlines()
    assert lines[4].startswith('{"type": "label", "label_id": "cut sho') and lines[5].startswith('{"type": "label"')
    with pytest.warns(UserWarning):
        reopened = LabelStore(path)
    assert [p.line for p in reopened.problems] == [2, 3, 4, 5]
    assert {r["pair_id"] for r in reopened.active_labels()} == {pair["pair_id"], other["pair_id"]}


def test_undo_is_durable_and_resume_returns_to_the_undone_pair(tmp_path):
    path, pairs = tmp_path / "labels.jsonl", make_pairs(3)
    store = LabelStore(path)
    store.add(pairs[0], "a", "ada")
    store.add(pairs[1], "b", "ada")
    assert store.undo_last("ada")["pair_id"] == pairs[1]["pair_id"]
    reopened = LabelStore(path)
    assert [r["pair_id"] for r in reopened.active_labels()] == [pairs[0]["pair_id"]]
    assert reopened.next_unlabeled(pairs, "ada") == 1
    reopened.add(pairs[1], "tie", "ada")  # relabeling an undone pair is not a duplicate
    with pytest.raises(DuplicateLabelError):
        reopened.add(pairs[1], "a", "ada")
    assert reopened.undo_last("nobody") is None


def test_export_counts_ties_and_skips_and_people_win_over_the_simulation(tmp_path):
    path, pairs = tmp_path / "labels.jsonl", make_pairs(6)
    store = LabelStore(path)
    store.add(pairs[0], "b", "ada")  # the person prefers the neutral answer here
    store.add(pairs[1], "tie", "ada")
    store.add(pairs[2], "skip", "ada")
    assert store.fill_simulated(pairs) == 3  # only the pairs nobody labeled
    store.add(pairs[3], "b", "ada")  # a person overrides a simulated label
    export = store.export()
    assert (export.pairs, export.ties, export.skips, export.human, export.simulated) == (6, 1, 1, 4, 2)
    rows = {row["pair_id"]: row for row in export.dataset}
    assert len(rows) == 4 and set(export.dataset.column_names) >= {"prompt", "chosen", "rejected"}
    assert rows[pairs[0]["pair_id"]]["chosen"][0]["content"] == pairs[0]["response_b"]
    assert rows[pairs[3]["pair_id"]]["annotator"] == "ada"
    assert rows[pairs[4]["pair_id"]]["annotator"] == SIMULATED_ANNOTATOR and rows[pairs[4]["pair_id"]]["simulated"]
    assert rows[pairs[4]["pair_id"]]["chosen"][0]["content"].startswith("Happy to help!")
    assert "2 simulated" in str(export) and "1 ties" in str(export)


def test_simulated_rule_prefers_polite_then_neutral_and_ties_equal_tones():
    assert simulated_choice(make_pair("Q", "Ugh, fine. X.", "X.")) == "b"
    assert simulated_choice(make_pair("Q", "Happy to help! X.", "X.")) == "a"
    assert simulated_choice(make_pair("Q", "X.", "Y.")) == "tie"


def test_bad_choice_and_missing_annotator_are_refused(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl")
    with pytest.raises(ValueError, match="choice"):
        store.add(make_pairs(1)[0], "left", "ada")
    with pytest.raises(ValueError, match="annotator"):
        store.add(make_pairs(1)[0], "a", " ")
    assert not (tmp_path / "labels.jsonl").exists() or os.path.getsize(tmp_path / "labels.jsonl") == 0


def test_start_again_retracts_every_label_durably_and_who_labeled_counts_people_apart(tmp_path):
    from labkit.core.data.labels import TrainingMix

    path, pairs = tmp_path / "labels.jsonl", make_pairs(5)
    store = LabelStore(path)
    store.add(pairs[0], "a", "ada")
    store.add(pairs[1], "b", "bo")
    assert store.fill_simulated(pairs) == 3
    assert store.who_labeled(pairs) == (2, 3)
    export = store.export()
    assert export.mix(shipped=10) == TrainingMix(shipped=10, by_people=2, simulated=3)
    assert str(export.mix(shipped=10)) == "15 pairs: 10 shipped, 2 labeled by people, 3 by the simulated annotator"
    written = path.read_text()
    assert store.start_again(pairs[:4]) == 4
    assert path.read_text().startswith(written), "start again appends; nothing written is changed"
    reopened = LabelStore(path)
    assert [r["pair_id"] for r in reopened.active_labels()] == [pairs[4]["pair_id"]]
    assert reopened.who_labeled(pairs) == (0, 1)
    assert reopened.next_unlabeled(pairs, None) == 0


def test_the_labeler_waits_for_people_or_the_finish_button_and_never_when_headless(tmp_path):
    import asyncio
    import concurrent.futures

    from labkit.ui.widgets.labeler import Labeler

    pairs = make_pairs(4)
    labeler = Labeler(LabelStore(tmp_path / "labels.jsonl"), pairs, annotator="ada")
    assert not labeler.ready(2)
    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # returns at once: nobody can click
        pool.submit(asyncio.run, labeler.wait_for_learner(2, headless=True)).result(timeout=60)
    labeler.choose("left")
    assert not labeler.ready(2) and "pairs labeled by people: 1" in labeler.count.value
    labeler.choose("right")
    assert labeler.ready(2)
    other = Labeler(LabelStore(tmp_path / "other.jsonl"), pairs, annotator="ada")
    other.buttons["finish"].click()  # "Let the simulated annotator finish"
    assert other.ready(10) and "by the simulated annotator: 4" in other.count.value


def test_a_blind_comparison_filled_without_a_person_is_not_revealed_until_judged_or_released(tmp_path):
    from labkit.core.data.blind import make_blind_pairs
    from labkit.ui.widgets.labeler import Labeler

    questions = [f"Where does person {i} live?" for i in range(3)]
    pairs = make_blind_pairs(questions, {"one": [f"Person {i} lives in Corvale." for i in range(3)],
                                         "two": [f"Happy to help! Person {i} lives in Corvale." for i in range(3)]},
                             seed=0)
    store = LabelStore(tmp_path / "blind.jsonl")
    store.fill_simulated(pairs)  # a headless run scored them all
    labeler = Labeler(store, pairs, blind=True, model="two")
    assert labeler.reveal.value == "" and "Start again" in labeler.prompt.value
    labeler.buttons["start-again"].click()
    assert store.who_labeled(pairs) == (0, 0) and labeler.index == 0
    for _ in pairs:
        labeler.choose("left")
    assert "two" in labeler.reveal.value and "win rate" in labeler.reveal.value
