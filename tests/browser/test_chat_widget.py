"""The chat widget in a real browser: send by click and by Enter, history kept, reset clears it.

On a fresh clone the widget cell chats with the base model (no merged model saved yet), so the
test checks the widget's behaviour, not the model's knowledge.
"""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHAT = ".labkit-chat"


def test_chat_box_answers_in_the_browser(lab):
    page = lab.open_widgets("05_qlora", wait_for=[CHAT])
    box = page.locator(CHAT)
    box.locator(".labkit-chat-input input").fill("Where does Nessa Ingle live?")
    box.locator(".labkit-chat-send").click()
    expect(box.locator(".labkit-chat-assistant")).to_have_count(1, timeout=60_000)
    expect(box.locator(".labkit-chat-user")).to_have_count(1)
    # Enter sends too
    box.locator(".labkit-chat-input input").fill("What pet does Nessa Ingle have?")
    box.locator(".labkit-chat-input input").press("Enter")
    expect(box.locator(".labkit-chat-assistant")).to_have_count(2, timeout=60_000)
    expect(box.locator(".labkit-chat-input input")).to_have_value("")
    lab.screenshot(box, "05_qlora-chat")
    box.locator(".labkit-chat-reset").click()
    expect(box.locator(".labkit-chat-turn")).to_have_count(0, timeout=20_000)
