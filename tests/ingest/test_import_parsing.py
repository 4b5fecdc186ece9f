"""Pure parts of the importers: header keys, cell values, the lifecycle walk, Salesforce ids."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smarketing.domain.identity import normalize_email
from smarketing.domain.stages import FUNNEL, Stage, is_forward
from smarketing.errors import ImportFileError, ValidationFailed
from smarketing.ingest.importers.headers import Column, bind_columns, key
from smarketing.ingest.importers.hubspot import canonical_industry
from smarketing.ingest.importers.lifecycle import StagePolicy, plan_stage
from smarketing.ingest.importers.reader import sniff_delimiter
from smarketing.ingest.importers.sfid import checksum, to_18
from smarketing.ingest.importers.values import (
    BadValue,
    DateReader,
    ParseOptions,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_email,
    parse_flag,
)

UTC_OPTIONS = ParseOptions()
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_header_keys_ignore_case_spaces_and_punctuation() -> None:
    assert key("Lifecycle Stage") == key("lifecyclestage") == key("LIFECYCLE_STAGE")
    assert key("Date entered 'Lead (Lifecycle Stage Pipeline)'") == (
        "dateenteredleadlifecyclestagepipeline"
    )


def test_the_first_listed_alias_wins_when_a_file_has_both() -> None:
    columns = [Column("mql", ("hs_v2_date_entered_marketingqualifiedlead",
                              "hs_lifecyclestage_marketingqualifiedlead_date"))]  # fmt: skip
    headers = [
        "hs_lifecyclestage_marketingqualifiedlead_date",
        "hs_v2_date_entered_marketingqualifiedlead",
    ]
    assert bind_columns(headers, columns, file="f").positions == {"mql": 1}
    with pytest.raises(ImportFileError, match="'x' or 'y' is missing"):
        bind_columns(
            ["a"], [Column("x", ("x",)), Column("y", ("y",))], file="f", one_of=[("x", "y")]
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("2024-03-01 10:05", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
        ("2024-03-01T10:05:00.000Z", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
        ("2024-03-01T12:05:00+02:00", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
        ("1709287500000", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
        ("1709287500", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
        ("3/1/2024", datetime(2024, 3, 1, tzinfo=UTC)),
        ("3/1/2024, 10:05 PM", datetime(2024, 3, 1, 22, 5, tzinfo=UTC)),
        ("12/31/2024 12:00 AM", datetime(2024, 12, 31, 0, 0, tzinfo=UTC)),
        ("01.03.2024 10:05", datetime(2024, 3, 1, 10, 5, tzinfo=UTC)),
    ],
)
def test_date_formats_users_export(text: str, expected: datetime) -> None:
    assert parse_datetime(text, UTC_OPTIONS) == expected


def test_times_without_offset_read_in_the_given_zone_and_formats_can_be_forced() -> None:
    berlin = ParseOptions(timezone=ZoneInfo("Europe/Berlin"))
    assert parse_datetime("2024-07-01 12:00", berlin) == datetime(2024, 7, 1, 10, tzinfo=UTC)
    day_first = ParseOptions(date_format="%d/%m/%Y")
    assert parse_date("25/12/2024", day_first) == date(2024, 12, 25)
    with pytest.raises(BadValue, match="unknown date format '25/12/2024'"):
        parse_date("25/12/2024", UTC_OPTIONS)
    with pytest.raises(BadValue, match="--date-format"):
        parse_datetime("yesterday", UTC_OPTIONS)


@given(
    st.datetimes(timezones=st.none() | st.timezones()),
    st.sampled_from(["auto", "minutes", "seconds", "milliseconds"]),
    st.sampled_from(["T", " "]),
)
def test_the_iso_shortcut_agrees_with_reading_the_time_in_utc(
    when: datetime, timespec: str, separator: str
) -> None:
    text = when.isoformat(separator, timespec)
    parsed = datetime.fromisoformat(text)
    expected = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    got = parse_datetime(text, UTC_OPTIONS)
    assert (got, got.tzinfo) == (expected, UTC)
    assert parse_datetime(text[:10], UTC_OPTIONS) == datetime.fromisoformat(text[:10]).replace(
        tzinfo=UTC
    )


def test_the_date_reader_remembers_texts_and_still_rejects_bad_ones() -> None:
    read = DateReader(UTC_OPTIONS)
    first = read("2024-03-01 10:05")
    assert first == datetime(2024, 3, 1, 10, 5, tzinfo=UTC)
    assert read("2024-03-01 10:05") is first
    for _ in range(2):
        with pytest.raises(BadValue, match="unknown date format"):
            read("31/31/2024")
    berlin = DateReader(ParseOptions(timezone=ZoneInfo("Europe/Berlin")))
    assert berlin("2024-07-01 12:00") == datetime(2024, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234.5", Decimal("1234.5")),
        ("1,234.50", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("12,5", Decimal("12.5")),
        ("$ 1,000", Decimal("1000")),
        ("EUR 99", Decimal("99")),
        ("-3", Decimal("-3")),
    ],
)
def test_numbers_with_separators_and_currency_signs(text: str, expected: Decimal) -> None:
    assert parse_decimal(text) == expected


def test_flags_and_bad_numbers() -> None:
    assert [parse_flag(v) for v in ("true", "1", "Yes", "false", "0", "no")] == [
        True, True, True, False, False, False
    ]  # fmt: skip
    with pytest.raises(BadValue):
        parse_flag("maybe")
    with pytest.raises(BadValue):
        parse_decimal("n/a")


@given(st.emails() | st.text(max_size=40))
def test_the_email_shortcut_agrees_with_normalize_email(text: str) -> None:
    try:
        expected: str | None = normalize_email(text)
    except ValidationFailed:
        expected = None
    try:
        got: str | None = parse_email(text)
    except BadValue:
        got = None
    assert got == expected


def test_industry_labels_and_values_meet() -> None:
    assert canonical_industry("COMPUTER_SOFTWARE") == canonical_industry("Computer Software")
    assert canonical_industry("FOOD_BEVERAGES") == canonical_industry("Food & Beverages")


def test_delimiters_are_sniffed_outside_quotes() -> None:
    assert sniff_delimiter('"a;b",c,d\n1;2') == ","
    assert sniff_delimiter("a;b;c\n") == ";"
    assert sniff_delimiter("a\tb|c\td\n") == "\t"
    assert sniff_delimiter("single\n") == ","


@given(st.text(alphabet="ABCDEFabcdef0123456789", min_size=15, max_size=15))
def test_an_18_character_id_round_trips_and_depends_on_case(id15: str) -> None:
    long = to_18(id15)
    assert long[:15] == id15
    assert to_18(long) == long
    if any(ch.isalpha() for ch in id15):
        assert checksum(id15.swapcase()) != long[15:]


POLICY = StagePolicy(enabled=frozenset(Stage), allow_backward=frozenset(), undated_at=T0)
stages = st.sampled_from(list(Stage))


@given(
    current=st.none() | stages,
    claimed=st.none() | stages,
    entered=st.dictionaries(stages, st.integers(0, 1000), max_size=5),
)
def test_an_import_never_moves_anyone_backwards(
    current: Stage | None, claimed: Stage | None, entered: dict[Stage, int]
) -> None:
    dated = [(stage, T0 + timedelta(days=d)) for stage, d in entered.items()]
    final, moves = plan_stage(current, claimed, dated, POLICY)
    if moves:
        assert final is not None
        assert is_forward(current, final)
        assert moves[0].from_stage == current
        assert moves[-1].to_stage == final
        assert all(a.to_stage == b.from_stage for a, b in itertools.pairwise(moves))
    else:
        assert final == current


def test_the_walk_follows_dates_up_to_the_claim_and_dates_the_claim() -> None:
    dated = [(Stage.LEAD, T0), (Stage.MQL, T0 + timedelta(1)), (Stage.CUSTOMER, T0 + timedelta(9))]
    final, moves = plan_stage(None, Stage.SQL, dated, POLICY)
    assert final is Stage.SQL
    assert [(m.from_stage, m.to_stage, m.at) for m in moves] == [
        (None, Stage.LEAD, T0),
        (Stage.LEAD, Stage.MQL, T0 + timedelta(1)),
        (Stage.MQL, Stage.SQL, T0),  # undated: the run's start
    ]
    assert plan_stage(Stage.CUSTOMER, Stage.LEAD, dated, POLICY) == (Stage.CUSTOMER, [])
    allow = StagePolicy(frozenset(Stage), frozenset({(Stage.CUSTOMER, Stage.SQL)}), T0)
    assert plan_stage(Stage.CUSTOMER, Stage.SQL, [], allow)[0] is Stage.SQL
    without_mql = StagePolicy(frozenset(FUNNEL) - {Stage.MQL}, frozenset(), T0)
    assert [m.to_stage for m in plan_stage(None, Stage.SQL, dated, without_mql)[1]] == [
        Stage.LEAD, Stage.SQL
    ]  # fmt: skip
