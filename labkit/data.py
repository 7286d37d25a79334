"""``python -m labkit.data``: the same as ``labkit data`` (see labkit.ui.data_cli); with no arguments, help."""

import sys

from labkit.ui.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["data", *(sys.argv[1:] or ["--help"])]))
