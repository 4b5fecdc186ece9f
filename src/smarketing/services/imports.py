"""Import a CRM or CSV export: streamed in chunks, resumable, idempotent.

Invariants:

- Reconciliation: `read = imported + unchanged + rejected` for every run, at every checkpoint.
- Exactly once: each chunk's rows and the run's checkpoint (the last file row done) commit in
  one transaction. A run killed at any point and started again skips the rows its checkpoint
  covers and ends with exactly the rows of an uninterrupted run. Rejected rows are appended to
  the errors CSV (flushed) before their chunk commits; a resumed run cuts that file back to its
  checkpoint first.
- Idempotent: a run is keyed by (importer kind, file SHA-256). Importing a completed file again
  re-reads it from the top and, if nothing else changed in between, finds every row unchanged.
- Never backwards: people only move forward in the funnel (see `ingest.importers.lifecycle`).

Speed (docs/benchmarks.md): files of `CHILD_MIN_BYTES` and more are read and parsed in a
child process (`ingest.importers.pipeline`) while this one merges and writes the chunk before;
one SELECT per key kind and one executemany (PostgreSQL: COPY) per table and chunk; PostgreSQL
planner statistics are refreshed after chunks 1, 2, 4, 8... so the lookups keep their indexes
while a table grows from empty. On PostgreSQL, people are written one chunk behind, on a
second thread and connection, while the next chunk is looked up and merged
(`services.import_overlap`, `store.crm.pending`); chunks still commit one by one, in file
order, each with its checkpoint.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from functools import partial
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection

from smarketing.errors import NotFoundError, UsageError
from smarketing.ingest.importers import csv_spec, hubspot_spec, salesforce_spec
from smarketing.ingest.importers.errors_csv import ErrorsCsv, default_errors_path
from smarketing.ingest.importers.lifecycle import StagePolicy, plan_stage
from smarketing.ingest.importers.pipeline import (
    CHILD_MIN_BYTES,
    ParsedChunk,
    ParseJob,
    parsed_chunks,
)
from smarketing.ingest.importers.reader import CsvSource, inspect_csv, open_rows
from smarketing.ingest.importers.records import (
    AccountRecord,
    CampaignRecord,
    CampaignResponseRecord,
    DealRecord,
    PersonRecord,
    Record,
    SkippedRow,
)
from smarketing.ingest.importers.spec import ImportSpec, RowParser, Target
from smarketing.ingest.importers.values import ParseOptions, Problem
from smarketing.services.import_overlap import OneBehind
from smarketing.services.playbooks import current_version
from smarketing.services.workspace import Workspace
from smarketing.store import audit, crm
from smarketing.store.crm import (
    Counts,
    ImportRun,
    ImportStatus,
    Outcome,
    PendingPeople,
    PeopleRows,
    RowOutcome,
)

__all__ = [
    "ImportOptions",
    "ImportProgress",
    "ImportReport",
    "ImportRun",
    "ImportSource",
    "ImportStatus",
    "get_import",
    "run_import",
]

DEFAULT_CHUNK_ROWS = 5000
MAX_CHUNK_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class ImportSource:
    """Which importer reads the file: `hubspot`/`salesforce` and an object, or `csv` and a
    mapping file."""

    system: Literal["hubspot", "salesforce", "csv"]
    object: str | None = None
    mapping: Path | None = None

    def spec(self) -> ImportSpec:
        if self.system == "csv":
            if self.mapping is None:
                raise UsageError("a CSV import needs a mapping", hint="pass --map MAPPING.yaml")
            return csv_spec(self.mapping)
        if self.object is None:
            raise UsageError(f"say which {self.system} object the file holds")
        return (hubspot_spec if self.system == "hubspot" else salesforce_spec)(self.object)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    encoding: str | None = None
    delimiter: str | None = None
    date_format: str | None = None
    timezone: str | None = None
    errors_path: Path | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    parse_in_child: bool | None = None
    """Parse the file in a child process while writing; None: when it has `CHILD_MIN_BYTES`."""
    overlap_writes: bool = True
    """PostgreSQL, people: write each chunk on a second thread while merging the next."""


class ImportProgress(Protocol):
    """Told how far an import has got (a progress bar, a log)."""

    def start(self, *, total_bytes: int, rows_done: int) -> None: ...
    def advance(self, *, rows_done: int, bytes_read: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ImportReport:
    run: ImportRun
    encoding: str
    delimiter: str
    resumed_after_row: int
    """0 for a fresh run; else the row the previous attempt had committed."""

    @property
    def errors_file(self) -> Path | None:
        """The errors CSV, when the run rejected rows."""
        if self.run.rows_rejected and self.run.errors_file:
            return Path(self.run.errors_file)
        return None


def get_import(ws: Workspace, import_id: int) -> ImportRun:
    """One import run (counts, status, and the errors CSV when it rejected rows);
    `NotFoundError` if there is none."""
    with ws.db.read() as conn:
        run = crm.get_run(conn, import_id)
    if run is None:
        raise NotFoundError(f"no import run with id {import_id}", hint="check the id")
    return run if run.rows_rejected else replace(run, errors_file=None)


def run_import(
    ws: Workspace,
    source: ImportSource,
    path: Path,
    *,
    options: ImportOptions | None = None,
    progress: ImportProgress | None = None,
    after_chunk: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import `path`, resuming an interrupted run of the same file. `after_chunk` is called
    with the checkpoint after each committed chunk (tests use it to simulate a crash)."""
    options = options or ImportOptions()
    if not 1 <= options.chunk_rows <= MAX_CHUNK_ROWS:
        raise UsageError(f"chunk size must be between 1 and {MAX_CHUNK_ROWS} rows")
    spec = source.spec()
    csv_file = inspect_csv(path, encoding=options.encoding, delimiter=options.delimiter)
    parse_options = ParseOptions(date_format=options.date_format, timezone=_zone(options))
    with open_rows(csv_file) as rows:
        parser = spec.bind(rows.header, path.name, parse_options)
    importer = _ChunkImporter(ws, spec, parser, csv_file, options, path)
    resumed_after = importer.run.checkpoint_row
    if progress is not None:
        progress.start(total_bytes=csv_file.size_bytes, rows_done=importer.run.rows_read)
    job = ParseJob(csv_file, parser, resumed_after, options.chunk_rows)
    in_child = options.parse_in_child
    if in_child is None:
        in_child = csv_file.size_bytes >= CHILD_MIN_BYTES

    def committed(bytes_read: int) -> None:
        if progress is not None:
            progress.advance(rows_done=importer.run.rows_read, bytes_read=bytes_read)
        if after_chunk is not None:
            after_chunk(importer.run.checkpoint_row)

    try:
        with _fewer_gc_passes(), parsed_chunks(job, in_child=in_child) as chunks:
            if importer.overlaps:
                _import_overlapped(importer, chunks, committed)
            else:
                for chunk in chunks:
                    importer.import_chunk(chunk)
                    committed(chunk.bytes_read)
    except BaseException:
        importer.close(ImportStatus.FAILED)
        raise
    run = importer.close(ImportStatus.COMPLETED)
    return ImportReport(run, csv_file.encoding, csv_file.delimiter, resumed_after)


def _import_overlapped(
    importer: _ChunkImporter, chunks: Iterable[ParsedChunk], committed: Callable[[int], None]
) -> None:
    """Prepare chunk N+1 while chunk N is written; N+1 is handed over only once N has
    committed and `committed` has been told (so a crash there leaves N+1 unwritten)."""
    with OneBehind(importer.commit) as writer:
        for chunk in chunks:
            prepared = importer.prepare(chunk)
            if (done := writer.wait()) is not None:
                committed(done.bytes_read)
            writer.submit(prepared)
        if (done := writer.wait()) is not None:
            committed(done.bytes_read)


_YOUNG_OBJECTS = 200_000


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while importing, then as before.

    Each row allocates a few dozen small objects and few of them live long, so the default
    (a young-generation pass every 700 allocations) spends about a third of the CPU of an
    import scanning; measured: 60 -> 45 us per HubSpot contact. Memory is still collected.

    The threshold counts container objects allocated and not yet freed since the last pass.
    A chunk of 5,000 contacts holds about 60,000 of them at its peak (records, merged states,
    the rows to write; with writes overlapped, the chunk being written holds its rows too), so
    at 50,000 every chunk paid a pass scanning all of them: measured 13 ms a chunk, 2.6 us a
    contact. At `_YOUNG_OBJECTS` they are freed before a pass comes.
    """
    before = gc.get_threshold()
    gc.set_threshold(_YOUNG_OBJECTS, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _zone(options: ImportOptions) -> tzinfo:
    if options.timezone is None or options.timezone.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(options.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {options.timezone!r}", hint="use an IANA name like Europe/Berlin"
        ) from None


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A chunk merged, with what to write and save in its transaction."""

    last_row: int
    bytes_read: int
    problems: list[Problem]
    done: Counts
    now: datetime
    rows: PeopleRows | None
    """People rows still to write; None when the chunk's rows were written while merging."""


class _ChunkImporter:
    """One run in progress: writes a parsed chunk and saves the checkpoint, all-or-nothing.

    Either `import_chunk` (lookups, merge and writes in one transaction) or, when `overlaps`,
    `prepare` (lookups and merge on a read connection, main thread) then `commit` (writes and
    checkpoint, on the writer thread of `OneBehind`, one chunk behind). `commit` alone changes
    `run`, `errors` and `chunks_done`; `prepare` alone changes `pending`.
    """

    def __init__(
        self,
        ws: Workspace,
        spec: ImportSpec,
        parser: RowParser,
        csv_file: CsvSource,
        options: ImportOptions,
        path: Path,
    ) -> None:
        self.ws, self.spec, self.parser = ws, spec, parser
        playbook = ws.playbook.playbook
        self.playbook_version_id = current_version(ws).id if spec.target is Target.PEOPLE else None
        errors_path = (options.errors_path or default_errors_path(path)).resolve()
        with ws.db.begin() as conn:
            self.run = crm.start_run(
                conn,
                kind=spec.kind,
                file_name=str(path.resolve()),
                file_hash=csv_file.sha256,
                errors_file=str(errors_path),
                now=ws.clock.now(),
            )
        self.errors = ErrorsCsv(Path(self.run.errors_file or errors_path), file_label=path.name)
        self.errors.resume_after(self.run.checkpoint_row)
        policy = StagePolicy(
            enabled=playbook.enabled_stages,
            allow_backward=frozenset(playbook.lifecycle.allow_backward),
            undated_at=self.run.started_at,
        )
        self.plan = partial(plan_stage, policy=policy)
        self.chunks_done = 0
        self.overlaps = (
            options.overlap_writes
            and spec.target is Target.PEOPLE
            and ws.db.engine.dialect.name == "postgresql"
        )
        """Only there: SQLite reserves ids inside the write transaction (`reserve_ids`)."""
        self.pending: PendingPeople | None = None

    def import_chunk(self, chunk: ParsedChunk) -> None:
        records, problems = _split(chunk)
        ctx = self._context()
        with self.ws.db.begin(bulk=True) as conn:
            outcomes = self._write(conn, records, ctx)
            self._save(conn, self._prepared(chunk, records, outcomes, problems, ctx.now, None))
        self._after_commit()

    def prepare(self, chunk: ParsedChunk) -> _Prepared:
        """Look up and merge a chunk of people, to be `commit`ted after the chunk before."""
        records, problems = _split(chunk)
        ctx = self._context()
        people = [r for r in records if isinstance(r, PersonRecord)]
        with self.ws.db.read() as conn:
            written, rows, self.pending = crm.prepare_people(
                conn, people, ctx, self.plan, self.pending
            )
        outcomes = _in_order(records, written)
        return self._prepared(chunk, records, outcomes, problems, ctx.now, rows)

    def commit(self, prepared: _Prepared) -> None:
        with self.ws.db.begin(bulk=True) as conn:
            if prepared.rows is not None:
                prepared.rows.insert(conn)
            self._save(conn, prepared)
        self._after_commit()

    def _context(self) -> crm.WriteContext:
        return crm.WriteContext(
            now=self.ws.clock.now(),
            actor=self.spec.actor,
            reason=self.spec.reason,
            playbook_version_id=self.playbook_version_id,
        )

    def _prepared(
        self,
        chunk: ParsedChunk,
        records: list[Record],
        outcomes: list[RowOutcome],
        problems: list[Problem],
        now: datetime,
        rows: PeopleRows | None,
    ) -> _Prepared:
        """The chunk's counts and its errors (parse problems and rejected records, by row)."""
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome.outcome is Outcome.REJECTED:
                column = self.parser.columns.header_of(outcome.field or "")
                problems.append(Problem(record.row, column, outcome.reason or "", outcome.value))
        problems.sort(key=lambda p: p.row)
        imported = sum(1 for o in outcomes if o.outcome is Outcome.IMPORTED)
        rejected = len({p.row for p in problems})
        done = Counts(chunk.rows, imported, chunk.rows - imported - rejected, rejected)
        return _Prepared(chunk.last_row, chunk.bytes_read, problems, done, now, rows)

    def _save(self, conn: Connection, prepared: _Prepared) -> None:
        """The chunk's errors and checkpoint, in its transaction."""
        self.errors.write(prepared.problems)
        self.run = crm.save_progress(
            conn,
            self.run,
            done=prepared.done,
            checkpoint_row=prepared.last_row,
            now=prepared.now,
        )

    def _after_commit(self) -> None:
        self.chunks_done += 1
        if self.chunks_done & (self.chunks_done - 1) == 0:  # after chunks 1, 2, 4, 8...
            with self.ws.db.begin() as conn:
                crm.refresh_statistics(conn, self.spec.target.value)

    def _write(
        self, conn: Connection, records: list[Record], ctx: crm.WriteContext
    ) -> list[RowOutcome]:
        target = self.spec.target
        if target is Target.PEOPLE:
            people = [r for r in records if isinstance(r, PersonRecord)]
            written = crm.upsert_people(conn, people, ctx, self.plan)
        elif target is Target.ACCOUNTS:
            accounts = [r for r in records if isinstance(r, AccountRecord)]
            written = crm.upsert_accounts(conn, accounts, ctx)
        elif target is Target.DEALS:
            written = crm.upsert_deals(conn, [r for r in records if isinstance(r, DealRecord)], ctx)
        elif target is Target.CAMPAIGNS:
            campaigns = [r for r in records if isinstance(r, CampaignRecord)]
            written = crm.upsert_campaigns(conn, campaigns, ctx)
        else:
            responses = [r for r in records if isinstance(r, CampaignResponseRecord)]
            written = crm.insert_campaign_responses(conn, responses, ctx)
        return _in_order(records, written)

    def close(self, status: ImportStatus) -> ImportRun:
        self.errors.close()
        try:
            with self.ws.db.begin() as conn:
                self.run = crm.finish_run(conn, self.run, status, self.ws.clock.now())
                if status is ImportStatus.COMPLETED:
                    audit.record(
                        conn,
                        at=self.ws.clock.now(),
                        actor=self.spec.actor,
                        action="import.completed",
                        target=f"{self.spec.kind} {self.run.file_name}",
                        detail={"import_id": self.run.id, "summary": self.run.summary},
                    )
        except Exception:
            if status is ImportStatus.COMPLETED:
                raise
        return self.run


def _split(chunk: ParsedChunk) -> tuple[list[Record], list[Problem]]:
    """The chunk's records, and the problems of the rows that did not parse."""
    records: list[Record] = []
    problems: list[Problem] = []
    for parsed in chunk.parsed:
        if isinstance(parsed, list):
            problems.extend(parsed)
        else:
            records.append(parsed)
    return records, problems


_SKIPPED = RowOutcome(Outcome.UNCHANGED)


def _in_order(records: list[Record], written: list[RowOutcome]) -> list[RowOutcome]:
    """One outcome per record: `written` holds those of the records that are not skipped."""
    results = iter(written)
    return [_SKIPPED if isinstance(r, SkippedRow) else next(results) for r in records]
