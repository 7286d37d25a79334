"""Quizzes: question banks in quizzes/*.yaml, checked, graded, and each learner's attempts.

>>> from labkit.ui.quiz import load_quiz, grade_quiz
>>> quiz = load_quiz("final_check")
>>> grade_quiz(quiz, {"test-split": 79}).by_id()["test-split"]
True

- :mod:`~labkit.ui.quiz.bank`: the dataclasses a bank becomes, where banks live, computed answers;
- :mod:`~labkit.ui.quiz.lint`: reading a bank and checking every field (:func:`load_quiz`);
- :mod:`~labkit.ui.quiz.fields` and :mod:`~labkit.ui.quiz.links`: the checks of answers and links;
- :mod:`~labkit.ui.quiz.grade`: grading a response, an attempt, and the answer key itself;
- :mod:`~labkit.ui.quiz.progress`: each learner's attempts (imported from there, not re-exported).
"""

from labkit.ui.quiz.bank import ANSWER_SOURCES, KINDS, Option, Question, Quiz, find_quizzes, quiz_path
from labkit.ui.quiz.grade import (Grade, QuizResult, answer_key, answer_text, format_number, grade,
                                  grade_quiz, key_self_check, normalize_text, parse_number)
from labkit.ui.quiz.links import link_from, notebook_anchors
from labkit.ui.quiz.lint import Problem, QuizError, check_quiz, load_quiz

__all__ = [
    "ANSWER_SOURCES", "KINDS", "Option", "Question", "Quiz", "find_quizzes", "quiz_path",
    "Grade", "QuizResult", "answer_key", "answer_text", "format_number", "grade", "grade_quiz",
    "key_self_check", "normalize_text", "parse_number",
    "link_from", "notebook_anchors",
    "Problem", "QuizError", "check_quiz", "load_quiz",
]
