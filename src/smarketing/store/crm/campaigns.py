"""Campaigns keyed by `salesforce_id` (then by their unique name), and campaign responses as
touchpoints: kind `event`, name "Campaign Responded", team marketing, ruleset
`salesforce-import`; one per (person, campaign), so a re-import adds nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Connection, select

from smarketing.store.crm.common import (
    IMPORTED,
    UNCHANGED,
    IdentityRef,
    RowOutcome,
    WriteContext,
    person_ids,
    rejected,
    select_in,
    update_by_id,
)
from smarketing.store.tables import campaigns, people, touchpoints

FIELDS = ("name", "channel", "kind", "cost", "start_date", "end_date", "salesforce_id")
RESPONSE_RULESET = "salesforce-import"
RESPONSE_NAME = "Campaign Responded"
OTHER_CAMPAIGNS = "Other Campaigns"


class CampaignInput(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def salesforce_id(self) -> str | None: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def kind(self) -> str | None: ...
    @property
    def cost(self) -> Decimal | None: ...
    @property
    def start_date(self) -> date | None: ...
    @property
    def end_date(self) -> date | None: ...
    @property
    def created_at(self) -> datetime | None: ...


class ResponseInput(Protocol):
    @property
    def campaign_salesforce_id(self) -> str: ...
    @property
    def people(self) -> Sequence[IdentityRef]: ...
    @property
    def responded_at(self) -> datetime: ...
    @property
    def member_id(self) -> str | None: ...
    @property
    def member_status(self) -> str | None: ...


def upsert_campaigns(
    conn: Connection, records: Sequence[CampaignInput], ctx: WriteContext
) -> list[RowOutcome]:
    columns = [campaigns.c.id, *(campaigns.c[c] for c in FIELDS)]
    state: dict[int, dict[str, Any]] = {}
    for column in ("salesforce_id", "name"):
        wanted = {getattr(r, column) for r in records}
        for row in select_in(conn, columns, campaigns.c[column], wanted):
            state[row.id] = dict(zip(FIELDS, row[1:], strict=True))
    loaded = {k: dict(v) for k, v in state.items()}
    index = {(c, v[c]): k for k, v in state.items() for c in ("salesforce_id", "name") if v[c]}
    created: dict[int, datetime | None] = {}
    outcomes = []
    for r in records:
        by_id = index.get(("salesforce_id", r.salesforce_id)) if r.salesforce_id else None
        by_name = index.get(("name", r.name))
        if (
            by_name is not None
            and by_id != by_name
            and (
                by_id is not None or state[by_name]["salesforce_id"] not in (None, r.salesforce_id)
            )
        ):
            outcomes.append(rejected("name", f"another campaign is named {r.name!r}", r.name))
            continue
        key = by_id if by_id is not None else by_name
        before = None if key is None else dict(state[key])
        if key is None:
            key = -1 - len(created)
            created[key] = r.created_at
            state[key] = dict.fromkeys(FIELDS)
        values = state[key]
        for name in FIELDS:
            value = getattr(r, name)
            if value is not None:
                values[name] = value
        index[("name", r.name)] = key
        if r.salesforce_id:
            index[("salesforce_id", r.salesforce_id)] = key
        outcomes.append(IMPORTED if before is None or values != before else UNCHANGED)
    now = ctx.now
    inserts = [
        {**state[k], "currency": ctx.default_currency, "created_at": created[k] or now,
         "updated_at": now}
        for k in created
    ]  # fmt: skip
    if inserts:
        conn.execute(campaigns.insert(), inserts)
    changed = [
        {"row_id": k, **v, "updated_at": now} for k, v in state.items() if k > 0 and v != loaded[k]
    ]
    update_by_id(conn, campaigns, changed)
    return outcomes


def insert_campaign_responses(
    conn: Connection, records: Sequence[ResponseInput], ctx: WriteContext
) -> list[RowOutcome]:
    """One touchpoint per (person, campaign) response; unknown campaigns or people reject."""
    found = {
        row.salesforce_id: row
        for row in select_in(
            conn,
            [campaigns.c.id, campaigns.c.salesforce_id, campaigns.c.name, campaigns.c.channel],
            campaigns.c.salesforce_id,
            {r.campaign_salesforce_id for r in records},
        )
    }
    persons = person_ids(conn, [ref for r in records for ref in r.people])
    person_accounts = dict(
        select_in(conn, [people.c.id, people.c.account_id], people.c.id, persons.values())
    )
    existing = set()
    if found and persons:
        query = select(touchpoints.c.person_id, touchpoints.c.campaign_id).where(
            touchpoints.c.ruleset_version == RESPONSE_RULESET,
            touchpoints.c.campaign_id.in_([row.id for row in found.values()]),
            touchpoints.c.person_id.in_(sorted(set(persons.values()))),
        )
        existing = {(p, c) for p, c in conn.execute(query)}
    outcomes: list[RowOutcome] = []
    rows: list[dict[str, Any]] = []
    for r in records:
        campaign = found.get(r.campaign_salesforce_id)
        if campaign is None:
            value = r.campaign_salesforce_id
            reason = f"unknown Salesforce campaign id {value}: import the campaigns first"
            outcomes.append(rejected("campaign_id", reason, value))
            continue
        person_id = next(
            (persons[k] for ref in r.people if (k := (str(ref.kind), ref.value)) in persons), None
        )
        if person_id is None:
            ids = " / ".join(ref.value for ref in r.people)
            reason = f"unknown Salesforce lead or contact id {ids}: import leads and contacts first"
            outcomes.append(rejected("lead_id", reason, ids))
            continue
        if (person_id, campaign.id) in existing:
            outcomes.append(UNCHANGED)
            continue
        existing.add((person_id, campaign.id))
        properties = {
            "salesforce_campaign_member_id": r.member_id,
            "member_status": r.member_status,
        }
        rows.append(
            {"person_id": person_id, "account_id": person_accounts.get(person_id),
             "occurred_at": r.responded_at, "kind": "event", "name": RESPONSE_NAME,
             "channel": campaign.channel or OTHER_CAMPAIGNS, "ruleset_version": RESPONSE_RULESET,
             "source": "salesforce", "campaign": campaign.name, "campaign_id": campaign.id,
             "team": "marketing", "properties": {k: v for k, v in properties.items() if v}}
        )  # fmt: skip
        outcomes.append(IMPORTED)
    if rows:
        conn.execute(touchpoints.insert(), rows)
    return outcomes
