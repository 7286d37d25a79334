"""Lesson 06: turn a novel's character into a persona dataset, in three strategies, and fine-tune on it.

A. ``extract``: the character's quoted lines, paired with what they answer.
B. ``rewrite``: narration about the character, rewritten in the first person by a teacher.
C. ``synth``: questions about a passage, answered in the character's voice from it alone.

The teachers (``teachers``) do B and C with the prompts in ``prompts``. Then ``dataset`` (examples,
system prompt, split, statistics), ``export`` (Mistral JSONL, Hugging Face, Axolotl), ``mistral``
(its API and the model to fine-tune), ``finetune`` (the model it starts from, the profile's settings
and LoRA, the probe and its measurements), ``voice`` (the persona score), ``readability`` (can a
learner read the replies?) and ``your_turn`` (the exercise: a rule for Nell's lines, and its check).
The notebook imports this package as ``lesson``; everything it uses is named here.

>>> from labkit.lessons.l06_persona import load_novella, extract_dialogue, NELL
>>> len(extract_dialogue(load_novella(), NELL)) > 50
True
"""

from labkit.lessons.l06_persona.corpus import CAST, NELL, Character, load_novella
from labkit.lessons.l06_persona.dataset import (
    STRATEGIES,
    Example,
    dataset_statistics,
    fit_to_length,
    from_turns,
    split_train_validation,
    with_system_prompt,
)
from labkit.lessons.l06_persona.export import (
    AXOLOTL_KEYS,
    axolotl_config,
    export_mistral_jsonl,
    to_hf_dataset,
    write_axolotl_config,
)
from labkit.lessons.l06_persona.extract import (
    RULES,
    attribute_speakers,
    evaluate_extraction,
    extract_dialogue,
    load_labels,
)
from labkit.lessons.l06_persona.finetune import (
    OUTPUT_DIR,
    RUN_DIR,
    Probe,
    describe_grid,
    format_grid,
    lora_settings,
    measure,
    rare_token_share,
    settings,
    starting_model,
    starting_tokenizer,
    system_prompt_grid,
    trains_embedding_table,
)
from labkit.lessons.l06_persona.mistral import (
    JOB_DONE,
    MISTRAL_API_URL,
    MISTRAL_BASE_MODEL,
    MISTRAL_KEY_ENV,
    MISTRAL_LEARNING_RATE,
)
from labkit.lessons.l06_persona.prompts import (
    QA_SYSTEM,
    QA_USER,
    REWRITE_SYSTEM,
    REWRITE_USER,
    Teacher,
    question_answer_messages,
    rewrite_messages,
)
from labkit.lessons.l06_persona.readability import (
    describe_readability,
    is_readable,
    readable_rate,
    unknown_words,
)
from labkit.lessons.l06_persona.rewrite import (
    narrative_examples,
    rewritable_passages,
    to_first_person,
)
from labkit.lessons.l06_persona.synth import (
    synthetic_examples,
    template_question_answers,
)
from labkit.lessons.l06_persona.teachers import (
    LocalTransformersTeacher,
    MistralTeacher,
    OpenAICompatibleTeacher,
    RuleBasedTeacher,
    make_teacher,
)
from labkit.lessons.l06_persona.voice import (
    PersonaScorer,
    default_scorer,
    distinctive_words,
    lines_by_speaker,
    persona_score,
)
from labkit.lessons.l06_persona.your_turn import (
    REFERENCE_RULE,
    check_nell_rule,
    score_rule,
)
from labkit.methods.sft import train_sft

__all__ = [
    "AXOLOTL_KEYS",
    "CAST",
    "JOB_DONE",
    "MISTRAL_API_URL",
    "MISTRAL_BASE_MODEL",
    "MISTRAL_KEY_ENV",
    "MISTRAL_LEARNING_RATE",
    "NELL",
    "OUTPUT_DIR",
    "QA_SYSTEM",
    "QA_USER",
    "REFERENCE_RULE",
    "REWRITE_SYSTEM",
    "REWRITE_USER",
    "RULES",
    "RUN_DIR",
    "STRATEGIES",
    "Character",
    "Example",
    "LocalTransformersTeacher",
    "MistralTeacher",
    "OpenAICompatibleTeacher",
    "PersonaScorer",
    "Probe",
    "RuleBasedTeacher",
    "Teacher",
    "attribute_speakers",
    "axolotl_config",
    "check_nell_rule",
    "dataset_statistics",
    "default_scorer",
    "describe_grid",
    "describe_readability",
    "distinctive_words",
    "evaluate_extraction",
    "export_mistral_jsonl",
    "extract_dialogue",
    "fit_to_length",
    "format_grid",
    "from_turns",
    "is_readable",
    "lines_by_speaker",
    "load_labels",
    "load_novella",
    "lora_settings",
    "make_teacher",
    "measure",
    "narrative_examples",
    "persona_score",
    "question_answer_messages",
    "rare_token_share",
    "readable_rate",
    "rewritable_passages",
    "rewrite_messages",
    "score_rule",
    "settings",
    "split_train_validation",
    "starting_model",
    "starting_tokenizer",
    "synthetic_examples",
    "system_prompt_grid",
    "template_question_answers",
    "to_first_person",
    "to_hf_dataset",
    "train_sft",
    "trains_embedding_table",
    "unknown_words",
    "with_system_prompt",
    "write_axolotl_config",
]
