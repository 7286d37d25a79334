'''Export a merged model to GGUF, the file llama.cpp and Ollama run, with llama.cpp's own converter.

The converter is ``convert_hf_to_gguf.py`` from the llama.cpp source inside the llama-cpp-python
sdist (``make deploy-install`` downloads and builds it), so the file is written by the same
llama.cpp version that later loads it. Three things the tiny model needs, found on llama.cpp from
llama-cpp-python 0.3.36:

- **Pre-tokenizer.** The converter names the pre-tokenizer by hashing how it splits a test string
  and knows only published models; for tiny's it raises ``NotImplementedError`` in
  ``get_vocab_base_pre``. tiny's pre-tokenizer is GPT-2's byte-level regex, so we map it to
  ``"gpt-2"`` (only when ``tokenizer.json`` says ``ByteLevel`` with GPT-2's regex).
- **Chat template.** It travels in the file as the tokenizer has it. Its ``{% generation %}`` markers
  (for TRL's assistant-only loss) are passed over by both llama-cpp-python's Jinja2 renderer and
  llama.cpp's own template engine. Ollama renders Go templates instead, so the ``Modelfile`` written
  beside the file (:func:`write_modelfile`) carries the same template in Go's syntax.
- **q8_0 shapes.** q8_0 stores each row in blocks of 32 weights. tiny's MLP is 688 wide
  (688 = 21.5 × 32), so ``ffn_down``, whose rows are 688 long, cannot be q8_0: the converter falls
  back to f16 for it, and with a fifth of the weights left in f16 the file is 0.63× the f16 file.
  We zero-pad the MLP to 704 (the next multiple of 32): three more zero rows of gate/up and zero
  columns of down. ``silu(0) · 0 = 0`` and a zero column adds nothing, so the padded model computes
  the same function, and every matrix is q8_0.
- **The reported q8_0 segfault did not reproduce**, so 688 is a size problem, not a crash. Tried with
  llama.cpp built here from llama-cpp-python 0.3.36's source (x86-64 with AVX-512, ``-march=native``):
  the converter's q8_0 file (``ffn_down`` in f16), the same made by ``llama_model_quantize``, and the
  padded file all generate every held-out answer, with and without mmap, 1 to 4 threads, prompts that
  fill the 256-token context, and a context set past it. llama.cpp's CPU repacking, the q8_0 code
  path that has shape conditions, refuses these tensors and uses the plain CPU buffer. The one fault
  seen: a ``Llama`` still alive when Python exits raises in its ``__del__`` (module globals already
  gone), so :mod:`labkit.methods.gguf_chat` closes each one it opens.

>>> print(ollama_modelfile("tiny-q8_0.gguf", CHAT_TEMPLATE, ["<|end|>"], 256), end="")
FROM ./tiny-q8_0.gguf
TEMPLATE """{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}<|end|>
{{ end }}<|assistant|>
"""
PARAMETER stop "<|end|>"
PARAMETER temperature 0
PARAMETER num_ctx 256
'''

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from labkit.core.chat_template import CHAT_TEMPLATE
from labkit.core.files import atomic_write_text
from labkit.paths import LLAMA_CPP_PYTHON_DIR

OUTTYPES = ("f16", "q8_0")
Q8_0_BLOCK = 32  # weights per q8_0 block, along a row; a row's length must be a multiple of it
# The course's chat template (labkit.core.chat_template) in the Go template syntax Ollama renders:
# each turn "<|role|>\n" + content + "<|end|>\n", then "<|assistant|>\n" to prompt the reply.
OLLAMA_TEMPLATE = ("{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}<|end|>\n{{ end }}<|assistant|>\n")


def llama_cpp_source() -> Path:
    """The llama.cpp source folder (with ``convert_hf_to_gguf.py``) of the installed llama-cpp-python.

    Raises FileNotFoundError, naming ``make deploy-install``, when it is not there.
    """
    try:
        version = metadata.version("llama_cpp_python")
    except metadata.PackageNotFoundError:
        raise FileNotFoundError("llama-cpp-python is not installed: run `make deploy-install` (it builds "
                                "llama.cpp from source once: 8 CPU-minutes)") from None
    source = LLAMA_CPP_PYTHON_DIR / f"llama_cpp_python-{version}" / "vendor" / "llama.cpp"
    if not (source / "convert_hf_to_gguf.py").exists():
        raise FileNotFoundError(f"no convert_hf_to_gguf.py in {source}: run `make deploy-install`, which "
                                f"unpacks llama-cpp-python {version}'s source there")
    return source


def padded_width(width: int, multiple: int = Q8_0_BLOCK) -> int:
    """The smallest multiple of ``multiple`` that is at least ``width``.

    >>> padded_width(688), padded_width(704)
    (704, 704)
    """
    return -(-width // multiple) * multiple


def pad_mlp_width(model, multiple: int = Q8_0_BLOCK) -> int:
    """Zero-pad every MLP of a Llama-family model to a width that is a multiple of ``multiple``.

    The new gate/up rows and down columns are zero, so each extra unit outputs ``silu(0) · 0 = 0``
    and the model computes what it computed before. Returns the new width.

    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=40,
    ...                                      num_hidden_layers=1, num_attention_heads=2))
    >>> ids = torch.tensor([[1, 2, 3]])
    >>> before = model(ids).logits
    >>> pad_mlp_width(model), torch.allclose(before, model(ids).logits, atol=1e-6)
    (64, True)
    """
    import torch

    width = model.config.intermediate_size
    new_width = padded_width(width, multiple)
    if new_width == width:
        return width
    extra = new_width - width
    with torch.no_grad():
        for layer in model.model.layers:
            mlp = layer.mlp
            for projection in (mlp.gate_proj, mlp.up_proj):  # rows: one per MLP unit
                projection.weight = torch.nn.Parameter(torch.nn.functional.pad(projection.weight, (0, 0, 0, extra)))
                projection.out_features = new_width
            mlp.down_proj.weight = torch.nn.Parameter(torch.nn.functional.pad(mlp.down_proj.weight, (0, extra)))
            mlp.down_proj.in_features = new_width
    model.config.intermediate_size = new_width
    return new_width


def save_padded_for_blocks(merged_folder: str | os.PathLike, staging: str | os.PathLike) -> Path:
    """Save a copy of the merged model whose MLP width is a multiple of the q8_0 block (see above)."""
    from labkit.core.models import load_model, load_tokenizer, save_model

    model = load_model(merged_folder, quantization=None, device="cpu")
    pad_mlp_width(model)
    shutil.rmtree(staging, ignore_errors=True)
    return save_model(model, load_tokenizer(merged_folder), staging)


def convert(hf_folder: str | os.PathLike, outfile: str | os.PathLike, outtype: str) -> Path:
    """Run llama.cpp's converter on a Hugging Face folder, in a child process; returns ``outfile``.

    A child process keeps the converter's ``sys.path`` entries (its ``gguf-py`` and ``conversion``
    packages) and its logging set-up out of this one. Its log is kept beside the file.
    """
    if outtype not in OUTTYPES:
        raise ValueError(f"outtype {outtype!r}: choose from {', '.join(OUTTYPES)}")
    outfile = Path(outfile)
    outfile.parent.mkdir(parents=True, exist_ok=True)
    run = subprocess.run([sys.executable, "-m", __name__, str(llama_cpp_source()), str(hf_folder), str(outfile),
                          outtype], check=False, capture_output=True, text=True)
    log = outfile.with_suffix(".convert.log")
    log.write_text(run.stdout + run.stderr, encoding="utf-8")
    if run.returncode != 0:
        raise RuntimeError(f"convert_hf_to_gguf failed on {hf_folder} (exit {run.returncode}); its log is "
                           f"{log}. Last lines:\n{run.stderr[-2000:]}")
    return outfile


def export_gguf(merged_folder: str | os.PathLike, out_dir: str | os.PathLike, name: str,
                outtypes=OUTTYPES) -> dict[str, Path]:
    """GGUF files of a merged model, one per outtype: ``{out_dir}/{name}-{outtype}.gguf``.

    >>> export_gguf("build/runs/05_qlora-tiny-r16-60steps-seed0/merged", "build/deploy", "tiny")  # doctest: +SKIP
    {'f16': PosixPath('build/deploy/tiny-f16.gguf'), 'q8_0': PosixPath('build/deploy/tiny-q8_0.gguf')}
    """
    out_dir = Path(out_dir)
    files = {}
    for outtype in outtypes:
        outfile = out_dir / f"{name}-{outtype}.gguf"
        if outtype == "f16":  # any row length is fine for f16: the merged model as it is
            files[outtype] = convert(merged_folder, outfile, outtype)
            continue
        staging = save_padded_for_blocks(merged_folder, out_dir / f".{name}-{outtype}-padded")
        files[outtype] = convert(staging, outfile, outtype)
        shutil.rmtree(staging)
    return files


def ollama_modelfile(gguf_name: str, chat_template: str | None, stop_tokens: list[str], context_length: int) -> str:
    """An Ollama ``Modelfile`` for a GGUF file in the same folder: greedy, stopping at the end-of-turn tokens.

    The TEMPLATE is written for the course's chat template; a model with another template gets
    none, and Ollama then picks one by matching the template stored in the GGUF.
    """
    lines = [f"FROM ./{gguf_name}"]
    if chat_template == CHAT_TEMPLATE:
        lines.append(f'TEMPLATE """{OLLAMA_TEMPLATE}"""')
    else:
        lines.append("# no TEMPLATE: not the course's chat template; Ollama matches the one stored in the GGUF")
    lines += [f'PARAMETER stop "{token}"' for token in stop_tokens]
    lines += ["PARAMETER temperature 0", f"PARAMETER num_ctx {context_length}"]
    return "\n".join(lines) + "\n"


def write_modelfile(merged_folder: str | os.PathLike, gguf_path: str | os.PathLike) -> Path:
    """Write ``Modelfile`` beside a GGUF file: its chat template, stop tokens and context from the
    merged model's tokenizer and configs. ``ollama create NAME -f Modelfile`` then serves it."""
    from transformers import AutoConfig, GenerationConfig

    from labkit.core.models import load_tokenizer

    tokenizer = load_tokenizer(merged_folder)
    stop_ids = GenerationConfig.from_pretrained(merged_folder).eos_token_id or tokenizer.eos_token_id
    stop_ids = stop_ids if isinstance(stop_ids, list) else [stop_ids]
    context = AutoConfig.from_pretrained(merged_folder).max_position_embeddings
    gguf_path = Path(gguf_path)
    text = ollama_modelfile(gguf_path.name, tokenizer.chat_template, tokenizer.convert_ids_to_tokens(stop_ids), context)
    return atomic_write_text(gguf_path.parent / "Modelfile", text)


def _is_gpt2_byte_level(folder: Path) -> bool:
    """True if the folder's tokenizer.json pre-tokenizes with GPT-2's byte-level regex."""
    path = folder / "tokenizer.json"
    pre = json.loads(path.read_text(encoding="utf-8")).get("pre_tokenizer") if path.exists() else None
    return bool(pre) and pre.get("type") == "ByteLevel" and pre.get("use_regex", True)


def _run_converter(source: Path, hf_folder: Path, outfile: Path, outtype: str) -> None:
    """The converter's own ``main()`` steps, with the two mappings tiny needs (module docstring)."""
    import logging

    sys.path[:0] = [str(source), str(source / "gguf-py")]
    import gguf
    import torch
    from conversion import ModelBase, get_model_class

    logging.basicConfig(level=logging.INFO)
    architecture = ModelBase.load_hparams(hf_folder, False)["architectures"][0]
    converter = get_model_class(architecture)
    byte_level = _is_gpt2_byte_level(hf_folder)

    class Converter(converter):
        model_arch = converter.model_arch

        def set_vocab(self):
            # The Llama path tries sentencepiece first and needs its package installed to find
            # that there is no tokenizer.model; a byte-level BPE tokenizer goes straight to GPT-2's.
            if byte_level and not (hf_folder / "tokenizer.model").exists():
                return self._set_vocab_gpt2()
            return super().set_vocab()

        def get_vocab_base_pre(self, tokenizer) -> str:
            try:
                return super().get_vocab_base_pre(tokenizer)
            except NotImplementedError:
                if byte_level:
                    return "gpt-2"
                raise

    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    with torch.inference_mode():
        Converter(hf_folder, file_type, outfile).write()


if __name__ == "__main__":
    _run_converter(*map(Path, sys.argv[1:4]), sys.argv[4])
