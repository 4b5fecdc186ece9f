"""HubSpot exports: contacts, companies and deals, from the UI (labels) or the API (names).

Contacts key on email (and on `hs_object_id`, "Record ID", as a `hubspot` identity); companies
on their Record ID and domain; deals on their Record ID. A contact links to a company by
"Associated Company ID" (`associatedcompanyid`), else by its email's company domain (never a
free-mail one); a deal links to its first associated contact and company ids when present.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter

from smarketing.domain.identity import is_freemail, normalize_domain
from smarketing.domain.model import DealStatus, IdentityKind
from smarketing.domain.stages import Stage
from smarketing.errors import ValidationFailed
from smarketing.ingest.importers import hubspot_vocab as vocab
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
from smarketing.ingest.importers.values import (
    BadValue,
    Cells,
    DateReader,
    ParseOptions,
    Problem,
    clean_id,
    parse_email,
    split_ids,
)

RECORD_ID = Column("record_id", ("hs_object_id", "Record ID", "id", "vid"))
CREATED = Column("created", ("createdate", "Create Date", "Created Date"))
_STAGE_FIELDS: tuple[tuple[str, Stage], ...] = tuple(
    (f"entered:{entry.value}", entry.stage)
    for entry in vocab.LIFECYCLE_STAGES
    if entry.stage is not None
)
_PIPELINE_SUFFIX = re.compile(r"\s*\([^)]*\)\s*$")
_WORDS = re.compile(r"[^\W_]+")

CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("email", ("email", "Email", "Email Address"), required=True),
    RECORD_ID,
    Column("first_name", ("firstname", "First Name")),
    Column("last_name", ("lastname", "Last Name")),
    Column("title", ("jobtitle", "Job Title")),
    Column("phone", ("phone", "Phone Number")),
    Column("country", ("country", "Country/Region", "Country")),
    Column("company", ("company", "Company Name")),
    Column("owner", ("hubspot_owner_id", "Contact owner")),
    Column("lifecycle", ("lifecyclestage", "Lifecycle Stage")),
    Column("lead_status", ("hs_lead_status", "Lead Status")),
    Column("source", ("hs_analytics_source", "Original Source", "Original Traffic Source")),
    Column(
        "source_1",
        (
            "hs_analytics_source_data_1",
            "Original Source Drill-Down 1",
            "Original Traffic Source Drill-Down 1",
        ),
    ),
    Column(
        "source_2",
        (
            "hs_analytics_source_data_2",
            "Original Source Drill-Down 2",
            "Original Traffic Source Drill-Down 2",
        ),
    ),
    CREATED,
    Column(
        "company_id",
        (
            "associatedcompanyid",
            "Associated Company ID",
            "Primary Associated Company ID",
            "Associated Company IDs",
        ),
    ),
    *(
        Column(f"entered:{entry.value}", vocab.stage_date_columns(entry))
        for entry in vocab.LIFECYCLE_STAGES
        if entry.stage is not None
    ),
)

COMPANY_COLUMNS: tuple[Column, ...] = (
    RECORD_ID,
    Column("name", ("name", "Company name", "Name")),
    Column("domain", ("domain", "Company Domain Name")),
    Column("website", ("website", "Website URL")),
    Column("industry", ("industry", "Industry")),
    Column("employees", ("numberofemployees", "Number of Employees")),
    Column("revenue", ("annualrevenue", "Annual Revenue")),
    Column("country", ("country", "Country/Region", "Country")),
    Column("city", ("city", "City")),
    Column("owner", ("hubspot_owner_id", "Company owner")),
    CREATED,
)

DEAL_COLUMNS: tuple[Column, ...] = (
    Column("record_id", RECORD_ID.names, required=True),
    Column("name", ("dealname", "Deal Name"), required=True),
    Column("stage", ("dealstage", "Deal Stage"), required=True),
    Column("amount", ("amount", "Amount")),
    Column("close_date", ("closedate", "Close Date")),
    Column("currency", ("deal_currency_code", "Currency")),
    Column("type", ("dealtype", "Deal Type")),
    Column("lost_reason", ("closed_lost_reason", "Closed Lost Reason")),
    Column("is_won", ("hs_is_closed_won", "Is Closed Won")),
    Column("is_closed", ("hs_is_closed", "Is Deal Closed?", "Is Closed")),
    CREATED,
    Column(
        "contact_ids",
        ("associatedcontactids", "Associated Contact IDs", "Associated Contact ID"),
    ),
    Column(
        "company_ids",
        ("associatedcompanyids", "Associated Company IDs", "Associated Company ID"),
    ),
)


def _lifecycle_labels() -> str:
    return ", ".join(f"{e.label} ({e.value})" for e in vocab.LIFECYCLE_STAGES)


_CONTACT_CELLS = (
    "email", "record_id", "first_name", "last_name", "title", "phone", "country", "company",
    "owner", "lifecycle", "lead_status", "source", "source_1", "source_2", "created",
    "company_id",
)  # fmt: skip
"""The fields `ContactParser` reads from every row, in the order it unpacks them."""
_MEMO_SIZE = 1 << 16


class ContactParser:
    """Contacts: the hot path of large imports (measured in docs/benchmarks.md), so the cells
    are picked in one `itemgetter` call, a column the file lacks reads as an empty cell, and
    dates, picklist values and free-mail checks are memoised per distinct text."""

    __slots__ = ("_dates", "_freemail", "_need", "_pick", "columns", "options", "stage_fields")

    def __init__(self, columns: BoundColumns, options: ParseOptions) -> None:
        self.columns = columns
        self.options = options
        self.stage_fields = tuple((f, s) for f, s in _STAGE_FIELDS if columns.has(f))
        fields = (*_CONTACT_CELLS, *(f for f, _ in self.stage_fields))
        absent = len(columns.headers)  # one past the header: padded with "" when read
        positions = [columns.positions.get(f, absent) for f in fields]
        self._need = max(positions) + 1
        self._pick = itemgetter(*positions)
        self._dates = DateReader(options)
        self._freemail: dict[str, bool] = {}

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        if len(cells) < self._need:
            cells = [*cells, *[""] * (self._need - len(cells))]
        (email_cell, id_cell, first_name, last_name, title, phone, country, company, owner,
         lifecycle, lead_status, source, source_1, source_2, created_cell, company_cell,
         *entered) = self._pick(cells)  # fmt: skip
        problems: list[Problem] = []
        email = None
        if raw := email_cell.strip():
            try:
                email = parse_email(raw)
            except BadValue as exc:
                problems.append(self._problem(row, "email", str(exc), raw))
        raw_id = id_cell.strip()
        record_id = clean_id(raw_id) if raw_id else None
        if email is None and record_id is None and not problems:
            reason = "missing required value: a contact needs an Email or a Record ID"
            problems.append(self._problem(row, "email", reason))
        claimed, dates = self._stages(row, lifecycle.strip(), entered, problems)
        traits = {}
        if value := company.strip():
            traits["company"] = value
        if value := owner.strip():
            traits["hubspot_owner"] = value
        if value := source_1.strip():
            traits["hubspot_original_source_drill_down_1"] = value
        if value := source_2.strip():
            traits["hubspot_original_source_drill_down_2"] = value
        if status := lead_status.strip():
            known_status = vocab.LEAD_STATUS_BY_KEY.get(key(status))
            traits["hubspot_lead_status"] = known_status.value if known_status else status
        bucket = None
        if source := source.strip():
            bucket = vocab.SOURCE_BY_KEY.get(key(source))
            traits["hubspot_original_source"] = bucket.value if bucket else source
        created = None
        if raw := created_cell.strip():
            try:
                created = self._dates(raw)
            except BadValue as exc:
                problems.append(self._problem(row, "created", str(exc), raw))
        if problems:
            return problems
        company_id = company_cell.strip()
        company_ids = split_ids(company_id) if company_id else ()
        return PersonRecord(
            row,
            email,
            (PersonRef(IdentityKind.HUBSPOT, record_id),) if record_id else (),
            first_name.strip() or None,
            last_name.strip() or None,
            title.strip() or None,
            phone.strip() or None,
            country.strip() or None,
            bucket.channel if bucket else None,
            created,
            traits,
            claimed,
            dates,
            AccountRef(AccountKey.HUBSPOT_ID, clean_id(company_ids[0])) if company_ids else None,
            self._company_domain(email) if email else None,
        )

    def _problem(self, row: int, field: str, reason: str, value: str = "") -> Problem:
        return Problem(row, self.columns.header_of(field), reason, value)

    def _company_domain(self, email: str) -> str | None:
        domain = email.rpartition("@")[2]
        if not domain:
            return None
        freemail = self._freemail.get(domain)
        if freemail is None:
            if len(self._freemail) >= _MEMO_SIZE:
                self._freemail.clear()
            freemail = self._freemail[domain] = is_freemail(domain)
        return None if freemail else domain

    def _stages(
        self, row: int, lifecycle: str, entered: Sequence[str], problems: list[Problem]
    ) -> tuple[Stage | None, tuple[tuple[Stage, datetime], ...]]:
        """The claimed stage and the dated entries; `other` (or a bad label) means no change."""
        claimed: Stage | None = None
        if lifecycle:
            entry = vocab.LIFECYCLE_BY_KEY.get(key(lifecycle))
            if entry is None:
                reason = (
                    f"unknown lifecycle stage {lifecycle!r} (custom stages are not mapped; "
                    f"expected one of {_lifecycle_labels()})"
                )
                problems.append(self._problem(row, "lifecycle", reason, lifecycle))
                return None, ()
            if entry.stage is None:
                return None, ()
            claimed = entry.stage
        dates = []
        for (field, stage), cell in zip(self.stage_fields, entered, strict=True):
            if raw := cell.strip():
                try:
                    dates.append((stage, self._dates(raw)))
                except BadValue as exc:
                    problems.append(self._problem(row, field, str(exc), raw))
        return claimed, tuple(dates)


def canonical_industry(text: str) -> str:
    """One spelling for a UI label and an API value: `COMPUTER_SOFTWARE` and
    `Computer Software` are both `Computer Software`."""
    return " ".join(word.capitalize() for word in _WORDS.findall(text))


@dataclass(frozen=True, slots=True)
class CompanyParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        raw_id = c.text("record_id")
        domain = self._domain(c)
        industry = c.text("industry")
        traits = {
            trait: value
            for field, trait in (
                ("country", "country"),
                ("city", "city"),
                ("owner", "hubspot_owner"),
            )
            if (value := c.text(field))
        }
        record = AccountRecord(
            row=row,
            name=c.text("name"),
            hubspot_id=clean_id(raw_id) if raw_id else None,
            domain=domain,
            industry=canonical_industry(industry) if industry else None,
            employees=c.integer("employees"),
            annual_revenue=c.money("revenue"),
            created_at=c.when("created"),
            traits=traits,
        )
        if record.hubspot_id is None and domain is None and not c.problems:
            c.problem(
                "record_id", "missing required value: a company needs a Record ID or a domain"
            )
        return c.problems or record

    @staticmethod
    def _domain(c: Cells) -> str | None:
        for field in ("domain", "website"):
            raw = c.text(field)
            if raw:
                try:
                    return normalize_domain(raw)
                except ValidationFailed as exc:
                    c.problem(field, f"bad domain: {exc.message}", raw)
                    return None
        return None


@dataclass(frozen=True, slots=True)
class DealParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        raw_id = c.required("record_id")
        name = c.required("name")
        raw_stage = c.required("stage")
        stage, status = self._stage(raw_stage)
        won, closed = c.flag("is_won"), c.flag("is_closed")
        if won is not None or closed is not None:
            status = DealStatus.WON if won else (DealStatus.LOST if closed else DealStatus.OPEN)
        raw_type = c.text("type")
        deal_type = vocab.DEAL_TYPE_BY_KEY.get(key(raw_type)) if raw_type else None
        currency = self._currency(c)
        contacts = split_ids(c.text("contact_ids") or "")
        companies = split_ids(c.text("company_ids") or "")
        record = DealRecord(
            row=row,
            name=name,
            stage=stage,
            status=status,
            hubspot_id=clean_id(raw_id) if raw_id else None,
            deal_type=deal_type.deal_type if deal_type else None,
            amount=c.money("amount"),
            currency=currency,
            close_date=c.day("close_date"),
            lost_reason=c.text("lost_reason"),
            person=PersonRef(IdentityKind.HUBSPOT, clean_id(contacts[0])) if contacts else None,
            account=(
                AccountRef(AccountKey.HUBSPOT_ID, clean_id(companies[0])) if companies else None
            ),
            created_at=c.when("created"),
        )
        return c.problems or record

    @staticmethod
    def _stage(raw: str | None) -> tuple[str | None, DealStatus]:
        """The stage's internal value (a label with or without "(Pipeline)" maps back);
        a custom pipeline's stage is kept as written and counts as open."""
        if raw is None:
            return None, DealStatus.OPEN
        entry = vocab.DEAL_STAGE_BY_KEY.get(key(raw)) or vocab.DEAL_STAGE_BY_KEY.get(
            key(_PIPELINE_SUFFIX.sub("", raw))
        )
        return (entry.value, entry.status) if entry else (raw, DealStatus.OPEN)

    @staticmethod
    def _currency(c: Cells) -> str | None:
        raw = c.text("currency")
        if raw is None:
            return None
        if len(raw) != 3 or not raw.isalpha():
            c.problem("currency", f"{raw!r} is not a 3-letter currency code (ISO 4217)", raw)
            return None
        return raw.upper()


def bind_contacts(headers: Sequence[str], file: str, options: ParseOptions) -> ContactParser:
    return ContactParser(bind_columns(headers, CONTACT_COLUMNS, file=file), options)


def bind_companies(headers: Sequence[str], file: str, options: ParseOptions) -> CompanyParser:
    columns = bind_columns(
        headers, COMPANY_COLUMNS, file=file, one_of=[("record_id", "domain", "website")]
    )
    return CompanyParser(columns, options)


def bind_deals(headers: Sequence[str], file: str, options: ParseOptions) -> DealParser:
    return DealParser(bind_columns(headers, DEAL_COLUMNS, file=file), options)
