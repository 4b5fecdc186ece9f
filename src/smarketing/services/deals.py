"""Deals and customers: open a deal (opportunity), win it (customer) or lose it with a reason;
renewals and expansions; churn and win-back; evangelists whose referrals are touchpoints."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from smarketing.domain.identity import normalize_email
from smarketing.domain.model import Deal, DealStatus, DealType
from smarketing.domain.stages import Stage
from smarketing.domain.touches import TouchKind
from smarketing.errors import NotFoundError, ValidationFailed
from smarketing.services import webhooks
from smarketing.services.access import Actor, require_seller, team_of
from smarketing.services.lifecycle import Change, change_in, move_if_allowed
from smarketing.services.workspace import Workspace
from smarketing.store import deals as store
from smarketing.store import identity, tracking
from smarketing.store import people as people_store

CLOSED_WON, CLOSED_LOST = "closedwon", "closedlost"
REFERRAL_CHANNEL = "Peer Referral"


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed(f"amount {value!r} is not a number") from None
    if amount < 0:
        raise ValidationFailed(f"amount {amount} is negative")
    return amount.quantize(Decimal("0.01"))


def _currency(value: str) -> str:
    if len(value) != 3 or not value.isalpha():
        raise ValidationFailed(f"currency {value!r} is not an ISO 4217 code", hint="e.g. USD, EUR")
    return value.upper()


def _person(c: Change, person_id: int) -> dict[str, Any]:
    record = people_store.person_record(c.conn, person_id)
    if not record["person"] or record["person"].get("merged_into_id"):
        raise NotFoundError(f"no person {person_id}", hint="find people with GET /api/people")
    return record["person"]


def _deal_visible(ws: Workspace, c: Change, actor: Actor, deal_id: int) -> Deal:
    deal = store.get(c.conn, deal_id)
    team = team_of(c.conn, actor)
    if deal is None or (team is not None and deal.owner_id not in team):
        raise NotFoundError(f"no deal {deal_id}")
    return deal


def get_deal(ws: Workspace, actor: Actor, deal_id: int) -> Deal:
    """A deal `actor` may read: sales reps their own and their team's; marketing, viewers and
    admins every deal (closed-loop reporting is shared; only sales changes deals)."""
    with ws.db.read() as conn:
        deal = store.get(conn, deal_id)
        team = team_of(conn, actor)
    if deal is None or (team is not None and deal.owner_id not in team):
        raise NotFoundError(
            f"no deal {deal_id}",
            hint="deal ids are in the fct_deals table of `smarketing export`",
        )
    return deal


def create_deal(
    ws: Workspace,
    actor: Actor,
    *,
    person_id: int,
    name: str,
    amount: Any = None,
    currency: str = "USD",
    close_date: date | None = None,
    type_: DealType = DealType.NEW,
    stage: str = "appointmentscheduled",
) -> Deal:
    """Open a deal for a person: they become an opportunity (new business)."""
    require_seller(actor, "deals")
    with ws.db.begin() as conn:
        c = change_in(ws, conn, actor.name)
        person = _person(c, person_id)
        deal = store.create(
            conn,
            name=name,
            person_id=person_id,
            account_id=person.get("account_id"),
            owner_id=actor.user_id or person.get("owner_id"),
            amount=_money(amount),
            currency=_currency(currency),
            close_date=close_date,
            type_=type_,
            stage=stage,
            now=c.now,
        )
        if type_ is DealType.NEW:
            move_if_allowed(c, person_id, Stage.OPPORTUNITY, reason=f"deal {deal.id} opened")
        webhooks.emit(conn, "deal.created", _payload(deal), c.now)
    return deal


def update_deal(ws: Workspace, actor: Actor, deal_id: int, patch: dict[str, Any]) -> Deal:
    """Change stage, amount, currency or close date; `status` won/lost closes the deal
    (lost needs `lost_reason`). Winning makes the person a customer (and clears a churn)."""
    require_seller(actor, "deals")
    with ws.db.begin() as conn:
        c = change_in(ws, conn, actor.name)
        deal = _deal_visible(ws, c, actor, deal_id)
        values: dict[str, Any] = {}
        if "amount" in patch:
            values["amount"] = _money(patch["amount"])
        if patch.get("currency"):
            values["currency"] = _currency(patch["currency"])
        if "close_date" in patch:
            values["close_date"] = patch["close_date"]
        if patch.get("stage"):
            values["stage"] = str(patch["stage"])
        status = patch.get("status")
        if status:
            status = DealStatus(status)
            if deal.status is not DealStatus.OPEN and status is not deal.status:
                raise ValidationFailed(f"deal {deal.id} is already {deal.status.value}")
            if status is DealStatus.LOST and not patch.get("lost_reason"):
                raise ValidationFailed(
                    "a lost deal needs a lost_reason",
                    hint="e.g. price, competitor, timing, no decision",
                )
            values["status"] = status.value
            values.setdefault(
                "stage",
                {DealStatus.WON: CLOSED_WON, DealStatus.LOST: CLOSED_LOST}.get(status, deal.stage),
            )
            if status is DealStatus.LOST:
                values["lost_reason"] = str(patch["lost_reason"])
            values.setdefault("close_date", c.now.date())
        updated = store.update_deal(conn, deal.id, values, c.now)
        if status is DealStatus.WON and deal.status is DealStatus.OPEN and updated.person_id:
            move_if_allowed(c, updated.person_id, Stage.CUSTOMER, reason=f"deal {deal.id} won")
            identity.update_person(
                conn, updated.person_id, {"churned_at": None, "churn_reason": None}, c.now
            )
            webhooks.emit(conn, "deal.won", _payload(updated), c.now)
        elif status is DealStatus.LOST and deal.status is DealStatus.OPEN:
            webhooks.emit(conn, "deal.lost", _payload(updated), c.now)
    return updated


def churn(ws: Workspace, actor: Actor, person_id: int, *, at: datetime | None, reason: str) -> None:
    """A customer left: recorded with date and reason (a later won deal wins them back)."""
    if not reason.strip():
        raise ValidationFailed("a churn needs a reason")
    with ws.db.begin() as conn:
        c = change_in(ws, conn, actor.name)
        person = _person(c, person_id)
        if person.get("stage") not in (Stage.CUSTOMER.value, Stage.EVANGELIST.value):
            raise ValidationFailed(f"person {person_id} is {person.get('stage')}, not a customer")
        identity.update_person(
            conn, person_id, {"churned_at": at or c.now, "churn_reason": reason}, c.now
        )
        webhooks.emit(
            conn,
            "customer.churned",
            {"person_id": person_id, "reason": reason, "at": (at or c.now).isoformat()},
            c.now,
        )


def refer(ws: Workspace, actor: Actor, referrer_id: int, *, email: str) -> int:
    """A customer refers a peer: the referral is a touchpoint of the referred person, and the
    referrer becomes an evangelist. Returns the referred person's id."""
    email = normalize_email(email)
    with ws.db.begin() as conn:
        c = change_in(ws, conn, actor.name)
        referrer = _person(c, referrer_id)
        if referrer.get("stage") not in (Stage.CUSTOMER.value, Stage.EVANGELIST.value):
            raise ValidationFailed(
                f"person {referrer_id} is not a customer; only customers refer as evangelists"
            )
        owner = identity.owners(conn, [("email", email)]).get(("email", email))
        if owner is None:
            (owner,) = identity.create_people(conn, [c.now], c.now)
            identity.claim_identities(conn, [(("email", email), owner)], c.now)
            identity.set_emails(conn, {owner: email}, c.now)
            move_if_allowed(c, owner, Stage.LEAD, reason=f"referred by person {referrer_id}")
        identity.update_person(conn, owner, {"referred_by_id": referrer_id}, c.now)
        tracking.insert_touchpoints(
            conn,
            [
                {
                    "person_id": owner,
                    "anonymous_id": None,
                    "account_id": None,
                    "event_id": None,
                    "occurred_at": c.now,
                    "kind": TouchKind.REFERRAL.value,
                    "name": "Peer Referral",
                    "channel": REFERRAL_CHANNEL,
                    "ruleset_version": "referral",
                    "source": "referral",
                    "medium": "peer",
                    "campaign": None,
                    "campaign_id": None,
                    "content_id": None,
                    "team": "marketing",
                    "url": None,
                    "referrer": None,
                    "properties": {"referrer_id": referrer_id},
                }
            ],
        )
        move_if_allowed(c, referrer_id, Stage.EVANGELIST, reason=f"referred {email}")
        webhooks.emit(
            conn, "person.referred", {"referrer_id": referrer_id, "person_id": owner}, c.now
        )
    return int(owner)


def _payload(deal: Deal) -> dict[str, Any]:
    return {
        "deal_id": deal.id,
        "person_id": deal.person_id,
        "account_id": deal.account_id,
        "name": deal.name,
        "status": deal.status.value,
        "stage": deal.stage,
        "type": deal.type.value,
        "amount": str(deal.amount) if deal.amount is not None else None,
        "currency": deal.currency,
        "lost_reason": deal.lost_reason,
    }
