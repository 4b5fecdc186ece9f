"""Shared fixtures: temporary workspaces on SQLite and (when configured) PostgreSQL.

The PostgreSQL tier runs whenever SMARKETING_TEST_POSTGRES_URL is set (`make test` sets it when
a server answers on 127.0.0.1:5432). With SMARKETING_REQUIRE_POSTGRES=1 (CI) a missing server
fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from smarketing.domain.clock import FrozenClock
from smarketing.services.workspace import Workspace, init_workspace, open_workspace
from smarketing.settings import Settings, load_settings

TODAY_CLOCK_START = "2026-01-05T09:00:00+00:00"


def postgres_url() -> str | None:
    url = os.environ.get("SMARKETING_TEST_POSTGRES_URL")
    if not url and os.environ.get("SMARKETING_REQUIRE_POSTGRES") == "1":
        pytest.fail("SMARKETING_REQUIRE_POSTGRES=1 but SMARKETING_TEST_POSTGRES_URL is not set")
    return url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throw-away database on the test server, dropped at the end of the session."""
    url = postgres_url()
    if not url:
        pytest.skip("PostgreSQL tier: set SMARKETING_TEST_POSTGRES_URL (make test does)")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"smk_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _fresh_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings of an empty workspace folder on the parametrised backend (not yet initialised)."""
    workspace = tmp_path / "ws"
    if backend == "postgres":
        url = request.getfixturevalue("postgres_server")
        _fresh_postgres_schema(url)
        return load_settings(workspace=workspace, database_url=url)
    return load_settings(workspace=workspace)


@pytest.fixture
def clock() -> FrozenClock:
    from datetime import datetime

    return FrozenClock(datetime.fromisoformat(TODAY_CLOCK_START))


@pytest.fixture
def workspace(settings: Settings, clock: FrozenClock) -> Iterator[Workspace]:
    """An initialised workspace (default playbook, migrated database) with a frozen clock."""
    init_workspace(settings, today=clock.now().date())
    ws = open_workspace(settings, clock=clock)
    yield ws
    ws.close()


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return load_settings(workspace=tmp_path / "ws")
