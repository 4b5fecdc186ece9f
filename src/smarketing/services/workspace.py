"""A workspace: settings + open database + clock + the current playbook. Built once per
process (CLI command, API app) and passed down; nothing here is global."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from smarketing.domain.clock import Clock, SystemClock
from smarketing.errors import UsageError
from smarketing.playbook.defaults import default_playbook_text
from smarketing.playbook.loader import LoadedPlaybook, load_playbook
from smarketing.settings import Settings
from smarketing.store import migrations_runner
from smarketing.store.database import Database, open_database, workspace_engine

SECRET_FILENAME = ".smarketing-secret"


@dataclass
class Workspace:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    _playbook: LoadedPlaybook | None = None
    _playbook_mtime: float | None = None

    @property
    def playbook(self) -> LoadedPlaybook:
        """The workspace's playbook, reloaded when the file changes."""
        path = self.settings.playbook_path
        mtime = path.stat().st_mtime if path.exists() else None
        if self._playbook is None or mtime != self._playbook_mtime:
            self._playbook = load_playbook(path)
            self._playbook_mtime = mtime
        return self._playbook

    def close(self) -> None:
        self.db.dispose()

    @property
    def session_secret(self) -> bytes:
        """The key that signs dashboard sessions: made once, kept in the workspace."""
        path = self.settings.workspace / SECRET_FILENAME
        if not path.exists():
            self.settings.workspace.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
            path.chmod(0o600)
        return bytes.fromhex(path.read_text().strip())


def open_workspace(settings: Settings, *, clock: Clock | None = None) -> Workspace:
    """Open an initialised workspace whose schema is current (clear errors otherwise)."""
    return Workspace(settings=settings, db=open_database(settings), clock=clock or SystemClock())


def upgrade_database(settings: Settings) -> tuple[str | None, str | None]:
    """Apply migrations; returns (revision before, revision after)."""
    engine = workspace_engine(settings)
    try:
        before = migrations_runner.current_revision(engine)
        migrations_runner.upgrade(engine)
        return before, migrations_runner.current_revision(engine)
    finally:
        engine.dispose()


def init_workspace(settings: Settings, *, today: date, overwrite: bool = False) -> list[str]:
    """Create the workspace folder, a commented default playbook and an up-to-date database.

    Returns what was done, one line per step. An existing playbook is kept unless `overwrite`.
    """
    done: list[str] = []
    ws = settings.workspace
    if ws.exists() and not ws.is_dir():
        raise UsageError(f"{ws} exists and is not a directory", hint="pick another path")
    ws.mkdir(parents=True, exist_ok=True)
    path = settings.playbook_path
    if path.exists() and not overwrite:
        done.append(f"kept existing playbook {path}")
    else:
        path.write_text(default_playbook_text(today), encoding="utf-8")
        done.append(f"wrote playbook {path}")
    before, after = upgrade_database(settings)
    where = "SQLite " + str(ws / "smarketing.db") if settings.is_sqlite else "the database"
    done.append(
        f"database {where} at revision {after}"
        + ("" if before == after else f" (was {before or 'empty'})")
    )
    return done
