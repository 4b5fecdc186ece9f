"""One deal's journey: which touches, up to when, and the population its data-driven split uses.

- **Journey**: per the playbook's `attribution.per`, the deal's person, or its account (the
  touches of every contact of the buying group); a deal without an account falls back to its
  person (and says so).
- **Conversion time**: a won deal's close date (midnight UTC, as in the report); a lost deal's
  close date too, with value 0; an open deal is measured against now, with its open amount as
  value, and a note says so.
- **Window**: the touches within `lookback_days` before the conversion time, in time order
  (ties by touchpoint id).
- **Population** (Markov, Shapley): the won journeys by channel of the period, which is the
  quarter of the conversion time unless a period is given, with the non-converting journeys of
  that period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time

import ibis
import ibis.expr.types as ir

from smarketing.analytics.attribution.journeys import (
    JourneyQuery,
    Per,
    days_before,
    journey_key,
    journey_touches,
    milestones,
)
from smarketing.analytics.reports.period import Period, parse_period, quarter_label
from smarketing.analytics.tables import Tables
from smarketing.domain.model import Deal, DealStatus
from smarketing.errors import ValidationFailed
from smarketing.playbook.schema import Attribution

OPEN_NOTE = (
    "open deal: the touches up to now are credited with the open amount; the split changes "
    "until the deal closes"
)
LOST_NOTE = "lost deal: the touches are credited with value 0"
NO_ACCOUNT_NOTE = "the deal has no account: its person's touches are used"
NO_TOUCH_NOTE = "no touch in the lookback window: nothing to credit"


@dataclass(frozen=True, kw_only=True, slots=True)
class DealBasis:
    """What the breakdown of one deal is measured on."""

    deal: Deal
    per: Per
    journey: int
    converted_at: datetime
    """Naive UTC, like every analytics timestamp."""
    value: float
    lookback_days: int
    period: Period
    notes: tuple[str, ...]

    @property
    def won(self) -> bool:
        return self.deal.status is DealStatus.WON


def deal_basis(
    deal: Deal, settings: Attribution, *, now: datetime, period: str | None = None
) -> DealBasis:
    """Journey, conversion time, value and population period of `deal` (see the module doc)."""
    notes: list[str] = []
    per: Per = settings.per
    journey = deal.account_id if per == "account" else deal.person_id
    if per == "account" and journey is None:
        per, journey = "person", deal.person_id
        notes.append(NO_ACCOUNT_NOTE)
    if journey is None:
        raise ValidationFailed(
            f"deal {deal.id} has no person or account, so it has no journey to credit",
            hint="link the deal to a person (PATCH /api/deals/{id} cannot; recreate it)",
        )
    naive_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    amount = float(deal.amount) if deal.amount is not None else 0.0
    if deal.status is DealStatus.OPEN or deal.close_date is None:
        converted_at, value = naive_now, amount
        notes.append(OPEN_NOTE)
    else:
        converted_at = datetime.combine(deal.close_date, time())
        value = amount if deal.status is DealStatus.WON else 0.0
        if deal.status is DealStatus.LOST:
            notes.append(LOST_NOTE)
    today = naive_now.date()
    chosen = parse_period(period or quarter_label(converted_at.date()), today=today)
    return DealBasis(
        deal=deal,
        per=per,
        journey=journey,
        converted_at=converted_at,
        value=value,
        lookback_days=settings.lookback_days,
        period=chosen,
        notes=tuple(notes),
    )


def deal_touches(t: Tables, basis: DealBasis) -> ir.Table:
    """The journey's touches in the window, with what the breakdown shows of each, their days
    before the conversion and the journey's milestone times (`lead_at`, `opportunity_at`)."""
    key = journey_key(basis.per)
    at = ibis.literal(basis.converted_at, type="timestamp")
    tp = t.touchpoints
    touches = tp.filter(
        (tp[key] == basis.journey)
        & (tp.occurred_at <= at)
        & (tp.occurred_at >= at - ibis.interval(days=basis.lookback_days))
    )
    items = t.content_items
    content = items.select(cid=items.id, content=ibis.coalesce(items.title, items.key))
    marks = milestones(t, basis.per)
    marks = marks.filter(marks.m_journey == basis.journey)
    joined = touches.left_join(content, touches.content_id == content.cid).left_join(
        marks, touches[key] == marks.m_journey
    )
    return joined.select(
        touch_id=joined.id,
        occurred_at=joined.occurred_at,
        person_id=joined.person_id,
        kind=joined.kind,
        name=joined.name,
        channel=joined.channel,
        campaign_id=joined.campaign_id,
        campaign=joined.campaign,
        content_id=joined.content_id,
        content=joined.content,
        team=joined.team,
        days_before=days_before(at, joined.occurred_at),
        lead_at=joined.lead_at,
        opportunity_at=joined.opportunity_at,
    )


def population_touches(t: Tables, basis: DealBasis) -> ir.Table:
    """The won journeys by channel of the basis's period (and the non-converting ones)."""
    query = JourneyQuery(
        kind="won",
        per=basis.per,
        dimension="channel",
        lookback_days=basis.lookback_days,
        start=basis.period.start_at,
        end=basis.period.end_at,
    )
    return journey_touches(t, query)
