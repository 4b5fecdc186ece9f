"""Lead routing: rule order, eligibility, rotation, precise refusals, and the invariants."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.domain.model import User
from smarketing.domain.routing import RepLoad, RoutingDecision, route
from smarketing.domain.stages import Role
from smarketing.errors import UsageError, ValidationFailed
from smarketing.playbook.conditions import evaluate
from smarketing.playbook.schema import Playbook, Routing, RoutingRule


def rep(id_: int, *, active: bool = True, open_: int = 0) -> RepLoad:
    return RepLoad(id=id_, email=f"rep{id_}@acme.test", active=active, open_handoffs=open_)


def rules(*specs: dict[str, Any]) -> list[RoutingRule]:
    return Routing.model_validate({"rules": list(specs)}).rules


OWNER = {"id": "account-owner", "kind": "account_owner"}
RR = {"id": "round-robin", "kind": "round_robin"}
ENTERPRISE = {
    "id": "enterprise",
    "kind": "assign",
    "when": {"field": "account.employees", "gte": 1000},
    "reps": ["REP3@acme.test", "rep4@acme.test"],
}
DEFAULT_RULES = rules(OWNER, RR)
TEAM = [rep(1), rep(2), rep(3), rep(4), rep(5, active=False)]
SMALL = {"person": {"email": "ana@small.test"}, "account": {"employees": 20}}
BIG = {"person": {"email": "bo@big.test"}, "account": {"employees": 5000}}


def decide(
    *,
    lead: dict[str, Any] = SMALL,
    owner: int | None = None,
    rule_list: list[RoutingRule] = DEFAULT_RULES,
    reps: list[RepLoad] = TEAM,
    max_open: int | None = 40,
    cursor: int = 0,
) -> RoutingDecision:
    return route(lead, owner, rule_list, reps, max_open, cursor, matches=evaluate)


# (case, keyword arguments of `decide`, rep id, rule id, next cursor, text in the reason)
CASES: list[tuple[str, dict[str, Any], int, str, int, str]] = [
    ("owner-gets-it", {"owner": 2, "cursor": 3}, 2, "account-owner", 3, "rep2@acme.test owns"),
    ("no-owner-rotates", {"cursor": 1}, 2, "round-robin", 2, "the account has no owner"),
    (
        "owner-inactive",
        {"owner": 5, "cursor": 1},
        2,
        "round-robin",
        2,
        "rep5@acme.test is inactive",
    ),
    (
        "owner-at-cap",
        {"owner": 2, "reps": [rep(1), rep(2, open_=40), rep(3)], "cursor": 1},
        3,
        "round-robin",
        3,
        "has 40 open leads, at the cap of 40",
    ),
    (
        "owner-not-a-rep",
        {"owner": 99, "cursor": 0},
        1,
        "round-robin",
        1,
        "(user 99) is not a sales rep",
    ),
    ("rotation-wraps", {"cursor": 4}, 1, "round-robin", 1, "next in turn among 4 eligible"),
    (
        "rotation-skips-inactive",
        {"cursor": 4, "reps": [rep(5, active=False), rep(2)]},
        2,
        "round-robin",
        2,
        "among 1",
    ),
    (
        "rotation-skips-full",
        {"cursor": 1, "reps": [rep(1), rep(2, open_=40), rep(3)]},
        3,
        "round-robin",
        3,
        "among 2",
    ),
    (
        "no-cap",
        {"cursor": 0, "max_open": None, "reps": [rep(1, open_=10_000)]},
        1,
        "round-robin",
        1,
        "rep1",
    ),
    (
        "assign-matches-case-insensitive",
        {"lead": BIG, "rule_list": rules(ENTERPRISE, RR), "cursor": 0},
        3,
        "enterprise",
        3,
        "among 2 eligible",
    ),
    (
        "assign-in-turn",
        {"lead": BIG, "rule_list": rules(ENTERPRISE, RR), "cursor": 3},
        4,
        "enterprise",
        4,
        "rep4@acme.test is next",
    ),
    (
        "assign-not-matching-falls-through",
        {"lead": SMALL, "rule_list": rules(ENTERPRISE, RR), "cursor": 0},
        1,
        "round-robin",
        1,
        "'enterprise' (assign): its condition did not match",
    ),
    (
        "assign-full-falls-through",
        {
            "lead": BIG,
            "rule_list": rules(ENTERPRISE, RR),
            "reps": [rep(1), rep(3, open_=40), rep(4, active=False)],
        },
        1,
        "round-robin",
        1,
        "no active sales rep listed in the rule under the cap of 40",
    ),
    (
        "owner-before-assign",
        {"lead": BIG, "owner": 1, "rule_list": rules(OWNER, ENTERPRISE, RR)},
        1,
        "account-owner",
        0,
        "owns the account",
    ),
    (
        "round-robin-with-listed-reps",
        {"rule_list": rules({**RR, "reps": ["rep2@acme.test", "rep4@acme.test"]}), "cursor": 2},
        4,
        "round-robin",
        4,
        "among 2",
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "rep_id", "rule_id", "cursor", "reason"),
    [pytest.param(k, r, u, c, t, id=case) for case, k, r, u, c, t in CASES],
)
def test_route_hand_worked(
    kwargs: dict[str, Any], rep_id: int, rule_id: str, cursor: int, reason: str
) -> None:
    decision = decide(**kwargs)
    assert (decision.rep_id, decision.rule_id, decision.next_rr_cursor) == (rep_id, rule_id, cursor)
    assert reason in decision.reason


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"reps": [rep(1, open_=40), rep(2, open_=41), rep(3, active=False)]},
            "rule 'round-robin' (round_robin): no active sales rep under the cap of 40 open leads",
            id="everyone-at-cap",
        ),
        pytest.param(
            {"reps": [rep(1, active=False)], "owner": 1},
            "the account owner rep1@acme.test is inactive; "
            "rule 'round-robin' (round_robin): no active sales rep",
            id="everyone-inactive",
        ),
        pytest.param({"reps": []}, "no sales rep", id="no-reps"),
        pytest.param({"rule_list": []}, "the playbook has no routing rules", id="no-rules"),
        pytest.param(
            {"lead": BIG, "rule_list": rules({**ENTERPRISE, "reps": ["ghost@acme.test"]})},
            "no sales rep listed in the rule (not sales reps: ghost@acme.test)",
            id="unknown-listed-rep",
        ),
        pytest.param(
            {"rule_list": rules(ENTERPRISE)},
            "rule 'enterprise' (assign): its condition did not match",
            id="no-rule-applies",
        ),
    ],
)
def test_nobody_eligible_is_refused_precisely(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationFailed, match="no rep can take this lead") as caught:
        decide(**kwargs)
    assert message in caught.value.message


def test_refusal_hints_at_the_cap_and_lists_reasons() -> None:
    with pytest.raises(ValidationFailed) as caught:
        decide(reps=[rep(1, open_=40)])
    assert caught.value.hint is not None
    assert "max_open_per_rep" in caught.value.hint
    assert caught.value.details["reasons"] == [
        "rule 'account-owner' (account_owner): the account has no owner",
        "rule 'round-robin' (round_robin): no active sales rep under the cap of 40 open leads",
    ]
    assert caught.value.http_status == 422


def test_conditions_need_an_evaluator_and_caps_must_be_positive() -> None:
    with pytest.raises(UsageError, match="no condition evaluator"):
        route(BIG, None, rules(ENTERPRISE), TEAM, 40, 0)
    with pytest.raises(UsageError, match="max_open must be positive"):
        decide(max_open=0)


def test_default_playbook_rules_and_rep_from_user() -> None:
    pb = Playbook.model_validate({"version": 1, "routing": {"max_open_per_rep": 2}})
    users = [
        User(id=7, email="a@acme.test", name="A", role=Role.SALES),
        User(id=8, email="b@acme.test", name="B", role=Role.SALES, active=False),
    ]
    reps = [RepLoad.of(u, open_handoffs=1) for u in users]
    decision = route(SMALL, 8, pb.routing.rules, reps, pb.routing.max_open_per_rep, 0)
    assert decision == RoutingDecision(
        rep_id=7,
        rule_id="round-robin",
        reason="rule 'round-robin' (round_robin): a@acme.test is next in turn among 1 "
        "eligible rep(s) (after rule 'account-owner' (account_owner): "
        "the account owner b@acme.test is inactive)",
        next_rr_cursor=7,
    )


# --- properties ------------------------------------------------------------------------------

REPS = st.lists(
    st.builds(
        rep,
        st.integers(min_value=1, max_value=12),
        active=st.booleans(),
        open_=st.integers(min_value=0, max_value=6),
    ),
    max_size=10,
    unique_by=lambda r: r.id,
)
RULE_SPECS = st.lists(
    st.one_of(
        st.just(OWNER),
        st.just(ENTERPRISE),
        st.builds(
            lambda ids: {"kind": "round_robin", "reps": [f"rep{i}@acme.test" for i in ids]},
            st.lists(st.integers(min_value=1, max_value=14), max_size=4),
        ),
        st.builds(
            lambda ids: {"kind": "assign", "reps": [f"rep{i}@acme.test" for i in ids]},
            st.lists(st.integers(min_value=1, max_value=14), min_size=1, max_size=4),
        ),
    ),
    max_size=4,
).map(lambda specs: rules(*({**s, "id": f"r{i}"} for i, s in enumerate(specs))))
FAST = settings(max_examples=100, deadline=None)


@FAST
@given(
    REPS,
    RULE_SPECS,
    st.none() | st.integers(min_value=1, max_value=6),
    st.none() | st.integers(min_value=1, max_value=14),
    st.integers(min_value=0, max_value=14),
    st.sampled_from([SMALL, BIG]),
)
def test_never_an_inactive_or_full_rep(
    reps: list[RepLoad],
    rule_list: list[RoutingRule],
    max_open: int | None,
    owner: int | None,
    cursor: int,
    lead: dict[str, Any],
) -> None:
    catch_all = any(r.kind == "round_robin" and not r.reps and r.when is None for r in rule_list)
    eligible = {r.id for r in reps if r.active and (max_open is None or r.open_handoffs < max_open)}
    try:
        decision = route(lead, owner, rule_list, reps, max_open, cursor, matches=evaluate)
    except ValidationFailed:
        assert not (catch_all and eligible)
        return
    assert decision.rep_id in eligible
    assert decision.rule_id in {r.id for r in rule_list}


@FAST
@given(
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=12),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_round_robin_is_fair(n: int, k: int, start: int, inactive: list[bool]) -> None:
    """Over k*m rotations each of the m eligible reps gets exactly k, from any cursor."""
    team = [rep(i + 1, active=not inactive[i] or i == 0) for i in range(n)]
    active = [r.id for r in team if r.active]
    counts: Counter[int] = Counter()
    cursor = start
    for _ in range(k * len(active)):
        decision = route(SMALL, None, DEFAULT_RULES, team, None, cursor)
        counts[decision.rep_id] += 1
        cursor = decision.next_rr_cursor
    assert counts == dict.fromkeys(active, k)


@FAST
@given(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=4))
def test_round_robin_fills_everyone_to_the_cap_then_refuses(n: int, cap: int) -> None:
    load = dict.fromkeys(range(1, n + 1), 0)
    cursor = 0
    for _ in range(n * cap):
        team = [rep(i, open_=o) for i, o in load.items()]
        decision = route(SMALL, None, DEFAULT_RULES, team, cap, cursor)
        load[decision.rep_id] += 1
        cursor = decision.next_rr_cursor
    assert set(load.values()) == {cap}
    with pytest.raises(ValidationFailed, match=f"under the cap of {cap} open leads"):
        route(SMALL, None, DEFAULT_RULES, [rep(i, open_=o) for i, o in load.items()], cap, cursor)
