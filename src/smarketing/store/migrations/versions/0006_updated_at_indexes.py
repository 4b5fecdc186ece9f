"""index updated_at of accounts, hand-offs and deals (the analytics sync reads by it)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 22:35:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("accounts", "handoffs", "deals")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_updated_at", table, ["updated_at"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_updated_at", table_name=table)
