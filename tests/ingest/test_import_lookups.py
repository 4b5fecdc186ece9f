"""The set-based lookups of large imports find values whatever characters they hold, on SQLite
and PostgreSQL (which gets them as one array literal)."""

from __future__ import annotations

from datetime import UTC, datetime

from smarketing.services.workspace import Workspace
from smarketing.store import tables
from smarketing.store.crm.common import driver_select_in, identity_owners

AWKWARD = ['a"b', "back\\slash", "x,y", "{braces}", " spaced ", "NULL", "", "ünï", "'quote'"]


def test_lookups_find_awkward_values(workspace: Workspace) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    with workspace.db.begin() as conn:
        person_id = conn.execute(
            tables.people.insert().values(change_seq=0, created_at=now, updated_at=now)
        ).inserted_primary_key[0]
        conn.execute(
            tables.identities.insert(),
            [
                {"person_id": person_id, "kind": "hubspot", "value": v, "created_at": now}
                for v in AWKWARD
            ],
        )
    with workspace.db.read() as conn:
        wanted = {("hubspot", v) for v in [*AWKWARD, "absent"]}
        assert identity_owners(conn, wanted) == {("hubspot", v): person_id for v in AWKWARD}
        rows = driver_select_in(conn, tables.people, ("id",), "id", [person_id, 10**12])
        assert rows == [(person_id,)]
