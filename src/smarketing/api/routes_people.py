"""Read API: people, accounts, touchpoints, failed events; undo a merge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from smarketing.api.deps import ANY_ROLE, Caller, RecordId, WorkspaceDep, require
from smarketing.domain.stages import Role, Stage
from smarketing.services import people
from smarketing.services.tracking_status import tracking_status
from smarketing.store.pagination import Page
from smarketing.store.people import PeopleFilter

router = APIRouter(prefix="/api", tags=["people"])
T = TypeVar("T")
Reader = Annotated[Caller, Depends(require(*ANY_ROLE))]


class PageOut(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    next_cursor: str | None


def _out(page: Page[Any], convert: Any) -> dict[str, Any]:
    return {
        "data": [convert(x) for x in page.data],
        "has_more": page.has_more,
        "next_cursor": page.next_cursor,
    }


def limit_param(ws: WorkspaceDep, limit: Annotated[int, Query(ge=1)] = 100) -> int:
    from smarketing.errors import ValidationFailed

    cap = ws.settings.max_page_size
    if limit > cap:
        raise ValidationFailed(
            f"limit {limit} is above the maximum {cap}", hint=f"use limit<={cap}"
        )
    return limit


Limit = Annotated[int, Depends(limit_param)]


class PersonPublic(BaseModel):
    id: int
    email: str | None
    stage: Stage | None
    first_name: str | None
    last_name: str | None
    title: str | None
    account_id: int | None
    owner_id: int | None
    created_at: datetime | None
    updated_at: datetime | None


class IdentityPublic(BaseModel):
    kind: str
    value: str


class ScorePublic(BaseModel):
    fit: float
    engagement: float
    total: float
    computed_at: datetime


class AccountPublic(BaseModel):
    id: int
    name: str
    domain: str | None
    industry: str | None
    employees: int | None
    owner_id: int | None


class PersonDetailPublic(PersonPublic):
    identities: list[IdentityPublic]
    score: ScorePublic | None
    account: AccountPublic | None
    merged_into_id: int | None


class TouchpointPublic(BaseModel):
    id: int
    person_id: int | None
    anonymous_id: str | None
    account_id: int | None
    occurred_at: datetime
    kind: str
    name: str | None
    channel: str
    team: str
    source: str | None
    medium: str | None
    campaign: str | None
    content_id: int | None
    url: str | None
    ruleset_version: str | None


class FailedEventPublic(BaseModel):
    id: int
    source_id: int | None
    received_at: datetime
    reason: str
    payload: str
    replayed_at: datetime | None


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@router.get("/people")
def list_people(
    ws: WorkspaceDep,
    _c: Reader,
    limit: Limit,
    cursor: str | None = None,
    email: str | None = None,
    stage: Stage | None = None,
    owner: RecordId | None = None,
    account_id: RecordId | None = None,
    updated_since: datetime | None = None,
) -> PageOut[PersonPublic]:
    """People (merged-away records excluded), oldest first, with cursor pagination."""
    f = PeopleFilter(
        email=email, stage=stage, owner_id=owner, account_id=account_id, updated_since=updated_since
    )
    page = people.list_people(ws, f, cursor=cursor, limit=limit)
    return PageOut[PersonPublic].model_validate(_out(page, _person))


def _person(p: Any) -> dict[str, Any]:
    return {k: v for k, v in _fields(p).items() if k in PersonPublic.model_fields}


@router.get("/people/{person_id}")
def get_person(ws: WorkspaceDep, _c: Reader, person_id: RecordId) -> PersonDetailPublic:
    """A person with identities, stage, owner, scores and account."""
    d = people.get_person(ws, person_id)
    return PersonDetailPublic.model_validate(
        {
            **_person(d.person),
            "identities": [{"kind": i.kind.value, "value": i.value} for i in d.identities],
            "score": _fields(d.score) if d.score else None,
            "account": _fields(d.account) if d.account else None,
            "merged_into_id": d.merged_into_id,
        }
    )


@router.get("/accounts")
def list_accounts(
    ws: WorkspaceDep,
    _c: Reader,
    limit: Limit,
    cursor: str | None = None,
    domain: str | None = None,
) -> PageOut[AccountPublic]:
    page = people.list_accounts(ws, domain=domain, cursor=cursor, limit=limit)
    return PageOut[AccountPublic].model_validate(_out(page, _fields))


@router.get("/touchpoints")
def list_touchpoints(
    ws: WorkspaceDep,
    _c: Reader,
    limit: Limit,
    cursor: str | None = None,
    person_id: RecordId | None = None,
    account_id: RecordId | None = None,
    channel: str | None = None,
    since: datetime | None = None,
) -> PageOut[TouchpointPublic]:
    """Touchpoints with their channel (and the ruleset version that chose it)."""
    page = people.list_touchpoints(
        ws,
        person_id=person_id,
        account_id=account_id,
        channel=channel,
        since=since,
        cursor=cursor,
        limit=limit,
    )
    return PageOut[TouchpointPublic].model_validate(
        _out(page, lambda t: {**_fields(t), "team": t.team.value})
    )


@router.get("/failed-events")
def list_failed_events(
    ws: WorkspaceDep,
    _c: Annotated[Caller, Depends(require(Role.MARKETING))],
    limit: Limit,
    cursor: str | None = None,
) -> PageOut[FailedEventPublic]:
    """Tracked events that failed validation, with the reason and raw payload."""
    page = people.list_failed_events(ws, cursor=cursor, limit=limit)
    return PageOut[FailedEventPublic].model_validate(_out(page, _fields))


class TrackingStatusPublic(BaseModel):
    waiting: int
    oldest_waiting_received_at: datetime | None
    lag_s: float
    queue_limit: int
    refusing: bool
    failed_to_replay: int


@router.get("/tracking/status", tags=["tracking"])
def get_tracking_status(
    ws: WorkspaceDep, _c: Annotated[Caller, Depends(require(*ANY_ROLE))]
) -> TrackingStatusPublic:
    """Whether processing keeps up: events waiting (and the oldest one's wait), the queue's
    limit (past it `/v1` answers 429), failed events waiting for a replay."""
    status = tracking_status(ws)
    return TrackingStatusPublic(
        **{k: getattr(status, k) for k in TrackingStatusPublic.model_fields}
    )


class MergeUndone(BaseModel):
    survivor_id: int
    restored_id: int


@router.post("/merges/{merge_id}/undo")
def undo_merge(
    ws: WorkspaceDep, caller: Annotated[Caller, Depends(require(Role.ADMIN))], merge_id: RecordId
) -> MergeUndone:
    """Reverse a merge of two people (admins only)."""
    survivor, restored = people.undo_merge(ws, merge_id, actor=caller.name)
    return MergeUndone(survivor_id=survivor, restored_id=restored)


class ImportRunPublic(BaseModel):
    id: int
    kind: str
    file_name: str
    status: str
    rows_read: int
    rows_imported: int
    rows_unchanged: int
    rows_rejected: int
    checkpoint_row: int
    errors_file: str | None
    started_at: datetime
    updated_at: datetime


@router.get("/imports/{import_id}", tags=["imports"])
def get_import(
    ws: WorkspaceDep,
    _c: Annotated[Caller, Depends(require(Role.MARKETING, Role.SALES))],
    import_id: RecordId,
) -> ImportRunPublic:
    """One CSV import: counts (`read = imported + unchanged + rejected`), status, errors CSV."""
    from smarketing.services.imports import get_import as fetch

    run = fetch(ws, import_id)
    return ImportRunPublic(**{k: getattr(run, k) for k in ImportRunPublic.model_fields})
