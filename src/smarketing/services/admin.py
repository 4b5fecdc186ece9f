"""Users, API keys and tracking sources: created by admins from the CLI (or API later)."""

from __future__ import annotations

from dataclasses import dataclass

from smarketing.domain import credentials
from smarketing.domain.identity import normalize_email
from smarketing.domain.model import ApiKey, Source, User
from smarketing.domain.stages import Role
from smarketing.errors import AuthenticationError, ValidationFailed
from smarketing.services.workspace import Workspace
from smarketing.store import audit, users

MIN_PASSWORD_LENGTH = 4


def add_user(
    ws: Workspace,
    *,
    email: str,
    role: Role,
    password: str,
    name: str | None = None,
    manager_email: str | None = None,
    actor: str = "cli",
) -> User:
    email = normalize_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password too short ({len(password)} characters)",
            hint=f"use at least {MIN_PASSWORD_LENGTH} characters",
        )
    now = ws.clock.now()
    with ws.db.begin() as conn:
        manager_id = users.require_user(conn, manager_email).id if manager_email else None
        user = users.add_user(
            conn,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            password_hash=credentials.hash_password(password),
            now=now,
            manager_id=manager_id,
        )
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="user.added",
            target=email,
            detail={"role": role.value},
        )
    return user


def authenticate_user(ws: Workspace, *, email: str, password: str) -> User:
    with ws.db.read() as conn:
        stored = users.password_hash_of(conn, email.strip().lower())
        user = users.user_by_email(conn, email.strip().lower())
    matches = credentials.verify_password(password, stored or credentials.decoy_hash())
    if not stored or user is None or not matches:
        raise AuthenticationError("wrong email or password")
    if not user.active:
        raise AuthenticationError(f"user {email} is deactivated", hint="ask an admin")
    return user


@dataclass(frozen=True, slots=True)
class NewSecret:
    """A freshly created key: `secret` is shown once and never stored."""

    secret: str
    record: ApiKey | Source


def create_api_key(
    ws: Workspace, *, name: str, role: Role, user_email: str | None = None, actor: str = "cli"
) -> NewSecret:
    """A new API key acting with `role`; with `user_email` it acts for that user (whose role
    must be `role`), so sales keys see their own and their team's hand-offs."""
    key = credentials.new_api_key()
    now = ws.clock.now()
    with ws.db.begin() as conn:
        user = users.require_user(conn, normalize_email(user_email)) if user_email else None
        if user is not None and user.role is not role:
            raise ValidationFailed(
                f"{user.email} has role {user.role.value}, not {role.value}",
                hint=f"use --role {user.role.value} for a key that acts for this user",
            )
        record = users.add_api_key(
            conn,
            name=name,
            role=role,
            prefix=credentials.display_prefix(key),
            key_hash=credentials.key_hash(key),
            now=now,
            user_id=user.id if user else None,
        )
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="api_key.created",
            target=name,
            detail={"role": role.value, "prefix": record.prefix},
        )
    return NewSecret(secret=key, record=record)


def api_key_for(ws: Workspace, secret: str) -> ApiKey | None:
    with ws.db.read() as conn:
        return users.api_key_by_hash(conn, credentials.key_hash(secret))


def add_source(ws: Workspace, *, name: str, actor: str = "cli") -> NewSecret:
    key = credentials.new_write_key()
    now = ws.clock.now()
    with ws.db.begin() as conn:
        source = users.add_source(
            conn, name=name, write_key_hash=credentials.key_hash(key), now=now
        )
        audit.record(conn, at=now, actor=actor, action="source.added", target=name)
    return NewSecret(secret=key, record=source)


def set_active(ws: Workspace, email: str, *, active: bool, actor: str = "cli") -> User:
    """Activate or deactivate a user (an inactive rep never receives a lead)."""
    now = ws.clock.now()
    with ws.db.begin() as conn:
        user = users.require_user(conn, normalize_email(email))
        users.set_active(conn, user.id, active, now)
        audit.record(
            conn,
            at=now,
            actor=actor,
            action="user.activated" if active else "user.deactivated",
            target=user.email,
        )
    return user
