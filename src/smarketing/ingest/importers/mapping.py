"""Any other CSV, through a small YAML mapping (format documented in docs/imports.md):

```yaml
object: people                  # people | accounts | deals
date_format: "%d.%m.%Y"         # optional (strptime); default: ISO 8601, M/D/YYYY, D.M.YYYY
columns:                        # our field: "Their Header"
  email: E-Mail
  first_name: Vorname
  stage: Status
  entered.mql: MQL seit          # the date the person entered a stage
  traits.newsletter: Newsletter  # any trait
values:                         # optional, per field: their value -> ours
  stage: {Kunde: customer, Interessent: lead}
```

People key on `email`, accounts on `domain`, deals on `name` within their account. The key
column must be mapped and present; other mapped columns that are missing from the file fail it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from smarketing.domain.identity import normalize_domain
from smarketing.domain.model import DealStatus, DealType, IdentityKind
from smarketing.domain.stages import DEFAULT_LABELS, Stage
from smarketing.errors import UsageError, ValidationFailed
from smarketing.ingest.importers.headers import BoundColumns, Column, bind_columns, key
from smarketing.ingest.importers.records import (
    AccountKey,
    AccountRecord,
    AccountRef,
    DealRecord,
    PersonRecord,
    PersonRef,
    Record,
)
from smarketing.ingest.importers.values import Cells, ParseOptions, Problem

PEOPLE_FIELDS = frozenset(
    {"email", "first_name", "last_name", "title", "phone", "country", "stage",
     "original_channel", "created_at", "account_domain"}
)  # fmt: skip
ACCOUNT_FIELDS = frozenset(
    {"domain", "name", "industry", "employees", "annual_revenue", "created_at"}
)
DEAL_FIELDS = frozenset(
    {"name", "stage", "status", "type", "amount", "currency", "close_date", "lost_reason",
     "person_email", "account_domain", "created_at"}
)  # fmt: skip
E = TypeVar("E", DealStatus, DealType)
KEY_FIELDS = {"people": "email", "accounts": "domain", "deals": "name"}
STAGE_BY_KEY: dict[str, Stage] = {key(s.value): s for s in Stage} | {
    key(label): stage for stage, label in DEFAULT_LABELS.items()
}


class CsvMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    object: Literal["people", "accounts", "deals"]
    columns: dict[str, str] = Field(min_length=1)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    date_format: str | None = None

    def known_fields(self) -> frozenset[str]:
        return {"people": PEOPLE_FIELDS, "accounts": ACCOUNT_FIELDS, "deals": DEAL_FIELDS}[
            self.object
        ]

    def check(self, file: str) -> None:
        known = self.known_fields()
        prefixes = ("traits.", "entered.") if self.object == "people" else ("traits.",)
        for section, names in (("columns", self.columns), ("values", self.values)):
            for name in names:
                where = f"{section}.{name}"
                if name.startswith("entered.") and key(name[8:]) not in STAGE_BY_KEY:
                    raise _mapping_error(file, where, "is not a lifecycle stage")
                if name not in known and not name.startswith(prefixes):
                    fields = ", ".join([*sorted(known), *(f"{p}NAME" for p in prefixes)])
                    raise _mapping_error(
                        file, where, f"is not a field of {self.object} (known: {fields})"
                    )
        if KEY_FIELDS[self.object] not in self.columns:
            key_field = KEY_FIELDS[self.object]
            raise _mapping_error(file, "columns", f"must map the key field {key_field!r}")

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _mapping_error(file: str, field: str, message: str) -> UsageError:
    return UsageError(f"{file}: {field}: {message}", hint="see docs/imports.md, 'CSV mapping'")


def load_mapping(path: Path) -> CsvMapping:
    """Read and check a mapping file; `UsageError` naming the file and field when it is wrong."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except (OSError, YAMLError) as exc:
        raise UsageError(f"cannot read mapping {path}: {exc}", hint="check the file") from None
    try:
        mapping = CsvMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top)"
        raise _mapping_error(str(path), where, first["msg"]) from None
    mapping.check(str(path))
    return mapping


@dataclass(frozen=True, slots=True)
class MappedParser:
    mapping: CsvMapping
    columns: BoundColumns
    options: ParseOptions
    value_maps: Mapping[str, Mapping[str, str]]

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = _MappedCells(self.columns, row, cells, self.options, value_maps=self.value_maps)
        if self.mapping.object == "people":
            record: Record = self._person(c, row)
        elif self.mapping.object == "accounts":
            record = self._account(c, row)
        else:
            record = self._deal(c, row)
        return c.problems or record

    def _person(self, c: _MappedCells, row: int) -> PersonRecord:
        email = c.email("email")
        if email is None:
            c.required("email")
        claimed = c.stage("stage")
        dates = tuple(
            (STAGE_BY_KEY[key(name[8:])], at)
            for name in self.columns.positions
            if name.startswith("entered.") and (at := c.when(name)) is not None
        )
        domain = c.domain("account_domain")
        return PersonRecord(
            row=row,
            email=email,
            first_name=c.text("first_name"),
            last_name=c.text("last_name"),
            title=c.text("title"),
            phone=c.text("phone"),
            country=c.text("country"),
            original_channel=c.text("original_channel"),
            created_at=c.when("created_at"),
            traits=c.traits(),
            claimed_stage=claimed,
            stage_dates=dates,
            account=AccountRef(AccountKey.DOMAIN, domain) if domain else None,
        )

    def _account(self, c: _MappedCells, row: int) -> AccountRecord:
        domain = c.domain("domain")
        if domain is None:
            c.required("domain")
        return AccountRecord(
            row=row,
            name=c.text("name"),
            domain=domain,
            industry=c.text("industry"),
            employees=c.integer("employees"),
            annual_revenue=c.money("annual_revenue"),
            created_at=c.when("created_at"),
            traits=c.traits(),
        )

    def _deal(self, c: _MappedCells, row: int) -> DealRecord:
        person_email = c.email("person_email")
        domain = c.domain("account_domain")
        return DealRecord(
            row=row,
            name=c.required("name"),
            stage=c.text("stage") or "imported",
            status=c.choice("status", DealStatus) or DealStatus.OPEN,
            deal_type=c.choice("type", DealType),
            amount=c.money("amount"),
            currency=(c.text("currency") or "").upper() or None,
            close_date=c.day("close_date"),
            lost_reason=c.text("lost_reason"),
            person=PersonRef(IdentityKind.EMAIL, person_email) if person_email else None,
            account=AccountRef(AccountKey.DOMAIN, domain) if domain else None,
            created_at=c.when("created_at"),
            key_on_name=True,
        )


class _MappedCells(Cells):
    """Cells whose raw text first goes through the mapping's value maps."""

    __slots__ = ("value_maps",)

    def __init__(
        self,
        bound: BoundColumns,
        row: int,
        cells: Sequence[str],
        options: ParseOptions,
        *,
        value_maps: Mapping[str, Mapping[str, str]],
    ) -> None:
        super().__init__(bound, row, cells, options)
        self.value_maps = value_maps

    def text(self, name: str) -> str | None:
        value = super().text(name)
        table = self.value_maps.get(name)
        if value is not None and table:
            return table.get(key(value), value)
        return value

    def stage(self, name: str) -> Stage | None:
        raw = self.text(name)
        if raw is None:
            return None
        stage = STAGE_BY_KEY.get(key(raw))
        if stage is None:
            known = ", ".join(s.value for s in Stage)
            self.problem(name, f"unknown lifecycle stage {raw!r} (expected one of {known}; "
                         "or map it under values.stage)", raw)  # fmt: skip
        return stage

    def choice(self, name: str, enum: type[E]) -> E | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return enum(raw.strip().lower())
        except ValueError:
            known = ", ".join(e.value for e in enum)
            self.problem(name, f"unknown {name} {raw!r} (expected one of {known})", raw)
            return None

    def domain(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return normalize_domain(raw)
        except ValidationFailed as exc:
            self.problem(name, f"bad domain: {exc.message}", raw)
            return None

    def traits(self) -> dict[str, str]:
        return {
            name[7:]: value
            for name in self.bound.positions
            if name.startswith("traits.") and (value := self.text(name))
        }


def bind_mapping(
    mapping: CsvMapping, headers: Sequence[str], file: str, options: ParseOptions
) -> MappedParser:
    columns = [Column(field, (header,), required=True) for field, header in mapping.columns.items()]
    if mapping.date_format:
        options = ParseOptions(date_format=mapping.date_format, timezone=options.timezone)
    value_maps = {
        name: {key(theirs): ours for theirs, ours in table.items()}
        for name, table in mapping.values.items()
    }
    return MappedParser(mapping, bind_columns(headers, columns, file=file), options, value_maps)
