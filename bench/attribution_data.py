"""A large synthetic analytics copy for the attribution report benchmark, built inside DuckDB.

    build_copy(path, people=1_000_000)  # ~20 touchpoints a person over a year

The tables and types are those of `smarketing.analytics.tables` (what `sync` writes), filled by
SQL from `range()` with hash-based draws, so the same size gives the same rows on every run
(no `random()`: its order depends on the threads). Proportions per person: ~0.34 accounts,
~20 touchpoints over the year before `DAY` on 11 channels (sales touches are the sales team's),
a few hundred campaigns and content items, ~2.2 transitions through the funnel, ~0.14 deals of
which ~30 % are won with an amount. Not a test; see bench/attribution_report.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from smarketing.analytics.tables import SPECS

DAY = date(2026, 11, 28)
CHANNELS = (  # (name, cumulative share of touches)
    ("organic_search", 0.20),
    ("paid_search", 0.32),
    ("organic_social", 0.40),
    ("paid_social", 0.49),
    ("email", 0.62),
    ("direct", 0.74),
    ("referral", 0.80),
    ("partner", 0.84),
    ("display", 0.88),
    ("events", 0.91),
    ("sales", 1.00),
)
CAMPAIGNS = 300
CONTENT = 400


def _u(expr: str, salt: int) -> str:
    """A deterministic uniform draw in [0, 1) from an integer expression and a salt."""
    return f"(hash({expr}, {salt}) % 1000003) / 1000003.0"


def _ddl(con: duckdb.DuckDBPyConnection) -> None:
    types = {"string": "VARCHAR", "int64": "BIGINT", "timestamp": "TIMESTAMP", "date": "DATE"}
    types |= {"boolean": "BOOLEAN", "decimal(18, 2)": "DECIMAL(18, 2)"}
    for spec in SPECS:
        columns = ", ".join(f'"{c}" {types[t]}' for c, t in spec.columns.items())
        con.execute(f'CREATE TABLE "{spec.name}" ({columns})')


def build_copy(path: Path, *, people: int = 1_000_000, touches_per_person: int = 20) -> None:
    """Write a fresh DuckDB copy at `path` (replaced if present)."""
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    try:
        _fill(con, people, touches_per_person)
    finally:
        con.close()


def _fill(con: duckdb.DuckDBPyConnection, people: int, per_person: int) -> None:
    _ddl(con)
    accounts = max(people * 34 // 100, 1)
    start = f"TIMESTAMP '{DAY.isoformat()}' - INTERVAL 365 DAY"
    con.execute(
        f"""INSERT INTO accounts (id, name, domain, industry, employees, created_at, updated_at)
        SELECT i, 'Account ' || i, 'a' || i || '.example', 'software', 10 + i % 5000,
               {start}, {start} FROM range(1, {accounts} + 1) t(i)"""
    )
    # Two people in three belong to an account (buying groups of ~2 contacts).
    con.execute(
        f"""INSERT INTO people (id, email, account_id, stage, created_at, updated_at)
        SELECT i, 'p' || i || '@x.example',
               CASE WHEN {_u("i", 1)} < 0.67 THEN 1 + hash(i, 2) % {accounts} END,
               'lead', {start}, {start} FROM range(1, {people} + 1) t(i)"""
    )
    con.execute(
        f"""INSERT INTO campaigns (id, name, channel, kind, created_at, updated_at)
        SELECT i, 'campaign-' || i, 'paid_search', 'paid', {start}, {start}
        FROM range(1, {CAMPAIGNS} + 1) t(i)"""
    )
    con.execute(
        f"""INSERT INTO content_items (id, key, title, kind, is_stub, created_at, updated_at)
        SELECT i, '/blog/post-' || i,
               CASE WHEN i % 10 <> 0 THEN 'Post ' || i END, 'blog_post', false, {start}, {start}
        FROM range(1, {CONTENT} + 1) t(i)"""
    )
    channel = (
        "CASE "
        + " ".join(f"WHEN u < {share} THEN '{name}'" for name, share in CHANNELS[:-1])
        + f" ELSE '{CHANNELS[-1][0]}' END"
    )
    n = people * per_person
    # Heavy users: person = people * u^1.3 (some people have many touches, most a few).
    con.execute(
        f"""CREATE TEMP TABLE raw AS
        SELECT i AS id,
               1 + CAST(floor({people} * pow({_u("i", 3)}, 1.3)) AS BIGINT) AS person_id,
               {start} + to_microseconds(CAST(floor({_u("i", 4)} * 365 * 86400e6) AS BIGINT))
                   AS occurred_at,
               {_u("i", 5)} AS u, {_u("i", 6)} AS v, hash(i, 7) AS h
        FROM range(1, {n} + 1) t(i)"""
    )
    con.execute(
        f"""INSERT INTO touchpoints
        SELECT r.id, r.person_id, NULL, p.account_id, r.occurred_at,
               CASE WHEN ch = 'sales' THEN 'meeting' ELSE 'page_view' END, NULL, ch, 'v1',
               NULL, NULL,
               CASE WHEN v < 0.4 THEN 'campaign-' || (1 + h % {CAMPAIGNS}) END,
               CASE WHEN v < 0.4 THEN 1 + h % {CAMPAIGNS} END,
               CASE WHEN v > 0.55 THEN 1 + (h // 1000) % {CONTENT} END,
               CASE WHEN ch = 'sales' THEN 'sales' ELSE 'marketing' END
        FROM (SELECT *, {channel} AS ch FROM raw) r JOIN people p ON p.id = r.person_id
        """
    )
    con.execute("DROP TABLE raw")
    _funnel(con, people, accounts, start)


# (stage, share of people reaching it, days after the previous stage: base + up to spread)
FUNNEL = (
    ("subscriber", 0.30, 0, 0),
    ("lead", 0.90, 0, 0),
    ("mql", 0.40, 5, 40),
    ("sal", 0.22, 1, 10),
    ("sql", 0.16, 3, 20),
    ("opportunity", 0.14, 5, 30),
    ("customer", 0.042, 20, 90),
)


def _funnel(con: duckdb.DuckDBPyConnection, people: int, accounts: int, start: str) -> None:
    # Each person enters at a uniform time of the year; a later stage is reached by the
    # people below its share (so the funnel narrows), some days after the previous one.
    con.execute(
        f"""CREATE TEMP TABLE entry AS SELECT i AS person_id, {_u("i", 11)} AS q,
        {start} + to_microseconds(CAST(floor({_u("i", 12)} * 300 * 86400e6) AS BIGINT)) AS t0
        FROM range(1, {people} + 1) t(i)"""
    )
    parts = []
    offset = "INTERVAL 0 DAY"
    previous = "NULL"
    for k, (stage, share, base, spread) in enumerate(FUNNEL):
        if spread:
            draw = _u("person_id", 20 + k)
            offset += (
                f" + INTERVAL {base} DAY"
                f" + to_microseconds(CAST(floor({draw} * {spread} * 86400e6) AS BIGINT))"
            )
        parts.append(
            f"SELECT person_id, {previous} AS from_stage, '{stage}' AS to_stage, "
            f't0 + {offset} AS "at" FROM entry WHERE q < {share}'
        )
        if stage != "subscriber":
            previous = f"'{stage}'"
    disq = (
        "SELECT person_id, 'mql', 'disqualified', t0 + INTERVAL 30 DAY FROM entry "
        "WHERE q >= 0.22 AND q < 0.30"
    )
    con.execute(
        f"""INSERT INTO transitions (id, person_id, from_stage, to_stage, "at", actor)
        SELECT row_number() OVER (ORDER BY "at", person_id, to_stage), person_id, from_stage,
               to_stage, "at", 'system'
        FROM ({" UNION ALL ".join(parts)} UNION ALL {disq}) s
        WHERE "at" < TIMESTAMP '{DAY.isoformat()}'"""
    )
    con.execute(
        f"""INSERT INTO deals (id, name, person_id, account_id, stage, status, type, amount,
                               currency, close_date, created_at, updated_at)
        SELECT row_number() OVER (ORDER BY tr.person_id), 'Deal ' || tr.person_id, tr.person_id,
               p.account_id, 'closed',
               CASE WHEN w < 0.30 THEN 'won' WHEN w < 0.80 THEN 'lost' ELSE 'open' END,
               'new', CAST(5000 + floor({_u("tr.person_id", 31)} * 95000) AS DECIMAL(18, 2)),
               'USD', CAST(tr."at" + INTERVAL 30 DAY AS DATE), tr."at", tr."at"
        FROM (SELECT *, {_u("person_id", 30)} AS w FROM transitions
              WHERE to_stage = 'opportunity') tr
        JOIN people p ON p.id = tr.person_id"""
    )
    con.execute("DROP TABLE entry")
