"""Shared set-up for benchmarks: a fresh workspace on SQLite or PostgreSQL."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from smarketing.settings import Settings, load_settings


def fresh_settings(postgres_url: str | None, *, name: str) -> Settings:
    """Settings of a new, empty workspace (a fresh schema when on PostgreSQL)."""
    from smarketing.services.workspace import init_workspace

    folder = Path(tempfile.mkdtemp(prefix=f"smk-bench-{name}-"))
    database_url = None
    if postgres_url:
        # A database of its own, so a benchmark never touches anything else on the server.
        database = f"smk_bench_{name}"
        admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        database_url = (
            make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
        )
    settings = load_settings(workspace=folder, database_url=database_url)
    init_workspace(settings, today=date.today())
    return settings
