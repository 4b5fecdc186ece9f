"""Tracking-ingest benchmark: /v1/batch over loopback from a separate process.

Prints, in one run: events/s sustained for --seconds with 20-event batches, both as accepted
(answered 200: stored and committed) and end to end (processed: identity, touchpoints, scores
and MQLs done; the clock stops when the queue is empty); p50/p99 latency at a fixed 1,000
events/s (open loop: requests leave on schedule whatever the answers do); and, as the physical
limit, raw 20-row INSERT transactions of the same event rows through the database driver into
the same database with the same durability (commit before the answer).

    .venv/bin/python bench/ingest.py [--seconds 60] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _http import Busy, Client
from _workspace import fresh_settings

BATCH = 20
SERIAL = itertools.count()
T = TypeVar("T")
PAGES = [
    "/blog/lead-scoring",
    "/pricing",
    "/whitepapers/alignment-guide",
    "/customers/globex",
    "/blog/mql-vs-sql",
    "/webinars/revops-live",
]
UTMS = [
    {"source": "linkedin", "medium": "paid_social", "name": "abm"},
    {"source": "google", "medium": "cpc", "name": "brand"},
    {"source": "newsletter", "medium": "email", "name": "monthly"},
    {},
]


def make_batch(rng: random.Random, visitors: int) -> dict[str, object]:
    items: list[dict[str, object]] = []
    for _ in range(BATCH):
        n = rng.randrange(visitors)
        anon, user = f"anon-{n}", f"user-{n}"
        roll = rng.random()
        base = {
            "messageId": f"{rng.getrandbits(64):016x}{next(SERIAL):08x}",
            "anonymousId": anon,
            "context": {"campaign": rng.choice(UTMS)},
        }
        if roll < 0.6:
            path = rng.choice(PAGES)
            items.append(
                {
                    **base,
                    "type": "page",
                    "properties": {
                        "url": f"https://acme.example{path}",
                        "path": path,
                        "referrer": "https://www.google.com/",
                    },
                }
            )
        elif roll < 0.9:
            items.append(
                {
                    **base,
                    "type": "track",
                    "userId": user,
                    "event": rng.choice(
                        ["Whitepaper Downloaded", "Email Clicked", "Webinar Attended"]
                    ),
                }
            )
        else:
            items.append(
                {
                    **base,
                    "type": "identify",
                    "userId": user,
                    "traits": {"email": f"p{n}@company{n % 500}.example", "title": "VP"},
                }
            )
    return {"batch": items}


def encode(body: dict[str, object]) -> bytes:
    return orjson.dumps(body)


async def sustained(url: str, key: str, seconds: float, concurrency: int) -> tuple[int, float, int]:
    """(events accepted, seconds, requests refused with 429) of a closed loop of
    `concurrency` senders; a refused batch is sent again after the server's Retry-After, as
    the Segment clients do."""
    rng = random.Random(1)
    sent = refused = 0
    stop = time.perf_counter() + seconds
    client = Client(url, "/v1/batch", key)

    async def worker() -> None:
        nonlocal sent, refused
        body = encode(make_batch(rng, 50_000))
        while time.perf_counter() < stop:
            try:
                await client.post(body)
            except Busy as busy:
                refused += 1
                await asyncio.sleep(min(busy.retry_after, max(0.0, stop - time.perf_counter())))
                continue
            sent += BATCH
            body = encode(make_batch(rng, 50_000))

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()
    return sent, time.perf_counter() - start, refused


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """With uvloop when installed (it is a runtime dependency): a lighter load generator."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def pending_events(database_url: str) -> int:
    from smarketing.store import tracking
    from smarketing.store.database import make_engine

    engine = make_engine(database_url)
    with engine.connect() as conn:
        value = tracking.count_pending(conn)
    engine.dispose()
    return value


def wait_for_queue(database_url: str, timeout_s: float = 600) -> None:
    deadline = time.perf_counter() + timeout_s
    while pending_events(database_url):
        if time.perf_counter() > deadline:
            raise RuntimeError("the server did not process its queue in time")
        time.sleep(0.05)


async def open_loop(url: str, key: str, seconds: float, rate: float) -> list[float]:
    rng = random.Random(2)
    interval = BATCH / rate
    latencies: list[float] = []
    client = Client(url, "/v1/batch", key)

    async def one(body: bytes) -> None:
        t0 = time.perf_counter()
        await client.post(body)
        latencies.append(time.perf_counter() - t0)

    tasks = []
    start = time.perf_counter()
    try:
        for i in range(int(seconds / interval)):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(encode(make_batch(rng, 50_000)))))
        await asyncio.gather(*tasks)
    finally:
        await client.close()
    return latencies


def raw_insert_rate(database_url: str, seconds: float) -> float:
    """20-row INSERT transactions of event rows through the driver (no SQLAlchemy), each
    committed before the next, on a connection with the store's settings."""
    from smarketing.store.database import make_engine

    engine = make_engine(database_url)
    rng = random.Random(3)
    now = datetime.now(UTC).isoformat()
    columns = "source_id, message_id, type, anonymous_id, timestamp, received_at, payload"
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    sql = f"INSERT INTO events ({columns}) VALUES ({', '.join([mark] * 7)})"
    done = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        stop = time.perf_counter() + seconds
        start = time.perf_counter()
        while time.perf_counter() < stop:
            batch = make_batch(rng, 50_000)["batch"]
            rows = [
                (
                    1,
                    item["messageId"],
                    item["type"],
                    item["anonymousId"],
                    now,
                    now,
                    json.dumps(item),
                )
                for item in batch  # type: ignore[union-attr]
            ]
            if engine.dialect.name == "sqlite":
                cursor.execute("BEGIN IMMEDIATE")
            cursor.executemany(sql, rows)
            raw.commit()
            done += BATCH
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
        engine.dispose()
    return done / elapsed


def start_server(workspace: Path, database_url: str | None, port: int) -> subprocess.Popen[bytes]:
    """`smarketing serve` (with its processor process); its log goes to `serve.log` in the
    workspace (a pipe nobody reads would fill up and stall the server's writes to it)."""
    env = {**os.environ, "SMARKETING_WORKSPACE": str(workspace)}
    if database_url:
        env["SMARKETING_DATABASE_URL"] = database_url
    log = workspace / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smarketing", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()}")


def run(
    backend: str, postgres_url: str | None, seconds: float, concurrency: int
) -> dict[str, float]:
    from smarketing.services import admin
    from smarketing.services.workspace import open_workspace

    settings = fresh_settings(postgres_url, name=f"ingest_{backend}")
    ws = open_workspace(settings)
    key = admin.add_source(ws, name="bench").secret
    ws.close()
    port = 18000 + (1 if postgres_url else 0)
    server = start_server(settings.workspace, settings.database_url, port)
    try:
        url = f"http://127.0.0.1:{port}"
        start = time.perf_counter()
        sent, sending, refused = run_async(sustained(url, key, seconds, concurrency))
        wait_for_queue(settings.resolved_database_url)
        processed = time.perf_counter() - start
        latencies = sorted(run_async(open_loop(url, key, min(seconds, 30), 1000.0)))
        wait_for_queue(settings.resolved_database_url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    raw = raw_insert_rate(settings.resolved_database_url, min(seconds, 20))
    return {
        "accepted_per_s": sent / sending,
        "refused_429": refused,
        "events_per_s": sent / processed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "raw_per_s": raw,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--postgres", help="PostgreSQL URL for the second backend")
    args = parser.parse_args()
    results = {"sqlite": run("sqlite", None, args.seconds, args.concurrency)}
    if args.postgres:
        results["postgres"] = run("postgres", args.postgres, args.seconds, args.concurrency)
    print(
        "| backend | events/s accepted | events/s processed (end to end) "
        "| raw 20-row INSERT tx events/s | processed / raw | p50 ms @1k/s | p99 ms @1k/s "
        "| requests refused (429) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {name} | {r['accepted_per_s']:,.0f} | {r['events_per_s']:,.0f} "
            f"| {r['raw_per_s']:,.0f} | {r['events_per_s'] / r['raw_per_s']:.0%} "
            f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['refused_429']:,} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
