"""Strategy C: questions someone might ask the character, answered in their voice from one passage.

With a model teacher the questions and answers come from the QA prompt in ``prompts.py``.
Offline, ``template_question_answers`` does it with templates written by hand: it finds the
topics a passage states facts about (the rope, the bridge, the flood, …), asks a fixed question
per topic, and answers with the passage's own sentences about that topic in the first person,
after an optional habitual opener ("I reckon", "Mark you,"), which is style and adds no facts.

>>> template_question_answers("Nell oiled the rope every spring.", NELL)
[('What about the rope?', 'I oiled the rope every spring.')]
"""

from __future__ import annotations

import hashlib
import re

from tqdm.auto import tqdm

from labkit.lessons.l06_persona.corpus import NELL, Character, Novella
from labkit.lessons.l06_persona.dataset import Example
from labkit.lessons.l06_persona.prompts import Teacher
from labkit.lessons.l06_persona.rewrite import rewritable_passages, to_first_person

# (topic words, questions). Several phrasings per topic so the model does not learn one string.
TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"slack water", ("What is slack water?", "When is the river quietest?")),
    (r"rope", ("Tell me about the ferry rope.", "What about the rope?")),
    (r"bridge", ("What do you think about the bridge?", "Tell me about the bridge.")),
    (r"flood|rain", ("What happened when the river flooded?", "Tell me about the flood.")),
    (r"husband|father", ("Tell me about your family.", "Who do you remember?")),
    (r"tea|kettle|pie|cider", ("Tell me about your kitchen.", "What did you do at home?")),
    (r"Tam|nephew", ("How are things with your nephew?", "Tell me about Tam.")),
    (r"Piet|engineer", ("What do you make of the engineer?", "Tell me about Piet Olander.")),
    (r"Bishop's Step|rock", ("What is the Bishop's Step?", "Where is the rock?")),
    (r"council|Alderman|meeting", ("What happened with the council?", "Tell me about the meeting.")),
    (r"knot|bowline", ("Can you tie a bowline?", "Tell me about knots.")),
    (r"ferry|claw|crossing", ("Tell me about the ferry.", "What was the crossing like?")),
    (r"river|Addle|water|tide|willows|mud", ("Tell me about the river.", "What did you notice on the river?")),
    (r"sleep|woke|night|dark", ("How did you sleep?", "Tell me about your nights.")),
    (r"hands|arms", ("How were your hands?", "Was the work hard on you?")),
)


def _pick(options: tuple[str, ...], *keys: str) -> str:
    """A stable choice (same passage → same pick on every run and machine)."""
    digest = hashlib.sha256("|".join(keys).encode()).digest()
    return options[digest[0] % len(options)]


def _with_opener(answer: str, opener: str) -> str:
    if opener.endswith((".", "!", "?")):
        return f"{opener} {answer}"
    if not answer.startswith(("I ", "I'")):
        answer = answer[:1].lower() + answer[1:]
    return f"{opener} {answer}"


def template_question_answers(passage: str, character: Character = NELL,
                              max_sentences: int = 2) -> list[tuple[str, str]]:
    """(question, answer) pairs from one narration passage, by topic templates; facts only from it."""
    sentences = re.split(r"(?<=[.!?])\s+", passage.strip())
    pairs = []
    for pattern, questions in TOPICS:
        about = [s for s in sentences if re.search(rf"\b(?:{pattern})\b", s, flags=re.IGNORECASE)]
        if not about:
            continue
        answer = to_first_person(" ".join(about[:max_sentences]), character)
        question = _pick(questions, passage, pattern)
        openers = character.openers + ("",) * len(character.openers)  # half the answers plain
        opener = _pick(openers, question, answer)
        pairs.append((question, _with_opener(answer, opener) if opener else answer))
    return pairs


def synthetic_examples(novella: Novella, teacher: Teacher, character: Character = NELL,
                       per_passage: int = 3) -> list[Example]:
    """Strategy C end to end: narration paragraphs → teacher QA → user/assistant examples."""
    passages = rewritable_passages(novella, character, max_words=200)
    examples = []
    for passage in tqdm(passages, desc=f"question answering ({teacher.name})", unit="passage"):
        for question, answer in teacher.question_answers(passage.text, character, per_passage):
            examples.append(Example.pair(question, answer, "synthetic", f"novella@{passage.offset}"))
    return examples
