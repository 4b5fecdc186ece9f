"""HubSpot's vocabulary as data: picklist values with their UI labels, and what they mean here.

Every table maps the internal value (API and ELT exports) and the label (UI exports) to the
same entry; lookups go through `headers.key`, so case, spaces and underscores do not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from smarketing.domain.channels import DefaultChannel
from smarketing.domain.model import DealStatus, DealType
from smarketing.domain.stages import Stage
from smarketing.ingest.importers.headers import key

OFFLINE_SOURCES = "Offline Sources"
OTHER_CAMPAIGNS = "Other Campaigns"


@dataclass(frozen=True, slots=True)
class LifecycleStage:
    value: str
    label: str
    stage: Stage | None
    """Our stage; None for `other` (no stage change)."""


@dataclass(frozen=True, slots=True)
class Picklist:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class SourceBucket:
    value: str
    label: str
    channel: str
    """The person's `original_channel`, in GA4 channel names."""


@dataclass(frozen=True, slots=True)
class DealStage:
    value: str
    label: str
    status: DealStatus


@dataclass(frozen=True, slots=True)
class DealTypeValue:
    value: str
    label: str
    deal_type: DealType


LIFECYCLE_STAGES: tuple[LifecycleStage, ...] = (
    LifecycleStage("subscriber", "Subscriber", Stage.SUBSCRIBER),
    LifecycleStage("lead", "Lead", Stage.LEAD),
    LifecycleStage("marketingqualifiedlead", "Marketing Qualified Lead", Stage.MQL),
    LifecycleStage("salesqualifiedlead", "Sales Qualified Lead", Stage.SQL),
    LifecycleStage("opportunity", "Opportunity", Stage.OPPORTUNITY),
    LifecycleStage("customer", "Customer", Stage.CUSTOMER),
    LifecycleStage("evangelist", "Evangelist", Stage.EVANGELIST),
    LifecycleStage("other", "Other", None),
)

LEAD_STATUSES: tuple[Picklist, ...] = (
    Picklist("NEW", "New"),
    Picklist("OPEN", "Open"),
    Picklist("IN_PROGRESS", "In Progress"),
    Picklist("OPEN_DEAL", "Open Deal"),
    Picklist("UNQUALIFIED", "Unqualified"),
    Picklist("ATTEMPTED_TO_CONTACT", "Attempted to Contact"),
    Picklist("CONNECTED", "Connected"),
    Picklist("BAD_TIMING", "Bad Timing"),
)

ORIGINAL_SOURCES: tuple[SourceBucket, ...] = (
    SourceBucket("ORGANIC_SEARCH", "Organic Search", DefaultChannel.ORGANIC_SEARCH),
    SourceBucket("PAID_SEARCH", "Paid Search", DefaultChannel.PAID_SEARCH),
    SourceBucket("EMAIL_MARKETING", "Email Marketing", DefaultChannel.EMAIL),
    SourceBucket("SOCIAL_MEDIA", "Organic Social", DefaultChannel.ORGANIC_SOCIAL),
    SourceBucket("REFERRALS", "Referrals", DefaultChannel.REFERRAL),
    SourceBucket("OTHER_CAMPAIGNS", "Other Campaigns", OTHER_CAMPAIGNS),
    SourceBucket("DIRECT_TRAFFIC", "Direct Traffic", DefaultChannel.DIRECT),
    SourceBucket("OFFLINE", "Offline Sources", OFFLINE_SOURCES),
    SourceBucket("PAID_SOCIAL", "Paid Social", DefaultChannel.PAID_SOCIAL),
    SourceBucket("AI_REFERRALS", "AI Referrals", DefaultChannel.REFERRAL),
)

DEAL_STAGES: tuple[DealStage, ...] = (
    DealStage("appointmentscheduled", "Appointment Scheduled", DealStatus.OPEN),
    DealStage("qualifiedtobuy", "Qualified To Buy", DealStatus.OPEN),
    DealStage("presentationscheduled", "Presentation Scheduled", DealStatus.OPEN),
    DealStage("decisionmakerboughtin", "Decision Maker Bought-In", DealStatus.OPEN),
    DealStage("contractsent", "Contract Sent", DealStatus.OPEN),
    DealStage("closedwon", "Closed Won", DealStatus.WON),
    DealStage("closedlost", "Closed Lost", DealStatus.LOST),
)

DEAL_TYPES: tuple[DealTypeValue, ...] = (
    DealTypeValue("newbusiness", "New Business", DealType.NEW),
    DealTypeValue("existingbusiness", "Existing Business", DealType.EXPANSION),
)

E = TypeVar("E", LifecycleStage, Picklist, SourceBucket, DealStage, DealTypeValue)


def by_value_or_label(entries: Iterable[E], *extra: tuple[str, E]) -> dict[str, E]:
    """A lookup from `key(value)` and `key(label)` (and `extra` aliases) to the entry."""
    table: dict[str, E] = {}
    for entry in entries:
        table[key(entry.value)] = entry
        table[key(entry.label)] = entry
    for alias, entry in extra:
        table[key(alias)] = entry
    return table


LIFECYCLE_BY_KEY = by_value_or_label(
    LIFECYCLE_STAGES, ("MQL", LIFECYCLE_STAGES[2]), ("SQL", LIFECYCLE_STAGES[3])
)
LEAD_STATUS_BY_KEY = by_value_or_label(LEAD_STATUSES)
SOURCE_BY_KEY = by_value_or_label(ORIGINAL_SOURCES)
DEAL_STAGE_BY_KEY = by_value_or_label(DEAL_STAGES)
DEAL_TYPE_BY_KEY = by_value_or_label(DEAL_TYPES)


def stage_date_columns(stage: LifecycleStage) -> tuple[str, ...]:
    """Headers of the date a contact entered `stage`: current property first, then older."""
    article = "an" if stage.label[0] in "AEIOU" else "a"
    return (
        f"hs_v2_date_entered_{stage.value}",
        f"Date entered '{stage.label} (Lifecycle Stage Pipeline)'",
        f"Date entered {stage.label}",
        f"hs_lifecyclestage_{stage.value}_date",
        f"Became {article} {stage.label} Date",
    )
