"""The final-check quiz widget in a real browser: a wrong answer shows the explanation, a full
run shows 6/6, retry starts over, each finished attempt is saved to the learner's progress, and a
"Read more" link opens the lesson at its heading whatever address the JupyterLab page shows."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from labkit.paths import REPO_ROOT
from labkit.ui.quiz import answer_key, format_number, load_quiz

pytestmark = pytest.mark.browser

QUIZ = ".labkit-quiz"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("learner-data")


@pytest.fixture(scope="module")
def page(lab, data_dir):
    page = lab.open_widgets("08_final_check", wait_for=[QUIZ])
    # The widget saves attempts in the kernel: point it at a private folder, never at the real
    # learner's progress (the kernel reads $LABKIT_DATA_DIR at save time).
    code = f"import os; os.environ['LABKIT_DATA_DIR'] = {str(data_dir)!r}"
    page.evaluate("""async code => {
        const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
        await kernel.requestExecute({code, silent: true}).done;
    }""", code)
    yield page
    page.context.close()


def wait_for_question(quiz, question_id: str, number: int) -> None:
    quiz.locator(f'.labkit-quiz-question[data-question-id="{question_id}"]').wait_for()
    assert quiz.locator(".labkit-quiz-counter").inner_text() == f"Question {number} of 6"


def fill_in(quiz, question, response) -> None:
    """Answer the way a learner does: click a radio label, tick checkboxes, or type."""
    if question.kind == "single":
        text = question.options[response].text
        quiz.locator(".labkit-quiz-choices label").filter(has_text=text).click()
    elif question.kind == "multiple":
        for index in response:
            option = quiz.locator(".labkit-quiz-option").filter(has_text=question.options[index].text)
            option.locator("input[type=checkbox]").check()
    else:
        typed = format_number(response) if question.kind == "numeric" else response
        quiz.locator(".labkit-quiz-answer input").fill(typed)


def submit(quiz, verdict: str):
    """Press Submit and wait for the kernel's feedback; verdict is 'correct' or 'wrong'."""
    quiz.locator(".labkit-quiz-submit").click()
    feedback = quiz.locator(f".labkit-quiz-feedback.labkit-quiz-{verdict}")
    feedback.wait_for()
    return feedback


def saved_scores(data_dir) -> list[int]:
    path = data_dir / "progress" / "you.json"
    return [attempt["score"] for attempt in json.loads(path.read_text())["attempts"]]


def test_a_wrong_answer_shows_the_explanation_then_a_full_run_shows_6_of_6(page, lab, data_dir):
    quiz_widget = page.locator(QUIZ)
    quiz = load_quiz("final_check")
    key = answer_key(quiz)

    # First pass: answer question 1 wrongly, the rest rightly.
    first = quiz.questions[0]
    wrong = next(i for i in range(len(first.options)) if i != key[first.id])
    wait_for_question(quiz_widget, first.id, 1)
    fill_in(quiz_widget, first, wrong)
    feedback = submit(quiz_widget, "wrong")
    text = " ".join(feedback.inner_text().split())
    assert text.startswith("Not quite")
    assert " ".join(first.explanation.split()) in text, "the explanation is shown after a wrong answer"
    read_more = quiz_widget.locator(".labkit-quiz-read-more")
    assert first.link in read_more.inner_text(), "the explanation links to the lesson that teaches it"
    lab.screenshot(quiz_widget, "08_final_check-wrong-answer")
    for number, question in enumerate(quiz.questions, 1):
        if number > 1:
            wait_for_question(quiz_widget, question.id, number)
            fill_in(quiz_widget, question, key[question.id])
            submit(quiz_widget, "correct")
        quiz_widget.locator(".labkit-quiz-next").click()
    score = quiz_widget.locator(".labkit-quiz-score")
    score.get_by_text("Score: 5/6").wait_for()

    # Retry, and answer everything rightly this time.
    quiz_widget.locator(".labkit-quiz-retry").click()
    for number, question in enumerate(quiz.questions, 1):
        wait_for_question(quiz_widget, question.id, number)
        fill_in(quiz_widget, question, key[question.id])
        feedback = submit(quiz_widget, "correct")
        assert feedback.inner_text().startswith("Right")
        quiz_widget.locator(".labkit-quiz-next").click()
    score.get_by_text("Score: 6/6").wait_for()
    assert "Saved to the progress of 'you'" in score.inner_text()
    lab.screenshot(quiz_widget, "08_final_check-6-of-6")
    assert saved_scores(data_dir) == [5, 6]


# ---------------------------------------------------------------------------------------------
# "Read more" opens the lesson at its heading. The shared server above serves build/browser/, where
# the lesson notebooks are not; this one serves the repository as `make lab` does, under a base URL.

BASE = "/course"
LINKS_NOTEBOOK = "build/quiz-links/quiz_links.ipynb"  # under the repository, the server's root
STARTS = {"the notebook's tree URL": f"/lab/tree/{LINKS_NOTEBOOK}",
          "another workspace's URL": "/lab/workspaces/quiz-links?reset"}


def write_links_notebook() -> None:
    """One cell: the final check's widget, as a lesson shows it."""
    cell = nbformat.v4.new_code_cell("from labkit.ui.quiz import load_quiz\n"
                                     "from labkit.ui.widgets.quiz_widget import QuizWidget\n\n"
                                     'QuizWidget(load_quiz("final_check"))')
    notebook = nbformat.v4.new_notebook(cells=[cell])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (REPO_ROOT / LINKS_NOTEBOOK).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, REPO_ROOT / LINKS_NOTEBOOK)


@pytest.fixture(scope="module")
def course_lab(tmp_path_factory):
    """JupyterLab rooted at the repository and served under BASE; yields (url, token)."""
    write_links_notebook()
    home = tmp_path_factory.mktemp("course-lab")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "LABKIT_DATA_DIR": str(home / "learner-data"),  # never a learner's own progress
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = secrets.token_hex(16)
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={REPO_ROOT}", f"--ServerApp.base_url={BASE}/",
         "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}{BASE}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not start; its log: {home / 'server.log'}") from None
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def open_quiz(chromium, url: str, token: str, start: str):
    """A fresh page at ``start``; open the quiz notebook there, run it, and wait for the widget."""
    page = chromium.new_page(viewport={"width": 1300, "height": 900})
    page.set_default_timeout(180_000)
    page.goto(f"{url}{start}{'&' if '?' in start else '?'}token={token}")
    page.wait_for_function("() => window.jupyterapp")
    page.evaluate("""async path => {
        await window.jupyterapp.restored;
        await window.jupyterapp.commands.execute('docmanager:open', {path});
    }""", LINKS_NOTEBOOK)
    page.wait_for_function(f"""() => {{
        const panel = window.jupyterapp.shell.currentWidget;
        const kernel = panel && panel.context && panel.context.path === {json.dumps(LINKS_NOTEBOOK)}
            && panel.sessionContext.session && panel.sessionContext.session.kernel;
        return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
    }}""")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(QUIZ).wait_for()
    return page


# The notebook JupyterLab shows now is ``path``, and the heading ``anchor`` is on screen in it.
SHOWS_HEADING = """([path, anchor]) => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.context || panel.context.path !== path) return false;
    const selector = `[id="${CSS.escape(anchor)}"], [data-jupyter-id="${CSS.escape(anchor)}"]`;
    const heading = panel.content.node.querySelector(selector);
    if (!heading) return false;
    const view = panel.content.node.getBoundingClientRect(), box = heading.getBoundingClientRect();
    return box.top >= view.top && box.bottom <= view.bottom;
}"""
SHOWS_NOTEBOOK = """path => {
    const panel = window.jupyterapp.shell.currentWidget;
    return !!panel && !!panel.context && panel.context.path === path && panel.context.isReady;
}"""


@pytest.mark.parametrize("start", list(STARTS.values()), ids=list(STARTS))
def test_read_more_opens_the_lesson_at_its_heading(course_lab, chromium, start):
    url, token = course_lab
    page = open_quiz(chromium, url, token, start)
    quiz = load_quiz("final_check")
    question = quiz.questions[0]
    target, anchor = question.link.split("#")
    fill_in(page.locator(QUIZ), question, answer_key(quiz)[question.id])
    submit(page.locator(QUIZ), "correct")
    link = page.locator(f"{QUIZ} .labkit-quiz-read-more a")
    assert link.inner_text() == question.link
    decoration, colour, text_colour = link.evaluate(
        "a => [getComputedStyle(a).textDecorationLine, getComputedStyle(a).color, getComputedStyle(a.parentNode).color]")
    assert decoration == "underline" and colour != text_colour, "the link looks like a link"

    link.click()
    page.wait_for_function(SHOWS_NOTEBOOK, arg=target, timeout=30_000)
    assert len(page.context.pages) == 1, "the lesson opens in the same JupyterLab, not in a new browser tab"
    assert not page.locator(".jp-Dialog").count(), "no 'Could not find path' dialog"
    screenshots = REPO_ROOT / "build" / "screenshots"  # where the shared harness keeps them
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / f"08_final_check-read-more-from-{start.split('/')[2]}.png"))
    # On a notebook's first opening, JupyterLab 4.6's default windowing ('contentVisibility') lays
    # cells out after it scrolls, so the heading may land off screen (its own markdown links do the
    # same; 'defer' or 'none' land exactly). Once the notebook is laid out, a link lands exactly.
    page.evaluate("path => window.jupyterapp.commands.execute('docmanager:open', {path})", LINKS_NOTEBOOK)
    link.click()
    page.wait_for_function(SHOWS_HEADING, arg=[target, anchor], timeout=30_000)
    page.context.close()
