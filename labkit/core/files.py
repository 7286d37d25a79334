"""Write files and folders so that a kill at any moment leaves the old copy or the new one, never half.

Every writer in labkit goes through these: metrics, caches, progress, pairs to label, adapters.
(The label store appends instead of replacing; it lives in :mod:`labkit.core.data.labels`.)

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_jsonl([{"a": 1}, {"b": "é"}], folder / "x.jsonl").name
'x.jsonl'
>>> read_jsonl(folder / "x.jsonl")
[{'a': 1}, {'b': 'é'}]
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path


def _fsync_directory(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (POSIX; a no-op elsewhere)."""
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through an fsynced temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)
    return path


def atomic_write_json(path: str | os.PathLike, data, indent: int = 1) -> Path:
    """``atomic_write_text`` of ``data`` as JSON."""
    return atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False))


def write_jsonl(records: Iterable[dict], path: str | os.PathLike) -> Path:
    """One JSON object per line (UTF-8, no ASCII escaping), written atomically."""
    return atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The objects of a JSONL file; blank lines are skipped. Use the validator for files a person wrote."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def remove_stale_temp_files(path: str | os.PathLike) -> None:
    """Delete temporary files a killed writer of ``path`` left behind (call it holding the file's lock)."""
    path = Path(path)
    for stale in path.parent.glob(f"{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)


def atomic_write_folder(folder: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Let ``write(tmp)`` fill a temporary folder, then move it into place by renames, never copies.

    At every moment a complete copy is on disk: the old one (in ``folder``, or ``folder.old`` for the
    instant of the swap) or the new one. A swap interrupted earlier is repaired first.
    """
    folder = Path(folder)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    write(tmp)
    backup = folder.with_name(folder.name + ".old")
    if backup.exists() and not folder.exists():
        backup.rename(folder)  # an earlier swap was interrupted: put the old copy back first
    if backup.exists():
        shutil.rmtree(backup)
    if folder.exists():
        folder.rename(backup)
    tmp.rename(folder)
    if backup.exists():
        shutil.rmtree(backup)
    return folder
