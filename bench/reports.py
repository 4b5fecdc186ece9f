"""Benchmark: the analytics copy and the reports on the demo company at 1M people.

    .venv/bin/python bench/reports.py [--people 1000000] [--workspace DIR] [--sqlite-timeout 60]

Builds (or reuses: cached by size, seed and day) the demo company, then measures:
- the first sync of the DuckDB copy (a fresh file: every row),
- an incremental sync after 100 new tracked events,
- each report on DuckDB after the sync (the `--period` quarter), and the same expressions
  compiled to SQLite and run on the store directly, where SQLite can run them at all (no
  percentile functions there) and within `--sqlite-timeout` seconds.

Prints a Markdown table to paste into docs/benchmarks.md. Not a test.
"""

from __future__ import annotations

import argparse
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from smarketing.analytics.engines.base import Limits, execute, to_sql
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.period import parse_period
from smarketing.analytics.reports.registry import ReportContext, get_report, report_names
from smarketing.analytics.sync import sync_copy
from smarketing.analytics.tables import unbound
from smarketing.demo import build_demo
from smarketing.domain.clock import FrozenClock
from smarketing.services.tracking import Tracker
from smarketing.services.workspace import Workspace, open_workspace
from smarketing.settings import load_settings

DEMO_DAY = date(2026, 11, 20)
SEED = 7
LIMITS = Limits(timeout_seconds=600, max_rows=1_000_000)
MINE = {
    "funnel",
    "velocity",
    "sources",
    "rejections",
    "sla",
    "goals",
    "content",
    "retention",
    "impact",
}  # attribution has its own benchmark (bench/attribution.py)


def track_events(ws: Workspace, write_key: str, n: int) -> None:
    tracker = Tracker(ws)
    source = tracker.source_for(write_key)
    now = ws.clock.now()
    run = f"{time.time_ns():x}"
    items = [
        {
            "type": "page",
            "messageId": f"bench-{run}-{i}",
            "anonymousId": f"anon-{1 + i * 7919 % 500_000:08d}",
            "timestamp": (now - timedelta(seconds=n - i)).isoformat(),
            "context": {"page": {"url": "https://www.smarketing-demo.example/pricing"}},
        }
        for i in range(n)
    ]
    tracker.ingest(source, items, received_at=now)


def run_on_sqlite(path: Path, sqls: list[str], timeout: float) -> float | str:
    """Seconds to run the statements on the SQLite store, or why it could not."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    deadline = time.monotonic() + timeout
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 100_000)
    started = time.perf_counter()
    try:
        for sql in sqls:
            con.execute(sql).fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            return f"> {timeout:g} s"
        return "n/a: " + str(exc).splitlines()[0][:40]
    finally:
        con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/smarketing-bench-reports"))
    parser.add_argument("--period", default="2026-Q4")
    parser.add_argument("--sqlite-timeout", type=float, default=30.0)
    args = parser.parse_args()

    settings = load_settings(workspace=args.workspace)
    started = time.perf_counter()
    summary = build_demo(settings, people=args.people, seed=SEED, progress=True, today=DEMO_DAY)
    print(f"{summary.describe()} ({time.perf_counter() - started:.0f} s)")

    clock = FrozenClock(datetime.now(UTC))
    ws = open_workspace(settings, clock=clock)
    copy = args.workspace / "bench-analytics.duckdb"
    copy.unlink(missing_ok=True)
    engine = DuckDBEngine(copy)
    rows: list[tuple[str, str, str]] = []
    try:
        per = ws.playbook.playbook.attribution.per  # the sync keeps touches sorted for it
        first = sync_copy(ws.db, engine.connection(), now=clock.now(), touch_order_per=per)
        print(first.describe())
        rows.append(("first sync (full copy)", f"{first.seconds:.1f} s", f"{first.total_rows:,}"))
        clock.advance(minutes=10)
        track_events(ws, summary.write_key, 100)
        clock.advance(minutes=1)
        incremental = sync_copy(ws.db, engine.connection(), now=clock.now(), touch_order_per=per)
        print(incremental.describe())
        rows.append(
            (
                "incremental sync after 100 events",
                f"{incremental.seconds:.2f} s",
                f"{incremental.total_rows:,}",
            )
        )
        period = parse_period(args.period, today=DEMO_DAY + timedelta(days=1))
        ctx = ReportContext(period, ws.playbook.playbook, unbound(), touch_order=True)
        store = Path(str(ws.db.engine.url.database))
        for name in [n for n in report_names() if n in MINE]:
            report = get_report(name)
            sections = report.build(ctx)
            t0 = time.perf_counter()
            results = {k: execute(engine, e, limits=LIMITS) for k, e in sections.items()}
            if report.finish:
                report.finish(ctx, results)
            duck = time.perf_counter() - t0
            try:
                sqls = [to_sql(e, "sqlite") for e in sections.values()]
            except Exception as exc:  # Ibis cannot express it for SQLite
                lite: float | str = "n/a: " + type(exc).__name__
            else:
                lite = run_on_sqlite(store, sqls, args.sqlite_timeout)
            lite_text = f"{lite:.1f} s" if isinstance(lite, float) else lite
            print(f"{name:12} duckdb {duck:6.2f} s   sqlite {lite_text}")
            rows.append((f"report `{name}`", f"{duck:.2f} s", lite_text))
    finally:
        engine.close()
        ws.close()
    print()
    print("| step | DuckDB | rows copied / SQLite directly |")
    print("|---|---|---|")
    for step, a, b in rows:
        print(f"| {step} | {a} | {b} |")


if __name__ == "__main__":
    main()
