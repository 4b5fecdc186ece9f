"""Business time: hand-worked cases across weekends and DST, and the invariants of add/elapsed."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smarketing.domain.business_hours import (
    BusinessCalendar,
    accept_due,
    fast_track_due,
    first_touch_due,
    sla_due,
)
from smarketing.playbook.schema import Playbook

WEEKDAYS = frozenset(range(5))
BERLIN = BusinessCalendar("Europe/Berlin", WEEKDAYS, time(9), time(17))
NEW_YORK = BusinessCalendar("America/New_York", WEEKDAYS, time(9), time(17))
# Open on Sunday nights across the hour the clocks change (02:00 -> 03:00 in spring, 03:00 ->
# 02:00 in autumn): the window is 2 real hours on the spring day and 4 on the autumn day.
BERLIN_NIGHT = BusinessCalendar("Europe/Berlin", frozenset({6}), time(1), time(4))


def local(cal: BusinessCalendar, y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(cal.timezone))


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


H = timedelta(hours=1)
M = timedelta(minutes=1)

# (case, calendar, start (local y, m, d, h, min), duration, expected end (local)).
# 2026-01-09 is a Friday. DST 2026: Berlin Mar 29 / Oct 25, New York Mar 8 / Nov 1 (Sundays).
ADD_CASES: list[tuple[str, BusinessCalendar, tuple[int, ...], timedelta, tuple[int, ...]]] = [
    ("friday-1630-plus-1h", BERLIN, (2026, 1, 9, 16, 30), H, (2026, 1, 12, 9, 30)),
    ("start-on-saturday", BERLIN, (2026, 1, 10, 11), 2 * H, (2026, 1, 12, 11)),
    ("start-sunday-night", BERLIN, (2026, 1, 11, 23), 30 * M, (2026, 1, 12, 9, 30)),
    ("before-opening", BERLIN, (2026, 1, 13, 7), H, (2026, 1, 13, 10)),
    ("after-closing", BERLIN, (2026, 1, 13, 18), H, (2026, 1, 14, 10)),
    ("ends-at-closing", BERLIN, (2026, 1, 13, 16), H, (2026, 1, 13, 17)),
    ("zero-inside", BERLIN, (2026, 1, 13, 10), timedelta(0), (2026, 1, 13, 10)),
    ("zero-on-saturday", BERLIN, (2026, 1, 10, 10), timedelta(0), (2026, 1, 12, 9)),
    ("24h-is-three-days", BERLIN, (2026, 1, 12, 9), 24 * H, (2026, 1, 14, 17)),
    ("24h-from-mid-morning", BERLIN, (2026, 1, 12, 10), 24 * H, (2026, 1, 15, 10)),
    ("40h-is-a-week", BERLIN, (2026, 1, 14, 13), 40 * H, (2026, 1, 21, 13)),
    ("48h-over-two-weekends", BERLIN, (2026, 1, 9, 12), 48 * H, (2026, 1, 19, 12)),
    ("berlin-spring-weekend", BERLIN, (2026, 3, 27, 16, 30), H, (2026, 3, 30, 9, 30)),
    ("berlin-autumn-weekend", BERLIN, (2026, 10, 23, 16, 30), H, (2026, 10, 26, 9, 30)),
    ("berlin-dst-week-24h", BERLIN, (2026, 3, 26, 10), 24 * H, (2026, 3, 31, 10)),
    ("new-york-spring-weekend", NEW_YORK, (2026, 3, 6, 16, 30), H, (2026, 3, 9, 9, 30)),
    ("new-york-autumn-weekend", NEW_YORK, (2026, 10, 30, 16, 30), H, (2026, 11, 2, 9, 30)),
    ("night-spring-2h-window", BERLIN_NIGHT, (2026, 3, 29, 1), 2 * H, (2026, 3, 29, 4)),
    ("night-spring-overflow", BERLIN_NIGHT, (2026, 3, 29, 1), 150 * M, (2026, 4, 5, 1, 30)),
    ("night-autumn-4h-window", BERLIN_NIGHT, (2026, 10, 25, 1), 4 * H, (2026, 10, 25, 4)),
]


@pytest.mark.parametrize(
    ("calendar", "start", "duration", "expected"),
    [pytest.param(c, s, d, e, id=case) for case, c, s, d, e in ADD_CASES],
)
def test_add_hand_worked(
    calendar: BusinessCalendar,
    start: tuple[int, ...],
    duration: timedelta,
    expected: tuple[int, ...],
) -> None:
    began = local(calendar, *start)
    due = calendar.add(began, duration)
    assert due == local(calendar, *expected)
    assert due.tzinfo is UTC
    assert calendar.elapsed(began, due) == duration or duration == timedelta(0)


def test_dst_weekend_is_one_hour_shorter_in_real_time() -> None:
    due = BERLIN.add(local(BERLIN, 2026, 3, 27, 16, 30), H)
    assert due == utc(2026, 3, 30, 7, 30)
    assert due - utc(2026, 3, 27, 15, 30) == 64 * H  # 65 h on an ordinary weekend


def test_start_in_another_zone_gives_the_same_instant() -> None:
    assert BERLIN.add(utc(2026, 1, 9, 15, 30), H) == BERLIN.add(
        local(BERLIN, 2026, 1, 9, 16, 30), H
    )


# (case, calendar, start, end, business time between them)
ELAPSED_CASES: list[tuple[str, BusinessCalendar, datetime, datetime, timedelta]] = [
    (
        "over-weekend",
        BERLIN,
        local(BERLIN, 2026, 1, 9, 16, 30),
        local(BERLIN, 2026, 1, 12, 9, 30),
        H,
    ),
    (
        "inside-weekend",
        BERLIN,
        local(BERLIN, 2026, 1, 10, 8),
        local(BERLIN, 2026, 1, 11, 20),
        timedelta(0),
    ),
    ("reversed", BERLIN, local(BERLIN, 2026, 1, 12, 9, 30), local(BERLIN, 2026, 1, 9, 16, 30), -H),
    ("same-instant", BERLIN, utc(2026, 1, 13, 10), utc(2026, 1, 13, 10), timedelta(0)),
    ("whole-week", BERLIN, local(BERLIN, 2026, 1, 10, 0), local(BERLIN, 2026, 1, 17, 0), 40 * H),
    ("dst-week", BERLIN, local(BERLIN, 2026, 3, 28, 0), local(BERLIN, 2026, 4, 4, 0), 40 * H),
    (
        "night-spring",
        BERLIN_NIGHT,
        local(BERLIN, 2026, 3, 29, 0),
        local(BERLIN, 2026, 3, 29, 5),
        2 * H,
    ),
    (
        "night-autumn",
        BERLIN_NIGHT,
        local(BERLIN, 2026, 10, 25, 0),
        local(BERLIN, 2026, 10, 25, 5),
        4 * H,
    ),
    (
        "night-ordinary",
        BERLIN_NIGHT,
        local(BERLIN, 2026, 1, 11, 0),
        local(BERLIN, 2026, 1, 11, 5),
        3 * H,
    ),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [pytest.param(c, s, e, x, id=case) for case, c, s, e, x in ELAPSED_CASES],
)
def test_elapsed_hand_worked(
    calendar: BusinessCalendar, start: datetime, end: datetime, expected: timedelta
) -> None:
    assert calendar.elapsed(start, end) == expected


@pytest.mark.parametrize(
    ("instant", "open_"),
    [
        (local(BERLIN, 2026, 1, 13, 9), True),
        (local(BERLIN, 2026, 1, 13, 16, 59), True),
        (local(BERLIN, 2026, 1, 13, 17), False),
        (local(BERLIN, 2026, 1, 13, 8, 59), False),
        (local(BERLIN, 2026, 1, 10, 12), False),
    ],
)
def test_is_open(instant: datetime, open_: bool) -> None:
    assert BERLIN.is_open(instant) is open_


def test_from_playbook() -> None:
    pb = Playbook.model_validate(
        {
            "version": 1,
            "timezone": "America/New_York",
            "business_hours": {"days": ["mon", "sat"], "start": "08:30", "end": "12:00"},
        }
    )
    assert BusinessCalendar.from_playbook(pb) == BusinessCalendar(
        "America/New_York", frozenset({0, 5}), time(8, 30), time(12)
    )
    default = BusinessCalendar.from_playbook(Playbook.model_validate({"version": 1}))
    assert default == BusinessCalendar("UTC", WEEKDAYS, time(9), time(17))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"days": frozenset()}, "at least one business day"),
        ({"days": frozenset({7})}, r"0 \(Monday\) to 6 \(Sunday\)"),
        ({"end": time(9)}, "must be after start"),
        ({"start": time(9, tzinfo=UTC)}, "local wall times"),
    ],
)
def test_bad_calendars_are_refused(kwargs: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {
        "timezone": "Europe/Berlin",
        "days": WEEKDAYS,
        "start": time(9),
        "end": time(17),
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**fields)  # type: ignore[arg-type]


def test_naive_datetimes_and_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        BERLIN.add(datetime(2026, 1, 13, 10), H)
    with pytest.raises(ValueError, match="aware"):
        BERLIN.elapsed(utc(2026, 1, 13, 10), datetime(2026, 1, 14, 10))
    with pytest.raises(ValueError, match="negative"):
        BERLIN.add(utc(2026, 1, 13, 10), -H)
    with pytest.raises(ValueError, match="hours` or `minutes"):
        sla_due(BERLIN, utc(2026, 1, 13, 10))


def test_sla_due_business_and_wall_clock() -> None:
    friday = local(BERLIN, 2026, 1, 9, 16, 30)
    assert sla_due(BERLIN, friday, hours=1) == local(BERLIN, 2026, 1, 12, 9, 30)
    assert sla_due(BERLIN, friday, minutes=45) == local(BERLIN, 2026, 1, 12, 9, 15)
    assert sla_due(BERLIN, friday, hours=1, minutes=30) == local(BERLIN, 2026, 1, 12, 10)
    assert sla_due(BERLIN, friday, hours=1, business=False) == local(BERLIN, 2026, 1, 9, 17, 30)
    # Wall clock is real time: 24 h across the spring change ends at 17:30 local, not 16:30.
    spring = local(BERLIN, 2026, 3, 28, 16, 30)
    assert sla_due(BERLIN, spring, hours=24, business=False) == local(BERLIN, 2026, 3, 29, 17, 30)


@pytest.mark.parametrize(
    ("arrived", "due"),
    [
        pytest.param((2026, 1, 13, 10), (2026, 1, 13, 10, 15), id="inside-hours"),
        pytest.param((2026, 1, 13, 16, 55), (2026, 1, 13, 17, 10), id="runs-past-closing"),
        pytest.param((2026, 1, 13, 22), (2026, 1, 14, 9, 15), id="at-night"),
        pytest.param((2026, 1, 10, 10), (2026, 1, 12, 9, 15), id="on-saturday"),
        pytest.param((2026, 3, 28, 10), (2026, 3, 30, 9, 15), id="dst-weekend"),
    ],
)
def test_fast_track_is_wall_clock_minutes_from_opening(
    arrived: tuple[int, ...], due: tuple[int, ...]
) -> None:
    assert fast_track_due(BERLIN, local(BERLIN, *arrived), 15) == local(BERLIN, *due)


def test_first_touch_and_accept_due_from_the_playbook_sla() -> None:
    sla = Playbook.model_validate({"version": 1}).sla  # 24 h, 15 min, 48 h
    monday = local(BERLIN, 2026, 1, 12, 9)
    assert first_touch_due(BERLIN, monday, sla, fast_track=False) == local(BERLIN, 2026, 1, 14, 17)
    assert first_touch_due(BERLIN, monday, sla, fast_track=True) == local(
        BERLIN, 2026, 1, 12, 9, 15
    )
    assert accept_due(BERLIN, monday, sla) == local(BERLIN, 2026, 1, 19, 17)


# --- properties ------------------------------------------------------------------------------

CALENDARS = st.sampled_from(
    [
        BERLIN,
        NEW_YORK,
        BERLIN_NIGHT,
        BusinessCalendar("America/New_York", frozenset({0, 1, 2, 3, 4, 5}), time(8, 30), time(18)),
        BusinessCalendar("Australia/Lord_Howe", frozenset({6, 0}), time(1), time(3)),  # 30-min DST
        BusinessCalendar("Asia/Tokyo", WEEKDAYS, time(10), time(19)),
        BusinessCalendar("UTC", frozenset(range(7)), time(0), time(23, 59, 59)),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))
FAST = settings(max_examples=100, deadline=None)


@FAST
@given(CALENDARS, INSTANTS, DURATIONS, DURATIONS)
def test_add_is_monotone_in_duration(
    cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    lo, hi = sorted((d1, d2))
    assert start <= cal.add(start, lo) <= cal.add(start, hi)


@FAST
@given(CALENDARS, INSTANTS, DURATIONS)
def test_elapsed_inverts_add(cal: BusinessCalendar, start: datetime, d: timedelta) -> None:
    due = cal.add(start, d)
    assert due.tzinfo is UTC
    assert cal.elapsed(start, due) == d


@FAST
@given(CALENDARS, INSTANTS, DURATIONS, DURATIONS.filter(lambda d: d > timedelta(0)))
def test_add_is_additive(
    cal: BusinessCalendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    assert cal.add(cal.add(start, d1), d2) == cal.add(start, d1 + d2)


@FAST
@given(
    CALENDARS, INSTANTS, st.timedeltas(min_value=-timedelta(days=30), max_value=timedelta(days=30))
)
def test_add_of_elapsed_lands_on_end_up_to_closed_time(
    cal: BusinessCalendar, a: datetime, gap: timedelta
) -> None:
    b = a + gap
    assert cal.elapsed(a, b) == -cal.elapsed(b, a)
    start, end = sorted((a, b))
    between = cal.elapsed(start, end)
    back = cal.add(start, between)
    if between > timedelta(0):  # (a zero duration waits for the next opening, maybe past end)
        assert back <= end
        assert cal.elapsed(back, end) == timedelta(0)
    else:
        assert back == cal.next_open(start)
