"""Domain objects: frozen dataclasses the repositories return and the services pass around."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from smarketing.domain.stages import Role, Stage, Team, TouchTeam


class IdentityKind(StrEnum):
    EMAIL = "email"
    USER_ID = "user_id"
    ANONYMOUS_ID = "anonymous_id"
    HUBSPOT = "hubspot"
    SALESFORCE = "salesforce"


class ContentKind(StrEnum):
    BLOG_POST = "blog_post"
    WHITEPAPER = "whitepaper"
    PRESS_RELEASE = "press_release"
    WEBINAR = "webinar"
    CASE_STUDY = "case_study"
    EBOOK = "ebook"
    VIDEO = "video"
    PAGE = "page"
    UNKNOWN = "unknown"


class DealType(StrEnum):
    NEW = "new"
    RENEWAL = "renewal"
    EXPANSION = "expansion"


class DealStatus(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    active: bool = True
    manager_id: int | None = None

    @property
    def team(self) -> Team | None:
        return {Role.MARKETING: Team.MARKETING, Role.SALES: Team.SALES}.get(self.role)


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    user_id: int | None = None


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PlaybookVersion:
    id: int
    number: int
    content_hash: str
    text: str
    created_at: datetime
    signed_by: dict[Team, str] = field(default_factory=dict)

    @property
    def agreed(self) -> bool:
        return set(self.signed_by) == set(Team)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    owner_id: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    email: str | None
    stage: Stage | None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    account_id: int | None = None
    owner_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    traits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Identity:
    kind: IdentityKind
    value: str


@dataclass(frozen=True, slots=True)
class Score:
    fit: float
    engagement: float
    total: float
    computed_at: datetime


@dataclass(frozen=True, slots=True)
class PersonDetail:
    person: Person
    identities: tuple[Identity, ...]
    score: Score | None
    account: Account | None
    merged_into_id: int | None = None


@dataclass(frozen=True, slots=True)
class Touchpoint:
    id: int
    person_id: int | None
    occurred_at: datetime
    kind: str
    name: str | None
    channel: str
    team: TouchTeam
    anonymous_id: str | None = None
    account_id: int | None = None
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content_id: int | None = None
    url: str | None = None
    ruleset_version: str | None = None


@dataclass(frozen=True, slots=True)
class FailedEvent:
    id: int
    source_id: int | None
    received_at: datetime
    reason: str
    payload: str
    replayed_at: datetime | None


@dataclass(frozen=True, slots=True)
class Transition:
    person_id: int
    from_stage: Stage | None
    to_stage: Stage
    at: datetime
    actor: str
    reason: str
    playbook_version_id: int | None = None


@dataclass(frozen=True, slots=True)
class SlaClock:
    kind: str
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    escalated_to_id: int | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    id: int
    person_id: int
    owner_id: int | None
    status: str
    rule_id: str | None
    fast_track: bool
    assigned_at: datetime
    first_touched_at: datetime | None = None
    accepted_at: datetime | None = None
    rejected_at: datetime | None = None
    reject_reason: str | None = None
    note: str | None = None
    qualification: dict[str, Any] | None = None
    clocks: tuple[SlaClock, ...] = ()

    @property
    def breached(self) -> bool:
        return any(c.breached_at is not None for c in self.clocks)


@dataclass(frozen=True, slots=True)
class Deal:
    id: int
    name: str
    person_id: int | None
    account_id: int | None
    status: DealStatus
    amount: Decimal | None
    currency: str
    type: DealType = DealType.NEW
    close_date: date | None = None
    stage: str = "open"
    owner_id: int | None = None
    lost_reason: str | None = None
    created_at: datetime | None = None
