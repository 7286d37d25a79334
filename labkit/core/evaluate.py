"""Measure a model: task accuracy, perplexity, and answers side by side."""

from __future__ import annotations

import math

from labkit.core.batching import forward_padded, generate_texts, render_chats, summed_logprobs
from labkit.core.data.tone import tone_of
from labkit.core.data.world import mentioned_value


def generate_replies(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int = 32,
                     batch_size: int = 32, do_sample: bool = False, temperature: float = 1.0,
                     top_p: float | None = None, return_finished: bool = False):
    """The model's next assistant turn for each conversation; only the new tokens are decoded.

    With ``return_finished=True`` also says, for each reply, whether the model ended its turn
    (emitted the tokenizer's end-of-turn token) within ``max_new_tokens``.
    """
    prompts = render_chats(tokenizer, conversations, add_generation_prompt=True)
    texts, finished = generate_texts(model, tokenizer, prompts, max_new_tokens, batch_size, do_sample,
                                     temperature, top_p)
    replies = [t.strip() for t in texts]
    return (replies, finished) if return_finished else replies


def is_correct(reply: str, expected: dict[str, str]) -> bool:
    """True if, for every expected fact, the first value of that kind the reply names is right.

    >>> is_correct("Alma Ashby lives in Corvale.", {"town": "Corvale"})
    True
    """
    # A `datasets` column of dicts holds every key seen in the column, None where absent: skip those.
    return all(mentioned_value(reply, attribute) == value for attribute, value in expected.items()
               if value is not None)


def answer_accuracy(model, tokenizer, examples, max_new_tokens: int = 32, batch_size: int = 32,
                    require_end_of_turn: bool = True):
    """Share of examples answered correctly, and the replies.

    Each example has ``messages`` (the last turn, the reference answer, is withheld) and
    ``expected`` (the facts the answer must state). A reply is correct when the first value of
    each expected kind it names is right and, with ``require_end_of_turn``, the model ended its
    turn: an assistant that states the fact and then rambles on has not followed the format.
    """
    examples = list(examples)
    prompts = [example["messages"][:-1] for example in examples]
    replies, finished = generate_replies(model, tokenizer, prompts, max_new_tokens, batch_size,
                                         return_finished=True)
    correct = [is_correct(reply, example["expected"]) and (done or not require_end_of_turn)
               for reply, done, example in zip(replies, finished, examples)]
    return sum(correct) / max(1, len(correct)), replies


def perplexity(model, tokenizer, examples, batch_size: int = 32, assistant_only: bool = True) -> float:
    """exp(mean negative log-likelihood) over the assistant's tokens (or all tokens)."""
    rows = []
    for example in examples:
        encoded = tokenizer.apply_chat_template(example["messages"], tokenize=True, return_dict=True,
                                                return_assistant_tokens_mask=assistant_only)
        ids = list(encoded["input_ids"])
        keep = [bool(k) for k in encoded["assistant_masks"]] if assistant_only else [True] * len(ids)
        rows.append((ids, keep))
    logps, counts = summed_logprobs(model, rows, tokenizer.pad_token_id, batch_size)
    return math.exp(-logps.sum().item() / max(1.0, counts.sum().item()))


def completion_logprobs(model, tokenizer, prompts: list[list[dict]], completions: list[list[dict]],
                        batch_size: int = 64):
    """Summed log-probability of each completion (assistant turns) after its prompt, as a float tensor."""
    rows = []
    for prompt, completion in zip(prompts, completions, strict=True):
        head = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(prompt + completion, tokenize=False)
        n_head = len(tokenizer(head, add_special_tokens=False)["input_ids"])
        full_ids = tokenizer(full, add_special_tokens=False)["input_ids"]
        rows.append((full_ids, [i >= n_head for i in range(len(full_ids))]))
    return summed_logprobs(model, rows, tokenizer.pad_token_id, batch_size)[0]


def logits_on(model, tokenizer, conversations: list[list[dict]]):
    """Logits (float32, on the CPU, padding zeroed) for conversations rendered by the chat template.

    Used to compare two models on the same input, e.g. an adapter model and its merged copy.
    """
    (output, mask), = forward_padded(model, tokenizer, render_chats(tokenizer, conversations),
                                     batch_size=len(conversations))
    return output.logits.float().cpu().masked_fill(~mask.bool()[..., None], 0.0)


def max_abs_difference(logits_a, logits_b) -> float:
    """The largest absolute difference between two logit tensors of the same shape."""
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"logits of different shapes: {tuple(logits_a.shape)} vs {tuple(logits_b.shape)}")
    return (logits_a - logits_b).abs().max().item()


def preferred_behaviour_rate(model, tokenizer, questions: list[str], behaviour: str = "polite",
                             max_new_tokens: int = 32) -> tuple[float, list[str]]:
    """Share of greedy replies to ``questions`` whose tone is ``behaviour``, and the replies."""
    replies = generate_replies(model, tokenizer, [[{"role": "user", "content": q}] for q in questions],
                               max_new_tokens=max_new_tokens)
    return sum(tone_of(r) == behaviour for r in replies) / max(1, len(replies)), replies


def side_by_side(examples, **replies_by_model: list[str]):
    """A table (pandas DataFrame) of prompts, reference answers and each model's replies."""
    import pandas as pd

    examples = list(examples)
    table = {"prompt": [e["messages"][-2]["content"] for e in examples],
             "reference": [e["messages"][-1]["content"] for e in examples]}
    table.update(replies_by_model)
    return pd.DataFrame(table)


def continuation_accuracy(model, tokenizer, people, style: str = "qa", max_new_tokens: int = 12,
                          batch_size: int = 64, seed: int = 0):
    """Share of facts the model states when it simply continues text (no chat template).

    ``style="qa"`` prompts in the plain format of the pre-training corpus,
    "Question: Where does Alma Ashby live?\nAnswer:"; ``style="sentence"`` starts a sentence,
    "Alma Ashby lives in". A continuation is right if the first value of that kind it names is
    the person's. Returns (accuracy, rows) with rows of (prompt, continuation, correct).
    """
    import random

    from labkit.core.data.world import ATTRIBUTES, CONTINUATIONS, question

    rng = random.Random(seed)
    if style == "qa":
        prompts = [(f"Question: {question(p, a, rng)}\nAnswer:", p, a) for p in people for a in ATTRIBUTES]
    elif style == "sentence":
        prompts = [(p.fill(CONTINUATIONS[a]), p, a) for p in people for a in ATTRIBUTES]
    else:
        raise ValueError(f"style must be 'qa' or 'sentence', not {style!r}")
    items = [(prompt, a, getattr(p, a)) for prompt, p, a in prompts]
    texts, _ = generate_texts(model, tokenizer, [prompt for prompt, _, _ in items], max_new_tokens, batch_size,
                              add_special_tokens=True)  # plain text, tokenized as in pre-training
    rows = [(prompt, text, mentioned_value(text, a) == value) for (prompt, a, value), text in zip(items, texts)]
    return sum(r[2] for r in rows) / max(1, len(rows)), rows
