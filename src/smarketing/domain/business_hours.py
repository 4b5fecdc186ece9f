"""Business time: the clock SLAs run on, in the playbook's time zone and working hours.

A `BusinessCalendar` opens a window `[start, end)` of local wall time on each business day.
Windows are turned into absolute instants one local day at a time, so a window always lasts
the *real* time between its local opening and closing: across a DST change inside the hours
(say 01:00-04:00 on the night clocks jump) the window is one hour shorter or longer, and a
DST change outside the hours moves the window's UTC position, not its length. Local times
that fall in a DST gap or overlap resolve with `fold=0` (the offset in force before the
change); a window that this leaves empty is skipped, and a window that would overlap the one
before it (a zone skipping a whole day) is clipped, so windows never overlap.

Invariants (proved by Hypothesis in `tests/domain/test_business_hours.py`):
- `add(s, d)` is monotone in `d` and never earlier than `s`;
- `elapsed(s, add(s, d)) == d` for every `s`, inside or outside hours, and every `d >= 0`;
- `elapsed(a, b) == -elapsed(b, a)`; results of `add` are in UTC.

SLA rule (see `first_touch_due`): SLA hours count business time; the fast-track first touch
counts wall-clock minutes from the moment the business is open (see `fast_track_due`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Playbook day names; the index is `datetime.weekday()` (Monday = 0)."""

_DAY = timedelta(days=1)


class HoursSpec(Protocol):
    """The playbook's `business_hours` section, as this module reads it."""

    @property
    def days(self) -> Sequence[str]: ...
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...


class CalendarSpec(Protocol):
    """What `BusinessCalendar.from_playbook` needs of a playbook (`timezone`, `business_hours`)."""

    @property
    def timezone(self) -> str: ...
    @property
    def business_hours(self) -> HoursSpec: ...


class SlaSpec(Protocol):
    """The playbook's `sla` section, as the due-time helpers read it."""

    @property
    def first_touch_hours(self) -> float: ...
    @property
    def fast_track_first_touch_minutes(self) -> float: ...
    @property
    def accept_within_hours(self) -> float: ...


def _aware_utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (got naive {instant.isoformat()})")
    return instant.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Working hours `start`-`end` (local wall time) on `days` (0 = Monday) in `timezone`."""

    timezone: str
    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r}; use an IANA name such as Europe/Berlin"
            ) from None
        if not self.days:
            raise ValueError("a business calendar needs at least one business day")
        bad = sorted(d for d in self.days if d not in range(7))
        if bad:
            raise ValueError(f"business days must be 0 (Monday) to 6 (Sunday), got {bad}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("business hours are local wall times: give `start`/`end` no tzinfo")
        if self.end <= self.start:
            raise ValueError(f"business hours end {self.end} must be after start {self.start}")

    @classmethod
    def from_playbook(cls, pb: CalendarSpec) -> BusinessCalendar:
        """The calendar of a playbook's `timezone` and `business_hours` sections."""
        hours = pb.business_hours
        return cls(
            timezone=pb.timezone,
            days=frozenset(WEEKDAYS.index(d) for d in hours.days),
            start=hours.start,
            end=hours.end,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)  # ZoneInfo caches instances per key

    def _window(self, day: date) -> tuple[datetime, datetime]:
        zone = self.zone
        opens = datetime.combine(day, self.start, tzinfo=zone).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)
        return opens, closes

    def windows(self, around: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Business windows `(opens, closes)` in UTC, in order and never overlapping, starting
        a little before `around` (so the window holding it is included); endless."""
        day = _aware_utc(around, "around").astimezone(self.zone).date() - 2 * _DAY
        previous_close: datetime | None = None
        while True:
            if day.weekday() in self.days:
                opens, closes = self._window(day)
                if previous_close is not None:
                    opens = max(opens, previous_close)
                if closes > opens:
                    yield opens, closes
                    previous_close = closes
            day += _DAY

    def is_open(self, instant: datetime) -> bool:
        """True when `instant` lies inside a business window (`opens <= instant < closes`)."""
        at = _aware_utc(instant, "instant")
        for opens, closes in self.windows(at):
            if opens > at:
                return False
            if at < closes:
                return True
        raise AssertionError("unreachable: windows are endless")  # pragma: no cover

    def next_open(self, instant: datetime) -> datetime:
        """`instant` (in UTC) when the business is open then, else the next opening."""
        return self.add(instant, timedelta(0))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant (UTC) at which `duration` of business time has passed since `start`.

        Time outside the windows does not count; a start outside hours waits for the next
        opening. A duration that ends exactly at closing time returns the closing instant.
        """
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        at = _aware_utc(start, "start")
        remaining = duration
        for opens, closes in self.windows(at):
            if closes <= at:
                continue
            begin = max(opens, at)
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: windows are endless")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; negative when `end` is before `start`.

        The inverse of `add`: `elapsed(s, add(s, d)) == d`.
        """
        a, b = _aware_utc(start, "start"), _aware_utc(end, "end")
        if b < a:
            return -self.elapsed(b, a)
        total = timedelta(0)
        for opens, closes in self.windows(a):
            if opens >= b:
                break
            lo, hi = max(opens, a), min(closes, b)
            if hi > lo:
                total += hi - lo
        return total


def sla_due(
    calendar: BusinessCalendar,
    started: datetime,
    *,
    hours: float | None = None,
    minutes: float | None = None,
    business: bool = True,
) -> datetime:
    """When an SLA of `hours` and/or `minutes` that began at `started` falls due (UTC).

    `business=True` counts business time on `calendar`; `business=False` counts the wall
    clock (real elapsed time, so DST changes do not stretch or shrink it).
    """
    if hours is None and minutes is None:
        raise ValueError("sla_due needs `hours` or `minutes`")
    duration = timedelta(hours=hours or 0, minutes=minutes or 0)
    if duration < timedelta(0):
        raise ValueError(f"an SLA cannot be negative, got {duration}")
    if business:
        return calendar.add(started, duration)
    return _aware_utc(started, "started") + duration


def fast_track_due(calendar: BusinessCalendar, started: datetime, minutes: float) -> datetime:
    """Due time of a fast-track first touch: `minutes` of wall-clock time from the moment the
    business is open, i.e. from `started` inside hours, else from the next opening.

    Why not pure business time: a demo request at 16:55 with a 15-minute SLA would otherwise be
    due at 09:10 the next business day; speed to lead is the point of fast track, so once
    someone is at work the clock runs on the wall clock, even past closing time. Why not pure
    wall clock: a demo request on Saturday would be overdue at 10:15 on Saturday, and SLA
    compliance would measure the hour of arrival, not sales follow-up.
    """
    return sla_due(calendar, calendar.next_open(started), minutes=minutes, business=False)


def first_touch_due(
    calendar: BusinessCalendar, started: datetime, sla: SlaSpec, *, fast_track: bool
) -> datetime:
    """When the first touch of an MQL that became one at `started` is due (UTC).

    Normal MQLs: `first_touch_hours` of business time. Fast-track MQLs:
    `fast_track_first_touch_minutes` by `fast_track_due`.
    """
    if fast_track:
        return fast_track_due(calendar, started, sla.fast_track_first_touch_minutes)
    return sla_due(calendar, started, hours=sla.first_touch_hours)


def accept_due(calendar: BusinessCalendar, handed_off: datetime, sla: SlaSpec) -> datetime:
    """When sales must accept or reject a handed-off MQL: `accept_within_hours` of business
    time after the handoff (UTC)."""
    return sla_due(calendar, handed_off, hours=sla.accept_within_hours)
