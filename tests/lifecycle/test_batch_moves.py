"""Moves made a batch at a time (the tracking processor's MQLs) are all-or-nothing, and each
is recorded as one move alone would be."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smarketing.domain.stages import Stage
from smarketing.errors import ValidationFailed
from smarketing.services.lifecycle import change_in, move, move_many
from smarketing.services.workspace import Workspace
from smarketing.store import identity
from smarketing.store.tables import people, transitions


def _people(ws: Workspace, count: int) -> list[int]:
    now = ws.clock.now()
    with ws.db.begin() as conn:
        return identity.create_people(conn, [now] * count, now)


def test_a_batch_records_each_move_and_answers_the_old_stages(workspace: Workspace) -> None:
    first, second = _people(workspace, 2)
    with workspace.db.begin() as conn:
        move(change_in(workspace, conn, "test"), second, Stage.LEAD, reason="signed up")
    with workspace.db.begin() as conn:
        c = change_in(workspace, conn, "test")
        olds = move_many(c, [(first, Stage.LEAD, "form", None), (second, Stage.MQL, "score", None)])
    assert olds == [None, Stage.LEAD]
    with workspace.db.read() as conn:
        stages = dict(conn.execute(select(people.c.id, people.c.stage)).all())
        moved = conn.execute(
            select(transitions.c.person_id, transitions.c.from_stage, transitions.c.to_stage,
                   transitions.c.reason).order_by(transitions.c.id)
        ).all()  # fmt: skip
    assert stages == {first: "lead", second: "mql"}
    assert [tuple(m) for m in moved] == [
        (second, None, "lead", "signed up"),
        (first, None, "lead", "form"),
        (second, "lead", "mql", "score"),
    ]


def test_a_forbidden_move_writes_nothing_of_its_batch(workspace: Workspace) -> None:
    first, second = _people(workspace, 2)
    with workspace.db.begin() as conn:
        move(change_in(workspace, conn, "test"), second, Stage.SQL, reason="qualified")

    def batch() -> None:
        with workspace.db.begin() as conn:
            c = change_in(workspace, conn, "test")
            move_many(c, [(first, Stage.LEAD, "form", None), (second, Stage.LEAD, "back", None)])

    with pytest.raises(ValidationFailed):
        batch()
    with workspace.db.read() as conn:
        stages = dict(conn.execute(select(people.c.id, people.c.stage)).all())
        count = len(conn.execute(select(transitions.c.id)).all())
    assert stages == {first: None, second: "sql"}
    assert count == 1
