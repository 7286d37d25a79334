"""constraints.txt holds on every Python pyproject.toml declares: pip resolves what `make install`
installs (``.[dev]``) under it, and every package it would install is pinned there.

pip's dry run reads the registries' metadata and installs nothing (about 15 s a Python). The oldest
declared Python runs by default, checked against requires-python's lower bound exactly (3.11.0, so a
pin that needs 3.11.5 fails here); the newer ones need their own interpreter and run under ``slow``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from labkit.paths import REPO_ROOT

CONSTRAINTS = REPO_ROOT / "constraints.txt"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
RESOLVE_SECONDS = 300  # a lock whose pins agree resolves in about 15 s; pip backtracking takes minutes
# Pure-Python packages that publish only a source archive (lm-eval needs them). A dry run for another
# Python takes wheels only, so they are built first (a few seconds) and offered from a folder.
SOURCE_ONLY = ("rouge-score", "sqlitedict", "word2number")


def declared_pythons() -> list[str]:
    """The Python versions pyproject.toml's classifiers list, oldest first, e.g. ``["3.11", "3.12"]``."""
    versions = [match.group(1) for classifier in PYPROJECT["classifiers"]
                if (match := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", classifier))]
    return sorted(versions, key=lambda version: int(version.split(".")[1]))


def install_requirements(extra: str = "dev") -> list[str]:
    """What ``pip install -e ".[dev]"`` asks for: the dependencies plus the extra, its self-references expanded."""
    requirements, extras = list(PYPROJECT["dependencies"]), [extra]
    while extras:
        for line in PYPROJECT["optional-dependencies"][extras.pop()]:
            requirement = Requirement(line)
            if requirement.name == PYPROJECT["name"]:
                extras.extend(requirement.extras)
            else:
                requirements.append(line)
    return sorted(set(requirements))


def pinned_versions() -> dict[str, set[str]]:
    """Each package constraints.txt pins, with the versions its lines allow (one per Python marker)."""
    pins: dict[str, set[str]] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            pins.setdefault(canonicalize_name(requirement.name), set()).update(
                spec.version for spec in requirement.specifier if spec.operator == "==")
    return pins


def find_python(version: str) -> str | None:
    """An interpreter of Python ``version`` ("3.12") on PATH or in pyenv, or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [shutil.which(f"python{version}"), *sorted(map(str, pyenv.glob(f"{version}.*/bin/python{version}")))]
    for candidate in filter(None, candidates):
        # A pyenv shim is on PATH for every installed version but runs only the selected ones.
        found = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == version:
            return candidate
    return None


def source_only_wheels(folder: Path) -> Path:
    """Build wheels of the SOURCE_ONLY packages, at their pinned versions, into ``folder``."""
    pins = pinned_versions()
    wanted = [f"{name}=={version}" for name in SOURCE_ONLY for version in sorted(pins[name])]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), *wanted],
                   check=True, timeout=RESOLVE_SECONDS)
    return folder


def resolve(python: str, tmp_path: Path, python_version: str | None = None) -> dict[str, str]:
    """Resolve ``.[dev]`` under constraints.txt for the interpreter ``python``; {package: version}.

    ``python_version`` ("3.11.0") checks each package's Requires-Python against that version instead of
    the interpreter's own; environment markers are still read from the interpreter.
    """
    report = tmp_path / "report.json"
    target = [] if python == sys.executable else ["--python", python]
    command = [sys.executable, "-m", "pip", *target, "install", "--dry-run", "--ignore-installed",
               "--only-binary=:all:", "--find-links", str(source_only_wheels(tmp_path / "wheels")),
               "--report", str(report), "-c", str(CONSTRAINTS),
               *(["--python-version", python_version] if python_version else []), *install_requirements()]
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=RESOLVE_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"pip did not resolve constraints.txt for {python} within {RESOLVE_SECONDS} s: it is "
                    f"backtracking, so a package is unpinned or a pin conflicts. Run: {' '.join(command)}")
    if done.returncode != 0:
        # From pip's first error on: it names the conflicting pins. This machine's pip configuration
        # names index folders that lack some packages; those warnings are left out.
        lines = [line for line in done.stdout.splitlines() if not line.startswith("WARNING: Location")]
        first_error = next((i for i, line in enumerate(lines) if line.startswith("ERROR:")), -30)
        pytest.fail(f"constraints.txt does not resolve for Python {python_version or python}:\n"
                    + "\n".join(lines[first_error:]))
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
            for item in json.loads(report.read_text())["install"]}


def unpinned(resolved: dict[str, str]) -> dict[str, str]:
    """The resolved packages whose exact version constraints.txt does not name."""
    pins = pinned_versions()
    return {name: version for name, version in resolved.items() if version not in pins.get(name, ())}


def test_classifiers_start_at_requires_python():
    oldest = declared_pythons()[0]
    assert PYPROJECT["requires-python"] == f">={oldest}", (
        "pyproject.toml: requires-python and the oldest 'Programming Language :: Python' classifier disagree")


def test_install_requirements_expand_the_dev_extra():
    requirements = install_requirements()
    assert any(line.startswith("torch") for line in requirements)  # a dependency
    assert any(line.startswith("playwright") for line in requirements)  # from [browser], via [dev]
    assert not any(line.startswith("labkit") for line in requirements)


def test_lock_resolves_on_the_oldest_declared_python(tmp_path):
    oldest = declared_pythons()[0]
    python = sys.executable if f"{sys.version_info[0]}.{sys.version_info[1]}" == oldest else find_python(oldest)
    if python is None:
        pytest.skip(f"no Python {oldest} interpreter found on PATH or in pyenv")
    resolved = resolve(python, tmp_path, python_version=f"{oldest}.0")
    missing = unpinned(resolved)
    assert not missing, f"constraints.txt lacks these pins for Python {oldest}: {missing}"
    assert resolved["torch"].endswith("+cpu"), "torch must resolve to its CPU build on the oldest Python"
    assert not [name for name in resolved if name.startswith("nvidia-")], "CUDA libraries would be installed"


@pytest.mark.slow
@pytest.mark.parametrize("version", declared_pythons()[1:])
def test_lock_resolves_on_each_newer_declared_python(version, tmp_path):
    python = find_python(version)
    if python is None:
        pytest.skip(f"no Python {version} interpreter found on PATH or in pyenv")
    missing = unpinned(resolve(python, tmp_path))
    assert not missing, f"constraints.txt lacks these pins for Python {version}: {missing}"


def test_make_stops_at_once_on_a_python_older_than_requires_python():
    oldest = declared_pythons()[0]
    older = f"3.{int(oldest.split('.')[1]) - 1}"
    python = find_python(older)
    if python is None:
        pytest.skip(f"no Python {older} interpreter found on PATH or in pyenv")
    check = subprocess.run([python, str(REPO_ROOT / "tools" / "check_python.py")], capture_output=True, text=True,
                           timeout=30, check=False)
    assert check.returncode == 1
    assert f"is Python {older}." in check.stdout and f"needs Python >= {oldest}" in check.stdout
