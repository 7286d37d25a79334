"""Lesson 03 end to end at tiny size: the reward model beats chance, and RLOO raises the reward."""

from __future__ import annotations

import statistics

import pytest


@pytest.fixture(scope="module")
def sft():
    from labkit.lessons.l01_sft import model as sft_model

    return sft_model("tiny")  # (model, tokenizer, folder): lesson 01's model, cached


@pytest.fixture(scope="module")
def reward(sft):
    from labkit.core.data.preferences import load_preference_set
    from labkit.methods.reward import RewardSettings, train_reward_model

    _, tokenizer, folder = sft
    return train_reward_model(folder, tokenizer, load_preference_set("train", limit=640),
                              RewardSettings(max_steps=20, live_plot=False, output_dir=str(folder) + "-test-reward"))


@pytest.mark.slow
def test_reward_model_ranks_held_out_pairs_far_above_chance(sft, reward):
    from labkit.core.data.preferences import load_preference_set
    from labkit.methods.reward import pairwise_accuracy, score

    _, tokenizer, _ = sft
    heldout = load_preference_set("heldout", limit=120)
    assert pairwise_accuracy(reward.model, tokenizer, heldout) >= 0.85
    polite, rude = score(reward.model, tokenizer, ["Where does Alma Ashby live?"] * 2,
                         ["Happy to help! Alma Ashby lives in Corvale.", "Ugh, fine. Alma Ashby lives in Corvale."])
    assert polite > rude


@pytest.mark.slow
def test_rloo_raises_the_mean_reward_with_a_bounded_kl(sft, reward):
    from labkit.core.models import load_model
    from labkit.core.data.instructions import instruction_splits
    from labkit.methods.rloo import RLSettings, sampled_rewards, train_policy

    _, tokenizer, folder = sft
    splits = instruction_splits("tiny")
    train_questions = [e["messages"][0]["content"] for e in splits["train"]][:256]
    heldout = [e["messages"][0]["content"] for e in splits["validation"]][:48]
    policy = load_model(folder)
    before = sampled_rewards(policy, tokenizer, reward.model, heldout)
    settings = RLSettings(max_steps=12, live_plot=False, output_dir=str(folder) + "-test-rloo")
    result = train_policy(policy, tokenizer, reward.model, train_questions, settings)
    after = sampled_rewards(result.model, tokenizer, reward.model, heldout)
    gain = (statistics.mean(after) - statistics.mean(before)) / statistics.stdev(before)
    assert gain > 0.5, f"mean reward rose by only {gain:.2f} standard deviations"
    assert result.trainer.ref_model is not None, "classic RLHF keeps a frozen reference for the KL penalty"
    kls = result.losses("kl")
    assert kls and all(abs(kl) < 1.0 for kl in kls), f"the KL per token ran away: {kls}"


def test_the_reward_hacking_exercise_accepts_the_hacked_answer_and_rejects_the_others(monkeypatch):
    """A judge that, like lesson 03's, pays for tone only: the polite answer with a wrong fact is the hack."""
    from labkit.core.data.tone import tone_of
    from labkit.lessons import l03_rlhf as lesson

    def judge_of_tone(model, tokenizer, prompts, answers):
        return [{"polite": 2.0, "neutral": 0.0, "rude": -2.0}[tone_of(answer)] for answer in answers]

    monkeypatch.setattr(lesson, "score", judge_of_tone)
    candidates = lesson.hacking_candidates("tiny", None, None)
    assert list(candidates.index) == list("ABCDE")
    solution = lesson.hacked_pick_solution(candidates)
    hacked = candidates.loc[solution]
    assert tone_of(hacked["answer"]) == "polite" and hacked["world_says"].split(": ")[1] not in hacked["answer"]
    assert lesson.check_hacked_pick(solution, candidates).ok
    assert lesson.check_hacked_pick(solution.lower(), candidates).ok
    verdicts = {letter: lesson.check_hacked_pick(letter, candidates) for letter in candidates.index if letter != solution}
    assert all(verdict.status == "wrong" for verdict in verdicts.values())
    rude_and_low = [v for letter, v in verdicts.items() if tone_of(candidates.loc[letter, "answer"]) == "rude"]
    assert rude_and_low and all("scores it low" in v.message for v in rude_and_low)
    assert lesson.check_hacked_pick("Z", candidates).status == "wrong"
    assert lesson.check_hacked_pick(..., candidates).status == "not attempted"
