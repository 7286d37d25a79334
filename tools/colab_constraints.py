"""Write constraints-colab.txt: constraints.txt for Colab, where the notebook's setup cell installs labkit.

    python tools/colab_constraints.py [--check]

Colab brings its own CUDA build of torch (and triton, the nvidia-* and cuda-* libraries, torchvision, torchaudio):
those pins are left out, so `pip install -c constraints-colab.txt` keeps them and installs the tested
versions of everything else (transformers, TRL, peft, bitsandbytes, datasets, ...). With ``--check`` it
only says whether the file is current (the test suite runs that).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLAB_OWNS = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-[a-z0-9-]+|cuda-[a-z0-9-]+)\s*==", re.IGNORECASE)
HEADER = ("# Generated from constraints.txt by tools/colab_constraints.py: do not edit by hand.\n"
          "# Colab keeps its own CUDA torch; every other package is pinned to the version the course is tested with.\n")


def colab_constraints(text: str) -> str:
    """constraints.txt's text without the comment header and the packages Colab owns."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")
             and not COLAB_OWNS.match(line)]
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    wanted = colab_constraints((ROOT / "constraints.txt").read_text())
    target = ROOT / "constraints-colab.txt"
    if "--check" in sys.argv:
        current = target.read_text() if target.exists() else ""
        sys.exit(0 if current == wanted else "constraints-colab.txt is stale: run python tools/colab_constraints.py")
    target.write_text(wanted)
    print(f"wrote {target}")
