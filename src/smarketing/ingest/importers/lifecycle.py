"""Which stage an imported person ends in, and the dated transitions that get them there.

Invariant: an import never moves a person back down the funnel (`domain.stages.is_forward`),
except a move to the stage the source claims when the playbook's `lifecycle.allow_backward`
lists that pair. Stages the playbook leaves out are skipped.

Walk: the source's dated stage entries, capped at the stage it claims now (a later date for a
stage above the claim is history the person left), plus the claimed stage itself, in funnel
order; each one forward of where the person stands becomes a transition at its entry date.
Then, if the walk did not end on the claimed stage, the person moves to it when that is forward
of where they stood before the import (a new lead claimed `disqualified`, a side stage level
with `lead`, ends there) or the playbook allows that move back. A claimed stage with no date
is entered at `undated_at` (the start of the import run, so a resumed run writes the same rows
as an uninterrupted one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from smarketing.domain.stages import Stage, funnel_rank, is_forward


class StageMove(NamedTuple):
    from_stage: Stage | None
    to_stage: Stage
    at: datetime


@dataclass(frozen=True, slots=True)
class StagePolicy:
    enabled: frozenset[Stage]
    allow_backward: frozenset[tuple[Stage, Stage]]
    undated_at: datetime


_RANK: dict[Stage, int] = {stage: funnel_rank(stage) for stage in Stage}
_FORWARD: frozenset[tuple[Stage | None, Stage]] = frozenset(
    (old, new) for old in (None, *Stage) for new in Stage if is_forward(old, new)
)
"""`is_forward` as a table (it runs for every imported row)."""


def plan_stage(
    current: Stage | None,
    claimed: Stage | None,
    entered: Sequence[tuple[Stage, datetime]],
    policy: StagePolicy,
) -> tuple[Stage | None, list[StageMove]]:
    """The person's stage after the import and the transitions to record (oldest first)."""
    if claimed is None and not entered:
        return current, []
    enabled = policy.enabled
    cap = _RANK[claimed] if claimed is not None else len(_RANK)
    steps = [
        (rank, at, stage)
        for stage, at in entered
        if stage in enabled and (rank := _RANK[stage]) <= cap
    ]
    claimed_at = next((at for stage, at in entered if stage == claimed), None)
    if claimed is not None and claimed in enabled and claimed_at is None:
        steps.append((cap, policy.undated_at, claimed))
    steps.sort()
    moves: list[StageMove] = []
    stage = current
    for _, at, step in steps:
        if step != stage and (stage, step) in _FORWARD:
            moves.append(StageMove(stage, step, at))
            stage = step
    if (
        claimed is not None
        and claimed in enabled
        and stage is not None
        and claimed != stage
        and ((current, claimed) in _FORWARD or (stage, claimed) in policy.allow_backward)
    ):
        moves.append(StageMove(stage, claimed, claimed_at or policy.undated_at))
        stage = claimed
    return stage, moves
