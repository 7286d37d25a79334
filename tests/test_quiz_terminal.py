"""`labkit quiz` over a real pseudo-terminal: plain input(), no display, answers typed by pexpect."""

from __future__ import annotations

import re

import json
import os
import sys

import pexpect
import pytest

from labkit.paths import REPO_ROOT
from labkit.ui.quiz import answer_key, format_number, load_quiz

FINAL_CHECK = "quizzes/final_check.yaml"


def typed(question, response) -> str:
    """What a learner types for a response in answer-key form (option numbers are 1-based)."""
    if question.kind == "single":
        return str(response + 1)
    if question.kind == "multiple":
        return " ".join(str(i + 1) for i in response)
    if question.kind == "numeric":
        return format_number(response)
    return response


@pytest.fixture
def spawn_quiz(tmp_path):
    env = {**os.environ, "LABKIT_DATA_DIR": str(tmp_path), "TERM": "dumb"}
    env.pop("DISPLAY", None)  # the terminal mode must not need one
    children = []

    def spawn(*arguments: str) -> pexpect.spawn:
        child = pexpect.spawn(sys.executable, ["-m", "labkit.ui.cli", "quiz", FINAL_CHECK, *arguments],
                              cwd=str(REPO_ROOT), env=env, encoding="utf-8", timeout=30,
                              dimensions=(40, 100))
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def saved_attempts(data_dir, learner):
    return json.loads((data_dir / "progress" / f"{learner}.json").read_text())["attempts"]


def test_answering_every_question_scores_six_of_six_and_saves_it(spawn_quiz, tmp_path):
    quiz = load_quiz(FINAL_CHECK)
    key = answer_key(quiz)
    child = spawn_quiz("--learner", "pty")
    for number, question in enumerate(quiz.questions, 1):
        child.expect(f"Question {number} of 6")
        child.expect(r"Your answer \(")
        child.sendline(typed(question, key[question.id]))
        child.expect("Right")
        child.expect("Read more: notebooks/")
    child.expect("Score: 6/6")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    (attempt,) = saved_attempts(tmp_path, "pty")
    assert (attempt["lesson"], attempt["score"], attempt["total"]) == ("08_final_check", 6, 6)
    assert all(attempt["questions"].values())


def test_bad_input_is_asked_again_and_a_wrong_answer_shows_why(spawn_quiz, tmp_path):
    quiz = load_quiz(FINAL_CHECK)
    key = answer_key(quiz)
    first = quiz.questions[0]
    wrong = next(i for i in range(len(first.options)) if i != key[first.id])
    child = spawn_quiz("--learner", "pty2")
    child.expect(r"Your answer \(one number\): ")
    child.sendline("9")
    child.expect("Type option numbers from 1 to 4")
    child.sendline("1 2")
    child.expect("Only one option is right here")
    child.sendline(str(wrong + 1))
    child.expect("Not quite")
    child.expect("Why: ")
    for question in quiz.questions[1:]:
        child.expect(r"Your answer \(")
        child.sendline(typed(question, key[question.id]))
    child.expect("Score: 5/6")
    child.expect("To review")
    child.expect(re.escape(first.link))  # the section to read again, not the question's internal id
    child.expect(pexpect.EOF)
    assert saved_attempts(tmp_path, "pty2")[0]["score"] == 5


def test_ctrl_d_quits_without_saving(spawn_quiz, tmp_path):
    child = spawn_quiz("--learner", "pty3")
    child.expect(r"Your answer \(")
    child.sendeof()
    child.expect("nothing was saved")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert not (tmp_path / "progress" / "pty3.json").exists()
