"""Parsing in a child process (large files) and in the importing process (small ones) give the
same store, counts and errors CSV, on SQLite and PostgreSQL; errors and crashes behave alike."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smarketing.errors import ImportFileError
from smarketing.ingest.importers import hubspot_spec
from smarketing.ingest.importers.headers import BoundColumns
from smarketing.ingest.importers.pipeline import ParseJob, parse_chunks, parsed_chunks
from smarketing.ingest.importers.reader import inspect_csv
from smarketing.ingest.importers.records import Record
from smarketing.ingest.importers.values import ParseOptions, Problem
from smarketing.services.imports import ImportOptions, ImportSource, ImportStatus, run_import
from smarketing.services.workspace import Workspace
from smarketing.store import tables
from tests.ingest import import_runs, store_state, wipe_imports, write_csv
from tests.ingest.test_import_hubspot import UI_COMPANIES, UI_DEALS
from tests.ingest.test_import_salesforce import ORDER, _report_exports, sf

CONTACTS = ImportSource("hubspot", "contacts")
COMPANIES = ImportSource("hubspot", "companies")
DEALS = ImportSource("hubspot", "deals")
HEADER = ["Record ID", "Email", "First Name", "Lifecycle Stage", "Lead Status",
          "Original Source", "Create Date",
          "Date entered 'Lead (Lifecycle Stage Pipeline)'",
          "Date entered 'Marketing Qualified Lead (Lifecycle Stage Pipeline)'",
          "Date entered 'Customer (Lifecycle Stage Pipeline)'", "Associated Company ID"]  # fmt: skip


def _contacts(count: int) -> list[list[str]]:
    """Contacts of every kind: repeated people, a changed email, free mail, a company link,
    undated stages and bad rows (email, stage, date, a row wider than the header)."""
    rows = []
    for i in range(count):
        person = i % (count - 5)  # the last 5 rows repeat earlier people
        domain = ("gmail.com", f"firm{person % 7}.com", "acme.com")[person % 3]
        stage = ("Lead", "Marketing Qualified Lead", "Customer", "Subscriber", "Other")[i % 5]
        mql = f"2024-02-{1 + i % 27:02d} 10:00" if stage != "Subscriber" else ""
        rows.append([str(1000 + person), f"p{person}@{domain}", f"P{i}", stage,
                     ("New", "Connected", "")[i % 3], ("Paid Search", "Offline Sources")[i % 2],
                     "2024-01-01 09:00", "2024-01-02 09:00" if i % 4 else "", mql, "",
                     "9001" if person % 11 == 0 else ""])  # fmt: skip
    rows[4][1] = "not-an-email"
    rows[9][3] = "Unknown stage"
    rows[13][6] = "31/31/2024"
    rows[17] = [*rows[17], "", "extra"]
    rows[21][1] = "renamed@acme.com"  # the record id of an earlier row, with a new email
    rows[21][0] = rows[2][0]
    return rows


def _import_everything(ws: Workspace, folder: Path, *, in_child: bool) -> list[str]:
    """Companies, contacts (twice: the second run finds every row unchanged) and deals, in
    small chunks; returns the errors CSVs."""
    errors = []
    files = [
        (COMPANIES, write_csv(folder / "companies.csv", *UI_COMPANIES)),
        (CONTACTS, write_csv(folder / "contacts.csv", HEADER, _contacts(61))),
        (CONTACTS, folder / "contacts.csv"),
        (DEALS, write_csv(folder / "deals.csv", *UI_DEALS)),
    ]
    for n, (source, path) in enumerate(files):
        errors_path = folder / f"errors-{n}-{in_child}.csv"
        options = ImportOptions(chunk_rows=7, errors_path=errors_path, parse_in_child=in_child)
        report = run_import(ws, source, path, options=options)
        assert report.run.status == ImportStatus.COMPLETED
        errors.append(errors_path.read_text(encoding="utf-8-sig") if errors_path.exists() else "")
    return errors


def test_parsing_in_a_child_process_gives_the_same_store(
    workspace: Workspace, tmp_path: Path
) -> None:
    errors_here = _import_everything(workspace, tmp_path, in_child=False)
    state, runs = store_state(workspace), import_runs(workspace)
    wipe_imports(workspace)
    errors_there = _import_everything(workspace, tmp_path, in_child=True)
    assert store_state(workspace) == state
    assert import_runs(workspace) == runs
    assert errors_there == errors_here
    read, imported, unchanged, rejected = runs[1][2:6]  # the second contacts run
    assert (read, rejected, imported + unchanged) == (61, 4, 57)  # imported: rows that
    # disagree with a later row of the file about the same person
    assert errors_here[1].count("contacts.csv") == 4


def test_salesforce_exports_parse_the_same_in_a_child_process(
    workspace: Workspace, tmp_path: Path
) -> None:
    files = _report_exports(tmp_path)

    def import_all(in_child: bool) -> dict[str, list[Any]]:
        for obj in ORDER:
            options = ImportOptions(chunk_rows=2, parse_in_child=in_child)
            run_import(workspace, sf(obj), files[obj], options=options)
        return store_state(workspace)

    here = import_all(in_child=False)
    with workspace.db.begin() as conn:
        for table in (tables.touchpoints, tables.campaigns):
            conn.execute(table.delete())
    wipe_imports(workspace)
    assert import_all(in_child=True) == here


class Crash(Exception):
    """Stands in for a kill: nothing after it runs."""


def test_a_crash_while_a_child_parses_resumes_to_the_same_end(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "contacts.csv", HEADER, _contacts(61))
    baseline = ImportOptions(chunk_rows=7, errors_path=tmp_path / "baseline-errors.csv")
    run_import(workspace, CONTACTS, path, options=baseline)
    state, runs = store_state(workspace), import_runs(workspace)
    errors = (tmp_path / "baseline-errors.csv").read_text(encoding="utf-8-sig")
    wipe_imports(workspace)

    def crash_after_third_chunk(checkpoint: int) -> None:
        if checkpoint >= 22:
            raise Crash

    options = ImportOptions(chunk_rows=7, errors_path=tmp_path / "errors.csv", parse_in_child=True)
    with pytest.raises(Crash):
        run_import(workspace, CONTACTS, path, options=options, after_chunk=crash_after_third_chunk)
    assert import_runs(workspace)[0][1:] == (ImportStatus.FAILED, 21, 17, 0, 4, 22)
    report = run_import(workspace, CONTACTS, path, options=options)
    assert report.resumed_after_row == 22
    assert store_state(workspace) == state
    assert import_runs(workspace) == runs
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig") == errors


@dataclass(frozen=True, slots=True)
class _FailsAtRow:
    """A contacts parser that finds row `row` unreadable (as the reader does a broken row)."""

    columns: BoundColumns
    row: int

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        if row == self.row:
            raise ImportFileError(f"row {row} cannot be read", hint="fix the file", row=row)
        return [Problem(row, "(row)", "parsed")]


def _chunks(job: ParseJob, *, in_child: bool) -> tuple[list[tuple[int, int]], str]:
    seen: list[tuple[int, int]] = []

    def read_all() -> None:
        with parsed_chunks(job, in_child=in_child) as chunks:
            seen.extend((chunk.rows, chunk.last_row) for chunk in chunks)

    with pytest.raises(ImportFileError) as failed:
        read_all()
    assert failed.value.hint == "fix the file"
    assert failed.value.details == {"row": 30}
    return seen, failed.value.message


def test_an_error_in_the_child_comes_after_the_chunks_before_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "contacts.csv", HEADER, _contacts(40))
    source = inspect_csv(path)
    columns = hubspot_spec("contacts").bind(HEADER, path.name, ParseOptions()).columns
    job = ParseJob(source, _FailsAtRow(columns, row=30), after_row=5, chunk_rows=7)
    here = _chunks(job, in_child=False)
    assert here == ([(7, 12), (7, 19), (7, 26)], "row 30 cannot be read")
    assert _chunks(job, in_child=True) == here


def test_a_child_parses_the_same_records_as_this_process(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "contacts.csv", HEADER, _contacts(40))
    parser = hubspot_spec("contacts").bind(HEADER, path.name, ParseOptions())
    job = ParseJob(inspect_csv(path), parser, after_row=0, chunk_rows=9)
    assert pickle.loads(pickle.dumps(parser)).columns == parser.columns
    with parsed_chunks(job, in_child=True) as chunks:
        there = [(c.rows, c.last_row, c.parsed) for c in chunks]
    assert there == [(c.rows, c.last_row, c.parsed) for c in parse_chunks(job)]
    assert [rows for rows, _, _ in there] == [9, 9, 9, 9, 4]
