"""Lifecycle stages, roles and teams: the vocabulary both teams agree on.

The stage ids are fixed (they carry meaning for the engine); the playbook may relabel them and
may leave the optional ones out. The order of `FUNNEL` is the order of progress.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


FUNNEL: tuple[Stage, ...] = (
    Stage.SUBSCRIBER,
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
    Stage.EVANGELIST,
)
SIDE_STAGES: tuple[Stage, ...] = (Stage.RECYCLED, Stage.DISQUALIFIED)
REQUIRED_STAGES: frozenset[Stage] = frozenset(
    {Stage.LEAD, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER}
)

DEFAULT_LABELS: dict[Stage, str] = {
    Stage.SUBSCRIBER: "Subscriber",
    Stage.LEAD: "Lead",
    Stage.MQL: "Marketing Qualified Lead",
    Stage.SAL: "Sales Accepted Lead",
    Stage.SQL: "Sales Qualified Lead",
    Stage.OPPORTUNITY: "Opportunity",
    Stage.CUSTOMER: "Customer",
    Stage.EVANGELIST: "Evangelist",
    Stage.RECYCLED: "Recycled",
    Stage.DISQUALIFIED: "Disqualified",
}


def funnel_rank(stage: Stage) -> int:
    """Position in the funnel; side stages rank just above `lead` (they left the main path)."""
    if stage in SIDE_STAGES:
        return FUNNEL.index(Stage.LEAD)
    return FUNNEL.index(stage)


def is_forward(old: Stage | None, new: Stage) -> bool:
    """True when `new` is further down the funnel than `old` (None = not yet a contact)."""
    return old is None or funnel_rank(new) > funnel_rank(old)


class Role(StrEnum):
    ADMIN = "admin"
    MARKETING = "marketing"
    SALES = "sales"
    VIEWER = "viewer"


class Team(StrEnum):
    MARKETING = "marketing"
    SALES = "sales"


class TouchTeam(StrEnum):
    """Who made a touch happen: marketing touches (content, ads) or sales touches (meetings)."""

    MARKETING = "marketing"
    SALES = "sales"
