"""Users, API keys and tracking sources (write keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import IntegrityError

from smarketing.domain.model import ApiKey, Source, User
from smarketing.domain.stages import Role
from smarketing.errors import ConflictError, NotFoundError
from smarketing.store.tables import api_keys, sources, users


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        email=row.email,
        name=row.name,
        role=Role(row.role),
        active=row.active,
        manager_id=row.manager_id,
    )


def add_user(
    conn: Connection,
    *,
    email: str,
    name: str,
    role: Role,
    password_hash: str,
    now: datetime,
    manager_id: int | None = None,
) -> User:
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                users.insert().values(
                    email=email,
                    name=name,
                    role=role.value,
                    password_hash=password_hash,
                    active=True,
                    manager_id=manager_id,
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key
    except IntegrityError:
        raise ConflictError(
            f"a user with email {email} already exists",
            hint="pick another email, or change the existing user",
        ) from None
    assert new_id is not None
    return User(id=new_id[0], email=email, name=name, role=role, manager_id=manager_id)


def user_by_email(conn: Connection, email: str) -> User | None:
    row = conn.execute(select(users).where(users.c.email == email)).first()
    return _user(row) if row else None


def require_user(conn: Connection, email: str) -> User:
    user = user_by_email(conn, email)
    if user is None:
        raise NotFoundError(
            f"no user {email}", hint="list users with `smarketing users list` or add one"
        )
    return user


def password_hash_of(conn: Connection, email: str) -> str | None:
    return conn.execute(select(users.c.password_hash).where(users.c.email == email)).scalar()


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def set_active(conn: Connection, user_id: int, active: bool, now: datetime) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(active=active, updated_at=now))


def add_api_key(
    conn: Connection,
    *,
    name: str,
    role: Role,
    prefix: str,
    key_hash: str,
    now: datetime,
    user_id: int | None = None,
) -> ApiKey:
    new_id = conn.execute(
        api_keys.insert().values(
            name=name,
            role=role.value,
            prefix=prefix,
            key_hash=key_hash,
            created_at=now,
            user_id=user_id,
        )
    ).inserted_primary_key
    assert new_id is not None
    return ApiKey(
        id=new_id[0], name=name, role=role, prefix=prefix, created_at=now, user_id=user_id
    )


def api_key_by_hash(conn: Connection, key_hash: str) -> ApiKey | None:
    row = conn.execute(
        select(api_keys).where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return ApiKey(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        user_id=row.user_id,
    )


def add_source(conn: Connection, *, name: str, write_key_hash: str, now: datetime) -> Source:
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                sources.insert().values(name=name, write_key_hash=write_key_hash, created_at=now)
            ).inserted_primary_key
    except IntegrityError:
        raise ConflictError(
            f"a source named {name!r} already exists", hint="pick another name"
        ) from None
    assert new_id is not None
    return Source(id=new_id[0], name=name, created_at=now)


def source_by_key_hash(conn: Connection, write_key_hash: str) -> Source | None:
    row = conn.execute(select(sources).where(sources.c.write_key_hash == write_key_hash)).first()
    return Source(id=row.id, name=row.name, created_at=row.created_at) if row else None
