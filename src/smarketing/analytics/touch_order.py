"""The touch order: the copy's touchpoints sorted by journey and time, with integer tokens.

The attribution report reads every touch of millions of journeys in journey and time order.
Sorting them per request is most of its cost, so the sync keeps them sorted for the
playbook's journey key (`per`: person or account) in `_touch_order`, and the report reads a
time range of it in storage order (DuckDB keeps insertion order for scans without ORDER BY):

- `_touch_order`: `journey`, `at_us` (epoch microseconds of `occurred_at`), `id` (touchpoint),
  and one 32-bit token per dimension: `tok_channel`, `tok_campaign`, `tok_content`,
  `tok_team` (ids of `_touch_tokens`, 0 for a null). Touches without a journey key
  (anonymous, or no account) are not in it.
- `_touch_tokens`: `dimension`, `raw`, `id`: the raw value of every token id (for content,
  the content item id as text). Ids are given once and kept, so an incremental sync never
  renumbers the rows already sorted.

A full copy (or a change of `per`) sorts the table whole. An incremental sync deletes the rows
of every journey the copied touchpoints reach (their journey before and after the sync) and
appends those journeys again, sorted. The table is then a few sorted blocks, each journey in
one block with its touches in order: a stable sort by journey puts them back together (see
`attribution.indexed_rows`). Once appended rows exceed a tenth of the table, the sync sorts it
whole again.
"""

from __future__ import annotations

import duckdb

from smarketing.analytics.attribution.journeys import Per, journey_key

ORDER = "_touch_order"
TOKENS = "_touch_tokens"
CHANGES = "_touch_changes"
"""Temp table of the touchpoint ids an incremental sync copied or moved."""
DIMENSIONS = ("channel", "campaign", "content", "team")
RESORT_SHARE = 0.1
"""Appended rows, as a share of the table, past which the sync sorts the table whole."""
_COLUMNS = "journey BIGINT, at_us BIGINT, id BIGINT, " + ", ".join(
    f"tok_{dim} INTEGER" for dim in DIMENSIONS
)


def _raw(dim: str, alias: str = "") -> str:
    """The raw value behind a dimension's tokens, as SQL over `touchpoints`."""
    if dim == "content":
        return f"CAST({alias}content_id AS VARCHAR)"
    return f"{alias}{dim}"


def _add_tokens(con: duckdb.DuckDBPyConnection, where: str) -> None:
    """Give an id to every raw value of the touchpoints matching `where` that has none."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {TOKENS} (dimension VARCHAR, raw VARCHAR, id BIGINT)")
    for dim in DIMENSIONS:
        con.execute(
            f"INSERT INTO {TOKENS} SELECT '{dim}', raw, "
            f"(SELECT coalesce(max(id), 0) FROM {TOKENS} WHERE dimension = '{dim}') "
            "+ row_number() OVER (ORDER BY raw) FROM ("
            f"SELECT DISTINCT {_raw(dim)} AS raw FROM touchpoints "
            f"WHERE {_raw(dim)} IS NOT NULL AND {where} "
            f"EXCEPT SELECT raw FROM {TOKENS} WHERE dimension = '{dim}')"
        )


def _sorted_rows(per: Per, where: str) -> str:
    """The ordered rows of `_touch_order` for the touchpoints matching `where`."""
    key = journey_key(per)
    joins = "".join(
        f" LEFT JOIN {TOKENS} k_{dim} ON k_{dim}.dimension = '{dim}' "
        f"AND k_{dim}.raw = {_raw(dim, 't.')}"
        for dim in DIMENSIONS
    )
    tokens = ", ".join(f"coalesce(k_{dim}.id, 0)" for dim in DIMENSIONS)
    return (
        f"SELECT t.{key}, epoch_us(t.occurred_at), t.id, {tokens} "
        f"FROM touchpoints t{joins} WHERE t.{key} IS NOT NULL AND ({where}) ORDER BY 1, 2, 3"
    )


def rebuild(con: duckdb.DuckDBPyConnection, per: Per) -> int:
    """Sort every touch into `_touch_order` for `per`; returns the rows."""
    con.execute(f"DROP TABLE IF EXISTS {TOKENS}")
    _add_tokens(con, "TRUE")
    con.execute(f"CREATE OR REPLACE TABLE {ORDER} ({_COLUMNS})")
    con.execute(f"INSERT INTO {ORDER} {_sorted_rows(per, 'TRUE')}")
    return _count(con, ORDER)


def refresh(con: duckdb.DuckDBPyConnection, per: Per, appended: int) -> int:
    """Re-sort the journeys of the touchpoints in `_touch_changes` (ids copied or moved by
    this sync, `touchpoints` already current); returns the rows appended since the last whole
    sort, or re-sorts the table whole past `RESORT_SHARE` and returns 0."""
    key = journey_key(per)
    _add_tokens(con, f"id IN (SELECT id FROM {CHANGES})")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _touch_journeys AS "
        f"SELECT journey FROM {ORDER} WHERE id IN (SELECT id FROM {CHANGES}) "
        f"UNION SELECT {key} FROM touchpoints WHERE id IN (SELECT id FROM {CHANGES}) "
        f"AND {key} IS NOT NULL"
    )
    con.execute(f"DELETE FROM {ORDER} WHERE journey IN (SELECT journey FROM _touch_journeys)")
    before = _count(con, ORDER)
    con.execute(
        f"INSERT INTO {ORDER} "
        + _sorted_rows(per, f"t.{key} IN (SELECT journey FROM _touch_journeys)")
    )
    con.execute("DROP TABLE _touch_journeys")
    total = _count(con, ORDER)
    appended += total - before
    if appended > RESORT_SHARE * total:
        rebuild(con, per)
        return 0
    return appended


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
