"""The errors CSV of an import: one line per problem (file, row, column, reason, value).

Safe to open in a spreadsheet: a cell starting with `=`, `+`, `-`, `@` (or a tab or carriage
return) is prefixed with `'` so it is never run as a formula, and line breaks inside values
become spaces, so every problem is exactly one line. That is what makes the file resumable:
lines are appended in row order and flushed before the chunk they belong to commits; a resumed
run first cuts the file back to the rows its checkpoint covers (dropping a torn last line).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from smarketing.ingest.importers.values import Problem

HEADER: tuple[str, ...] = ("file", "row", "column", "reason", "value")
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
ENCODING = "utf-8-sig"


def neutralise(cell: str) -> str:
    """The cell as text a spreadsheet will not evaluate, on one line."""
    flat = cell.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return "'" + flat if cell.startswith(FORMULA_STARTS) else flat


def default_errors_path(input_path: Path) -> Path:
    """`contacts.csv` -> `contacts.errors.csv`, next to the input."""
    return input_path.with_name(f"{input_path.stem}.errors.csv")


class ErrorsCsv:
    """Appends problems to the errors file, created when the first problem comes."""

    def __init__(self, path: Path, *, file_label: str) -> None:
        self.path = path
        self.file_label = file_label
        self._stream: TextIO | None = None

    def resume_after(self, last_row_done: int) -> None:
        """Keep the problems of rows up to `last_row_done`; 0 starts the file afresh."""
        if not self.path.exists():
            return
        if last_row_done <= 0:
            self.path.unlink()
            return
        kept = _lines_up_to(self.path, last_row_done)
        with self.path.open("w", encoding=ENCODING, newline="") as out:
            out.writelines(kept)

    def write(self, problems: Iterable[Problem]) -> int:
        """Append `problems` and flush them; returns how many were written."""
        lines = io.StringIO()
        writer = csv.writer(lines, lineterminator="\n")
        written = 0
        for p in problems:
            cells = (self.file_label, str(p.row), p.column, p.reason, p.value)
            writer.writerow([neutralise(cell) for cell in cells])
            written += 1
        if written:
            stream = self._open()
            stream.write(lines.getvalue())
            stream.flush()
        return written

    def _open(self) -> TextIO:
        if self._stream is None:
            is_new = not self.path.exists() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = self.path.open("a", encoding="utf-8" if not is_new else ENCODING)
            if is_new:
                csv.writer(self._stream, lineterminator="\n").writerow(HEADER)
        return self._stream

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def _lines_up_to(path: Path, last_row_done: int) -> list[str]:
    with path.open(encoding=ENCODING, newline="") as stream:
        lines = stream.readlines()
    kept = lines[:1]
    for line in lines[1:]:
        if not line.endswith("\n"):
            break
        cells = next(csv.reader([line]), [])
        if len(cells) < len(HEADER) or not cells[1].isdigit() or int(cells[1]) > last_row_done:
            break
        kept.append(line)
    return kept
