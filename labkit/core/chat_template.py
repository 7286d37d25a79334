"""The course's chat template: how turns become one training string, with the assistant's part marked.

``{% generation %}`` marks what the assistant says, so TRL can train on those tokens only
(``assistant_only_loss``). The tiny model was pre-trained with these special tokens in its
vocabulary; a base checkpoint without a template gets this one.

>>> from jinja2 import Template
>>> print(Template(CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")).render(
...     messages=[{"role": "user", "content": "Hi"}], add_generation_prompt=True), end="")
<|user|>
Hi<|end|>
<|assistant|>
"""

from __future__ import annotations

END = "<|end|>"  # the end of every turn
SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", END]

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}"
    "{{ '<|' + message['role'] + '|>\n' }}"
    "{% if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}"
    "{% else %}{{ message['content'] + '<|end|>' }}{% endif %}"
    "{{ '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def ensure_chat_template(tokenizer):
    """Give a base model's tokenizer (e.g. Mistral-7B-v0.1, which has none) the course's chat template.

    A tokenizer that already has a template keeps it. Returns the tokenizer.
    """
    if tokenizer.chat_template is None:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer
