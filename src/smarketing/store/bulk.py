"""Bulk writes for generators and imports: many rows per statement, no ORM in the way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from smarketing.store import tables

TABLES = {t.name: t for t in tables.metadata.sorted_tables}


def insert_rows(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts of column -> value) into `table` with one executemany."""
    if rows:
        conn.execute(TABLES[table].insert(), list(rows))


def count(conn: Connection, table: str) -> int:
    return int(conn.execute(select(func.count()).select_from(TABLES[table])).scalar_one())


def sync_sequences(conn: Connection) -> None:
    """After rows were inserted with explicit ids, move PostgreSQL's id sequences past them."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables.metadata.sorted_tables:
        if "id" in table.c and table.c.id.autoincrement is True:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )


def truncate_all(conn: Connection) -> None:
    """Empty every table (children first). Only for rebuilding a demo workspace."""
    for table in reversed(tables.metadata.sorted_tables):
        conn.execute(table.delete())
