"""The copy's touch order gives the attribution report the same journey rows as the engine.

On DuckDB the sync keeps the touches sorted by journey (`analytics.touch_order`) and the report
joins them with the conversions in numpy (`attribution.indexed_rows`). The rows must be those
the engine query of `journey_rows` returns, value for value and in the same order: after the
first copy, after incremental syncs that leave sorted blocks (new touches of early people, a
merge), and after the playbook switches between per person and per account.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from smarketing.analytics import touch_order
from smarketing.analytics.attribution.indexed_rows import (
    _journey_order,
    indexed_sections,
    rows_from_index,
)
from smarketing.analytics.attribution.journeys import DIMENSIONS, Dimension, JourneyQuery, Per
from smarketing.analytics.attribution.report_paths import TokenNames, token_names
from smarketing.analytics.engines.base import Limits, execute
from smarketing.analytics.engines.duckdb_engine import DuckDBEngine
from smarketing.analytics.reports.attribution import journey_sections
from smarketing.analytics.sync import sync_copy
from smarketing.analytics.tables import unbound
from smarketing.services.workspace import Workspace
from tests.reports.conftest import Demo
from tests.reports.helpers import merge_people, track_page_views

PERIODS = (
    (datetime(2026, 10, 1), datetime(2027, 1, 1)),
    (datetime(2026, 7, 1), datetime(2026, 12, 1)),
    (datetime(2025, 12, 1), datetime(2026, 12, 1)),
)
LIMITS = Limits(max_rows=10_000_000)


def _sync(ws: Workspace, path: Path, per: Per) -> None:
    engine = DuckDBEngine(path)
    try:
        sync_copy(ws.db, engine.connection(), now=ws.clock.now(), touch_order_per=per)
    finally:
        engine.close()


def _assert_rows_match(path: Path, per: Per, lookback_days: int) -> None:
    engine = DuckDBEngine(path)
    try:
        for start, end in PERIODS:
            q = JourneyQuery(per=per, lookback_days=lookback_days, start=start, end=end)
            sections = indexed_sections(unbound(), q)
            results = {k: execute(engine, expr, limits=LIMITS) for k, expr in sections.items()}
            converting, recent = rows_from_index(results, q)
            names = token_names(results["names"], results["content"])
            expected = {
                name: execute(engine, expr, limits=LIMITS)
                for name, expr in journey_sections(unbound(), q).items()
            }
            expected_names = token_names(expected["names"], expected["content"])
            assert expected["converting"].num_rows > 0
            assert expected["recent"].num_rows > 0
            for got, want in ((converting, expected["converting"]), (recent, expected["recent"])):
                _assert_same(_named(got, names), _named(want, expected_names), (per, start, end))
    finally:
        engine.close()


def _named(rows: pa.Table, names: dict[Dimension, TokenNames]) -> pa.Table:
    """`rows` with each token id replaced by its name (ids differ between the two paths)."""
    for dim in DIMENSIONS:
        column = f"tok_{dim}"
        labels = np.array(names[dim].names, dtype=object)
        named = labels[names[dim].index(np.asarray(rows[column].to_numpy()))]
        rows = rows.set_column(rows.column_names.index(column), column, pa.array(named))
    return rows


def _assert_same(got: pa.Table, expected: pa.Table, where: object) -> None:
    assert got.column_names == expected.column_names, where
    for name in expected.column_names:
        assert got[name].to_pylist() == expected[name].to_pylist(), (where, name)


def _token_ids_are_stable(path: Path) -> list[tuple[str, str, int]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT * FROM {touch_order.TOKENS} ORDER BY 1, 3").fetchall()
    finally:
        con.close()


def _order_is_blocks(path: Path) -> bool:
    """Whether the stored order is not one sorted run (an incremental sync appended)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(f"SELECT journey, at_us, id FROM {touch_order.ORDER}").fetchnumpy()
    finally:
        con.close()
    return _journey_order(rows["journey"], rows["at_us"]) is not None


@pytest.mark.parametrize("per", ["person", "account"])
def test_touch_order_rows_equal_the_engine_rows(
    demo_ws: Workspace, per: Per, tmp_path: Path
) -> None:
    path = tmp_path / "copy.duckdb"
    _sync(demo_ws, path, per)
    _assert_rows_match(path, per, demo_ws.playbook.playbook.attribution.lookback_days)


def _touches_for_early_people(ws: Workspace, demo: Demo, n: int) -> None:
    """Page views of early people, some before their earlier touches, from a new campaign."""
    at = ws.clock.now()
    utm = "?utm_source=newsletter-x&utm_medium=email&utm_campaign=touch-order-new"
    views = [
        (at - timedelta(days=3 * i), f"https://www.smarketing-demo.example/new-{i % 3}{utm}")
        for i in range(n)
    ]
    track_page_views(ws, demo.summary.write_key, views, prefix=f"touch-order-{at.isoformat()}")


@pytest.mark.parametrize("per", ["person", "account"])
def test_incremental_syncs_keep_the_rows_equal(
    fresh_ws: Workspace, demo: Demo, per: Per, tmp_path: Path
) -> None:
    path = tmp_path / "copy.duckdb"
    lookback = fresh_ws.playbook.playbook.attribution.lookback_days
    _sync(fresh_ws, path, per)
    tokens_before = _token_ids_are_stable(path)
    fresh_ws.clock.advance(hours=1)  # type: ignore[attr-defined]
    _touches_for_early_people(fresh_ws, demo, 40)
    fresh_ws.clock.advance(minutes=1)  # type: ignore[attr-defined]
    _sync(fresh_ws, path, per)
    merge_people(fresh_ws, survivor=3, merged=7)
    fresh_ws.clock.advance(minutes=1)  # type: ignore[attr-defined]
    _sync(fresh_ws, path, per)
    tokens_after = _token_ids_are_stable(path)
    assert set(tokens_before) < set(tokens_after)  # new values got new ids, old ids kept
    assert _order_is_blocks(path)  # the reader's merge of sorted blocks is exercised
    _assert_rows_match(path, per, lookback)


def test_switching_per_sorts_the_touches_again(fresh_ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "copy.duckdb"
    lookback = fresh_ws.playbook.playbook.attribution.lookback_days
    _sync(fresh_ws, path, "person")
    _sync(fresh_ws, path, "account")
    assert not _order_is_blocks(path)
    _assert_rows_match(path, "account", lookback)


def test_a_sync_without_a_journey_key_drops_the_touch_order(
    fresh_ws: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "copy.duckdb"
    _sync(fresh_ws, path, "person")
    engine = DuckDBEngine(path)
    try:
        sync_copy(fresh_ws.db, engine.connection(), now=fresh_ws.clock.now())
        tables = {r[0] for r in engine.connection().execute("SHOW TABLES").fetchall()}
    finally:
        engine.close()
    assert touch_order.ORDER not in tables
    assert touch_order.TOKENS not in tables


def test_stored_order_is_checked_not_trusted() -> None:
    journey = np.array([1, 1, 2, 5, 5, 3, 3, 4], dtype=np.int64)  # two sorted blocks
    at = np.array([10, 20, 5, 1, 2, 7, 9, 3], dtype=np.int64)
    order = _journey_order(journey, at)
    assert order is not None
    assert journey[order].tolist() == [1, 1, 2, 3, 3, 4, 5, 5]
    assert at[order].tolist() == [10, 20, 5, 7, 9, 3, 1, 2]
    shuffled = np.array([4, 0, 6, 2, 7, 1, 5, 3])  # any order at all: sorted by both keys
    order = _journey_order(journey[shuffled], at[shuffled])
    assert order is not None
    assert journey[shuffled][order].tolist() == [1, 1, 2, 3, 3, 4, 5, 5]
    assert at[shuffled][order].tolist() == [10, 20, 5, 7, 9, 3, 1, 2]
    assert _journey_order(np.sort(journey), np.zeros(8, dtype=np.int64)) is None
