"""Lesson 04 at tiny size: DPO learns the preference with one copy of the weights; blind A/B is blind."""

from __future__ import annotations

import gc
import json
import random

import pytest


@pytest.fixture(scope="module")
def sft():
    from labkit.lessons.l01_sft import model as sft_model

    return sft_model("tiny")


def live_module_storages() -> dict[int, int]:
    """Every tensor storage held by a live torch module in this process: pointer -> numbers."""
    import torch

    gc.collect()
    found = {}
    for obj in gc.get_objects():
        if isinstance(obj, torch.nn.Module):
            for tensor in [*obj.parameters(recurse=False), *obj.buffers(recurse=False)]:
                found[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes() // tensor.element_size()
    return found


@pytest.mark.slow
def test_dpo_raises_margin_and_accuracy_keeping_one_copy_of_the_weights(sft):
    from labkit.core.data.preferences import load_preference_set
    from labkit.methods.dpo import DPOSettings, parameters_in_memory, preference_accuracy, train_dpo
    from labkit.core.models import load_model

    _, tokenizer, folder = sft
    heldout = load_preference_set("heldout", limit=120)
    existing = live_module_storages()
    model = load_model(folder)
    base = sum(p.numel() for p in model.parameters())
    settings = DPOSettings(max_steps=15, live_plot=False, output_dir=str(folder) + "-test-dpo")
    result = train_dpo(model, tokenizer, load_preference_set("train", limit=480), settings)

    assert result.trainer.ref_model is None, "with LoRA the reference is the adapter switched off"
    lora = sum(p.numel() for n, p in result.model.named_parameters() if "lora_" in n)
    assert lora > 0
    assert parameters_in_memory(result.trainer.model) == base + lora
    new = {ptr: n for ptr, n in live_module_storages().items() if ptr not in existing}
    buffers = sum(b.numel() for b in result.model.buffers())  # rotary frequencies, not weights
    assert sum(new.values()) == base + lora + buffers, "a second copy of the base weights is in memory"

    accuracy, margin = preference_accuracy(result.model, tokenizer, heldout, settings.beta)
    assert margin > 0.5 and accuracy >= 0.8, (accuracy, margin)
    margins = result.losses("rewards/margins")
    assert margins[-1] > margins[0]


@pytest.mark.slow
def test_without_lora_dpo_would_hold_a_second_copy(sft):
    """The measurement above is sensitive: full fine-tuning DPO makes TRL load a reference copy."""
    from trl import DPOTrainer

    from labkit.core.data.preferences import load_preference_set
    from labkit.methods.dpo import DPOSettings, parameters_in_memory
    from labkit.core.models import load_model

    _, tokenizer, folder = sft
    model = load_model(folder)
    base = sum(p.numel() for p in model.parameters())
    trainer = DPOTrainer(model=model, args=DPOSettings(max_steps=1, output_dir=str(folder) + "-test-dpo-full")
                         .to_dpo_config(), train_dataset=load_preference_set("train", limit=8),
                         processing_class=tokenizer)
    assert parameters_in_memory(trainer.model, trainer.ref_model) == 2 * base


def test_blind_comparison_hides_names_until_scored_and_its_win_rate_matches_the_file(tmp_path):
    from labkit.core.data.labels import LabelStore
    from labkit.core.data.blind import blind_result, make_blind_pairs
    from labkit.core.stats import wilson_interval
    from labkit.ui.widgets.labeler import Labeler

    questions = [f"Where does person {i} live?" for i in range(12)]
    replies = {"model_one": [f"Person {i} lives in Corvale." for i in range(12)],
               "model_two": [f"Happy to help! Person {i} lives in Corvale." for i in range(12)]}
    pairs = make_blind_pairs(questions, replies, seed=1)
    assert {tuple(sorted(p["meta"].values())) for p in pairs} == {("model_one", "model_two")}
    assert len({p["meta"]["a"] for p in pairs}) == 2, "which model is A must vary"
    store = LabelStore(tmp_path / "blind.jsonl")
    labeler = Labeler(store, pairs, annotator="ada", blind=True, model="model_two")

    def visible_text():
        return " ".join(w.value for w in (labeler.prompt, labeler.left, labeler.right, labeler.count,
                                          labeler.status, labeler.reveal))

    rng = random.Random(0)
    for _ in pairs:
        assert "model_one" not in visible_text() and "model_two" not in visible_text()
        labeler.choose(rng.choice(["left", "right", "right", "tie"]))
    assert "model_two" in labeler.reveal.value and "win rate" in labeler.reveal.value

    lines = [json.loads(line) for line in (tmp_path / "blind.jsonl").read_text().splitlines()]
    wins = sum(r["choice"] in ("a", "b") and r["meta"][r["choice"]] == "model_two" for r in lines)
    losses = sum(r["choice"] in ("a", "b") and r["meta"][r["choice"]] == "model_one" for r in lines)
    result = blind_result(store, pairs, model="model_two")
    assert (result.wins, result.losses, result.unlabeled) == (wins, losses, 0)
    assert result.win_rate == pytest.approx(wins / (wins + losses))
    assert result.interval == wilson_interval(wins, wins + losses)
    assert f"{result.win_rate:.0%}" in labeler.reveal.value


def test_wilson_interval_matches_known_values():
    from labkit.core.stats import wilson_interval

    assert [round(x, 3) for x in wilson_interval(8, 10)] == [0.49, 0.943]
    assert [round(x, 3) for x in wilson_interval(0, 10)] == [0.0, 0.278]
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_the_beta_exercise_accepts_a_beta_within_the_drift_target_and_rejects_a_looser_one():
    from labkit.lessons.l04_dpo import (
        beta_solution,
        check_beta,
        gap_asked_for,
        smallest_beta,
    )

    assert gap_asked_for(smallest_beta(10)) == pytest.approx(10)
    sweep = [{"beta": beta, "drift_nats": 0.5} for beta in (0.03, 0.1, 0.3, 1.0)]
    assert beta_solution(10, [0.03, 0.1, 0.3, 1.0]) == 0.3
    assert check_beta(0.3, 10, sweep).ok and "+0.50 nats" in check_beta(0.3, 10, sweep).message
    too_loose = check_beta(0.1, 10, sweep)
    assert too_loose.status == "wrong" and "29.4 nats" in too_loose.message and "larger β" in too_loose.message
    assert "much closer than needed" in check_beta(5.0, 10, sweep).message
    assert check_beta(-1, 10, sweep).status == check_beta("0.3", 10, sweep).status == "wrong"
    assert check_beta(None, 10, sweep).status == "not attempted"
    assert beta_solution(10, [0.1]) == 0.3  # no β of the sweep fits: the bound, rounded up
