"""Benchmark: the `attribution` report on a large synthetic analytics copy (DuckDB).

    .venv/bin/python bench/attribution_report.py [--people 1000000] [--period 2026-Q3] [--ci]
        [--repeat 5]

Builds (or reuses, by size) a DuckDB copy filled by `bench/attribution_data.py` (1M people,
~340k accounts, ~20M touchpoints over a year, ~2.2M transitions, ~140k deals) and sorts its
touches by person as the first sync does (`analytics.touch_order`), then runs the report
through `services.reports.report_on_engine`, the code path of `smarketing report` after its
sync, on that file, in a fresh process per way of getting the journey rows, side by side: from
the touch order (the product on DuckDB) and sorted by the engine per request (Spark's and
PostgreSQL's path, and DuckDB's before). Each process prepares as `smarketing serve` does at
start (`services.reports.prepare_server`: modules loaded, the copy kept open between reports),
then times its first report (fresh memory included), the median of the next ones (a running
server; each report opens and closes its engine, as a request does), its peak memory, and then
the engine queries (with the transfer of their results) and the models in numpy apart; without
and (with --ci) with bootstrap intervals. Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from attribution_data import DAY, build_copy

from smarketing.analytics import touch_order
from smarketing.analytics.engines.base import Limits, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.period import parse_period
from smarketing.analytics.reports.registry import (
    ReportContext,
    ReportOptions,
    get_report,
)
from smarketing.analytics.tables import unbound
from smarketing.playbook.defaults import default_playbook_text
from smarketing.playbook.loader import load_playbook_text
from smarketing.services.reports import prepare_server, report_limits, report_on_engine
from smarketing.settings import Settings


def copy_path(people: int) -> Path:
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"smarketing-attribution-{people}.duckdb"


def sort_touches(path: Path) -> None:
    """What the first sync adds to the copy: its touches sorted by person."""
    engine = DuckDBEngine(path)
    try:
        started = time.perf_counter()
        rows = touch_order.rebuild(engine.connection(), "person")
        print(f"sorted {rows:,} touches by person in {time.perf_counter() - started:.1f} s")
    finally:
        engine.close()


KEEP_OPEN = Settings.model_fields["analytics_keep_open_seconds"].default
MODES = {"touch-order": True, "engine-sort": False}
"""How the report gets its sorted journey rows: from the copy's touch order (the product on
DuckDB), or sorted by the engine per request (the path of Spark and PostgreSQL; before)."""


def run(path: Path, period: str, ci: float | None, today: date, mode: str, repeat: int) -> None:
    playbook = load_playbook_text(default_playbook_text(today)).playbook
    ctx = ReportContext(
        parse_period(period, today=today),
        playbook,
        unbound(),
        ReportOptions(ci=ci),
        touch_order=MODES[mode],
    )
    report = get_report("attribution")
    prepare_server(KEEP_OPEN)  # as `smarketing serve` does at start
    times = []
    for _ in range(repeat):  # each on its own engine, as each request of the server
        engine = DuckDBEngine(path)
        try:
            started = time.perf_counter()
            credits = report_on_engine(engine, "attribution", ctx)["credits"]
            times.append(time.perf_counter() - started)
        finally:
            engine.close()
    engine = DuckDBEngine(path)
    try:
        # once more, phase by phase
        limits = report_limits(report, Limits())
        t0 = time.perf_counter()
        sections = report.build(ctx)
        t1 = time.perf_counter()
        results = {key: execute(engine, expr, limits=limits) for key, expr in sections.items()}
        t2 = time.perf_counter()
        assert report.finish is not None
        report.finish(ctx, results)
        t3 = time.perf_counter()
    finally:
        engine.close()
    rows = sum(r.num_rows for r in results.values())
    label = f"ci {ci}" if ci is not None else "no ci"
    later = (
        f", then {statistics.median(times[1:]):.2f} s (median of {repeat - 1})"
        if repeat > 1
        else ""
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"{mode}, {label}: first report of the process {times[0]:.2f} s{later} "
        f"({credits.num_rows:,} credit rows, peak {peak:,} MiB); phases: build "
        f"{t1 - t0:.2f} s, engine queries + transfer {t2 - t1:.2f} s ({len(results)} queries, "
        f"{rows:,} rows), paths and models {'+ bootstrap ' if ci else ''}in numpy "
        f"{t3 - t2:.2f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--period", default="2026-Q3")
    parser.add_argument("--ci", action="store_true", help="also time --ci 0.95")
    parser.add_argument("--repeat", type=int, default=5, help="reports per process")
    parser.add_argument("--only", choices=sorted(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    path = copy_path(args.people)
    if args.only:  # a child: one mode in a fresh process
        run(path, args.period, 0.95 if args.ci else None, DAY, args.only, args.repeat)
        return
    if not path.exists():
        started = time.perf_counter()
        build_copy(path, people=args.people)
        print(f"built {path} in {time.perf_counter() - started:.1f} s")
    sort_touches(path)
    for ci in (False, True) if args.ci else (False,):
        for mode in MODES:
            command = [sys.executable, __file__, "--only", mode, "--people", str(args.people)]
            command += ["--period", args.period, "--repeat", str(args.repeat if not ci else 2)]
            subprocess.run(command + (["--ci"] if ci else []), check=True)


if __name__ == "__main__":
    main()
