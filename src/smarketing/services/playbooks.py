"""Playbook versions and sign-offs: a version is *agreed* once both teams signed it."""

from __future__ import annotations

from smarketing.domain.model import PlaybookVersion
from smarketing.domain.stages import Role, Team
from smarketing.errors import PermissionDeniedError
from smarketing.playbook.loader import LoadedPlaybook
from smarketing.services.workspace import Workspace
from smarketing.store import audit, playbooks, users


def register(ws: Workspace, loaded: LoadedPlaybook, *, actor: str = "cli") -> PlaybookVersion:
    """Store this playbook content as a version (no-op when the same content is stored)."""
    with ws.db.begin() as conn:
        return playbooks.register_version(
            conn,
            content_hash=loaded.content_hash,
            text=loaded.text,
            now=ws.clock.now(),
            actor=actor,
        )


def current_version(ws: Workspace) -> PlaybookVersion:
    return register(ws, ws.playbook)


def sign(ws: Workspace, *, team: Team, user_email: str) -> PlaybookVersion:
    """Record that `user_email`, a member of `team`, signs the workspace's current playbook."""
    loaded = ws.playbook
    now = ws.clock.now()
    with ws.db.begin() as conn:
        user = users.require_user(conn, user_email.strip().lower())
        if user.role != Role(team.value):
            raise PermissionDeniedError(
                f"{user.email} is in role {user.role.value}, not {team.value}",
                hint=f"sign with a user whose role is {team.value}",
            )
        version = playbooks.register_version(
            conn, content_hash=loaded.content_hash, text=loaded.text, now=now, actor=user.email
        )
        playbooks.add_signoff(conn, version_id=version.id, team=team, user_id=user.id, now=now)
        audit.record(
            conn,
            at=now,
            actor=user.email,
            action="playbook.signed",
            target=f"v{version.number}",
            detail={"team": team.value},
        )
        signed = playbooks.version_by_hash(conn, loaded.content_hash)
    assert signed is not None
    return signed


def versions(ws: Workspace) -> list[PlaybookVersion]:
    with ws.db.read() as conn:
        return playbooks.list_versions(conn)
