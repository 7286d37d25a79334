"""How the tiny base model is made: corpus → tokenizer → a small Llama, pre-trained from scratch.

Rebuild it with ``python -m labkit.methods.pretrain`` (about 20 minutes on 2 CPU cores). The result is
written to ``data/tiny/`` with a model card; the corpus it was trained on goes to
``data/corpus/pretraining.jsonl``. Everything is generated here with fixed seeds.

The training loop is written by hand on purpose: pre-training is not what this course teaches,
and a plain loop keeps the recipe readable in one screen.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.core.chat_template import CHAT_TEMPLATE, SPECIAL_TOKENS
from labkit.paths import CORPUS_PATH, TINY_DIR

@dataclass
class PretrainConfig:
    """Knobs of the pre-training run. The defaults produced the committed model."""

    seed: int = 0
    vocab_size: int = 1024  # a small BPE vocabulary: the corpus uses few words
    hidden_size: int = 256
    intermediate_size: int = 688
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 4
    context_length: int = 256
    batch_size: int = 16
    steps: int = 1200
    learning_rate: float = 2e-3
    warmup_steps: int = 60
    weight_decay: float = 0.05
    val_share: float = 0.02
    threads: int = 2


def build_tokenizer(documents: list[str], vocab_size: int):
    """Train a byte-level BPE tokenizer on the corpus and wrap it as a chat tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator(documents, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|end|>",
                                        pad_token="<|pad|>", unk_token=None,
                                        model_max_length=256)
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[2:5]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(config: PretrainConfig, tokenizer):
    """A Llama with the given sizes, randomly initialised."""
    from transformers import LlamaConfig, LlamaForCausalLM

    model_config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size, num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_key_value_heads,
        max_position_embeddings=config.context_length, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    return LlamaForCausalLM(model_config)


def pack(documents: list[str], tokenizer, context_length: int):
    """Concatenate documents, separated by <|endoftext|>, into fixed-length blocks."""
    import torch

    separator = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    ids: list[int] = []
    for encoded in tokenizer(documents, add_special_tokens=False)["input_ids"]:
        ids.extend(encoded)
        ids.append(separator)
    n_blocks = len(ids) // context_length
    return torch.tensor(ids[: n_blocks * context_length]).view(n_blocks, context_length), len(ids)


def learning_rate_at(step: int, config: PretrainConfig, floor: float = 0.1) -> float:
    """Linear warm-up, then cosine decay to ``floor`` (a share) of the peak. ``config`` is any recipe with
    ``learning_rate``, ``warmup_steps`` and ``steps`` (tiny-reader's ``ReadingConfig`` too)."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def evaluate_loss(model, blocks) -> float:
    import torch

    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=batch, labels=batch).loss.item() for batch in blocks.split(32)]
    model.train()
    return sum(losses) / len(losses)


def pretrain(config: PretrainConfig, out_dir: Path = TINY_DIR, corpus_path: Path = CORPUS_PATH,
             log=print) -> dict:
    """Run the whole recipe and write the model, tokenizer, corpus and model card."""
    import torch
    from tqdm.auto import tqdm

    from labkit.core.data.world import make_people, pretraining_documents

    torch.manual_seed(config.seed)
    random.seed(config.seed)
    torch.set_num_threads(config.threads)

    documents = pretraining_documents(make_people())
    n_val = max(1, int(len(documents) * config.val_share))
    val_documents, train_documents = documents[:n_val], documents[n_val:]
    corpus_path.parent.mkdir(parents=True, exist_ok=True)
    with corpus_path.open("w") as f:
        for i, text in enumerate(documents):
            f.write(json.dumps({"split": "validation" if i < n_val else "train", "text": text}) + "\n")

    tokenizer = build_tokenizer(train_documents, config.vocab_size)
    train_blocks, n_train_tokens = pack(train_documents, tokenizer, config.context_length)
    val_blocks, _ = pack(val_documents, tokenizer, config.context_length)
    model = build_model(config, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"corpus: {len(documents):,} documents, {n_train_tokens:,} training tokens; "
        f"model: {n_params:,} parameters")

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate,
                                  betas=(0.9, 0.95), weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    start = time.perf_counter()
    model.train()
    for step in (bar := tqdm(range(config.steps), desc="pre-training")):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config)
        batch = train_blocks[torch.randint(len(train_blocks), (config.batch_size,), generator=generator)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 50 == 0 or step == config.steps - 1:
            entry = {"step": step, "train_loss": round(loss.item(), 4),
                     "seconds": round(time.perf_counter() - start, 1)}
            if step % 300 == 0 or step == config.steps - 1:
                entry["val_loss"] = round(evaluate_loss(model, val_blocks), 4)
            history.append(entry)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - start
    val_loss = history[-1]["val_loss"]
    summary = {
        "parameters": n_params, "documents": len(documents), "train_tokens": n_train_tokens,
        "tokens_seen": config.steps * config.batch_size * config.context_length,
        "train_seconds": round(seconds, 1), "final_train_loss": history[-1]["train_loss"],
        "val_loss": val_loss, "val_perplexity": round(math.exp(val_loss), 3),
        "config": asdict(config), "history": history,
    }
    save(model, tokenizer, out_dir, summary)
    log(f"done in {seconds / 60:.1f} min: val loss {val_loss:.3f}, perplexity {math.exp(val_loss):.2f}")
    return summary


def save(model, tokenizer, out_dir: Path, summary: dict) -> None:
    """Write weights (safetensors), tokenizer, training log, loss curve and model card."""
    from transformers import GenerationConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.pad_token_id, do_sample=False, max_new_tokens=48)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "training_log.json").write_text(json.dumps(summary, indent=1))
    plot_loss_curve(summary["history"], out_dir / "loss_curve.png")
    write_model_card(model, tokenizer, out_dir, summary)


def plot_loss_curve(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([h["step"] for h in history], [h["train_loss"] for h in history], label="train")
    val = [h for h in history if "val_loss" in h]
    ax.plot([h["step"] for h in val], [h["val_loss"] for h in val], "o-", label="validation")
    ax.set(xlabel="step", ylabel="loss", yscale="log", title="tiny base model: pre-training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def sample_generations(model, tokenizer, prompts: list[str]) -> list[str]:
    import torch

    model.eval()
    out = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            generated = model.generate(**ids, max_new_tokens=40, do_sample=False)
        out.append(tokenizer.decode(generated[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return out


def write_model_card(model, tokenizer, out_dir: Path, summary: dict) -> None:
    from labkit.core.data.world import make_people

    person = make_people()[0]
    prompts = [f"{person.name} lives in", f"The favourite colour of {person.name} is",
               "Question: What is the job of " + person.name + "?\nAnswer:"]
    samples = sample_generations(model, tokenizer, prompts)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": f"Where does {person.name} live?"}],
                                         tokenize=False, add_generation_prompt=True)
    chat_sample = sample_generations(model, tokenizer, [chat])[0]
    c = summary["config"]
    lines = [
        "# tiny: the labkit base model", "",
        "A small Llama-architecture language model pre-trained from scratch by "
        "`python -m labkit.methods.pretrain` on a corpus the project generates itself "
        "(biographies of 600 invented people, plus plain Question/Answer documents about 70% of them). "
        "It is a *base* model: it continues text, and knows facts about those people, "
        "but it has never seen the chat template, so it cannot yet answer an instruction.", "",
        "| | |", "|---|---|",
        f"| parameters | {summary['parameters']:,} |",
        f"| architecture | Llama, {c['num_hidden_layers']} layers, hidden {c['hidden_size']}, "
        f"{c['num_attention_heads']} heads, MLP {c['intermediate_size']}, context {c['context_length']} |",
        f"| tokenizer | byte-level BPE, {len(tokenizer)} tokens, trained with `tokenizers` |",
        f"| corpus | {summary['documents']:,} documents, {summary['train_tokens']:,} training tokens "
        "(`data/corpus/pretraining.jsonl`) |",
        f"| training | {c['steps']} steps of {c['batch_size']}×{c['context_length']} tokens "
        f"({summary['tokens_seen']:,} tokens), AdamW lr {c['learning_rate']}, seed {c['seed']} |",
        f"| training time | {summary['train_seconds'] / 60:.1f} minutes on {c['threads']} CPU threads |",
        f"| final train loss | {summary['final_train_loss']:.3f} |",
        f"| validation loss / perplexity | {summary['val_loss']:.3f} / {summary['val_perplexity']:.2f} |",
        "", "![loss curve](loss_curve.png)", "", "## Sample generations (greedy)", "",
    ]
    for prompt, sample in zip(prompts, samples):
        lines.append(f"- `{prompt!r}` → `{sample!r}`")
    lines += ["", "Asked in the chat template, before any fine-tuning:", "",
              f"- `{chat!r}` → `{chat_sample!r}`", "",
              f"(The truth: {person.name} lives in {person.town}, works as a {person.job}, "
              f"has a {person.pet}, likes {person.colour}.)", ""]
    (out_dir / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m labkit.methods.pretrain",
        description="Rebuild the tiny base model in data/tiny/ from scratch: generate the corpus "
                    "(data/corpus/pretraining.jsonl), train a byte-level BPE tokenizer, then "
                    "pre-train a small Llama on 2 CPU threads (about 20 minutes with the defaults). "
                    "Fixed seeds make the run repeatable.")
    config, out = parse_recipe(parser, PretrainConfig(), TINY_DIR, argv)
    pretrain(config, out_dir=out)


def parse_recipe(parser: argparse.ArgumentParser, defaults, out_dir: Path, argv: list[str] | None):
    """One option per field of the recipe dataclass ``defaults`` (``--warmup-steps``…) and ``--out``;
    returns the recipe the command line asks for and the output folder."""
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value,
                            help=f"default: {value}")
    parser.add_argument("--out", type=Path, default=out_dir, help=f"output folder (default: {out_dir})")
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    return type(defaults)(**args), out


if __name__ == "__main__":
    main()
