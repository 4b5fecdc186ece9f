"""Request dependencies: the workspace, the caller, and the roles a route admits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from annotated_types import Ge, Le
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smarketing.api.rate_limits import KeyRateLimiter
from smarketing.domain.stages import Role
from smarketing.errors import AuthenticationError, PermissionDeniedError
from smarketing.services import admin
from smarketing.services.workspace import Workspace

MAX_ID = 2**63 - 1
RecordId = Annotated[int, Ge(1), Le(MAX_ID)]
"""The id of a stored record, in a path, a query or a body: 1 .. 2**63 - 1 (a larger number
is no id any database here can hold: 422, not a driver error)."""

bearer = HTTPBearer(auto_error=False, description="API key created by `smarketing keys create`")


def get_workspace(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


WorkspaceDep = Annotated[Workspace, Depends(get_workspace)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a name for the audit trail, a role, and the user a key acts for."""

    name: str
    role: Role
    user_id: int | None = None


def get_caller(
    request: Request,
    ws: WorkspaceDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise AuthenticationError(
            "missing API key", hint="send `Authorization: Bearer smk_...` (smarketing keys create)"
        )
    key = admin.api_key_for(ws, credentials.credentials)
    if key is None:
        raise AuthenticationError(
            "unknown or revoked API key", hint="create one: smarketing keys create"
        )
    limiter: KeyRateLimiter = request.app.state.rate_limiter
    limiter.check(key.id, key.name)
    return Caller(name=f"api-key:{key.name}", role=key.role, user_id=key.user_id)


def require(*roles: Role) -> Callable[..., Caller]:
    """A dependency admitting only callers in `roles` (admins are always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    def dependency(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise PermissionDeniedError(
                f"role {caller.role.value} may not do this", hint=f"this route admits: {names}"
            )
        return caller

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


ANY_ROLE = (Role.ADMIN, Role.MARKETING, Role.SALES, Role.VIEWER)
