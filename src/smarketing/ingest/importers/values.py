"""Cell values: text, email, dates, numbers and flags, each parsed or reported as a problem.

Dates and times, unless a `date_format` (strptime) is given: ISO 8601 (`2024-03-01`,
`2024-03-01 10:00`, `2024-03-01T10:00:00.000Z`), epoch seconds or milliseconds (HubSpot's API),
US `M/D/YYYY[ h:mm[:ss][ AM|PM]]` (HubSpot and Salesforce in en_US) and `D.M.YYYY[ H:MM]`.
A time without an offset is read in `ParseOptions.timezone` (UTC unless told). Numbers accept
thousands separators and a decimal comma (`1,234.50`, `1.234,50`, `12,5`) and ignore currency
signs. Empty cells are "no value": they never erase what is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from smarketing.domain.identity import normalize_email
from smarketing.errors import ValidationFailed
from smarketing.ingest.importers.headers import BoundColumns

_US = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"
)
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_EPOCH = re.compile(r"\d{10}(\d{3})?")
_NUMBER_NOISE = re.compile(r"[\s$€£¥'\u00a0\u202f]|[A-Za-z]{3}$|^[A-Za-z]{3}")
_THOUSANDS_COMMA = re.compile(r"-?\d{1,3}(,\d{3})+")
_PLAIN_EMAIL = re.compile(
    r"(?=[^@]{1,64}@)[a-z0-9%+_-]+(?:\.[a-z0-9%+_-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_MAX_EMAIL = 254
_TRUE = frozenset({"true", "1", "yes", "y", "t", "x", "checked", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "unchecked", "off"})
_MONEY_PLACES = Decimal("0.01")
T = TypeVar("T")
DATE_HINT = (
    "expected ISO 8601 (2024-03-01, 2024-03-01T10:00:00Z), M/D/YYYY, D.M.YYYY or epoch "
    "milliseconds; pass --date-format (e.g. %d/%m/%Y) for another format"
)


class BadValue(ValueError):
    """A cell that cannot be read as the type its column needs; the message is the reason."""


@dataclass(frozen=True, slots=True)
class ParseOptions:
    date_format: str | None = None
    timezone: tzinfo = UTC


def parse_datetime(text: str, options: ParseOptions) -> datetime:
    stripped = text.strip()
    if options.date_format is None and options.timezone is UTC:
        try:
            iso = datetime.fromisoformat(stripped)
        except ValueError:
            pass
        else:
            return iso.astimezone(UTC) if iso.tzinfo is not None else _iso_utc(stripped, iso)
    value = _parse_datetime(stripped, options)
    if value is None:
        raise BadValue(f"unknown date format {text!r} ({DATE_HINT})")
    if value.tzinfo is None:
        if options.timezone is UTC:
            return value.replace(tzinfo=UTC)
        value = value.replace(tzinfo=options.timezone)
    return value.astimezone(UTC)


def _iso_utc(text: str, naive: datetime) -> datetime:
    """`naive` (read from the ISO 8601 `text`) in UTC: parsing the text again with a `+00:00`
    suffix costs an eighth of `naive.replace(tzinfo=UTC)`. A date without a time ignores the
    suffix (the result stays naive), so that falls back to `replace`."""
    if len(text) > 10:
        try:
            aware = datetime.fromisoformat(text + "+00:00")
        except ValueError:
            pass
        else:
            if aware.tzinfo is UTC:
                return aware
    return naive.replace(tzinfo=UTC)


class DateReader:
    """`parse_datetime` for one `ParseOptions`, memoised per distinct (stripped) text.

    Exports repeat their dates (a day, a minute, an import's timestamp), and a dict lookup
    costs a tenth of a parse. Bounded: the memo starts afresh when it holds `MEMO_SIZE` texts.
    Bad values are not memoised (they raise `BadValue` each time).
    """

    MEMO_SIZE = 1 << 16
    __slots__ = ("_memo", "options")

    def __init__(self, options: ParseOptions) -> None:
        self.options = options
        self._memo: dict[str, datetime] = {}

    def __call__(self, text: str) -> datetime:
        found = self._memo.get(text)
        if found is None:
            found = parse_datetime(text, self.options)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[text] = found
        return found


def _parse_datetime(text: str, options: ParseOptions) -> datetime | None:
    if options.date_format:
        try:
            return datetime.strptime(text, options.date_format)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if _EPOCH.fullmatch(text):
        seconds = int(text) / 1000 if len(text) == 13 else int(text)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    match = _US.fullmatch(text)
    if match:
        month, day, year, hour, minute, second, half = match.groups()
        return _assemble(int(year), int(month), int(day), hour, minute, second, half)
    match = _DOTTED.fullmatch(text)
    if match:
        day, month, year, hour, minute, second = match.groups()
        return _assemble(int(year), int(month), int(day), hour, minute, second, None)
    return None


def _assemble(
    year: int,
    month: int,
    day: int,
    hour: str | None,
    minute: str | None,
    second: str | None,
    half: str | None,
) -> datetime | None:
    h = int(hour or 0)
    if half:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if half.lower() == "pm" else 0)
    try:
        return datetime(year, month, day, h, int(minute or 0), int(second or 0))
    except ValueError:
        return None


def parse_date(text: str, options: ParseOptions) -> date:
    stripped = text.strip()
    if options.date_format is None and len(stripped) == 10 and stripped[4] == "-":
        try:
            return date.fromisoformat(stripped)
        except ValueError:
            pass
    value = _parse_datetime(stripped, options)
    if value is None:
        raise BadValue(f"unknown date format {text!r} ({DATE_HINT})")
    return value.date()


def parse_decimal(text: str) -> Decimal:
    cleaned = _NUMBER_NOISE.sub("", text.strip())
    if "," in cleaned and "." in cleaned:
        decimal_mark = "," if cleaned.rfind(",") > cleaned.rfind(".") else "."
        thousands = "." if decimal_mark == "," else ","
        cleaned = cleaned.replace(thousands, "").replace(",", ".")
    elif "," in cleaned:
        is_thousands = _THOUSANDS_COMMA.fullmatch(cleaned)
        cleaned = cleaned.replace(",", "") if is_thousands else cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BadValue(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise BadValue(f"{text!r} is not a number")
    return value


def parse_money(text: str) -> Decimal:
    return parse_decimal(text).quantize(_MONEY_PLACES)


def parse_int(text: str) -> int:
    value = parse_decimal(text)
    if value != value.to_integral_value():
        raise BadValue(f"{text!r} is not a whole number")
    return int(value)


def parse_flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise BadValue(f"{text!r} is not a yes/no value (expected true/false, 1/0 or yes/no)")


def parse_email(text: str) -> str:
    """`domain.identity.normalize_email`, with a shortcut for the common shape of address.

    `_PLAIN_EMAIL` only accepts addresses that `normalize_email` accepts unchanged (a subset of
    its rules: ASCII letters, digits and `._%+-` before the @, ASCII labels after), so the
    result is the same; anything else takes the full check.
    """
    email = text.strip().lower()
    if len(email) <= _MAX_EMAIL and _PLAIN_EMAIL.fullmatch(email):
        return email
    try:
        return normalize_email(text)
    except ValidationFailed as exc:
        raise BadValue(f"bad email: {exc.message}") from None


def split_ids(text: str) -> list[str]:
    """The ids of a multi-value association cell (`123;456`), in order."""
    return [part.strip() for part in re.split(r"[;,]", text) if part.strip()]


def clean_id(text: str) -> str:
    """A numeric record id as text; Excel's `12345.0` becomes `12345`."""
    stripped = text.strip()
    return stripped[:-2] if stripped.endswith(".0") and stripped[:-2].isdigit() else stripped


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong with one cell of one row."""

    row: int
    column: str
    reason: str
    value: str = ""


class Cells:
    """One row's cells read through the bound columns. Typed getters return None for an empty
    or unknown column; for a bad value they record a `Problem` and return None as well."""

    __slots__ = ("bound", "cells", "options", "positions", "problems", "row")

    def __init__(
        self, bound: BoundColumns, row: int, cells: Sequence[str], options: ParseOptions
    ) -> None:
        self.bound = bound
        self.positions = bound.positions
        self.row = row
        self.cells = cells
        self.options = options
        self.problems: list[Problem] = []

    def text(self, name: str) -> str | None:
        position = self.positions.get(name)
        if position is None:
            return None
        try:
            value = self.cells[position].strip()
        except IndexError:
            return None
        return value or None

    def problem(self, name: str, reason: str, value: str = "") -> None:
        self.problems.append(Problem(self.row, self.bound.header_of(name), reason, value))

    def required(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            self.problem(name, f"missing required value in column {self.bound.header_of(name)}")
        return value

    def email(self, name: str) -> str | None:
        raw = self.text(name)
        return None if raw is None else self._parsed(name, raw, parse_email)

    def when(self, name: str) -> datetime | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse_datetime(raw, self.options)
        except BadValue as exc:
            self.problem(name, str(exc), raw)
            return None

    def day(self, name: str) -> date | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse_date(raw, self.options)
        except BadValue as exc:
            self.problem(name, str(exc), raw)
            return None

    def money(self, name: str) -> Decimal | None:
        raw = self.text(name)
        return None if raw is None else self._parsed(name, raw, parse_money)

    def integer(self, name: str) -> int | None:
        raw = self.text(name)
        return None if raw is None else self._parsed(name, raw, parse_int)

    def flag(self, name: str) -> bool | None:
        raw = self.text(name)
        return None if raw is None else self._parsed(name, raw, parse_flag)

    def _parsed(self, name: str, raw: str, parse: Callable[[str], T]) -> T | None:
        try:
            return parse(raw)
        except BadValue as exc:
            self.problem(name, str(exc), raw)
            return None
