"""Users, keys, sources, playbook versions and sign-offs on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smarketing.domain import credentials
from smarketing.domain.stages import Role, Team
from smarketing.errors import ConflictError, PermissionDeniedError, ValidationFailed
from smarketing.services import admin, playbooks
from smarketing.services.workspace import Workspace
from smarketing.store import tables
from smarketing.store import users as users_store


def test_users_have_roles_and_hashed_passwords(workspace: Workspace) -> None:
    admin.add_user(workspace, email=" Mia@Example.COM ", role=Role.MARKETING, password="s3cret")
    with workspace.db.read() as conn:
        user = users_store.user_by_email(conn, "mia@example.com")
        stored = users_store.password_hash_of(conn, "mia@example.com")
    assert user is not None
    assert user.role is Role.MARKETING
    assert stored is not None
    assert "s3cret" not in stored
    assert admin.authenticate_user(workspace, email="mia@example.com", password="s3cret") == user


def test_duplicate_user_is_a_conflict_and_nothing_else_changes(workspace: Workspace) -> None:
    admin.add_user(workspace, email="a@example.com", role=Role.SALES, password="pass")
    with pytest.raises(ConflictError, match="already exists"):
        admin.add_user(workspace, email="A@example.com", role=Role.ADMIN, password="pass")
    with workspace.db.read() as conn:
        assert [u.role for u in users_store.list_users(conn)] == [Role.SALES]


def test_bad_email_is_rejected(workspace: Workspace) -> None:
    with pytest.raises(ValidationFailed):
        admin.add_user(workspace, email="not-an-email", role=Role.SALES, password="pass")


def test_api_key_is_shown_once_and_only_its_hash_is_stored(workspace: Workspace) -> None:
    new = admin.create_api_key(workspace, name="ci", role=Role.VIEWER)
    assert new.secret.startswith("smk_")
    with workspace.db.read() as conn:
        row = conn.execute(select(tables.api_keys)).one()
    assert row.key_hash == credentials.key_hash(new.secret)
    assert new.secret not in {str(v) for v in row}
    found = admin.api_key_for(workspace, new.secret)
    assert found is not None
    assert found.role is Role.VIEWER
    assert admin.api_key_for(workspace, new.secret + "x") is None


def test_sources_get_distinct_write_keys(workspace: Workspace) -> None:
    a = admin.add_source(workspace, name="website")
    b = admin.add_source(workspace, name="app")
    assert a.secret != b.secret
    with pytest.raises(ConflictError):
        admin.add_source(workspace, name="website")


def test_a_version_is_agreed_only_when_both_teams_signed(workspace: Workspace) -> None:
    admin.add_user(workspace, email="m@example.com", role=Role.MARKETING, password="pass")
    admin.add_user(workspace, email="s@example.com", role=Role.SALES, password="pass")
    first = playbooks.sign(workspace, team=Team.MARKETING, user_email="m@example.com")
    assert not first.agreed
    assert first.signed_by == {Team.MARKETING: "m@example.com"}
    both = playbooks.sign(workspace, team=Team.SALES, user_email="s@example.com")
    assert both.agreed
    assert both.number == first.number == 1
    with pytest.raises(ConflictError, match="already signed"):
        playbooks.sign(workspace, team=Team.SALES, user_email="s@example.com")


def test_only_a_member_of_the_team_can_sign_for_it(workspace: Workspace) -> None:
    admin.add_user(workspace, email="s@example.com", role=Role.SALES, password="pass")
    with pytest.raises(PermissionDeniedError, match="not marketing"):
        playbooks.sign(workspace, team=Team.MARKETING, user_email="s@example.com")


def test_a_changed_playbook_is_a_new_unsigned_version(workspace: Workspace) -> None:
    admin.add_user(workspace, email="m@example.com", role=Role.MARKETING, password="pass")
    playbooks.sign(workspace, team=Team.MARKETING, user_email="m@example.com")
    path = workspace.settings.playbook_path
    path.write_text(path.read_text().replace("min_score: 60", "min_score: 65"))
    current = playbooks.current_version(workspace)
    assert current.number == 2
    assert current.signed_by == {}
    assert [v.number for v in playbooks.versions(workspace)] == [1, 2]


def test_every_change_is_in_the_audit_log(workspace: Workspace) -> None:
    admin.add_user(workspace, email="m@example.com", role=Role.MARKETING, password="pass")
    admin.create_api_key(workspace, name="k", role=Role.ADMIN)
    playbooks.sign(workspace, team=Team.MARKETING, user_email="m@example.com")
    with workspace.db.read() as conn:
        actions = [r.action for r in conn.execute(select(tables.audit_log).order_by("id"))]
    assert actions == ["user.added", "api_key.created", "playbook.signed"]
