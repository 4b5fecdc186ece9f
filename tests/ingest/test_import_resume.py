"""An import killed at any point and started again ends with exactly the rows, counts and
errors CSV of an uninterrupted run, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from smarketing.domain.clock import FrozenClock
from smarketing.services.imports import ImportOptions, ImportSource, ImportStatus, run_import
from smarketing.services.workspace import Workspace
from smarketing.store import crm, tables
from tests.ingest import import_runs, store_state, wipe_imports, write_csv

CONTACTS = ImportSource("hubspot", "contacts")
HEADER = ["Record ID", "Email", "First Name", "Lifecycle Stage", "Create Date",
          "Date entered 'Marketing Qualified Lead (Lifecycle Stage Pipeline)'",
          "Date entered 'Customer (Lifecycle Stage Pipeline)'",
          "Date entered 'Subscriber (Lifecycle Stage Pipeline)'",
          "Date entered 'Lead (Lifecycle Stage Pipeline)'"]  # fmt: skip


class Crash(Exception):
    """Stands in for a kill: nothing after it runs."""


def _rows(count: int, *, all_dated: bool = False) -> list[list[str]]:
    """Contacts, some repeated, some bad; unless `all_dated`, customers and subscribers have
    no entry date (their transitions are dated with the run's start)."""
    rows = []
    for i in range(count):
        email = f"p{i % (count - 3)}@firm{i % 7}.com"  # the last 3 rows repeat earlier people
        stage = ("Lead", "Marketing Qualified Lead", "Customer", "Subscriber")[i % 4]
        mql = f"2024-02-{1 + i % 27:02d} 10:00" if stage != "Subscriber" else ""
        customer = "2024-03-01 10:00" if all_dated and stage == "Customer" else ""
        subscriber = "2024-01-01 09:00" if all_dated and stage == "Subscriber" else ""
        lead = "2024-01-02 09:00" if all_dated and stage == "Lead" else ""
        rows.append([str(1000 + i % (count - 3)), email, f"P{i}", stage, "2024-01-01 09:00", mql,
                     customer, subscriber, lead])  # fmt: skip
    rows[4][1] = "not-an-email"
    rows[9][3] = "Unknown stage"
    rows[13][4] = "31/31/2024"
    rows[17][1] = '=HYPERLINK("x")'
    return rows


def _baseline(
    ws: Workspace, path: Path, errors: Path, chunk_rows: int = 5
) -> tuple[dict[str, list[Any]], list[tuple[Any, ...]], str]:
    """The uninterrupted run's store, runs and errors CSV; then the store is emptied."""
    options = ImportOptions(chunk_rows=chunk_rows, errors_path=errors)
    run_import(ws, CONTACTS, path, options=options)
    result = store_state(ws), import_runs(ws), errors.read_text(encoding="utf-8-sig")
    wipe_imports(ws)
    return result


def test_a_crash_between_chunks_resumes_to_the_same_end(
    workspace: Workspace, tmp_path: Path, clock: FrozenClock
) -> None:
    path = write_csv(tmp_path / "contacts.csv", HEADER, _rows(23))
    state, runs, errors = _baseline(workspace, path, tmp_path / "baseline-errors.csv")

    def crash_after_second_chunk(checkpoint: int) -> None:
        if checkpoint >= 11:
            raise Crash

    options = ImportOptions(chunk_rows=5, errors_path=tmp_path / "errors.csv")
    with pytest.raises(Crash):
        run_import(workspace, CONTACTS, path, options=options, after_chunk=crash_after_second_chunk)
    (stopped,) = import_runs(workspace)
    assert stopped[1] == ImportStatus.FAILED
    assert stopped[-1] == 11
    clock.advance(hours=5)  # undated moves keep the run's first start
    report = run_import(workspace, CONTACTS, path, options=options)
    assert report.resumed_after_row == 11
    now = store_state(workspace)
    assert now == state, _diff(now, state)
    assert import_runs(workspace) == runs
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig") == errors
    assert (
        report.run.rows_read
        == report.run.rows_imported + report.run.rows_unchanged + report.run.rows_rejected
    )


def test_a_crash_inside_a_chunk_rolls_it_back_and_trims_its_errors(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: FrozenClock
) -> None:
    path = write_csv(tmp_path / "contacts.csv", HEADER, _rows(23))
    state, runs, errors = _baseline(workspace, path, tmp_path / "baseline-errors.csv")
    real_save = crm.save_progress
    calls = []

    def save_then_crash_on_fourth(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 4:  # rows 17-21: its bad email is already in the errors CSV
            raise Crash
        return real_save(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(crm, "save_progress", save_then_crash_on_fourth)
    options = ImportOptions(chunk_rows=5, errors_path=tmp_path / "errors.csv")
    with pytest.raises(Crash):
        run_import(workspace, CONTACTS, path, options=options)
    assert "HYPERLINK" in (tmp_path / "errors.csv").read_text(encoding="utf-8-sig")
    assert import_runs(workspace)[0][-1] == 16
    monkeypatch.setattr(crm, "save_progress", real_save)
    clock.advance(hours=5)
    run_import(workspace, CONTACTS, path, options=options)
    assert store_state(workspace) == state
    assert import_runs(workspace) == runs
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig") == errors


def _diff(now: dict[str, list[Any]], before: dict[str, list[Any]]) -> str:
    """What differs, table by table (assertion messages of whole states are unreadable)."""
    lines = []
    for table in now:
        extra = sorted(set(now[table]) - set(before[table]), key=repr)[:3]
        missing = sorted(set(before[table]) - set(now[table]), key=repr)[:3]
        if extra or missing:
            lines.append(f"{table}: extra {extra}, missing {missing}")
    return "\n".join(lines)


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_end(workspace: Workspace, tmp_path: Path) -> None:
    rows = _rows(2000, all_dated=True)  # the child runs on the real clock
    path = write_csv(tmp_path / "contacts.csv", HEADER, rows)
    state, runs, errors = _baseline(workspace, path, tmp_path / "baseline-errors.csv", 100)
    env = {**os.environ, "SMARKETING_WORKSPACE": str(workspace.settings.workspace)}
    if workspace.settings.database_url:
        env["SMARKETING_DATABASE_URL"] = workspace.settings.database_url
    command = [sys.executable, "-m", "smarketing", "import", "hubspot", "contacts", str(path),
               "--chunk-size", "5", "--errors", str(tmp_path / "errors.csv"), "--quiet"]  # fmt: skip
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as child:
        deadline = time.monotonic() + 60
        checkpoint = 0
        while checkpoint < 200 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
            with workspace.db.read() as conn:
                checkpoint = conn.execute(select(tables.imports.c.checkpoint_row)).scalar() or 0
        assert child.poll() is None, child.communicate()[1]
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
    (stopped,) = import_runs(workspace)
    assert stopped[1] == ImportStatus.RUNNING
    assert 0 < stopped[-1] < len(rows) + 1
    run_import(
        workspace,
        CONTACTS,
        path,
        options=ImportOptions(chunk_rows=100, errors_path=tmp_path / "errors.csv"),
    )  # resumed in other chunks than it started with: rows, not chunks, are the unit
    now = store_state(workspace)
    assert now == state, _diff(now, state)
    assert import_runs(workspace) == runs
    assert (tmp_path / "errors.csv").read_text(encoding="utf-8-sig") == errors
