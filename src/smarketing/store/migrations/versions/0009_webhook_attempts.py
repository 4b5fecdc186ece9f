"""webhook delivery attempts get a table of their own, `webhook_attempts`

Each attempt (outcome, HTTP status, error, duration) was an `audit_log` row (action
`webhook.attempt`): the audit log grew with every retry of every delivery, and an attempt's
history was found by a JSON field. The attempts logged so far are copied over; their audit
rows stay (an audit log is not rewritten). Downgrade drops the table (the audit rows still
hold the attempts made before the upgrade, not those after).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smarketing.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    attempts = op.create_table(
        "webhook_attempts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
        sa.UniqueConstraint("delivery_id", "attempt", name=op.f("uq_webhook_attempts_delivery_id")),
    )
    assert attempts is not None
    audit = sa.table(
        "audit_log",
        sa.column("id", Id),
        sa.column("at", UTCDateTime()),
        sa.column("action", sa.String()),
        sa.column("detail", sa.JSON()),
    )
    logged = op.get_bind().execute(
        sa.select(audit.c.at, audit.c.detail)
        .where(audit.c.action == "webhook.attempt")
        .order_by(audit.c.id)
    )
    rows: dict[tuple[int, int], dict[str, object]] = {}
    for at, d in logged:  # one per (delivery, attempt): the first logged
        if isinstance(d, dict) and "delivery_id" in d and "attempt" in d:
            rows.setdefault(
                (d["delivery_id"], d["attempt"]),
                {
                    "delivery_id": d["delivery_id"],
                    "attempt": d["attempt"],
                    "at": at,
                    "outcome": d.get("outcome") or "unknown",
                    "status_code": d.get("status_code"),
                    "error": d.get("error"),
                    "duration_ms": d.get("duration_ms") or 0,
                },
            )
    if rows:
        op.bulk_insert(attempts, list(rows.values()))


def downgrade() -> None:
    op.drop_table("webhook_attempts")
