"""When a playbook rule with `event`, `page` or `when` fires on a touch.

A rule fires when every trigger it sets matches: `event` equals the name of a tracked event
(any case; page and screen views are not events), `page` (a regex) is found in the URL path of
a page view, `when` (a condition) holds for `{"event": touch, "person": ..., "account": ...}`.
These are the same semantics as the scoring rules (`domain.scoring`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

from smarketing.playbook.conditions import Condition, evaluate


class Trigger(Protocol):
    @property
    def event(self) -> str | None: ...
    @property
    def page(self) -> str | None: ...
    @property
    def when(self) -> Condition | None: ...


VIEW_KINDS = frozenset({"page_view", "screen_view"})


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def path_of(url: str | None) -> str:
    if not url:
        return ""
    return urlsplit(url).path if "://" in url else url.split("?", 1)[0]


def fires(
    rule: Trigger, touch: Mapping[str, Any], context: Mapping[str, Any] | None = None
) -> bool:
    """Whether `rule` fires on `touch` (keys: `name`, `url`, plus anything `when` reads)."""
    is_view = touch.get("kind") in VIEW_KINDS
    if rule.event is not None and (
        is_view or str(touch.get("name") or "").casefold() != rule.event.casefold()
    ):
        return False
    if rule.page is not None and (
        not is_view or not _regex(rule.page).search(path_of(touch.get("url")) or "/")
    ):
        return False
    if rule.when is not None:
        record = {**(context or {}), "event": dict(touch)}
        if not evaluate(rule.when, record):
            return False
    return rule.event is not None or rule.page is not None or rule.when is not None
