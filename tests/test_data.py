"""labkit.core.data: formats round-trip, validation lists every bad line, splits are seeded."""

from __future__ import annotations

import json

import pytest

from labkit.core.data import (DatasetValidationError, alpaca_to_messages, detect_format, messages_to_alpaca,
                         messages_to_prompt_completion, prompt_completion_to_messages, to_messages,
                         train_validation_split, validate_jsonl)
from labkit.core.data.instructions import INSTRUCTIONS_PATH, make_instruction_set

ALPACA = {"instruction": "Name the town.", "input": "Alma Ashby", "output": "Corvale."}


def test_alpaca_round_trip_through_messages():
    assert messages_to_alpaca(alpaca_to_messages(ALPACA)) == ALPACA
    no_input = {"instruction": "Say hi.", "input": "", "output": "Hi!"}
    assert messages_to_alpaca(alpaca_to_messages(no_input, system="Be brief.")) == no_input


def test_prompt_completion_round_trip_through_messages():
    record = {"prompt": "Where does Alma live?", "completion": "In Corvale."}
    assert messages_to_prompt_completion(prompt_completion_to_messages(record)) == record
    conversational = messages_to_prompt_completion(prompt_completion_to_messages(record), conversational=True)
    assert conversational["completion"] == [{"role": "assistant", "content": "In Corvale."}]


def test_detect_and_convert_any_format():
    assert detect_format(ALPACA) == "alpaca"
    assert detect_format({"prompt": "a", "completion": "b"}) == "prompt_completion"
    assert to_messages(ALPACA)["messages"][1]["content"] == "Corvale."
    with pytest.raises(ValueError, match="unknown format"):
        detect_format({"text": "x"})


def test_chat_template_rendering_matches_the_tokenizer(tiny_tokenizer):
    record = alpaca_to_messages(ALPACA, system="Be brief.")
    text = tiny_tokenizer.apply_chat_template(record["messages"], tokenize=False)
    assert text == ("<|system|>\nBe brief.<|end|>\n<|user|>\nName the town.\n\nAlma Ashby<|end|>\n"
                    "<|assistant|>\nCorvale.<|end|>\n")
    ids = tiny_tokenizer.apply_chat_template(record["messages"], tokenize=True, return_dict=True)["input_ids"]
    assert tiny_tokenizer.decode(ids) == text


BAD_LINES = {
    2: ('{"messages": [{"role": "user", "content": "Hi"}', "invalid JSON"),
    3: ('{"messages": [{"role": "user", "content": "Hi"}, {"role": "robot", "content": "x"}]}', "unknown role"),
    4: ('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " "}]}', "missing or empty"),
    5: ('{"messages": [{"role": "user", "content": "Hi"}]}', "last turn must be the assistant"),
    6: ('{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}', "alternate"),
    7: ('{"instruction": "Greet me."}', "output: missing"),
    8: ('{"messages": [{"role": "user", "content": "' + "word " * 300 + '"}, '
        '{"role": "assistant", "content": "ok"}]}', "longer than the model's context"),
    9: ('[1, 2]', "must be a JSON object"),
}
GOOD = '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}'


def test_validation_lists_every_bad_line_with_its_number(tmp_path, tiny_tokenizer):
    path = tmp_path / "bad.jsonl"
    lines = [GOOD] + [BAD_LINES[n][0] for n in sorted(BAD_LINES)] + [GOOD]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetValidationError) as caught:
        validate_jsonl(path, max_tokens=256, tokenizer=tiny_tokenizer)
    error = caught.value
    assert sorted({p.line for p in error.problems}) == sorted(BAD_LINES)
    message = str(error)
    for number, (_, expected) in BAD_LINES.items():
        assert f"bad.jsonl:{number}:" in message
        assert any(p.line == number and expected in f"{p.field}: {p.message}" for p in error.problems), number
    assert "bad.jsonl:1:" not in message and f"bad.jsonl:{len(lines)}:" not in message


def test_a_good_file_passes(tmp_path, tiny_tokenizer):
    path = tmp_path / "good.jsonl"
    path.write_text(GOOD + "\n\n" + json.dumps(ALPACA) + "\n")
    assert len(validate_jsonl(path, max_tokens=256, tokenizer=tiny_tokenizer)) == 2


def test_shipped_instruction_set_is_valid_and_reproducible():
    records = validate_jsonl(INSTRUCTIONS_PATH)
    assert len(records) == 2400
    assert records == json.loads(json.dumps(make_instruction_set()))  # same seed, same file


def test_split_is_seeded_and_within_bounds():
    from datasets import Dataset

    data = Dataset.from_dict({"x": list(range(200))})
    first, again = train_validation_split(data, 0.15, seed=3), train_validation_split(data, 0.15, seed=3)
    assert first["validation"]["x"] == again["validation"]["x"]
    assert len(first["validation"]) == 30 and not set(first["validation"]["x"]) & set(first["train"]["x"])
    with pytest.raises(ValueError, match="outside 0.10–0.20"):
        train_validation_split(data, 0.5)
