"""Run All on lessons 03 and 04 in a real browser: the lesson stops at its labeling widget and waits
for the learner; nothing below the widget runs until they have labeled and pressed "Let the simulated
annotator finish"; then the rest runs on their labels.

Each test runs a copy of the real notebook from start to end, as a learner's Run All does, with the
parameters the test suite shrinks the lesson with (the registry's ``test_parameters``, injected as
papermill injects them; ``headless`` stays False). That is minutes on the 2-core machine, hence
``slow``. Labels go to the browser tests' temporary labels folder (conftest), emptied first; metrics to
the server's temporary metrics folder.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from labkit.paths import REPO_ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LABELER = ".labkit-labeler"
TO_THE_WIDGET_SECONDS = 900  # 03 samples the pairs to label; 04 trains DPO and a beta sweep before its widget
TO_THE_END_SECONDS = 900  # 03 trains a reward model and RLOO after its widget
LABELED_BY_US = 3
WAITING = "The lesson waits here for you"
PROFILE = "tiny"  # the notebooks' default profile
# Two of lesson 03's labels, made by a person, that lesson 04's DPO must train on.
LESSON_03_LABELS = [("Where does Alma Ashby live?", "Happy to help! Alma Ashby lives in Corvale.",
                     "Ugh, fine. Alma Ashby lives in Corvale."),
                    ("What is Bo Crane's pet?", "Happy to help! Bo Crane has a cat as a pet.",
                     "Bo Crane has a cat as a pet.")]


@pytest.fixture
def kernel_labels(lab, monkeypatch) -> Path:
    """The kernels' labels folder (a temporary one), emptied so each lesson starts with no labels, and
    this process's labels folder for the test, so it reads and writes what the kernel does."""
    folder = lab.labels_dir
    assert folder != REPO_ROOT / "labels" and folder.is_relative_to(tempfile.gettempdir()), folder
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    monkeypatch.setenv("LABKIT_LABELS_DIR", str(folder))
    return folder


def lesson_copy(lesson: str, root: Path) -> Path:
    """The lesson's notebook, shrunk by its test parameters, with no outputs and no execution counts,
    written under the server's root."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from labkit.lessons.registry import get_lesson

    notebook = parameterize_notebook(load_notebook_node(str(get_lesson(lesson).notebook)),
                                     get_lesson(lesson).test_parameters)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    path = root / "run_all" / f"{lesson}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def text_of(cell: dict) -> str:
    return "".join("".join(output.get("text", "")) for output in cell["outputs"])


def index_tagged(cells: list[dict], tag: str) -> int:
    return next(i for i, cell in enumerate(cells) if tag in cell["tags"])


def assert_waiting(lab, page, path: Path) -> list[dict]:
    """The wait cell is running ([*]), every cell above it ran, and no cell below it has run.

    (The kernel's own status reads "idle" between widget messages: ipykernel 7.4 handles them while
    the cell awaits, so the cell's state is what says the lesson is waiting.)
    """
    cells = lab.code_cells(page, path)
    wait = index_tagged(cells, "wait")
    assert cells[wait]["state"] == "running" and cells[wait]["execution_count"] is None, cells[wait]
    assert WAITING in text_of(cells[wait]), text_of(cells[wait])
    assert all(cell["execution_count"] is not None for cell in cells[:wait]), "a cell above the widget did not run"
    ran = [cell["source"] for cell in cells[wait + 1:] if cell["execution_count"] is not None or cell["outputs"]]
    assert not ran, f"cells below the widget ran while it waited:\n{ran}"
    return cells


def seed_lesson_03_labels() -> None:
    """Labels by a person in lesson 03's store, as if the learner had done lesson 03 before 04."""
    from labkit.core.data.label_records import make_pair
    from labkit.core.data.labels import LabelStore
    from labkit.lessons.l03_rlhf import labels_path

    store = LabelStore(labels_path(PROFILE))
    for prompt, better, worse in LESSON_03_LABELS:
        store.add(make_pair(prompt, better, worse), "a", "ada")


@pytest.mark.parametrize("lesson", ["03_rlhf", "04_dpo"])
def test_run_all_waits_at_the_widget_and_trains_on_the_labels_by_people(lab, kernel_labels, lesson):
    blind = lesson == "04_dpo"
    if blind:
        seed_lesson_03_labels()
    path = lesson_copy(lesson, lab.root)
    page = lab.open(path)
    try:
        lab.run_all(page, path)
        # The widget cell has run and the next cell (``await labeler.wait_for_learner(...)``) holds the rest.
        page.get_by_text(WAITING).wait_for(timeout=TO_THE_WIDGET_SECONDS * 1000)
        labeler = page.locator(LABELER).first
        count, reveal = labeler.locator(".labkit-labeler-count"), labeler.locator(".labkit-labeler-reveal")
        expect(count).to_have_text(re.compile(r"^0 / \d+"))
        assert_waiting(lab, page, path)
        labeler.scroll_into_view_if_needed()
        lab.screenshot(page, f"{lesson}-run-all-waiting")

        for n in range(1, LABELED_BY_US + 1):
            labeler.locator(".labkit-labeler-a-better" if n % 2 else ".labkit-labeler-b-better").click()
            expect(count).to_have_text(re.compile(rf"^{n} / \d+"), timeout=30_000)
        # Fewer labels than the lesson asks for: it goes on waiting (the wait polls 5 times a second).
        time.sleep(3)
        assert_waiting(lab, page, path)
        if blind:
            assert reveal.inner_text() == "", "the blind comparison was revealed before the learner finished"

        labeler.locator(".labkit-labeler-finish").click()
        page.get_by_text(f"with {LABELED_BY_US} pairs labeled by people").wait_for(timeout=60_000)
        if blind:
            expect(reveal).to_contain_text("win rate")
        lab.wait_until_run(page, path, lesson, TO_THE_END_SECONDS)
        lab.screenshot(page, f"{lesson}-run-all-done")
        outputs = "\n".join(text_of(cell) for cell in lab.code_cells(page, path))
    finally:
        page.context.close()

    metrics = json.loads((lab.metrics_dir / f"{lesson}.json").read_text())
    if blind:
        # DPO trained on lesson 03's labels by people; the blind result counts the learner's judgements.
        assert metrics["dpo_pairs_by_people"] == len(LESSON_03_LABELS), metrics
        assert re.search(rf"on \d+ pairs: \d+ shipped, {len(LESSON_03_LABELS)} labeled by people", outputs)
        assert metrics["blind_pairs_by_people"] == LABELED_BY_US, metrics
        assert f"{LABELED_BY_US} judged by people" in outputs
    else:
        assert metrics["reward_pairs_by_people"] == LABELED_BY_US, metrics
        assert metrics["reward_pairs_simulated"] > 0, metrics
        assert re.search(rf"reward model trained in \d+ s on \d+ pairs: \d+ shipped, {LABELED_BY_US} labeled by people",
                         outputs), outputs
