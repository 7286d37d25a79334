"""The ``labkit`` command. Each subcommand is one small function registered in ``COMMANDS``.

    labkit quiz quizzes/final_check.yaml --learner ada
    labkit progress --learner ada
    labkit course 01_sft --small
    labkit train configs/train/sft_tiny.yaml
    labkit data validate my_data.jsonl --format mistral

To add a subcommand, write ``_x_arguments(parser)`` and ``run_x(args) -> int`` and append a
``Command`` to ``COMMANDS``. Keep heavy imports (torch, transformers) inside ``run_x``, so the
quiz starts at once in a plain terminal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.ui.quiz import Grade, Question, Quiz, QuizError, QuizResult, grade, load_quiz, parse_number
from labkit.ui.quiz.progress import (LearnerNameError, ProgressError, default_learner, lesson_status,
                                     progress_path, record_attempt)


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, one-line help, how it reads arguments, and what it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------------------------
# labkit quiz


def _quiz_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a question bank, e.g. quizzes/final_check.yaml (or just final_check)")
    _learner_argument(parser)


def run_quiz(args: argparse.Namespace) -> int:
    """Ask every question in the terminal, show feedback, save the attempt to the learner's progress."""
    quiz = load_quiz(args.path)
    result = ask_in_terminal(quiz)
    if result is None:
        print("\nQuiz stopped; nothing was saved.")
        return 1
    path = record_attempt(args.learner, quiz.lesson, result.score, result.total, result.by_id())
    print(f"\nScore: {result.score}/{result.total}")
    wrong = [g.question for g in result.grades if not g.correct]
    if wrong:
        print("To review (the section that teaches each):")
        for question in wrong:
            print(f"  - {_wrap(question.prompt.splitlines()[0][:90])}\n    {question.link}")
        print("Run the quiz again any time; your best score counts.")
    print(f"Saved to {_short(path)} (see it with: labkit progress --learner {args.learner})")
    return 0


def ask_in_terminal(quiz: Quiz, read: Callable[[str], str] = input,
                    write: Callable[[str], None] = print) -> QuizResult | None:
    """Ask each question with plain ``input()``; None if the learner quits (Ctrl-D or Ctrl-C)."""
    total = len(quiz.questions)
    write(f"{quiz.title}: {total} questions. Type your answer and press Enter; "
          "Ctrl-D quits without saving.")
    grades: list[Grade] = []
    for number, question in enumerate(quiz.questions, 1):
        write(f"\nQuestion {number} of {total}")
        write(_wrap(question.prompt))
        for index, option in enumerate(question.options, 1):
            write(_wrap(option.text, indent=f"  {index}) "))
        try:
            response = _read_response(question, read, write)
        except (EOFError, KeyboardInterrupt):
            return None
        verdict = grade(question, response)
        grades.append(verdict)
        write(_wrap(verdict.feedback))
        write(_wrap(question.explanation, indent="Why: "))
        write(f"Read more: {question.link}")
    return QuizResult(tuple(grades))


_HINTS = {
    "single": "one number",
    "multiple": "all numbers that apply, e.g. 1 3",
    "numeric": "a number, e.g. 1234 or 1.2M",
    "text": "a word or a few",
}


def _read_response(question: Question, read, write):
    """Ask until the answer has the right form (a valid option number, a number, ...)."""
    while True:
        text = read(f"Your answer ({_HINTS[question.kind]}): ").strip()
        if not text:
            write("Please type an answer.")
            continue
        try:
            return _parse_response(question, text)
        except ValueError as error:
            write(str(error))


def _parse_response(question: Question, text: str):
    if question.kind == "numeric":
        parse_number(text)  # raises with a hint if it is not a number
        return text
    if question.kind == "text":
        return text
    count = len(question.options)
    pieces = text.replace(",", " ").split()
    if not all(piece.isdigit() and 1 <= int(piece) <= count for piece in pieces):
        raise ValueError(f"Type option numbers from 1 to {count}.")
    if question.kind == "single" and len(pieces) != 1:
        raise ValueError("Only one option is right here: type one number.")
    indices = [int(piece) - 1 for piece in pieces]
    return indices[0] if question.kind == "single" else indices


def _wrap(text: str, indent: str = "") -> str:
    width = min(shutil.get_terminal_size((88, 24)).columns, 88)
    paragraphs = [p for p in text.split("\n\n") if p.strip()] or [""]
    wrapped = []
    for i, paragraph in enumerate(paragraphs):
        first = indent if i == 0 else " " * len(indent)
        wrapped.append(textwrap.fill(" ".join(paragraph.split()), width, initial_indent=first,
                                     subsequent_indent=" " * len(indent), break_on_hyphens=False))
    return "\n".join(wrapped)


# ---------------------------------------------------------------------------------------------
# labkit progress


def _progress_arguments(parser: argparse.ArgumentParser) -> None:
    _learner_argument(parser)


def run_progress(args: argparse.Namespace) -> int:
    """Print each lesson's best score, then what is left to do."""
    rows = lesson_status(args.learner)
    print(f"Progress of learner '{args.learner}' ({_short(progress_path(args.learner))})\n")
    width = max(len(row.lesson) for row in rows)
    print(f"{'lesson':<{width}}  {'best':>5}  {'tries':>5}  state")
    for row in rows:
        best = f"{row.best}/{row.total}" if row.attempts else "-"
        print(f"{row.lesson:<{width}}  {best:>5}  {row.attempts:>5}  {row.state}")
    left = [row for row in rows if row.quiz and not row.passed]
    if not left:
        print("\nNothing left: every lesson check is passed.")
    else:
        print("\nLeft to do:")
        for row in left:
            print(f"  {row.lesson}: labkit quiz {_short(row.quiz)}")
    return 0


# ---------------------------------------------------------------------------------------------
# The command table and the entry point


def _learner_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--learner", default=default_learner(),
                        help="whose progress to use (default: $LABKIT_LEARNER or 'you')")


# ---------------------------------------------------------------------------------------------
# labkit course


def _course_arguments(parser: argparse.ArgumentParser) -> None:
    from labkit.ui.course import add_arguments

    add_arguments(parser)


def run_course(args: argparse.Namespace) -> int:
    from labkit.ui.course import run_from_arguments

    return run_from_arguments(args)


# ---------------------------------------------------------------------------------------------
# labkit train


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from labkit.ui.train_cli import add_arguments

    add_arguments(parser)


def run_train(args: argparse.Namespace) -> int:
    from labkit.ui.train_cli import run_command

    return run_command(args)


# ---------------------------------------------------------------------------------------------
# labkit data


def _data_arguments(parser: argparse.ArgumentParser) -> None:
    from labkit.ui.data_cli import add_arguments

    add_arguments(parser)


def run_data(args: argparse.Namespace) -> int:
    from labkit.ui.data_cli import run

    return run(args)


COMMANDS: tuple[Command, ...] = (
    Command("quiz", "take a quiz in the terminal and save the score", _quiz_arguments, run_quiz),
    Command("progress", "show each lesson's best score and what is left", _progress_arguments,
            run_progress),
    Command("course", "run lesson notebooks headless and write build/course/report.json",
            _course_arguments, run_course),
    Command("train", "train SFT, a reward model or DPO from a YAML config (accelerate-ready)",
            _train_arguments, run_train),
    Command("data", "check a training file (every bad line, with its reason) or remake the course's data",
            _data_arguments, run_data),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="The labkit fine-tuning course.")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="command")
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``labkit ARGS``; errors a learner can fix are printed without a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (QuizError, ProgressError, LearnerNameError) as error:
        print(f"labkit {args.command}: {error}", file=sys.stderr)
        return 2


def _short(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else as is."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
