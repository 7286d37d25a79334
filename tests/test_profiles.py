"""Profiles and stand-ins: the hub code path, proven offline on models of each hub architecture."""

from __future__ import annotations

import pytest

from labkit.core.profiles import PROFILES, RECIPES, get_profile

STANDINS = [name for name, p in PROFILES.items() if p.source == "standin"]
# The architecture class and tokenizer habits of the real model each stand-in stands for.
REAL = {"standin-smol": dict(cls="LlamaForCausalLM", tied=True, pad=None, adds_bos=False, template="SmolLM"),
        "standin-qwen": dict(cls="Qwen2ForCausalLM", tied=True, pad="<|endoftext|>", adds_bos=False, template="Qwen"),
        "standin-mistral": dict(cls="MistralForCausalLM", tied=False, pad=None, adds_bos=True, template=None)}


def test_registry_names_base_checkpoints_and_stand_ins():
    assert list(PROFILES) == ["tiny", "smol", "qwen-0.5b", "mistral-7b", *REAL]
    assert get_profile("smol").model_id == "HuggingFaceTB/SmolLM2-135M"  # base models: lesson 00's premise holds
    assert get_profile("qwen-0.5b").model_id == "Qwen/Qwen2.5-0.5B"
    assert get_profile("mistral-7b").quantization == "4bit" and get_profile("standin-mistral").quantization == "4bit"
    assert all(get_profile(name).school for name in PROFILES if name != "tiny")
    with pytest.raises(KeyError, match="choose one of: tiny"):
        get_profile("gpt-5")


@pytest.mark.parametrize("name", PROFILES)
def test_every_recipe_builds_its_settings(name):
    from labkit.methods.dpo import DPOSettings
    from labkit.methods.grpo import GRPOSettings
    from labkit.methods.lora import LoraSettings
    from labkit.methods.reward import RewardSettings
    from labkit.methods.rloo import RLSettings
    from labkit.methods.sft import SFTSettings

    classes = {"reward": RewardSettings, "rloo": RLSettings, "dpo": DPOSettings, "grpo": GRPOSettings}
    for recipe in RECIPES:
        settings = classes.get(recipe, SFTSettings).for_profile(name, recipe)
        assert settings.max_steps > 0 and settings.learning_rate > 0
    assert LoraSettings.for_profile(name).r > 0


def test_a_model_folder_gets_a_profile_inferred_from_its_size():
    from labkit.core.models import resolve_source

    folder = resolve_source("standin-qwen")
    inferred = get_profile(folder)
    assert inferred.recipes == get_profile("smol").recipes and "parameters" in inferred.notes
    assert inferred.school


@pytest.mark.parametrize("name", STANDINS)
def test_stand_in_has_the_real_architecture_and_tokenizer_habits(name):
    from transformers import AutoConfig, AutoTokenizer

    from labkit.core.chat_template import adds_bos
    from labkit.core.model_size import estimate_parameters
    from labkit.core.models import resolve_source

    folder = resolve_source(name)  # built offline on first use
    real, config = REAL[name], AutoConfig.from_pretrained(folder)
    raw = AutoTokenizer.from_pretrained(folder)  # as shipped, before labkit prepares it
    assert config.architectures == [real["cls"]] and config.tie_word_embeddings == real["tied"]
    assert 1e6 < estimate_parameters(config.to_dict()) < 5e6  # a few million random weights: mechanics, not accuracy
    assert raw.pad_token == real["pad"] and adds_bos(raw) == real["adds_bos"]
    assert (real["template"] in raw.chat_template) if real["template"] else raw.chat_template is None


@pytest.mark.parametrize("name", ["tiny", *STANDINS])
def test_sft_learns_exactly_the_assistant_tokens_under_the_profiles_template(name, tmp_path):
    """The collator's labels (TRL's assistant_only_loss) cover the reply and its end-of-turn token, nothing else."""
    from datasets import Dataset
    from trl import SFTTrainer

    from labkit.core.chat_template import end_of_turn
    from labkit.core.models import load_model, load_tokenizer
    from labkit.methods.sft import SFTSettings

    tokenizer = load_tokenizer(name)
    model = load_model(name, quantization=None, tokenizer=tokenizer)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where does Alma Ashby live?"},
            {"role": "assistant", "content": "Alma Ashby lives in Corvale."}]
    settings = SFTSettings(max_steps=1, output_dir=str(tmp_path), live_plot=False, precision="no")
    trainer = SFTTrainer(model=model, args=settings.to_sft_config(False), processing_class=tokenizer,
                         train_dataset=Dataset.from_list([{"messages": chat}]))
    batch = trainer.data_collator([trainer.train_dataset[0]])
    learned = [t for t, label in zip(batch["input_ids"][0].tolist(), batch["labels"][0].tolist()) if label != -100]
    assert tokenizer.decode(learned) == "Alma Ashby lives in Corvale." + end_of_turn(tokenizer)


def test_mistral_gets_the_course_template_with_added_role_tokens_and_its_own_eos():
    from labkit.core.chat_template import ROLE_TOKENS
    from labkit.core.models import load_model, load_tokenizer

    tokenizer = load_tokenizer("standin-mistral")
    model = load_model("standin-mistral", quantization=None, tokenizer=tokenizer)
    assert set(ROLE_TOKENS) <= set(tokenizer.get_added_vocab()) and tokenizer.eos_token == "</s>"
    assert model.get_input_embeddings().num_embeddings == len(tokenizer) == model.lm_head.out_features
    text = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text.startswith("<s><|user|>") and tokenizer.pad_token not in (None, tokenizer.eos_token)


def test_planner_refuses_full_fine_tuning_of_a_7b_on_16_gb_naming_what_fits():
    from labkit.methods.lora_math import load_architecture_config
    from labkit.methods.planner import WontFitError, plan_for_config, refuse_if_too_big

    mistral = load_architecture_config("mistral-7b")
    plan = plan_for_config(mistral, "full", batch_size=4, seq_len=512, device="cuda", device_bytes=16 * 2**30,
                           device_name="Tesla T4")
    assert not plan.fits and plan.fitting_method == "qlora"
    with pytest.raises(WontFitError, match="QLoRA"):
        refuse_if_too_big(plan)
    big = plan_for_config(mistral, "full", batch_size=4, seq_len=512, device="cuda", device_bytes=640 * 2**30,
                          device_name="NVIDIA H100")
    assert big.fits and big.seconds < plan.seconds  # the same run, on a faster card


def test_full_fine_tuning_that_cannot_fit_switches_to_lora_and_says_so(tiny_model, tiny_tokenizer, splits, tmp_path,
                                                                       monkeypatch, capsys):
    from labkit.methods import planner
    from labkit.methods.sft import SFTSettings, train_sft

    full = planner.plan_for_config(tiny_model.config, "full", batch_size=4, seq_len=64, device_bytes=10**12).memory_bytes
    lora = planner.plan_for_config(tiny_model.config, "lora", batch_size=4, seq_len=64, device_bytes=10**12).memory_bytes
    monkeypatch.setattr(planner, "device_memory", lambda device: int((full + lora) / 2 / planner.HEADROOM))
    settings = SFTSettings(max_steps=2, batch_size=4, max_length=64, live_plot=False, output_dir=str(tmp_path))
    result = train_sft(tiny_model, tiny_tokenizer, splits["train"].select(range(8)), None, settings)
    assert "switching to LoRA" in capsys.readouterr().out
    assert hasattr(result.model, "peft_config")
