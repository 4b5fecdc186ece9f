"""Header matching: a column is known by its internal name and by its UI labels.

`key("Lifecycle Stage") == key("lifecyclestage") == key("LIFECYCLE_STAGE")`: matching ignores
case, spaces and punctuation, so one alias covers an API export, an ELT table and a UI export.
When several headers of a file match one field, the alias listed first wins (the current
HubSpot property before its older name). A required column missing from the header fails the
whole file up front, naming the column and the headers that were found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from smarketing.errors import ImportFileError

_NOT_ALNUM = re.compile(r"[\W_]+")


@lru_cache(maxsize=16384)
def key(text: str) -> str:
    """The matching key of a header or a picklist value: casefolded letters and digits only.
    Cached: picklist values repeat on every row."""
    return _NOT_ALNUM.sub("", text.casefold())


@dataclass(frozen=True, slots=True)
class Column:
    """A field we read, the header names it goes by (best first), and whether it must exist."""

    field: str
    names: tuple[str, ...]
    required: bool = False


@dataclass(frozen=True, slots=True)
class BoundColumns:
    """Where each known field sits in one file's header."""

    file: str
    headers: tuple[str, ...]
    positions: Mapping[str, int]

    def has(self, field: str) -> bool:
        return field in self.positions

    def header_of(self, field: str) -> str:
        """The header as written in the file (for error reports), else the field name."""
        position = self.positions.get(field)
        return self.headers[position] if position is not None else field


def bind_columns(
    headers: Sequence[str],
    columns: Sequence[Column],
    *,
    file: str,
    one_of: Sequence[tuple[str, ...]] = (),
) -> BoundColumns:
    """Find each column of `columns` in `headers`; `one_of` lists fields of which one must exist.

    Raises `ImportFileError` for a missing required column.
    """
    header_positions: dict[str, int] = {}
    for index, header in enumerate(headers):
        header_positions.setdefault(key(header), index)
    positions: dict[str, int] = {}
    for column in columns:
        for name in column.names:
            found = header_positions.get(key(name))
            if found is not None:
                positions[column.field] = found
                break
    by_field = {column.field: column for column in columns}
    for column in columns:
        if column.required and column.field not in positions:
            raise _missing(file, headers, [column])
    for group in one_of:
        if not any(field in positions for field in group):
            raise _missing(file, headers, [by_field[field] for field in group])
    return BoundColumns(file=file, headers=tuple(headers), positions=positions)


def _missing(file: str, headers: Sequence[str], wanted: Sequence[Column]) -> ImportFileError:
    names = " or ".join(repr(column.names[0]) for column in wanted)
    aliases = sorted({name for column in wanted for name in column.names[1:]})
    also = f" (also accepted: {', '.join(aliases)})" if aliases else ""
    found = ", ".join(repr(h) for h in headers) or "none"
    return ImportFileError(
        f"{file}: required column {names} is missing{also}; headers found: {found}",
        hint="export that column too, or import the file with `smarketing import csv --map`",
        column=wanted[0].names[0],
        headers=list(headers),
    )
