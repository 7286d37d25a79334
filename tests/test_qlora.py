"""QLoRA on the tiny model: the base really is 4-bit, the adapter survives save and reload, the
merged model matches the adapter model, and the chat loop decodes only what it generated."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from labkit.core.chat import Chat, chat_loop
from labkit.core.models import load_model
from labkit.core.evaluate import logits_on, max_abs_difference
from labkit.methods.adapters import (AdaptersInFloat32, adapter_megabytes, load_adapter, merge_adapter, save_adapter,
                                     save_merged)
from labkit.methods.quantization import (PRECISIONS, linear4bit_bytes, quantized_layer_names, summarize_quantization,
                                         weight_bytes_by_precision)
from labkit.methods.sft import SFTSettings, train_sft

# Merging into the dequantized base changes only float rounding: W + B·A computed once and
# stored, instead of W·x + B·(A·x) at every step. In fp32 that moves logits by ~1e-5; we allow 1e-3.
MERGE_TOLERANCE_FP32 = 1e-3
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CONVERSATIONS = [[{"role": "user", "content": "Where does Alma Ashby live?"},
                  {"role": "assistant", "content": "Alma Ashby lives in Corvale."}],
                 [{"role": "user", "content": "What is the job of Tova Nettleford?"},
                  {"role": "assistant", "content": "Tova Nettleford is a potter."}]]


@pytest.fixture(scope="module")
def base_4bit():
    return load_model("tiny", quantization="4bit")


@pytest.fixture(scope="module")
def adapter_model(splits, tiny_tokenizer, tmp_path_factory):
    """The 4-bit tiny model with a LoRA adapter trained for a few steps through TRL."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(load_model("tiny", quantization="4bit"))
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj"]))
    settings = SFTSettings(max_steps=4, learning_rate=1e-2, batch_size=8, warmup_steps=0, live_plot=False,
                           output_dir=str(tmp_path_factory.mktemp("qlora-run")))
    run = train_sft(model, tiny_tokenizer, splits["train"].select(range(64)), None, settings,
                    callbacks=[AdaptersInFloat32()])
    return run.model.eval()


@pytest.fixture(scope="module")
def adapter_folder(adapter_model, tmp_path_factory):
    return save_adapter(adapter_model, tmp_path_factory.mktemp("qlora") / "adapter")


def test_every_projection_is_4bit_and_the_rest_is_not(base_4bit):
    import bitsandbytes as bnb

    names = quantized_layer_names(base_4bit)
    assert len(names) == len(PROJECTIONS) * base_4bit.config.num_hidden_layers
    for name, module in base_4bit.named_modules():
        if name.rsplit(".", 1)[-1] in PROJECTIONS:
            assert isinstance(module, bnb.nn.Linear4bit), name
            assert module.weight.dtype == torch.uint8  # two 4-bit codes per byte
            assert module.weight.numel() == module.in_features * module.out_features // 2
            assert module.weight.quant_state.quant_type == "nf4"
            assert module.weight.quant_state.nested  # double quantization
    kept = {row.kind: row for row in summarize_quantization(base_4bit) if row.layer_type != "Linear4bit"}
    assert {"embed_tokens", "norm", "lm_head"} <= set(kept)
    assert kept["embed_tokens"].storage == "float32" and kept["norm"].storage == "float32"
    assert all(row.why for row in kept.values())


def test_4bit_byte_counts_are_what_nf4_promises(base_4bit):
    """Half a byte per weight, one 8-bit scale per block of 64, one fp32 per 256 scales, plus
    the two lookup tables (16 NF4 levels, 256 levels for the scales) and an fp32 offset."""
    modules = [base_4bit.get_submodule(name) for name in quantized_layer_names(base_4bit)]
    expected = 0
    for module in modules:
        weights = module.in_features * module.out_features
        blocks = math.ceil(weights / 64)
        expected += weights // 2 + blocks + 4 * math.ceil(blocks / 256) + 4 + 16 * 4 + 256 * 4
    assert linear4bit_bytes(modules) == expected


def test_measured_bytes_match_the_loaded_4bit_model(base_4bit):
    full = load_model("tiny", quantization=None)
    names = quantized_layer_names(base_4bit)
    sizes = weight_bytes_by_precision(full, names)
    assert list(sizes) == list(PRECISIONS)
    modules = [base_4bit.get_submodule(name) for name in names]
    assert sizes["nf4 + double quant"] == linear4bit_bytes(modules)
    assert sizes["bf16"] * 2 == sizes["fp32"]
    assert sizes["nf4 + double quant"] < sizes["nf4"] < sizes["int8"] < sizes["bf16"]
    assert sizes["nf4 + double quant"] / sizes["bf16"] <= 0.30
    assert weight_bytes_by_precision(base_4bit, names) == sizes  # measured from the 4-bit model too


def test_adapters_train_in_float32_despite_trl(adapter_model):
    """TRL casts a quantized model's adapters to bf16; AdaptersInFloat32 casts them back, and they trained."""
    lora = {name: p for name, p in adapter_model.named_parameters() if "lora_" in name}
    assert lora and all(p.dtype == torch.float32 for p in lora.values())
    assert all(p.abs().max() > 0 for name, p in lora.items() if "lora_B" in name)  # B starts at zero


def test_adapter_round_trips_through_save_and_reload(adapter_model, adapter_folder, tiny_tokenizer):
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter_folder.iterdir()}
    assert not any(p.suffix == ".bin" for p in adapter_folder.iterdir())
    assert 0 < adapter_megabytes(adapter_folder) < 2  # only the adapter, not the 13 MB base
    before = logits_on(adapter_model, tiny_tokenizer, CONVERSATIONS)
    reloaded = load_adapter("tiny", adapter_folder)
    assert max_abs_difference(before, logits_on(reloaded, tiny_tokenizer, CONVERSATIONS)) == 0.0
    base_only = logits_on(load_model("tiny", quantization="4bit"), tiny_tokenizer, CONVERSATIONS)
    assert max_abs_difference(before, base_only) > 0.01  # the adapter really changed the outputs


def test_saving_again_replaces_the_adapter_whole(adapter_model, tmp_path):
    folder = save_adapter(adapter_model, tmp_path / "adapter")
    first = (folder / "adapter_model.safetensors").read_bytes()
    (folder / "stale.txt").write_text("from an older save")
    save_adapter(adapter_model, folder)
    assert not (folder / "stale.txt").exists()
    assert (folder / "adapter_model.safetensors").read_bytes() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]  # no temporary folders left


def test_a_failed_save_leaves_the_old_adapter_whole(adapter_model, tmp_path, monkeypatch):
    folder = save_adapter(adapter_model, tmp_path / "adapter")
    before = (folder / "adapter_model.safetensors").read_bytes()

    def crash(self, path, **kwargs):
        (Path(path) / "adapter_model.safetensors").write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(type(adapter_model), "save_pretrained", crash)
    with pytest.raises(OSError):
        save_adapter(adapter_model, folder)
    assert (folder / "adapter_model.safetensors").read_bytes() == before


def test_an_interrupted_swap_is_repaired_on_the_next_save(adapter_model, tmp_path):
    folder = save_adapter(adapter_model, tmp_path / "adapter")
    folder.rename(folder.with_name("adapter.old"))  # as if killed between the two renames
    save_adapter(adapter_model, folder)
    assert (folder / "adapter_model.safetensors").exists()
    assert not folder.with_name("adapter.old").exists()


def test_merged_model_matches_the_adapter_model(adapter_model, adapter_folder, tiny_tokenizer, tmp_path):
    import bitsandbytes as bnb

    reference = logits_on(adapter_model, tiny_tokenizer, CONVERSATIONS)
    merged = merge_adapter("tiny", adapter_folder)
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in merged.modules())
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert max_abs_difference(reference, logits_on(merged, tiny_tokenizer, CONVERSATIONS)) < MERGE_TOLERANCE_FP32
    folder = save_merged(merged, tiny_tokenizer, tmp_path / "merged")
    assert (folder / "model.safetensors").exists()
    assert "quantization_config" not in (folder / "config.json").read_text()
    plain = load_model(folder, quantization=None)
    assert max_abs_difference(reference, logits_on(plain, tiny_tokenizer, CONVERSATIONS)) < MERGE_TOLERANCE_FP32


def test_merging_into_the_original_weights_would_be_far_worse(adapter_model, adapter_folder, tiny_tokenizer):
    """Why we dequantize first: the adapter corrects the 4-bit weights, not the original ones."""
    from peft import PeftModel

    reference = logits_on(adapter_model, tiny_tokenizer, CONVERSATIONS)
    wrong = PeftModel.from_pretrained(load_model("tiny", quantization=None), str(adapter_folder)).merge_and_unload()
    assert max_abs_difference(reference, logits_on(wrong, tiny_tokenizer, CONVERSATIONS)) > 100 * MERGE_TOLERANCE_FP32


class _ScriptedModel(torch.nn.Module):
    """Stands in for a model: ``generate`` returns the prompt followed by a fixed reply."""

    def __init__(self, reply_ids: list[int]):
        super().__init__()
        self.reply_ids, self.prompts = reply_ids, []
        self.device = torch.device("cpu")

    def generate(self, input_ids, **kwargs):
        self.prompts.append(input_ids)
        return torch.cat([input_ids, torch.tensor([self.reply_ids])], dim=1)


def test_chat_decodes_only_the_new_tokens_and_keeps_the_history(tiny_tokenizer):
    reply_ids = tiny_tokenizer("Alma Ashby lives in Corvale.", add_special_tokens=False)["input_ids"]
    reply_ids += [tiny_tokenizer.convert_tokens_to_ids("<|end|>")]
    model = _ScriptedModel(reply_ids)
    chat = Chat(model, tiny_tokenizer, system_prompt="You answer in one sentence.")
    assert chat.send("Where does Alma Ashby live?") == "Alma Ashby lives in Corvale."
    assert chat.send("And her pet?") == "Alma Ashby lives in Corvale."
    assert [m["role"] for m in chat.history] == ["user", "assistant", "user", "assistant"]
    expected = tiny_tokenizer.apply_chat_template(chat.messages()[:-1], tokenize=False, add_generation_prompt=True)
    assert chat.last_prompt == expected
    assert tiny_tokenizer.decode(model.prompts[-1][0]) == expected  # the model saw the whole history
    assert chat.last_prompt.startswith("<|system|>\nYou answer in one sentence.<|end|>")
    assert "Where does Alma Ashby live?" in chat.last_prompt and chat.last_prompt.endswith("<|assistant|>\n")
    chat.reset()
    assert chat.history == [] and chat.messages()[0]["role"] == "system"


def test_chat_with_the_real_model_and_a_scripted_loop(tiny_tokenizer):
    model = load_model("tiny")
    chat = Chat(model, tiny_tokenizer, max_new_tokens=12)
    lines = iter(["Where does Alma Ashby live?", "And what is her job?", "quit"])
    shown = []
    history = chat_loop(chat, read=lambda prompt: next(lines), write=shown.append)
    assert len(history) == 4 and len(shown) == 2
    assert all("<|" not in m["content"] for m in history)  # no template markup leaks into replies
    assert "Where does Alma Ashby live?" in chat.last_prompt  # the first turn is still in the prompt
    assert chat.last_prompt.count("<|assistant|>") == 2


def test_chat_box_shows_the_turns(tiny_tokenizer):
    from labkit.ui.widgets.chat import ChatBox

    reply_ids = tiny_tokenizer("Hello.", add_special_tokens=False)["input_ids"]
    box = ChatBox(Chat(_ScriptedModel(reply_ids), tiny_tokenizer))
    box.system_prompt.value = "Be brief."
    assert box.send("Hi <there>") == "Hello."
    assert "labkit-chat-user" in box.transcript.value and "labkit-chat-assistant" in box.transcript.value
    assert "Hi &lt;there&gt;" in box.transcript.value  # escaped, not rendered as HTML
    assert box.chat.system_prompt == "Be brief." and box.message.value == ""
    assert box.send("   ") is None and "labkit-chat-error" in box.status.value
    box.reset()
    assert box.chat.history == [] and "labkit-chat-turn" not in box.transcript.value
    assert "labkit-chat" in box._dom_classes


def test_the_13b_memory_exercise_accepts_the_estimate_and_names_each_slip():
    from labkit.lessons.l05_qlora import (
        EXERCISE_RECIPE,
        check_memory_estimate,
        memory_exercise_facts,
        memory_solution,
    )
    from labkit.methods.lora_math import load_architecture_config
    from labkit.methods.memory import estimate_training_memory

    facts = memory_exercise_facts()
    assert facts["parameters (P)"] == 13_015_864_320  # Llama-2-13B
    base, projections = facts["parameters (P)"], facts["in the projections (P_proj)"]
    adapters, activations = facts["LoRA parameters at r = 16 on q, k, v, o (T)"], facts["activations, estimated (GiB)"]
    by_hand = (projections * (0.5 + 1 / 64) + (base - projections) * 2 + adapters * 16) / 2**30 + activations
    assert check_memory_estimate(by_hand).ok, "the lesson's rules by hand land within the tolerance"
    assert check_memory_estimate(memory_solution()).ok
    config = load_architecture_config("llama-2-13b")
    lora = estimate_training_memory(config, "lora", **EXERCISE_RECIPE).total / 2**30
    assert "plain LoRA" in check_memory_estimate(lora).message
    assert "activations are missing" in check_memory_estimate(by_hand - activations).message
    assert "bf16" in check_memory_estimate((base * (0.5 + 1 / 64) + adapters * 16) / 2**30 + activations).message
    assert "GB" in check_memory_estimate(memory_solution() * 2**30 / 1e9).message
    assert "bytes" in check_memory_estimate(memory_solution() * 2**30).message
    assert check_memory_estimate(3.0).status == "wrong" and "too low" in check_memory_estimate(3.0).message
    assert check_memory_estimate(None).status == "not attempted"
