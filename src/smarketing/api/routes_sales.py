"""Sales feedback: hand-offs (accept, reject with reason, qualify, activities), deals, churn and
referrals. Sales keys act for their user and see their own and their team's records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from smarketing.api.deps import ANY_ROLE, Caller, RecordId, WorkspaceDep, require
from smarketing.api.routes_people import Limit, PageOut
from smarketing.domain.lifecycle import HandoffStatus
from smarketing.domain.model import Deal, DealType, Handoff
from smarketing.domain.stages import Role
from smarketing.domain.touches import TouchKind
from smarketing.services import deals, handoffs
from smarketing.services.access import Actor
from smarketing.store.handoffs import HandoffFilter

router = APIRouter(prefix="/api", tags=["sales"])
Reader = Annotated[Caller, Depends(require(*ANY_ROLE))]
Seller = Annotated[Caller, Depends(require(Role.SALES))]


def _actor(caller: Caller) -> Actor:
    return Actor(name=caller.name, role=caller.role, user_id=caller.user_id)


class ClockPublic(BaseModel):
    kind: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None
    breached_at: datetime | None
    escalated_to_id: int | None


class HandoffPublic(BaseModel):
    id: int
    person_id: int
    owner_id: int | None
    status: str
    rule_id: str | None
    fast_track: bool
    assigned_at: datetime
    first_touched_at: datetime | None
    accepted_at: datetime | None
    rejected_at: datetime | None
    reject_reason: str | None
    note: str | None
    qualification: dict[str, Any] | None
    breached: bool
    clocks: list[ClockPublic]


def _handoff(h: Handoff) -> HandoffPublic:
    return HandoffPublic(
        **{k: getattr(h, k) for k in HandoffPublic.model_fields if k not in ("clocks", "breached")},
        breached=h.breached,
        clocks=[
            ClockPublic(**{k: getattr(c, k) for k in ClockPublic.model_fields}) for c in h.clocks
        ],
    )


@router.get("/handoffs")
def list_handoffs(
    ws: WorkspaceDep,
    caller: Reader,
    limit: Limit,
    cursor: str | None = None,
    status: HandoffStatus | None = None,
    owner: RecordId | None = None,
    breached: bool | None = None,
) -> PageOut[HandoffPublic]:
    """Hand-offs with their SLA clocks; sales see their own and their team's."""
    f = HandoffFilter(
        status=status, owner_ids=frozenset({owner}) if owner else None, breached=breached
    )
    page = handoffs.list_handoffs(ws, _actor(caller), f, cursor=cursor, limit=limit)
    return PageOut[HandoffPublic](
        data=[_handoff(h) for h in page.data], has_more=page.has_more, next_cursor=page.next_cursor
    )


@router.get("/handoffs/{handoff_id}")
def get_handoff(ws: WorkspaceDep, caller: Reader, handoff_id: RecordId) -> HandoffPublic:
    return _handoff(handoffs.get_handoff(ws, _actor(caller), handoff_id))


@router.post("/handoffs/{handoff_id}/accept")
def accept(ws: WorkspaceDep, caller: Seller, handoff_id: RecordId) -> HandoffPublic:
    """Sales accepts the MQL (it becomes a SAL); stops the accept clock."""
    return _handoff(handoffs.accept(ws, _actor(caller), handoff_id))


class Rejection(BaseModel):
    reason: str | None = Field(default=None, description="A reject reason id from the playbook.")
    note: str | None = None


@router.post("/handoffs/{handoff_id}/reject")
def reject(
    ws: WorkspaceDep, caller: Seller, handoff_id: RecordId, body: Rejection
) -> HandoffPublic:
    """Sales rejects the MQL with a reason from the playbook's list (recycled or disqualified)."""
    return _handoff(
        handoffs.reject(ws, _actor(caller), handoff_id, reason=body.reason, note=body.note)
    )


@router.post("/handoffs/{handoff_id}/qualify")
def qualify(
    ws: WorkspaceDep, caller: Seller, handoff_id: RecordId, body: dict[str, Any]
) -> HandoffPublic:
    """Record the qualification fields (BANT by default): the lead becomes an SQL."""
    return _handoff(handoffs.qualify(ws, _actor(caller), handoff_id, body))


class Activity(BaseModel):
    kind: Literal["call", "meeting", "sales_email"]
    name: str | None = None


@router.post("/handoffs/{handoff_id}/activities")
def log_activity(
    ws: WorkspaceDep, caller: Seller, handoff_id: RecordId, body: Activity
) -> HandoffPublic:
    """Log a call, meeting or email: a sales touchpoint; the first stops the first-touch clock."""
    return _handoff(
        handoffs.log_activity(
            ws, _actor(caller), handoff_id, kind=TouchKind(body.kind), name=body.name
        )
    )


class DealCreate(BaseModel):
    person_id: RecordId
    name: str = Field(min_length=1, max_length=300)
    amount: Decimal | None = Field(default=None, ge=0, lt=Decimal(10**16))
    currency: str = "USD"
    close_date: date | None = None
    type: DealType = DealType.NEW
    stage: str = "appointmentscheduled"


class DealPatch(BaseModel):
    stage: str | None = None
    amount: Decimal | None = Field(default=None, ge=0, lt=Decimal(10**16))
    currency: str | None = None
    close_date: date | None = None
    status: Literal["open", "won", "lost"] | None = None
    lost_reason: str | None = None


class DealPublic(BaseModel):
    id: int
    name: str
    person_id: int | None
    account_id: int | None
    owner_id: int | None
    status: str
    stage: str
    type: str
    amount: Decimal | None
    currency: str
    close_date: date | None
    lost_reason: str | None


def _deal(d: Deal) -> DealPublic:
    return DealPublic(
        id=d.id,
        name=d.name,
        person_id=d.person_id,
        account_id=d.account_id,
        owner_id=d.owner_id,
        status=d.status.value,
        stage=d.stage,
        type=d.type.value,
        amount=d.amount,
        currency=d.currency,
        close_date=d.close_date,
        lost_reason=d.lost_reason,
    )


@router.post("/deals", status_code=201)
def create_deal(ws: WorkspaceDep, caller: Seller, body: DealCreate) -> DealPublic:
    """Open a deal (new business makes the person an opportunity)."""
    return _deal(
        deals.create_deal(
            ws,
            _actor(caller),
            person_id=body.person_id,
            name=body.name,
            amount=body.amount,
            currency=body.currency,
            close_date=body.close_date,
            type_=body.type,
            stage=body.stage,
        )
    )


@router.patch("/deals/{deal_id}")
def update_deal(ws: WorkspaceDep, caller: Seller, deal_id: RecordId, body: DealPatch) -> DealPublic:
    """Change a deal; `status: won` makes a customer, `lost` needs a `lost_reason`."""
    return _deal(
        deals.update_deal(ws, _actor(caller), deal_id, body.model_dump(exclude_unset=True))
    )


class Churn(BaseModel):
    reason: str = Field(min_length=1)
    at: datetime | None = None


@router.post("/people/{person_id}/churn", status_code=204)
def churn(ws: WorkspaceDep, caller: Seller, person_id: RecordId, body: Churn) -> None:
    """A customer left (date and reason); a later won deal wins them back."""
    deals.churn(ws, _actor(caller), person_id, at=body.at, reason=body.reason)


class Referral(BaseModel):
    email: str


class Referred(BaseModel):
    person_id: int


@router.post("/people/{person_id}/referrals", status_code=201)
def refer(
    ws: WorkspaceDep,
    caller: Annotated[Caller, Depends(require(Role.SALES, Role.MARKETING))],
    person_id: RecordId,
    body: Referral,
) -> Referred:
    """A customer referred a peer: a touchpoint of the referred person; referrer -> evangelist."""
    return Referred(person_id=deals.refer(ws, _actor(caller), person_id, email=body.email))
