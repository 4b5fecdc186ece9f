"""Tracking-ingest benchmark: /v1/batch over loopback from a separate process.

Prints, in one run: events/s sustained for --seconds with 20-event batches; p50/p99 latency
at a fixed 1,000 events/s (open loop: requests leave on schedule whatever the answers do);
and, as the physical limit, raw 20-row INSERT transactions of the same event rows into the same
database with the same durability (commit before the answer).

    .venv/bin/python bench/ingest.py [--seconds 60] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workspace import fresh_settings

BATCH = 20
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
            "messageId": uuid.uuid4().hex,
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


async def sustained(url: str, key: str, seconds: float, concurrency: int) -> float:
    rng = random.Random(1)
    sent = 0
    stop = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=url, auth=(key, ""), timeout=60, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker() -> None:
            nonlocal sent
            while time.perf_counter() < stop:
                r = await client.post("/v1/batch", json=make_batch(rng, 50_000))
                r.raise_for_status()
                sent += BATCH

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return sent / (time.perf_counter() - start)


async def open_loop(url: str, key: str, seconds: float, rate: float) -> list[float]:
    rng = random.Random(2)
    interval = BATCH / rate
    latencies: list[float] = []
    async with httpx.AsyncClient(
        base_url=url, auth=(key, ""), timeout=60, limits=httpx.Limits(max_connections=200)
    ) as client:

        async def one(body: dict[str, object]) -> None:
            t0 = time.perf_counter()
            r = await client.post("/v1/batch", json=body)
            r.raise_for_status()
            latencies.append(time.perf_counter() - t0)

        tasks = []
        start = time.perf_counter()
        for i in range(int(seconds / interval)):
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(make_batch(rng, 50_000))))
        await asyncio.gather(*tasks)
    return latencies


def raw_insert_rate(database_url: str, seconds: float) -> float:
    """20-row INSERT transactions of event rows, committed one by one, same settings."""
    from smarketing.store.database import make_engine
    from smarketing.store.tables import events

    engine = make_engine(database_url)
    rng = random.Random(3)
    now = datetime.now(UTC)
    done = 0
    stop = time.perf_counter() + seconds
    start = time.perf_counter()
    with engine.connect() as conn:
        while time.perf_counter() < stop:
            rows = [
                {
                    "source_id": 1,
                    "message_id": uuid.uuid4().hex,
                    "type": "page",
                    "event": None,
                    "user_id": None,
                    "anonymous_id": f"anon-{rng.randrange(50_000)}",
                    "timestamp": now,
                    "original_timestamp": None,
                    "sent_at": None,
                    "received_at": now,
                    "payload": item,
                }
                for item in make_batch(rng, 50_000)["batch"]
            ]  # type: ignore[union-attr]
            with conn.begin():
                conn.execute(events.insert(), rows)
            done += BATCH
    engine.dispose()
    return done / (time.perf_counter() - start)


def start_server(workspace: Path, database_url: str | None, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SMARKETING_WORKSPACE": str(workspace)}
    if database_url:
        env["SMARKETING_DATABASE_URL"] = database_url
    proc = subprocess.Popen(
        [sys.executable, "-m", "smarketing", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(
        "server did not start: " + (proc.stderr.read() if proc.stderr else b"").decode()
    )


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
        rate = asyncio.run(sustained(url, key, seconds, concurrency))
        latencies = sorted(asyncio.run(open_loop(url, key, min(seconds, 30), 1000.0)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    raw = raw_insert_rate(settings.resolved_database_url, min(seconds, 20))
    return {
        "events_per_s": rate,
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
        "| backend | events/s sustained | raw 20-row INSERT tx events/s | ours / raw "
        "| p50 ms @1k/s | p99 ms @1k/s |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['events_per_s']:,.0f} | {r['raw_per_s']:,.0f} | "
            f"{r['events_per_s'] / r['raw_per_s']:.0%} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
