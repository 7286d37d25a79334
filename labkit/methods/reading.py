"""How tiny-reader is made: the tiny model, given the novella's words and made to read the novella.

A real base model has read thousands of novels before anyone fine-tunes it into a character, and its
vocabulary of 50,000 or more tokens holds most English words whole. The tiny model read only the
invented world's biographies, and its 990-token vocabulary was learned from them: the novella of
lesson 06 costs it 2.8 tokens a word (" at" is two), and a fine-tune spells Nell's words from pieces
that do not go together ("Hour st on the ry fuk."). So lesson 06 starts, on tiny, from a sibling
built in two steps, both of which practitioners use to adapt a model to a new domain:

1. **widen the vocabulary** (``widen_tokenizer``): every word form of the novella, and every form
   the biographies use at least five times, becomes one token. The tokenizer stays a byte-level BPE;
   a word in its vocabulary is taken whole (``ignore_merges``), any other word is split as before.
   Each new token's vector starts as the mean of the pieces it replaces (``widen_model``);
2. **read** (``read_novella``): continued pre-training on the novella, each batch half novella and
   half the biographies (replay), at a lower learning rate than tiny's own, so that the model keeps
   the facts lessons 00 to 07 ask about. Both losses are logged before and after.

How long to read: too little, and the persona still misspells; too much, and the model learns the
novella by heart, so that asked anything it recites Nell's own lines, scores high as Nell before any
fine-tuning, and the lesson has nothing left to show. Measured with lesson 06's recipe (120 steps,
32 probe questions, 3 sampling seeds each), on 2026-11-27:

| reading steps | passes over the novella | its loss | readable after | persona score before → after |
|---|---|---|---|---|
| 150 | 30 | 2.79 | 0.78 | 0.70 → 0.81 |
| 300 (the default) | 60 | 0.53 | 0.95 | 0.66 → 0.80 |
| 700 | 145 | 0.06 | 0.95 | 0.84 → 0.77 |

Rebuild it with ``python -m labkit.methods.reading`` (about 5 minutes on 2 CPU cores); it reads
``data/tiny`` and writes ``data/tiny-reader`` with a model card. Fixed seeds make the run repeatable.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.methods.pretrain import evaluate_loss, learning_rate_at, pack, parse_recipe
from labkit.paths import CORPUS_PATH, NOVELLA_PATH, TINY_DIR, TINY_READER_DIR

# A word as the tokenizer's pre-tokenizer (GPT-2's rule) cuts it: " river", "Nell", " didn" ("'t" is its own piece).
WORD_FORM = re.compile(r" ?[A-Za-z]+")


@dataclass(frozen=True)
class ReadingConfig:
    """Knobs of tiny-reader's recipe. The defaults produced the committed model."""

    steps: int = 300  # about 60 passes over the novella: enough to spell it, short of reciting it (see the module doc)
    batch_size: int = 16
    context_length: int = 256
    novella_share: float = 0.5  # of each batch: windows of the novella; the rest replays the biographies
    learning_rate: float = 1.5e-3  # below tiny's peak of 2e-3: read hard, but do not forget
    warmup_steps: int = 20
    min_corpus_count: int = 5  # a biography word form becomes a token when the corpus uses it this often
    seed: int = 0
    threads: int = 2


def novella_text(path: Path = NOVELLA_PATH) -> str:
    """The novella as plain prose: markdown heading marks dropped, paragraphs kept."""
    lines = [line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return "\n".join(lines).strip()


def corpus_documents(path: Path = CORPUS_PATH) -> dict[str, list[str]]:
    """The biographies' texts, by split ("train", "validation")."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {name: [r["text"] for r in rows if r["split"] == name] for name in ("train", "validation")}


def word_forms(novella: str, corpus: list[str], min_corpus_count: int) -> set[str]:
    """Every word form of ``novella``, and the forms ``corpus`` uses at least ``min_corpus_count`` times.

    >>> sorted(word_forms("Nell rowed. The river", ["a cat", "a dog"], min_corpus_count=2))
    [' The', ' river', ' rowed', 'Nell', 'a']
    """
    counts = Counter(form for text in corpus for form in WORD_FORM.findall(text))
    return set(WORD_FORM.findall(novella)) | {form for form, n in counts.items() if n >= min_corpus_count}


def widen_tokenizer(tokenizer, forms: set[str]):
    """A copy of ``tokenizer`` with each of ``forms`` that it splits added as one token, and, for each new
    id, the ids of the pieces it replaces (for ``widen_model``)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    data = json.loads(tokenizer.backend_tokenizer.to_str())
    vocab = data["model"]["vocab"]
    next_id = 1 + max(max(vocab.values()), *(t["id"] for t in data["added_tokens"]))
    pieces = {}
    for form in sorted(forms):
        spelled = form.replace(" ", "\u0120")  # byte-level BPE writes a leading space as "Ġ"
        ids = tokenizer(form, add_special_tokens=False)["input_ids"]
        if spelled in vocab or len(ids) < 2:
            continue
        vocab[spelled] = next_id
        pieces[next_id] = ids
        next_id += 1
    data["model"]["ignore_merges"] = True  # a word the vocabulary holds is one token, whatever the merges say
    special = {name: getattr(tokenizer, name) for name in ("bos_token", "eos_token", "unk_token", "pad_token")
               if getattr(tokenizer, name, None) is not None}
    wide = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)), **special)
    wide.chat_template = tokenizer.chat_template
    return wide, pieces


def widen_model(model, pieces: dict[int, list[int]]) -> None:
    """Grow ``model``'s (tied) embedding table to fit the new ids; each new row is the mean of its pieces."""
    import torch

    model.resize_token_embeddings(max(pieces) + 1, mean_resizing=False)
    table = model.get_input_embeddings().weight
    with torch.no_grad():
        for new_id, ids in pieces.items():
            table[new_id] = table[ids].mean(0)


def read_novella(model, novella_ids, world_blocks, world_val_blocks, config: ReadingConfig, log=print) -> dict:
    """Train ``model`` in place on windows of ``novella_ids`` mixed with ``world_blocks``; returns what was
    measured: both losses before and after, the steps and the time taken."""
    import torch
    from tqdm.auto import tqdm

    length = world_blocks.shape[1]
    if len(novella_ids) <= length:
        raise ValueError(f"the novella has {len(novella_ids)} tokens, fewer than one window of {length}")
    # Fixed, non-overlapping windows to measure on; training draws windows at random offsets.
    novella_blocks = novella_ids[: len(novella_ids) // length * length].view(-1, length)
    def losses() -> dict[str, float]:
        return {"novella_loss": evaluate_loss(model, novella_blocks), "world_val_loss": evaluate_loss(model, world_val_blocks)}

    before = losses()
    n_novella = max(1, round(config.batch_size * config.novella_share))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.95), weight_decay=0.05)
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    model.train()
    for step in (bar := tqdm(range(config.steps), desc="reading the novella")):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config, floor=0.2)  # read hard to the end
        starts = torch.randint(len(novella_ids) - length, (n_novella,), generator=generator).tolist()
        replay = torch.randint(len(world_blocks), (config.batch_size - n_novella,), generator=generator)
        batch = torch.cat([torch.stack([novella_ids[s:s + length] for s in starts]), world_blocks[replay]])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    after = losses()
    summary = {"novella_tokens": len(novella_ids), "steps": config.steps,
               "novella_tokens_seen": config.steps * n_novella * length,
               "seconds": round(time.perf_counter() - start, 1),
               "before": {k: round(v, 4) for k, v in before.items()},
               "after": {k: round(v, 4) for k, v in after.items()}}
    log(f"read the novella {summary['novella_tokens_seen'] / len(novella_ids):.0f} times over: its loss "
        f"{before['novella_loss']:.2f} -> {after['novella_loss']:.2f}; the biographies' validation loss "
        f"{before['world_val_loss']:.3f} -> {after['world_val_loss']:.3f}")
    return summary


def build_reader(config: ReadingConfig = ReadingConfig(), source: Path = TINY_DIR, out_dir: Path = TINY_READER_DIR,
                 log=print) -> dict:
    """The whole recipe: widen tiny's vocabulary, read, and write model, tokenizer and model card to ``out_dir``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(source)
    novella, documents = novella_text(), corpus_documents()
    wide, pieces = widen_tokenizer(tokenizer, word_forms(novella, documents["train"], config.min_corpus_count))
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    widen_model(model, pieces)
    log(f"vocabulary {len(tokenizer):,} -> {len(wide):,} tokens; the novella {len(tokenizer(novella)['input_ids']):,} "
        f"-> {len(wide(novella)['input_ids']):,} tokens")
    train_blocks, _ = pack(documents["train"], wide, config.context_length)
    val_blocks, _ = pack(documents["validation"], wide, config.context_length)
    novella_ids = torch.tensor(wide(novella, add_special_tokens=False)["input_ids"])
    summary = {**read_novella(model, novella_ids, train_blocks, val_blocks, config, log),
               "vocabulary": {"before": len(tokenizer), "after": len(wide), "whole_words_added": len(pieces)},
               "parameters": sum(p.numel() for p in model.parameters()), "config": asdict(config)}
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    wide.save_pretrained(out_dir)
    (out_dir / "training_log.json").write_text(json.dumps(summary, indent=1) + "\n")
    write_model_card(wide, tokenizer, novella, out_dir, summary)
    return summary


def write_model_card(wide, narrow, novella: str, out_dir: Path, summary: dict) -> None:
    """data/tiny-reader/README.md: what it is, how it was made, what the reading measured."""
    sentence = "I reckon the river's up, friend."
    before, after, c, vocabulary = summary["before"], summary["after"], summary["config"], summary["vocabulary"]
    words = len(novella.split())
    passes = summary["novella_tokens_seen"] / summary["novella_tokens"]
    intro = ("Lesson 06 starts from this model on the `tiny` profile; every other lesson starts from `data/tiny`. "
             "Built by `python -m labkit.methods.reading` from `data/tiny` in two steps: its vocabulary gains every "
             "word form of lesson 06's novella (and the biographies' frequent ones) as whole tokens, and it reads "
             "the novella, mixed with its biographies. It is still a *base* model: it has never seen the chat "
             "template.")
    rows = {
        "parameters": f"{summary['parameters']:,}",
        "vocabulary": (f"{vocabulary['before']:,} → {vocabulary['after']:,} tokens "
                       f"({vocabulary['whole_words_added']:,} whole words added)"),
        "the novella, tokens per word": (f"{len(narrow(novella)['input_ids']) / words:.2f} → "
                                         f"{len(wide(novella)['input_ids']) / words:.2f}"),
        f"`{sentence}`": f"{' '.join(narrow.tokenize(sentence))} → {' '.join(wide.tokenize(sentence))}",
        "reading": (f"{c['steps']} steps of {c['batch_size']}×{c['context_length']} tokens, half novella, half "
                    f"biographies; {passes:.0f} passes over the novella; AdamW lr {c['learning_rate']}, seed "
                    f"{c['seed']}; {summary['seconds'] / 60:.1f} minutes on {c['threads']} CPU thread(s)"),
        "the novella's loss, before → after": f"{before['novella_loss']:.3f} → {after['novella_loss']:.3f}",
        "the biographies' validation loss, before → after": (f"{before['world_val_loss']:.3f} → "
                                                             f"{after['world_val_loss']:.3f}"),
    }
    lines = ["# tiny-reader: the tiny model, given the novella's words and made to read it", "", intro, "",
             "| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows.items()), ""]
    (out_dir / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.methods.reading",
        description="Rebuild data/tiny-reader from data/tiny: widen the vocabulary with the novella's words, "
                    "then read the novella mixed with the biographies (about 5 minutes on 2 CPU threads).")
    config, out = parse_recipe(parser, ReadingConfig(), TINY_READER_DIR, argv)
    build_reader(config, out_dir=out)


if __name__ == "__main__":
    main()
