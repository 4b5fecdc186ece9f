"""PostgreSQL writes each chunk of people on a second thread while the next chunk is looked up
and merged; the next chunk's lookups are corrected by the previous chunk's changes in memory
(`store.crm.pending`). The store, counts and errors CSV are those of writing one chunk after
the other, whether or not the previous chunk has committed when the lookups run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smarketing.domain.stages import Stage
from smarketing.ingest.importers.records import PersonRecord, PersonRef
from smarketing.services.imports import ImportOptions, ImportSource, run_import
from smarketing.services.workspace import Workspace
from smarketing.store import crm, tables
from smarketing.store.crm.common import WriteContext
from smarketing.store.crm.people import PeopleRows
from tests.ingest import import_runs, store_state, wipe_imports, write_csv
from tests.ingest.test_import_pipeline import HEADER, _contacts
from tests.ingest.test_import_salesforce import ORDER, _report_exports, sf

CONTACTS = ImportSource("hubspot", "contacts")
NOW = datetime(2024, 6, 1, tzinfo=UTC)


pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)]
)
"""Writes overlap only on PostgreSQL (SQLite reserves ids while writing): no SQLite case."""


def _neighbours(count: int) -> list[list[str]]:
    """Each person on two rows in a row (so in consecutive chunks of one row): the second
    moves them on, renames some and changes their name."""
    rows = []
    for i in range(count):
        person = i // 2
        email = f"p{person}@firm{person % 3}.com"
        if i % 2 and person % 3 == 0:
            email = f"renamed{person}@firm.com"
        stage = ("Lead", "Marketing Qualified Lead")[i % 2]
        rows.append([str(1000 + person), email, f"P{i}", stage, "New", "Paid Search",
                     "2024-01-01 09:00", "2024-01-02 09:00", "2024-02-03 10:00" if i % 2 else "",
                     "", ""])  # fmt: skip
    return rows


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_overlapped_writes_give_the_same_store(
    workspace: Workspace, tmp_path: Path, chunk_rows: int
) -> None:
    files = [
        write_csv(tmp_path / "neighbours.csv", HEADER, _neighbours(24)),
        write_csv(tmp_path / "contacts.csv", HEADER, _contacts(41)),
    ]

    def import_all(overlap: bool) -> tuple[Any, ...]:
        errors = []
        for n, path in enumerate([*files, files[1]]):  # the last run finds every row unchanged
            errors_path = tmp_path / f"errors-{n}-{overlap}.csv"
            options = ImportOptions(
                chunk_rows=chunk_rows, errors_path=errors_path, overlap_writes=overlap
            )
            run_import(workspace, CONTACTS, path, options=options)
            errors.append(errors_path.read_text("utf-8-sig") if errors_path.exists() else "")
        result = store_state(workspace), import_runs(workspace), errors
        wipe_imports(workspace)
        return result

    one_after_the_other = import_all(overlap=False)
    assert import_all(overlap=True) == one_after_the_other


def test_overlapped_salesforce_imports_give_the_same_store(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Converted leads link deals and merge into contacts, one row a chunk."""
    files = _report_exports(tmp_path)

    def import_all(overlap: bool) -> dict[str, list[Any]]:
        for obj in ORDER:
            options = ImportOptions(chunk_rows=1, overlap_writes=overlap)
            run_import(workspace, sf(obj), files[obj], options=options)
        state = store_state(workspace)
        with workspace.db.begin() as conn:
            for table in (tables.touchpoints, tables.campaigns):
                conn.execute(table.delete())
        wipe_imports(workspace)
        return state

    assert import_all(overlap=True) == import_all(overlap=False)


def _person(email: str, hubspot: str, first_name: str, *stages: Stage) -> PersonRecord:
    dates = tuple((stage, datetime(2024, 1, 1 + n, tzinfo=UTC)) for n, stage in enumerate(stages))
    return PersonRecord(
        row=0,
        email=email,
        external_ids=(PersonRef("hubspot", hubspot),),
        first_name=first_name,
        claimed_stage=stages[-1],
        stage_dates=dates,
    )


def _plan(
    current: Stage | None, claimed: Stage | None, dates: Any
) -> tuple[Stage | None, list[Any]]:
    moves = [(current, stage, at) for stage, at in dates if stage != current]
    return (claimed, moves) if moves else (current, [])


def _normal(rows: PeopleRows) -> tuple[Any, ...]:
    """The rows with the new people's reserved ids replaced by their keys (ids differ from
    one call to the next)."""
    key = {real: k for k, real in rows.new_ids.items()}
    return (
        [(key[r[0]], *r[1:]) for r in rows.people],
        rows.changed,
        [(key.get(r[0], r[0]), *r[1:]) for r in rows.identities],
        [(key.get(r[0], r[0]), *r[1:]) for r in rows.transitions],
        rows.deal_links,
    )


def test_lookups_see_the_previous_chunk_committed_or_not(workspace: Workspace) -> None:
    ctx = WriteContext(now=NOW, actor="test", reason="test")
    first = [_person("a@x.com", "1", "A", Stage.LEAD), _person("b@x.com", "2", "B", Stage.LEAD)]
    second = [
        _person("a@x.com", "1", "Ada", Stage.LEAD, Stage.MQL),  # found by both keys
        _person("b2@x.com", "2", "B", Stage.LEAD),  # renamed: found by its CRM id
        _person("b@x.com", "3", "Bee", Stage.LEAD),  # the old email: still the same person
        _person("c@x.com", "4", "C", Stage.SQL),  # new
    ]
    with workspace.db.read() as conn:
        _, rows, pending = crm.prepare_people(conn, first, ctx, _plan, None)
        uncommitted = crm.prepare_people(conn, second, ctx, _plan, pending)
    with workspace.db.begin() as conn:
        rows.insert(conn)
    with workspace.db.read() as conn:
        committed = crm.prepare_people(conn, second, ctx, _plan, pending)
        after = crm.prepare_people(conn, second, ctx, _plan, None)
    results = [(out, _normal(r)) for out, r, _ in (uncommitted, committed, after)]
    assert results[0] == results[1] == results[2]
    outcomes, (new_people, changed, new_identities, _, _) = results[0]
    assert [o.outcome for o in outcomes] == ["imported"] * 4
    assert [p[1] for p in new_people] == ["c@x.com"]
    assert sorted((c["email"], c["first_name"]) for c in changed) == [
        ("a@x.com", "Ada"),
        ("b@x.com", "Bee"),  # the last email given wins
    ]
    assert sorted(i[1:3] for i in new_identities) == [
        ("email", "b2@x.com"),
        ("email", "c@x.com"),
        ("hubspot", "3"),
        ("hubspot", "4"),
    ]
