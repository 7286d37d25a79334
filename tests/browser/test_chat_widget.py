"""The chat widget in a real browser: send by click and by Enter, once each, history kept, the newest
turn in view, reset clears it.

On a fresh clone the widget cell chats with the base model (no merged model saved yet), so the
tests check the widget's behaviour, not the model's knowledge. They share one page (the lesson's
setup cell imports torch once); each starts with Reset.
"""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHAT = ".labkit-chat"
REPLY_SECONDS = 60


@pytest.fixture(scope="module")
def box(lab):
    page = lab.open_widgets("05_qlora", wait_for=[CHAT])
    yield page.locator(CHAT)
    page.context.close()


def start_over(box):
    box.locator(".labkit-chat-reset").click()
    expect(box.locator(".labkit-chat-turn")).to_have_count(0, timeout=20_000)


def wait_for_kernel(box):
    """Return once the kernel has handled every widget message sent so far: an execute request
    queues behind them. A second reply to one click would have arrived by then."""
    box.page.evaluate("""() => {
        const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(
            w => w.sessionContext && w.sessionContext.session);
        return panel.sessionContext.session.kernel.requestExecute({code: ''}).done.then(() => true);
    }""")


def test_chat_box_answers_in_the_browser(lab, box):
    start_over(box)
    box.locator(".labkit-chat-input input").fill("Where does Nessa Ingle live?")
    box.locator(".labkit-chat-send").click()
    expect(box.locator(".labkit-chat-assistant")).to_have_count(1, timeout=REPLY_SECONDS * 1000)
    expect(box.locator(".labkit-chat-user")).to_have_count(1)
    # Enter sends too
    box.locator(".labkit-chat-input input").fill("What pet does Nessa Ingle have?")
    box.locator(".labkit-chat-input input").press("Enter")
    expect(box.locator(".labkit-chat-assistant")).to_have_count(2, timeout=REPLY_SECONDS * 1000)
    expect(box.locator(".labkit-chat-input input")).to_have_value("")
    lab.screenshot(box, "05_qlora-chat")
    start_over(box)


def test_each_click_on_send_sends_once_and_the_newest_turn_is_in_view(lab, box):
    # Clicking Send used to send the question twice in 4 tries out of 6: the click blurred the
    # box, which committed its text, and both the commit and the click sent it.
    start_over(box)
    questions = [f"Where does person {n} live?" for n in range(6)]
    for sent, question in enumerate(questions, start=1):
        box.locator(".labkit-chat-input input").fill(question)
        box.locator(".labkit-chat-send").click()
        expect(box.locator(".labkit-chat-assistant")).to_have_count(sent, timeout=REPLY_SECONDS * 1000)
        wait_for_kernel(box)
        expect(box.locator(".labkit-chat-user")).to_have_count(sent)
        expect(box.locator(".labkit-chat-assistant")).to_have_count(sent)
    assert box.locator(".labkit-chat-user").all_inner_texts() == [f"user: {q}" for q in questions]
    overflow, newest_in_view = box.locator(".labkit-chat-transcript").evaluate("""transcript => {
        const box = transcript.getBoundingClientRect();
        const newest = transcript.querySelector('.labkit-chat-turn:last-child').getBoundingClientRect();
        return [transcript.scrollHeight > transcript.clientHeight,
                newest.top >= box.top - 1 && newest.bottom <= box.bottom + 1];
    }""")
    assert overflow, "six questions and replies should overflow the transcript; the check needs a scroll bar"
    assert newest_in_view, "the transcript is not scrolled to the newest reply"
    lab.screenshot(box, "05_qlora-chat-scrolled")


def test_leaving_the_box_sends_nothing(box):
    start_over(box)
    box.locator(".labkit-chat-input input").fill("Not finished yet")
    box.locator(".labkit-chat-system input").click()  # the message box loses focus
    wait_for_kernel(box)
    expect(box.locator(".labkit-chat-turn")).to_have_count(0)
    expect(box.locator(".labkit-chat-input input")).to_have_value("Not finished yet")
