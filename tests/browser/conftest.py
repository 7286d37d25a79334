"""A real browser for widget tests: JupyterLab on 127.0.0.1 with a token, driven by Debian's
Chromium through Playwright.

Lesson notebooks also train models, which a widget test should not wait for. So the harness
builds a small notebook from a lesson's cells tagged ``parameters``, ``setup`` and ``widget``
(in their order), opens that one in JupyterLab, runs all its cells, and waits for the widgets.
A lesson makes a widget testable by tagging its setup cell ``setup`` and each widget cell
``widget``; widgets carry CSS classes (``labkit-…``) for the tests to find them.

    def test_something(lab):
        page = lab.open_widgets("02_lora", wait_for=[".labkit-rank-explorer"])
        ...
        lab.screenshot(page, "02_lora-something")   # build/screenshots/02_lora-something.png
        page.context.close()

One server serves the whole session. Each ``open_widgets`` (or ``open``) shuts down earlier kernels
and opens the notebook in a fresh workspace, so lessons do not see each other's state. A test that
runs a whole lesson copies it under ``lab.root`` and drives it with ``open``, ``run_all``,
``code_cells`` and ``wait_until_run``.

Labels and metrics written in the browser go to temporary folders, never to the learner's
labels/ or to build/course/.

Chromium comes from apt (``apt-get install -y chromium``): Playwright cannot download its own
browser offline. Tests are skipped, with that reason, only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from labkit.paths import NOTEBOOKS_DIR, REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
BUILD_DIR = REPO_ROOT / "build" / "browser"
SCREENSHOTS_DIR = REPO_ROOT / "build" / "screenshots"
TESTED_TAGS = ("parameters", "setup", "widget")
SERVER_START_SECONDS = 90
RUN_SECONDS = 180  # the setup cell imports torch; widget cells compute in milliseconds

# Labels written by tests must never land in a learner's labels/ folder: the server's kernels keep
# them here. Set at collection, before the server starts, so module-scoped fixtures see it too; the
# root conftest points each test function at a folder of its own, so a test that reads what a kernel
# wrote sets it back (``monkeypatch.setenv("LABKIT_LABELS_DIR", str(lab.labels_dir))``).
LABELS_DIR = Path(tempfile.mkdtemp(prefix="labkit-test-labels-"))
os.environ["LABKIT_LABELS_DIR"] = str(LABELS_DIR)


def pytest_collection_modifyitems(items):
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} not found: install it with `apt-get install -y chromium` "
                                   "(Playwright cannot download browsers offline)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def widget_notebook(lesson: str, out_dir: Path) -> Path:
    """Write a notebook of the lesson's parameters, setup and widget cells; return its path.

    >>> widget_notebook("02_lora", Path("build/browser"))  # doctest: +SKIP
    PosixPath('build/browser/02_lora_widgets.ipynb')
    """
    import nbformat

    source = NOTEBOOKS_DIR / f"{lesson}.ipynb"
    notebook = nbformat.read(source, as_version=4)
    cells = [cell for cell in notebook.cells
             if cell.cell_type == "code" and set(cell.metadata.get("tags", ())) & set(TESTED_TAGS)]
    if not any("widget" in cell.metadata.get("tags", ()) for cell in cells):
        raise ValueError(f"{source} has no code cell tagged 'widget': nothing to test in a browser")
    for cell in cells:
        cell.outputs, cell.execution_count = [], None
    notebook.cells = cells
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{lesson}_widgets.ipynb"
    nbformat.write(notebook, path)
    return path


class JupyterLab:
    """A running JupyterLab server plus the browser pointed at it."""

    def __init__(self, url: str, token: str, root: Path, metrics_dir: Path, browser):
        self.url, self.token, self.root, self.browser = url, token, root, browser
        self.metrics_dir = metrics_dir  # where ``labkit.record_metrics`` writes in this server's kernels
        self.labels_dir = LABELS_DIR  # where their lessons keep preference labels

    def open_widgets(self, lesson: str, wait_for=()):
        """Open a lesson's widget notebook, run all cells, wait for ``wait_for`` selectors."""
        path = widget_notebook(lesson, self.root)
        page = self.open(path)
        self.run_all(page, path)
        self.wait_until_run(page, path, lesson, RUN_SECONDS)
        for selector in wait_for:
            page.locator(selector).first.wait_for(state="visible")
        return page

    def open(self, path: Path):
        """Shut down earlier kernels, open the notebook at ``path`` (under ``root``); return the page
        once its kernel is idle."""
        self.shut_down_kernels()
        page = self.browser.new_page(viewport={"width": 1500, "height": 1200})
        page.set_default_timeout(RUN_SECONDS * 1000)
        name = path.relative_to(self.root).as_posix()
        # A fresh workspace per page (``?reset``): JupyterLab would otherwise reopen the
        # notebooks of earlier tests next to this one.
        page.goto(f"{self.url}/lab/workspaces/{path.stem}/tree/{name}?reset&token={self.token}")
        page.wait_for_function(f"""() => {{
            const panel = window.jupyterapp && {self._panel(path)};
            const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
            return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
        }}""")
        return page

    def run_all(self, page, path: Path):
        """Run → Run All Cells from the menu bar, as a learner does; returns as soon as the cells are queued."""
        page.evaluate(f"() => window.jupyterapp.shell.activateById({self._panel(path)}.id)")
        page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()

    def code_cells(self, page, path: Path) -> list[dict]:
        """The notebook's code cells as the browser holds them now: tags, source, execution_count and
        outputs (as in nbformat), and state: "running" while the cell executes ([*]), else "idle"."""
        return page.evaluate(f"""() => {self._panel(path)}.content.widgets
            .filter(c => c.model.type === 'code')
            .map(c => [c.model.executionState, c.model.toJSON()])
            .map(([state, c]) => ({{tags: (c.metadata.tags || []), source: c.source, state: state,
                                    execution_count: c.execution_count, outputs: c.outputs}}))""")

    def wait_until_run(self, page, path: Path, name: str, seconds: float):
        """Wait until every code cell has an execution count and the kernel is idle; fail on a cell's error."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function(f"""() => {{
                const panel = {self._panel(path)};
                const cells = panel.content.widgets.filter(c => c.model.type === 'code');
                return cells.every(c => c.model.executionCount !== null)
                    && panel.sessionContext.session.kernel.status === 'idle';
            }}""", timeout=seconds * 1000)
        except PlaywrightTimeout:
            self.screenshot(page, f"{name}-timeout")
            waiting = next((cell for cell in self.code_cells(page, path) if cell["execution_count"] is None), None)
            raise AssertionError(f"{path.name} did not finish in {seconds} s; the first cell not run "
                                 f"({waiting and waiting['state']}):\n{waiting and waiting['source']}") from None
        errors = [f"{output['ename']}: {output['evalue']}\n{''.join(cell['source'])}"
                  for cell in self.code_cells(page, path) for output in cell["outputs"]
                  if output["output_type"] == "error"]
        if errors:
            self.screenshot(page, f"{name}-error")
            raise AssertionError(f"{path.name}: a cell raised\n" + "\n".join(errors))

    def _panel(self, path: Path) -> str:
        """JavaScript for the notebook panel of ``path``: found by its path, not as the "current"
        widget, which focus can change."""
        name = json.dumps(path.relative_to(self.root).as_posix())
        return f"Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === {name})"

    def shut_down_kernels(self):
        """End the sessions of earlier tests: each lesson starts on a fresh kernel, and idle
        kernels holding torch do not pile up on a 2-core machine."""
        with urllib.request.urlopen(f"{self.url}/api/sessions?token={self.token}", timeout=10) as response:
            sessions = json.load(response)
        for session in sessions:
            request = urllib.request.Request(f"{self.url}/api/sessions/{session['id']}?token={self.token}",
                                             method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()

    def screenshot(self, target, name: str) -> Path:
        """Save a page (what is visible) or a locator (that element) as build/screenshots/<name>.png."""
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS_DIR / f"{name}.png"
        target.screenshot(path=str(path))
        return path


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """JupyterLab on 127.0.0.1:<free port> with a random token; root is build/browser/."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install it with `apt-get install -y chromium`")
    root = BUILD_DIR
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    home = tmp_path_factory.mktemp("jupyter")
    port, token = free_port(), secrets.token_hex(16)
    # Fresh settings, workspaces and runtime dirs: no state from a learner's own JupyterLab.
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           # Quiz attempts made in the browser stay out of the learner's own data, and metrics
           # recorded by lessons run here out of build/course.
           "LABKIT_DATA_DIR": str(home / "learner-data"), "LABKIT_METRICS_DIR": str(home / "metrics"),
           "LABKIT_LABELS_DIR": str(LABELS_DIR),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    # No "get notified about Jupyter news?" toast over the widgets in screenshots.
    notification = home / "settings" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    jupyter = Path(sys.executable).with_name("jupyter")
    log = (home / "server.log").open("w")
    server = subprocess.Popen(
        [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers often run as root
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as response:
                json.load(response)
            break
        except OSError as error:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                tail = (home / "server.log").read_text()[-2000:]
                raise RuntimeError(f"JupyterLab did not start on {url} within {SERVER_START_SECONDS} s; "
                                   f"its log ({home / 'server.log'}) ends:\n{tail}") from error
            time.sleep(0.5)
    yield url, token, root, home / "metrics"
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium from Debian, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lab(jupyter_server, chromium):
    """JupyterLab + Chromium; ``lab.open_widgets(lesson)`` gives a page with the widgets running.

    Close the page when done (``page.context.close()``); a module-scoped fixture that opens a
    lesson once and shares the page between its tests keeps the suite quick.
    """
    url, token, root, metrics_dir = jupyter_server
    return JupyterLab(url, token, root, metrics_dir, chromium)
