"""Shared set-up for benchmarks: a fresh workspace on SQLite or PostgreSQL."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text

from smarketing.settings import Settings, load_settings


def fresh_settings(postgres_url: str | None, *, name: str) -> Settings:
    """Settings of a new, empty workspace (a fresh schema when on PostgreSQL)."""
    from smarketing.services.workspace import init_workspace

    folder = Path(tempfile.mkdtemp(prefix=f"smk-bench-{name}-"))
    if postgres_url:
        engine = create_engine(postgres_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    settings = load_settings(workspace=folder, database_url=postgres_url)
    init_workspace(settings, today=date.today())
    return settings
