"""The quiz widget: one question at a time, feedback with the explanation, a score, and retry.

>>> QuizWidget(load_quiz("final_check"), learner="ada")  # doctest: +SKIP

Every element carries a stable ``labkit-quiz-*`` CSS class for the browser tests; the question
shown is in ``data-question-id`` on ``.labkit-quiz-question``.

The "Read more" link is shown through an ``Output`` widget, not in the feedback's HTML: JupyterLab
renders outputs with its own link handling, which resolves a relative link against the notebook's
path (an HTML widget's link resolves against the address bar) and opens the lesson in the same
JupyterLab at the heading. (On a notebook's first opening, JupyterLab 4.6's default windowing mode
may land near the heading rather than on it; its own markdown links do the same.)
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from html import escape
from typing import Any

import ipywidgets as widgets

from labkit.ui.quiz import Grade, Question, Quiz, QuizResult, grade, link_from
from labkit.ui.quiz.progress import ProgressError, record_attempt

# Long option texts must wrap: ipywidgets gives radio and checkbox labels one fixed-height line,
# and puts a radio button after its text in the DOM (order: -1 shows it first).
_CSS = """<style>
.labkit-quiz .widget-radio-box label, .labkit-quiz .widget-checkbox .widget-label-basic {
  display: flex; align-items: flex-start; gap: 6px; height: auto; line-height: 1.35;
  white-space: normal; overflow: visible; margin: 4px 0; }
.labkit-quiz .widget-radio-box input, .labkit-quiz .widget-checkbox input { flex: none; order: -1; margin: 2px 0 0; }
.labkit-quiz .widget-radio-box, .labkit-quiz .widget-checkbox { height: auto; width: 100%; }
.labkit-quiz .labkit-quiz-correct { border-left: 4px solid #2e7d32; padding-left: 8px; }
.labkit-quiz .labkit-quiz-wrong { border-left: 4px solid #c62828; padding-left: 8px; }
.labkit-quiz .labkit-quiz-read-more { padding-left: 12px; }  /* lines up with the feedback's text */
.labkit-quiz .labkit-quiz-read-more .jp-OutputArea-prompt { display: none; }
.labkit-quiz a.labkit-quiz-link { color: var(--jp-content-link-color, #1976d2); text-decoration: underline; }
.labkit-quiz a.labkit-quiz-link:hover { text-decoration-thickness: 2px; }
</style>"""

_INPUT_HINTS = {"numeric": "a number, e.g. 1234 or 1.2M", "text": "a word or a few"}


class QuizWidget(widgets.VBox):
    """Ask a quiz in the notebook; on the last answer show the score and save it for ``learner``."""

    def __init__(self, quiz: Quiz, learner: str | None = None,
                 on_finish: Callable[[QuizResult], None] | None = None):
        super().__init__(layout=widgets.Layout(max_width="780px"))
        self.add_class("labkit-quiz")
        self.quiz, self.learner, self.on_finish = quiz, learner, on_finish
        self._style = widgets.HTML(_CSS)
        self.heading = _html(f"<h3>{escape(quiz.title)}</h3>", "labkit-quiz-title")
        self.counter = _html("", "labkit-quiz-counter")
        self.prompt = _html("", "labkit-quiz-prompt")
        self.choices: widgets.Widget = widgets.VBox()
        self.submit_button = _button("Submit", "labkit-quiz-submit", "primary")
        self.feedback = _html("", "labkit-quiz-feedback")
        self.read_more = widgets.Output()
        self.read_more.add_class("labkit-quiz-read-more")
        self.next_button = _button("Next question", "labkit-quiz-next")
        self.score = _html("", "labkit-quiz-score")
        self.retry_button = _button("Try again", "labkit-quiz-retry")
        self.submit_button.on_click(lambda _: self.submit())
        self.next_button.on_click(lambda _: self.next())
        self.retry_button.on_click(lambda _: self.retry())
        self.result: QuizResult | None = None
        self.retry()

    # The steps a learner's clicks drive (also callable from tests).

    def retry(self) -> None:
        """Start again from the first question."""
        self.grades: list[Grade] = []
        self.index = 0
        self.result = None
        self._show_question()

    def answer(self, response: Any) -> None:
        """Fill in a response as :func:`labkit.ui.quiz.grade` takes it: index, indices, number, text."""
        question = self.current
        if question.kind == "single":
            self.choices.value = response
        elif question.kind == "multiple":
            for index, box in enumerate(self.choices.children):
                box.value = index in set(response)
        else:
            self.choices.value = str(response)

    def submit(self) -> Grade | None:
        """Grade the current response and show why; None (and a nudge) if nothing is chosen."""
        response = self._response()
        if response is None:
            self._set_feedback("Choose or type an answer first.", "labkit-quiz-empty")
            return None
        verdict = grade(self.current, response)
        self.grades.append(verdict)
        self._lock_inputs()
        verdict_class = "labkit-quiz-correct" if verdict.correct else "labkit-quiz-wrong"
        self._set_feedback(_feedback_html(verdict), verdict_class)
        self.read_more.outputs = (_read_more_output(self.current.link),)
        last = self.index == len(self.quiz.questions) - 1
        self.next_button.description = "See your score" if last else "Next question"
        self.children = self._question_children() + (self.next_button,)
        return verdict

    def next(self) -> None:
        """Move to the next question, or to the score after the last one."""
        self.index += 1
        if self.index < len(self.quiz.questions):
            self._show_question()
        else:
            self._finish()

    @property
    def current(self) -> Question:
        return self.quiz.questions[self.index]

    # Drawing

    def _show_question(self) -> None:
        question = self.current
        total = len(self.quiz.questions)
        self.counter.value = f"Question {self.index + 1} of {total}"
        hint = " <i>(select all that apply)</i>" if question.kind == "multiple" else ""
        self.prompt.value = (f'<div class="labkit-quiz-question" data-question-id="{question.id}">'
                             f"<p>{escape(question.prompt)}{hint}</p></div>")
        self.choices = _input_for(question)
        self.submit_button.disabled = False
        self._set_feedback("", None)
        self.read_more.outputs = ()
        self.children = self._question_children()

    def _question_children(self) -> tuple:
        return (self._style, self.heading, self.counter, self.prompt, self.choices,
                self.submit_button, self.feedback, self.read_more)

    def _finish(self) -> None:
        self.result = QuizResult(tuple(self.grades))
        result = self.result
        self.score.value = (f"<h4>Score: {result.score}/{result.total}</h4>"
                            f'<ul class="labkit-quiz-summary">{_summary_items(result)}</ul>'
                            f"{self._save(result)}")
        self.children = (self._style, self.heading, self.score, self.retry_button)
        if self.on_finish:
            self.on_finish(result)

    def _save(self, result: QuizResult) -> str:
        if not self.learner:
            return ""
        try:
            record_attempt(self.learner, self.quiz.lesson, result.score, result.total, result.by_id())
        except (ProgressError, OSError) as error:
            # The score is still shown; the learner is told plainly why it was not kept.
            return f'<p class="labkit-quiz-saved">Not saved: {escape(str(error))}</p>'
        return (f'<p class="labkit-quiz-saved">Saved to the progress of '
                f"'{escape(self.learner)}'. Your best score is what counts.</p>")

    def _set_feedback(self, html: str, css_class: str | None) -> None:
        for old in ("labkit-quiz-correct", "labkit-quiz-wrong", "labkit-quiz-empty"):
            self.feedback.remove_class(old)
        if css_class:
            self.feedback.add_class(css_class)
        self.feedback.value = html

    def _lock_inputs(self) -> None:
        self.submit_button.disabled = True
        boxes = self.choices.children if isinstance(self.choices, widgets.VBox) else (self.choices,)
        for box in boxes:
            box.disabled = True

    def _response(self) -> Any:
        question = self.current
        if question.kind == "multiple":
            picked = [i for i, box in enumerate(self.choices.children) if box.value]
            return picked or None
        value = self.choices.value
        if isinstance(value, str):
            return value.strip() or None
        return value


def _input_for(question: Question) -> widgets.Widget:
    """Radio buttons, one checkbox per option, or a text box, with stable classes."""
    if question.kind == "single":
        control = widgets.RadioButtons(options=[(o.text, i) for i, o in enumerate(question.options)],
                                       value=None, layout=widgets.Layout(width="100%"))
    elif question.kind == "multiple":
        boxes = []
        for option in question.options:
            box = widgets.Checkbox(value=False, description=option.text, indent=False,
                                   layout=widgets.Layout(width="100%"))
            box.add_class("labkit-quiz-option")
            boxes.append(box)
        control = widgets.VBox(boxes)
    else:
        control = widgets.Text(placeholder=_INPUT_HINTS[question.kind],
                               layout=widgets.Layout(width="320px"))
        control.add_class("labkit-quiz-answer")
    control.add_class("labkit-quiz-choices")
    return control


def _feedback_html(verdict: Grade) -> str:
    question = verdict.question
    # Bold only the verdict ("Right", "Not quite", "No answer given"), not the whole sentence.
    feedback = re.sub(r"^(Right|Not quite|No answer given)", r"<b>\1</b>", escape(verdict.feedback))
    return f'<p>{feedback}</p><p class="labkit-quiz-explanation">{escape(question.explanation)}</p>'


def _read_more_output(link: str) -> dict:
    """An output (the form ``Output.outputs`` holds) linking to the lesson section, from here."""
    html = (f'<p>Read more: <a class="labkit-quiz-link" href="{escape(link_from(link))}">'
            f"{escape(link)}</a></p>")
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": html, "text/plain": f"Read more: {link}"}}


def _summary_items(result: QuizResult) -> str:
    items = []
    for verdict in result.grades:
        mark = "✓" if verdict.correct else "✗"
        items.append(f"<li>{mark} {escape(_shorten(verdict.question.prompt))}</li>")
    return "".join(items)


def _shorten(text: str, width: int = 90) -> str:
    return textwrap.shorten(text, width, placeholder=" …")


def _html(value: str, css_class: str) -> widgets.HTML:
    element = widgets.HTML(value)
    element.add_class(css_class)
    return element


def _button(label: str, css_class: str, style: str = "") -> widgets.Button:
    button = widgets.Button(description=label, button_style=style)
    button.add_class(css_class)
    return button
