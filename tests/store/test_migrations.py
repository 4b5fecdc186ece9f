"""Migrations build the schema from empty, match the table definitions, and go both ways.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from smarketing.errors import SchemaBehindError, WorkspaceNotFoundError
from smarketing.services.workspace import init_workspace, open_workspace, upgrade_database
from smarketing.settings import Settings
from smarketing.store import migrations_runner
from smarketing.store.database import workspace_engine
from smarketing.store.tables import metadata

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
