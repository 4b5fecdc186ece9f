"""Migrations build the schema from empty, match the table definitions, and go both ways.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from smarketing.errors import SchemaBehindError, WorkspaceNotFoundError
from smarketing.services.workspace import init_workspace, open_workspace, upgrade_database
from smarketing.settings import Settings
from smarketing.store import migrations_runner
from smarketing.store.database import workspace_engine
from smarketing.store.tables import (
    audit_log,
    metadata,
    outbox,
    webhook_attempts,
    webhook_deliveries,
    webhook_subscriptions,
)

EXPECTED_TABLES = {
    "accounts",
    "people",
    "identities",
    "touchpoints",
    "content_items",
    "campaigns",
    "transitions",
    "scores",
    "handoffs",
    "sla_clocks",
    "deals",
    "users",
    "api_keys",
    "sources",
    "audit_log",
    "playbook_versions",
    "playbook_signoffs",
    "events",
    "failed_events",
    "imports",
    "webhook_attempts",
}


def test_upgrade_from_empty_matches_the_table_definitions(settings: Settings) -> None:
    settings.workspace.mkdir(parents=True)
    before, after = upgrade_database(settings)
    assert before is None
    assert after == migrations_runner.head_revision()
    engine = workspace_engine(settings)
    try:
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diffs == []
    finally:
        engine.dispose()


def test_downgrade_to_empty_and_back(settings: Settings) -> None:
    settings.workspace.mkdir(parents=True)
    upgrade_database(settings)
    engine = workspace_engine(settings)
    try:
        migrations_runner.downgrade(engine, "base")
        assert not EXPECTED_TABLES & set(inspect(engine).get_table_names())
        assert migrations_runner.current_revision(engine) is None
        migrations_runner.upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= EXPECTED_TABLES
    finally:
        engine.dispose()


def test_upgrade_twice_changes_nothing(settings: Settings) -> None:
    settings.workspace.mkdir(parents=True)
    upgrade_database(settings)
    before, after = upgrade_database(settings)
    assert before == after == migrations_runner.head_revision()


def test_a_schema_that_is_behind_is_refused_with_the_fix(settings: Settings) -> None:
    init_workspace(settings, today=__import__("datetime").date(2026, 11, 28))
    engine = workspace_engine(settings)
    migrations_runner.downgrade(engine, "base")
    engine.dispose()
    with pytest.raises(SchemaBehindError, match="schema is behind") as caught:
        open_workspace(settings)
    assert caught.value.hint == "run `smarketing db upgrade`"


def test_sqlite_store_runs_in_wal_mode(sqlite_settings: Settings) -> None:
    init_workspace(sqlite_settings, today=__import__("datetime").date(2026, 11, 28))
    engine = workspace_engine(sqlite_settings)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_an_uninitialised_workspace_is_refused(sqlite_settings: Settings) -> None:
    sqlite_settings.workspace.mkdir(parents=True)
    with pytest.raises(WorkspaceNotFoundError, match="no smarketing database"):
        open_workspace(sqlite_settings)


def test_webhook_attempts_logged_in_the_audit_log_move_to_their_own_table(
    settings: Settings,
) -> None:
    settings.workspace.mkdir(parents=True)
    engine = workspace_engine(settings)
    at = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    try:
        migrations_runner.upgrade(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                webhook_subscriptions.insert().values(
                    id=1, url="https://crm.example/hook", secret="whsec_x", event_types=["*"],
                    active=True, created_at=at,
                )
            )  # fmt: skip
            conn.execute(
                outbox.insert().values(id=1, event_type="mql.created", payload={}, created_at=at)
            )
            conn.execute(
                webhook_deliveries.insert().values(
                    id=1, outbox_id=1, subscription_id=1, message_id="msg_1",
                    status="delivered", attempts=2, next_attempt_at=at, created_at=at,
                )
            )  # fmt: skip
            logged = [
                {"delivery_id": 1, "attempt": 1, "status_code": 503, "error": "HTTP 503",
                 "duration_ms": 40, "outcome": "retrying"},
                {"delivery_id": 1, "attempt": 2, "status_code": 200, "error": None,
                 "duration_ms": 12, "outcome": "delivered"},
            ]  # fmt: skip
            for n, detail in enumerate(logged):
                conn.execute(
                    audit_log.insert().values(
                        at=at + timedelta(minutes=n), actor="webhooks",
                        action="webhook.attempt", target="msg_1", detail=detail,
                    )
                )  # fmt: skip
        migrations_runner.upgrade(engine)
        with engine.connect() as conn:
            moved = conn.execute(
                select(
                    webhook_attempts.c.attempt,
                    webhook_attempts.c.at,
                    webhook_attempts.c.outcome,
                    webhook_attempts.c.status_code,
                    webhook_attempts.c.error,
                    webhook_attempts.c.duration_ms,
                ).order_by(webhook_attempts.c.attempt)
            ).all()
            kept = conn.execute(select(func.count()).select_from(audit_log)).scalar_one()
        assert [tuple(r) for r in moved] == [
            (1, at, "retrying", 503, "HTTP 503", 40),
            (2, at + timedelta(minutes=1), "delivered", 200, None, 12),
        ]
        assert kept == 2  # the audit log is not rewritten
    finally:
        engine.dispose()
