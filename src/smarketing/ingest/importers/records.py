"""What the importers make of a row: plain records, the store's vocabulary, no headers.

A value of None means "the file says nothing about it": the store keeps what it has.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

from smarketing.domain.model import DealStatus, DealType, IdentityKind
from smarketing.domain.stages import Stage


class AccountKey(StrEnum):
    """How a record points at an account."""

    HUBSPOT_ID = "hubspot_id"
    SALESFORCE_ID = "salesforce_id"
    DOMAIN = "domain"


@dataclass(frozen=True, slots=True)
class AccountRef:
    key: AccountKey
    value: str

    def __reduce__(self) -> tuple[Any, ...]:
        return AccountRef, (self.key, self.value)


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A person by one identity: a CRM record id (`hubspot`, `salesforce`) or an `email`."""

    kind: IdentityKind
    value: str

    def __reduce__(self) -> tuple[Any, ...]:
        return PersonRef, (self.kind, self.value)


@dataclass(frozen=True, slots=True)
class PersonRecord:
    row: int
    email: str | None
    external_ids: tuple[PersonRef, ...] = ()
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    original_channel: str | None = None
    created_at: datetime | None = None
    traits: dict[str, str] = field(default_factory=dict)
    claimed_stage: Stage | None = None
    """The stage the source says the person is in now (None: it does not say)."""
    stage_dates: tuple[tuple[Stage, datetime], ...] = ()
    """When the person entered each stage, per the source."""
    account: AccountRef | None = None
    """An explicit company association: replaces the stored one."""
    company_domain: str | None = None
    """The email's company domain: links an account only when the person has none."""
    converted_deal_ids: tuple[str, ...] = ()
    """Salesforce opportunity ids this person (a converted lead) became: linked when unlinked."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its field values (records cross from the import's parse process to the
        writer): a third cheaper to load than a frozen dataclass's default (measured)."""
        return PersonRecord, _PERSON_FIELDS(self)


_PERSON_FIELDS = attrgetter(*(f.name for f in fields(PersonRecord)))


@dataclass(frozen=True, slots=True)
class AccountRecord:
    row: int
    name: str | None
    hubspot_id: str | None = None
    salesforce_id: str | None = None
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    annual_revenue: Decimal | None = None
    created_at: datetime | None = None
    traits: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DealRecord:
    row: int
    name: str | None
    stage: str | None
    status: DealStatus | None
    hubspot_id: str | None = None
    salesforce_id: str | None = None
    deal_type: DealType | None = None
    amount: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    lost_reason: str | None = None
    person: PersonRef | None = None
    account: AccountRef | None = None
    created_at: datetime | None = None
    key_on_name: bool = False
    """No CRM id: the deal is the one with this name on the same account (generic CSV)."""


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    row: int
    name: str
    salesforce_id: str | None = None
    channel: str | None = None
    kind: str | None = None
    cost: Decimal | None = None
    start_date: date | None = None
    end_date: date | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CampaignResponseRecord:
    """A campaign member who responded: one "Campaign Responded" touchpoint."""

    row: int
    campaign_salesforce_id: str
    people: tuple[PersonRef, ...]
    """The member's contact and/or lead id: the first one known wins."""
    responded_at: datetime
    member_id: str | None = None
    member_status: str | None = None


@dataclass(frozen=True, slots=True)
class SkippedRow:
    """A valid row with nothing to store (a campaign member who did not respond)."""

    row: int
    why: str


Record = (
    PersonRecord | AccountRecord | DealRecord | CampaignRecord | CampaignResponseRecord | SkippedRow
)
