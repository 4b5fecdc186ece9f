"""The playbook schema (`version: 1`): what both teams sign.

Structural rules live on the fields (types, ranges, regexes); rules that look across the file
(stage references, duplicate ids) live in `semantic_problems`, which returns every problem
with the path of the field at fault so the loader can name file, line and column.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smarketing.domain import channels
from smarketing.domain.stages import DEFAULT_LABELS, FUNNEL, REQUIRED_STAGES, SIDE_STAGES, Stage
from smarketing.playbook.conditions import Condition

Loc = tuple[str | int, ...]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WORKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
RULE_ID = r"^[a-z0-9][a-z0-9_-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StageDef(Strict):
    id: Stage
    label: str | None = None

    @property
    def display(self) -> str:
        return self.label or DEFAULT_LABELS[self.id]


def _default_stages() -> list[StageDef]:
    return [StageDef(id=s) for s in (*FUNNEL, *SIDE_STAGES)]


class Lifecycle(Strict):
    stages: list[StageDef] = Field(default_factory=_default_stages)
    allow_backward: list[tuple[Stage, Stage]] = Field(
        default_factory=list,
        description="Moves back the funnel the teams allow, as [from, to] pairs.",
    )


class FitRule(Strict):
    id: str = Field(pattern=RULE_ID)
    when: Condition
    points: int = Field(ge=-1000, le=1000)
    description: str | None = None


class Fit(Strict):
    rules: list[FitRule] = Field(default_factory=list)
    max_points: int | None = Field(default=None, gt=0)


class EngagementRule(Strict):
    id: str = Field(pattern=RULE_ID)
    event: str | None = Field(default=None, description="Track event name (exact, any case).")
    page: str | None = Field(default=None, description="Regex over the page path.")
    when: Condition | None = None
    points: int = Field(ge=-1000, le=1000)
    cap: int | None = Field(default=None, gt=0, description="Most points from this rule, ever.")
    daily_cap: int | None = Field(default=None, gt=0)
    description: str | None = None

    @field_validator("page")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _trigger(self) -> EngagementRule:
        if not (self.event or self.page or self.when):
            raise ValueError("an engagement rule needs `event`, `page` or `when`")
        return self


class Engagement(Strict):
    half_life_days: float = Field(default=30.0, gt=0, description="Points halve every N days.")
    daily_cap: int | None = Field(default=None, gt=0, description="Most points per person a day.")
    rules: list[EngagementRule] = Field(default_factory=list)


class FastTrack(Strict):
    id: str = Field(pattern=RULE_ID)
    event: str | None = None
    page: str | None = None
    when: Condition | None = None

    @model_validator(mode="after")
    def _trigger(self) -> FastTrack:
        if not (self.event or self.page or self.when):
            raise ValueError("a fast-track rule needs `event`, `page` or `when`")
        return self


class MqlDefinition(Strict):
    min_score: int = Field(default=50, ge=0)
    min_fit: int = Field(default=0, ge=0)
    min_engagement: int = Field(default=0, ge=0)
    when: Condition | None = None
    fast_track: list[FastTrack] = Field(default_factory=list)


class SqlDefinition(Strict):
    required_fields: list[str] = Field(
        default_factory=lambda: ["budget", "authority", "need", "timeline"],
        min_length=1,
        description="Qualification fields sales records to make an SQL (BANT by default).",
    )


class RoutingRule(Strict):
    id: str = Field(pattern=RULE_ID)
    kind: Literal["account_owner", "assign", "round_robin"]
    when: Condition | None = None
    reps: list[str] = Field(default_factory=list, description="Rep emails (assign, round_robin).")

    @model_validator(mode="after")
    def _reps(self) -> RoutingRule:
        if self.kind == "assign" and not self.reps:
            raise ValueError("an `assign` rule needs at least one rep in `reps`")
        return self


class Routing(Strict):
    rules: list[RoutingRule] = Field(
        default_factory=lambda: [
            RoutingRule(id="account-owner", kind="account_owner"),
            RoutingRule(id="round-robin", kind="round_robin"),
        ]
    )
    max_open_per_rep: int | None = Field(default=None, gt=0)


class BusinessHours(Strict):
    days: list[Weekday] = Field(default_factory=lambda: list(WORKDAYS))
    start: time = time(9, 0)
    end: time = time(17, 0)

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"business hours end {self.end} must be after start {self.start}")
        return self


class MarketingSla(Strict):
    mqls_per_month: int = Field(default=100, ge=0)
    min_acceptance_rate: float = Field(default=0.5, ge=0, le=1)


class Sla(Strict):
    first_touch_hours: float = Field(default=24, gt=0)
    fast_track_first_touch_minutes: float = Field(default=15, gt=0)
    accept_within_hours: float = Field(default=48, gt=0)
    escalate_to_manager: bool = True
    marketing: MarketingSla = Field(default_factory=MarketingSla)


class RejectReason(Strict):
    id: str = Field(pattern=RULE_ID)
    label: str
    recycle: bool = Field(default=True, description="Send back to nurture rather than disqualify.")


def _default_reasons() -> list[RejectReason]:
    return [
        RejectReason(id="bad-fit", label="Not our ideal customer profile", recycle=False),
        RejectReason(id="no-budget", label="No budget"),
        RejectReason(id="bad-timing", label="Not the right time"),
        RejectReason(id="no-contact", label="Could not reach"),
        RejectReason(id="duplicate", label="Duplicate or existing customer", recycle=False),
        RejectReason(id="student-or-competitor", label="Student or competitor", recycle=False),
    ]


class Recycle(Strict):
    after_days: int = Field(default=90, ge=0)
    to_stage: Stage = Stage.LEAD


class Goal(Strict):
    period: str = Field(
        pattern=r"^\d{4}-(Q[1-4]|(0[1-9]|1[0-2]))$", description="2026-Q4 or 2026-11"
    )
    revenue: float = Field(gt=0)
    marketing_share: float = Field(default=1.0, gt=0, le=1)
    average_deal_size: float | None = Field(default=None, gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class ChannelOverride(Strict):
    id: str = Field(pattern=RULE_ID)
    channel: str = Field(min_length=1)
    when: dict[str, str] = Field(
        description="Touch field -> regex (source, medium, campaign, referrer, url, event)."
    )

    @field_validator("when")
    @classmethod
    def _regexes(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = {"source", "medium", "campaign", "referrer", "url", "event", "content"}
        for key, pattern in value.items():
            if key not in allowed:
                raise ValueError(f"unknown touch field {key!r}; use one of {sorted(allowed)}")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
        if not value:
            raise ValueError("a channel override needs at least one condition")
        return value


# Playbook names of touch fields -> fields of `domain.channels.TouchSignals`.
_TOUCH_FIELDS = {"url": "page_url", "event": "event_name"}


class Channels(Strict):
    overrides: list[ChannelOverride] = Field(default_factory=list)
    own_domains: list[str] = Field(default_factory=list, description="Referrers that are us.")

    def domain_overrides(self) -> tuple[channels.ChannelOverride, ...]:
        """The overrides as the channel classifier takes them, checked before GA4's rules."""
        return tuple(
            channels.ChannelOverride(
                id=o.id,
                channel=o.channel,
                conditions={_TOUCH_FIELDS.get(k, k): v for k, v in o.when.items()},
            )
            for o in self.overrides
        )


class PositionWeights(Strict):
    first: float = Field(default=0.4, ge=0, le=1)
    middle: float = Field(default=0.2, ge=0, le=1)
    last: float = Field(default=0.4, ge=0, le=1)

    @model_validator(mode="after")
    def _sum(self) -> PositionWeights:
        if abs(self.first + self.middle + self.last - 1) > 1e-9:
            raise ValueError("position weights first + middle + last must sum to 1")
        return self


AttributionModelName = Literal[
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "full_path",
    "custom",
    "markov",
    "shapley",
]


class Attribution(Strict):
    lookback_days: int = Field(default=90, gt=0)
    per: Literal["person", "account"] = "person"
    default_model: AttributionModelName = "position_based"
    time_decay_half_life_days: float = Field(default=7.0, gt=0)
    position_based: PositionWeights = Field(default_factory=PositionWeights)
    custom_stage_weights: dict[Stage, float] = Field(default_factory=dict)

    @field_validator("custom_stage_weights")
    @classmethod
    def _weights(cls, value: dict[Stage, float]) -> dict[Stage, float]:
        if value and abs(sum(value.values()) - 1) > 1e-9:
            raise ValueError("custom stage weights must sum to 1")
        if any(w < 0 for w in value.values()):
            raise ValueError("custom stage weights cannot be negative")
        return value


class Pillar(Strict):
    id: str = Field(pattern=RULE_ID)
    statement: str
    proof_points: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)


class BannedPhrase(Strict):
    phrase: str
    instead: str | None = None


class Term(Strict):
    use: str
    not_: list[str] = Field(alias="not", default_factory=list)


class Messaging(Strict):
    pillars: list[Pillar] = Field(default_factory=list)
    banned_phrases: list[BannedPhrase] = Field(default_factory=list)
    terminology: list[Term] = Field(default_factory=list)


class Playbook(Strict):
    version: Literal[1] = Field(description="Schema version of this file format.")
    name: str = "Our smarketing agreement"
    timezone: str = "UTC"
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    lifecycle: Lifecycle = Field(default_factory=Lifecycle)
    fit: Fit = Field(default_factory=Fit)
    engagement: Engagement = Field(default_factory=Engagement)
    mql: MqlDefinition = Field(default_factory=MqlDefinition)
    sql: SqlDefinition = Field(default_factory=SqlDefinition)
    routing: Routing = Field(default_factory=Routing)
    sla: Sla = Field(default_factory=Sla)
    reject_reasons: list[RejectReason] = Field(default_factory=_default_reasons, min_length=1)
    recycle: Recycle = Field(default_factory=Recycle)
    goals: list[Goal] = Field(default_factory=list)
    channels: Channels = Field(default_factory=Channels)
    attribution: Attribution = Field(default_factory=Attribution)
    messaging: Messaging = Field(default_factory=Messaging)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin"
            ) from None
        return value

    @property
    def enabled_stages(self) -> frozenset[Stage]:
        return frozenset(s.id for s in self.lifecycle.stages)

    def stage_label(self, stage: Stage) -> str:
        for s in self.lifecycle.stages:
            if s.id == stage:
                return s.display
        return DEFAULT_LABELS[stage]

    def reject_reason(self, reason_id: str) -> RejectReason | None:
        return next((r for r in self.reject_reasons if r.id == reason_id), None)


def _duplicates(items: list[str]) -> list[int]:
    seen: set[str] = set()
    dupes = []
    for i, item in enumerate(items):
        if item in seen:
            dupes.append(i)
        seen.add(item)
    return dupes


def semantic_problems(pb: Playbook) -> list[tuple[Loc, str]]:
    """Problems that span fields: unknown or missing stages, duplicate ids."""
    problems: list[tuple[Loc, str]] = []
    stage_ids = [s.id.value for s in pb.lifecycle.stages]
    for i in _duplicates(stage_ids):
        problems.append((("lifecycle", "stages", i, "id"), f"stage {stage_ids[i]!r} listed twice"))
    missing = sorted(s.value for s in REQUIRED_STAGES - pb.enabled_stages)
    if missing:
        problems.append(
            (("lifecycle", "stages"), f"required stage(s) missing: {', '.join(missing)}")
        )
    for i, (old, new) in enumerate(pb.lifecycle.allow_backward):
        for stage in (old, new):
            if stage not in pb.enabled_stages:
                problems.append(
                    (("lifecycle", "allow_backward", i), f"unknown stage {stage.value!r}")
                )
    if pb.recycle.to_stage not in pb.enabled_stages:
        problems.append((("recycle", "to_stage"), f"unknown stage {pb.recycle.to_stage.value!r}"))
    for stage in pb.attribution.custom_stage_weights:
        if stage not in pb.enabled_stages:
            problems.append(
                (("attribution", "custom_stage_weights", stage.value), f"unknown stage {stage!r}")
            )
    groups: list[tuple[Loc, list[str], str, str]] = [
        (("fit", "rules"), [r.id for r in pb.fit.rules], "id", "rule id"),
        (("engagement", "rules"), [r.id for r in pb.engagement.rules], "id", "rule id"),
        (("mql", "fast_track"), [r.id for r in pb.mql.fast_track], "id", "fast-track rule id"),
        (("routing", "rules"), [r.id for r in pb.routing.rules], "id", "routing rule id"),
        (("reject_reasons",), [r.id for r in pb.reject_reasons], "id", "reject reason id"),
        (("channels", "overrides"), [r.id for r in pb.channels.overrides], "id", "override id"),
        (("messaging", "pillars"), [r.id for r in pb.messaging.pillars], "id", "pillar id"),
        (("goals",), [g.period for g in pb.goals], "period", "goal period"),
    ]
    for loc, ids, leaf, what in groups:
        for i in _duplicates(ids):
            problems.append(((*loc, i, leaf), f"duplicate {what} {ids[i]!r}"))
    return problems
