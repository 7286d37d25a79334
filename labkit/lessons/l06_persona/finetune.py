"""The lesson's fine-tuning run: its settings (from the profile), where it writes, and what is measured.

The profile owns the numbers: ``settings(profile)`` is its "persona" recipe and ``lora_settings`` its
LoRA shape, with the notebook's parameters on top (None keeps the profile's value). The persona score
and the readable rate are measured on probe questions (the validation set's, which no training example
contains), asked the same way every time. ``system_prompt_grid`` compares the weights and the system
prompt, and ``describe_grid`` says in words what the learner's own grid shows.

>>> settings("tiny").max_steps, settings("tiny", max_steps=None).learning_rate, settings("tiny", max_steps=20).max_steps
(120, 0.005, 20)
>>> OUTPUT_DIR.relative_to(BUILD_DIR).as_posix(), RUN_DIR.relative_to(RUNS_DIR).as_posix()
('persona', 'persona')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from labkit.core.evaluate import generate_replies
from labkit.core.files import read_jsonl
from labkit.lessons import l00_start_here
from labkit.lessons.l06_persona.readability import readable_rate
from labkit.lessons.l06_persona.voice import PersonaScorer
from labkit.methods.lora import LoraSettings, template_tokens_untrained
from labkit.methods.sft import SFTSettings
from labkit.paths import BUILD_DIR, CORPUS_PATH, RUNS_DIR, TINY_READER_DIR

OUTPUT_DIR = BUILD_DIR / "persona"  # the dataset files and the exports
RUN_DIR = RUNS_DIR / "persona"  # the trainer's output


def reads_novels(profile: str) -> bool:
    """Whether the profile's base model has read novels: every real model has; tiny read only biographies."""
    from labkit.core.profiles import get_profile

    return get_profile(profile).source != "local"


def starting_folder(profile: str) -> Path | None:
    """Where the persona fine-tune's own starting model lives: ``data/tiny-reader`` on tiny (tiny, given
    the novella's words and made to read it: ``labkit.methods.reading``); None where lesson 00's base
    model is the start."""
    if reads_novels(profile):
        return None
    if not (TINY_READER_DIR / "model.safetensors").exists():
        raise FileNotFoundError(f"{TINY_READER_DIR} has no model: rebuild it with `python -m labkit.methods.reading` "
                                "(about 5 minutes on 2 CPU cores)")
    return TINY_READER_DIR


def starting_model(profile: str = "tiny", log=print):
    """The model the persona fine-tune starts from, with its tokenizer and folder.

    A real base model has read novels before anyone fine-tunes it into a character: on hub profiles the
    start is lesson 00's base model (after school). On tiny it is tiny-reader (``starting_folder``).
    """
    from labkit.core.models import load_model, load_tokenizer

    folder = starting_folder(profile)
    if folder is None:
        return l00_start_here.base_model(profile, log)
    tokenizer = load_tokenizer(folder)
    return load_model(folder, tokenizer=tokenizer), tokenizer, folder


def starting_tokenizer(profile: str = "tiny"):
    """The tokenizer of ``starting_model``, without loading the model: the dataset is measured and cut with it."""
    from labkit.core.models import load_tokenizer

    return load_tokenizer(starting_folder(profile) or profile)


def settings(profile: str, **overrides) -> SFTSettings:
    """The profile's "persona" recipe, then ``overrides`` (None keeps the profile's value)."""
    return SFTSettings.for_profile(profile, "persona", **overrides)


def trains_embedding_table(profile: str) -> bool:
    """Whether the run also trains the token-embedding table: on the tiny model, yes (its pre-training
    was plain text, so the chat template's role tokens never trained; see ``LoraSettings.for_model``)."""
    return template_tokens_untrained(profile)


def lora_settings(profile: str, model, tokenizer, r: int | None = None, lora_alpha: int | None = None,
                  train_embeddings: bool | None = None) -> LoraSettings:
    """The profile's LoRA for this model (``LoraSettings.for_model``, which trains the embedding table
    where ``trains_embedding_table`` says so), or with the table as ``train_embeddings`` asks."""
    if r is not None and lora_alpha is None:
        lora_alpha = 2 * r  # a rank set by hand keeps the profile's scale α/r = 2
    return LoraSettings.for_model(profile, model, tokenizer, r=r, lora_alpha=lora_alpha,
                                  train_embeddings=train_embeddings)


def rare_token_share(tokenizer, text: str, below: int = 50, corpus_path: Path = CORPUS_PATH) -> float:
    """The share of ``text``'s tokens that appear fewer than ``below`` times in the pre-training corpus."""
    seen = Counter()
    for record in read_jsonl(corpus_path):
        seen.update(tokenizer(record["text"])["input_ids"])
    ids = tokenizer(text)["input_ids"]
    return sum(seen[i] < below for i in ids) / len(ids) if ids else 0.0


@dataclass
class Probe:
    """Questions to ask a model before and after training, the same way each time.

    Each conversation's last user turn is asked. A small model's greedy replies collapse into a word
    repeated, so replies are sampled: temperature 0.7, from the tokens that make up the top 90% of
    the probability (``top_p``), with a fixed seed. Up to 96 new tokens: most of Nell's lines fit.

    >>> Probe([{"messages": [{"role": "user", "content": "Is it deep?"},
    ...                      {"role": "assistant", "content": "Twice your height."}]}], tokenizer=None).questions
    [[{'role': 'user', 'content': 'Is it deep?'}]]
    """

    conversations: list[dict]  # records with "messages", e.g. rows of the validation set
    tokenizer: object
    seed: int = 0
    max_new_tokens: int = 96
    temperature: float = 0.7
    top_p: float = 0.9

    @property
    def questions(self) -> list[list[dict]]:
        """The last user turn of each conversation, as a one-turn chat."""
        return [[[m for m in c["messages"] if m["role"] == "user"][-1]] for c in self.conversations]

    def replies(self, model, system_prompt: str | None = None) -> list[str]:
        """``model``'s reply to each question, after ``system_prompt`` if one is given."""
        import torch

        system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        torch.manual_seed(self.seed)
        return generate_replies(model, self.tokenizer, [system + q for q in self.questions],
                                max_new_tokens=self.max_new_tokens, do_sample=True, temperature=self.temperature,
                                top_p=self.top_p)


def measure(replies: list[str], scorer: PersonaScorer) -> dict[str, float]:
    """The persona score and its parts, and the readable rate, of one set of replies."""
    return {**scorer.components(replies), "readable_rate": readable_rate(replies)}


def system_prompt_grid(probe: Probe, model, scorer: PersonaScorer, system_prompt: str,
                       score_before: float, score_after: float) -> dict[str, tuple[float, float]]:
    """Persona scores of the base and the fine-tuned model, each (without, with) the system prompt.

    ``model`` is the trained peft model: with its adapters switched off it is the base model.
    The scores without the prompt were measured already (``score_before``, ``score_after``).
    """
    with model.disable_adapter():
        base = probe.replies(model, system_prompt)
    tuned = probe.replies(model, system_prompt)
    return {"base model": (score_before, scorer.score(base)), "fine-tuned": (score_after, scorer.score(tuned))}


def format_grid(grid: dict[str, tuple[float, float]]) -> str:
    """The grid as a small table.

    >>> print(format_grid({"base model": (0.1, 0.2), "fine-tuned": (0.4, 0.3)}))
                  no system prompt  system prompt
    base model                0.10           0.20
    fine-tuned                0.40           0.30
    """
    rows = [f"{'':12} {'no system prompt':>17} {'system prompt':>14}"]
    rows += [f"{name:12} {without:17.2f} {with_prompt:14.2f}" for name, (without, with_prompt) in grid.items()]
    return "\n".join(rows)


def _change(before: float, after: float) -> str:
    return f"from {before:.2f} to {after:.2f} ({after - before:+.2f})"


def describe_grid(grid: dict[str, tuple[float, float]]) -> str:
    """What the grid shows, in sentences made from its own numbers (so the words cannot contradict it).

    >>> print(describe_grid({"base model": (0.1, 0.12), "fine-tuned": (0.4, 0.3)}))
    the system prompt alone (base model): from 0.10 to 0.12 (+0.02)
    fine-tuning alone (no system prompt): from 0.10 to 0.40 (+0.30)
    the system prompt on the fine-tuned model: from 0.40 to 0.30 (-0.10)
    best: fine-tuned, without the system prompt
    """
    (base, base_prompted), (tuned, tuned_prompted) = grid["base model"], grid["fine-tuned"]
    model, with_prompt = max(((m, p) for m in grid for p in (0, 1)), key=lambda mp: grid[mp[0]][mp[1]])
    return "\n".join([f"the system prompt alone (base model): {_change(base, base_prompted)}",
                      f"fine-tuning alone (no system prompt): {_change(base, tuned)}",
                      f"the system prompt on the fine-tuned model: {_change(tuned, tuned_prompted)}",
                      f"best: {model}, {'with' if with_prompt else 'without'} the system prompt"])
