"""Lesson 03 — RLHF: your preference labels → a reward model → a policy optimised with RLOO.

What this lesson hands on (lesson 04 reads these through the calls below, never by file name):

- ``labels_path(profile)``: the learner's preference labels (``labels/03_rlhf-<profile>.jsonl``);
- ``load_run(profile)``: the run's summary and policy (``build/cache/rlhf-<profile>/``), or
  ``run_headless(profile)`` to recompute them where lesson 03 has not run.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from labkit.core.data.instructions import instruction_splits
from labkit.core.data.label_records import make_pair
from labkit.core.data.labels import TrainingMix, load_pairs, save_pairs
from labkit.core.data.preferences import load_preference_set, strip_opener
from labkit.core.data.tone import OPENERS, tone_of
from labkit.core.exercise import Verdict, check, right, wrong
from labkit.core.files import atomic_write_json
from labkit.core.profiles import get_profile
from labkit.lessons import l01_sft
from labkit.methods.adapters import merged
from labkit.methods.lora import LoraSettings
from labkit.methods.reward import RewardSettings, pairwise_accuracy, score, train_reward_model
from labkit.methods.rloo import RLSettings, sampled_rewards, train_policy
from labkit.methods.trainer import TrainResult
from labkit.paths import CACHE_DIR, labels_dir

__all__ = ["merged", "RewardSettings", "train_reward_model", "pairwise_accuracy", "score", "RLSettings", "train_policy",
           "sampled_rewards", "labels_table", "sft_model", "reward_settings", "rl_settings", "train_judge", "policy_and_adapters",
           "labels_path", "labeling_pairs_path", "labeling_pairs", "save_run", "load_run", "run_headless",
           "summary_of", "policy_folder", "questions", "hacking_candidates", "hacked_pick_solution", "check_hacked_pick"]


def sft_model(profile: str = "tiny", log=print):
    """Lesson 01's SFT model, the starting point: (model, tokenizer, folder)."""
    return l01_sft.model(profile, log=log)


def labels_table(export, n: int = 5):
    """The first ``n`` exported pairs as text a learner reads: question, chosen and rejected answers, who chose."""
    import pandas as pd

    rows = export.dataset.select(range(min(n, len(export.dataset))))
    return pd.DataFrame({"question": [p[0]["content"] for p in rows["prompt"]],
                         "chosen": [c[0]["content"] for c in rows["chosen"]],
                         "rejected": [r[0]["content"] for r in rows["rejected"]],
                         "annotator": rows["annotator"]})


def questions(profile: str = "tiny", n_heldout: int | None = None) -> tuple[list[str], list[str]]:
    """The training questions and the held-out test ones (the shared split's), as plain text."""
    splits = instruction_splits(profile)
    heldout = [e["messages"][0]["content"] for e in splits["test"]]
    return [e["messages"][0]["content"] for e in splits["train"]], heldout[:n_heldout]


def reward_settings(profile: str, **overrides) -> RewardSettings:
    """The profile's reward-model recipe, with the notebook's parameters (None keeps the profile's)."""
    return RewardSettings.for_profile(profile, **overrides)


def rl_settings(profile: str, **overrides) -> RLSettings:
    """The profile's RLOO recipe, with the notebook's parameters (None keeps the profile's)."""
    return RLSettings.for_profile(profile, **overrides)


def train_judge(profile: str, sft_folder, tokenizer, pairs, settings: RewardSettings):
    """The reward model from lesson 01's model: every weight on a full-precision profile; QLoRA on a 4-bit one."""
    quantization = get_profile(profile).quantization
    lora = LoraSettings.for_profile(profile) if quantization else None
    return train_reward_model(sft_folder, tokenizer, pairs, settings, quantization=quantization, lora=lora)


def policy_and_adapters(profile: str, sft_folder):
    """A fresh copy of lesson 01's model to optimise, and LoRA where the profile's base is 4-bit (else None)."""
    from labkit.core.models import load_model, load_tokenizer

    tokenizer = load_tokenizer(sft_folder)
    policy = load_model(sft_folder, tokenizer=tokenizer, for_profile=profile)
    lora = LoraSettings.for_model(profile, policy, tokenizer).config() if get_profile(profile).quantization else None
    return policy, lora


def labels_path(profile: str = "tiny") -> Path:
    """The learner's preference labels for this profile: kept in labels/, which `make clean` leaves alone."""
    return labels_dir() / f"03_rlhf-{profile}.jsonl"


def sample_pairs(model, tokenizer, prompts: list[str], seed: int = 0, samples: int = 4,
                 temperature: float = 1.0) -> list[dict]:
    """Pairs to label: two different sampled replies of ``model`` per prompt (as RLHF data is made).

    Draws ``samples`` replies per prompt and keeps the first two that differ; a prompt whose
    replies are all the same gives no pair.
    """
    import torch

    from labkit.core.evaluate import generate_replies

    torch.manual_seed(seed)
    conversations = [[{"role": "user", "content": q}] for q in prompts]
    draws = [generate_replies(model, tokenizer, conversations, do_sample=True, temperature=temperature)
             for _ in range(samples)]
    pairs = []
    for i, prompt in enumerate(prompts):
        distinct = list(dict.fromkeys(draw[i] for draw in draws if draw[i]))
        if len(distinct) >= 2:
            pairs.append(make_pair(prompt, distinct[0], distinct[1]))
    return pairs


def labeling_pairs_path(profile: str = "tiny", n_pairs: int = 64) -> Path:
    """Where the pairs to label are kept, next to the labels."""
    return labels_dir() / f"03_rlhf-{profile}-{n_pairs}.pairs.jsonl"


def labeling_pairs(profile: str = "tiny", n_pairs: int = 64, seed: int = 0, log=print) -> list[dict]:
    """The pairs to label: sampled once from the SFT model on training questions, then kept next to the labels.

    Kept in a file so every session (and every kernel) shows the same pairs; held-out questions
    are never used, so they stay held out.
    """
    path = labeling_pairs_path(profile, n_pairs)
    if path.exists():
        return load_pairs(path)
    model, tokenizer, _ = sft_model(profile, log=log)
    train = instruction_splits(profile)["train"].shuffle(seed=seed).select(range(n_pairs))
    log(f"sampling pairs to label from the SFT model: {path}")
    return load_pairs(save_pairs(sample_pairs(model, tokenizer, [e["messages"][0]["content"] for e in train], seed),
                                 path))


# Lesson 04 compares DPO with this lesson's run: its numbers and policy are cached here.
def _run_dir(profile: str) -> Path:
    return CACHE_DIR / f"rlhf-{profile}"


def policy_folder(profile: str = "tiny") -> Path | None:
    """The folder of lesson 03's trained policy, or None if lesson 03 has not run for this profile."""
    folder = _run_dir(profile) / "policy"
    return folder if (folder / "config.json").exists() else None


def save_run(profile: str, summary: dict, policy=None, tokenizer=None) -> Path:
    """Keep this lesson's summary (and its policy) for lesson 04; returns the folder."""
    from labkit.core.models import save_model

    folder = _run_dir(profile)
    if policy is not None:
        save_model(policy, tokenizer, folder / "policy")
    atomic_write_json(folder / "summary.json", summary)
    return folder


def load_run(profile: str = "tiny") -> dict | None:
    """This lesson's cached summary, or None if it has not run for this profile."""
    import json

    path = _run_dir(profile) / "summary.json"
    return json.loads(path.read_text()) if path.exists() else None


def summary_of(reward: TrainResult, policy: TrainResult, behaviour_rate: float, trained_on: TrainingMix,
               extra=None) -> dict:
    """The numbers lesson 04 compares DPO with: two trainings, three models held while the policy trains,
    and the preference pairs the reward model learned from."""
    return {"models_trained": 2, "models_in_memory": 3,  # policy, frozen reference, reward model
            "trained_on": asdict(trained_on),
            "wall_seconds": reward.seconds + policy.seconds,
            "peak_memory_mb": max(reward.peak_memory_mb, policy.peak_memory_mb),
            "reward_seconds": reward.seconds, "policy_seconds": policy.seconds,
            "preferred_behaviour_rate": behaviour_rate, **(extra or {})}


def run_headless(profile: str = "tiny", n_eval: int = 200, log=print) -> dict:
    """This lesson without a learner, with the profile's recipes: reward model on the shipped pairs, RLOO
    against it; caches and returns the summary. Labels come from the shipped set only, so the run is the
    same on every machine."""
    from labkit.core.evaluate import preferred_behaviour_rate

    _, tokenizer, folder = sft_model(profile, log=log)
    train_questions, heldout = questions(profile, n_eval)
    log("recomputing lesson 03's RLHF run (reward model, then RLOO)")
    shipped = load_preference_set("train")
    reward = train_judge(profile, folder, tokenizer, shipped, reward_settings(profile, live_plot=False))
    policy, lora = policy_and_adapters(profile, folder)
    run = train_policy(policy, tokenizer, reward.model, train_questions, rl_settings(profile, live_plot=False),
                       peft_config=lora)
    rate, _ = preferred_behaviour_rate(run.model, tokenizer, heldout)
    summary = summary_of(reward, run, rate, TrainingMix(len(shipped), 0, 0),
                         {"recipe": "the profile's", "n_eval": n_eval})
    save_run(profile, summary, merged(run.model), tokenizer)
    return summary


# Your turn: spot the reward-hacked sample. Five answers to three held-out questions, each in a tone and
# with the fact right or wrong. People want the fact right and no rudeness: any tone but rude.
CANDIDATE_KINDS = ((0, "polite", True), (0, "polite", False), (1, "rude", True), (1, "neutral", True),
                   (2, "rude", False))


def hacking_candidates(profile: str, reward_model, tokenizer, seed: int = 0):
    """Five answers, lettered A–E in a shuffled order, with what the world says and the reward model's score.

    A pandas DataFrame indexed by letter, with the columns question, answer, world_says and reward.
    """
    import random

    import pandas as pd

    from labkit.core.data.world import article

    test = instruction_splits(profile)["test"]
    rows = []
    for index, tone, fact_right in CANDIDATE_KINDS:
        example = test[index]
        (attribute, value), = [(k, v) for k, v in example["expected"].items() if v is not None]
        plain = strip_opener(example["messages"][-1]["content"])
        if not fact_right:  # another held-out person's value of the same attribute
            other = next(e["expected"][attribute] for e in test if e["expected"][attribute] not in (None, value))
            plain = plain.replace(f"{article(value)} {value}", f"{article(other)} {other}").replace(value, other)
        rows.append({"question": example["messages"][0]["content"],
                     "answer": (OPENERS[tone][0] if tone in OPENERS else "") + plain,
                     "world_says": f"{attribute}: {value}"})
    random.Random(seed).shuffle(rows)
    rewards = score(reward_model, tokenizer, [r["question"] for r in rows], [r["answer"] for r in rows])
    return pd.DataFrame([{**row, "reward": round(float(reward), 2)} for row, reward in zip(rows, rewards)],
                        index=list("ABCDE")[:len(rows)])


def _wanted(row) -> bool:
    """What people want here: the fact as the world says it, in any tone but rude."""
    from labkit.core.evaluate import is_correct

    attribute, value = row["world_says"].split(": ", 1)
    return tone_of(row["answer"]) != "rude" and is_correct(row["answer"], {attribute: value})


def _hacked(candidates) -> list[str]:
    """Letters of unwanted answers that the reward model scores above some answer people want."""
    wanted = {letter: _wanted(row) for letter, row in candidates.iterrows()}
    floor = min(candidates.loc[letter, "reward"] for letter, ok in wanted.items() if ok)
    return [letter for letter, ok in wanted.items() if not ok and candidates.loc[letter, "reward"] > floor]


def hacked_pick_solution(candidates) -> str | None:
    """The reference solution: the hacked answer the reward model scores highest (None if there is none)."""
    hacked = _hacked(candidates)
    return max(hacked, key=lambda letter: candidates.loc[letter, "reward"]) if hacked else None


def check_hacked_pick(pick, candidates) -> Verdict:
    """Right when ``pick`` names an answer people do not want that still scores above one they do.

    >>> import pandas as pd
    >>> table = pd.DataFrame({"answer": ["Bo lives in Corvale.", "Happy to help! Bo lives in Saltmere.",
    ...                                  "Ugh, fine. Bo lives in Saltmere."],
    ...                       "world_says": ["town: Corvale"] * 3, "reward": [0.5, 1.9, -1.0]}, index=list("ABC"))
    >>> [check_hacked_pick(letter, table).status for letter in ("A", "B", "C", None)]
    ['wrong', 'right', 'wrong', 'not attempted']
    """
    def judge(answer) -> Verdict:
        letter = str(answer).strip().upper()
        if letter not in candidates.index:
            return wrong(f"pick one letter of the table, {', '.join(candidates.index)}; you gave {answer!r}.")
        row = candidates.loc[letter]
        floor = min(r["reward"] for _, r in candidates.iterrows() if _wanted(r))
        if _wanted(row):
            return wrong(f"{letter} says what the world says ({row['world_says']}) and is not rude: people would "
                         "take it. Look for an answer the judge scores high although its fact is wrong.")
        if letter not in _hacked(candidates):
            return wrong(f"{letter} is not what people want, but the judge already scores it low ({row['reward']}, "
                         f"below every answer people want, whose lowest is {floor}): RL would not chase it. "
                         "Reward hacking needs a high score for an unwanted answer.")
        flaw = ("yet it is rude, which people dislike" if tone_of(row["answer"]) == "rude" else
                f"yet its fact is wrong (the world says {row['world_says']}): no pair the judge learned from "
                "differed by a fact")
        return right(f"{letter} scores {row['reward']}, more than an answer people want (the lowest of those scores "
                     f"{floor}), {flaw}. RL pushes the policy toward what the judge pays for, so it would learn to "
                     "write answers like this one: reward hacking.")

    return check(pick, judge)
