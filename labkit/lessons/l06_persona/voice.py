"""How much a text sounds like the character: a persona score in [0, 1].

``persona_score(texts)`` is the mean of three parts, each in [0, 1]:

1. first person: the share of texts that use I/me/my…, divided by the same share in the
   character's own lines (capped at 1), so talking like her scores 1;
2. lexicon: the rate of the character's signature words (``Character.lexicon``) per word,
   divided by the rate in her own lines (capped at 1);
3. style classifier: the mean probability, from a logistic regression on the words a text
   uses, that it is hers. It is trained on her lines against two kinds of text that are not
   her voice: the other characters' lines and the narrator's sentences.

The first two are easy to read but easy to game; the classifier looks at all the words.
Measured with a 70/30 split of the novella: her held-out lines score about 0.8, other
characters' held-out lines about 0.45, the narrator's sentences about 0.2, and the tiny model's
pre-training biographies about 0.05.

>>> round(persona_score(["I reckon the river's up, friend. Mark you, it digs."]), 2) > 0.8
True
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from labkit.lessons.l06_persona.corpus import NELL, Character, Novella, load_novella
from labkit.lessons.l06_persona.extract import attribute_speakers

FIRST_PERSON = {"i", "me", "my", "mine", "myself", "i'm", "i've", "i'll", "i'd"}
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes kept: ``"I'm here."`` → ``["i'm", "here"]``."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def first_person_rate(texts: list[str]) -> float:
    """The share of texts with at least one first-person word.

    >>> first_person_rate(["I went.", "She went."])
    0.5
    """
    return sum(any(w in FIRST_PERSON for w in words(t)) for t in texts) / len(texts) if texts else 0.0


def lexicon_rate(texts: list[str], lexicon: tuple[str, ...]) -> float:
    """Signature words per word, over all texts together.

    >>> lexicon_rate(["the river", "a rope here"], ("river", "rope"))
    0.4
    """
    all_words = [w for t in texts for w in words(t)]
    wanted = set(lexicon)
    return sum(w in wanted for w in all_words) / len(all_words) if all_words else 0.0


class StyleClassifier:
    """Logistic regression on which words a text uses, trained by plain gradient descent.

    Written by hand (numpy, thirty lines) to keep scikit-learn out of the dependencies. Each
    group of examples (the character's lines; each group of negatives) gets equal total weight,
    so the few lines of other speakers count as much as the many sentences of narration.

    >>> clf = StyleClassifier().fit(["i reckon so", "mark you, friend"], [["yes sir", "the survey says"]])
    >>> clf.probability("i reckon, friend") > 0.5 > clf.probability("the survey")
    True
    """

    def __init__(self, l2: float = 1.0, steps: int = 400, learning_rate: float = 0.5):
        self.l2, self.steps, self.learning_rate = l2, steps, learning_rate

    def _features(self, texts: list[str]):
        import numpy as np

        x = np.zeros((len(texts), len(self.vocabulary)))
        for row, text in enumerate(texts):
            for w in set(words(text)):
                if w in self.vocabulary:
                    x[row, self.vocabulary[w]] = 1.0
        return x

    def fit(self, own: list[str], negative_groups: list[list[str]]) -> StyleClassifier:
        import numpy as np

        groups = [(own, 1.0)] + [(g, 0.0) for g in negative_groups if g]
        self.vocabulary = {w: i for i, w in enumerate(sorted({w for g, _ in groups for t in g for w in words(t)}))}
        x = np.vstack([self._features(g) for g, _ in groups])
        y = np.concatenate([np.full(len(g), label) for g, label in groups])
        weight = np.concatenate([np.full(len(g), 1.0 / len(g)) for g, _ in groups])
        weight /= weight.mean()
        self.weights, self.bias = np.zeros(x.shape[1]), 0.0
        for _ in range(self.steps):
            p = 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))
            gradient = (p - y) * weight
            self.weights -= self.learning_rate * (x.T @ gradient + self.l2 * self.weights) / len(y)
            self.bias -= self.learning_rate * gradient.mean()
        return self

    def probabilities(self, texts: list[str]) -> list[float]:
        import numpy as np

        if not texts:
            return []
        return (1.0 / (1.0 + np.exp(-(self._features(texts) @ self.weights + self.bias)))).tolist()

    def probability(self, text: str) -> float:
        """P(the text is the character's)."""
        return self.probabilities([text])[0]


def distinctive_words(own: list[str], others: list[str], k: int = 15, min_count: int = 3) -> list[str]:
    """The words most over-used in ``own`` compared with ``others`` (smoothed log-odds)."""
    a = Counter(w for t in own for w in words(t))
    b = Counter(w for t in others for w in words(t))
    na, nb = sum(a.values()), sum(b.values())
    score = {w: math.log((a[w] + 1) / (na + 1)) - math.log((b[w] + 1) / (nb + 1)) for w in a if a[w] >= min_count}
    return sorted(score, key=score.get, reverse=True)[:k]


@dataclass
class PersonaScorer:
    """The three parts of the persona score, calibrated on the character's own lines."""

    classifier: StyleClassifier
    lexicon: tuple[str, ...]
    reference_first_person: float
    reference_lexicon: float

    @classmethod
    def fit(cls, own: list[str], negative_groups: list[list[str]], lexicon: tuple[str, ...]) -> PersonaScorer:
        """Calibrate on ``own`` lines; the classifier learns them against each negative group."""
        return cls(StyleClassifier().fit(own, negative_groups), lexicon,
                   first_person_rate(own), lexicon_rate(own, lexicon))

    def components(self, texts: list[str]) -> dict[str, float]:
        if not texts:
            return {"first_person_rate": 0.0, "lexicon_rate": 0.0, "classifier": 0.0, "persona_score": 0.0}
        fp, lex = first_person_rate(texts), lexicon_rate(texts, self.lexicon)
        parts = {
            "first_person": min(1.0, fp / self.reference_first_person) if self.reference_first_person else 0.0,
            "lexicon": min(1.0, lex / self.reference_lexicon) if self.reference_lexicon else 0.0,
            # An empty reply says nothing in anyone's voice: score it 0, not the prior of 0.5.
            "classifier": sum(p if words(t) else 0.0
                              for t, p in zip(texts, self.classifier.probabilities(texts))) / len(texts),
        }
        return {"first_person_rate": fp, "lexicon_rate": lex, "classifier": parts["classifier"],
                "persona_score": sum(parts.values()) / 3}

    def score(self, texts: list[str]) -> float:
        return self.components(texts)["persona_score"]


def narration_sentences(novella: Novella) -> list[str]:
    """Every sentence of narration: the narrator's voice, which is not the character's."""
    return [s for p in novella.story if not p.is_dialogue
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", p.text)]


def lines_by_speaker(novella: Novella, character: Character = NELL) -> tuple[list[str], list[str]]:
    """The character's quoted lines and everyone else's, by the extractor's attribution."""
    own, others = [], []
    for a in attribute_speakers(novella):
        if a.speaker is not None:
            (own if a.speaker == character.name else others).append(a.paragraph.speech)
    return own, others


@lru_cache(maxsize=4)
def default_scorer(character: Character = NELL) -> PersonaScorer:
    """The scorer for ``character``: her lines against other speakers' lines and the narration."""
    novella = load_novella()
    own, others = lines_by_speaker(novella, character)
    return PersonaScorer.fit(own, [others, narration_sentences(novella)], character.lexicon)


def persona_score(texts: list[str], scorer: PersonaScorer | None = None) -> float:
    """How much ``texts`` sound like the character, in [0, 1] (see the module docstring)."""
    return (scorer or default_scorer()).score(list(texts))
