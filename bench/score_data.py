"""Benchmark data for bench/score.py, built once and reused.

SQLite: `build_demo(settings, people=N, seed=7, today=2026-01-05)` into
/tmp/smk-bench-score/sqlite-N (reused while its fingerprint matches).

PostgreSQL: the demo builder's row-by-row inserts would take hours at 1M people, so the SQLite
demo (built first if needed) is copied with COPY into the PostgreSQL database (fresh schema by
migrations, then the tables scoring reads and the ones they reference; foreign-key triggers off
and touchpoints' secondary indexes rebuilt after the load), then ANALYZEd. A marker
file in /tmp/smk-bench-score/postgres-N and the people count tell whether the copy is there.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from smarketing.demo import build_demo
from smarketing.services.workspace import init_workspace
from smarketing.settings import Settings, load_settings
from smarketing.store import bulk, tables

ROOT = Path("/tmp/smk-bench-score")
COPIED = ("users", "playbook_versions", "campaigns", "content_items", "accounts", "people")
COPIED_LAST = "touchpoints"


def sqlite_settings(people: int, today: date) -> Settings:
    settings = load_settings(workspace=ROOT / f"sqlite-{people}")
    started = time.perf_counter()
    summary = build_demo(settings, people=people, seed=7, progress=True, today=today)
    print(f"{summary.describe()} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return settings


def _holds(url: str, people: int) -> bool:
    """Whether the database still holds this copy (another size may have replaced it)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM people")).scalar() == people
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def postgres_settings(people: int, today: date, url: str) -> Settings:
    source = sqlite_settings(people, today)
    folder = ROOT / f"postgres-{people}"
    settings = load_settings(workspace=folder, database_url=url)
    marker = folder / "bench-copy.json"
    fingerprint = {"url": make_url(url).render_as_string(), "people": people, "day": str(today)}
    if marker.exists() and json.loads(marker.read_text()) == fingerprint and _holds(url, people):
        return settings
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.playbook_path, settings.playbook_path)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    init_workspace(settings, today=today)
    started = time.perf_counter()
    lite = sqlite3.connect(source.workspace / "smarketing.db")
    indexes = list(tables.touchpoints.indexes)
    with engine.begin() as conn:
        conn.execute(text("SET session_replication_role = replica"))  # no FK triggers
        for index in indexes:
            index.drop(conn)
        raw = conn.connection.driver_connection
        assert raw is not None
        for table in (*COPIED, COPIED_LAST):
            columns = [r[1] for r in lite.execute(f"PRAGMA table_info({table})")]
            names = ", ".join(columns)
            with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in lite.execute(f"SELECT {names} FROM {table}"):
                    copy.write_row(row)
            print(f"copied {table} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        for index in indexes:
            index.create(conn)
        bulk.sync_sequences(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    marker.write_text(json.dumps(fingerprint))
    return settings
