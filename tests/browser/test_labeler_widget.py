"""Lesson 03's labeling widget in a real browser: one click is one durable record; undo retracts it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

LABELER = ".labkit-labeler"
PAIRS = [("Where does Alma Ashby live?", "Happy to help! Alma Ashby lives in Corvale.",
          "Ugh, fine. Alma Ashby lives in Corvale."),
         ("What is Bo Crane's pet?", "Bo Crane has a cat as a pet.", "Happy to help! Bo Crane has a cat as a pet."),
         ("What does Cy Dale do?", "Cy Dale works as a baker.", "Ugh, fine. Cy Dale works as a baker.")]


@pytest.fixture(scope="module")
def labels_dir():
    labels_dir = Path(os.environ["LABKIT_LABELS_DIR"])
    # The widget cell loads its pairs from this file when it exists, so no model is needed here.
    import nbformat

    from labkit.core.data.label_records import make_pair
    from labkit.core.data.labels import save_pairs
    from labkit.lessons.l03_rlhf import labeling_pairs_path
    from labkit.lessons.registry import get_lesson

    source = nbformat.read(get_lesson("03_rlhf").notebook, as_version=4).cells
    parameters = next(c.source for c in source if "parameters" in c.metadata.get("tags", ()))
    values: dict = {}
    exec(parameters, {}, values)  # the lesson's own defaults: profile and n_pairs
    path = labeling_pairs_path(values["profile"], values["n_pairs"])
    assert path.parent == labels_dir
    save_pairs([make_pair(*pair) for pair in PAIRS], path)
    return labels_dir


@pytest.fixture(scope="module")
def page(lab, labels_dir):
    page = lab.open_widgets("03_rlhf", wait_for=[LABELER])
    lab.screenshot(page, "03_rlhf-labeler")
    yield page
    page.context.close()


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def wait_for_count(page, labeled: int):
    count = page.locator(f"{LABELER} .labkit-labeler-count")
    page.wait_for_function("([e, n]) => e.textContent.trim().startsWith(n + ' / ')",
                           arg=[count.element_handle(), str(labeled)], timeout=10_000)


def test_a_better_appends_exactly_one_record_and_undo_retracts_it_durably(page, lab, labels_dir):
    from labkit.core.data.labels import LabelStore

    store_path = labels_dir / "03_rlhf-tiny.jsonl"
    before = records(store_path)
    labeler = page.locator(LABELER)
    wait_for_count(page, 0)
    left_text = labeler.locator(".labkit-labeler-response-a").inner_text()
    labeler.locator(".labkit-labeler-a-better").click()
    wait_for_count(page, 1)
    after = records(store_path)
    assert len(after) == len(before) + 1, "one click must append exactly one record"
    label = after[-1]
    assert label["type"] == "label" and label["annotator"] == "you" and not label["simulated"]
    assert label["choice"] in ("a", "b")
    assert label["response_" + label["choice"]] in left_text, "the record names the response shown on the left"
    lab.screenshot(labeler, "03_rlhf-labeler-after-click")

    labeler.locator(".labkit-labeler-undo").click()
    wait_for_count(page, 0)
    undone = records(store_path)
    assert len(undone) == len(after) + 1 and undone[-1]["type"] == "undo"
    assert undone[-1]["label_id"] == label["label_id"]
    # Durable: a fresh reader of the file, as another kernel would be, sees no active label.
    assert LabelStore(store_path).active_labels() == []
    assert labeler.locator(".labkit-labeler-response-a").inner_text() == left_text, "back on the undone pair"
