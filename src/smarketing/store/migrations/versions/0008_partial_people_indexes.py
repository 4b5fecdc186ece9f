"""`people.account_id` and `people.owner_id` indexed only where set

Most people have no account or owner (all of a fresh import), and every lookup by these
columns is by a given id. Full indexes held an entry per person anyway, written with every new
person: two of the fifteen or so index entries an imported contact costs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ("account_id", "owner_id")


def upgrade() -> None:
    for column in COLUMNS:
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(f"ix_people_{column}", table_name="people")
        op.create_index(
            f"ix_people_{column}",
            "people",
            [column],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(f"ix_people_{column}", table_name="people")
        op.create_index(f"ix_people_{column}", "people", [column], unique=False)
