"""Who may see and change sales records: sales reps their own and their team's, admins all."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from smarketing.domain.stages import Role
from smarketing.errors import PermissionDeniedError
from smarketing.store import users


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a name for the record, a role and, for sales, the user they are."""

    name: str
    role: Role
    user_id: int | None = None


def team_of(conn: Connection, actor: Actor) -> frozenset[int] | None:
    """Owner ids whose records `actor` may see; None means everyone's. A sales rep sees their
    own; a manager also their reports'; a sales key that acts for no user sees none."""
    if actor.role is not Role.SALES:
        return None
    if actor.user_id is None:
        return frozenset()
    team = {u.id for u in users.list_users(conn) if u.manager_id == actor.user_id}
    return frozenset({actor.user_id, *team})


def require_seller(actor: Actor, what: str) -> None:
    if actor.role not in (Role.SALES, Role.ADMIN):
        raise PermissionDeniedError(
            f"role {actor.role.value} cannot change {what}", hint="sales reps and admins can"
        )
