"""What a teacher is asked to do: the ``Teacher`` protocol, and the prompts that ask a model to do it.

A teacher does two jobs: rewrite narration in the character's first person (strategy B) and
write question/answer pairs about one passage (strategy C). The prompts follow the method:
rewrite faithfully, add nothing, answer only from the passage.

>>> [m["role"] for m in rewrite_messages("Nell smiled.", NELL)]
['system', 'user']
"""

from __future__ import annotations

import json
import re
from typing import Protocol

from labkit.lessons.l06_persona.corpus import NELL, Character

REWRITE_SYSTEM = (
    "You are a careful literary assistant. You change the narrative voice of passages from "
    "third person to first person. You never add events, feelings, details or opinions that "
    "are not in the passage, and you never leave anything out."
)
REWRITE_USER = """Rewrite the passage below from {name}'s first-person point of view, as if {name} were telling it.
- Keep the same events, in the same order, and the same tense.
- Change only what the change of voice requires: {name} becomes "I", "{subject}" becomes "I", "{object}" becomes "me", "{determiner}" becomes "my".
- Other people stay in the third person.
- Do not add information that is not in the passage.
Reply with the rewritten passage only.

Passage:
{passage}"""
QA_SYSTEM = (
    "You write training data for a character model. You only use information that is stated in "
    "the passage you are given, and you always answer as the character, in the first person."
)
QA_USER = """Here is a passage from a story about {name}.
Write {n} questions that someone might ask {name} about this passage, and {name}'s answer to each.
- Answer in the first person, in {name}'s voice: {voice}.
- Use only information stated in the passage. Do not invent names, places, events or feelings.
- Keep each answer to one to three sentences.
Reply with JSON only: a list of objects with the keys "question" and "answer".

Passage:
{passage}"""


class Teacher(Protocol):
    """What the persona strategies need from a teacher."""

    name: str
    model: str

    def rewrite_first_person(self, passage: str, character: Character) -> str: ...

    def question_answers(self, passage: str, character: Character, n: int = 3) -> list[tuple[str, str]]: ...


def rewrite_messages(passage: str, character: Character = NELL) -> list[dict]:
    """The chat that asks a model to retell ``passage`` in ``character``'s first person."""
    p = character.pronouns
    user = REWRITE_USER.format(name=character.name, subject=p.subject, object=p.object,
                               determiner=p.determiner, passage=passage)
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]


def question_answer_messages(passage: str, character: Character = NELL, n: int = 3) -> list[dict]:
    """The chat that asks a model for ``n`` questions about ``passage``, answered as ``character``."""
    user = QA_USER.format(name=character.name, n=n, voice=character.voice or "as in the passage", passage=passage)
    return [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": user}]


def parse_question_answers(reply: str) -> list[tuple[str, str]]:
    """Pairs from a teacher's reply: a JSON list of {question, answer}, or "Q: … A: …" lines.

    >>> parse_question_answers('[{"question": "Why?", "answer": "Because."}]')
    [('Why?', 'Because.')]
    >>> parse_question_answers("Q: Why?\\nA: Because.")
    [('Why?', 'Because.')]
    """
    match = re.search(r"\[.*\]", reply, flags=re.DOTALL)
    if match:
        try:
            items = json.loads(match.group(0))
            pairs = [(str(i.get("question", "")).strip(), str(i.get("answer", "")).strip())
                     for i in items if isinstance(i, dict)]
            return [(q, a) for q, a in pairs if q and a]
        except json.JSONDecodeError:
            pass  # not JSON after all: try the "Q: … A: …" layout
    found = re.findall(r"Q(?:uestion)?\s*\d*[:.]\s*(.+?)\s*\n\s*A(?:nswer)?\s*\d*[:.]\s*(.+?)(?=\n\s*Q|\Z)",
                       reply, flags=re.DOTALL)
    return [(q.strip(), a.strip()) for q, a in found if q.strip() and a.strip()]
