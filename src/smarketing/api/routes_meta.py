"""Health, identity and playbook status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from smarketing.api.deps import ANY_ROLE, Caller, WorkspaceDep, require
from smarketing.api.problems import TOO_MANY_REQUESTS
from smarketing.domain.stages import Role
from smarketing.services import playbooks
from smarketing.store import migrations_runner, users

router = APIRouter()


class Health(BaseModel):
    status: str
    schema_version: str | None
    demo: bool


@router.get("/healthz", tags=["meta"])
def healthz(ws: WorkspaceDep) -> Health:
    """Liveness and the database schema revision (no authentication)."""
    return Health(
        status="ok",
        schema_version=migrations_runner.current_revision(ws.db.engine),
        demo=ws.settings.is_demo,
    )


class Me(BaseModel):
    name: str
    role: str


@router.get("/api/me", tags=["meta"], responses=TOO_MANY_REQUESTS)
def me(caller: Annotated[Caller, Depends(require(*ANY_ROLE))]) -> Me:
    return Me(name=caller.name, role=caller.role.value)


class PlaybookStatus(BaseModel):
    version: int
    content_hash: str
    agreed: bool
    signed_by: dict[str, str]
    name: str


@router.get("/api/playbook", tags=["playbook"], responses=TOO_MANY_REQUESTS)
def playbook_status(
    ws: WorkspaceDep, _caller: Annotated[Caller, Depends(require(*ANY_ROLE))]
) -> PlaybookStatus:
    """The playbook in force: its version, hash and who signed it."""
    version = playbooks.current_version(ws)
    return PlaybookStatus(
        version=version.number,
        content_hash=version.content_hash,
        agreed=version.agreed,
        signed_by={t.value: e for t, e in version.signed_by.items()},
        name=ws.playbook.playbook.name,
    )


class UserPublic(BaseModel):
    id: int
    email: str
    name: str
    role: str
    active: bool


@router.get("/api/users", tags=["admin"], responses=TOO_MANY_REQUESTS)
def list_users(
    ws: WorkspaceDep, _caller: Annotated[Caller, Depends(require(Role.ADMIN))]
) -> list[UserPublic]:
    """Users of the workspace (admins only)."""
    with ws.db.read() as conn:
        rows = users.list_users(conn)
    return [
        UserPublic(id=u.id, email=u.email, name=u.name, role=u.role.value, active=u.active)
        for u in rows
    ]
