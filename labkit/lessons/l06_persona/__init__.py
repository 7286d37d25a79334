"""Lesson 06: turn a novel's character into a persona dataset, in three strategies.

A. ``extract``: the character's quoted lines, paired with what they answer.
B. ``rewrite``: narration about the character, rewritten in the first person by a teacher.
C. ``synth``: questions about a passage, answered in the character's voice from it alone.
Then ``dataset`` (Mistral JSONL, split, validator, statistics), ``export`` (Mistral, Hugging
Face, Axolotl) and ``voice`` (the persona score).

>>> from labkit.lessons.l06_persona import load_novella, extract_dialogue, NELL
>>> len(extract_dialogue(load_novella(), NELL)) > 50
True
"""

from labkit.lessons.l06_persona.corpus import CAST, NELL, Character, load_novella
from labkit.lessons.l06_persona.dataset import (
    Example,
    dataset_statistics,
    from_turns,
    split_train_validation,
    validate_jsonl,
    write_jsonl,
)
from labkit.lessons.l06_persona.extract import attribute_speakers, evaluate_extraction, extract_dialogue, load_labels
from labkit.lessons.l06_persona.rewrite import narrative_examples, rewritable_passages, to_first_person
from labkit.lessons.l06_persona.synth import synthetic_examples, template_question_answers
from labkit.lessons.l06_persona.teachers import (
    LocalTransformersTeacher,
    MistralTeacher,
    OpenAICompatibleTeacher,
    RuleBasedTeacher,
    make_teacher,
)
from labkit.lessons.l06_persona.voice import PersonaScorer, default_scorer, persona_score

__all__ = [
    "CAST", "NELL", "Character", "load_novella",
    "Example", "dataset_statistics", "from_turns", "split_train_validation", "validate_jsonl", "write_jsonl",
    "attribute_speakers", "evaluate_extraction", "extract_dialogue", "load_labels",
    "narrative_examples", "rewritable_passages", "to_first_person",
    "synthetic_examples", "template_question_answers",
    "LocalTransformersTeacher", "MistralTeacher", "OpenAICompatibleTeacher", "RuleBasedTeacher", "make_teacher",
    "PersonaScorer", "default_scorer", "persona_score",
]
