"""Import runs in the `imports` table: one row per (kind, file SHA-256), with the checkpoint.

A run's counts and `checkpoint_row` (the last file row done) are saved in the transaction of the
chunk they describe, and only if the stored checkpoint is still the one the chunk started from:
two processes importing the same file cannot both advance it (`ConflictError`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from smarketing.errors import ConflictError
from smarketing.store.tables import imports


class ImportStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ImportRun:
    """One import run: what was read and what became of it (`read = imported + unchanged +
    rejected`), where it stopped, and the CSV of its rejected rows."""

    id: int
    kind: str
    file_name: str
    file_hash: str
    status: ImportStatus
    rows_read: int
    rows_imported: int
    rows_unchanged: int
    rows_rejected: int
    checkpoint_row: int
    errors_file: str | None
    started_at: datetime
    updated_at: datetime

    @property
    def summary(self) -> str:
        return (
            f"read {self.rows_read} = imported {self.rows_imported} + unchanged "
            f"{self.rows_unchanged} + rejected {self.rows_rejected}"
        )


@dataclass(frozen=True, slots=True)
class Counts:
    read: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.read + other.read,
            self.imported + other.imported,
            self.unchanged + other.unchanged,
            self.rejected + other.rejected,
        )


def _run(row: Any) -> ImportRun:
    return ImportRun(
        id=row.id,
        kind=row.kind,
        file_name=row.file_name,
        file_hash=row.file_hash,
        status=ImportStatus(row.status),
        rows_read=row.rows_read,
        rows_imported=row.rows_imported,
        rows_unchanged=row.rows_unchanged,
        rows_rejected=row.rows_rejected,
        checkpoint_row=row.checkpoint_row,
        errors_file=row.errors_file,
        started_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_run(conn: Connection, run_id: int) -> ImportRun | None:
    row = conn.execute(select(imports).where(imports.c.id == run_id)).first()
    return _run(row) if row else None


def start_run(
    conn: Connection, *, kind: str, file_name: str, file_hash: str, errors_file: str, now: datetime
) -> ImportRun:
    """The run of this file: resumed where it stopped, restarted from row 0 when it completed
    (a re-import), or new. A resumed run keeps its errors file and its start time."""
    row = conn.execute(
        select(imports).where(imports.c.kind == kind, imports.c.file_hash == file_hash)
    ).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    imports.insert().values(
                        kind=kind, file_name=file_name, file_hash=file_hash,
                        status=ImportStatus.RUNNING.value, rows_read=0, rows_imported=0,
                        rows_unchanged=0, rows_rejected=0, checkpoint_row=0,
                        errors_file=errors_file, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        except IntegrityError:
            raise ConflictError(
                f"another import of {file_name} ({kind}) started at the same moment",
                hint="let it finish, then run this one again (it will find nothing to change)",
            ) from None
    else:
        restart: dict[str, Any] = {}
        if row.status == ImportStatus.COMPLETED:
            restart = dict.fromkeys(
                ("rows_read", "rows_imported", "rows_unchanged", "rows_rejected", "checkpoint_row"),
                0,
            )
            restart["errors_file"] = errors_file
        conn.execute(
            imports.update()
            .where(imports.c.id == row.id)
            .values(
                file_name=file_name, status=ImportStatus.RUNNING.value, updated_at=now, **restart
            )
        )
    found = conn.execute(
        select(imports).where(imports.c.kind == kind, imports.c.file_hash == file_hash)
    ).one()
    return _run(found)


def save_progress(
    conn: Connection, run: ImportRun, *, done: Counts, checkpoint_row: int, now: datetime
) -> ImportRun:
    """Add `done` to the run's counts and move its checkpoint, in the caller's transaction."""
    total = Counts(run.rows_read, run.rows_imported, run.rows_unchanged, run.rows_rejected) + done
    result = conn.execute(
        imports.update()
        .where(imports.c.id == run.id, imports.c.checkpoint_row == run.checkpoint_row)
        .values(
            rows_read=total.read, rows_imported=total.imported, rows_unchanged=total.unchanged,
            rows_rejected=total.rejected, checkpoint_row=checkpoint_row, updated_at=now,
        )
    )  # fmt: skip
    if result.rowcount != 1:
        raise ConflictError(
            f"import run {run.id} ({run.file_name}) moved on in another process",
            hint="two imports of the same file ran at once; run it again to finish",
        )
    return replace(
        run,
        rows_read=total.read,
        rows_imported=total.imported,
        rows_unchanged=total.unchanged,
        rows_rejected=total.rejected,
        checkpoint_row=checkpoint_row,
        updated_at=now,
    )


def finish_run(conn: Connection, run: ImportRun, status: ImportStatus, now: datetime) -> ImportRun:
    conn.execute(
        imports.update().where(imports.c.id == run.id).values(status=status.value, updated_at=now)
    )
    found = get_run(conn, run.id)
    assert found is not None
    return found
