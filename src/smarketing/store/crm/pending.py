"""A chunk's changes to people that may not be committed yet, laid over the next chunk's lookups.

An import may write chunk N on one connection while it looks up and merges chunk N+1 on
another (`services.import_overlap`). Those lookups run under READ COMMITTED: each SELECT sees
chunk N's rows or none of them, depending on whether N committed in between, and two SELECTs of
one chunk may disagree. `PendingPeople` holds exactly what N writes (the whole state of every
person it inserts or updates, its new identities and deal links), and each lookup's answer is
corrected by it: rows N touched are taken from here, not from the database. That gives what
the lookup would have given after N's commit, whichever state the database showed, because
imports only insert identities and overwrite whole people rows; N+1 is only written after N
has committed, so N+1's rows build on N's.

Immutable once made, so the writing thread and the merging one may both hold it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PersonRow = tuple[Any, ...]
"""(id, merged_into_id, email, ...): the columns `people.PeopleChunk` loads, in its order."""
EMAIL = 2
"""Position of the email in a `PersonRow`."""


@dataclass(frozen=True, slots=True)
class PendingPeople:
    people: Mapping[int, PersonRow]
    """Every person the chunk inserts or updates, as it will be stored, by id."""
    identities: Mapping[tuple[str, str], int]
    """The chunk's new identities: (kind, value) -> person id."""
    deals: Mapping[int, int]
    """Deals the chunk links to a person: deal id -> person id."""

    def people_by_email(self, found: Iterable[PersonRow], emails: set[str]) -> list[PersonRow]:
        """The answer to `email IN emails` after the chunk: `found` (the database's answer,
        before or after the commit) without the people the chunk writes, plus those of them
        whose email, as written, is wanted."""
        kept = [row for row in found if row[0] not in self.people]
        kept += [row for row in self.people.values() if row[EMAIL] in emails]
        return kept

    def people_by_id(self, found: Iterable[PersonRow], ids: Iterable[int]) -> list[PersonRow]:
        """The answer to `id IN ids` after the chunk (`found`: the database's answer)."""
        kept = [row for row in found if row[0] not in self.people]
        kept += [self.people[i] for i in ids if i in self.people]
        return kept

    def identity_owners(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The owners of those of `keys` that the chunk adds (identities are never changed or
        deleted by an import, so the database's answer for the others stands)."""
        return {key: self.identities[key] for key in keys if key in self.identities}
