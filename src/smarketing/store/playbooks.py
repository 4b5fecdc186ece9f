"""Playbook versions (content-hashed) and the sign-offs of both teams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select
from sqlalchemy.exc import IntegrityError

from smarketing.domain.model import PlaybookVersion
from smarketing.domain.stages import Team
from smarketing.errors import ConflictError
from smarketing.store.sql import insert_ignore
from smarketing.store.tables import playbook_signoffs, playbook_versions, users


def _signers(conn: Connection, version_id: int) -> dict[Team, str]:
    rows = conn.execute(
        select(playbook_signoffs.c.team, users.c.email)
        .join(users, users.c.id == playbook_signoffs.c.user_id)
        .where(playbook_signoffs.c.playbook_version_id == version_id)
    )
    return {Team(r.team): r.email for r in rows}


def _version(conn: Connection, row: Row[Any]) -> PlaybookVersion:
    return PlaybookVersion(
        id=row.id,
        number=row.number,
        content_hash=row.content_hash,
        text=row.text,
        created_at=row.created_at,
        signed_by=_signers(conn, row.id),
    )


def version_by_hash(conn: Connection, content_hash: str) -> PlaybookVersion | None:
    row = conn.execute(
        select(playbook_versions).where(playbook_versions.c.content_hash == content_hash)
    ).first()
    return _version(conn, row) if row else None


def register_version(
    conn: Connection, *, content_hash: str, text: str, now: datetime, actor: str
) -> PlaybookVersion:
    """The stored version with this hash, created (numbered 1, 2, ...) if it is new. Safe
    against concurrent writers: the UNIQUE constraints decide, and a lost race re-reads."""
    for _ in range(5):
        existing = version_by_hash(conn, content_hash)
        if existing:
            return existing
        number = (conn.execute(select(func.max(playbook_versions.c.number))).scalar() or 0) + 1
        conn.execute(
            insert_ignore(conn, playbook_versions).values(
                number=number,
                content_hash=content_hash,
                text=text,
                created_at=now,
                created_by=actor,
            )
        )
    raise ConflictError("could not register the playbook version", hint="try again")


def list_versions(conn: Connection) -> list[PlaybookVersion]:
    rows = conn.execute(select(playbook_versions).order_by(playbook_versions.c.number))
    return [_version(conn, r) for r in rows]


def add_signoff(
    conn: Connection, *, version_id: int, team: Team, user_id: int, now: datetime
) -> None:
    try:
        with conn.begin_nested():
            conn.execute(
                playbook_signoffs.insert().values(
                    playbook_version_id=version_id, team=team.value, user_id=user_id, signed_at=now
                )
            )
    except IntegrityError:
        raise ConflictError(f"{team.value} has already signed this playbook version") from None
