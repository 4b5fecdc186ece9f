"""Plan identity resolution for a whole batch in memory, so the store can apply it in bulk.

Pure. Input: for each event (in time order) the identity keys it claims and the ones it only
looks up, plus who already owns which key. Output: which new people to create (as negative
placeholder ids), which existing people merge (older survives), which keys each person claims,
and the person behind each event. Anonymous-only events with an unknown id map to nobody.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class EventKeys:
    claims: tuple[Key, ...]
    lookups: tuple[Key, ...] = ()
    known: bool = False  # carries a user id or an email: enough to create a person


@dataclass
class IdentityPlan:
    new_people: list[int] = field(default_factory=list)  # placeholders: -1, -2, ...
    merges: list[tuple[int, int]] = field(default_factory=list)  # (survivor, merged), existing
    claims: list[tuple[Key, int]] = field(default_factory=list)
    person_of_event: list[int | None] = field(default_factory=list)
    owners: dict[Key, int] = field(default_factory=dict)  # after the batch

    def person_of_anonymous(self, anonymous_id: str) -> int | None:
        return self.owners.get(("anonymous_id", anonymous_id))


def _seniority(person: int) -> tuple[int, int]:
    """Existing people (positive ids) before new ones; older first within each."""
    return (0, person) if person > 0 else (1, -person)


def plan_identities(events: Sequence[EventKeys], owners: Mapping[Key, int]) -> IdentityPlan:
    owner = dict(owners)
    merged_into: dict[int, int] = {}
    plan = IdentityPlan()

    def find(person: int) -> int:
        while person in merged_into:
            person = merged_into[person]
        return person

    for ev in events:
        found = sorted(
            {find(owner[k]) for k in (*ev.claims, *ev.lookups) if k in owner}, key=_seniority
        )
        if not found:
            if not ev.known:
                plan.person_of_event.append(None)
                continue
            person = -(len(plan.new_people) + 1)
            plan.new_people.append(person)
        else:
            person = found[0]
            for other in found[1:]:
                merged_into[other] = person
        for key in ev.claims:
            if key not in owner:
                owner[key] = person
        plan.person_of_event.append(person)

    plan.new_people = [p for p in plan.new_people if p not in merged_into]
    plan.merges = [(find(m), m) for m in sorted(merged_into) if m > 0]
    plan.owners = {k: find(p) for k, p in owner.items()}
    plan.claims = [(k, p) for k, p in plan.owners.items() if k not in owners]
    plan.person_of_event = [None if p is None else find(p) for p in plan.person_of_event]
    return plan
