"""``python -m labkit.course``: run the lessons headless and write the course report (see labkit.ui.course)."""

from labkit.ui.course import main

if __name__ == "__main__":
    raise SystemExit(main())
