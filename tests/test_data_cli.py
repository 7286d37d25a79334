"""``labkit data validate`` at the command line: every bad line named with its field and reason; exit status 1."""

from __future__ import annotations

import json
import subprocess
import sys

from labkit.paths import INSTRUCTIONS_PATH, REPO_ROOT


def labkit_data(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labkit.data", *args], cwd=REPO_ROOT, capture_output=True, text=True)


def test_help_and_no_arguments_print_help_and_change_nothing():
    before = INSTRUCTIONS_PATH.read_bytes()
    for args in ((), ("--help",)):
        result = labkit_data(*args)
        assert result.returncode == 0 and "validate" in result.stdout and "make" in result.stdout
    assert INSTRUCTIONS_PATH.read_bytes() == before  # it used to remake the instruction set silently


def test_every_bad_line_is_listed_with_line_field_and_reason(tmp_path):
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    lines = [json.dumps(good), '{"messages": [', json.dumps({"messages": [{"role": "robot", "content": "x"}]}),
             json.dumps({"instruction": "Greet me.", "output": ""})]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = labkit_data("validate", str(path))
    assert result.returncode == 1
    assert f"{path}:2: (line): invalid JSON" in result.stdout
    assert f"{path}:3: messages[0].role: unknown role 'robot'" in result.stdout
    assert f"{path}:4: output: missing or empty" in result.stdout
    assert "3 bad line(s)" in result.stdout


def test_mistral_format_refuses_alpaca_records_and_blank_lines(tmp_path):
    path = tmp_path / "mistral.jsonl"
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({"instruction": "a", "output": "b"}) + "\n")
    result = labkit_data("validate", str(path), "--format", "mistral")
    assert result.returncode == 1 and ":2: (line): blank line" in result.stdout and ":3: (line): expected the messages" in result.stdout
    assert labkit_data("validate", str(path), "--format", "any").returncode == 0


def test_the_shipped_instruction_set_passes_with_a_summary():
    result = labkit_data("validate", str(INSTRUCTIONS_PATH), "--format", "messages")
    assert result.returncode == 0 and "all 2400 records are valid" in result.stdout
