"""Report periods: `2026-Q4`, `2026-11`, `2026`, `last-90-days` (relative to today).

A period is a half-open span of UTC days `[start, end)`; `today` caps "so far" figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from smarketing.errors import UsageError

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_YEAR = re.compile(r"^(\d{4})$")
_LAST = re.compile(r"^last-(\d{1,4})-days$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Period:
    label: str
    start: date
    end: date  # exclusive
    today: date

    @property
    def start_at(self) -> datetime:
        """Naive UTC midnight of the first day (the analytics tables' timestamp format)."""
        return datetime.combine(self.start, time())

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time())

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def months(self) -> float:
        """Length in months: whole months for calendar periods, days / 30.44 otherwise."""
        if _QUARTER.match(self.label):
            return 3.0
        if _MONTH.match(self.label):
            return 1.0
        if _YEAR.match(self.label):
            return 12.0
        return self.days / 30.44

    @property
    def elapsed_end(self) -> date:
        """The end of the part of the period that has happened (today counts)."""
        return min(self.end, self.today + timedelta(days=1))

    def working_days(self, weekdays: tuple[str, ...], *, until: date | None = None) -> int:
        """Days of the period (up to `until`, exclusive) that fall on `weekdays`."""
        stop = min(until or self.end, self.end)
        wanted = {WEEKDAYS.index(d) for d in weekdays}
        day, n = self.start, 0
        while day < stop:
            n += day.weekday() in wanted
            day += timedelta(days=1)
        return n

    def as_dict(self) -> dict[str, str]:
        return {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}


def _add_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_period(text: str | None, *, today: date) -> Period:
    """Parse a period; None means the current quarter."""
    label = (text or quarter_label(today)).strip()
    if m := _QUARTER.match(label):
        start = date(int(m[1]), 3 * (int(m[2]) - 1) + 1, 1)
        return Period(label, start, _add_months(start, 3), today)
    if m := _MONTH.match(label):
        start = date(int(m[1]), int(m[2]), 1)
        return Period(label, start, _add_months(start, 1), today)
    if m := _YEAR.match(label):
        return Period(label, date(int(m[1]), 1, 1), date(int(m[1]) + 1, 1, 1), today)
    if m := _LAST.match(label):
        days = int(m[1])
        if days < 1:
            raise UsageError("last-N-days needs N >= 1", hint="e.g. --period last-90-days")
        end = today + timedelta(days=1)
        return Period(label, end - timedelta(days=days), end, today)
    raise UsageError(
        f"unknown period {label!r}",
        hint="use a quarter (2026-Q4), a month (2026-11), a year (2026) or last-N-days",
    )
