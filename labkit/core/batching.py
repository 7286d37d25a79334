"""Batches of text through a model: padded, masked, and scored in one place.

Every measurement in the course reduces to three moves, each written once here:

- generate from left-padded prompts and decode only the new tokens (:func:`generate_texts`);
- run right-padded texts forward and read logits or scores (:func:`forward_padded`);
- sum the log-probabilities a model gives to chosen tokens of each sequence (:func:`summed_logprobs`):
  perplexity, DPO's implicit rewards and completion likelihoods all use it.

>>> rows = [([5, 6, 7], [False, True, True]), ([5, 6], [False, True])]
>>> ids, mask, scored = pad_rows(rows, pad_id=0)
>>> ids.tolist(), scored.tolist()
([[5, 6, 7], [5, 6, 0]], [[False, True, True], [False, True, False]])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    """Consecutive slices of ``items`` of at most ``size``.

    >>> [list(c) for c in chunks([1, 2, 3, 4, 5], 2)]
    [[1, 2], [3, 4], [5]]
    """
    for start in range(0, len(items), size):
        yield items[start:start + size]


@contextmanager
def padding_side(tokenizer, side: str):
    """Pad on ``side`` ("left" for generation, "right" for scoring) inside the block, then restore."""
    previous = tokenizer.padding_side
    tokenizer.padding_side = side
    try:
        yield tokenizer
    finally:
        tokenizer.padding_side = previous


def render_chats(tokenizer, conversations: list[list[dict]], add_generation_prompt: bool = False) -> list[str]:
    """Each conversation rendered through the tokenizer's chat template, as text."""
    return [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=add_generation_prompt)
            for c in conversations]


def generate_texts(model, tokenizer, prompts: list[str], max_new_tokens: int = 32, batch_size: int = 32,
                   do_sample: bool = False, temperature: float = 1.0, top_p: float | None = None,
                   stop_token_id: int | None = None, add_special_tokens: bool = False) -> tuple[list[str], list[bool]]:
    """Continue each prompt; return the new text only, and whether each continuation emitted the stop token.

    Prompts are left-padded so every row continues from the right edge. ``stop_token_id`` defaults to
    the tokenizer's end-of-sequence token (the end of an assistant turn under the chat template).
    ``add_special_tokens``: False for prompts rendered by the chat template (it writes any BOS
    itself); True for plain text, so a tokenizer that puts BOS in front of every text does so here too.
    """
    import torch

    stop = tokenizer.eos_token_id if stop_token_id is None else stop_token_id
    texts, finished = [], []
    model.eval()
    with padding_side(tokenizer, "left"):
        for chunk in chunks(prompts, batch_size):
            batch = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=add_special_tokens)
            batch = batch.to(model.device)
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                     temperature=temperature if do_sample else None,
                                     top_p=top_p if do_sample else None, top_k=None,
                                     eos_token_id=stop, pad_token_id=tokenizer.pad_token_id)
            new_tokens = out[:, batch["input_ids"].shape[1]:]
            texts += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            finished += (new_tokens == stop).any(dim=1).tolist()
    return texts, finished


def forward_padded(model, tokenizer, texts: list[str], batch_size: int = 64) -> list:
    """Right-padded forward passes; returns, per batch, ``(output, attention_mask)`` on the CPU side.

    Right padding keeps each sequence's last real token at ``mask.sum() - 1``, where a sequence
    classifier (the reward model) reads its score.
    """
    import torch

    results = []
    model.eval()
    with padding_side(tokenizer, "right"):
        for chunk in chunks(texts, batch_size):
            batch = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.no_grad():
                output = model(**batch.to(model.device))
            results.append((output, batch["attention_mask"].cpu()))
    return results


def pad_rows(rows: list[tuple[list[int], list[bool]]], pad_id: int):
    """Token rows and their scored-token masks as right-padded tensors: (ids, attention_mask, scored)."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    scored = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row, keep) in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
        scored[i, :len(row)] = torch.tensor(keep, dtype=torch.bool)
    return ids, mask, scored


def summed_logprobs(model, rows: list[tuple[list[int], list[bool]]], pad_id: int, batch_size: int = 32):
    """For each row (token ids, which tokens to score), the summed log-probability of its scored tokens
    given everything before them, and how many tokens were scored. Returns two float tensors.

    The first token of a row is never scored: nothing precedes it.
    """
    import torch

    sums, counts = [], []
    model.eval()
    for chunk in chunks(rows, batch_size):
        ids, mask, scored = pad_rows(list(chunk), pad_id)
        with torch.no_grad():
            logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device)).logits.float()
        logps = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(model.device))[..., 0]
        keep = scored[:, 1:].to(model.device)
        sums.append((logps * keep).sum(-1).cpu())
        counts.append(keep.sum(-1).float().cpu())
    return torch.cat(sums), torch.cat(counts)
