"""The processor's bulk writes do what one statement per row and per kind of change did:
people changes in one UPDATE (change_seq counted per kind), identity claims that report the
owner of every key, domain accounts, and channel memoisation that keeps 1, 1.0 and True apart."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from smarketing.domain.stages import Stage
from smarketing.ingest.segment import parse_event
from smarketing.ingest.touches import draft_touch
from smarketing.services import admin
from smarketing.services.tracking import Tracker
from smarketing.services.workspace import Workspace
from smarketing.store import identity, tracking
from smarketing.store.tables import accounts, events, people

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _person(ws: Workspace, pid: int) -> dict[str, object]:
    with ws.db.read() as conn:
        row = conn.execute(select(people).where(people.c.id == pid)).one()
    return dict(row._mapping)


def test_update_people_counts_each_kind_of_change_and_keeps_existing_emails(
    workspace: Workspace,
) -> None:
    with workspace.db.begin() as conn:
        a, b, c = identity.create_people(conn, [NOW] * 3, NOW)
        identity.set_emails(conn, {b: "b@corp.example"}, NOW)
    later = datetime(2026, 3, 3, tzinfo=UTC)
    with workspace.db.begin() as conn:
        account = tracking.create_domain_accounts(conn, ["corp.example"], NOW)["corp.example"]
        identity.update_people(
            conn,
            {
                a: identity.PersonChange(
                    email="a@corp.example",
                    profile={"first_name": "Ada", "title": "CTO"},
                    stage=Stage.LEAD.value,
                    account_id=account,
                ),
                b: identity.PersonChange(email="other@corp.example"),  # has one: untouched
                c: identity.PersonChange(profile={"country": "DE"}),
            },
            later,
        )
    first, second, third = (_person(workspace, p) for p in (a, b, c))
    assert (first["email"], first["first_name"], first["title"]) == ("a@corp.example", "Ada", "CTO")
    assert (first["stage"], first["account_id"], first["change_seq"]) == ("lead", account, 4)
    assert first["updated_at"] == later
    assert (second["email"], second["change_seq"], second["updated_at"]) == (
        "b@corp.example",
        1,
        NOW,
    )
    assert (third["country"], third["first_name"], third["change_seq"]) == ("DE", None, 1)


def test_claims_report_the_owner_of_every_key_new_or_taken(workspace: Workspace) -> None:
    with workspace.db.begin() as conn:
        a, b = identity.create_people(conn, [NOW, NOW], NOW)
        assert identity.claim_identities(conn, [(("email", "x@y.example"), a)], NOW) == {
            ("email", "x@y.example"): a
        }
        owners = identity.claim_identities(
            conn, [(("email", "x@y.example"), b), (("user_id", "u1"), b)], NOW
        )
    assert owners == {("email", "x@y.example"): a, ("user_id", "u1"): b}


def test_domain_accounts_are_made_once_and_named_after_their_domain(
    workspace: Workspace,
) -> None:
    with workspace.db.begin() as conn:
        first = tracking.create_domain_accounts(conn, ["a.example", "b.example"], NOW)
        again = tracking.create_domain_accounts(conn, ["a.example"], NOW)
        names = dict(conn.execute(select(accounts.c.domain, accounts.c.name)).all())
    assert again == {"a.example": first["a.example"]}
    assert names == {"a.example": "a.example", "b.example": "b.example"}


def test_channel_memo_keeps_numbers_and_booleans_apart() -> None:
    def campaign(value: object) -> str | None:
        event = parse_event(
            {
                "type": "track",
                "event": "Clicked",
                "messageId": f"m-{value!r}",
                "anonymousId": "a",
                "context": {"campaign": {"source": "news", "medium": "email", "name": value}},
            },
            received_at=NOW,
        )
        draft = draft_touch(event)
        assert draft is not None
        return draft.campaign

    assert [campaign(v) for v in ("1", 1, 1.0, True, "1")] == ["1", "1", "1.0", None, "1"]


def test_accepted_events_are_stored_as_sent_whatever_their_text(workspace: Workspace) -> None:
    """The accept path writes a group's rows in one statement (on PostgreSQL as one JSON
    array with the payloads embedded): quotes, backslashes, non-Latin text, emoji, numbers
    and nesting come back as they were sent, with the times and ids in their columns."""
    key = admin.add_source(workspace, name="website").secret
    tracker = Tracker(workspace, inline=False)
    source = tracker.source_for(key)
    tricky = {
        "quote": 'say "hi"',
        "backslash": "C:\\path\\n",
        "text": "Zürich · 東京 · 🚀",
        "numbers": [1, 1.5, -0.0, 10**15],
        "nested": {"flag": True, "none": None, "empty": ""},
    }
    item = {
        "type": "track",
        "messageId": "m-1",
        "userId": "user'1",
        "event": 'Price "Checked"',
        "properties": tricky,
        "originalTimestamp": "2026-03-02T09:00:00.123456Z",
    }
    result = tracker.ingest(source, [item], received_at=NOW)
    assert result.count("stored") == 1
    with workspace.db.read() as conn:
        row = conn.execute(select(events).where(events.c.message_id == "m-1")).one()
        (payload,) = tracking.event_payloads(conn, [row.id]).values()
    assert (row.user_id, row.event, row.source_id) == ("user'1", 'Price "Checked"', source.id)
    assert row.timestamp == datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    assert row.received_at == NOW
    assert payload["properties"] == tricky
    assert tracker.ingest(source, [item], received_at=NOW).count("duplicate") == 1
