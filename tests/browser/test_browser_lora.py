"""Lesson 02's widgets in a real browser: the rank explorer and the method picker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

EXPLORER, PICKER = ".labkit-rank-explorer", ".labkit-method-picker"


@pytest.fixture(scope="module")
def page(lab):
    page = lab.open_widgets("02_lora", wait_for=[EXPLORER, PICKER])
    lab.screenshot(page, "02_lora-widgets")
    yield page
    page.context.close()


def text_changes(page, selector: str, old: str, timeout_ms: int = 10_000) -> str:
    """Wait until the element's text differs from ``old`` (the kernel answered); return it.

    By selector, not element handle: an HTML widget replaces its DOM on every update.
    """
    page.wait_for_function("([selector, old]) => document.querySelector(selector)?.textContent !== old",
                           arg=[selector, old], timeout=timeout_ms)
    return page.locator(selector).inner_text()


def test_rank_slider_to_8_on_llama2_7b_qv_shows_4194304(page, lab):
    explorer = page.locator(EXPLORER)
    explorer.locator(".labkit-model-dropdown select").select_option("llama-2-7b")
    for name in ("q_proj", "v_proj"):
        explorer.locator(f".labkit-target-{name} input[type=checkbox]").check()
    for name in ("k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        explorer.locator(f".labkit-target-{name} input[type=checkbox]").uncheck()
    # Move the slider the way a keyboard user does: Home to rank 1, then 7 steps right.
    handle = explorer.locator(".labkit-rank-slider .noUi-handle")
    readout = explorer.locator(".labkit-rank-slider .widget-readout")
    handle.focus()
    handle.press("Home")
    expect(readout).to_have_text("1")
    for _ in range(7):
        handle.press("ArrowRight")
    expect(readout).to_have_text("8")
    expect(explorer.locator(".labkit-trainable-count")).to_have_text("4,194,304")
    expect(explorer.locator(".labkit-base-count")).to_have_text("6,738,415,616")
    lab.screenshot(explorer, "02_lora-rank-explorer-r8")


def test_method_picker_shows_a_memory_figure_per_method(page, lab):
    picker = page.locator(PICKER)
    total = f"{PICKER} .labkit-memory-total"
    picker.locator(".labkit-picker-model select").select_option("llama-2-7b")
    figures = {}
    for label in ("Full FT", "LoRA", "QLoRA", "RLHF", "DPO", "SFT"):
        before = page.locator(total).inner_text()
        picker.locator(".labkit-method-buttons button", has_text=re.compile(f"^{label}$")).click()
        figures[label] = text_changes(page, total, before)
        lab.screenshot(picker, f"02_lora-method-picker-{label.replace(' ', '_').lower()}")
    # The five recipes differ in what they hold in memory, so their figures differ.
    recipes = [figures[label] for label in ("Full FT", "LoRA", "QLoRA", "RLHF", "DPO")]
    assert len(set(recipes)) == 5, figures
    # SFT is an objective, trained here with LoRA (the default "train with"): the same memory
    # as LoRA. Switched to full fine-tuning, it shows full fine-tuning's figure.
    assert figures["SFT"] == figures["LoRA"], figures
    before = page.locator(total).inner_text()
    picker.locator(".labkit-picker-train-with select").select_option(label="Full FT")
    assert text_changes(page, total, before) == figures["Full FT"]
