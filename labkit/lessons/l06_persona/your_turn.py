"""Your turn: write a rule that says which quotes are Nell's, and have it scored on the hand labels.

The rule is a regular expression (searched in each dialogue paragraph, quotes included) or a function
that takes the paragraph's text and returns True for Nell. The check scores it like the lesson's
extractor: **precision** (of the lines it gives Nell, the share that are hers) and how many of her
labelled lines it finds. It is right when precision is at least 0.9 and it finds at least 15 of her
lines: a rule that finds almost nothing is precise and useless.

>>> check_nell_rule(REFERENCE_RULE).status
'right'
>>> check_nell_rule("Nell").status  # her name inside a quote is someone talking *to* her
'wrong'
>>> check_nell_rule(...).status
'not attempted'
"""

from __future__ import annotations

import re

from labkit.core.exercise import Verdict, check, right, wrong
from labkit.lessons.l06_persona.corpus import NELL, Novella, load_novella
from labkit.lessons.l06_persona.extract import load_labels

MIN_PRECISION = 0.9
MIN_FOUND = 15  # of her labelled lines

# The reference solution: a speech tag naming her, in either order ("Nell said", "said Nell"),
# or "she" followed by a speech verb, which in these chapters is Nell more often than not.
REFERENCE_RULE = r"\bNell\s+(?:\w+ly\s+)?(?:said|asked|called|answered)\b|\bsaid Nell\b|\bshe (?:said|asked)\b"


def as_predicate(rule):
    """The rule as a function text -> bool: a regex string is searched, a function is called."""
    if isinstance(rule, str):
        pattern = re.compile(rule)
        return lambda text: pattern.search(text) is not None
    return lambda text: bool(rule(text))


def score_rule(rule, novella: Novella | None = None, labels: list[dict] | None = None) -> dict:
    """Precision, lines found, and the paragraphs the rule gave her wrongly, on the labelled quotes."""
    novella, labels = novella or load_novella(), labels if labels is not None else load_labels()
    says_nell = as_predicate(rule)
    found, mistaken, missed = 0, [], 0
    for label in labels:
        text = novella.paragraph_at(label["offset"]).text
        hers = label["speaker"] == NELL.name
        if says_nell(text):
            found += hers
            if not hers:
                mistaken.append((text, label["speaker"]))
        else:
            missed += hers
    claimed = found + len(mistaken)
    return {"precision": found / claimed if claimed else 0.0, "found": found, "hers": found + missed,
            "wrong": mistaken}


def check_nell_rule(rule, novella: Novella | None = None, labels: list[dict] | None = None) -> Verdict:
    """Right, wrong (with a hint) or not attempted (``labkit.core.exercise``): see the module docstring."""
    return check(rule, lambda answer: judge_rule(answer, novella, labels),
                 blank="replace the ... with your rule, then run this cell again.")


def judge_rule(rule, novella: Novella | None = None, labels: list[dict] | None = None) -> Verdict:
    """The verdict on a filled-in rule: its precision and the lines it finds, against the thresholds."""
    try:
        score = score_rule(rule, novella, labels)
    except re.error as error:
        return wrong(f"that is not a valid regular expression ({error}). Test it on one line first: "
                     "re.search(rule, 'Nell said, \"Morning.\"').")
    except Exception as error:  # noqa: BLE001 (any bug in a learner's function: say which, keep the lesson going)
        return wrong(f"your function raised {type(error).__name__}: {error}. It is called with one "
                     "paragraph's text (a str) and must return True or False.")
    precision, found, hers = score["precision"], score["found"], score["hers"]
    summary = f"precision {precision:.2f}, {found} of her {hers} labelled lines found"
    if score["wrong"] and precision < MIN_PRECISION:
        text, speaker = score["wrong"][0]
        return wrong(f"{summary}. It also gives her lines that are not hers, e.g. {speaker}'s: "
                     f"{text[:120]!r}. Hint: a name inside the quotes is the person spoken *to*; look for "
                     "her name next to a speech verb (said, asked, called) instead.")
    if found < MIN_FOUND:
        return wrong(f"{summary}: precise, but it finds too few of her lines to train on (at least "
                     f"{MIN_FOUND}). Hint: tags come in both orders, \"Nell said\" and \"said Nell\", and "
                     "many verbs: asked, called, answered.")
    return right(f"{summary}. A wrong line teaches the model someone else's voice, so precision "
                 "comes first; the lesson's extractor adds action beats and turn-taking to find the "
                 "untagged rest.")
