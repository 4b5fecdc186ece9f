"""What changed between two playbooks, in words both teams read ("MQL threshold 50 -> 60").

Lists of items with an `id` (rules, reasons, pillars) are compared by id, so reordering is not
a change and a changed rule reads as "rule whitepaper-download: points 15 -> 20".
"""

from __future__ import annotations

import json
from typing import Any

from smarketing.playbook.schema import Playbook

# Phrases for the fields both teams talk about; any other field reads as its dotted path.
LABELS: dict[str, str] = {
    "mql.min_score": "MQL threshold",
    "mql.min_fit": "MQL minimum fit score",
    "mql.min_engagement": "MQL minimum engagement score",
    "engagement.half_life_days": "engagement half-life (days)",
    "engagement.daily_cap": "daily engagement cap",
    "sla.first_touch_hours": "SLA first touch (hours)",
    "sla.fast_track_first_touch_minutes": "fast-track first touch (minutes)",
    "sla.accept_within_hours": "SLA accept-or-reject (hours)",
    "sla.marketing.mqls_per_month": "MQLs promised per month",
    "sla.marketing.min_acceptance_rate": "minimum MQL acceptance rate",
    "routing.max_open_per_rep": "open leads per rep cap",
    "recycle.after_days": "recycle after (days)",
    "attribution.lookback_days": "attribution lookback (days)",
    "attribution.default_model": "default attribution model",
    "sql.required_fields": "SQL qualification fields",
}
KEYED_LISTS: dict[str, str] = {
    "fit.rules": "fit rule",
    "engagement.rules": "rule",
    "mql.fast_track": "fast-track rule",
    "routing.rules": "routing rule",
    "reject_reasons": "reject reason",
    "channels.overrides": "channel override",
    "messaging.pillars": "pillar",
    "lifecycle.stages": "stage",
    "goals": "goal",
}


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _key_of(path: str, item: dict[str, Any]) -> str:
    return str(item.get("period") if path == "goals" else item.get("id"))


def _walk(path: str, old: Any, new: Any, out: list[str]) -> None:
    if old == new:
        return
    if path in KEYED_LISTS and isinstance(old, list) and isinstance(new, list):
        _keyed(path, old, new, out)
    elif isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=lambda k: (k not in old, str(k))):
            sub = f"{path}.{key}" if path else str(key)
            _walk(sub, old.get(key), new.get(key), out)
    else:
        label = LABELS.get(path, path)
        if old is None:
            out.append(f"{label}: set to {_show(new)}")
        elif new is None:
            out.append(f"{label}: removed (was {_show(old)})")
        else:
            out.append(f"{label} {_show(old)} -> {_show(new)}")


def _keyed(path: str, old: list[dict[str, Any]], new: list[dict[str, Any]], out: list[str]) -> None:
    what = KEYED_LISTS[path]
    before = {_key_of(path, item): item for item in old}
    after = {_key_of(path, item): item for item in new}
    for key in before.keys() - after.keys():
        out.append(f"{what} {key} removed")
    for key in [k for k in after if k not in before]:
        out.append(f"{what} {key} added")
    for key in [k for k in after if k in before]:
        changes: list[str] = []
        _walk("", before[key], after[key], changes)
        for change in changes:
            if change.startswith("points "):
                out.append(f"{what} {key}: {change.removeprefix('points ')} points")
            else:
                out.append(f"{what} {key}: {change}")
    if [k for k in before if k in after] != [k for k in after if k in before]:
        out.append(f"{path}: order changed")


def diff_playbooks(old: Playbook, new: Playbook) -> list[str]:
    """Sentences describing each change from `old` to `new`; empty when they mean the same."""
    out: list[str] = []
    _walk(
        "",
        old.model_dump(mode="json", by_alias=True),
        new.model_dump(mode="json", by_alias=True),
        out,
    )
    return out
