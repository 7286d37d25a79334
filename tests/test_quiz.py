"""labkit.ui.quiz: shipped banks validate, every error is located, grading is right for every kind,
the LoRA figure comes from labkit.methods.lora_math, links follow the notebook, and progress survives SIGKILL."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from labkit.core.files import atomic_write_json
from labkit.lessons.registry import LESSONS
from labkit.paths import REPO_ROOT
from labkit.ui.cli import main
from labkit.ui.quiz import (QuizError, answer_key, check_quiz, grade, grade_quiz, key_self_check, link_from,
                            load_quiz, parse_number)
from labkit.ui.quiz.progress import (LearnerNameError, ProgressError, lesson_status, load_progress,
                                     progress_path, record_attempt)

SHIPPED = sorted((REPO_ROOT / "quizzes").glob("*.yaml"))
# Every lesson but the final check ends with a check of its own, on a bank named after it.
LESSON_CHECKS = [lesson for lesson in LESSONS if lesson.key != "08_final_check"]


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch):
    """Never read or write a real learner's progress from a test."""
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LABKIT_LEARNER", raising=False)


# ---------------------------------------------------------------------------------------------
# Shipped banks


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_quiz_validates(path):
    problems = check_quiz(path)
    assert not problems, "\n".join(map(str, problems))
    quiz = load_quiz(path)
    assert key_self_check(quiz) == grade_quiz(quiz, answer_key(quiz)).score == len(quiz.questions)


def test_the_banks_the_course_promises_are_shipped():
    assert {p.stem for p in SHIPPED} >= {"final_check"} | {lesson.key for lesson in LESSON_CHECKS}
    for lesson in LESSON_CHECKS:
        assert 3 <= len(load_quiz(lesson.key).questions) <= 8, f"{lesson.key}: a short check, not an exam"


@pytest.mark.parametrize("lesson", LESSON_CHECKS, ids=lambda lesson: lesson.key)
def test_every_lesson_ends_with_a_check_on_its_own_bank(lesson):
    cells = nbformat.read(lesson.notebook, as_version=4).cells
    code = [cell for cell in cells if cell.cell_type == "code"]
    check = code[-2]  # the last code cell records the metrics; the check comes just before it
    assert "widget" in check.metadata.get("tags", []), f"{lesson.key}: the check cell must be tagged widget"
    assert f'QuizWidget(load_quiz("{lesson.key}"), learner="you")' in check.source
    assert cells[cells.index(check) - 1].source.startswith("## Check yourself")
    problems = check_quiz(lesson.key)
    assert not problems, "\n".join(map(str, problems))
    quiz = load_quiz(lesson.key)
    assert quiz.lesson == lesson.key
    assert all(q.link.startswith(f"notebooks/{lesson.notebook.name}#") for q in quiz.questions), \
        f"{lesson.key}: every question links to the section of this lesson that teaches it"


def test_final_check_has_the_six_promised_questions():
    quiz = load_quiz("final_check")
    assert quiz.lesson == "08_final_check"
    assert [q.id for q in quiz.questions] == ["sft-data", "lora-trains",
                                              "qlora-precision", "rlhf-steps", "dpo-removes", "test-split"]
    assert len({q.kind for q in quiz.questions}) >= 3  # the terminal and widget see several kinds


def test_numeric_lora_answer_equals_labkit_lora_count():
    from labkit.methods.lora_math import count_lora_parameters, load_architecture_config

    expected = count_lora_parameters(load_architecture_config("llama-2-7b"), 8, ["q_proj", "v_proj"])
    question = load_quiz("02_lora").question("lora-params-llama2")
    assert question.kind == "numeric"
    assert question.answer == expected == 4194304
    assert "4,194,304" in question.explanation  # {answer} filled from the computed value


# ---------------------------------------------------------------------------------------------
# Validation: each kind of error is caught, located, and all are reported together


@pytest.fixture
def bank_root(tmp_path):
    """A repository root with one notebook, whose heading "Section one" is a valid link target."""
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["## Section one\n"]}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_sft.ipynb").write_text(json.dumps(notebook))
    return tmp_path


GOOD_SINGLE = """\
  - id: good-one
    kind: single
    prompt: Pick B.
    options:
      - text: A
      - text: B
        correct: true
    explanation: B is right because it is B.
    link: notebooks/01_sft.ipynb#Section-one
"""


def write_bank(root: Path, questions: str, lesson: str = "01_sft") -> Path:
    path = root / "bank.yaml"
    path.write_text(f"lesson: {lesson}\nquestions:\n{questions}")
    return path


def last_line_with(path: Path, marker: str) -> int:
    """1-based number of the last line containing `marker` (the bad question comes last)."""
    lines = path.read_text().splitlines()
    return max(i for i, line in enumerate(lines) if marker in line) + 1


BAD_QUESTIONS = {
    "missing answer (text)": ("""\
  - id: bad
    kind: text
    prompt: Name it.
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "accepted", "- id: bad", "missing answer"),
    "missing answer (numeric)": ("""\
  - id: bad
    kind: numeric
    prompt: How many?
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "answer", "- id: bad", "missing answer"),
    "single with zero correct": ("""\
  - id: bad
    kind: single
    prompt: Pick one.
    options:
      - text: A
      - text: B
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "options", "options:", "no option is marked"),
    "single with two correct": ("""\
  - id: bad
    kind: single
    prompt: Pick one.
    options:
      - text: A
        correct: true
      - text: B
        correct: true
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "options", "options:", "options 1, 2 are marked correct"),
    "duplicate id": (GOOD_SINGLE.replace("good-one", "bad"), "id", "- id: bad", "duplicate id 'bad'"),
    "link to a missing notebook": ("""\
  - id: bad
    kind: text
    prompt: Name it.
    accepted: [it]
    explanation: Because.
    link: notebooks/03_rlhf.ipynb#Rewards
""", "link", "link:", "points to a missing file"),
    "link to a missing section": ("""\
  - id: bad
    kind: text
    prompt: Name it.
    accepted: [it]
    explanation: Because.
    link: notebooks/01_sft.ipynb#No-such-section
""", "link", "link:", "matches no heading"),
    "unknown kind": ("""\
  - id: bad
    kind: singel
    prompt: Pick one.
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "kind", "kind:", "did you mean 'single'"),
    "missing explanation": ("""\
  - id: bad
    kind: text
    prompt: Name it.
    accepted: [it]
    link: notebooks/01_sft.ipynb
""", "explanation", "- id: bad", "missing explanation"),
    "misspelt field": ("""\
  - id: bad
    kind: text
    prompt: Name it.
    accepted: [it]
    explaination: Because.
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "explaination", "explaination:", "did you mean 'explanation'"),
    "unknown answer source": ("""\
  - id: bad
    kind: numeric
    prompt: How many?
    answer_from: {lora_parameters: {model: llama-2-7b, rank: 8, target_modules: [q_proj]}}
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "answer_from", "answer_from:", "did you mean 'lora_params'"),
    "answer source fails": ("""\
  - id: bad
    kind: numeric
    prompt: How many?
    answer_from: {lora_params: {model: llama-9, rank: 8, target_modules: [q_proj]}}
    explanation: Because.
    link: notebooks/01_sft.ipynb
""", "answer_from", "answer_from:", "failed: KeyError: \"no architecture 'llama-9'"),
}


@pytest.mark.parametrize("case", BAD_QUESTIONS, ids=list(BAD_QUESTIONS))
def test_each_validation_error_is_caught_with_its_location(bank_root, case):
    question, field, line_marker, message = BAD_QUESTIONS[case]
    # The bad question comes second, after a good one, so its number and line are not trivial.
    good = GOOD_SINGLE.replace("good-one", "bad") if case == "duplicate id" else GOOD_SINGLE
    path = write_bank(bank_root, good + question)
    problems = check_quiz(path, root=bank_root)
    assert len(problems) == 1, problems
    problem = problems[0]
    assert (problem.file, problem.question, problem.field) == ("bank.yaml", "'bad' (#2)", field)
    assert message in problem.message
    assert problem.line == last_line_with(path, line_marker)
    with pytest.raises(QuizError) as raised:
        load_quiz(path, root=bank_root)
    assert f"bank.yaml:{problem.line}, question 'bad' (#2), field '{field}': " in str(raised.value)


def test_all_errors_are_reported_together_not_only_the_first(bank_root):
    path = write_bank(bank_root, BAD_QUESTIONS["single with two correct"][0]
                      + BAD_QUESTIONS["link to a missing notebook"][0].replace("id: bad", "id: bad2")
                      + BAD_QUESTIONS["unknown kind"][0].replace("id: bad", "id: bad3"),
                      lesson="99_nowhere")
    messages = [str(p) for p in check_quiz(path, root=bank_root)]
    assert len(messages) == 4, messages
    assert "lesson '99_nowhere' is not in the lesson table" in messages[0]
    assert [m.split(", ")[1] for m in messages[1:]] == ["question 'bad' (#1)", "question 'bad2' (#2)",
                                                          "question 'bad3' (#3)"]


def test_yaml_syntax_error_names_the_line(bank_root):
    path = bank_root / "broken.yaml"
    path.write_text("lesson: 01_sft\nquestions:\n  - id: x\n    prompt: [unclosed\n")
    (problem,) = check_quiz(path, root=bank_root)
    assert problem.file == "broken.yaml" and "not valid YAML" in problem.message
    assert problem.line is not None


def test_computed_answers_follow_their_arguments(bank_root):
    path = write_bank(bank_root, """\
  - id: lora-r16
    kind: numeric
    prompt: How many?
    answer_from: {lora_params: {model: llama-2-7b, rank: 16, target_modules: [q_proj, v_proj]}}
    explanation: There are {answer}.
    link: notebooks/01_sft.ipynb
""")
    question = load_quiz(path, root=bank_root).question("lora-r16")
    assert question.answer == 2 * 4194304
    assert question.explanation == "There are 8,388,608."


# ---------------------------------------------------------------------------------------------
# Grading


@pytest.fixture
def kinds_quiz(bank_root):
    path = write_bank(bank_root, GOOD_SINGLE + """\
  - id: multi
    kind: multiple
    prompt: Pick A and C.
    options:
      - {text: A, correct: true}
      - {text: B}
      - {text: C, correct: true}
    explanation: A and C.
    link: notebooks/01_sft.ipynb
  - id: count
    kind: numeric
    prompt: How many?
    answer: 4194304
    relative_tolerance: 0.01
    explanation: That many.
    link: notebooks/01_sft.ipynb
  - id: exact
    kind: numeric
    prompt: alpha / r?
    answer: 4
    explanation: 32 / 8.
    link: notebooks/01_sft.ipynb
  - id: word
    kind: text
    prompt: Which model does DPO drop?
    accepted: [reward model, RM]
    explanation: The reward model.
    link: notebooks/01_sft.ipynb
""")
    return load_quiz(path, root=bank_root)


@pytest.mark.parametrize("question_id, response, correct", [
    ("good-one", 1, True), ("good-one", 0, False), ("good-one", None, False),
    ("multi", [0, 2], True), ("multi", (2, 0), True), ("multi", [0], False),
    ("multi", [0, 1, 2], False), ("multi", [], False),
    ("count", 4194304, True), ("count", "4,194,304", True), ("count", "4.19M", True),
    ("count", "2097152", False), ("count", "lots", False), ("count", "", False),
    ("exact", "4", True), ("exact", 4.0001, False), ("exact", "4.0", True),
    ("word", "reward model", True), ("word", "  The Reward-Model. ", True), ("word", "rm", True),
    ("word", "reward", False), ("word", "value model", False),
])
def test_grading_every_kind(kinds_quiz, question_id, response, correct):
    verdict = grade(kinds_quiz.question(question_id), response)
    assert verdict.correct is correct
    assert verdict.feedback.startswith("Right" if correct else ("Not quite", "No answer"))


def test_wrong_multiple_choice_feedback_names_what_was_missed_and_wrongly_picked(kinds_quiz):
    feedback = grade(kinds_quiz.question("multi"), [0, 1]).feedback
    assert "You missed: “C”" in feedback and "You picked, wrongly: “B”" in feedback


def test_grade_quiz_counts_missing_responses_as_wrong_and_rejects_unknown_ids(kinds_quiz):
    key = answer_key(kinds_quiz)
    assert grade_quiz(kinds_quiz, key).score == 5
    del key["word"]
    result = grade_quiz(kinds_quiz, key)
    assert (result.score, result.total, result.by_id()["word"]) == (4, 5, False)
    with pytest.raises(KeyError, match="no-such"):
        grade_quiz(kinds_quiz, {"no-such": 1})
    with pytest.raises(ValueError, match="option index 7"):
        grade(kinds_quiz.question("good-one"), 7)


def test_parse_number_reads_what_learners_type():
    assert parse_number("4 194 304") == parse_number("4_194_304") == 4194304
    assert parse_number("6.7B") == 6.7e9 and parse_number("12k") == 12000
    with pytest.raises(ValueError, match="not a number"):
        parse_number("four")


# ---------------------------------------------------------------------------------------------
# Progress


def test_progress_keeps_attempts_and_reports_best_score_and_what_is_left(capsys):
    record_attempt("ada", "02_lora", 2, 5, {"lora-alpha": False})
    record_attempt("ada", "02_lora", 4, 5)
    record_attempt("ada", "02_lora", 3, 5)
    record_attempt("ada", "00_start_here", 1, 4)
    assert len(load_progress("ada")["attempts"]) == 4
    status = {row.lesson: row for row in lesson_status("ada")}
    assert (status["02_lora"].best, status["02_lora"].attempts, status["02_lora"].state) == (4, 3, "passed")
    assert status["00_start_here"].state == "retry"
    assert (status["01_sft"].state, status["01_sft"].best) == ("not taken", None)

    assert main(["progress", "--learner", "ada"]) == 0
    out = capsys.readouterr().out
    assert "02_lora" in out and "4/5" in out
    left = out.split("Left to do:")[1]
    assert "00_start_here" in left and "01_sft" in left and "02_lora" not in left
    assert "labkit quiz" in left and "final_check.yaml" in left


def test_progress_lives_in_labkit_data_dir_per_learner(tmp_path):
    path = record_attempt("bob", "01_sft", 3, 4)
    assert path == tmp_path / "data" / "progress" / "bob.json" == progress_path("bob")
    assert load_progress("eve")["attempts"] == []
    with pytest.raises(LearnerNameError, match="letters, digits"):
        progress_path("../bob")


def test_a_corrupt_progress_file_is_reported_and_never_overwritten():
    path = record_attempt("ada", "01_sft", 3, 4)
    path.write_text('{"attempts": [ {"lesson": "01_sft"')  # e.g. a hand edit gone wrong
    with pytest.raises(ProgressError, match="not valid JSON"):
        record_attempt("ada", "01_sft", 4, 4)
    assert path.read_text() == '{"attempts": [ {"lesson": "01_sft"'
    assert main(["progress", "--learner", "ada"]) == 2


_WRITER = """
import os, stat, sys, time
from labkit.ui.quiz.progress import record_attempt

real_fsync = os.fsync
def slow_fsync(fd):
    # A disk takes milliseconds to fsync a file, a tmpfs none: widen the window (temporary file
    # written, not yet renamed into place) that a kill should be able to hit.
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        time.sleep(0.03)
    real_fsync(fd)
os.fsync = slow_fsync

answers = {f"question-{i:02d}": i % 2 == 0 for i in range(40)}
n = int(sys.argv[1])
while True:
    record_attempt("killed", "08_final_check", n % 7, 6, answers)
    n += 1
"""


def test_progress_survives_sigkill_in_the_middle_of_writes(tmp_path):
    env = {**os.environ, "LABKIT_DATA_DIR": str(tmp_path / "data")}
    path = progress_path("killed")
    path.parent.mkdir(parents=True)
    # A few hundred earlier attempts and the child's slow fsync make each write long enough to be killed in.
    answers = {f"question-{j:02d}": True for j in range(40)}
    atomic_write_json(path, {"version": 1, "learner": "killed", "attempts": [
        {"lesson": "08_final_check", "score": i % 7, "total": 6, "at": "2026-11-21T00:00:00+00:00",
         "questions": answers} for i in range(300)]})
    kept = load_progress("killed")["attempts"]
    rng = random.Random(8)
    mid_write_kills = 0
    for round_number in range(12):
        before = path.stat().st_mtime_ns
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(len(kept))], env=env, cwd=REPO_ROOT)
        deadline = time.monotonic() + 60
        while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
            time.sleep(0.005)  # wait for the child's first write, however loaded the machine is
        time.sleep(rng.random() * 0.2)  # then kill it at a random point of its write loop
        child.send_signal(signal.SIGKILL)
        child.wait()
        mid_write_kills += any(path.parent.glob(f"{path.name}.*.tmp"))
        attempts = json.loads(path.read_text())["attempts"]  # always parses
        assert attempts[:len(kept)] == kept, f"round {round_number}: earlier attempts changed"
        assert len(attempts) > len(kept), f"round {round_number}: the child never wrote"
        kept = attempts
    # The test only means something if kills really landed inside writes.
    assert mid_write_kills >= 3, f"only {mid_write_kills} of 12 kills landed mid-write"
    record_attempt("killed", "08_final_check", 6, 6)
    assert not list(path.parent.glob(f"{path.name}.*.tmp")), "stale temp files are cleaned up"
    assert len(load_progress("killed")["attempts"]) == len(kept) + 1


# ---------------------------------------------------------------------------------------------
# The widget, without a browser (tests/browser/test_quiz_widget.py clicks it for real)


def test_widget_feedback_score_saving_and_retry(kinds_quiz):
    from labkit.ui.widgets.quiz_widget import QuizWidget

    finished = []
    widget = QuizWidget(kinds_quiz, learner="ada", on_finish=finished.append)
    assert widget.submit() is None and "labkit-quiz-empty" in widget.feedback._dom_classes
    widget.answer(0)  # wrong
    assert widget.submit().correct is False
    assert "labkit-quiz-wrong" in widget.feedback._dom_classes
    assert "B is right because it is B." in widget.feedback.value
    assert widget.submit_button.disabled and widget.next_button in widget.children
    widget.next()
    key = answer_key(kinds_quiz)
    for question in kinds_quiz.questions[1:]:
        widget.answer(key[question.id])
        assert widget.submit().correct
        widget.next()
    assert "Score: 4/5" in widget.score.value and widget.retry_button in widget.children
    assert finished[0].score == 4
    (attempt,) = load_progress("ada")["attempts"]
    assert (attempt["lesson"], attempt["score"], attempt["total"]) == ("01_sft", 4, 5)
    assert attempt["questions"]["good-one"] is False
    widget.retry()
    assert widget.counter.value == "Question 1 of 5" and widget.grades == []


# ---------------------------------------------------------------------------------------------
# "Read more" links: relative to the notebook that shows them, rendered by JupyterLab as an output


def test_links_are_relative_to_the_notebook_showing_them(monkeypatch):
    link = "notebooks/02_lora.ipynb#What-LoRA-trains"
    assert link_from(link, REPO_ROOT / "notebooks") == "02_lora.ipynb#What-LoRA-trains"
    assert link_from(link, REPO_ROOT / "build" / "browser") == "../../notebooks/02_lora.ipynb#What-LoRA-trains"
    monkeypatch.chdir(REPO_ROOT / "notebooks")  # a kernel starts in its notebook's folder
    assert link_from("notebooks/00_start_here.ipynb") == "00_start_here.ipynb"


def test_widget_shows_the_link_as_an_output_jupyterlab_renders(kinds_quiz, monkeypatch):
    from labkit.ui.widgets.quiz_widget import QuizWidget

    monkeypatch.chdir(REPO_ROOT / "notebooks")
    widget = QuizWidget(kinds_quiz)
    assert widget.read_more.outputs == ()
    widget.answer(1)
    widget.submit()
    assert "Read more" not in widget.feedback.value  # an HTML widget's link would follow the address bar
    (output,) = widget.read_more.outputs
    assert ('<a class="labkit-quiz-link" href="01_sft.ipynb#Section-one">notebooks/01_sft.ipynb#Section-one</a>'
            in output["data"]["text/html"])
    widget.next()
    assert widget.read_more.outputs == ()


# ---------------------------------------------------------------------------------------------
# Notebook 07 (tests/test_notebooks.py runs it under papermill; these read it without running it)


def test_notebook_08_is_stripped_and_tagged():
    notebook = json.loads((REPO_ROOT / "notebooks" / "08_final_check.ipynb").read_text())
    cells = notebook["cells"]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in cells if c["cell_type"] == "code")
    tags = [t for c in cells for t in c["metadata"].get("tags", [])]
    assert {"parameters", "widget"} <= set(tags)
    assert 'record_metrics("08_final_check"' in "".join(cells[-1]["source"])


def test_notebook_08_reports_the_learners_score_and_never_makes_one_up():
    """Its score comes from the learner's progress only; the answer key is reported apart, and the
    notebook itself never saves an attempt (only a learner's clicks in the widget do)."""
    notebook = nbformat.read(REPO_ROOT / "notebooks" / "08_final_check.ipynb", as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "record_attempt" not in code and "answer_key" not in code
    assert "key_self_check(final_check)" in code and "lesson_status(learner)" in code
    assert '"key_self_check": key_check, "score": score' in notebook.cells[-1].source
    final = next(lesson for lesson in LESSONS if lesson.key == "08_final_check")
    assert "score" not in final.metrics, "a headless run has no learner's score, so it cannot be required"
    status = {row.lesson: row for row in lesson_status("nobody-yet")}
    assert status["08_final_check"].best is None  # what the notebook records as null


def test_importing_the_cli_does_not_import_torch():
    code = "import sys, labkit.ui.cli; assert 'torch' not in sys.modules, 'labkit.ui.cli imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
