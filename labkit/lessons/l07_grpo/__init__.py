"""Lesson 07 — RL with verifiable rewards (GRPO): a checker instead of a judge, and a doctor for the runs
that learn nothing.

It builds on lesson 01 through one call, ``l01_sft.model(profile)``. Two-hop questions ("Do Ada and Bo
live in the same town?") are new to that model, so ``warm_up_model(profile)`` first gives it a short
SFT on two-hop answers (most of them bare verdicts, some worked out): an easier start, from
which GRPO's samples are sometimes right. The warm-up is
cached in ``build/cache/grpo-warmup-<profile>-<key>/``; the key hashes its settings, the questions
and the SFT model it starts from, so a changed recipe never reuses an old model.

>>> warm_up_dir("tiny", warm_up_settings("tiny")).name.startswith("grpo-warmup-tiny-")
True
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

from labkit.core.data.instructions import world
from labkit.core.data.two_hop import (
    digest,
    follows_format,
    grade,
    stated_value,
    stated_verdict,
    two_hop_examples,
)
from labkit.core.data.world import make_people
from labkit.core.profiles import get_profile
from labkit.lessons import l01_sft
from labkit.lessons.l07_grpo.rewards import (
    MAX_REWARD,
    MAXIMA,
    correct_answer,
    fact_credit,
    text_of,
    well_formed,
)
from labkit.lessons.l07_grpo.runs import run_with_doctor, sick_runs
from labkit.lessons.l07_grpo.your_turn import (
    check_pet_reward,
    pet_question,
    same_pet_solution,
)
from labkit.methods.adapters import merged
from labkit.methods.grpo import (
    GRPOSettings,
    group_advantages,
    leave_one_out_advantages,
    reward_panels,
    sampled_rewards,
    train_grpo,
)
from labkit.methods.grpo_doctor import RunDoctor, diagnose, zero_std_fraction
from labkit.methods.sft import SFTSettings, train_sft
from labkit.paths import CACHE_DIR, RUNS_DIR

__all__ = [
    "MAXIMA",
    "MAX_REWARD",
    "GRPOSettings",
    "RunDoctor",
    "accuracy",
    "check_pet_reward",
    "correct_answer",
    "diagnose",
    "fact_credit",
    "grade",
    "group_advantages",
    "grpo_settings",
    "leave_one_out_advantages",
    "pet_question",
    "policy_and_adapters",
    "questions",
    "reasoning_checks",
    "reward_panels",
    "run_with_doctor",
    "same_pet_solution",
    "sampled_rewards",
    "score_answers",
    "sft_model",
    "sick_runs",
    "text_of",
    "train_grpo",
    "warm_up_dir",
    "warm_up_model",
    "warm_up_settings",
    "well_formed",
    "zero_std_fraction",
]

# Set on purpose, not by the profile: a short warm-up leaves the model partly right, which is where GRPO
# has something to learn (each group holds right and wrong answers to compare). Short, but not too short:
# the worked answers must be right often enough for GRPO's choice of them to raise the accuracy. On tiny,
# after 100 steps at the "full" recipe's rate (1e-3) they copied the second person's name from the
# question about 1 time in 5 (held-out accuracy 0.04 → 0.06 after GRPO); after 250, 3 times in 4
# (0.09 → 0.38). A higher rate gets there sooner: 150 steps at 2e-3 gave 0.06 → 0.49, and 100 steps at
# 3e-3, in 40% of the time of 250, gave 0.09 → 0.44. Other profiles: not measured; they keep their rate.
WARM_UP = {"tiny": dict(max_steps=100, learning_rate=3e-3)}
DEFAULT_WARM_UP = dict(max_steps=100)
# Most of the warm-up's answers give a bare verdict, as people often do; the rest show their reasoning.
# The warmed-up model has both habits, mostly the first, and GRPO finds out which one the checker can
# credit (a bare verdict shows no facts to check).
WORKED_SHARE = 0.4
N_TRAIN, N_TEST = 1200, 200
NOT_IN_KEY = l01_sft.NOT_IN_KEY


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model, the starting point: (model, tokenizer, folder)."""
    return l01_sft.model(profile, log=log)


def _examples(profile: str) -> dict[str, list[dict]]:
    # People whose facts pre-training taught well (their Q/A was in its mix): a wrong answer is then a
    # slip of reasoning more than a missing fact. Held-out means the question: a pair never asked in training.
    names = {p.name for p in make_people() if p.qa_in_pretraining and p.name in world(profile)}
    n_train = min(N_TRAIN, len(names) * (len(names) - 1) // 4 - N_TEST)  # a small world has fewer pairs
    return two_hop_examples(names, n_train, N_TEST, worked_share=WORKED_SHARE)


def questions(profile: str = "tiny", n_test: int | None = None) -> dict:
    """The two-hop questions about the profile's world: ``train`` as a Dataset of prompts with their facts
    (what GRPOTrainer reads), ``test`` as a list of held-out examples, the first ``n_test`` of them."""
    from datasets import Dataset

    examples = _examples(profile)
    return {"train": Dataset.from_list(examples["train"]), "test": examples["test"][:n_test]}


def warm_up_settings(profile: str = "tiny", steps: int | None = None, **overrides) -> SFTSettings:
    """The warm-up: the profile's short SFT recipe ("full", or "lora" where the base is 4-bit and LoRA
    trains), for ``steps`` steps (default: the profile's entry in WARM_UP, else DEFAULT_WARM_UP)."""
    recipe = "lora" if get_profile(profile).quantization else "full"
    warm_up = WARM_UP.get(profile, DEFAULT_WARM_UP)
    chosen = SFTSettings.for_profile(profile, recipe, **{**warm_up, "max_steps": steps or warm_up["max_steps"],
                                                        "live_plot": False, **overrides})
    return replace(chosen, output_dir=str(warm_up_dir(profile, chosen)) + "-run")


def warm_up_dir(profile: str, settings: SFTSettings) -> Path:
    """Where the warm-up model for these settings is cached: one folder per profile, settings, data and start."""
    relevant = {k: v for k, v in asdict(settings).items() if k not in NOT_IN_KEY}
    relevant["questions"] = digest(_examples(profile))
    relevant["start"] = l01_sft.cache_dir(profile, l01_sft.settings(profile)).name  # holds lesson 01's key
    key = hashlib.sha1(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:10]
    return CACHE_DIR / f"grpo-warmup-{profile}-{key}"


def warm_up_model(profile: str = "tiny", steps: int | None = None, log=print):
    """Lesson 01's model after a short SFT on two-hop answers: loaded from the cache, or trained now.

    Returns (model, tokenizer, folder).
    """
    from labkit.core.models import load_if_saved, save_model

    settings = warm_up_settings(profile, steps)
    folder = warm_up_dir(profile, settings)
    saved = load_if_saved(folder, profile, "the warmed-up model", log)
    if saved:
        return saved
    start, tokenizer, _ = sft_model(profile, log)
    log(f"warming up: {settings.max_steps} SFT steps on two-hop answers (cached afterwards)")
    train = questions(profile)["train"].select_columns(["messages"])
    result = train_sft(start, tokenizer, train, None, settings,
                       peft_config=l01_sft.adapters(profile, start, tokenizer))
    trained = merged(result.model)
    return trained, tokenizer, save_model(trained, tokenizer, folder)


def policy_and_adapters(profile: str, folder):
    """A fresh copy of the model in ``folder`` to optimise, and LoRA where the profile's base is 4-bit (else None)."""
    from labkit.core.models import load_model, load_tokenizer

    tokenizer = load_tokenizer(folder)
    policy = load_model(folder, tokenizer=tokenizer, for_profile=profile)
    return policy, l01_sft.adapters(profile, policy, tokenizer)


def grpo_settings(profile: str = "tiny", **overrides) -> GRPOSettings:
    """The profile's GRPO recipe with the notebook's parameters as ``overrides`` (None keeps the profile's)."""
    return GRPOSettings.for_profile(profile, **{"output_dir": str(RUNS_DIR / f"grpo-{profile}"), **overrides})


def accuracy(model, tokenizer, examples: list[dict], max_new_tokens: int = 48) -> tuple[float, list[str]]:
    """Share of ``examples`` answered right (greedy: the model's best answer), and the replies."""
    from labkit.core.evaluate import generate_replies

    replies = generate_replies(model, tokenizer, [e["prompt"] for e in examples], max_new_tokens=max_new_tokens)
    right = [grade(reply, e["people"], e["towns"]).correct for reply, e in zip(replies, examples)]
    return sum(right) / max(1, len(right)), replies


def score_answers(example: dict, answers: dict[str, str]):
    """A table: each named answer to ``example`` with what the checker found and what each reward pays."""
    import pandas as pd

    rows = {}
    for name, answer in answers.items():
        found = grade(answer, example["people"], example["towns"])
        completion = [[{"role": "assistant", "content": answer}]]
        facts = {"people": [example["people"]], "towns": [example["towns"]]}
        rows[name] = {"answer": answer, "facts right": found.facts_right, "verdict right": found.verdict_right,
                      **{f.__name__: f(completion, **facts)[0] for f in (correct_answer, well_formed, fact_credit)}}
    return pd.DataFrame.from_dict(rows, orient="index")


def reasoning_checks(replies: list[str], examples: list[dict]) -> dict[str, float]:
    """Where the answers go right or wrong, each as a share of the answers: which show their reasoning,
    state both towns right, conclude what their own stated towns imply, say "yes", and are correct.

    >>> ask = {"people": ["Ada Ingle", "Bo Stowe"], "towns": ["Wyndle", "Redfern"]}
    >>> reasoning_checks(["Ada Ingle lives in Wyndle. Bo Stowe lives in Wyndle. So the answer is yes."], [ask])
    {'shows its reasoning': 1.0, 'states both towns right': 0.0, 'the yes/no follows from the stated towns': 1.0, \
'says yes': 1.0, 'the right answer is yes': 0.0, 'correct': 0.0}
    """
    def follows(reply, people):
        first, second = (stated_value(reply, name) for name in people)
        return first is not None and second is not None and stated_verdict(reply) == ("yes" if first == second else "no")

    grades = [grade(reply, e["people"], e["towns"]) for reply, e in zip(replies, examples, strict=True)]
    found = {"shows its reasoning": [follows_format(reply) for reply in replies],
             "states both towns right": [g.facts_right == 2 for g in grades],
             "the yes/no follows from the stated towns": [follows(r, e["people"]) for r, e in zip(replies, examples)],
             "says yes": [stated_verdict(reply) == "yes" for reply in replies],
             "the right answer is yes": [e["towns"][0] == e["towns"][1] for e in examples],
             "correct": [g.correct for g in grades]}
    return {name: sum(values) / max(1, len(values)) for name, values in found.items()}
