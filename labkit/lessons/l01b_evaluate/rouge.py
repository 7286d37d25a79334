"""ROUGE for free text, with Google's ``rouge-score`` package (no download), and where it misleads.

ROUGE counts the words a reply shares with a reference: ROUGE-1 single words, ROUGE-L the longest
sequence of words that appear in both in the same order. It needs a reference and knows nothing of
facts: one wrong town among five right words still scores 0.8.

>>> round(rouge_l("Alma Ashby lives in Corvale.", "Alma Ashby lives in Velmora."), 2)
0.8
"""

from __future__ import annotations


def scorer(kinds: tuple[str, ...] = ("rouge1", "rougeL")):
    """rouge-score's scorer: lower-cased words, punctuation dropped, no stemming."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(kinds), use_stemmer=False)


def rouge_l(reference: str, reply: str) -> float:
    """ROUGE-L F1 of one reply against its reference."""
    return scorer(("rougeL",)).score(reference, reply)["rougeL"].fmeasure


def rouge_table(references: list[str], replies: list[str], correct: list[bool]):
    """One row per reply: its reference, ROUGE-1 and ROUGE-L F1, and whether it states the right fact."""
    import pandas as pd

    score = scorer()
    rows = []
    for reference, reply, right in zip(references, replies, correct, strict=True):
        found = score.score(reference, reply)
        rows.append({"reference": reference, "reply": reply, "rouge1": found["rouge1"].fmeasure,
                     "rougeL": found["rougeL"].fmeasure, "right": right})
    return pd.DataFrame(rows)


def mean_rouge_l(table, right: bool) -> float | None:
    """Mean ROUGE-L F1 of the replies that state the right fact (or the wrong one); None if there are none."""
    picked = table.loc[table["right"] == right, "rougeL"]
    return float(picked.mean()) if len(picked) else None
