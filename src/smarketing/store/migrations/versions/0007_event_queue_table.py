"""the processor's queue moves to a table of its own: `event_queue` holds the ids of the
events not processed yet, and `events.processed_at` goes

Marking an event processed rewrote its wide `events` row (payload included) and its index
entries on PostgreSQL, once per event; deleting a narrow queue row is cheaper. Events pending
at the upgrade stay pending; at a downgrade, the events no longer queued count as processed
when received (the time of their processing is not kept).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smarketing.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PENDING = sa.text("processed_at IS NULL")
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_queue",
        sa.Column("event_id", Id, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_queue")),
    )
    op.execute(
        "INSERT INTO event_queue (event_id) SELECT id FROM events "
        "WHERE processed_at IS NULL ORDER BY id"
    )
    op.drop_index("ix_events_pending", table_name="events")
    # Native on both (SQLite >= 3.35, which RETURNING needs already): a batch rebuild of
    # `events` would drop a table that touchpoints reference.
    op.execute("ALTER TABLE events DROP COLUMN processed_at")


def downgrade() -> None:
    op.add_column("events", sa.Column("processed_at", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE events SET processed_at = received_at "
        "WHERE id NOT IN (SELECT event_id FROM event_queue)"
    )
    op.create_index(
        "ix_events_pending",
        "events",
        ["id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )
    op.drop_table("event_queue")
