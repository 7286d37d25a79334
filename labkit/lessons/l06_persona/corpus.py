"""The persona corpus: the novella, its paragraphs and quotes, and its cast of characters.

>>> novella = load_novella()
>>> novella.words > 6000, NELL.name
(True, 'Nell')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from labkit.paths import NOVELLA_PATH, PERSONA_DATA_DIR

PERSONA_DIR = PERSONA_DATA_DIR
LABELS_PATH = PERSONA_DIR / "extraction_labels.jsonl"

# Straight and curly double quotes both open and close speech; single quotes are left alone
# because they also mark nested quotes and apostrophes ("it's", 'Never race the river').
QUOTE_RE = re.compile(r'["\u201c]([^"\u201c\u201d]*)["\u201d]')


@dataclass(frozen=True)
class Pronouns:
    """A character's pronoun set, e.g. she/her/her/hers/herself."""

    subject: str
    object: str
    determiner: str  # "her coat", "his coat"
    possessive: str  # "it is hers", "it is his"
    reflexive: str


SHE = Pronouns("she", "her", "her", "hers", "herself")
HE = Pronouns("he", "him", "his", "his", "himself")


@dataclass(frozen=True)
class Character:
    """Someone in the story: a canonical name, the forms narration uses for them, and pronouns.

    >>> Character("Ada", ("Ada Fell", "Ada"), SHE).matches("Ada Fell")
    True
    """

    name: str
    aliases: tuple[str, ...]
    pronouns: Pronouns
    lexicon: tuple[str, ...] = ()  # words that mark this character's voice (used by voice.py)
    voice: str = ""  # a one-line description of how they talk, for teacher prompts
    openers: tuple[str, ...] = ()  # habitual sentence openers; style only, they carry no facts

    def matches(self, words: str) -> bool:
        return words in self.aliases


# The protagonist. Her lexicon is the one the novella was written with, kept to words she uses
# and other speakers rarely do: "reckon", "mark you", "friend"/"love" as addresses, river and
# rope words, "two things"/"three things", "the same", and her distrust of hurry.
NELL = Character(
    "Nell", ("Nell Brannock", "Nell"), SHE,
    lexicon=("reckon", "mark", "friend", "love", "hurry", "river", "river's", "rope", "water",
             "slack", "eddy", "digs", "willows", "things", "same"),
    voice=("plain words and short sentences; says 'I reckon' and 'mark you'; calls people 'friend'; "
           "thinks in river, tide and rope terms; distrusts hurry and paper plans"),
    openers=("I reckon", "Mark you,", "Well, friend.", "Now then.", "I'll tell you."),
)

# Everyone else who speaks or is a sentence subject. Descriptive aliases ("the engineer") are
# how the narration names people before their names are given.
CAST: tuple[Character, ...] = (
    NELL,
    Character("Piet", ("Piet Olander", "Mr Olander", "Piet", "The engineer", "the engineer"), HE),
    Character("Tam", ("Tam Brannock", "Tam", "Her nephew"), HE),
    Character("Hobb", ("Hobb the carter", "Hobb"), HE),
    Character("Lark", ("Lark Tulley", "Lark"), SHE),
    Character("Pruett", ("Miss Pruett",), SHE),
    Character("Tulley", ("Mrs Tulley",), SHE),
    Character("Cobb", ("Alderman Cobb", "the Alderman", "The Alderman"), HE),
    Character("Dobbs", ("Dobbs",), HE),
    Character("Sarah", ("Sarah",), SHE),
    Character("Will", ("Uncle Will", "Will"), HE),
)


@dataclass(frozen=True)
class Quote:
    """One quoted span: absolute character offsets into the novella and the words inside."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    """One block of text between blank lines, with its chapter and absolute offset."""

    index: int
    chapter: int
    offset: int
    text: str
    quotes: tuple[Quote, ...] = field(default=())

    @property
    def is_dialogue(self) -> bool:
        return bool(self.quotes)

    @property
    def speech(self) -> str:
        """The quoted words joined into one utterance: ``"A," X said, "b."`` → ``A, b.``;
        ``"Did they now," Nell said.`` → ``Did they now.``."""
        pieces = [q.text.strip() for q in self.quotes if q.text.strip()]
        joined = pieces[0] if pieces else ""
        for piece in pieces[1:]:
            # A comma before the tag belongs to a sentence that continues only if the next
            # piece starts in lower case; otherwise the tag ended the sentence.
            if joined.endswith(",") and piece[:1].isupper():
                joined = joined[:-1] + "."
            joined += " " + piece
        # The comma before a closing tag ends the line: a reply that ends in one would teach the
        # model to trail off.
        return joined[:-1] + "." if joined.endswith(",") else joined

    def narration(self) -> str:
        """The paragraph with its quotes blanked out (same length, so offsets still line up)."""
        out = self.text
        for q in self.quotes:
            s, e = q.start - self.offset, q.end - self.offset
            out = out[:s] + " " * (e - s) + out[e:]
        return out


@dataclass
class Novella:
    """The whole text split into chapters and paragraphs."""

    text: str
    path: Path | None = None

    @cached_property
    def paragraphs(self) -> list[Paragraph]:
        paragraphs, chapter = [], 0
        for match in re.finditer(r"[^\n]+(?:\n[^\n]+)*", self.text):
            block = match.group(0)
            if block.startswith("## "):
                chapter += 1
            quotes = tuple(
                Quote(match.start() + q.start(), match.start() + q.end(), q.group(1))
                for q in QUOTE_RE.finditer(block)
            )
            if block.count('"') % 2:
                where = f"{self.path or 'novella'}:{self.text.count(chr(10), 0, match.start()) + 1}"
                raise ValueError(f"{where}: unbalanced double quote in paragraph {block[:60]!r}")
            paragraphs.append(Paragraph(len(paragraphs), chapter, match.start(), block, quotes))
        return paragraphs

    @property
    def story(self) -> list[Paragraph]:
        """Paragraphs inside chapters, without headings."""
        return [p for p in self.paragraphs if p.chapter > 0 and not p.text.startswith("#")]

    @property
    def words(self) -> int:
        return sum(len(p.text.split()) for p in self.story)

    def chapter_titles(self) -> dict[int, str]:
        return {p.chapter: p.text.split(":", 1)[-1].strip() for p in self.paragraphs
                if p.text.startswith("## ")}

    def paragraph_at(self, offset: int) -> Paragraph:
        """The paragraph starting at ``offset`` (how labels point into the text)."""
        for p in self.paragraphs:
            if p.offset == offset:
                return p
        raise KeyError(f"no paragraph starts at offset {offset} of {self.path or 'the novella'}")


def load_novella(path: str | Path = NOVELLA_PATH) -> Novella:
    """Read the novella. Quotes must balance within each paragraph (one speaker per paragraph)."""
    path = Path(path)
    novella = Novella(path.read_text(encoding="utf-8"), path)
    _ = novella.paragraphs  # parse now so a malformed file fails here, naming its line
    return novella
