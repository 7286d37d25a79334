"""Your turn: ROUGE-L for one pair, by hand, checked against the ``rouge-score`` package.

The pair has the same eight words on both sides, in another order: ROUGE-1 (shared words) is a
perfect 1.0, ROUGE-L (the longest run of words in the same order, gaps allowed) is not.

>>> check_rouge_l(SOLUTION).status
'right'
>>> check_rouge_l(1.0).status  # ROUGE-1's answer: every word is shared, but not in order
'wrong'
>>> check_rouge_l(...).status
'not attempted'
"""

from __future__ import annotations

from labkit.core.exercise import Verdict, check, right, wrong
from labkit.lessons.l01b_evaluate.rouge import scorer

REFERENCE = "Alma Ashby has a cat as a pet."
REPLY = "As a pet, Alma Ashby has a cat."
# "alma ashby has a cat": 5 words in order, of 8 on each side. Precision = recall = 5/8.
SOLUTION = 5 / 8


def _scores() -> dict[str, float]:
    found = scorer(("rouge1", "rougeL")).score(REFERENCE, REPLY)
    return {kind: score.fmeasure for kind, score in found.items()}


def _judge(answer) -> Verdict:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return wrong(f"give one number between 0 and 1 (a fraction such as 3 / 8 is fine), not {answer!r}.")
    scores = _scores()
    if abs(value - scores["rougeL"]) < 0.01:
        return right(f"{scores['rougeL']:.3f}. The longest run of words in the same order is \"alma ashby has a "
                     "cat\": 5 of the reply's 8 words (precision 5/8) and 5 of the reference's 8 (recall 5/8), "
                     "so F1 = 5/8. The same words in another order lost 3/8 of the score, while \"Alma Ashby has "
                     "a dog as a pet.\", a wrong fact, would lose only 1/8: ROUGE measures wording, not truth.")
    if abs(value - scores["rouge1"]) < 0.01:
        return wrong("1.0 is ROUGE-1: every word of the reply is in the reference. ROUGE-L asks for the longest "
                     "sequence of words that appears in both *in the same order* (gaps allowed). Find it, count "
                     "its words, and divide by each side's length.")
    if not 0 <= value <= 1:
        return wrong(f"{value} is outside 0…1: F1 = 2·P·R / (P + R), with P and R both shares of words.")
    return wrong(f"{value:.3f} is not it. Lower-case both and drop the punctuation: 8 words each. Find the longest "
                 "sequence of words in both in the same order (gaps allowed): its length over the reply's length "
                 "is the precision, over the reference's the recall; F1 = 2·P·R / (P + R).")


def check_rouge_l(answer) -> Verdict:
    """Right, wrong (with a hint) or not attempted: the learner's ROUGE-L F1 for (REFERENCE, REPLY)."""
    return check(answer, _judge, blank="replace the ... with your number (for example 3 / 8), then run this cell.")
