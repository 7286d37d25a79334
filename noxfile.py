"""Version-drift guard: the unit tests and the small course against three sets of library versions.

    make test-matrix                      # pinned, latest, minimum, then the table
    .venv/bin/nox -s latest               # one session
    .venv/bin/nox -s minimum -- --unit-only   # the unit tests only (the report says so)
    .venv/bin/nox -s latest -- 01 05          # the unit tests and two lessons of the small course

- ``pinned``: constraints.txt, as ``make install`` installs.
- ``latest``: the newest releases of LIBRARIES (and whatever they pull in, resolved fresh).
- ``minimum``: each lower bound pyproject.toml declares for a dependency, pinned exactly
  (``transformers>=5.0`` becomes ``transformers==5.0``); what they pull in resolves freely.

torch stays ``torch==2.13.0`` (constraints.txt's pin, the local CPU build) in every session. It is
installed with pip, which finds the CPU wheel on this machine's disk; uv would not look there and
an open range would pull a CUDA build of several GB. Virtualenvs live in build/nox and are reused.

Each session writes its entry of build/matrix/report.json: the versions it resolved, ``passed``,
what it ran, and each failure with its cause (from pytest's JUnit XML and the course report). The
``table`` session prints the entries side by side.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import nox
from packaging.requirements import Requirement

nox.options.envdir = "build/nox"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["pinned", "latest", "minimum", "table"]

ROOT = Path(__file__).resolve().parent
MATRIX_DIR = ROOT / "build" / "matrix"
REPORT = MATRIX_DIR / "report.json"
LIBRARIES = ("transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes")
SHOWN = (*LIBRARIES, "torch", "tokenizers", "huggingface_hub", "safetensors", "numpy", "pandas", "matplotlib")
UNIT_TESTS = ("-m", "not notebook and not browser and not slow",
              # a module that fails to import is reported as a failure, and the other modules still run
              "--continue-on-collection-errors")
PRINT_VERSIONS = ("import importlib.metadata as m, json, sys; "
                  "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")


def torch_pin() -> str:
    """constraints.txt's torch line, e.g. ``torch==2.13.0``."""
    return next(line for line in (ROOT / "constraints.txt").read_text().splitlines() if line.startswith("torch=="))


def lower_bounds() -> dict[str, str]:
    """Each ``name>=version`` among pyproject.toml's dependencies (extras left out), torch left out (it
    stays pinned).

    >>> lower_bounds()["transformers"]  # doctest: +SKIP
    '5.0'
    """
    bounds = {}
    for requirement in map(Requirement, nox.project.load_toml(ROOT / "pyproject.toml")["project"]["dependencies"]):
        minimum = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if minimum and requirement.name != "torch":
            bounds[requirement.name] = minimum[0]
    return bounds


def write_constraints(name: str, pins: list[str]) -> Path:
    """A constraints file for one session under build/matrix."""
    path = MATRIX_DIR / f"{name}-constraints.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(pin + "\n" for pin in pins))
    return path


def unit_test_failures(junit: Path) -> list[dict]:
    """Each failed or erroring test in a JUnit XML file, with the first line of its cause."""
    if not junit.exists():
        return [{"where": "unit tests", "what": "pytest", "cause": "pytest wrote no results (it did not start)"}]
    failures = []
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        for problem in (*case.findall("failure"), *case.findall("error")):
            cause = (problem.get("message") or problem.text or "").strip().splitlines() or [problem.tag]
            failures.append({"where": "unit tests", "what": f"{case.get('classname')}::{case.get('name')}",
                             "cause": cause[0][:300]})
    return failures


def course_failures(course_dir: Path) -> list[dict]:
    """Each lesson the small course could not run, with its error."""
    report = course_dir / "report.json"
    if not report.exists():
        return [{"where": "small course", "what": "labkit.course", "cause": "the course runner wrote no report"}]
    lessons = json.loads(report.read_text())["lessons"]
    return [{"where": "small course", "what": key, "cause": run.get("error", "")[:300]}
            for key, run in lessons.items() if not run["ok"]]


def record(name: str, entry: dict) -> None:
    """Put one session's entry into build/matrix/report.json, keeping the other sessions' entries."""
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[name] = entry
    REPORT.write_text(json.dumps(report, indent=1))


def check(session: nox.Session, constraints: Path, *upgrade: str) -> None:
    """Install torch and labkit with the extras `make install` installs, under ``constraints``; run the
    unit tests and (unless ``--unit-only``) the small course, all of it or the lessons named after
    ``--``, and record the outcome."""
    session.install(torch_pin())
    session.install("-c", str(constraints), "-e", ".[dev]")
    if upgrade:
        session.install("-c", str(constraints), "--upgrade", *upgrade)
    versions = json.loads(session.run("python", "-c", PRINT_VERSIONS, *SHOWN, silent=True).strip().splitlines()[-1])
    junit = MATRIX_DIR / f"{session.name}-unit.xml"
    junit.unlink(missing_ok=True)
    session.run("pytest", *UNIT_TESTS, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", success_codes=range(6))
    failures, ran = unit_test_failures(junit), ["unit tests"]
    if "--unit-only" not in session.posargs:
        course_dir = MATRIX_DIR / f"{session.name}-course"
        (course_dir / "report.json").unlink(missing_ok=True)
        lessons = list(session.posargs)
        session.run("python", "-m", "labkit.course", *lessons, "--small", "--out", str(course_dir),
                    success_codes=[0, 1])
        failures += course_failures(course_dir)
        ran.append(f"small course ({', '.join(lessons) if lessons else 'every lesson'})")
    record(session.name, {"versions": versions, "passed": not failures, "ran": ran, "failures": failures})
    if failures:
        session.error(f"{len(failures)} failure(s): see {REPORT.relative_to(ROOT)}")


@nox.session
def pinned(session: nox.Session) -> None:
    """constraints.txt, as `make install` installs."""
    check(session, ROOT / "constraints.txt")


@nox.session
def latest(session: nox.Session) -> None:
    """The newest releases of the libraries the course is built on; torch still the local CPU build."""
    check(session, write_constraints("latest", [torch_pin()]), *LIBRARIES)


@nox.session(reuse_venv=False)  # a fresh resolution: a reused venv keeps what earlier bounds pulled in
def minimum(session: nox.Session) -> None:
    """The lower bounds pyproject.toml declares, pinned exactly; torch still the local CPU build."""
    pins = [torch_pin(), *(f"{name}=={version}" for name, version in lower_bounds().items())]
    check(session, write_constraints("minimum", pins))


@nox.session(python=False)
def table(session: nox.Session) -> None:
    """Print build/matrix/report.json as a table: one column per session."""
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    names = [name for name in ("pinned", "latest", "minimum") if name in report]
    rows = [("", *names), ("passed", *("yes" if report[n]["passed"] else "NO" for n in names)),
            ("ran", *(" + ".join(report[n]["ran"]) for n in names))]
    rows += [(package, *(report[n]["versions"].get(package, "-") for n in names)) for package in SHOWN]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows))
    for name in names:
        for failure in report[name]["failures"]:
            print(f"{name}: {failure['where']}: {failure['what']}: {failure['cause']}")
