"""The playbook names file, line and field for every problem; the default passes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from smarketing.domain.stages import Stage
from smarketing.errors import PlaybookError
from smarketing.playbook import load_playbook, load_playbook_text
from smarketing.playbook.defaults import default_playbook_text


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlaybookError) as caught:
        load_playbook_text(text, filename="pb.yaml")
    return caught.value.problems


def test_default_playbook_is_valid_and_has_a_goal_for_this_quarter() -> None:
    loaded = load_playbook_text(default_playbook_text(date(2026, 11, 28)))
    assert loaded.playbook.mql.min_score == 60
    assert [g.period for g in loaded.playbook.goals] == ["2026-Q4"]
    assert Stage.SAL in loaded.playbook.enabled_stages
    assert len(loaded.content_hash) == 64


def test_minimal_playbook_gets_documented_defaults() -> None:
    pb = load_playbook_text("version: 1\n").playbook
    assert pb.sla.first_touch_hours == 24
    assert [r.kind for r in pb.routing.rules] == ["account_owner", "round_robin"]
    assert pb.reject_reason("no-budget") is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "version: 1\nengagement:\n  half_life_days: -3\n",
            "pb.yaml:3:19: engagement.half_life_days: Input should be greater than 0",
        ),
        ("version: 1\nmql:\n  min_scor: 50\n", "pb.yaml:3:3: mql.min_scor: unknown field"),
        (
            "version: 1\nengagement:\n  rules:\n    - {id: x, page: '[bad', points: 1}\n",
            "pb.yaml:4:21: engagement.rules[0].page: bad regular expression '[bad'",
        ),
        (
            "version: 1\nrecycle:\n  to_stage: nurture\n",
            "pb.yaml:3:13: recycle.to_stage: Input should be 'subscriber'",
        ),
        (
            "version: 1\ntimezone: Mars/Base\n",
            "pb.yaml:2:11: timezone: unknown time zone 'Mars/Base'",
        ),
        ("version: 2\n", "pb.yaml:1:10: version: Input should be 1"),
        ("name: no version\n", "pb.yaml:1:1: version: required field is missing"),
        (
            "version: 1\nfit:\n  rules:\n    - id: big\n      when: {field: size, gte: 1}\n"
            "      points: 5\n",
            "pb.yaml:5:21: fit.rules[0].when.field: field 'size' must start with one of person",
        ),
        (
            "version: 1\nfit:\n  rules:\n    - id: big\n      when: {field: account.x}\n"
            "      points: 5\n",
            "pb.yaml:5:7: fit.rules[0].when: a comparison needs exactly one operator",
        ),
    ],
)
def test_structural_problems_name_file_line_column_and_field(text: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems_of(text)), problems_of(text)


def test_all_structural_problems_are_reported_at_once() -> None:
    text = (
        "version: 1\n"
        "timezone: Nowhere/Land\n"
        "engagement:\n"
        "  half_life_days: 0\n"
        "  rules:\n"
        "    - {id: Bad Id, event: X, points: 5, colour: red}\n"
    )
    fields = [p.split(": ")[1] for p in problems_of(text)]
    assert fields == [
        "timezone",
        "engagement.half_life_days",
        "engagement.rules[0].id",
        "engagement.rules[0].colour",
    ]


def test_cross_field_problems_duplicate_ids_and_unknown_stages() -> None:
    text = (
        "version: 1\n"
        "engagement:\n"
        "  rules:\n"
        "    - {id: wp, event: Whitepaper Downloaded, points: 15}\n"
        "    - {id: wp, page: ^/pricing, points: 10}\n"
        "lifecycle:\n"
        "  stages: [{id: lead}, {id: mql}, {id: sql}, {id: opportunity}, {id: customer}]\n"
        "  allow_backward: [[customer, evangelist]]\n"
    )
    assert problems_of(text) == [
        "pb.yaml:5:12: engagement.rules[1].id: duplicate rule id 'wp'",
        "pb.yaml:8:20: lifecycle.allow_backward[0]: unknown stage 'evangelist'",
    ]


def test_missing_required_stage_is_a_problem() -> None:
    text = "version: 1\nlifecycle:\n  stages: [{id: lead}, {id: mql}, {id: opportunity}, {id: customer}]\n"
    (problem,) = problems_of(text)
    assert problem.startswith("pb.yaml:3:3: lifecycle.stages: required stage(s) missing: sql")


@pytest.mark.parametrize(
    "text", ["version: 1\nfit: [unclosed\n", "", "- a list\n", "version: 1\n\tbad: tab\n"]
)
def test_unparseable_or_empty_files_are_one_problem_with_a_position(text: str) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith("pb.yaml:")
    assert problem.split(":")[1].isdigit()


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="no playbook at") as caught:
        load_playbook(tmp_path / "smarketing.yaml")
    assert "smarketing init" in (caught.value.hint or "")


def test_hash_ignores_comments_and_layout() -> None:
    a = load_playbook_text("version: 1\nmql: {min_score: 55}\n")
    b = load_playbook_text("# a comment\nversion: 1\nmql:\n  min_score: 55   # agreed in Q3\n")
    c = load_playbook_text("version: 1\nmql: {min_score: 56}\n")
    assert a.content_hash == b.content_hash != c.content_hash
