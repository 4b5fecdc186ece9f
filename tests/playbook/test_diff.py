"""`playbook diff` says what changed in words both teams read."""

from __future__ import annotations

from datetime import date

from smarketing.playbook import load_playbook_text
from smarketing.playbook.defaults import default_playbook_text
from smarketing.playbook.diff import diff_playbooks

BASE = default_playbook_text(date(2026, 11, 28))


def diff(old: str, new: str) -> list[str]:
    return diff_playbooks(load_playbook_text(old).playbook, load_playbook_text(new).playbook)


def test_same_meaning_is_no_change() -> None:
    assert diff(BASE, BASE + "\n# a new comment\n") == []


def test_threshold_and_rule_points_read_as_sentences() -> None:
    new = BASE.replace("min_score: 60", "min_score: 70").replace(
        "event: Whitepaper Downloaded\n      points: 15",
        "event: Whitepaper Downloaded\n      points: 20",
    )
    assert diff(BASE, new) == [
        "rule whitepaper-download: 15 -> 20 points",
        "MQL threshold 60 -> 70",
    ]


def test_rules_added_removed_and_reordered() -> None:
    old = "version: 1\nengagement:\n  rules:\n    - {id: a, event: A, points: 1}\n    - {id: b, event: B, points: 2}\n"
    new = "version: 1\nengagement:\n  rules:\n    - {id: c, event: C, points: 3}\n    - {id: a, event: A, points: 1}\n"
    assert diff(old, new) == ["rule b removed", "rule c added"]
    swapped = "version: 1\nengagement:\n  rules:\n    - {id: b, event: B, points: 2}\n    - {id: a, event: A, points: 1}\n"
    assert diff(old, swapped) == ["engagement.rules: order changed"]


def test_other_fields_fall_back_to_their_path() -> None:
    assert diff("version: 1\n", "version: 1\ntimezone: Europe/Berlin\n") == [
        "timezone UTC -> Europe/Berlin"
    ]
    assert diff("version: 1\n", "version: 1\nsla: {accept_within_hours: 24}\n") == [
        "SLA accept-or-reject (hours) 48.0 -> 24.0"
    ]
