"""Lesson 07: the checker, each reward function on known answers, each of the doctor's rules on crafted
logs, the "your turn" check, the GRPO settings of every profile, and GRPOTrainer wired to learn."""

from __future__ import annotations

import statistics

import pytest

from labkit.core.data.two_hop import example, grade, stated_value, two_hop_examples
from labkit.core.data.world import make_people
from labkit.lessons.l07_grpo.rewards import (
    MAX_REWARD,
    correct_answer,
    fact_credit,
    well_formed,
)
from labkit.lessons.l07_grpo.your_turn import check_pet_reward, same_pet_solution
from labkit.methods.grpo_doctor import (
    WINDOW,
    RunDoctor,
    clipped,
    diagnose,
    format_gamed,
    kl_runaway,
    saturated,
    zero_std_fraction,
    zero_variance,
)

PEOPLE = make_people()
ADA = PEOPLE[0]
SAME_TOWN = next(p for p in PEOPLE[1:] if p.town == ADA.town)
OTHER_TOWN = next(p for p in PEOPLE[1:] if p.town != ADA.town)


def chat(*replies: str) -> list[list[dict]]:
    """Completions as GRPOTrainer passes them for a chat dataset: one assistant message each."""
    return [[{"role": "assistant", "content": reply}] for reply in replies]


def columns(b, n: int) -> dict:
    return {"people": [[ADA.name, b.name]] * n, "towns": [[ADA.town, b.town]] * n}


# ---------------------------------------------------------------------------------------------
# The questions and the checker


def test_questions_are_half_yes_and_never_shared_between_train_and_test():
    examples = two_hop_examples({p.name for p in PEOPLE}, n_train=400, n_test=100)
    pairs = {split: {frozenset(e["people"]) for e in part} for split, part in examples.items()}
    assert not pairs["train"] & pairs["test"]
    same = [e["towns"][0] == e["towns"][1] for e in examples["train"]]
    assert 0.4 < statistics.mean(same) < 0.6
    assert all(grade(e["messages"][-1]["content"], e["people"], e["towns"]).correct for e in examples["test"])


def test_a_small_world_asked_too_much_says_so():
    with pytest.raises(ValueError, match="too many"):
        two_hop_examples({p.name for p in PEOPLE[:10]}, n_train=100, n_test=10)


def test_the_checker_reads_each_persons_sentence():
    reply = f"{ADA.name} lives in {OTHER_TOWN.town}. {OTHER_TOWN.name} lives in {ADA.town}. So the answer is no."
    assert stated_value(reply, ADA.name) == OTHER_TOWN.town  # swapped towns: both facts wrong
    assert grade(reply, [ADA.name, OTHER_TOWN.name], [ADA.town, OTHER_TOWN.town]).facts_right == 0


# ---------------------------------------------------------------------------------------------
# Reward functions: known good and bad answers


def test_correct_answer_pays_only_right_facts_with_the_right_verdict():
    right = example(ADA, OTHER_TOWN)["messages"][-1]["content"]
    wrong_verdict = right.replace("answer is no", "answer is yes")
    wrong_fact = right.replace(OTHER_TOWN.town, ADA.town).replace("answer is no", "answer is yes")
    scores = correct_answer(chat(right, wrong_verdict, wrong_fact, "So the answer is no.", ""), **columns(OTHER_TOWN, 5))
    assert scores == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_correct_answer_knows_when_the_answer_is_yes():
    right = example(ADA, SAME_TOWN)["messages"][-1]["content"]
    assert right.endswith("answer is yes.")
    assert correct_answer(chat(right, right.replace("yes", "no")), **columns(SAME_TOWN, 2)) == [1.0, 0.0]


def test_well_formed_pays_the_format_whatever_it_says():
    shaped = "Ada lives in Nowhere. Bo lives in Elsewhere. So the answer is yes."
    assert well_formed(chat(shaped, "Ada lives in Corvale.", "yes", shaped + " Also, hello.")) == [0.2, 0.0, 0.0, 0.0]


def test_fact_credit_pays_each_right_town():
    both = f"{ADA.name} lives in {ADA.town}. {OTHER_TOWN.name} lives in {OTHER_TOWN.town}."
    one = f"{ADA.name} lives in {ADA.town}."
    assert fact_credit(chat(both, one, "I don't know."), **columns(OTHER_TOWN, 3)) == [0.5, 0.25, 0.0]
    assert MAX_REWARD == pytest.approx(1.7)


# ---------------------------------------------------------------------------------------------
# The doctor's rules, on crafted logs


def logs(**series) -> list[dict]:
    """Logs with one value per step for each key: logs(kl=[0.1, 0.2]) → two logs."""
    n = len(next(iter(series.values())))
    return [{"step": 2 * (i + 1), **{k: v[i] for k, v in series.items()}} for i in range(n)]


def test_zero_variance_needs_most_groups_dead_for_a_whole_window():
    assert zero_variance(logs(frac_reward_zero_std=[1.0] * WINDOW)).rule == "zero-variance groups"
    assert zero_variance(logs(frac_reward_zero_std=[0.2] * WINDOW)) is None
    assert zero_variance(logs(frac_reward_zero_std=[1.0] * (WINDOW - 1))) is None  # too early to say


def test_clipped_flags_answers_cut_at_the_length_limit():
    assert "max_completion_length" in clipped(logs(**{"completions/clipped_ratio": [0.6] * WINDOW})).fix
    assert clipped(logs(**{"completions/clipped_ratio": [0.0] * WINDOW})) is None


def test_kl_runaway_needs_a_high_and_rising_kl():
    assert kl_runaway(logs(kl=[0.1, 0.2, 0.3, 0.8, 1.2, 2.0])).rule == "KL running away"
    assert kl_runaway(logs(kl=[0.01, 0.02, 0.02, 0.03, 0.03, 0.04])) is None  # low
    assert kl_runaway(logs(kl=[2.0, 1.8, 1.6, 1.0, 0.9, 0.8])) is None  # high, but coming back


def test_saturated_needs_the_maximum_known():
    top = logs(reward=[1.68, 1.7, 1.69])
    assert saturated(top, max_reward=1.7).rule == "reward saturated"
    assert saturated(top, max_reward=None) is None
    assert saturated(logs(reward=[0.9, 1.0, 1.1]), max_reward=1.7) is None


def test_format_gamed_when_format_rises_and_correctness_does_not():
    gamed = logs(**{"rewards/well_formed/mean": [0.02, 0.04, 0.06, 0.16, 0.18, 0.2],
                    "rewards/correct_answer/mean": [0.3, 0.31, 0.3, 0.3, 0.29, 0.31]})
    honest = logs(**{"rewards/well_formed/mean": [0.02, 0.04, 0.06, 0.16, 0.18, 0.2],
                     "rewards/correct_answer/mean": [0.2, 0.25, 0.3, 0.5, 0.55, 0.6]})
    assert format_gamed(gamed, "correct_answer", "well_formed").rule == "format reward gamed"
    assert format_gamed(honest, "correct_answer", "well_formed") is None
    assert format_gamed(gamed, None, None) is None


def test_a_healthy_run_gets_a_clean_bill():
    healthy = logs(frac_reward_zero_std=[0.1] * 6, kl=[0.01, 0.02, 0.03, 0.04, 0.05, 0.06],
                   reward=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0], **{"completions/clipped_ratio": [0.0] * 6})
    assert diagnose(healthy, max_reward=1.7) == []


def test_run_doctor_prints_each_flag_once_and_stops_a_stuck_run():
    class Control:
        should_training_stop = False

    class State:
        global_step = 0

    printed, control, state = [], Control(), State()
    doctor = RunDoctor(stop_when_stuck=True, log=printed.append)
    for step in range(1, 6):
        state.global_step = step
        doctor.on_log(None, state, control, logs={"frac_reward_zero_std": 1.0, "loss": 0.0})
    assert doctor.rules_flagged == ["zero-variance groups"] and control.should_training_stop
    assert sum("zero-variance" in line for line in printed) == 1
    assert zero_std_fraction(doctor.history) == 1.0


# ---------------------------------------------------------------------------------------------
# Your turn: the check


def test_the_check_accepts_the_solution_and_says_not_attempted_for_a_blank():
    def blank(completions, people, pets, **kwargs):
        ...

    assert check_pet_reward(same_pet_solution).status == "right"
    assert check_pet_reward(blank).status == "not attempted"
    assert check_pet_reward(None).status == "not attempted"


def test_the_check_rejects_a_reward_that_pays_a_guessed_verdict():
    from labkit.core.data.two_hop import stated_verdict

    def verdict_only(completions, people, pets, **kwargs):
        truth = ["yes" if a == b else "no" for a, b in pets]
        return [float(stated_verdict(c[0]["content"]) == t) for c, t in zip(completions, truth)]

    verdict = check_pet_reward(verdict_only)
    assert verdict.status == "wrong" and "guess" in verdict.message


def test_the_check_names_a_crash_without_raising():
    verdict = check_pet_reward(lambda completions, people, pets: 1 / 0)
    assert verdict.status == "wrong" and "ZeroDivisionError" in verdict.message


# ---------------------------------------------------------------------------------------------
# Settings and the trainer


@pytest.mark.parametrize("profile", ["tiny", "smol", "mistral-7b", "standin-qwen"])
def test_every_profile_has_a_grpo_recipe(profile):
    from labkit.methods.grpo import GRPOSettings

    settings = GRPOSettings.for_profile(profile)
    config = settings.to_grpo_config()
    assert config.per_device_train_batch_size == settings.batch_size * settings.num_generations
    assert settings.learning_rate > 0 and settings.num_generations >= 2


def test_the_warm_up_is_short_and_quick_on_tiny_and_keeps_each_profiles_rate_elsewhere():
    from labkit.lessons.l07_grpo import warm_up_settings
    from labkit.methods.sft import SFTSettings

    tiny = warm_up_settings("tiny")
    assert (tiny.max_steps, tiny.learning_rate) == (100, 3e-3)
    assert tiny.learning_rate > SFTSettings.for_profile("tiny", "full").learning_rate
    assert warm_up_settings("tiny", 40).max_steps == 40  # the notebook's warm_up_steps wins
    smol = warm_up_settings("smol")
    assert (smol.max_steps, smol.learning_rate) == (100, SFTSettings.for_profile("smol", "full").learning_rate)


def test_grpo_raises_a_programmed_reward_and_the_doctor_watches(tiny_model, tiny_tokenizer, tmp_path):
    """A reward any policy learns in a few steps (fewer characters in its 24 tokens score higher), read live
    by the doctor."""
    from datasets import Dataset

    from labkit.methods.grpo import GRPOSettings, train_grpo

    def brevity(completions, **kwargs):
        return [-len(c[0]["content"]) / 50 for c in completions]

    prompts = Dataset.from_dict({"prompt": [[{"role": "user", "content": f"Where does person {i} live?"}]
                                            for i in range(32)]})
    settings = GRPOSettings(max_steps=5, batch_size=4, num_generations=4, max_completion_length=24,
                            learning_rate=1e-3, beta=0.0, warmup_steps=0, logging_steps=1, live_plot=False,
                            output_dir=str(tmp_path))
    doctor = RunDoctor()
    rewards = train_grpo(tiny_model, tiny_tokenizer, [brevity], prompts, settings, callbacks=[doctor]).losses("reward")
    assert statistics.mean(rewards[-2:]) > rewards[0] + 0.3, rewards
    assert sum("reward" in log for log in doctor.history) == 5 and zero_std_fraction(doctor.history) < 0.5
