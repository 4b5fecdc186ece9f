"""Scoring benchmark: rescore everyone after a playbook change, against one SQL statement.

    .venv/bin/python bench/score.py                       # 1,000,000 people, SQLite
    .venv/bin/python bench/score.py --people 50000        # smaller, while developing
    .venv/bin/python bench/score.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/bench

Builds the demo company (`smarketing.demo.build_demo`, seed 7, ~20 touchpoints per person)
into a workspace under /tmp/smk-bench-score, reused by later runs (building 1M people takes
about half an hour on SQLite; PostgreSQL gets a COPY of it: bench/score_data.py). Then, in
the same database and run, times
- ours: `smarketing score --all` (`services.scoring.rescore_all`: stream people in chunks,
  numpy per chunk, upsert every score with its contributions), and
- SQL: `bench/score_sql.py`, one hand-written statement for the default playbook, materialised
  into a temporary table (CREATE TEMP TABLE ... AS),
prints both times and the ratio, and checks the scores agree for every person (max |diff|).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from score_data import postgres_settings, sqlite_settings
from score_sql import postgres_sql, sqlite_sql

from smarketing.domain.clock import FrozenClock
from smarketing.playbook.defaults import default_playbook_text
from smarketing.playbook.loader import load_playbook_text
from smarketing.services.scoring import rescore_all
from smarketing.services.workspace import Workspace, open_workspace
from smarketing.store.tables import touchpoints

TODAY = date(2026, 1, 5)
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def workspace(people: int, postgres: str | None) -> Workspace:
    if postgres:
        settings = postgres_settings(people, TODAY, postgres)
    else:
        settings = sqlite_settings(people, TODAY)
    ws = open_workspace(settings, clock=FrozenClock(NOW))
    default = load_playbook_text(default_playbook_text(TODAY)).content_hash
    if ws.playbook.content_hash != default:
        raise SystemExit(f"{settings.playbook_path} is not the default playbook the SQL encodes")
    return ws


def run_ours(ws: Workspace, chunk: int, profile: bool) -> float:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    rescore_all(ws, chunk_people=chunk)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    return time.perf_counter() - started


TUNING = {
    "postgresql": ["SET work_mem = '512MB'"],
    "sqlite": ["PRAGMA temp_store = MEMORY", "PRAGMA cache_size = -1000000"],
}


def run_sql_and_compare(ws: Workspace, *, tuned: bool) -> tuple[float, dict[str, float]]:
    """Time the SQL into a temp table, then compare it with the stored scores (same connection:
    the temp table is only visible there). `tuned`: give the SQL more memory for its sorts."""
    today = (NOW.date() - date(1970, 1, 1)).days
    with ws.db.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        for statement in TUNING[conn.dialect.name] if tuned else ():
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_sql_scores")
        sql = postgres_sql() if postgres else sqlite_sql()
        now = touchpoints.c.occurred_at.type.process_bind_param(NOW, conn.dialect)
        if not postgres:
            now = now.isoformat(sep=" ", timespec="microseconds")
        started = time.perf_counter()
        if postgres:
            conn.exec_driver_sql(
                f"CREATE TEMP TABLE bench_sql_scores AS {sql}", {"now": now, "today": today}
            )
        else:
            conn.execute(
                text(f"CREATE TEMP TABLE bench_sql_scores AS {sql}"), {"now": now, "today": today}
            )
        seconds = time.perf_counter() - started
        row = conn.execute(
            text(
                "SELECT COUNT(*), COUNT(s.person_id), MAX(ABS(s.total - b.total)), "
                "MAX(ABS(s.fit - b.fit)), MAX(ABS(s.engagement - b.engagement)), "
                "(SELECT COUNT(*) FROM scores), SUM(b.total) "
                "FROM bench_sql_scores b LEFT JOIN scores s ON s.person_id = b.person_id"
            )
        ).one()
        conn.rollback()
    people, matched, total, fit, engagement, stored, sum_total = row
    return seconds, {
        "people": people,
        "scored by both": matched,
        "stored scores": stored,
        "max |total diff|": total,
        "max |fit diff|": fit,
        "max |engagement diff|": engagement,
        "mean total": sum_total / max(people, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL database to use")
    parser.add_argument("--chunk-size", type=int, default=20_000, help="people per chunk")
    parser.add_argument("--profile", action="store_true", help="cProfile ours (slower)")
    parser.add_argument("--skip-sql", action="store_true")
    parser.add_argument(
        "--skip-ours", action="store_true", help="time only the SQL (against stored scores)"
    )
    parser.add_argument(
        "--tuned-sql",
        action="store_true",
        help="more sort memory for the SQL: PostgreSQL work_mem 512MB; SQLite temp_store "
        "MEMORY and a 1 GB page cache",
    )
    args = parser.parse_args()
    ws = workspace(args.people, args.postgres)
    try:
        ours = None if args.skip_ours else run_ours(ws, args.chunk_size, args.profile)
        if ours is not None:
            print(f"ours (score --all): {ours:8.1f} s")
        if args.skip_sql:
            return
        sql, check = run_sql_and_compare(ws, tuned=args.tuned_sql)
        print(f"one SQL statement:  {sql:8.1f} s" + (" (tuned)" if args.tuned_sql else ""))
        if ours is not None:
            print(f"ratio ours / SQL:   {ours / sql:8.2f}")
        for key, value in check.items():
            print(f"{key + ':':22s}{value}")
        ok = check["people"] == check["scored by both"] and check["max |total diff|"] <= 1e-6
        print("scores agree" if ok else "SCORES DIFFER")
        if not ok:
            raise SystemExit(1)
    finally:
        ws.close()


if __name__ == "__main__":
    main()
