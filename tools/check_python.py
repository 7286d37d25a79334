"""Stop `make install` in seconds when its Python is older than pyproject.toml's requires-python.

    python3 tools/check_python.py    # exit 0, or 1 with a message naming the version and what to do

Without it, pip spends minutes backtracking before it fails. The script reads requires-python itself
(tomllib is too new to rely on here) and keeps to syntax that old Pythons can still run.
"""
# ruff: noqa: UP032 -- str.format, not f-strings: Python 3.5 and 2.7 must reach the message too

import os
import re
import sys

PYPROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "pyproject.toml")
# constraints.txt's torch 2.13.0+cpu is a file for this Python only, on this machine's disk.
CPU_TORCH_PYTHON = (3, 11)


def minimum_python(pyproject_text):
    """The lower bound of requires-python, e.g. (3, 11) for ``requires-python = ">=3.11"``."""
    match = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)', pyproject_text, re.MULTILINE)
    if match is None:
        raise SystemExit("{}: no `requires-python = \">=X.Y\"` line found".format(PYPROJECT))
    return int(match.group(1)), int(match.group(2))


def main():
    with open(PYPROJECT) as file:
        minimum = minimum_python(file.read())
    version = "{}.{}.{}".format(*sys.version_info[:3])
    if tuple(sys.version_info[:2]) < minimum:
        in_venv = getattr(sys, "base_prefix", sys.prefix) != sys.prefix
        fix = ("remove this venv ({}) and run `make lab BASE_PYTHON=python{}.{}`".format(sys.prefix, *minimum)
               if in_venv else "run `make lab BASE_PYTHON=python{}.{}` (or newer)".format(*minimum))
        print("labkit needs Python >= {}.{} (requires-python in pyproject.toml), but {} is Python {}: {}."
              .format(minimum[0], minimum[1], sys.executable, version, fix))
        return 1
    if tuple(sys.version_info[:2]) != CPU_TORCH_PYTHON:
        print("note: on Python {} pip installs torch's CUDA build (several GB); Python {}.{} gets the CPU build."
              .format(version, *CPU_TORCH_PYTHON))
    return 0


if __name__ == "__main__":
    sys.exit(main())
