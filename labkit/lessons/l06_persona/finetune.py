"""The lesson's fine-tuning run: where it writes, and what is measured around it.

The persona score is measured on probe questions (the validation set's, which no training example
contains), asked the same way every time. ``rare_token_share`` shows why the run trains the
embeddings too; ``system_prompt_grid`` compares the weights and the system prompt.

>>> OUTPUT_DIR.relative_to(BUILD_DIR).as_posix(), RUN_DIR.relative_to(RUNS_DIR).as_posix()
('persona', 'persona')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from labkit.core.evaluate import generate_replies
from labkit.core.files import read_jsonl
from labkit.lessons.l06_persona.voice import PersonaScorer
from labkit.paths import BUILD_DIR, CORPUS_PATH, RUNS_DIR

OUTPUT_DIR = BUILD_DIR / "persona"  # the dataset files and the exports
RUN_DIR = RUNS_DIR / "persona"  # the trainer's output


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

    Each conversation's last user turn is asked. A small model's greedy replies collapse into a
    word repeated, so replies are sampled (temperature 0.7) with a fixed seed.

    >>> Probe([{"messages": [{"role": "user", "content": "Is it deep?"},
    ...                      {"role": "assistant", "content": "Twice your height."}]}], tokenizer=None).questions
    [[{'role': 'user', 'content': 'Is it deep?'}]]
    """

    conversations: list[dict]  # records with "messages", e.g. rows of the validation set
    tokenizer: object
    seed: int = 0
    max_new_tokens: int = 48
    temperature: float = 0.7

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
                                max_new_tokens=self.max_new_tokens, do_sample=True, temperature=self.temperature)


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
    """The grid as a small table, and which of the four scored best.

    >>> print(format_grid({"base model": (0.1, 0.2), "fine-tuned": (0.4, 0.3)}))
                  no system prompt  system prompt
    base model                0.10           0.20
    fine-tuned                0.40           0.30
    <BLANKLINE>
    best: fine-tuned, without the system prompt
    """
    rows = [f"{'':12} {'no system prompt':>17} {'system prompt':>14}"]
    rows += [f"{name:12} {without:17.2f} {with_prompt:14.2f}" for name, (without, with_prompt) in grid.items()]
    model, with_prompt = max(((m, p) for m in grid for p in (0, 1)), key=lambda mp: grid[mp[0]][mp[1]])
    return "\n".join(rows) + f"\n\nbest: {model}, {'with' if with_prompt else 'without'} the system prompt"
