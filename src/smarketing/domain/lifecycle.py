"""Which stage moves the playbook allows, and the hand-off statuses sales works through.

Pure. Rules:
- Forward along the funnel is allowed (stages may be skipped: imports and fast tracks do).
- `recycled` is reached from `mql`, `sal`, `sql` or `opportunity` (a rejected or stalled lead
  goes back to nurture); from `recycled` a person may enter any funnel stage (back to
  nurture as the playbook's `recycle.to_stage`, or on to MQL and beyond).
- `disqualified` is reached from any stage before `customer`; nothing leaves it unless the
  playbook's `lifecycle.allow_backward` lists the move.
- Any other move back the funnel needs a pair in `lifecycle.allow_backward`.
- A stage the playbook leaves out cannot be entered.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from smarketing.domain.stages import Stage, funnel_rank
from smarketing.errors import ValidationFailed

RECYCLABLE = frozenset({Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})
BEFORE_CUSTOMER = frozenset(
    {
        Stage.SUBSCRIBER,
        Stage.LEAD,
        Stage.MQL,
        Stage.SAL,
        Stage.SQL,
        Stage.OPPORTUNITY,
        Stage.RECYCLED,
    }
)


class HandoffStatus(StrEnum):
    WAITING = "waiting"  # no rep could take it yet: the worker routes it when one can
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    QUALIFIED = "qualified"
    RECYCLED = "recycled"


OPEN_STATUSES = frozenset({HandoffStatus.ASSIGNED, HandoffStatus.ACCEPTED})


def transition_problem(
    old: Stage | None,
    new: Stage,
    *,
    enabled: frozenset[Stage],
    allow_backward: frozenset[tuple[Stage, Stage]] = frozenset(),
) -> str | None:
    """Why the playbook forbids `old -> new`, or None when the move is allowed."""
    if new not in enabled:
        return f"the playbook does not use the stage {new.value!r}"
    if old == new:
        return f"already {new.value}"
    if old is not None and (old, new) in allow_backward:
        return None
    if new is Stage.RECYCLED:
        return (
            None
            if old in RECYCLABLE
            else (f"only mql, sal, sql or opportunity can be recycled, not {_name(old)}")
        )
    if new is Stage.DISQUALIFIED:
        return (
            None
            if old is None or old in BEFORE_CUSTOMER
            else (f"a {_name(old)} cannot be disqualified")
        )
    if old is Stage.RECYCLED:
        return None
    if old is Stage.DISQUALIFIED:
        return "a disqualified person stays disqualified unless the playbook allows the move back"
    if old is None or funnel_rank(new) > funnel_rank(old):
        return None
    return (
        f"{_name(old)} -> {new.value} goes back the funnel; list "
        f"[{_name(old)}, {new.value}] under lifecycle.allow_backward to allow it"
    )


def check_transition(
    old: Stage | None,
    new: Stage,
    *,
    enabled: frozenset[Stage],
    allow_backward: frozenset[tuple[Stage, Stage]] = frozenset(),
) -> None:
    problem = transition_problem(old, new, enabled=enabled, allow_backward=allow_backward)
    if problem:
        raise ValidationFailed(f"cannot move {_name(old)} -> {new.value}: {problem}")


def _name(stage: Stage | None) -> str:
    return stage.value if stage else "(no stage)"


def missing_qualification(fields: Mapping[str, Any], required: list[str]) -> list[str]:
    """The qualification fields (BANT by default) that are absent or blank."""
    return [f for f in required if not str(fields.get(f) or "").strip()]
