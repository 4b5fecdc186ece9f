"""Keep the DuckDB copy (`analytics.duckdb`) current with the store, incrementally.

A report first syncs, then reads the copy. Each table of `analytics.tables` says how it is
kept (`Sync`); the state of the copy lives in `_smarketing_sync`, one row per table:

- APPEND (touchpoints, transitions, playbook versions): rows with `id > max id copied`.
  Ids are never reused by the store (SQLite AUTOINCREMENT semantics are not needed: rows are
  never deleted, see below).
- MUTABLE (people, accounts, deals, hand-offs, campaigns, content, users): rows with
  `updated_at >= max(watermark, last sync time) - overlap`, upserted by id. The store reads
  its clock *before* it commits, so a row can become visible with an `updated_at` a little
  older than rows seen earlier: the overlap window (5 minutes by default) re-reads that span.
  Writers' clocks must agree with the syncing process's clock within the window.
- OPEN_ROWS (SLA clocks, which have no `updated_at`): new ids, plus the clocks that were
  still running in the copy (a clock changes only while it runs).
- FULL (sign-offs): a few rows, copied whole.

Rows that follow a person (touchpoints, transitions, hand-offs, deals) are also moved by
merges, anonymous-history attachment and account links, which touch the person but not those
rows' timestamps. So every person changed since the last sync (and the survivor of a merge,
and whoever gained an identity) has those rows re-read whole. After 100 new events a sync
copies about 100 touchpoints plus the rows of the few people they changed.

People erased from the store (rows deleted) are detected by count and trigger a full rebuild;
so does a new table layout. `full=True` rebuilds on demand. One sync is one snapshot of the
store (one read transaction) and one DuckDB transaction: a report never sees half a sync.

Readers (`analytics.sync_sources`): SQLite through the standard `sqlite3` module in batches of
Arrow (not ADBC in this process: see `_SqliteSource`), except full copies of big tables, which a
child process reads with ADBC when `adbc-driver-sqlite` is installed (`_AdbcChild`); PostgreSQL
through psycopg's `COPY ... TO STDOUT (FORMAT csv)`, read by DuckDB with declared types. Every
column travels as an integer or as text and is cast once, in DuckDB, to the type in
`analytics.tables` (money DECIMAL(18, 2), timestamps naive UTC): no type is guessed.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pyarrow as pa

from smarketing.analytics import touch_order
from smarketing.analytics.attribution.journeys import Per
from smarketing.analytics.sync_sources import (
    DUCK_TYPES,
    FULL_COPY,
    WIRES,
    Source,
    naive_utc,
    open_source,
    quote,
)
from smarketing.analytics.tables import SPECS, Sync, TableSpec
from smarketing.store.database import Database

OVERLAP = timedelta(minutes=5)
STATE = "_smarketing_sync"
IDENTITIES = "_identities"
META = "_layout"
CHUNK_IDS = 10_000
LAYOUT = hashlib.sha256(
    json.dumps([(s.name, s.columns, s.sync.value) for s in SPECS]).encode()
).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TableSync:
    table: str
    rows: int
    full: bool


@dataclass(frozen=True, slots=True)
class SyncResult:
    tables: tuple[TableSync, ...]
    seconds: float
    full: bool
    reason: str | None = None

    def rows(self, table: str) -> int:
        return next((t.rows for t in self.tables if t.table == table), 0)

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def describe(self) -> str:
        kind = "full copy" if self.full else "incremental sync"
        why = f" ({self.reason})" if self.reason else ""
        return f"{kind}{why}: {self.total_rows:,} rows in {self.seconds:.2f} s"


def _ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE} (name VARCHAR PRIMARY KEY, max_id BIGINT, "
        "watermark TIMESTAMP, synced_at TIMESTAMP, layout VARCHAR)"
    )


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, datetime | None, datetime]]:
    rows = con.execute(f"SELECT name, max_id, watermark, synced_at FROM {STATE}").fetchall()
    return {r[0]: (int(r[1] or 0), r[2], r[3]) for r in rows}


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    for spec in SPECS:
        columns = ", ".join(f"{quote(c)} {DUCK_TYPES[k]}" for c, k in spec.columns.items())
        con.execute(f"DROP TABLE IF EXISTS {quote(spec.name)}")
        con.execute(f"CREATE TABLE {quote(spec.name)} ({columns})")
    con.execute(f"DELETE FROM {STATE}")
    con.execute(f"INSERT INTO {STATE} (name, layout) VALUES (?, ?)", [META, LAYOUT])


def _id_chunks(ids: Sequence[int]) -> Iterator[str]:
    for i in range(0, len(ids), CHUNK_IDS):
        yield ", ".join(str(int(x)) for x in ids[i : i + CHUNK_IDS])


def _column_ids(con: duckdb.DuckDBPyConnection, sql: str) -> list[int]:
    return sorted({int(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None})


class _Run:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: Source, now: datetime, overlap: timedelta
    ) -> None:
        self.con, self.source, self.now, self.overlap = con, source, naive_utc(now), overlap
        self.state = _state(con)
        self.counts: list[TableSync] = []
        self.changed_people: list[int] = []
        self.identities_max = 0

    def _stage_parts(self, spec: TableSpec, parts: list[str]) -> int:
        self.con.execute("DROP TABLE IF EXISTS _stage")
        for where in parts:
            self.source.stage(self.con, "_stage", spec, where)
        if len(parts) > 1:  # a row may match two parts: keep one copy
            self.con.execute("CREATE OR REPLACE TEMP TABLE _stage AS SELECT DISTINCT * FROM _stage")
        row = self.con.execute("SELECT count(*) FROM _stage").fetchone()
        return int(row[0]) if row else 0

    def copy_full(self, spec: TableSpec) -> int:
        self.con.execute(f"DELETE FROM {quote(spec.name)}")
        self.source.stage(self.con, "_full", spec, FULL_COPY)
        self.con.execute(f"INSERT INTO {quote(spec.name)} SELECT * FROM _full")
        row = self.con.execute("SELECT count(*) FROM _full").fetchone()
        self.con.execute("DROP TABLE _full")
        return int(row[0]) if row else 0

    def parts(self, spec: TableSpec) -> list[str]:
        max_id, watermark, synced_at = self.state[spec.name]
        if spec.sync is Sync.MUTABLE:
            lower = max(watermark or synced_at, synced_at) - self.overlap
            parts = [f"updated_at >= {self.source.timestamp_literal(lower)}"]
        else:
            parts = [f"id > {max_id}"]
        if spec.sync is Sync.OPEN_ROWS:
            running = _column_ids(
                self.con, f"SELECT id FROM {quote(spec.name)} WHERE stopped_at IS NULL"
            )
            parts += [f"id IN ({chunk})" for chunk in _id_chunks(running)]
        if spec.person_owned:
            parts += [f"person_id IN ({chunk})" for chunk in _id_chunks(self.changed_people)]
        return parts

    def copy_incremental(self, spec: TableSpec) -> int:
        rows = self._stage_parts(spec, self.parts(spec))
        table = quote(spec.name)
        touches = spec.name == "touchpoints"  # the touch order re-sorts copied or moved rows
        if touches:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {touch_order.CHANGES} AS SELECT id FROM _stage"
            )
        self.con.execute(f"DELETE FROM {table} WHERE id IN (SELECT id FROM _stage)")
        if spec.person_owned and self.changed_people:
            # rows moved away from a changed person (a merge) leave with the old copy
            people = f"_people_{next(WIRES)}"
            self.con.register(people, pa.table({"id": pa.array(self.changed_people)}))
            moved = f"person_id IN (SELECT id FROM {people})"
            if touches:
                self.con.execute(
                    f"INSERT INTO {touch_order.CHANGES} SELECT id FROM {table} WHERE {moved}"
                )
            self.con.execute(f"DELETE FROM {table} WHERE {moved}")
            self.con.unregister(people)
        self.con.execute(f"INSERT INTO {table} SELECT * FROM _stage")
        if spec.name == "people":
            self.changed_people = _column_ids(
                self.con,
                "SELECT id FROM _stage UNION SELECT merged_into_id FROM _stage",
            )
        return rows

    def identities_changed(self) -> None:
        """People who gained an identity since the last sync had anonymous history attached."""
        max_id = self.state.get(IDENTITIES, (0, None, self.now))[0]
        rows = self.source.count(f"SELECT max(id) FROM identities WHERE id > {max_id}")
        if rows:
            spec = TableSpec("identities", {"id": "int64", "person_id": "int64"}, Sync.APPEND)
            self._stage_parts(spec, [f"id > {max_id}"])
            new = _column_ids(self.con, "SELECT person_id FROM _stage")
            self.changed_people = sorted(set(self.changed_people) | set(new))
        self.identities_max = max(rows, max_id)

    def keep_touch_order(self, per: Per | None, full: bool) -> None:
        """Keep `_touch_order` sorted for `per` (see `analytics.touch_order`); none without."""
        state = self.state.get(touch_order.ORDER)
        if per is None:
            for table in (touch_order.ORDER, touch_order.TOKENS, touch_order.CHANGES):
                self.con.execute(f"DROP TABLE IF EXISTS {table}")
            self.con.execute(f"DELETE FROM {STATE} WHERE name = ?", [touch_order.ORDER])
            return
        layout = self.con.execute(
            f"SELECT layout FROM {STATE} WHERE name = ?", [touch_order.ORDER]
        ).fetchone()
        if full or state is None or not layout or layout[0] != per:
            touch_order.rebuild(self.con, per)
            appended = 0
        else:
            appended = touch_order.refresh(self.con, per, state[0])
            self.con.execute(f"DROP TABLE {touch_order.CHANGES}")
        self.con.execute(
            f"INSERT OR REPLACE INTO {STATE} (name, max_id, synced_at, layout) VALUES (?, ?, ?, ?)",
            [touch_order.ORDER, appended, self.now, per],
        )

    def save_state(self) -> None:
        for spec in SPECS:
            table = quote(spec.name)
            row = self.con.execute(f"SELECT max(id) FROM {table}").fetchone()
            max_id = int(row[0]) if row and row[0] is not None else 0
            watermark = None
            if spec.sync is Sync.MUTABLE:
                found = self.con.execute(f"SELECT max(updated_at) FROM {table}").fetchone()
                watermark = found[0] if found else None
            self.con.execute(
                f"INSERT OR REPLACE INTO {STATE} (name, max_id, watermark, synced_at) "
                "VALUES (?, ?, ?, ?)",
                [spec.name, max_id, watermark, self.now],
            )
        self.con.execute(
            f"INSERT OR REPLACE INTO {STATE} (name, max_id, synced_at) VALUES (?, ?, ?)",
            [IDENTITIES, self.identities_max, self.now],
        )


def _needs_rebuild(con: duckdb.DuckDBPyConnection, source: Source) -> str | None:
    layout = con.execute(f"SELECT layout FROM {STATE} WHERE name = ?", [META]).fetchone()
    if not layout or layout[0] != LAYOUT:
        return "first copy" if not layout else "the table layout changed"
    state = _state(con)
    if "people" not in state:
        return "first copy"
    max_id = state["people"][0]
    copied = con.execute(f"SELECT count(*) FROM people WHERE id <= {max_id}").fetchone()
    stored = source.count(f"SELECT count(*) FROM people WHERE id <= {max_id}")
    if copied and stored < copied[0]:
        return "people were erased in the store"
    return None


def sync_copy(
    db: Database,
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    full: bool = False,
    overlap: timedelta = OVERLAP,
    touch_order_per: Per | None = None,
) -> SyncResult:
    """Bring the copy on `con` up to date with the store of `db` (see the module docstring).

    `now` is the syncing process's clock (the workspace clock), read before the snapshot.
    `touch_order_per`: the playbook's journey key, for which the copy keeps its touches sorted
    (`analytics.touch_order`); without it that table is dropped.
    """
    started = time.perf_counter()
    source = open_source(db)
    try:
        _ensure_state(con)
        reason = "asked for a full copy" if full else _needs_rebuild(con, source)
        con.execute("BEGIN TRANSACTION")
        try:
            if reason is not None:
                _create_tables(con)
            run = _Run(con, source, now, overlap)
            for spec in SPECS:
                if reason is not None or spec.sync is Sync.FULL or spec.name not in run.state:
                    rows = run.copy_full(spec)
                    run.counts.append(TableSync(spec.name, rows, True))
                else:
                    rows = run.copy_incremental(spec)
                    run.counts.append(TableSync(spec.name, rows, False))
                if spec.name == "people":
                    if reason is None:
                        run.identities_changed()
                    else:
                        run.identities_max = source.count("SELECT max(id) FROM identities")
            touches_copied_whole = reason is not None or "touchpoints" not in run.state
            run.keep_touch_order(touch_order_per, full=touches_copied_whole)
            run.save_state()
            con.execute("DROP TABLE IF EXISTS _stage")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        source.close()
    return SyncResult(
        tables=tuple(run.counts),
        seconds=time.perf_counter() - started,
        full=reason is not None,
        reason=reason,
    )
