"""Tracking processor benchmark: CPU and wall time per event of `Tracker.process_backlog`.

Accepts N bench-like events (the same generator as `bench/ingest.py`) into a fresh workspace
without processing them, then processes the queue alone in this process and prints CPU us per
event (this process only: on PostgreSQL the server's share shows in the wall time) and wall us
per event. `--profile FILE` writes a cProfile of the processing stage; `--handoff` gives the
processor the accepted events parsed in memory (thread mode) instead of their stored payloads.

    .venv/bin/python bench/tracking_processor.py [--events 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workspace import fresh_settings

from ingest import make_batch


def run(
    postgres_url: str | None, events: int, handoff: bool, profile: str | None, chunk: int = 1_000
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
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    done = tracker.process_backlog(chunk)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)  # type: ignore[arg-type]
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    ws.close()
    return {
        "events": done,
        "accept_cpu_us": 1e6 * accept_cpu / events,
        "process_cpu_us": 1e6 * cpu / done,
        "process_wall_us": 1e6 * wall / done,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--postgres", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--handoff", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the processing to this file")
    parser.add_argument("--chunk", type=int, default=1_000, help="events per transaction")
    args = parser.parse_args()
    print(json.dumps(run(args.postgres, args.events, args.handoff, args.profile, args.chunk)))


if __name__ == "__main__":
    main()
