"""The batch identity planner: who is behind each event, who is new, who merges."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smarketing.ingest.identity_plan import EventKeys, plan_identities

A, B = ("anonymous_id", "a"), ("anonymous_id", "b")
U, E = ("user_id", "u"), ("email", "e@x.example")


def test_anonymous_only_events_of_unknown_visitors_map_to_nobody() -> None:
    plan = plan_identities([EventKeys(claims=(A,))], {})
    assert plan.person_of_event == [None]
    assert plan.new_people == []
    assert plan.claims == []


def test_identify_creates_one_person_that_claims_every_key() -> None:
    plan = plan_identities(
        [EventKeys(claims=(A,)), EventKeys(claims=(A, U, E), known=True), EventKeys(claims=(A,))],
        {},
    )
    assert plan.new_people == [-1]
    assert plan.person_of_event == [None, -1, -1]
    assert sorted(plan.claims) == sorted([(A, -1), (U, -1), (E, -1)])
    assert plan.person_of_anonymous("a") == -1


def test_known_keys_resolve_to_their_owner_without_new_claims() -> None:
    plan = plan_identities([EventKeys(claims=(A, U), known=True)], {A: 7, U: 7})
    assert plan.person_of_event == [7]
    assert plan.new_people == []
    assert plan.claims == []


def test_an_event_joining_two_existing_people_merges_into_the_older() -> None:
    plan = plan_identities([EventKeys(claims=(B, U), known=True)], {B: 9, U: 4})
    assert plan.merges == [(4, 9)]
    assert plan.person_of_event == [4]
    assert plan.owners[B] == 4


def test_new_people_proven_the_same_within_a_batch_are_created_once() -> None:
    plan = plan_identities(
        [
            EventKeys(claims=(A, U), known=True),
            EventKeys(claims=(B, E), known=True),
            EventKeys(claims=(B, U), known=True),
        ],
        {},
    )
    assert plan.new_people == [-1]
    assert plan.merges == []
    assert set(plan.person_of_event) == {-1}


def test_alias_looks_up_an_anonymous_previous_id_without_claiming_it() -> None:
    plan = plan_identities(
        [EventKeys(claims=(U, ("user_id", "a")), lookups=(A,), known=True)], {A: 3}
    )
    assert plan.person_of_event == [3]
    assert (A, 3) not in plan.claims


keys = st.sampled_from([A, B, U, E, ("user_id", "v"), ("email", "f@y.example")])


@given(
    st.lists(st.tuples(st.lists(keys, min_size=1, max_size=3), st.booleans()), max_size=12),
    st.dictionaries(keys, st.integers(1, 5), max_size=4),
)
def test_every_key_ends_with_one_owner_and_every_event_with_that_owner(
    events: list[tuple[list[tuple[str, str]], bool]], owners: dict[tuple[str, str], int]
) -> None:
    evs = [EventKeys(claims=tuple(k), known=known) for k, known in events]
    plan = plan_identities(evs, owners)
    for ev, person in zip(evs, plan.person_of_event, strict=True):
        if person is not None:
            assert all(plan.owners[k] == person for k in ev.claims)
    merged = {m for _, m in plan.merges}
    assert not merged & set(plan.owners.values())
    assert all(s not in merged for s, _ in plan.merges)
