"""The course's held-out questions as an lm-evaluation-harness task, scored two ways.

``write_tasks`` writes, under ``build/01b_evaluate/harness/``, the JSONL files and task YAML that
lm-eval reads with ``--include_path``:

- ``labkit_facts`` (generation): a group of four tasks, one per kind of fact. The model answers
  greedily in its chat template; a regex filter takes the first town (job, pet, colour) the reply
  names, and ``exact_match`` compares it with the right one. That is the rule of
  :func:`labkit.core.evaluate.is_correct`, so the two accuracies agree question by question.
- ``labkit_facts_mc`` (log-likelihood): four answer sentences per question, the right one and three
  with another value swapped in. The model picks the one it finds most likely (``acc``); it never
  writes a word.

>>> rows = mc_rows([{"messages": [{"role": "user", "content": "Where does Alma Ashby live?"},
...                               {"role": "assistant", "content": "Alma Ashby lives in Corvale."}],
...                  "expected": {"town": "Corvale"}, "person": "Alma Ashby"}])
>>> len(rows[0]["choices"]), rows[0]["choices"][rows[0]["gold"]]
(4, 'Alma Ashby lives in Corvale.')
"""

from __future__ import annotations

import random
import re
import shlex
from contextlib import contextmanager
from pathlib import Path

from labkit.core.data.world import ANSWERS, ATTRIBUTES, article
from labkit.core.files import atomic_write_text, write_jsonl
from labkit.paths import BUILD_DIR, REPO_ROOT

HARNESS_DIR = BUILD_DIR / "01b_evaluate" / "harness"
GENERATION_TASK, CHOICE_TASK = "labkit_facts", "labkit_facts_mc"
# Tokens a reply may take, on both sides. The models' saved generation_config asks for 48 new tokens,
# and transformers lets that win over the max_length lm-eval passes; so labkit asks for 48 too.
REPLY_TOKENS = 48
N_OPTIONS = 4  # like MMLU: the right answer and three others; chance is 25%
# A tiny model answers all of a lesson's questions in one batch: far fewer generation steps than batches of 32.
BATCH_SIZE = 128


def fact_of(example: dict) -> tuple[str, str]:
    """The (attribute, value) a question asks for, e.g. ("town", "Corvale")."""
    (attribute, value), = [(a, v) for a, v in example["expected"].items() if v is not None]
    return attribute, value


def first_value_pattern(attribute: str) -> str:
    """A regex whose first match is the first value of ``attribute`` a reply names (case-insensitive),
    as :func:`labkit.core.data.world.mentioned_value` finds it."""
    return r"(?i)\b(" + "|".join(re.escape(value) for value in ATTRIBUTES[attribute]) + r")\b"


def generation_rows(examples) -> dict[str, list[dict]]:
    """The questions as lm-eval documents, grouped by the kind of fact they ask for."""
    rows: dict[str, list[dict]] = {attribute: [] for attribute in ATTRIBUTES}
    for example in examples:
        attribute, value = fact_of(example)
        rows[attribute].append({"question": example["messages"][0]["content"], "target": value})
    return rows


def mc_rows(examples, seed: int = 0) -> list[dict]:
    """Each question with four answer sentences (one right, three with another value) and the right index."""
    rng = random.Random(seed)
    rows = []
    for example in examples:
        attribute, value = fact_of(example)
        options = [value, *rng.sample([v for v in ATTRIBUTES[attribute] if v != value], N_OPTIONS - 1)]
        rng.shuffle(options)
        sentences = [ANSWERS[attribute].format(n=example["person"], v=option, a=article(option)) for option in options]
        rows.append({"question": example["messages"][0]["content"], "choices": sentences,
                     "gold": options.index(value)})
    return rows


def _task(name: str, data: Path, **fields) -> dict:
    return {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data)}},
            "test_split": "test", "doc_to_text": "{{question}}", "metadata": {"version": 1.0}, **fields}


def write_tasks(examples, folder: Path = HARNESS_DIR) -> Path:
    """Write the two tasks (YAML) and their questions (JSONL) into ``folder``; returns ``folder``."""
    import yaml

    examples = list(examples)
    members = []
    for attribute, rows in generation_rows(examples).items():
        if not rows:  # a small world may ask nothing of one kind
            continue
        name = f"{GENERATION_TASK}_{attribute}"
        members.append(name)
        task = _task(name, write_jsonl(rows, folder / f"{attribute}.jsonl"),
                     output_type="generate_until", doc_to_target="{{target}}",
                     generation_kwargs={"until": [], "max_gen_toks": REPLY_TOKENS, "do_sample": False},
                     filter_list=[{"name": "first_value", "filter": [
                         {"function": "regex", "regex_pattern": first_value_pattern(attribute)},
                         {"function": "take_first"}]}],
                     metric_list=[{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                                   "ignore_case": True}])
        atomic_write_text(folder / f"{name}.yaml", yaml.safe_dump(task, sort_keys=False))
    group = {"group": GENERATION_TASK, "task": members, "metadata": {"version": 1.0},
             # weighted by size: the group's figure is the share of all questions, as labkit counts it
             "aggregate_metric_list": [{"metric": "exact_match", "aggregation": "mean", "weight_by_size": True,
                                        "filter_list": "first_value"}]}
    atomic_write_text(folder / f"{GENERATION_TASK}.yaml", yaml.safe_dump(group, sort_keys=False))
    choice = _task(CHOICE_TASK, write_jsonl(mc_rows(examples), folder / "choices.jsonl"),
                   output_type="multiple_choice", doc_to_choice="{{choices}}", doc_to_target="{{gold}}",
                   target_delimiter="",  # the chat template already ends the prompt where the answer starts
                   metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True}])
    atomic_write_text(folder / f"{CHOICE_TASK}.yaml", yaml.safe_dump(choice, sort_keys=False))
    return folder


def command(model_folder: str | Path, folder: Path = HARNESS_DIR, output: Path | None = None) -> list[str]:
    """The ``lm-eval`` command line that evaluates a saved model on both tasks (run it from the course folder)."""
    def shown(path):
        path = Path(path).resolve()
        return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)

    return ["lm-eval", "run", "--model", "hf",
            # the chat template writes any BOS itself, as in labkit's own evaluation
            "--model_args", f"pretrained={shown(model_folder)},add_bos_token=False",
            "--tasks", f"{GENERATION_TASK},{CHOICE_TASK}", "--include_path", shown(folder),
            "--apply_chat_template", "--batch_size", str(BATCH_SIZE),
            "--output_path", shown(output or folder.parent / "harness-results")]


def command_line(model_folder: str | Path, folder: Path = HARNESS_DIR) -> str:
    """:func:`command` as one line to paste into a terminal."""
    return shlex.join(command(model_folder, folder))


def first_fact_accuracy(replies: list[str], examples) -> float:
    """labkit's rule without the end of turn: the share of replies whose first fact named is right."""
    from labkit.core.evaluate import is_correct

    return sum(is_correct(reply, example["expected"]) for reply, example in zip(replies, examples, strict=True)) \
        / max(1, len(replies))


def evaluate(model, tokenizer, folder: Path = HARNESS_DIR) -> dict:
    """Run both tasks on a model already in memory (what the command does, without loading it again).

    Returns lm-eval's results: ``results["results"][task]`` holds the figures, ``results["samples"]``
    each question's reply and score.
    """
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    wrapped = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=BATCH_SIZE, add_bos_token=False)
    # Only the course's folder is indexed: lm-eval's thousands of built-in tasks take a while to list.
    tasks = TaskManager(include_path=str(folder), include_defaults=False)
    with _no_progress_bars():
        return lm_eval.simple_evaluate(model=wrapped, tasks=[GENERATION_TASK, CHOICE_TASK], task_manager=tasks,
                                       apply_chat_template=True, log_samples=True, bootstrap_iters=0)


@contextmanager
def _no_progress_bars():
    """Turn lm-eval's progress bars off while it runs; its warnings still show.

    lm-eval 0.4.13 draws several bars on stderr per run (one per task while it builds the requests, one
    per kind of request) and has no switch for the first kind; a notebook shows them as red noise.
    """
    from unittest import mock

    import tqdm

    def quiet(*args, **kwargs):
        return tqdm.tqdm(*args, **{**kwargs, "disable": True})

    with (mock.patch("lm_eval.api.task.tqdm", quiet), mock.patch("lm_eval.api.model.tqdm", quiet),
          mock.patch("lm_eval.models.huggingface.tqdm", quiet)):
        yield


def scores(results: dict) -> dict[str, float]:
    """The two figures from lm-eval's results: generation accuracy and multiple-choice accuracy."""
    figures = results["results"]
    return {"generation": figures[GENERATION_TASK]["exact_match,first_value"],
            "multiple_choice": figures[CHOICE_TASK]["acc,none"]}


def replies_by_question(results: dict) -> dict[str, str]:
    """Each generation question's raw reply, as the harness saw it."""
    members = {f"{GENERATION_TASK}_{attribute}" for attribute in ATTRIBUTES}  # not labkit_facts_mc
    return {sample["doc"]["question"]: sample["resps"][0][0]
            for name, samples in results["samples"].items() if name in members for sample in samples}
