"""Fetch the wheels `make gpu-check` needs on a GPU machine that reaches no package registry.

    python tools/gpu_wheels.py [--python 3.12] [--cuda 130] [--out .whl]

The lent GPU machines run their own python3 with CUDA torch, transformers, peft, accelerate and the
scientific stack (see the device tool's KINDS.md); everything else labkit's lessons import comes from
here, at the versions constraints.txt pins. bitsandbytes' wheel carries a kernel library for every
CUDA and ROCm release (129 MB unpacked); only the one for the machine's CUDA is kept, so the wheels
travel within the 64 MiB a device call may carry.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the lessons import that the GPU image lacks (checked against its package list, 2026-11).
NEEDED = ["transformers", "trl", "peft", "datasets", "dill", "multiprocess", "fsspec", "bitsandbytes",
          "liger-kernel", "papermill", "nbclient", "nbformat", "jupyter_client", "jupyter_core", "ipykernel",
          "ipython", "ipython_pygments_lexers", "jedi", "parso", "traitlets", "pyzmq", "tornado", "comm",
          "debugpy", "matplotlib-inline", "prompt_toolkit", "stack-data", "asttokens", "executing", "pure_eval",
          "decorator", "wcwidth", "pexpect", "ptyprocess", "nest-asyncio2", "fastjsonschema", "entrypoints",
          "tenacity", "ipywidgets", "widgetsnbextension", "jupyterlab_widgets", "platformdirs", "huggingface_hub",
          "tokenizers", "filelock", "jsonschema", "jsonschema-specifications", "referencing", "rpds-py", "attrs"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]


def pinned(python: str = "3.12") -> dict[str, str]:
    """Package name (normalised) -> version, from constraints.txt, for ``python`` where a pin has a marker."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" not in line or line.startswith("#"):
            continue
        requirement, _, marker = line.partition(";")
        name, version = requirement.split("==", 1)
        if marker and f'"{python}"' not in marker:
            continue
        pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def download(names: list[str], python: str, out: Path) -> None:
    pins = pinned(python)
    specs = [f"{n}=={pins[re.sub(r'[-_.]+', '-', n).lower()]}" if re.sub(r"[-_.]+", "-", n).lower() in pins
             else n for n in names]
    platform_args = [arg for p in PLATFORMS for arg in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                    "--python-version", python, "--implementation", "cp", *platform_args, "-d", str(out), *specs],
                   check=True)


def trim_bitsandbytes(out: Path, cuda: str) -> None:
    """Keep only libbitsandbytes_cpu and the library for CUDA ``cuda`` (e.g. "130") in the wheel."""
    for wheel in out.glob("bitsandbytes-*.whl"):
        keep = re.compile(rf"libbitsandbytes_(cpu|cuda{cuda})\.so$")
        trimmed = wheel.with_suffix(".trim")
        with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(trimmed, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename.endswith(".so") and not keep.search(item.filename):
                    continue
                dst.writestr(item, src.read(item.filename))
        trimmed.replace(wheel)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--cuda", default="130", help="the GPU machine's CUDA (torch.version.cuda without the dot)")
    parser.add_argument("--out", type=Path, default=ROOT / ".whl")
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    download(NEEDED, args.python, args.out)
    trim_bitsandbytes(args.out, args.cuda)
    total = sum(f.stat().st_size for f in args.out.glob("*.whl"))
    print(f"{len(list(args.out.glob('*.whl')))} wheels, {total / 2**20:.1f} MiB in {args.out}")


if __name__ == "__main__":
    main()
