"""Lead routing: which sales rep gets a new MQL, by the playbook's routing rules.

`route` tries the rules in playbook order; the first rule that yields an eligible rep wins:

- `account_owner`: the owner of the lead's account, when that owner is one of `reps`.
- `assign`: when its condition matches, the rule's listed reps (by email), in turn.
- `round_robin`: when its condition matches, the rule's listed reps if it lists any, else
  every rep in `reps`, in turn.

A rep is *eligible* when active and under the cap (`open_handoffs < max_open`; no cap when
`max_open` is None). "In turn" is a rotation by user id driven by one cursor, the id of the
last rep a rotation chose (0 before the first): the next rep is the eligible one with the
smallest id above the cursor, wrapping round. Over n consecutive rotations of one unchanged
pool every rep is chosen once, and a rep skipped for being at the cap or inactive does not
shift anybody else's turn. The cursor is shared by all rules, so the rotation is exactly
fair within a pool only while consecutive rotations use that pool. An `account_owner`
decision leaves the cursor as it was.

Conditions (`when`) are the playbook's rule language, which lives above this layer: pass its
evaluator as `matches` (e.g. `smarketing.playbook.conditions.evaluate`).

Invariants (proved by Hypothesis in `tests/domain/test_routing.py`): `route` never returns an
inactive rep or one at or over the cap; when no rep is eligible it raises `ValidationFailed`
naming, rule by rule, why; every decision names the rule that chose the rep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from smarketing.domain.model import User
from smarketing.errors import UsageError, ValidationFailed

ConditionMatcher = Callable[[Any, Mapping[str, Any]], bool]
"""`(condition, record) -> bool`, e.g. `smarketing.playbook.conditions.evaluate`."""

KINDS = ("account_owner", "assign", "round_robin")


class RuleSpec(Protocol):
    """One rule of the playbook's `routing.rules`, as `route` reads it."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def when(self) -> object | None: ...
    @property
    def reps(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class RepLoad:
    """A sales rep and how many handed-off leads they hold open right now."""

    id: int
    email: str
    active: bool
    open_handoffs: int

    @classmethod
    def of(cls, user: User, open_handoffs: int) -> RepLoad:
        return cls(id=user.id, email=user.email, active=user.active, open_handoffs=open_handoffs)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The rep chosen, the rule that chose them, why, and the cursor to store for next time."""

    rep_id: int
    rule_id: str
    reason: str
    next_rr_cursor: int


def _key(email: str) -> str:
    return email.strip().casefold()


def _eligible(rep: RepLoad, max_open: int | None) -> bool:
    return rep.active and (max_open is None or rep.open_handoffs < max_open)


def any_eligible(reps: Iterable[RepLoad], max_open: int | None) -> bool:
    """Whether any rep could take a lead now (active, under the cap): when none can, no rule
    routes anything, whatever the lead."""
    return any(_eligible(rep, max_open) for rep in reps)


def _cap_text(max_open: int | None) -> str:
    return f" under the cap of {max_open} open leads" if max_open is not None else ""


def _next_in_turn(pool: Iterable[RepLoad], cursor: int) -> RepLoad:
    ordered = sorted(pool, key=lambda r: r.id)
    return next((r for r in ordered if r.id > cursor), ordered[0])


def _why_nobody(what: str, candidates: Sequence[RepLoad], max_open: int | None) -> str:
    if not candidates:
        return f"no {what}"
    if not any(r.active for r in candidates):
        return f"no active {what}"
    return f"no active {what}{_cap_text(max_open)}"


@dataclass(frozen=True, slots=True)
class _Outcome:
    rep: RepLoad | None
    why: str


def _account_owner(
    owner_id: int | None, by_id: Mapping[int, RepLoad], max_open: int | None
) -> _Outcome:
    if owner_id is None:
        return _Outcome(None, "the account has no owner")
    owner = by_id.get(owner_id)
    if owner is None:
        return _Outcome(None, f"the account owner (user {owner_id}) is not a sales rep")
    if not owner.active:
        return _Outcome(None, f"the account owner {owner.email} is inactive")
    if not _eligible(owner, max_open):
        return _Outcome(
            None,
            f"the account owner {owner.email} has {owner.open_handoffs} open leads, "
            f"at the cap of {max_open}",
        )
    return _Outcome(owner, f"{owner.email} owns the account")


def _rotation(
    rule: RuleSpec,
    reps: Sequence[RepLoad],
    max_open: int | None,
    cursor: int,
) -> _Outcome:
    if rule.reps:
        by_email = {_key(r.email): r for r in reps}
        candidates = [by_email[_key(e)] for e in rule.reps if _key(e) in by_email]
        unknown = [e for e in rule.reps if _key(e) not in by_email]
        what = "sales rep listed in the rule"
        if unknown:
            what += f" (not sales reps: {', '.join(unknown)})"
    else:
        candidates, what = list(reps), "sales rep"
    pool = [r for r in candidates if _eligible(r, max_open)]
    if not pool:
        return _Outcome(None, _why_nobody(what, candidates, max_open))
    chosen = _next_in_turn(pool, cursor)
    return _Outcome(chosen, f"{chosen.email} is next in turn among {len(pool)} eligible rep(s)")


def route(
    lead: Mapping[str, Any],
    account_owner_id: int | None,
    rules: Sequence[RuleSpec],
    reps: Sequence[RepLoad],
    max_open: int | None,
    rr_cursor: int,
    *,
    matches: ConditionMatcher | None = None,
) -> RoutingDecision:
    """Choose the rep for an MQL.

    `lead` is the record conditions judge (`{"person": {...}, "account": {...}}`); `reps` are
    the sales reps with their open handoffs; `max_open` is `routing.max_open_per_rep`;
    `rr_cursor` is the `next_rr_cursor` of the previous rotation (0 at first). Raises
    `ValidationFailed` when no rule yields an eligible rep.
    """
    if max_open is not None and max_open <= 0:
        raise UsageError(f"max_open must be positive or None, got {max_open}")
    by_id: dict[int, RepLoad] = {}
    for rep in reps:
        by_id.setdefault(rep.id, rep)
    unique = list(by_id.values())
    skipped: list[str] = []
    for rule in rules:
        if rule.kind not in KINDS:
            raise UsageError(f"routing rule {rule.id!r} has unknown kind {rule.kind!r}")
        label = f"rule {rule.id!r} ({rule.kind})"
        if rule.when is not None:
            if matches is None:
                raise UsageError(
                    f"routing rule {rule.id!r} has a condition but no condition evaluator "
                    "was given",
                    hint="pass matches=smarketing.playbook.conditions.evaluate",
                )
            if not matches(rule.when, lead):
                skipped.append(f"{label}: its condition did not match")
                continue
        if rule.kind == "account_owner":
            outcome = _account_owner(account_owner_id, by_id, max_open)
        else:
            outcome = _rotation(rule, unique, max_open, rr_cursor)
        if outcome.rep is None:
            skipped.append(f"{label}: {outcome.why}")
            continue
        reason = f"{label}: {outcome.why}"
        if skipped:
            reason += f" (after {'; '.join(skipped)})"
        cursor = rr_cursor if rule.kind == "account_owner" else outcome.rep.id
        return RoutingDecision(
            rep_id=outcome.rep.id, rule_id=rule.id, reason=reason, next_rr_cursor=cursor
        )
    if not rules:
        raise ValidationFailed(
            "no rep can take this lead: the playbook has no routing rules",
            hint="add a `round_robin` rule under `routing.rules`",
        )
    at_cap = max_open is not None and any(r.active and r.open_handoffs >= max_open for r in unique)
    hint = (
        "raise `routing.max_open_per_rep` or let reps close open handoffs"
        if at_cap
        else "activate a sales rep or widen the routing rules"
    )
    raise ValidationFailed(
        "no rep can take this lead: " + "; ".join(skipped), hint=hint, reasons=skipped
    )
