"""The engine gate: every analytics query passes here, on whichever engine.

An expression is compiled by Ibis for the engine's SQL dialect (`to_sql` is pure: no
connection), run with a time limit and a row cap, and its result comes back as an Arrow table
with the expression's own schema, so every engine answers with the same types. Failures are
typed errors of the one error tree (`engines.errors`), never a driver's exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from smarketing.analytics.engines.errors import EngineError, QueryTimeoutError, RowLimitError

EngineName = Literal["duckdb", "postgres", "spark"]
ENGINE_NAMES: tuple[EngineName, ...] = ("duckdb", "postgres", "spark")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one query may take: seconds of wall time and rows of result."""

    timeout_seconds: float = 120.0
    max_rows: int = 100_000


DEFAULT_LIMITS = Limits()


class Engine(Protocol):
    """An engine binds the unbound analytics tables by name and runs SQL in one dialect."""

    name: EngineName
    dialect: str

    def run_sql(self, sql: str, *, limits: Limits) -> pa.Table:
        """Run one SELECT; honour `limits.timeout_seconds` (raise QueryTimeoutError)."""
        ...

    def close(self) -> None: ...


def to_sql(expr: ir.Table, dialect: str = "duckdb") -> str:
    """The SQL of `expr` in `dialect`: pure, no connection involved."""
    if dialect == "pyspark":
        _register_pyspark_options()
    return str(ibis.to_sql(expr, dialect=dialect))


def _register_pyspark_options() -> None:
    # The PySpark compiler reads backend options that exist once the backend registered them.
    from ibis import options

    if getattr(options, "pyspark", None) is None:
        from ibis.backends.pyspark import Backend

        Backend.register_options()


def execute(engine: Engine, expr: ir.Table, *, limits: Limits = DEFAULT_LIMITS) -> pa.Table:
    """Run `expr` on `engine` within `limits`; the result has the expression's schema."""
    sql = to_sql(expr.limit(limits.max_rows + 1), engine.dialect)
    result = engine.run_sql(sql, limits=limits)
    if result.num_rows > limits.max_rows:
        raise RowLimitError(
            f"the query returns more than {limits.max_rows:,} rows on {engine.name}",
            hint="narrow the period or raise the row cap",
        )
    return conform(result, expr.schema().to_pyarrow())


def conform(result: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rename and cast an engine's answer to the expression's schema."""
    if result.num_columns != len(schema):
        raise EngineError(
            f"the engine returned {result.num_columns} columns, the query has {len(schema)}"
        )
    result = result.rename_columns(schema.names)
    columns = []
    for field, column in zip(schema, result.columns, strict=True):
        values = column
        if pa.types.is_timestamp(values.type) and values.type.tz is not None:
            values = values.cast(pa.timestamp(values.type.unit, tz="UTC")).cast(
                pa.timestamp(values.type.unit)
            )
        columns.append(values.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


@contextmanager
def deadline(seconds: float, cancel: Callable[[], None]) -> Iterator[threading.Event]:
    """Call `cancel` from a timer thread once `seconds` pass; the event tells it fired."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        cancel()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def timeout_error(engine: str, seconds: float) -> QueryTimeoutError:
    return QueryTimeoutError(
        f"the query ran longer than {seconds:g} s on {engine} and was cancelled",
        hint="narrow the period, or raise the time limit",
    )


def failure(engine: str, exc: BaseException) -> EngineError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return EngineError(f"{engine} could not run the query: {first}")
