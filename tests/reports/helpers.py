"""Comparing result tables across engines and copies; new touches for a copy to pick up."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from smarketing.analytics.tables import SPECS
from smarketing.services.tracking import Tracker
from smarketing.services.workspace import Workspace
from smarketing.store import identity


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float | Decimal) or isinstance(b, float | Decimal):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6)
    return bool(a == b)


def assert_tables_equal(left: pa.Table, right: pa.Table, *, where: str = "") -> None:
    assert left.schema == right.schema, f"{where}: {left.schema} != {right.schema}"
    a, b = left.to_pylist(), right.to_pylist()
    assert len(a) == len(b), f"{where}: {len(a)} rows != {len(b)} rows"
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        for column in x:
            assert _close(x[column], y[column]), (
                f"{where} row {i} {column}: {x[column]!r} != {y[column]!r}"
            )


def copy_contents(path: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every analytics table of a DuckDB copy, rows sorted by id."""
    con = duckdb.connect(path, read_only=True)
    try:
        return {
            s.name: con.execute(f'SELECT * FROM "{s.name}" ORDER BY id').fetchall() for s in SPECS
        }
    finally:
        con.close()


def track_page_views(
    ws: Workspace, write_key: str, views: Sequence[tuple[datetime, str]], *, prefix: str
) -> None:
    """Page views (`views`: time and URL each) of the demo's anonymous visitors `anon-00000001`
    .. `anon-00000020`, who belong to early people, stored through the tracking code path."""
    tracker = Tracker(ws)
    source = tracker.source_for(write_key)
    items = [
        {
            "type": "page",
            "messageId": f"{prefix}-{i}",
            "anonymousId": f"anon-{1 + i % 20:08d}",
            "timestamp": at.isoformat(),
            "context": {"page": {"url": url}},
        }
        for i, (at, url) in enumerate(views)
    ]
    result = tracker.ingest(source, items, received_at=ws.clock.now())
    assert all(r.status == "stored" for r in result.results)


def merge_people(ws: Workspace, survivor: int, merged: int) -> None:
    """Merge person `merged` into `survivor` now, as an admin would (a copy must move rows)."""
    with ws.db.begin() as conn:
        identity.merge_people(
            conn,
            survivor=survivor,
            merged=merged,
            at=ws.clock.now(),
            actor="test",
            reason="same person",
            playbook_version_id=None,
        )
