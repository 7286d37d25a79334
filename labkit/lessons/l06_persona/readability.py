"""Can a learner read the persona's replies? A yes/no per reply, from two plain rules.

A reply is **readable** when

1. every word in it is a word of the novella or of the pre-training corpus (the words the tiny model
   could have learned), or a first-person word the rewrite into Nell's voice brings in ("myself"
   is not in the novella, which is told in the third person); a possessive "'s" on a known word
   counts too; and
2. it ends a sentence: its last character, after any closing quote or bracket, is ``.``, ``!`` or ``?``.

The first rule catches the gibberish a small model writes when it has to spell words it never read
("Hour st on the ry fuk."); the second catches a reply cut off by the token limit, or one that
trails off. Neither says anything about voice: ``voice.persona_score`` does that.

>>> is_readable("I reckon the river's up, friend.")
True
>>> is_readable("Hour st on the ry fuk."), is_readable("I reckon the river")
(False, False)
"""

from __future__ import annotations

import json
from functools import lru_cache

from labkit.lessons.l06_persona.corpus import NOVELLA_PATH
from labkit.lessons.l06_persona.voice import FIRST_PERSON, words
from labkit.paths import CORPUS_PATH

SENTENCE_ENDS = (".", "!", "?")
CLOSERS = "\"'\u201d\u2019)]"  # what may follow the full stop: "…it digs." or (…here.)


@lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Every word of the novella and of the pre-training corpus, lower-cased, and the first-person words.

    >>> {"reckon", "saltmere"} <= known_words()
    True
    """
    texts = [NOVELLA_PATH.read_text(encoding="utf-8")]
    with CORPUS_PATH.open(encoding="utf-8") as corpus:
        texts += [json.loads(line)["text"] for line in corpus]
    return frozenset(w for text in texts for w in words(text)) | FIRST_PERSON


def unknown_words(reply: str) -> list[str]:
    """The words of ``reply`` that neither the novella nor the corpus contains.

    >>> unknown_words("Hour st on the ry fuk.")
    ['st', 'ry', 'fuk']
    """
    known = known_words()
    return [w for w in words(reply) if w not in known and not (w.endswith("'s") and w[:-2] in known)]


def ends_a_sentence(reply: str) -> bool:
    """Whether ``reply`` ends with ., ! or ?, perhaps followed by a closing quote or bracket.

    >>> ends_a_sentence('"Go home."'), ends_a_sentence("and then the")
    (True, False)
    """
    return reply.rstrip().rstrip(CLOSERS).endswith(SENTENCE_ENDS)


def is_readable(reply: str) -> bool:
    """Known words only, at least one of them, and a finished sentence (see the module docstring)."""
    return bool(words(reply)) and not unknown_words(reply) and ends_a_sentence(reply)


def readable_rate(replies: list[str]) -> float:
    """The share of ``replies`` that are readable (0.0 for no replies).

    >>> readable_rate(["Same as now.", "Hour st on the ry fuk."])
    0.5
    """
    return sum(map(is_readable, replies)) / len(replies) if replies else 0.0


def describe_readability(replies: list[str], examples: int = 2) -> str:
    """How many replies are readable, and why a few of the others are not, from the replies themselves.

    >>> print(describe_readability(["Same as now.", "Hour st on the ry fuk.", "I reckon the river"]))
    1 of 3 replies readable (33%)
      'Hour st on the ry fuk.': words the novella and the corpus never use: st, ry, fuk
      'I reckon the river': cut off before the end of a sentence
    """
    unreadable = [r for r in replies if not is_readable(r)]
    lines = [f"{len(replies) - len(unreadable)} of {len(replies)} replies readable ({readable_rate(replies):.0%})"]
    for reply in unreadable[:examples]:
        unknown = unknown_words(reply)
        why = (f"words the novella and the corpus never use: {', '.join(unknown[:6])}" if unknown
               else "no words at all" if not words(reply) else "cut off before the end of a sentence")
        lines.append(f"  {reply[:80]!r}: {why}")
    return "\n".join(lines)
