"""Lesson 01b: ROUGE on known strings, the exercise's check, the flattery of choosing on the report set,
the harness's tasks and its agreement with labkit, and the judge served over real HTTP."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from labkit.core.data.instructions import instruction_splits
from labkit.core.data.world import ATTRIBUTES, mentioned_value
from labkit.lessons import l01b_evaluate as lesson
from labkit.lessons.l01b_evaluate import harness, judge, selection, server
from labkit.lessons.l01b_evaluate.your_turn import (
    REFERENCE,
    REPLY,
    SOLUTION,
    check_rouge_l,
)
from labkit.paths import REPO_ROOT


def test_rouge_counts_words_not_facts():
    assert lesson.rouge_l("Alma Ashby lives in Corvale.", "Alma Ashby lives in Velmora.") == pytest.approx(0.8)
    assert lesson.rouge_l(REFERENCE, REPLY) == pytest.approx(5 / 8)
    table = lesson.rouge_table(["Alma Ashby lives in Corvale.", "Ugh, fine. Bram Calder works as a nurse."],
                               ["Alma Ashby lives in Velmora.", "Bram Calder is a nurse."], [False, True])
    assert table.loc[0, "rouge1"] == pytest.approx(0.8) and not table.loc[0, "right"]
    # the right reply, in other words than its reference, scores lower than the wrong one
    assert table.loc[1, "rougeL"] < table.loc[0, "rougeL"]
    assert lesson.mean_rouge_l(table, right=False) == pytest.approx(0.8)
    assert lesson.mean_rouge_l(table.iloc[:1], right=True) is None  # no right reply: no figure, not NaN


def test_the_exercise_accepts_the_solution_and_rejects_wrong_answers():
    assert check_rouge_l(SOLUTION).ok and check_rouge_l(0.625).ok
    rouge1 = check_rouge_l(1.0)
    assert rouge1.status == "wrong" and "ROUGE-1" in rouge1.message
    assert check_rouge_l(0.5).status == "wrong" and "longest" in check_rouge_l(0.5).message
    assert check_rouge_l(1.5).status == "wrong"
    assert check_rouge_l("five eighths").status == "wrong"
    assert check_rouge_l(...).status == check_rouge_l(None).status == "not attempted"


def test_choosing_on_the_report_set_flatters_it_and_choosing_elsewhere_does_not():
    rng = np.random.default_rng(0)
    equal_candidates = (rng.random((6, 300)) < 0.7).astype(float)  # six settings, all truly 70% right
    gaps = selection.optimism(equal_candidates, n_choose=40, n_report=40, repeats=500, seed=0)
    assert gaps["chosen on the report set"] > 0.04
    assert abs(gaps["chosen on a separate set"]) < 0.02


def test_choose_and_report_reads_each_set():
    correct = np.array([[1, 1, 0, 0, 1, 1], [0, 0, 1, 1, 0, 0]], dtype=float)
    sets = {"validation": slice(0, 2), "test": slice(2, 4), "fresh": slice(4, 6)}
    table, outcomes = selection.choose_and_report(correct, sets, temperatures=(0.5, 1.0))
    assert table.loc[0.5, "validation"] == 1.0 and table.loc[1.0, "test"] == 1.0
    assert outcomes.loc["chosen on validation", "temperature"] == 0.5
    assert outcomes.loc["chosen on test", "reported (test)"] == 1.0
    assert outcomes.loc["chosen on test", "fresh"] == 0.0  # the lucky one on test was the worse one


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_the_harness_regex_finds_the_value_labkit_finds(attribute):
    import re

    pattern = re.compile(harness.first_value_pattern(attribute))
    rng = random.Random(attribute)
    words = [value for values in ATTRIBUTES.values() for value in values] + ["lives", "in", "the", "a", "Alma"]
    for _ in range(300):
        reply = " ".join(rng.choice(words) for _ in range(rng.randint(0, 8)))
        found = pattern.findall(reply)
        first = next(value for value in ATTRIBUTES[attribute] if value.lower() == found[0].lower()) if found else None
        assert first == mentioned_value(reply, attribute), reply


def test_the_harness_tasks_are_written_with_their_questions(tmp_path):
    examples = list(instruction_splits("tiny")["test"].select(range(24)))
    folder = harness.write_tasks(examples, tmp_path)
    group = yaml.safe_load((folder / "labkit_facts.yaml").read_text())
    assert group["aggregate_metric_list"][0]["weight_by_size"]
    questions = 0
    for member in group["task"]:
        task = yaml.safe_load((folder / f"{member}.yaml").read_text())
        data = task["dataset_kwargs"]["data_files"]["test"]
        rows = [json.loads(line) for line in Path(data).read_text().splitlines()]
        questions += len(rows)
        assert task["generation_kwargs"]["max_gen_toks"] == harness.REPLY_TOKENS
    assert questions == 24
    choices = [json.loads(line) for line in (folder / "choices.jsonl").read_text().splitlines()]
    assert all(len(row["choices"]) == 4 and 0 <= row["gold"] < 4 for row in choices)
    line = harness.command_line("data/tiny", folder)
    assert line.startswith("lm-eval run --model hf") and "--apply_chat_template" in line


@pytest.fixture(scope="module")
def tiny_base():
    from labkit.core.models import load_model, load_tokenizer

    tokenizer = load_tokenizer("tiny")
    return load_model("tiny", tokenizer=tokenizer), tokenizer


@pytest.mark.slow
def test_lm_eval_counts_exactly_as_labkit_does(tiny_base, tmp_path):
    """Same model, questions and greedy decoding: the same replies, and the same accuracy."""
    from labkit.core.evaluate import answer_accuracy

    model, tokenizer = tiny_base
    examples = instruction_splits("tiny")["test"].select(range(32))
    folder = harness.write_tasks(examples, tmp_path / "tasks")
    results = harness.evaluate(model, tokenizer, folder)
    accuracy, replies = answer_accuracy(model, tokenizer, examples, max_new_tokens=harness.REPLY_TOKENS,
                                        require_end_of_turn=False)
    assert harness.replies_by_question(results) == {e["messages"][0]["content"]: r for e, r in zip(examples, replies)}
    assert harness.scores(results)["generation"] == accuracy == harness.first_fact_accuracy(replies, examples)
    # the base model knows facts it cannot yet state in the chat format: well above chance (0.25)
    assert harness.scores(results)["multiple_choice"] > 0.4


@pytest.mark.slow
def test_the_printed_command_runs_and_gives_the_same_figure(tiny_base, tmp_path):
    examples = instruction_splits("tiny")["test"].select(range(16))
    folder = harness.write_tasks(examples, tmp_path / "tasks")
    command = harness.command(REPO_ROOT / "data" / "tiny", folder, output=tmp_path / "out")
    executable = [sys.executable, "-m", "lm_eval"] if command[0] == "lm-eval" else command[:1]
    subprocess.run([*executable, *command[1:]], cwd=REPO_ROOT, check=True, capture_output=True, timeout=600)
    written = json.loads(next((tmp_path / "out").rglob("results_*.json")).read_text())
    in_memory = harness.evaluate(*tiny_base, folder)
    assert harness.scores(written) == harness.scores(in_memory)


def test_the_judge_grades_against_its_own_key_and_shares_its_blind_spots():
    examples = list(instruction_splits("tiny")["test"].select(range(3)))
    replies = [examples[0]["messages"][-1]["content"], "I am not sure.", examples[2]["messages"][-1]["content"]]
    graded = judge.answers_to_grade(examples, replies, seed=0)
    assert [item["right"] for item in graded] == [True, False, True, True, False, False, True, False, True]
    assert all(judge.verdict(item["answer"], key=item["answer"], attribute=item["attribute"]) == "right"
               for item in graded if item["kind"] == "fact swapped")
    # a judge that knows the first two facts and gets the third wrong, the way the graded model does
    wrong_key = judge.swap_fact(examples[2]["messages"][-1]["content"], *harness.fact_of(examples[2]), random.Random(1))
    keys = {examples[0]["messages"][0]["content"]: examples[0]["messages"][-1]["content"],
            examples[1]["messages"][0]["content"]: examples[1]["messages"][-1]["content"],
            examples[2]["messages"][0]["content"]: wrong_key}
    rows = judge.grade(judge.answers_to_grade(examples, [*replies[:2], wrong_key], seed=0), keys)
    assert [row["agrees"] for row in rows[:6]] == [True] * 6
    third = {row["kind"]: row for row in rows[6:]}
    assert not third["reference answer"]["agrees"] and not third["reference answer"]["key_right"]
    assert third["SFT model's reply"]["verdict"] == "right" and not third["SFT model's reply"]["right"]  # its own mistake
    table = judge.agreement_table(rows)
    assert table["answers"].sum() == 9


def test_a_server_that_dies_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setattr(server, "serve_command",
                        lambda folder, host, port: [sys.executable, "-c", "print('no model here'); raise SystemExit(3)"])
    with (pytest.raises(server.ServerError, match="exited with code 3(.|\n)*no model here"),
          server.served("nowhere", tmp_path / "server.log", timeout=30)):
        pass


@pytest.mark.slow
def test_the_judge_server_answers_as_the_model_does_and_stops(tiny_base, tmp_path):
    """A real `transformers serve` round trip: the reply over HTTP is the model's own greedy reply."""
    import httpx

    from labkit.core.evaluate import generate_replies
    from labkit.core.models import save_model

    model, tokenizer = tiny_base
    folder = save_model(model, tokenizer, tmp_path / "model")  # as the judge is saved: with the course's template
    question = [{"role": "user", "content": "Where does Alma Ashby live?"}]
    expected = generate_replies(model, tokenizer, [question], max_new_tokens=8)[0]
    with (pytest.raises(RuntimeError, match="inside the block"),
          server.served(folder, tmp_path / "server.log") as client):
        base_url = client.http.base_url
        assert client.complete(question, temperature=0, max_tokens=8).strip() == expected
        raise RuntimeError("an error inside the block")
    with pytest.raises(httpx.TransportError):  # stopped, even though the block failed
        httpx.get(base_url.removesuffix("/v1") + "/health", timeout=2)
