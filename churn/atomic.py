"""Atomic file writes, written once: a file appears whole under its name or not at all.

Plain Python (no pandas, no numpy): the step code (in containers) and the host side (run
records, summaries, the replay path, which must start fast) both write through it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class AtomicTextWriter:
    """Writes a text file through ``.<name>.partial`` and renames it into place on success,
    computing its sha256 on the way (a failure leaves no file behind)."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(f".{path.name}.partial")
        self.digest = hashlib.sha256()

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = self.partial.open("wb")
        return self

    def write(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.digest.update(data)
        self.handle.write(data)

    def __exit__(self, kind, value, traceback):
        self.handle.close()
        if kind is None:
            os.replace(self.partial, self.path)
        else:
            self.partial.unlink(missing_ok=True)
        return False

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


def write_lines_atomically(path: Path, lines: list[str]) -> str:
    """Write ``lines`` (newline-terminated) to ``path`` via a temporary file; return its sha256."""
    with AtomicTextWriter(path) as out:
        out.write("".join(line + "\n" for line in lines))
    return out.hexdigest()


def copy_file_atomically(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` byte for byte via a temporary file; return its sha256."""
    with AtomicTextWriter(target) as out, source.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            out.write(block)
    return out.hexdigest()
