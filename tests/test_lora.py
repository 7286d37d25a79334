"""labkit.methods.lora_math counts equal peft's on the real module tree; labkit.methods.memory matches measured peaks."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import torch

from labkit.methods.lora_math import (ARCHITECTURES, count_base_parameters, count_lora_parameters,
                         default_target_modules, load_architecture_config, lora_report,
                         target_module_names)
from labkit.methods.memory import estimate_training_memory

# (rank, which targets): peft's default pair, every projection, and the MLP alone.
SETUPS = [(8, "default"), (16, "all"), (64, "mlp")]


def targets_for(config, which: str) -> tuple[str, ...]:
    names = target_module_names(config)
    if which == "default":
        return default_target_modules(config)
    if which == "all":
        return names
    return tuple(name for name in names if name in {"gate_proj", "up_proj", "down_proj",
                                                     "gate_up_proj", "c_fc"})


def meta_model(config):
    """The architecture on the meta device: the real module tree, no memory for weights."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


@pytest.mark.parametrize("name", ARCHITECTURES)
@pytest.mark.parametrize("rank, which", SETUPS)
def test_counts_equal_peft(name, rank, which):
    from peft import LoraConfig, get_peft_model

    config = load_architecture_config(name)
    targets = targets_for(config, which)
    model = meta_model(config)
    base = model.num_parameters()
    # GPT-2 stores its projections transposed (Conv1D); peft wants to be told.
    lora_config = LoraConfig(r=rank, target_modules=list(targets), fan_in_fan_out=config.model_type == "gpt2")
    with torch.device("meta"):  # the adapters too: built on the CPU, r=64 on a 7B model is ~400 MB
        peft_model = get_peft_model(model, lora_config)
    trainable, peft_total = peft_model.get_nb_trainable_parameters()

    assert count_lora_parameters(config, rank, targets) == trainable
    assert count_base_parameters(config) == base
    report = lora_report(config, rank, targets)
    assert (report.trainable, report.base_total, report.peft_total) == (trainable, base, peft_total)


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_layout_names_every_projection(name):
    """target_module_names lists exactly the linear layers inside a decoder layer."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING
    from transformers.pytorch_utils import Conv1D

    config = load_architecture_config(name)
    model = meta_model(config)
    first_layer = model.get_decoder().layers[0] if hasattr(model.get_decoder(), "layers") \
        else model.transformer.h[0]
    linear_names = {module_name.rsplit(".", 1)[-1] for module_name, module in first_layer.named_modules()
                    if isinstance(module, (torch.nn.Linear, Conv1D))}
    assert set(target_module_names(config)) == linear_names
    peft_default = TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING.get(config.model_type)
    if peft_default is not None:  # peft has no default for phi3
        assert list(default_target_modules(config)) == peft_default


def test_classic_figure():
    """Llama-2-7B, r=8 on q_proj and v_proj: the number every LoRA tutorial prints."""
    report = lora_report(load_architecture_config("llama-2-7b"), 8, ["q_proj", "v_proj"])
    assert report.trainable == 4_194_304
    assert report.base_total == 6_738_415_616
    assert report.peft_total == 6_742_609_920
    assert f"{report.trainable_percent:.2f}" == "0.06"
    assert report.peft_line() == ("trainable params: 4,194,304 || all params: 6,742,609,920 "
                                  "|| trainable%: 0.0622")
    assert report.adapter_bytes_fp32 == 16_777_216 and report.adapter_bytes_bf16 == 8_388_608


def test_tiny_config_is_the_project_model():
    config = load_architecture_config("tiny")
    assert config.model_type == "llama" and config.tie_word_embeddings
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (256, 4, 4)


def test_clear_errors():
    config = load_architecture_config("gpt2")
    with pytest.raises(KeyError, match="known: tiny, smollm2-135m"):
        load_architecture_config("llama-3-8b")
    with pytest.raises(ValueError, match="unknown q_proj; choose from c_attn, c_proj, c_fc"):
        count_lora_parameters(config, 8, ["q_proj"])
    with pytest.raises(ValueError, match="rank must be at least 1"):
        count_lora_parameters(config, 0, ["c_attn"])
    with pytest.raises(ValueError, match="choose from full, lora, qlora"):
        estimate_training_memory(config, "prefix")


def test_memory_estimator_sanity():
    config = load_architecture_config("llama-2-7b")
    base = count_base_parameters(config)
    full = estimate_training_memory(config, "full", dtype="mixed")
    # The classic 16 bytes per parameter for mixed-precision AdamW, before activations.
    assert full.weights + full.gradients + full.optimizer_state == 16 * base
    lora = estimate_training_memory(config, "lora", dtype="bf16")
    qlora = estimate_training_memory(config, "qlora", dtype="bf16")
    assert lora.weights == 2 * base + 4 * lora.trainable  # bf16 base, fp32 adapters
    assert qlora.total < lora.total < full.total
    assert 3.4 < qlora.weights / 2**30 < 3.9  # ~0.52 byte per projection weight + bf16 embeddings
    assert lora.optimizer_state == 8 * 4_194_304
    # Activations scale with tokens; checkpointing keeps far fewer.
    double = estimate_training_memory(config, "lora", dtype="bf16", batch_size=2)
    assert double.activations == 2 * lora.activations
    checkpointed = estimate_training_memory(config, "lora", dtype="bf16", gradient_checkpointing=True)
    assert checkpointed.activations < lora.activations / 5


# --- the estimate against measured peak memory on the tiny model -------------------------

BATCH, SEQ_LEN, RANK, TARGETS = 4, 128, 16, ("q_proj", "v_proj")


def _storage_bytes(tensors) -> int:
    """Bytes of the distinct storages behind these tensors (views and tied weights count once)."""
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
    return sum(storages.values())


def _quant_state_tensors(parameter):
    """The scales bitsandbytes keeps next to a 4-bit weight (and, double-quantised, theirs)."""
    state = getattr(parameter, "quant_state", None)
    while state is not None:
        yield from (t for t in (state.absmax, state.code) if torch.is_tensor(t))
        state = getattr(state, "state2", None)


def measure_peak_training_bytes(model, optimizer, input_ids) -> int:
    """Peak bytes in torch's CPU allocator during one steady-state AdamW step.

    How: a first step creates the optimizer state. Then we add up the storages alive before the
    second step (weights, 4-bit scales, optimizer state, the batch) and run the second step under
    torch.profiler with profile_memory=True, which records every allocation and free of the CPU
    allocator with a running "Total Allocated". Peak = what was alive + the highest running total.
    This sees kernel-internal buffers too, which a tensor census would miss; RSS would also count
    Python, libraries and the allocator's cached pages, which are not training memory.
    """
    from torch.profiler import ProfilerActivity, profile

    def step():
        model(input_ids=input_ids, labels=input_ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    step()
    alive = [*model.parameters(), *model.buffers(), input_ids]
    alive += [t for p in model.parameters() for t in _quant_state_tensors(p)]
    alive += [t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)]
    before = _storage_bytes(alive)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    return before + _highest_total_allocated(prof)


def _highest_total_allocated(prof) -> int:
    """The highest "Total Allocated" among the profiler's [memory] events (bytes since start)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))  # the running total is only exposed in the trace
        events = json.loads(path.read_text())["traceEvents"]
    totals = [event["args"]["Total Allocated"] for event in events if event.get("name") == "[memory]"]
    return max([0, *totals])


def _tiny_model(method: str):
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    from labkit.methods.lora_math import TINY_CONFIG

    kwargs = {"dtype": torch.float32}
    if method == "qlora":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.float32)
    model = AutoModelForCausalLM.from_pretrained(TINY_CONFIG.parent, **kwargs)
    if method != "full":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=RANK, target_modules=list(TARGETS)))
    return model


@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
def test_estimate_matches_measured_peak(method):
    torch.manual_seed(0)
    model = _tiny_model(method)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    input_ids = torch.randint(0, model.config.vocab_size, (BATCH, SEQ_LEN))
    measured = measure_peak_training_bytes(model, optimizer, input_ids)

    estimate = estimate_training_memory(load_architecture_config("tiny"), method, rank=RANK,
                                        target_modules=TARGETS, batch_size=BATCH, seq_len=SEQ_LEN)
    ratio = estimate.total / measured
    print(f"{method}: estimated {estimate.total / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB "
          f"({ratio - 1:+.1%})")
    assert 0.75 <= ratio <= 1.25, f"{method}: estimate {estimate} vs measured {measured:,} bytes"


def test_merge_verdict_holds_a_16_bit_merge_to_float_rounding_and_names_the_4_bit_loss():
    from types import SimpleNamespace

    from labkit.lessons.l02_lora import merge_verdict

    plain = SimpleNamespace(config=SimpleNamespace())
    assert "same function" in merge_verdict(plain, 2e-5)
    with pytest.raises(AssertionError, match="computes something else"):
        merge_verdict(plain, 0.01)
    four_bit = SimpleNamespace(config=SimpleNamespace(quantization_config=object()))
    assert "lossy" in merge_verdict(four_bit, 0.3) and "lesson 05" in merge_verdict(four_bit, 0.3)
