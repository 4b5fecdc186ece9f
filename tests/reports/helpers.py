"""Comparing result tables across engines and copies."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from smarketing.analytics.tables import SPECS


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
