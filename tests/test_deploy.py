"""Lesson 05's deployment: the merged model as GGUF files that llama.cpp runs and that answer as PyTorch does.

Tests marked ``deploy`` need llama.cpp (``make test-deploy`` builds it once from llama-cpp-python's
source and runs them); without it they are skipped with that reason. The others run everywhere.
"""

from __future__ import annotations

import pytest

from labkit.core.chat_template import CHAT_TEMPLATE
from labkit.methods.gguf_export import OLLAMA_TEMPLATE, Q8_0_BLOCK, pad_mlp_width

DEPLOY_STEPS = 60  # lesson 05's small size (its test parameters)


def test_padding_the_mlp_to_whole_q8_0_blocks_keeps_what_tiny_computes(tiny_tokenizer):
    import torch

    from labkit.core.models import load_model

    model = load_model("tiny", quantization=None, device="cpu")
    ids = tiny_tokenizer(["Alma Ashby lives in", "Question: Where does"], return_tensors="pt", padding=True)
    with torch.no_grad():
        before = model(**ids).logits
        width = pad_mlp_width(model)
        after = model(**ids).logits
    assert (width, width % Q8_0_BLOCK) == (704, 0)
    assert model.model.layers[0].mlp.down_proj.weight.shape == (256, 704)
    assert (after - before).abs().max().item() < 1e-5


def test_the_ollama_template_writes_what_the_chat_template_writes(tiny_tokenizer):
    # Ollama's Go template, expanded by hand for one conversation: the range body once per message.
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where does Alma Ashby live?"},
                {"role": "assistant", "content": "In Corvale."}, {"role": "user", "content": "Her pet?"}]
    head, rest = OLLAMA_TEMPLATE.split("{{- range .Messages }}")
    body, tail = rest.split("{{ end }}")
    expanded = head + "".join(body.replace("{{ .Role }}", m["role"]).replace("{{ .Content }}", m["content"])
                              for m in messages) + tail
    assert tiny_tokenizer.chat_template == CHAT_TEMPLATE
    assert expanded == tiny_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Lesson 05's small merged model, exported and compared on the held-out questions once per run."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: `make test-deploy` builds it")
    from labkit.lessons import l05_qlora
    from labkit.methods.gguf_export import llama_cpp_source

    try:
        llama_cpp_source()
    except FileNotFoundError as missing:  # installed, but this checkout has not unpacked its source
        pytest.skip(str(missing))

    merged = l05_qlora.merged_model("tiny", max_steps=DEPLOY_STEPS)
    out_dir = tmp_path_factory.mktemp("deploy")
    report, comparisons = l05_qlora.deploy(merged, "tiny", out_dir)
    return merged, out_dir, report, comparisons


@pytest.mark.deploy
def test_f16_gguf_answers_the_held_out_questions_as_pytorch_does(deployment):
    _, _, report, comparisons = deployment
    # Every held-out question answered by both (204 on tiny).
    assert len(comparisons["f16"].gguf_replies) == len(comparisons["f16"].pytorch_replies) > 100
    assert report["gguf_agreement_f16"] >= 0.95, comparisons["f16"].differences()[:5]


@pytest.mark.deploy
def test_q8_0_gguf_is_at_most_055_of_f16_and_still_answers(deployment):
    _, _, report, comparisons = deployment
    assert report["gguf_bytes_ratio_q8_0_vs_f16"] <= 0.55
    # It generated every answer without crashing, and most are PyTorch's word for word.
    assert report["gguf_agreement_q8_0"] >= 0.85, comparisons["q8_0"].differences()[:5]
    assert set(report) == {"gguf_agreement_f16", "gguf_agreement_q8_0", "gguf_bytes_ratio_q8_0_vs_f16", "seconds"}


@pytest.mark.deploy
def test_every_matrix_of_the_q8_0_file_is_q8_0(deployment, monkeypatch):
    from labkit.methods.gguf_export import llama_cpp_source

    monkeypatch.syspath_prepend(str(llama_cpp_source() / "gguf-py"))  # llama.cpp's own GGUF reader
    from gguf import GGMLQuantizationType, GGUFReader

    _, out_dir, _, _ = deployment
    tensors = GGUFReader(out_dir / "tiny-q8_0.gguf").tensors
    matrices = {t.name: t.tensor_type for t in tensors if len(t.shape) == 2}
    assert set(matrices.values()) == {GGMLQuantizationType.Q8_0}, matrices
    assert len(matrices) == 1 + 4 * 7  # the embedding (tied to the output) and 7 per layer


@pytest.mark.deploy
def test_llama_cpp_tokenizes_the_chat_prompt_as_the_tokenizer_does(deployment):
    from labkit.core.models import load_tokenizer
    from labkit.methods.gguf_chat import load_gguf, prompt_token_ids

    merged, out_dir, _, _ = deployment
    llm, tokenizer = load_gguf(out_dir / "tiny-f16.gguf"), load_tokenizer(merged)
    for messages in ([{"role": "user", "content": "Where does Alma Ashby live?"}],
                     [{"role": "system", "content": "You answer questions about the valley."},
                      {"role": "user", "content": "What pet does Bruno Calloway have? Say it ... in 3 words!"}]):
        from_llama_cpp, from_tokenizer = prompt_token_ids(llm, tokenizer, messages)
        assert from_llama_cpp == from_tokenizer


@pytest.mark.deploy
def test_a_gguf_chat_keeps_its_history_and_the_modelfile_points_at_the_file(deployment):
    from labkit.methods.gguf_chat import GGUFChat, load_gguf

    _, out_dir, _, _ = deployment
    chat = GGUFChat(load_gguf(out_dir / "tiny-q8_0.gguf"), system_prompt="You answer questions about the valley.")
    first = chat.send("Where does Alma Ashby live?")
    chat.send("What is the job of Alma Ashby?")
    assert [m["role"] for m in chat.messages()] == ["system", "user", "assistant", "user", "assistant"]
    assert first and "<|" not in first  # the reply ends at the end-of-turn token, which is not shown
    modelfile = (out_dir / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./tiny-q8_0.gguf\n") and 'PARAMETER stop "<|end|>"' in modelfile
