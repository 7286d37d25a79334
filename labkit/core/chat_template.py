"""The chat template every profile trains with: turns become one string, the assistant's part marked.

``{% generation %}`` marks what the assistant says, so TRL can train on those tokens only
(``assistant_only_loss``). Hub templates lack the markers, and some base models have no template.
:func:`prepare_tokenizer` gives every tokenizer a training template, once:

- a template in the ChatML family (SmolLM2, Qwen2.5) keeps its own text, with the markers added
  around the assistant's content and its ``<|im_end|>``;
- a tokenizer with no template (Mistral-7B-v0.1) gets the course's: its role tokens are added as
  special tokens (the model's embeddings must then be resized: ``labkit.core.models.load_model`` does
  it), and turns end with the EOS token the model already knows;
- the tiny model already trains with the course's template.

It also makes the end of an assistant turn the tokenizer's EOS (generation stops there) and gives the
tokenizer a pad token distinct from it: padding with the EOS token (a common shortcut) hides the end of
every turn from the loss in collators that mask padding by token id, and the model never learns to stop.

>>> from jinja2 import Template
>>> print(Template(strip_markers(CHAT_TEMPLATE)).render(messages=[{"role": "user", "content": "Hi"}],
...                                                   add_generation_prompt=True), end="")
<|user|>
Hi<|end|>
<|assistant|>
"""

from __future__ import annotations

import re

END = "<|end|>"  # the end of every turn in the course's template (the tiny model's)
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", *ROLE_TOKENS, END]


def course_template(end: str = END) -> str:
    """The course's template, ending every turn with ``end``: the tiny model's ``<|end|>``, or the EOS a
    base model already learned to produce (Mistral's ``</s>``), so no output row has to be learned anew."""
    return (
        "{% for message in messages %}"
        "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
        "{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}"
        "{{ '<|' + message['role'] + '|>\n' }}"
        "{% if message['role'] == 'assistant' %}"
        f"{{% generation %}}{{{{ message['content'] + '{end}' }}}}{{% endgeneration %}}"
        f"{{% else %}}{{{{ message['content'] + '{end}' }}}}{{% endif %}}"
        "{{ '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    )


CHAT_TEMPLATE = course_template()

# One ChatML turn as SmolLM2 and Qwen2.5 write it: '<|im_start|>' + role + '\n' + content + '<|im_end|>' + '\n'
CHATML_TURN = re.compile(
    r"\{\{-?\s*'<\|im_start\|>'\s*\+\s*(?P<role>message(?:\['role'\]|\.role))\s*\+\s*'\\n'\s*\+\s*"
    r"(?P<content>message(?:\['content'\]|\.content))\s*\+\s*'<\|im_end\|>'\s*\+\s*'\\n'\s*-?\}\}")


def strip_markers(template: str) -> str:
    """The template without ``{% generation %}`` markers (plain Jinja cannot render them)."""
    return template.replace("{% generation %}", "").replace("{% endgeneration %}", "")


def add_generation_markers(template: str) -> str | None:
    """A ChatML template with the assistant's content and ``<|im_end|>`` marked, or None if it is not ChatML.

    >>> marked = add_generation_markers("{% for message in messages %}{{'<|im_start|>' + message['role'] + "
    ...     "'\\\\n' + message['content'] + '<|im_end|>' + '\\\\n'}}{% endfor %}")
    >>> "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}" in marked
    True
    """
    def marked(turn: re.Match) -> str:
        role, content = turn["role"], turn["content"]
        return (f"{{% if {role} == 'assistant' %}}{{{{ '<|im_start|>assistant\\n' }}}}"
                f"{{% generation %}}{{{{ {content} + '<|im_end|>' }}}}{{% endgeneration %}}{{{{ '\\n' }}}}"
                f"{{% else %}}{turn[0]}{{% endif %}}")

    if "{% generation %}" in template:
        return template
    result, turns = CHATML_TURN.subn(marked, template)
    return result if turns else None


def end_of_turn(tokenizer) -> str:
    """The token that ends an assistant turn under this tokenizer's template."""
    template = tokenizer.chat_template or ""
    return next((end for end in ("<|im_end|>", END) if end in template), tokenizer.eos_token)


def chat_token_ids(tokenizer) -> list[int]:
    """The ids of the special tokens this tokenizer's template writes around every turn.

    >>> from labkit.core.models import load_tokenizer
    >>> load_tokenizer("tiny").convert_ids_to_tokens(chat_token_ids(load_tokenizer("tiny")))
    ['<|system|>', '<|user|>', '<|assistant|>', '<|end|>']
    """
    tokens = ["<|im_start|>", "<|im_end|>"] if end_of_turn(tokenizer) == "<|im_end|>" else ROLE_TOKENS + [END]
    return [tokenizer.convert_tokens_to_ids(token) for token in tokens if token in tokenizer.get_vocab()]


def adds_bos(tokenizer) -> bool:
    """Whether this tokenizer puts its BOS token in front of every text (Mistral's and Llama-2's habit)."""
    ids = tokenizer("a")["input_ids"]
    return tokenizer.bos_token_id is not None and bool(ids) and ids[0] == tokenizer.bos_token_id


def prepare_tokenizer(tokenizer):
    """Give ``tokenizer`` a training template, an end-of-turn EOS and a distinct pad token (see the module doc).

    Idempotent: a prepared tokenizer (or one saved after preparing) comes back unchanged.
    """
    template = tokenizer.chat_template
    marked = add_generation_markers(template) if template else None
    if marked:
        tokenizer.chat_template = marked
    elif not template or "{% generation %}" not in template:
        end = tokenizer.eos_token or END
        missing = [t for t in ROLE_TOKENS + [end] if t not in tokenizer.get_vocab()]
        if missing:
            tokenizer.add_special_tokens({"additional_special_tokens": missing})
        # A model pre-trained with a BOS token in front of every text keeps it in front of every chat.
        bos = "{{ bos_token }}" if adds_bos(tokenizer) else ""
        tokenizer.chat_template = bos + course_template(end)
    tokenizer.eos_token = end_of_turn(tokenizer)
    if tokenizer.pad_token is None or tokenizer.pad_token == tokenizer.eos_token:
        spare = next((t for t in (tokenizer.unk_token, "<|endoftext|>", tokenizer.bos_token)
                      if t and t != tokenizer.eos_token and t in tokenizer.get_vocab()), None)
        if spare:
            tokenizer.pad_token = spare
        else:
            tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
    return tokenizer
