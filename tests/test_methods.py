"""Each training method learns on a tiny configuration: a few steps from the base model, seconds each.

The lessons' full effects (polite rate, held-out accuracy) are checked by the notebook runs and the
``slow`` tests; these check that every trainer is wired to learn at all.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from labkit.paths import TINY_DIR


@pytest.fixture(scope="module")
def pairs():
    from labkit.core.data.preferences import load_preference_set

    return load_preference_set("train", limit=64)


def falls(losses: list[float], by: float = 0.5) -> bool:
    """The last logged loss is below ``by`` × the first."""
    return len(losses) >= 2 and losses[-1] < by * losses[0]


def test_sft_loss_falls(tiny_model, tiny_tokenizer, splits, tmp_path):
    from labkit.methods.sft import SFTSettings, train_sft

    settings = SFTSettings(max_steps=10, batch_size=16, learning_rate=1e-3, logging_steps=2, live_plot=False,
                           output_dir=str(tmp_path))
    result = train_sft(tiny_model, tiny_tokenizer, splits["train"].select(range(160)), None, settings)
    assert falls(result.losses()), result.losses()
    assert result.tokens_per_second > 0


def test_reward_model_loss_falls_and_it_ranks_chosen_first(tiny_tokenizer, pairs, tmp_path):
    from labkit.methods.reward import RewardSettings, pairwise_accuracy, train_reward_model

    settings = RewardSettings(max_steps=8, batch_size=8, logging_steps=2, live_plot=False, output_dir=str(tmp_path))
    result = train_reward_model(TINY_DIR, tiny_tokenizer, pairs, settings)
    assert falls(result.losses()), result.losses()
    assert pairwise_accuracy(result.model, tiny_tokenizer, pairs.select(range(32))) > 0.8


def test_dpo_loss_falls_and_the_adapter_prefers_chosen(tiny_model, tiny_tokenizer, pairs, tmp_path):
    from labkit.methods.dpo import DPOSettings, implicit_rewards, preference_accuracy, reference_logps, train_dpo

    settings = DPOSettings(max_steps=8, batch_size=8, logging_steps=2, live_plot=False, output_dir=str(tmp_path))
    result = train_dpo(tiny_model, tiny_tokenizer, pairs, settings)
    assert falls(result.losses(), by=0.7), result.losses()
    held = pairs.select(range(32))
    accuracy, margin = preference_accuracy(result.model, tiny_tokenizer, held, settings.beta)
    assert accuracy > 0.8 and margin > 0, (accuracy, margin)
    # A reference computed once (as the beta sweep does) gives the rewards computed each time.
    computed = implicit_rewards(result.model, tiny_tokenizer, held, settings.beta)
    reused = implicit_rewards(result.model, tiny_tokenizer, held, settings.beta,
                              reference_logps(result.model, tiny_tokenizer, held))
    assert all(torch.allclose(a, b) for a, b in zip(computed, reused)) and computed[0].abs().sum() > 0


def test_rloo_raises_a_programmed_reward(tiny_model, tiny_tokenizer, tmp_path):
    """A reward any policy can learn in a few steps: shorter replies score higher."""
    from labkit.methods.rloo import RLSettings, train_policy

    def brevity(completions, **kwargs):
        return [-len(c[0]["content"]) / 50 for c in completions]  # conversational: one assistant message

    questions = [f"Where does person {i} live?" for i in range(32)]
    settings = RLSettings(max_steps=5, batch_size=4, num_generations=4, max_completion_length=24, learning_rate=1e-3,
                          beta=0.0, logging_steps=1, live_plot=False, output_dir=str(tmp_path))
    result = train_policy(tiny_model, tiny_tokenizer, brevity, questions, settings)
    rewards = result.losses("reward")
    assert statistics.mean(rewards[-2:]) > rewards[0] + 0.3, rewards
