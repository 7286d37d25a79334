"""Tokenizers with the conventions of SmolLM2, Qwen2.5 and Mistral-7B-v0.1, trained on the course's corpus.

A stand-in cannot download the real tokenizer, so it rebuilds what the course's code meets in one:
the same kind of BPE (byte-level, or SentencePiece-style with byte fallback), the same special
tokens and ids, the same chat template text (or none), no pad token where the real one has none,
and the same BOS habit. Only the vocabulary is smaller. Facts about the real tokenizers, as shipped
on the Hub (checked 2026-11):

- SmolLM2-135M: byte-level BPE; ``<|endoftext|>`` (id 0) is BOS, EOS and UNK; ``<|im_start|>`` 1,
  ``<|im_end|>`` 2; no pad token; no BOS added when tokenizing; a ChatML template with a default
  system prompt.
- Qwen2.5-0.5B: byte-level BPE; special tokens after the vocabulary (``<|endoftext|>``,
  ``<|im_start|>``, ``<|im_end|>``); ``<|endoftext|>`` is EOS and pad; no BOS; a ChatML template with
  a default system prompt (its tool-calling branches are left out here: the course sends no tools).
- Mistral-7B-v0.1: SentencePiece BPE with byte fallback; ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2; ``<s>``
  added in front of every text; no pad token; no chat template at all.
"""

from __future__ import annotations

SMOL_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

QWEN_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) "
    "or (message.role == \"assistant\" and not message.tool_calls) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CHATML_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MISTRAL_TOKENS = ["<unk>", "<s>", "</s>"]


def _byte_level_bpe(documents: list[str], vocab_size: int, special_first: bool):
    """Byte-level BPE (GPT-2 style); the ChatML tokens come first (SmolLM2) or last (Qwen2.5)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=CHATML_TOKENS if special_first else [],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(documents, trainer=trainer)
    if not special_first:
        core.add_special_tokens(CHATML_TOKENS)  # appended after the vocabulary, as in Qwen's
    return core


def smol_tokenizer(documents: list[str], vocab_size: int = 1024):
    """SmolLM2's conventions (see the module docstring)."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_byte_level_bpe(documents, vocab_size, special_first=True),
                                        bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                        unk_token="<|endoftext|>", model_max_length=8192)
    tokenizer.add_special_tokens({"additional_special_tokens": CHATML_TOKENS[1:]})
    tokenizer.chat_template = SMOL_CHAT_TEMPLATE
    return tokenizer


def qwen_tokenizer(documents: list[str], vocab_size: int = 1024):
    """Qwen2.5's conventions (see the module docstring)."""
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_byte_level_bpe(documents, vocab_size, special_first=False),
                                        eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=32768)
    tokenizer.add_special_tokens({"additional_special_tokens": CHATML_TOKENS[1:]})
    tokenizer.chat_template = QWEN_CHAT_TEMPLATE
    return tokenizer


def mistral_tokenizer(documents: list[str], vocab_size: int = 1024):
    """Mistral-7B-v0.1's conventions (see the module docstring): no chat template, BOS added to every text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import LlamaTokenizerFast

    byte_tokens = [f"<0x{i:02X}>" for i in range(256)]  # byte fallback: any character still encodes
    core = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    core.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    # Words start at "▁"; a newline stands alone (SentencePiece spells it as its byte, <0x0A>).
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split("▁", behavior="merged_with_next"),
                                                  pre_tokenizers.Split("\n", behavior="isolated")])
    core.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                      decoders.Strip(" ", 1, 0)])
    trainer = trainers.BpeTrainer(vocab_size=vocab_size + len(byte_tokens), special_tokens=MISTRAL_TOKENS + byte_tokens)
    core.train_from_iterator(documents, trainer=trainer)
    core.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                        special_tokens=[("<s>", 1)])
    return LlamaTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                              add_bos_token=True, add_eos_token=False, model_max_length=32768)


TOKENIZERS = {"smol": smol_tokenizer, "qwen": qwen_tokenizer, "mistral": mistral_tokenizer}
