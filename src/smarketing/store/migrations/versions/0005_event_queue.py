"""events are a durable queue: `processed_at` marks the ones the processor has handled

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smarketing.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processed_at", UTCDateTime(), nullable=True))
    # Events stored before the queue existed were processed in their own transaction.
    op.execute("UPDATE events SET processed_at = received_at")
    op.create_index(
        "ix_events_pending",
        "events",
        ["id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_events_pending", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("processed_at")
