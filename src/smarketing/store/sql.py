"""Small SQL helpers shared by repositories: portable insert-or-ignore."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` for the connection's dialect.

    The database, not a read-then-write, decides what is new, so concurrent writers of the
    same key store it once.
    """
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()
