"""Benchmark: import a deterministic HubSpot contacts export (UI labels), next to the raw rate.

    .venv/bin/python bench/import.py [--rows 1000000] [--postgres URL] [--chunk-size 5000]

Generates the export once (streamed to a temporary folder), then, per database, runs in a
fresh child process each:

- `import`: `smarketing.services.imports.run_import` into a fresh workspace, exactly as
  `smarketing import hubspot contacts FILE` does (the first run, every row new);
- `reimport`: the same file again (every row unchanged), in the same workspace;
- `raw`: the physical limit: the same people, identities and transitions rows the import
  writes, inserted with one executemany per table per chunk (PostgreSQL: one COPY), into
  another fresh workspace; only the insert transactions are timed (rows are read, built and
  given ids off the clock).

Prints, side by side, rows/s by the wall clock and by CPU time (the machine may be shared;
CPU time is the phase process's plus its parse process's, if it started one, and on
PostgreSQL the client's only), and peak memory: the phase process's own (ru_maxrss) and, from
samples of /proc every 50 ms, the largest sum of the resident memory of the phase process and
its parse process (ru_maxrss of a child is no use: it counts the parent's pages at fork).
Then the CPU seconds of the phase process alone (`import`, `reimport`) and, for a PostgreSQL
server on this machine, of its backends serving the phase (read from /proc).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

STAGES = [
    ("Subscriber", 0.20),
    ("Lead", 0.45),
    ("Marketing Qualified Lead", 0.15),
    ("Sales Qualified Lead", 0.08),
    ("Opportunity", 0.06),
    ("Customer", 0.06),
]
FUNNEL = ["Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity", "Customer"]
OUR_STAGE = {
    "Subscriber": "subscriber",
    "Lead": "lead",
    "Marketing Qualified Lead": "mql",
    "Sales Qualified Lead": "sql",
    "Opportunity": "opportunity",
    "Customer": "customer",
}
SOURCES = [
    ("Organic Search", "Organic Search", "ORGANIC_SEARCH"),
    ("Paid Search", "Paid Search", "PAID_SEARCH"),
    ("Email Marketing", "Email", "EMAIL_MARKETING"),
    ("Organic Social", "Organic Social", "SOCIAL_MEDIA"),
    ("Referrals", "Referral", "REFERRALS"),
    ("Direct Traffic", "Direct", "DIRECT_TRAFFIC"),
    ("Offline Sources", "Offline Sources", "OFFLINE"),
]
STATUSES = ["New", "Open", "In Progress", "Attempted to Contact", "Connected", ""]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Frances"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Allen"]
FREEMAIL = ["gmail.com", "yahoo.com", "outlook.com", "gmx.de"]
HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title",
    "Company Name", "Lifecycle Stage", "Lead Status", "Original Source",
    "Original Source Drill-Down 1", "Original Source Drill-Down 2", "Create Date",
    *(f"Date entered '{s} (Lifecycle Stage Pipeline)'" for s in FUNNEL),
    "Associated Company ID",
]  # fmt: skip
START = datetime(2023, 1, 1, tzinfo=UTC)


def generate(path: Path, rows: int, seed: int = 42) -> None:
    """A HubSpot UI export of `rows` contacts; the same file for the same arguments."""
    rng = random.Random(seed)
    domains = [f"company{i}.com" for i in range(5000)]
    names = [s for s, _ in STAGES]
    weights = [w for _, w in STAGES]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            domain = rng.choice(FREEMAIL) if rng.random() < 0.3 else rng.choice(domains)
            stage = rng.choices(names, weights)[0]
            created = START + timedelta(minutes=rng.randrange(0, 1_000_000))
            entered = []
            at = created
            reached = FUNNEL.index(stage) if stage in FUNNEL else -1
            for position in range(len(FUNNEL)):
                if position <= reached:
                    entered.append(at.strftime("%Y-%m-%d %H:%M"))
                    at += timedelta(days=rng.randrange(1, 30))
                else:
                    entered.append("")
            source = rng.choice(SOURCES)
            writer.writerow(
                [
                    str(1000 + i), first, last, f"{first}.{last}.{i}@{domain}".lower(),
                    f"+1 555 {i % 10_000_000:07d}", "Marketing Manager", domain.split(".")[0],
                    stage, rng.choice(STATUSES), source[0], "google" if i % 3 else "",
                    "", created.strftime("%Y-%m-%d %H:%M"), *entered, "",
                ]
            )  # fmt: skip


def _workspace(directory: Path, database_url: str | None) -> Any:
    from smarketing.services.workspace import init_workspace, open_workspace
    from smarketing.settings import load_settings

    settings = load_settings(workspace=directory, database_url=database_url)
    init_workspace(settings, today=START.date())
    return open_workspace(settings)


def run_import(file: Path, workdir: Path, database_url: str | None, chunk: int, again: bool) -> int:
    from smarketing.services.imports import ImportOptions, ImportSource, run_import

    ws = _workspace(workdir, database_url)
    try:
        options = ImportOptions(chunk_rows=chunk, errors_path=workdir / "errors.csv")
        if again:
            run_import(ws, ImportSource("hubspot", "contacts"), file, options=options)
        server = _backend_cpu(database_url)
        started, cpu, own = time.perf_counter(), _cpu(), time.process_time()
        report = run_import(ws, ImportSource("hubspot", "contacts"), file, options=options)
        elapsed, cpu = time.perf_counter() - started, _cpu() - cpu
        own = time.process_time() - own
        server_cpu = _server_cpu(server, _backend_cpu(database_url))
    finally:
        ws.close()
    assert report.run.rows_rejected == 0, report.run.summary
    return _emit(report.run.rows_read, elapsed, cpu, own=own, server=server_cpu)


def _backend_cpu(database_url: str | None) -> dict[int, float] | None:
    """CPU seconds so far of each PostgreSQL backend serving `database_url`, read from /proc:
    None unless the server runs on this machine."""
    if not database_url or not database_url.startswith("postgresql"):
        return None
    import psycopg

    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        pids = [pid for (pid,) in conn.execute(query).fetchall()]
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        found[pid] = (int(stat[11]) + int(stat[12])) / tick
    return found


def _server_cpu(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """The server's CPU seconds between two `_backend_cpu` readings (backends that ended in
    between are missed: an import's stay in its connection pool)."""
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the parse process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _raw_rows(
    file: Path, now: datetime
) -> Iterator[tuple[dict[str, Any], list[tuple[str, datetime]]]]:
    with file.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        source_channel = {label: channel for label, channel, _ in SOURCES}
        source_value = {label: value for label, _, value in SOURCES}
        for cells in reader:
            dated = [
                (OUR_STAGE[FUNNEL[i]], datetime.fromisoformat(cells[13 + i]).replace(tzinfo=UTC))
                for i in range(len(FUNNEL))
                if cells[13 + i]
            ]
            if cells[7] == "Subscriber":
                dated = [("subscriber", now)]
            person = {
                "email": cells[3], "first_name": cells[1], "last_name": cells[2],
                "title": cells[5], "phone": cells[4], "stage": OUR_STAGE[cells[7]],
                "original_channel": source_channel[cells[9]],
                "traits": {"company": cells[6], "hubspot_original_source": source_value[cells[9]]},
                "record_id": cells[0],
                "created_at": datetime.fromisoformat(cells[12]).replace(tzinfo=UTC),
            }  # fmt: skip
            yield person, dated


def run_raw(file: Path, workdir: Path, database_url: str | None, chunk: int) -> int:
    """Only the inserts are timed: rows are read, built and given ids outside the clock."""
    from smarketing.store.crm.common import insert_many, reserve_ids
    from smarketing.store.tables import identities, people, transitions

    ws = _workspace(workdir, database_url)
    now = datetime.now(UTC)
    elapsed = cpu = 0.0
    count = 0
    rows = _raw_rows(file, now)
    server = _backend_cpu(database_url)
    person_columns = (
        "id",
        "email",
        "first_name",
        "last_name",
        "title",
        "phone",
        "stage",
        "original_channel",
        "traits",
        "change_seq",
        "created_at",
        "updated_at",
    )
    transition_columns = ("person_id", "from_stage", "to_stage", "at", "actor", "reason")
    while batch := list(itertools.islice(rows, chunk)):
        people_rows, identity_rows, transition_rows = [], [], []
        with ws.db.begin() as conn:
            ids = reserve_ids(conn, people, len(batch))
        for pid, (person, dated) in zip(ids, batch, strict=True):
            people_rows.append(
                (
                    pid,
                    person["email"],
                    person["first_name"],
                    person["last_name"],
                    person["title"],
                    person["phone"],
                    person["stage"],
                    person["original_channel"],
                    person["traits"],
                    0,
                    person["created_at"],
                    now,
                )
            )
            identity_rows.append((pid, "email", person["email"], now))
            identity_rows.append((pid, "hubspot", person["record_id"], now))
            previous: str | None = None
            for stage, at in dated:
                transition_rows.append(
                    (pid, previous, stage, at, "import:hubspot", "imported from HubSpot")
                )
                previous = stage
        started, cpu_started = time.perf_counter(), time.process_time()
        with ws.db.begin() as conn:
            insert_many(conn, people, person_columns, people_rows)
            insert_many(
                conn, identities, ("person_id", "kind", "value", "created_at"), identity_rows
            )
            insert_many(conn, transitions, transition_columns, transition_rows)
        elapsed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        count += len(batch)
    server_cpu = _server_cpu(server, _backend_cpu(database_url))
    ws.close()
    return _emit(count, elapsed, cpu, server=server_cpu)  # fmt: skip


def _emit(
    rows: int, seconds: float, cpu: float, *, own: float | None = None, server: float | None = None
) -> int:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"rows": rows, "seconds": seconds, "cpu": cpu, "peak_mb": peak_mb}
    print(json.dumps({**result, "own_cpu": own, "server_cpu": server}))
    return 0


def _fresh_postgres(url: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"smk_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(url).set(database=name).render_as_string(hide_password=False), drop


def _child(phase: str, file: Path, workdir: Path, url: str | None, chunk: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--phase", phase, "--file", str(file),
               "--workdir", str(workdir), "--chunk-size", str(chunk)]  # fmt: skip
    if url:
        command += ["--database-url", url]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        sampled = 0
        while process.poll() is None:
            sampled = max(sampled, _tree_rss_kb(process.pid))
            time.sleep(0.05)
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"{phase} failed:\n{stderr}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    result["tree_peak_mb"] = sampled / 1024
    return result


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and its children (Linux /proc; 0 where it cannot be read)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        total = 0
        for each in [str(pid), *children]:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return total


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL server")
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--no-sqlite", action="store_true", help="only run on --postgres")
    parser.add_argument("--phase", choices=["import", "reimport", "raw"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase in ("import", "reimport"):
        again = args.phase == "reimport"
        return run_import(args.file, args.workdir, args.database_url, args.chunk_size, again)
    if args.phase == "raw":
        return run_raw(args.file, args.workdir, args.database_url, args.chunk_size)
    with tempfile.TemporaryDirectory(prefix="smk-bench-") as tmp:
        file = Path(tmp) / "hubspot-contacts.csv"
        started = time.perf_counter()
        generate(file, args.rows)
        size_mb = file.stat().st_size / 1e6
        print(f"generated {args.rows:,} contacts ({size_mb:,.0f} MB) in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip
        backends: list[tuple[str, str | None]] = [] if args.no_sqlite else [("sqlite", None)]
        if args.postgres:
            backends.append(("postgresql", args.postgres))
        print(f"{'database':<11} {'phase':<9} {'rows':>10} {'seconds':>8} {'rows/s':>9} "
              f"{'CPU s':>7} {'rows/CPU s':>10} {'peak MB':>8} {'all MB':>7} "
              f"{'own CPU s':>9} {'server CPU s':>12}")  # fmt: skip
        for name, url in backends:
            for phase in ("import", "reimport", "raw"):
                workdir = Path(tmp) / f"{name}-{phase}"
                drop = None
                db_url = url
                if url:
                    db_url, drop = _fresh_postgres(url)
                try:
                    r = _child(phase, file, workdir, db_url, args.chunk_size)
                finally:
                    if drop:
                        drop()
                rate, cpu_rate = r["rows"] / r["seconds"], r["rows"] / r["cpu"]
                print(
                    f"{name:<11} {phase:<9} {r['rows']:>10,} {r['seconds']:>8.1f} {rate:>9,.0f} "
                    f"{r['cpu']:>7.1f} {cpu_rate:>10,.0f} {r['peak_mb']:>8.0f} "
                    f"{r['tree_peak_mb']:>7.0f} {_seconds(r['own_cpu']):>9} "
                    f"{_seconds(r['server_cpu']):>12}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
