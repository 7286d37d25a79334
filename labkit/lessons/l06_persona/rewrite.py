"""Strategy B: rewrite third-person narration about the character as first-person assistant turns.

The rewriting itself is done by a pluggable teacher (see ``teachers.py``). The offline default,
``to_first_person``, is rule-based and written by hand: no library converts narrative voice.
It handles the character's names, pronouns, possessives and present-tense verb agreement.

Its limits, each one tested in ``tests/test_persona.py``:

1. Every "she"/"her" (or "he"/"him") is taken to be the character. "Nell saw Lark. She waved."
   becomes "I saw Lark. I waved." That is why ``rewritable_passages`` skips paragraphs that
   name another character with the same pronouns.
2. "her" before a word that is both a noun and a verb is read as possessive:
   "Tam watched her work" becomes "Tam watched my work".
3. Compound subjects keep their order: "Nell and Tam walked" becomes "I and Tam walked".
4. "Nell's" is always a possessive, never "Nell is": "Nell's tired" becomes "my tired".
5. Names the narration uses other than the character's aliases ("his aunt") are left alone.
6. The tense is kept: past narration becomes a first-person recollection in the past.
7. A second verb agrees when it follows "and", "or" or "but" right after the first one ("She walks
   and talks" becomes "I walk and talk"), or when it is is/has/does/goes/says later in the clause
   ("She is tired and has a cold" becomes "I am tired and have a cold"). Any other verb after an
   object keeps its -s: "She hands Tam the rope and nods" becomes "I hand Tam the rope and nods".
Quoted speech inside a passage is never changed.

>>> to_first_person("Nell pulled the rope. Her hands were cold, so she rubbed them.")
'I pulled the rope. My hands were cold, so I rubbed them.'
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tqdm.auto import tqdm

from labkit.lessons.l06_persona.corpus import CAST, NELL, Character, Novella
from labkit.lessons.l06_persona.dataset import Example
from labkit.lessons.l06_persona.extract import SubjectTracker
from labkit.lessons.l06_persona.prompts import Teacher

PREPOSITIONS = {
    "to", "at", "for", "with", "from", "by", "of", "on", "in", "into", "onto", "behind", "beside",
    "toward", "towards", "about", "like", "than", "past", "around", "near", "over", "under", "without",
    "against", "between", "among", "upon", "across", "through",
}
# After these the next word is still a noun phrase, so "her" there is an object: "gave her the rope".
FUNCTION_WORDS = PREPOSITIONS | {
    "the", "a", "an", "that", "this", "these", "those", "and", "but", "or", "so", "as", "if", "then",
    "again", "too", "there", "here", "now", "when", "while", "because", "what", "how", "why", "where",
    "who", "whom", "not", "all", "once", "twice", "up", "down", "out", "off", "away", "back", "home",
    "yet", "still", "just", "also", "only", "even", "ever", "never", "very",
}
# Bare verbs that follow an object pronoun ("let her go", "made her laugh").
BARE_VERBS = {
    "go", "come", "be", "do", "see", "say", "think", "sit", "stand", "stay", "leave", "pass", "fall",
    "sleep", "speak", "laugh", "cry", "try", "wait", "feel", "know", "hear", "look",
}
AUXILIARIES = {
    "was", "wasn't", "had", "hadn't", "is", "isn't", "has", "hasn't", "would", "wouldn't", "could",
    "couldn't", "did", "didn't", "will", "won't", "can", "can't", "should", "might", "must", "were",
    "does", "doesn't",
}
COMMON_VERBS = {
    "took", "went", "ran", "said", "saw", "sat", "stood", "thought", "knew", "felt", "made", "gave",
    "told", "put", "came", "got", "found", "left", "kept", "held", "lay", "woke", "drank", "ate",
    "slept", "knelt", "spat", "let", "set", "shook", "began", "brought", "bought", "sent", "heard",
    "met", "rose", "fell",
}
ADVERBS = {
    "always", "never", "still", "often", "just", "also", "only", "even", "sometimes", "already",
    "again", "then", "now", "not", "rarely", "seldom", "usually",
}
NOT_VERBS_IN_S = {
    "was", "wasn't", "its", "this", "thus", "as", "us", "always", "perhaps", "sometimes", "towards",
    "afterwards", "besides", "across", "less", "unless", "yes", "news", "whereas", "others", "ours",
    "yours", "theirs",
}
AGREEMENT = {"is": "am", "isn't": "am not", "has": "have", "hasn't": "haven't", "does": "do",
             "doesn't": "don't", "goes": "go", "says": "say"}
CONJUNCTIONS = {"and", "or", "but"}
# Words that open a clause with a subject of its own: "She knows Hobb, who is old and has a cough".
CLAUSE_OPENERS = {
    "who", "whom", "whose", "which", "that", "because", "while", "when", "if", "though", "although",
}


def _is_word(token: str) -> bool:
    return token[:1].isalpha()


def _verbish(word: str | None) -> bool:
    return bool(word) and (word in AUXILIARIES or word in COMMON_VERBS or word.endswith("ed"))


def _third_to_first(word: str) -> str:
    """Present-tense agreement for a verb after a new "I": walks → walk, carries → carry."""
    lower = word.lower()
    if lower in AGREEMENT:
        return AGREEMENT[lower]
    if lower in NOT_VERBS_IN_S or len(lower) < 4 or not lower.endswith("s") or lower.endswith(("ss", "us", "is")):
        return word
    if lower.endswith("ies") and len(lower) > 4:  # carries → carry, but ties → tie
        return word[:-3] + "y"
    if lower.endswith(("ches", "shes", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1]


def to_first_person(text: str, character: Character = NELL) -> str:
    """Rewrite narration about ``character`` in the first person (rules; see the module's limits).

    >>> to_first_person("She always walks to the post. She ties her boat herself.")
    'I always walk to the post. I tie my boat myself.'
    >>> to_first_person("She walks and talks. She is tired and has a cold.")
    'I walk and talk. I am tired and have a cold.'
    """
    p = character.pronouns
    aliases = "|".join(re.escape(a) for a in sorted(character.aliases, key=len, reverse=True))
    token_re = re.compile(rf"(?:{aliases})(?:'s)?\b|[A-Za-z]+(?:['\u2019][A-Za-z]+)*|\s+|.")
    tokens = token_re.findall(text)
    out = list(tokens)
    in_quote = False
    # What the next word may be: "verb" (it belongs to a new "I": "she walks" → "I walk"),
    # "conjunction" (a verb was just agreed: "walks and talks"), "known verb" (after "and" later in
    # a clause about "I": "is tired and has" → "am tired and have"), or None.
    expect = None
    mine = False  # this clause's subject is the new "I"

    def neighbour(i: int, step: int) -> str | None:
        """The next/previous word, or None if punctuation comes first."""
        j = i + step
        while 0 <= j < len(tokens) and tokens[j].isspace():
            j += step
        return tokens[j].lower() if 0 <= j < len(tokens) and _is_word(tokens[j]) else None

    def sentence_start(i: int) -> bool:
        j = i - 1
        while j >= 0 and tokens[j].isspace():
            j -= 1
        return j < 0 or tokens[j] in ".!?"

    for i, token in enumerate(tokens):
        if token in ('"', "\u201c", "\u201d"):
            in_quote = not in_quote if token == '"' else token == "\u201c"
            expect, mine = None, False
            continue
        if in_quote or not _is_word(token):
            if token in ".!?;:":
                mine = False
            if not token.isspace() and token != ",":  # "walks, and talks": a comma keeps the thread
                expect = None
            continue
        lower, after, before = token.lower(), neighbour(i, +1), neighbour(i, -1)
        new, then = None, None
        if token.endswith("'s") and token[:-2] in character.aliases:
            new = "my" if after else "mine"
        elif token in character.aliases:
            object_position = not _verbish(after) and (before in PREPOSITIONS or _verbish(before))
            new, then = ("me", None) if object_position else ("I", "verb")
        elif lower == p.subject:
            new, then = "I", "verb"
        elif lower == f"{p.subject}'s":
            new = "I've" if after in ("been", "got", "gone", "done", "had") else "I'm"
        elif lower in (f"{p.subject}'d", f"{p.subject}'ll"):
            new = "I" + lower[len(p.subject):]
        elif lower == p.reflexive:
            new = "myself"
        elif lower == p.object and lower == p.determiner:  # "her": object or possessive?
            object_position = after is None or after in FUNCTION_WORDS or after in BARE_VERBS
            new = "me" if object_position else "my"
        elif lower == p.determiner and lower == p.possessive:  # "his": before a noun or alone
            new = "my" if after and after not in FUNCTION_WORDS else "mine"
        elif lower == p.object:
            new = "me"
        elif lower == p.determiner:
            new = "my"
        elif lower == p.possessive:
            new = "mine"
        elif expect in ("verb", "known verb") and (lower in ADVERBS or lower.endswith("ly")):
            continue  # "she always walks": keep looking for the verb
        elif token[0].isupper() and not sentence_start(i):
            pass  # a name ("and Piers talks"), never a verb of ours
        elif expect == "verb" or (expect == "known verb" and lower in AGREEMENT):
            fixed = _third_to_first(token)
            out[i] = fixed[0].upper() + fixed[1:] if token[0].isupper() else fixed
            then = "conjunction"
        elif lower in CONJUNCTIONS and (expect == "conjunction" or mine):
            then = "verb" if expect == "conjunction" else "known verb"
        elif lower in CLAUSE_OPENERS:
            mine = False
        expect = then
        if new is not None:
            mine = mine or new.startswith("I")
            out[i] = new if new.startswith("I") or not sentence_start(i) else new.capitalize()
    return "".join(out)


@dataclass(frozen=True)
class Passage:
    """A piece of narration about the character, with where it came from."""

    text: str
    offset: int
    chapter: int


def rewritable_passages(novella: Novella, character: Character = NELL,
                        cast: tuple[Character, ...] = CAST, max_words: int = 60) -> list[Passage]:
    """Narration paragraphs about ``character`` that the rules can rewrite safely, in chunks.

    A paragraph qualifies if it has no quotes, its pronouns of the character's kind point to the
    character (checked with the same subject tracker as extraction), and no other character
    with those pronouns is named in it (limit 1 of the rules). Long ones are cut at sentences.
    """
    same_pronouns = [c for c in cast if c.pronouns == character.pronouns and c.name != character.name]
    others = re.compile(r"\b(?:" + "|".join(re.escape(a) for c in same_pronouns for a in c.aliases) + r")\b")
    mine = re.compile(r"\b(?:" + "|".join(re.escape(a) for a in character.aliases) + r")\b")
    subject_word = re.compile(rf"\b{character.pronouns.subject}\b", re.IGNORECASE)
    tracker, chapter, passages = SubjectTracker(cast), None, []
    for paragraph in novella.story:
        if paragraph.chapter != chapter:
            tracker.reset()
            chapter = paragraph.chapter
        points_to_character = tracker.last.get(character.pronouns.subject) == character.name
        tracker.read(paragraph.narration())
        if paragraph.is_dialogue or others.search(paragraph.text):
            continue
        if not (mine.search(paragraph.text) or (points_to_character and subject_word.search(paragraph.text))):
            continue
        chunks: list[list[str]] = [[]]
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph.text):
            if chunks[-1] and len(" ".join(chunks[-1] + [sentence]).split()) > max_words:
                chunks.append([])
            chunks[-1].append(sentence)
        # A short tail reads badly alone ("It was the only hour…"): keep it with the chunk before.
        if len(chunks) > 1 and len(" ".join(chunks[-1]).split()) < max_words // 4:
            tail = chunks.pop()
            chunks[-1] += tail
        passages += [Passage(" ".join(c), paragraph.offset, paragraph.chapter) for c in chunks]
    return passages


# What a user might say to get a recollection; the narration supplies the answer.
RECALL_PROMPTS = (
    "What happened next?", "Tell me what you remember.", "What were you doing then?",
    "Go on, tell me more.", "What was on your mind?", "Tell me about that day.",
    "How did it go?", "What did you do?",
)


def rewrite_passages(passages: list[Passage], teacher: Teacher, character: Character = NELL) -> list[str]:
    """Each passage in the first person, by the teacher, with a progress bar."""
    return [teacher.rewrite_first_person(p.text, character)
            for p in tqdm(passages, desc=f"rewrite ({teacher.name})", unit="passage")]


def narrative_examples(novella: Novella, teacher: Teacher, character: Character = NELL,
                       seed: int = 0, max_words: int = 60) -> list[Example]:
    """Strategy B end to end: passages → first-person rewrites → user/assistant examples."""
    passages = rewritable_passages(novella, character, max_words=max_words)
    rewrites = rewrite_passages(passages, teacher, character)
    rng = random.Random(seed)
    return [Example.pair(rng.choice(RECALL_PROMPTS), text, "narrative", f"novella@{p.offset}")
            for p, text in zip(passages, rewrites) if text.strip()]
