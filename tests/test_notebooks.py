"""Every lesson notebook runs under papermill on the tiny profile with its small parameters,
records the metrics its lesson promises, and shows its effect."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from labkit.ui.course import format_table, run_lesson, write_report
from labkit.lessons.registry import LESSONS

# The effect each lesson must show even at its small test size.
EFFECTS = {
    "00_start_here": lambda m: m["base_continuation_accuracy"] > m["base_instruction_accuracy"] + 0.3,
    # The over-fitted run's validation loss climbs after its best step; few-shot prompts are longer.
    "01_sft": lambda m: m["heldout_accuracy_after"] > m["heldout_accuracy_before"] + 0.3
    and m["val_perplexity_after"] < m["val_perplexity_before"] and m["your_turn"] == "right"
    and m["overfit_val_loss_rise"] > 0.1 and m["few_shot_prompt_tokens"] > 2 * m["sft_prompt_tokens"],
    # Run with solutions=True. Same model, same questions: lm-eval counts exactly as labkit does; the base
    # model knows facts (log-likelihood, chance 25%) it cannot yet state; choosing on test flatters test.
    "01b_evaluate": lambda m: m["lm_eval_accuracy_sft"] == m["labkit_accuracy_sft"] and m["your_turn"] == "right"
    and m["lm_eval_mc_accuracy_base"] > 0.4 and m["judge_agreement"] > 0.6
    and m["selection_optimism_chosen_on_test"] > m["selection_optimism_chosen_on_validation"],
    "02_lora": lambda m: m["lora_params_llama2_7b_r8_qv"] == 4_194_304 and m["merge_max_abs_diff"] < 1e-3
    and max(m["lora_accuracy_by_rank"].values()) > 0.1 and m["your_turn"] == "right",
    # Small runs measured 2% → 73% polite (03) and 2% → 100% (04); the margins leave room for noise.
    # 03, 04 and 05 run with solutions=True: each exercise's check must accept its reference solution.
    "03_rlhf": lambda m: m["reward_model_accuracy"] > 0.85 and m["mean_reward_after"] > m["mean_reward_before"]
    and m["preferred_behaviour_rate_after"] > m["preferred_behaviour_rate_before"] + 0.3 and m["your_turn"] == "right",
    "04_dpo": lambda m: m["preference_accuracy"] > 0.8
    and m["preferred_behaviour_rate_dpo"] > m["preferred_behaviour_rate_sft"] + 0.3 and m["your_turn"] == "right",
    # Run with solutions=True: the exercise's check must accept the reference solution. 60 steps from
    # tiny-reader measured: readable 0.0 -> 1.0, persona score 0.77 -> 0.79 (issue 18's targets are for
    # the full run: readable >= 0.8, persona score up).
    "06_persona": lambda m: m["extraction_precision"] >= 0.9 and m["your_turn"] == "right"
    and m["persona_score_after"] > m["persona_score_before"]
    and m["persona_readable_rate"] >= 0.75 and m["persona_readable_rate"] >= m["persona_readable_rate_before"] + 0.5,
    # The tiny model answers nothing before fine-tuning; 60 steps lift it well above that.
    "05_qlora": lambda m: m["weight_bytes_ratio_4bit_vs_bf16"] <= 0.30 and m["merge_max_abs_diff"] < 1e-3
    and m["qlora_accuracy"] > 0.1 and abs(m["qlora_accuracy"] - m["lora_accuracy"]) <= 0.15
    and m["your_turn"] == "right",
    # The broken run is all dead groups and the doctor says so; the fix gives most groups a signal, the
    # reward and the share of worked answers rise; the exercise's check accepts the reference solution
    # (solutions=True); held-out accuracy rises by issue 16's 0.15 (the course run: 0.02 → 0.42).
    "07_grpo": lambda m: m["zero_std_fraction_broken"] >= 0.8 and "zero-variance groups" in m["doctor_flags_broken"]
    and m["zero_std_fraction_fixed"] <= 0.3 and m["reward_mean_after"] > m["reward_mean_before"]
    and m["worked_answers_after"] > m["worked_answers_before"] + 0.3
    and m["accuracy_after"] >= m["accuracy_before"] + 0.15 and m["your_turn"] == "right",
    "08_final_check": lambda m: m["key_self_check"] == m["questions"] == 6,
}

# Lessons that handle API keys run with a fake key in the kernel's environment (None: unset, so no
# paid job starts from a developer's shell); the executed notebook and the metrics must not hold it.
SECRETS = {"06_persona": {"OPENAI_API_KEY": "sk-labkit-test-" + "9" * 24, "MISTRAL_API_KEY": None}}


@pytest.mark.notebook
@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_lesson_runs_headless_and_shows_its_effect(lesson, tmp_path, monkeypatch):
    secrets = SECRETS.get(lesson.key, {})
    for name, value in secrets.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    run = run_lesson(lesson, tmp_path, small=True)
    assert run.ok, run.error
    for written in (p for p in tmp_path.rglob("*") if p.is_file()):
        assert not any(v and v in written.read_text(errors="ignore") for v in secrets.values()), \
            f"{lesson.key} shows an API key in {written}"
    missing = [name for name in lesson.metrics if name not in run.metrics]
    assert not missing, f"{lesson.key} did not record {missing}"
    if lesson.key in EFFECTS:
        assert EFFECTS[lesson.key](run.metrics), f"{lesson.key} showed no effect: {run.metrics}"
    report = write_report([run], tmp_path)
    assert lesson.key in report.read_text()
    assert lesson.key in format_table([run])
    assert_checked_outputs_match(lesson.notebook, run.output)
    assert_shows_no_warnings(run.output)


def text_of(outputs) -> str:
    """The text a cell printed or displayed (streams and text/plain), as nbval compares it."""
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in outputs)


def assert_checked_outputs_match(source, executed):
    """Cells marked ``# NBVAL_CHECK_OUTPUT`` must print what the committed notebook shows.

    nbval's convention, checked on the one papermill run instead of a second execution by nbval.
    """
    stored = [c for c in nbformat.read(source, as_version=4).cells if c.cell_type == "code"]
    # papermill adds a cell with the injected parameters; the committed notebook does not have it.
    ran = [c for c in nbformat.read(executed, as_version=4).cells
           if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]
    for before, after in zip(stored, ran, strict=True):
        if "NBVAL_CHECK_OUTPUT" in before.source:
            assert text_of(after.outputs) == text_of(before.outputs), \
                f"{source.name}: a checked cell printed something else:\n{before.source}"


def assert_shows_no_warnings(executed):
    """Nothing in a lesson's output went to stderr, where Python warnings and library logs land (red in
    Jupyter). The harmless ones are listed, each with its reason, in labkit/core/known_warnings.py, and
    labkit.setup() silences them; any other is new and is fixed where it comes from.
    """
    notebook = nbformat.read(executed, as_version=4)
    shown = [line for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
             if output.output_type == "stream" and output.name == "stderr"
             for line in output.text.splitlines() if line.strip()]
    assert not shown, (f"{executed} shows warnings:\n" + "\n".join(shown) + "\nFix each where it comes "
                       "from (an argument, a setting); one that asks nothing of a learner goes in "
                       "labkit/core/known_warnings.py with the reason it is harmless.")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.key)
def test_notebook_conventions(lesson):
    notebook = nbformat.read(lesson.notebook, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged parameters"
    assert "profile" in code[0].source or lesson.key == "08_final_check"
    assert "setup" in code[1].metadata.get("tags", []) and "labkit.setup(" in code[1].source, \
        "the second code cell is the setup cell, tagged setup (the browser harness runs it)"
    assert f'record_metrics("{lesson.key}"' in code[-1].source, "the last cell records the metrics"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    for cell in code:
        checked = "NBVAL_CHECK_OUTPUT" in cell.source
        assert checked or not cell.get("outputs"), f"{lesson.key}: outputs left in a cell nbval does not check"
        for forbidden in ("login(", "notebook_login", "bf16=True", "api_key="):
            assert forbidden not in cell.source, f"{lesson.key} uses {forbidden}"


@pytest.mark.notebook
def test_a_relative_output_folder_still_collects_the_metrics(tmp_path, monkeypatch):
    # `make course-small` passes `--out build/course-small`; the kernel runs in notebooks/.
    monkeypatch.chdir(tmp_path)
    final_check = next(lesson for lesson in LESSONS if lesson.slug == "final_check")
    run = run_lesson(final_check, Path("course-out"), small=True)
    assert run.ok and run.metrics["questions"] == 6, run.error
