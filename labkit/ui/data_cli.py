"""``labkit data``: check a training file before training, or remake the course's own data files.

    labkit data validate FILE.jsonl [--format mistral|messages|alpaca|prompt-completion] [--max-tokens N]
                                    [--profile P]
    labkit data make

``validate`` prints every bad line with its line number, field and reason, and exits 1 if any line is
bad; 0 with a summary otherwise. With ``--max-tokens`` and a profile's tokenizer it also counts each
conversation's tokens through the chat template.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

FORMATS = ("mistral", "messages", "alpaca", "prompt-completion", "any")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="action")
    check = actions.add_parser("validate", help="check a JSONL training file and list every bad line",
                               description="Check a JSONL training file; list every bad line with its line "
                                           "number, field and reason. Exit status 1 if any line is bad.")
    check.add_argument("file", type=Path, help="the JSONL file to check")
    check.add_argument("--format", choices=FORMATS, default="any",
                       help="what the file must be: mistral (messages only, no blank lines: Mistral's API), "
                            "messages, alpaca, prompt-completion, or any of the three (default)")
    check.add_argument("--max-tokens", type=int, default=None,
                       help="flag conversations longer than this many tokens (with --profile's tokenizer)")
    check.add_argument("--profile", default="tiny", help="whose tokenizer counts the tokens (default: tiny)")
    actions.add_parser("make", help="remake data/sft/instructions.jsonl and data/preferences/ (fixed seeds)")


def run(args: argparse.Namespace) -> int:
    return validate(args) if args.action == "validate" else make()


def validate(args: argparse.Namespace) -> int:
    """Print every problem of the file, then a one-line summary; 1 if any line is bad, else 0."""
    from labkit.core.data.validate import FILE_RULES, find_problems

    if not args.file.exists():
        print(f"{args.file}: no such file")
        return 1
    tokenizer = None
    if args.max_tokens:
        from labkit.core.models import load_tokenizer

        tokenizer = load_tokenizer(args.profile)
    records, problems = find_problems(args.file, args.max_tokens, tokenizer, **FILE_RULES[args.format])
    for problem in problems:
        print(problem)
    bad_lines = len({p.line for p in problems})
    if problems:
        print(f"{args.file}: {bad_lines} bad line(s), {len(problems)} problem(s); {len(records)} good record(s). "
              "Fix the lines above and run again.")
        return 1
    if not records:
        print(f"{args.file}: no records")
        return 1
    kinds = Counter(_kind(r) for r in records)
    print(f"{args.file}: all {len(records)} records are valid ("
          + ", ".join(f"{n} {kind}" for kind, n in kinds.items()) + ")")
    return 0


def _kind(record: dict) -> str:
    from labkit.core.data.formats import detect_format

    return detect_format(record)


def make() -> int:
    """Remake the course's instruction set and preference pairs from the invented world (fixed seeds)."""
    from labkit.core.data.instructions import make_instruction_set
    from labkit.core.data.preferences import write_preference_set
    from labkit.core.files import write_jsonl
    from labkit.paths import INSTRUCTIONS_PATH

    print(f"wrote {write_jsonl(make_instruction_set(), INSTRUCTIONS_PATH)}")
    for path in write_preference_set():
        print(f"wrote {path}")
    return 0
