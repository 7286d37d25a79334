"""The final-check quiz widget in a real browser: a wrong answer shows the explanation, a full
run shows 6/6, retry starts over, and each finished attempt is saved to the learner's progress."""

from __future__ import annotations

import json

import pytest

from labkit.ui.quiz import answer_key, format_number, load_quiz

pytestmark = pytest.mark.browser

QUIZ = ".labkit-quiz"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("learner-data")


@pytest.fixture(scope="module")
def page(lab, data_dir):
    page = lab.open_widgets("07_final_check", wait_for=[QUIZ])
    # The widget saves attempts in the kernel: point it at a private folder, never at the real
    # learner's progress (the kernel reads $LABKIT_DATA_DIR at save time).
    code = f"import os; os.environ['LABKIT_DATA_DIR'] = {str(data_dir)!r}"
    page.evaluate("""async code => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        await kernel.requestExecute({code, silent: true}).done;
    }""", code)
    yield page
    page.context.close()


def wait_for_question(quiz, question_id: str, number: int) -> None:
    quiz.locator(f'.labkit-quiz-question[data-question-id="{question_id}"]').wait_for()
    assert quiz.locator(".labkit-quiz-counter").inner_text() == f"Question {number} of 6"


def fill_in(quiz, question, response) -> None:
    """Answer the way a learner does: click a radio label, tick checkboxes, or type."""
    if question.kind == "single":
        text = question.options[response].text
        quiz.locator(".labkit-quiz-choices label").filter(has_text=text).click()
    elif question.kind == "multiple":
        for index in response:
            option = quiz.locator(".labkit-quiz-option").filter(has_text=question.options[index].text)
            option.locator("input[type=checkbox]").check()
    else:
        typed = format_number(response) if question.kind == "numeric" else response
        quiz.locator(".labkit-quiz-answer input").fill(typed)


def submit(quiz, verdict: str):
    """Press Submit and wait for the kernel's feedback; verdict is 'correct' or 'wrong'."""
    quiz.locator(".labkit-quiz-submit").click()
    feedback = quiz.locator(f".labkit-quiz-feedback.labkit-quiz-{verdict}")
    feedback.wait_for()
    return feedback


def saved_scores(data_dir) -> list[int]:
    path = data_dir / "progress" / "you.json"
    return [attempt["score"] for attempt in json.loads(path.read_text())["attempts"]]


def test_a_wrong_answer_shows_the_explanation_then_a_full_run_shows_6_of_6(page, lab, data_dir):
    quiz_widget = page.locator(QUIZ)
    quiz = load_quiz("final_check")
    key = answer_key(quiz)

    # First pass: answer question 1 wrongly, the rest rightly.
    first = quiz.questions[0]
    wrong = next(i for i in range(len(first.options)) if i != key[first.id])
    wait_for_question(quiz_widget, first.id, 1)
    fill_in(quiz_widget, first, wrong)
    feedback = submit(quiz_widget, "wrong")
    text = " ".join(feedback.inner_text().split())
    assert text.startswith("Not quite")
    assert " ".join(first.explanation.split()) in text, "the explanation is shown after a wrong answer"
    assert first.link in text, "the explanation links to the lesson that teaches it"
    lab.screenshot(quiz_widget, "07_final_check-wrong-answer")
    for number, question in enumerate(quiz.questions, 1):
        if number > 1:
            wait_for_question(quiz_widget, question.id, number)
            fill_in(quiz_widget, question, key[question.id])
            submit(quiz_widget, "correct")
        quiz_widget.locator(".labkit-quiz-next").click()
    score = quiz_widget.locator(".labkit-quiz-score")
    score.get_by_text("Score: 5/6").wait_for()

    # Retry, and answer everything rightly this time.
    quiz_widget.locator(".labkit-quiz-retry").click()
    for number, question in enumerate(quiz.questions, 1):
        wait_for_question(quiz_widget, question.id, number)
        fill_in(quiz_widget, question, key[question.id])
        feedback = submit(quiz_widget, "correct")
        assert feedback.inner_text().startswith("Right")
        quiz_widget.locator(".labkit-quiz-next").click()
    score.get_by_text("Score: 6/6").wait_for()
    assert "Saved to the progress of 'you'" in score.inner_text()
    lab.screenshot(quiz_widget, "07_final_check-6-of-6")
    assert saved_scores(data_dir) == [5, 6]
