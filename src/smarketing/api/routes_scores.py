"""`GET /api/people/{id}/score`: a person's score now, explained rule by rule and day by day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from smarketing.api.deps import ANY_ROLE, Caller, RecordId, WorkspaceDep, require
from smarketing.services import scoring

router = APIRouter(prefix="/api", tags=["scores"])
Reader = Annotated[Caller, Depends(require(*ANY_ROLE))]


class DayPointsPublic(BaseModel):
    day: date = Field(description="Local day in the playbook's time zone.")
    touches: int
    raw: float
    counted: float = Field(description="After the rule's caps and the person's daily cap.")
    points: float = Field(description="`counted` decayed to now.")


class ContributionPublic(BaseModel):
    part: Literal["fit", "engagement"]
    rule_id: str = Field(description="Playbook rule id; `(max_points)` is the fit cap's cut.")
    points: float = Field(description="What the rule adds to the total now.")
    raw_points: float = Field(description="Before caps and decay.")
    touches: int
    first_at: datetime | None
    last_at: datetime | None
    days: list[DayPointsPublic]


class StoredScorePublic(BaseModel):
    fit: float
    engagement: float
    total: float
    computed_at: datetime
    playbook_version_id: int | None


class ScoreExplanationPublic(BaseModel):
    person_id: int
    email: str | None
    fit: float
    engagement: float
    total: float
    computed_at: datetime
    timezone: str
    half_life_days: float
    contributions: list[ContributionPublic]
    stored: StoredScorePublic | None = Field(
        description="The score last stored (what stage rules acted on), if any."
    )


@router.get("/people/{person_id}/score")
def get_score(ws: WorkspaceDep, _c: Reader, person_id: RecordId) -> ScoreExplanationPublic:
    """The person's fit, engagement and total now with the current playbook, and every rule
    that contributed: its points now (decayed), raw points and when."""
    e = scoring.explain(ws, person_id=person_id)
    r = e.result
    return ScoreExplanationPublic(
        person_id=e.person_id,
        email=e.email,
        fit=r.fit,
        engagement=r.engagement,
        total=r.total,
        computed_at=r.computed_at,
        timezone=e.timezone,
        half_life_days=e.half_life_days,
        contributions=[
            ContributionPublic(
                part=c.part,
                rule_id=c.rule_id,
                points=c.points,
                raw_points=c.raw_points,
                touches=c.touches,
                first_at=c.first_at,
                last_at=c.last_at,
                days=[
                    DayPointsPublic(
                        day=d.day, touches=d.touches, raw=d.raw, counted=d.counted, points=d.points
                    )
                    for d in c.days
                ],
            )
            for c in r.contributions
        ],
        stored=(
            StoredScorePublic(
                fit=e.stored.fit,
                engagement=e.stored.engagement,
                total=e.stored.total,
                computed_at=e.stored.computed_at,
                playbook_version_id=e.stored.playbook_version_id,
            )
            if e.stored
            else None
        ),
    )
