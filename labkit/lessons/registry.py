"""The lesson table: the one source the README, `make course` and the tests read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.paths import NOTEBOOKS_DIR, REPOSITORY_URL

# The first lines of every lesson's setup cell: on Colab, fetch the course and install it with the
# tested versions, keeping Colab's own CUDA torch. tools/sync_setup_cells.py writes it into the
# notebooks from here, and tests/test_notebooks.py checks that it is there.
COLAB_SETUP = f"""import sys

if "google.colab" in sys.modules:  # on Colab: fetch the course, install it with the tested versions (a minute)
    !git clone --quiet --depth 1 {REPOSITORY_URL} /content/labkit
    %pip install --quiet -c /content/labkit/constraints-colab.txt -e /content/labkit
    %cd /content/labkit/notebooks
"""


@dataclass(frozen=True)
class Lesson:
    """One lesson: its notebook, what it teaches, and the metrics its report must hold."""

    number: str
    slug: str
    teaches: str
    interactive: str
    effect: str
    metrics: tuple[str, ...] = ()
    # Papermill parameters that shrink the lesson for the test suite (same code path).
    test_parameters: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The report key, e.g. ``"01_sft"``."""
        return f"{self.number}_{self.slug}"

    @property
    def notebook(self) -> Path:
        return NOTEBOOKS_DIR / f"{self.key}.ipynb"


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "00", "start_here",
        "pre-training vs fine-tuning; the base model can't follow instructions yet",
        "generate from the base model", "base samples",
        metrics=("base_instruction_accuracy", "base_continuation_accuracy"),
        test_parameters={"n_probe": 20},
    ),
    Lesson(
        "01", "sft",
        "instruction → response data, formats, chat templates, splits, SFT vs few-shot, over-fitting",
        "live loss plot, before/after", "held-out accuracy before → after",
        metrics=("heldout_accuracy_before", "heldout_accuracy_after", "val_perplexity_before",
                 "val_perplexity_after", "train_seconds", "train_tokens_per_second", "few_shot_accuracy",
                 "few_shot_prompt_tokens", "sft_prompt_tokens", "overfit_best_step", "overfit_val_loss_rise",
                 "your_turn"),
        test_parameters={"max_steps": 80, "learning_rate": 1e-3, "n_eval": 60, "your_turn_steps": 20,
                         "solutions": True},
    ),
    Lesson(
        "01b", "evaluate",
        "validation vs test; task accuracy, perplexity, ROUGE, a model as judge, people side by side; "
        "lm-evaluation-harness",
        "a judge served over HTTP; ROUGE-L by hand", "harness accuracy = labkit's; judge agreement; test-set flattery",
        metrics=("lm_eval_accuracy_sft", "labkit_accuracy_sft", "lm_eval_mc_accuracy_base", "judge_agreement",
                 "selection_optimism_chosen_on_test", "selection_optimism_chosen_on_validation",
                 "rouge_l_right_replies", "rouge_l_wrong_replies", "your_turn"),
        test_parameters={"n_eval": 40, "n_select": 20, "temperatures": [0.9, 1.0, 1.1], "n_judge": 12,
                         "solutions": True},
    ),
    Lesson(
        "02", "lora",
        "LoRA, rank, alpha, targets; LoRA vs full fine-tuning; merging",
        "LoRA rank explorer; method picker", "trainable params, time, memory, accuracy per rank",
        metrics=("lora_params_llama2_7b_r8_qv", "full_ft_accuracy", "lora_accuracy_by_rank",
                 "lora_trainable_fraction_by_rank", "peak_memory_full_ft_mb", "peak_memory_lora_mb",
                 "merge_max_abs_diff", "forgetting_full_ft", "forgetting_lora", "your_turn"),
        test_parameters={"ranks": [4, 64], "max_steps": 40, "n_eval": 40, "solutions": True},
    ),
    Lesson(
        "03", "rlhf",
        "human preferences → reward model → policy optimisation (PPO family)",
        "preference labeling widget", "reward-model accuracy, reward before → after, KL",
        metrics=("reward_model_accuracy", "mean_reward_before", "mean_reward_after", "kl_final",
                 "preferred_behaviour_rate_before", "preferred_behaviour_rate_after", "labels_collected", "your_turn"),
        test_parameters={"n_pairs": 16, "n_shipped": 640, "reward_steps": 20, "rl_steps": 12, "n_eval": 48,
                         "solutions": True},
    ),
    Lesson(
        "04", "dpo",
        "learning straight from preference pairs; RLHF vs DPO",
        "blind side-by-side evaluation", "preference accuracy, behaviour rate, RLHF-vs-DPO table",
        metrics=("preference_accuracy", "preferred_behaviour_rate_sft", "preferred_behaviour_rate_dpo",
                 "dpo_train_seconds", "dpo_peak_memory_mb", "blind_win_rate_dpo_vs_sft", "your_turn"),
        test_parameters={"n_shipped": 480, "dpo_steps": 15, "sweep_betas": [0.1, 1.0], "sweep_steps": 5,
                         "n_eval": 48, "n_blind": 8, "solutions": True},
    ),
    Lesson(
        "05", "qlora",
        "4-bit NF4 base + LoRA, end to end: data → train → save → merge → chat",
        "chat box", "memory per precision, accuracy vs LoRA",
        metrics=("weight_bytes_ratio_4bit_vs_bf16", "qlora_accuracy", "lora_accuracy",
                 "qlora_val_perplexity", "adapter_megabytes", "merge_max_abs_diff",
                 "peak_memory_qlora_mb", "peak_memory_lora_mb", "your_turn"),
        test_parameters={"max_steps": 60, "n_eval": 48, "solutions": True},
    ),
    Lesson(
        "06", "persona",
        "a persona dataset from a novel: dialogue extraction, narrative → first person, synthetic QA; "
        "Mistral JSONL; exports",
        "chat with the persona", "persona score before → after",
        metrics=("extraction_precision", "extraction_recall", "your_turn", "examples_by_strategy",
                 "persona_score_before", "persona_score_after", "persona_readable_rate"),
        test_parameters={"max_steps": 60, "n_probe": 8, "solutions": True},
    ),
    Lesson(
        "07", "grpo",
        "RL with verifiable rewards: a checker instead of a judge; diagnosing runs that learn nothing",
        "the run doctor; write a reward function", "held-out accuracy SFT → GRPO; zero-variance groups broken → fixed",
        metrics=("accuracy_before", "accuracy_after", "reward_mean_before", "reward_mean_after",
                 "zero_std_fraction_broken", "zero_std_fraction_fixed", "doctor_flags_broken", "train_seconds"),
        test_parameters={"n_test": 60, "solutions": True},
    ),
    Lesson(
        "08", "final_check",
        "the six-question check over the whole course",
        "quiz", "score",
        # "score" is recorded too (the learner's best, null until taken) but not required: a headless run has none.
        metrics=("questions", "key_self_check"),
        test_parameters={},
    ),
)


def get_lesson(key: str) -> Lesson:
    """Look a lesson up by its key (``"01_sft"``) or number (``"01"``)."""
    for lesson in LESSONS:
        if key in (lesson.key, lesson.number):
            return lesson
    known = ", ".join(lesson.key for lesson in LESSONS)
    raise KeyError(f"no lesson {key!r}; known lessons: {known}")
