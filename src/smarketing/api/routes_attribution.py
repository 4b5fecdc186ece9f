"""`GET /api/deals/{deal_id}/attribution`: who got what credit for one deal, every model.

Sales reps see their own and their team's deals; marketing, viewers and admins every deal:
which team earned a deal is a question for both teams."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from smarketing.api.deps import Caller, RecordId, WorkspaceDep, require
from smarketing.domain.stages import Role
from smarketing.services.access import Actor

router = APIRouter(prefix="/api", tags=["attribution"])
Reader = Annotated[Caller, Depends(require(Role.SALES, Role.MARKETING, Role.VIEWER))]


class Credit(BaseModel):
    share: float = Field(description="Share of the deal (0 to 1); per model the shares sum to 1.")
    revenue: float = Field(description="share x the deal's value.")


class TouchCredit(BaseModel):
    touch_id: int
    occurred_at: datetime
    person_id: int | None
    team: str | None = Field(description="marketing or sales touch.")
    kind: str | None
    name: str | None
    channel: str | None
    campaign_id: int | None
    campaign: str | None
    content_id: int | None
    content: str | None
    credits: dict[str, Credit] = Field(description="Per model.")


class GroupCredit(BaseModel):
    model: str
    name: str = Field(description="The channel or team.")
    share: float
    revenue: float


class DealAttributionPublic(BaseModel):
    deal_id: int
    status: str
    value: float = Field(description="The amount when won or open, 0 when lost.")
    currency: str
    per: Literal["person", "account"]
    journey_id: int
    converted_at: datetime = Field(description="Close date (UTC midnight), or now when open.")
    lookback_days: int
    population_period: str = Field(description="Where Markov and Shapley were fitted.")
    notes: list[str]
    touches: list[TouchCredit]
    channels: list[GroupCredit]
    teams: list[GroupCredit]


@router.get("/deals/{deal_id}/attribution")
def deal_attribution(
    ws: WorkspaceDep,
    caller: Reader,
    deal_id: RecordId,
    period: Annotated[
        str | None,
        Query(description="Population of Markov and Shapley; default: the deal's close quarter."),
    ] = None,
) -> DealAttributionPublic:
    """Every touch of the deal's journey and its credit under every model; totals per channel
    and per team (which team earned the deal)."""
    from smarketing.analytics.reports.attribution import MODELS
    from smarketing.services import attribution

    actor = Actor(name=caller.name, role=caller.role, user_id=caller.user_id)
    result = attribution.deal_attribution(ws, deal_id, actor=actor, period=period)
    basis = result.basis
    touches = []
    for row in result.touches.to_pylist():
        credits = {m: Credit(share=row[m], revenue=row[m] * basis.value) for m in MODELS}
        touches.append(
            TouchCredit(
                **{k: row[k] for k in TouchCredit.model_fields if k in row}, credits=credits
            )
        )
    return DealAttributionPublic(
        deal_id=basis.deal.id,
        status=basis.deal.status.value,
        value=basis.value,
        currency=basis.deal.currency,
        per=basis.per,
        journey_id=basis.journey,
        converted_at=basis.converted_at,
        lookback_days=basis.lookback_days,
        population_period=basis.period.label,
        notes=list(result.notes),
        touches=touches,
        channels=[GroupCredit(name=r.pop("channel"), **r) for r in result.channels.to_pylist()],
        teams=[GroupCredit(name=r.pop("team"), **r) for r in result.teams.to_pylist()],
    )
