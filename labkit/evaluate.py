"""Measure a model: task accuracy, perplexity, and answers side by side."""

from __future__ import annotations

import math

from labkit.world import mentioned_value


def generate_replies(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int = 32,
                     batch_size: int = 32, do_sample: bool = False, temperature: float = 1.0,
                     return_finished: bool = False):
    """The model's next assistant turn for each conversation; only the new tokens are decoded.

    With ``return_finished=True`` also says, for each reply, whether the model ended its turn
    (emitted the tokenizer's end-of-turn token) within ``max_new_tokens``.
    """
    import torch

    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues from the right edge
    replies, finished = [], []
    model.eval()
    try:
        for start in range(0, len(conversations), batch_size):
            texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
                     for c in conversations[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            batch = batch.to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                     temperature=temperature if do_sample else None, top_p=None, top_k=None,
                                     pad_token_id=tokenizer.pad_token_id)
            new_tokens = out[:, batch["input_ids"].shape[1]:]
            replies += [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
            finished += (new_tokens == tokenizer.eos_token_id).any(dim=1).tolist()
    finally:
        tokenizer.padding_side = side
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
    import torch

    total_nll, total_tokens = 0.0, 0
    model.eval()
    examples = list(examples)
    for start in range(0, len(examples), batch_size):
        encoded = [tokenizer.apply_chat_template(e["messages"], tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=assistant_only)
                   for e in examples[start:start + batch_size]]
        width = max(len(e["input_ids"]) for e in encoded)
        ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
        labels = torch.full((len(encoded), width), -100)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            n = len(e["input_ids"])
            ids[row, :n] = torch.tensor(e["input_ids"])
            mask[row, :n] = 1
            keep = torch.tensor(e["assistant_masks"]).bool() if assistant_only else torch.ones(n, dtype=torch.bool)
            labels[row, :n] = torch.where(keep, ids[row, :n], torch.tensor(-100))
        with torch.no_grad():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits
        shifted = labels[:, 1:].to(model.device)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), shifted.flatten(),
                                                ignore_index=-100, reduction="sum")
        total_nll += nll.item()
        total_tokens += (shifted != -100).sum().item()
    return math.exp(total_nll / max(1, total_tokens))


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

    import torch

    from labkit.world import ATTRIBUTES, CONTINUATIONS, question

    rng = random.Random(seed)
    if style == "qa":
        prompts = [(f"Question: {question(p, a, rng)}\nAnswer:", p, a) for p in people for a in ATTRIBUTES]
    elif style == "sentence":
        prompts = [(p.fill(CONTINUATIONS[a]), p, a) for p in people for a in ATTRIBUTES]
    else:
        raise ValueError(f"style must be 'qa' or 'sentence', not {style!r}")
    items = [(prompt, a, getattr(p, a)) for prompt, p, a in prompts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    rows = []
    model.eval()
    try:
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            batch = tokenizer([prompt for prompt, _, _ in chunk], return_tensors="pt", padding=True,
                              add_special_tokens=False).to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id)
            texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
            rows += [(prompt, text, mentioned_value(text, a) == value) for (prompt, a, value), text in zip(chunk, texts)]
    finally:
        tokenizer.padding_side = side
    return sum(r[2] for r in rows) / max(1, len(rows)), rows
