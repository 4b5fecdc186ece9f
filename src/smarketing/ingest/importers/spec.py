"""What an importer is: the kind of run it makes, what it produces, and how it reads a row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from smarketing.ingest.importers.headers import BoundColumns
from smarketing.ingest.importers.records import Record
from smarketing.ingest.importers.values import ParseOptions, Problem


class Target(StrEnum):
    """What the records of an import become in the store."""

    PEOPLE = "people"
    ACCOUNTS = "accounts"
    DEALS = "deals"
    CAMPAIGNS = "campaigns"
    CAMPAIGN_RESPONSES = "campaign-responses"


class RowParser(Protocol):
    """Reads one row: a record, or the problems that reject it."""

    @property
    def columns(self) -> BoundColumns: ...

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]: ...


Binder = Callable[[Sequence[str], str, ParseOptions], RowParser]
"""Checks a file's header (raising `ImportFileError`) and returns its row parser."""


@dataclass(frozen=True, slots=True)
class ImportSpec:
    """One importer: `kind` names its runs (`hubspot:contacts`); `actor`/`reason` go on the
    transitions it writes; `bind` checks a file's header and returns its row parser."""

    kind: str
    target: Target
    source_label: str
    actor: str
    reason: str
    bind: Binder
