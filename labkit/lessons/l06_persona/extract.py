"""Strategy A: find who speaks each quoted line, and pair the protagonist's lines with what they answer.

Written by hand because no library attributes speakers in fiction from plain conventions.
The rules, in priority order, for a paragraph that contains quotes (one speaker per paragraph,
the usual convention in English fiction):

1. a speech tag right after a quote: ``"…," Nell said`` / ``"…," said Nell`` / ``"…" she asked``;
2. a speech tag right before a quote: ``Miss Pruett said, "…"``;
3. an action beat: the subject of the last narration sentence before the quote (``Hobb laughed. "…"``);
4. turn alternation: an untagged line belongs to whoever spoke before the previous speaker
   or, when only one person has spoken yet, to the character the narration mentioned last.

"he"/"she" resolve to the most recent sentence subject of that gender in the narration.

>>> from labkit.lessons.l06_persona.corpus import load_novella
>>> turns = extract_dialogue(load_novella(), NELL)
>>> turns[0].assistant
"Morning yourself. Hold on to that horse, friend. The river's turning."
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from labkit.lessons.l06_persona.corpus import (
    CAST,
    LABELS_PATH,
    NELL,
    Character,
    Novella,
    Paragraph,
)

SPEECH_VERBS = (
    "said", "asked", "called back", "called", "shouted back", "shouted", "answered", "replied",
    "agreed", "repeated", "whispered", "muttered", "added", "cried", "snapped", "went on", "began",
)
_VERB = "(?:" + "|".join(SPEECH_VERBS) + r")\b"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Attribution:
    """Who speaks in one dialogue paragraph, and which rule decided it."""

    paragraph: Paragraph
    speaker: str | None
    rule: str  # "tag-after", "tag-before", "beat", "alternation" or "none"


@dataclass(frozen=True)
class Turn:
    """One user → assistant pair: what was said or narrated, and the protagonist's reply."""

    user: str
    assistant: str
    offset: int  # where the protagonist's line starts in the novella
    answers_offset: int  # where the paragraph it answers starts


class SubjectTracker:
    """The latest sentence subject of each gender, so "he"/"she" can be resolved."""

    def __init__(self, cast: tuple[Character, ...]):
        self.cast = cast
        # Longest alias first so "Piet Olander" wins over "Piet".
        aliases = sorted(((a, c) for c in cast for a in c.aliases), key=lambda ac: -len(ac[0]))
        self.by_alias = dict(aliases)
        names = "|".join(re.escape(a) for a, _ in aliases)
        self.alias_re = re.compile(rf"\b(?:{names})\b")
        self.first_re = re.compile(rf"\b(?P<alias>{names})\b|\b(?P<pronoun>[Hh]e|[Ss]he)\b")
        self.tag_after = re.compile(
            rf"^[\s,]*(?:(?P<who>{names}|[Hh]e|[Ss]he)\s+(?:\w+ly\s+)?{_VERB}|{_VERB}\s+(?P<who2>{names})\b)")
        self.tag_before = re.compile(
            rf"(?P<who>{names}|[Hh]e|[Ss]he)\s+(?:\w+ly\s+)?{_VERB}(?:\s+\w+)?\s*[,:]\s*$")
        self.last: dict[str, str] = {}
        self.mentioned: list[str] = []  # every character named in narration, in order

    def reset(self) -> None:
        self.last, self.mentioned = {}, []

    def resolve(self, words: str) -> str | None:
        if words.lower() in ("he", "she"):
            return self.last.get(words.lower())
        return self.by_alias[words].name

    def note(self, name: str | None) -> None:
        for c in self.cast:
            if c.name == name:
                self.last[c.pronouns.subject] = name

    def read(self, narration: str) -> list[str]:
        """Resolve and remember the subject of each sentence; return them in order."""
        subjects = []
        self.mentioned += [self.by_alias[m.group(0)].name for m in self.alias_re.finditer(narration)]
        for sentence in _SENTENCE_END.split(narration):
            match = self.first_re.search(sentence)
            if match:
                name = self.resolve(match.group("alias") or match.group("pronoun"))
                if name:
                    self.note(name)
                    subjects.append(name)
        return subjects


def _segments(paragraph: Paragraph) -> list[tuple[str, bool, bool]]:
    """Narration pieces between quotes: (text, follows a quote, precedes a quote)."""
    narration, out, pos = paragraph.narration(), [], 0
    bounds = [(q.start - paragraph.offset, q.end - paragraph.offset) for q in paragraph.quotes]
    for i, (start, end) in enumerate(bounds):
        out.append((narration[pos:start], i > 0, True))
        pos = end
    out.append((narration[pos:], True, False))
    return out


RULES = ("tag-after", "tag-before", "beat", "alternation")


def attribute_speakers(novella: Novella, cast: tuple[Character, ...] = CAST,
                       rules: tuple[str, ...] = RULES) -> list[Attribution]:
    """Decide the speaker of every dialogue paragraph, by tags, beats, then alternation.

    Pass a subset of ``RULES`` to see what each rule contributes, e.g. ``rules=("tag-after",)``.
    """
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown rules {sorted(unknown)}; choose from {RULES}")
    subjects, results, history, chapter = SubjectTracker(cast), [], [], None
    for paragraph in novella.story:
        if paragraph.chapter != chapter:  # a new chapter is a new scene: forget who was talking
            subjects.reset()
            history, chapter = [], paragraph.chapter
        if not paragraph.is_dialogue:
            subjects.read(paragraph.text)
            continue
        speaker = rule = None
        beat: list[str] = []
        for i, (text, after_quote, before_quote) in enumerate(_segments(paragraph)):
            if "tag-after" in rules and after_quote and speaker is None and (m := subjects.tag_after.search(text)):
                speaker, rule = subjects.resolve(m.group("who") or m.group("who2")), "tag-after"
            found = subjects.read(text)  # before a tag-before, so "Lark … Then she asked," is Lark
            if "tag-before" in rules and before_quote and speaker is None \
                    and (m := subjects.tag_before.search(text)):
                speaker, rule = subjects.resolve(m.group("who")), "tag-before"
            if i == 0:
                beat = found
        if "beat" in rules and speaker is None and beat:
            speaker, rule = beat[-1], "beat"
        if "alternation" in rules and speaker is None and history:
            others = [s for s in reversed(history) if s != history[-1]]
            others += [s for s in reversed(subjects.mentioned) if s != history[-1]]
            if others:
                speaker, rule = others[0], "alternation"
        if speaker is not None:
            history.append(speaker)
            subjects.note(speaker)
        results.append(Attribution(paragraph, speaker, rule or "none"))
    return results


def _answered(paragraph: Paragraph, speakers: dict[int, str | None], story: list[Paragraph],
              character: Character) -> Paragraph | None:
    """What a line answers: the previous paragraph, or the other speaker's line just before an
    interlude of narration (``"News?" / Nell kept pulling. / "Did they now."``)."""
    i = next(k for k, p in enumerate(story) if p.offset == paragraph.offset)
    if i == 0 or story[i - 1].chapter != paragraph.chapter:
        return None
    previous = story[i - 1]
    if previous.is_dialogue:
        return previous if speakers.get(previous.offset) != character.name else None
    if i >= 2 and story[i - 2].is_dialogue and story[i - 2].chapter == paragraph.chapter \
            and speakers.get(story[i - 2].offset) not in (None, character.name):
        return story[i - 2]
    return previous


def extract_dialogue(novella: Novella, character: Character = NELL,
                     attributions: list[Attribution] | None = None) -> list[Turn]:
    """The character's lines, each paired with the line or narration it answers."""
    attributions = attributions if attributions is not None else attribute_speakers(novella)
    speakers = {a.paragraph.offset: a.speaker for a in attributions}
    story, turns = novella.story, []
    for a in attributions:
        if a.speaker != character.name:
            continue
        answered = _answered(a.paragraph, speakers, story, character)
        if answered is None:
            continue
        user = answered.speech if answered.is_dialogue else answered.text
        turns.append(Turn(user.strip(), a.paragraph.speech, a.paragraph.offset, answered.offset))
    return turns


def load_labels(path: str | Path = LABELS_PATH) -> list[dict]:
    """Read the hand labels; a bad line raises naming its file, line and field."""
    labels = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from None
        for name in ("offset", "speaker", "quote"):
            if name not in record:
                raise ValueError(f"{path}:{number}: missing field {name!r}")
        labels.append(record)
    return labels


def evaluate_extraction(attributions: list[Attribution], turns: list[Turn], labels: list[dict],
                        character: Character = NELL) -> dict:
    """Precision and recall of "this line is the character's" on the labelled paragraphs,
    plus how often the paired prompt is the one the labeller chose.

    >>> from labkit.lessons.l06_persona.corpus import load_novella
    >>> novella = load_novella(); atts = attribute_speakers(novella)
    >>> evaluate_extraction(atts, extract_dialogue(novella, NELL, atts), load_labels())["precision"] >= 0.9
    True
    """
    labelled = {r["offset"]: r for r in labels}
    predicted = {a.paragraph.offset: a.speaker for a in attributions if a.paragraph.offset in labelled}
    missing = sorted(set(labelled) - set(predicted))
    if missing:
        raise ValueError(f"labels point at offsets that are not dialogue paragraphs: {missing[:5]}")
    tp = sum(1 for o, s in predicted.items() if s == character.name and labelled[o]["speaker"] == character.name)
    fp = sum(1 for o, s in predicted.items() if s == character.name and labelled[o]["speaker"] != character.name)
    fn = sum(1 for o, s in predicted.items() if s != character.name and labelled[o]["speaker"] == character.name)
    pairs = [t for t in turns if labelled.get(t.offset, {}).get("speaker") == character.name]
    paired_right = sum(1 for t in pairs if labelled[t.offset].get("answers_offset") == t.answers_offset)
    return {
        "labelled_quotes": len(labelled),
        "labelled_protagonist": tp + fn,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "speaker_accuracy": sum(predicted[o] == r["speaker"] for o, r in labelled.items()) / len(labelled),
        "pairing_accuracy": paired_right / len(pairs) if pairs else 0.0,
    }
