"""Conditions as data: the playbook's small, safe rule language (never Python `eval`).

A condition is one of
- a comparison: `{field: person.title, matches: "(?i)\\b(vp|head|director)\\b"}` with exactly
  one operator of `OPERATORS`;
- a combination: `{all: [...]}`, `{any: [...]}` or `{not: {...}}`.

Fields are dotted paths into the record being judged; the first part names the record
(`person`, `account`, `event`, `deal`). A missing field never matches (except `exists: false`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

RECORDS = ("person", "account", "event", "deal")
OPERATORS = (
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "matches",
    "exists",
)

Scalar = str | int | float | bool


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    contains: str | None = None
    matches: str | None = None
    exists: bool | None = None

    @field_validator("field")
    @classmethod
    def _known_record(cls, value: str) -> str:
        head = value.split(".", 1)[0]
        if head not in RECORDS or "." not in value:
            raise ValueError(
                f"field {value!r} must start with one of {', '.join(RECORDS)} "
                "followed by a dot, e.g. person.title"
            )
        return value

    @field_validator("matches")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> Comparison:
        used = [op for op in OPERATORS if getattr(self, _attr(op)) is not None]
        if len(used) != 1:
            raise ValueError(
                f"a comparison needs exactly one operator of {', '.join(OPERATORS)}; "
                f"found {', '.join(used) or 'none'}"
            )
        return self

    @property
    def operator(self) -> str:
        return next(op for op in OPERATORS if getattr(self, _attr(op)) is not None)

    @property
    def operand(self) -> Any:
        return getattr(self, _attr(self.operator))


class AllOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list[Condition]


class AnyOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    any: list[Condition]


class NotOf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    not_: Condition = Field(alias="not")


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("all", "any", "not"):
            if key in value:
                return key
        return "comparison"
    return type(value).__name__.removesuffix("Of").lower() if isinstance(value, BaseModel) else ""


Condition = Annotated[
    Annotated[Comparison, Tag("comparison")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def _attr(op: str) -> str:
    return "in_" if op == "in" else op


def lookup(record: Mapping[str, Any], dotted: str) -> Any:
    """Value at a dotted path, or `None` when any part is missing."""
    current: Any = record
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, value: Any, operand: Any) -> bool:
    if op == "exists":
        return (value is not None) == bool(operand)
    if value is None:
        return op in ("ne", "not_in")
    if op == "eq":
        return bool(_fold(value) == _fold(operand))
    if op == "ne":
        return bool(_fold(value) != _fold(operand))
    if op in ("in", "not_in"):
        inside = _fold(value) in {_fold(o) for o in operand}
        return inside if op == "in" else not inside
    if op == "contains":
        return str(operand).casefold() in str(value).casefold()
    if op == "matches":
        return re.search(operand, str(value)) is not None
    try:
        number, bound = float(value), float(operand)
    except (TypeError, ValueError):
        return False
    return {
        "gt": number > bound,
        "gte": number >= bound,
        "lt": number < bound,
        "lte": number <= bound,
    }[op]


def evaluate(condition: Condition, record: Mapping[str, Any]) -> bool:
    """Judge `record` (e.g. `{"person": {...}, "account": {...}}`) against `condition`."""
    if isinstance(condition, AllOf):
        return all(evaluate(c, record) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, record) for c in condition.any)
    if isinstance(condition, NotOf):
        return not evaluate(condition.not_, record)
    return _compare(condition.operator, lookup(record, condition.field), condition.operand)
