"""PostgreSQL: the same expressions, run directly on the operational store.

The analytics tables carry the store's table and column names, so the compiled SQL reads the
store as it is (no copy). Each query runs in its own read-only transaction with
`statement_timeout` set to the time limit, and nested-loop joins off (analytic scans).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.exc import DBAPIError, OperationalError

from smarketing.analytics.engines.base import EngineName, Limits, failure, timeout_error
from smarketing.errors import UsageError


class PostgresEngine:
    name: EngineName = "postgres"
    dialect = "postgres"

    def __init__(self, engine: SqlEngine) -> None:
        if engine.dialect.name != "postgresql":
            raise UsageError(  # a choice of the caller's that waiting will not fix: not a 503
                "the postgres engine runs on a PostgreSQL store; this workspace uses "
                f"{engine.dialect.name}",
                hint="use --engine duckdb, or set SMARKETING_DATABASE_URL to PostgreSQL",
            )
        self.engine = engine

    def run_sql(self, sql: str, *, limits: Limits) -> pa.Table:
        millis = max(1, int(limits.timeout_seconds * 1000))
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                conn.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
                conn.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")
                # Reports scan and aggregate: with stale statistics (a fresh import) the
                # planner picks nested loops over window subqueries and runs for minutes.
                conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
                result = conn.exec_driver_sql(sql)
                names = list(result.keys())
                rows = result.fetchall()
                conn.rollback()
        except OperationalError as exc:
            if "statement timeout" in str(exc.orig):
                raise timeout_error(self.name, limits.timeout_seconds) from None
            raise failure(self.name, exc.orig or exc) from None
        except DBAPIError as exc:
            raise failure(self.name, exc.orig or exc) from None
        columns: dict[str, Any] = {
            name: pa.array([row[i] for row in rows]) for i, name in enumerate(names)
        }
        return pa.table(columns) if names else pa.table({})

    def close(self) -> None:
        """The store's engine belongs to the workspace: nothing to close here."""
