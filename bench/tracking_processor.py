"""Tracking processor benchmark: CPU and wall time per event of `Tracker.process_backlog`.

Accepts N bench-like events (the same generator as `bench/ingest.py`) into a fresh workspace
without processing them, then processes the queue alone in this process and prints CPU us per
event (this process only: on PostgreSQL the server's share shows in the wall time) and wall us
per event. `--profile FILE` writes a cProfile of the processing stage; `--handoff` gives the
processor the accepted events parsed in memory (thread mode) instead of their stored payloads;
`--statements` adds the wall time of the processing's statements by kind (round trip and
server included: where the time the CPU figure leaves out goes; pg_stat_statements needs a
server restart to load).

    .venv/bin/python bench/tracking_processor.py [--events 20000] [--postgres URL] [--statements]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workspace import fresh_settings

from ingest import make_batch


@contextmanager
def statement_times(engine: object, into: dict[str, list[float]]) -> Iterator[None]:
    """Collect [count, seconds] per statement kind (its first words) run on `engine`."""
    from sqlalchemy import event

    def before(conn, cursor, statement, params, context, many) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, params, context, many) -> None:
        kind = " ".join(statement.split()[:6])[:70]
        entry = into[kind]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_t0")

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def run(
    postgres_url: str | None,
    events: int,
    handoff: bool,
    profile: str | None,
    chunk: int = 1_000,
    statements: bool = False,
) -> dict:
    from smarketing.services import admin
    from smarketing.services.tracking import Tracker
    from smarketing.services.workspace import open_workspace

    settings = fresh_settings(postgres_url, name="tracking_processor")
    ws = open_workspace(settings)
    source = admin.add_source(ws, name="bench").secret
    tracker = Tracker(ws, inline=False, hand_off=handoff)
    rng = random.Random(1)
    received = datetime(2026, 11, 1, tzinfo=UTC)
    accept_cpu = time.process_time()
    for n in range(events // 20):
        items = make_batch(rng, 50_000)["batch"]
        at = received + timedelta(milliseconds=50 * n)
        tracker.ingest(tracker.source_for(source), items, received_at=at)  # type: ignore[arg-type]
    accept_cpu = time.process_time() - accept_cpu
    _ = ws.playbook  # loaded once, before the clock starts
    profiler = cProfile.Profile() if profile else None
    times: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    with statement_times(ws.db.engine, times) if statements else nullcontext():
        done = tracker.process_backlog(chunk)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)  # type: ignore[arg-type]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    ws.close()
    result: dict = {
        "events": done,
        "accept_cpu_us": 1e6 * accept_cpu / events,
        "process_cpu_us": 1e6 * cpu / done,
        "process_wall_us": 1e6 * wall / done,
    }
    if statements:  # wall us per processed event, by statement kind, largest first
        ranked = sorted(times.items(), key=lambda kv: -kv[1][1])
        result["statements_us"] = {k: (int(n), 1e6 * t / done) for k, (n, t) in ranked}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--postgres", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--handoff", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the processing to this file")
    parser.add_argument("--chunk", type=int, default=1_000, help="events per transaction")
    parser.add_argument("--statements", action="store_true", help="time statements by kind")
    args = parser.parse_args()
    result = run(
        args.postgres, args.events, args.handoff, args.profile, args.chunk, args.statements
    )
    by_kind = result.pop("statements_us", {})
    print(json.dumps(result))
    for kind, (count, us) in by_kind.items():
        print(f"{us:8.1f} us/event {count:6d}x  {kind}")


if __name__ == "__main__":
    main()
