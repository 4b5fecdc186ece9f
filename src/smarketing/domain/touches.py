"""What a touchpoint is: its kind and whether marketing or sales made it."""

from __future__ import annotations

from enum import StrEnum

from smarketing.domain.stages import TouchTeam

SALES_CHANNEL = "Sales"
"""Channel of touches that sales made (meetings, calls, rep emails): not a traffic source."""


class TouchKind(StrEnum):
    PAGE_VIEW = "page_view"
    SCREEN_VIEW = "screen_view"
    FORM_FILL = "form_fill"
    EMAIL_CLICK = "email_click"
    WEBINAR = "webinar"
    REFERRAL = "referral"
    EVENT = "event"
    MEETING = "meeting"
    CALL = "call"
    SALES_EMAIL = "sales_email"


SALES_KINDS: frozenset[TouchKind] = frozenset(
    {TouchKind.MEETING, TouchKind.CALL, TouchKind.SALES_EMAIL}
)


def team_of(kind: TouchKind) -> TouchTeam:
    return TouchTeam.SALES if kind in SALES_KINDS else TouchTeam.MARKETING
