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
    Cells,
    ParseOptions,
    Problem,
    clean_id,
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


_CONTACT_TRAITS = (
    ("company", "company"),
    ("owner", "hubspot_owner"),
    ("source_1", "hubspot_original_source_drill_down_1"),
    ("source_2", "hubspot_original_source_drill_down_2"),
)


class ContactParser:
    """Contacts: the hot path of large imports, so the columns a file lacks are dropped from
    the per-row work when the parser is bound."""

    __slots__ = ("columns", "options", "stage_fields", "trait_fields")

    def __init__(self, columns: BoundColumns, options: ParseOptions) -> None:
        self.columns = columns
        self.options = options
        self.stage_fields = tuple((f, s) for f, s in _STAGE_FIELDS if columns.has(f))
        self.trait_fields = tuple((f, t) for f, t in _CONTACT_TRAITS if columns.has(f))

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        email = c.email("email")
        raw_id = c.text("record_id")
        record_id = clean_id(raw_id) if raw_id else None
        if email is None and record_id is None and not c.problems:
            c.problem("email", "missing required value: a contact needs an Email or a Record ID")
        claimed, dates = self._stages(c)
        traits = {trait: value for field, trait in self.trait_fields if (value := c.text(field))}
        status = c.text("lead_status")
        if status:
            known_status = vocab.LEAD_STATUS_BY_KEY.get(key(status))
            traits["hubspot_lead_status"] = known_status.value if known_status else status
        source = c.text("source")
        bucket = vocab.SOURCE_BY_KEY.get(key(source)) if source else None
        if source:
            traits["hubspot_original_source"] = bucket.value if bucket else source
        company_id = c.text("company_id")
        created = c.when("created")
        if c.problems:
            return c.problems
        domain = email.rpartition("@")[2] if email else None
        company_ids = split_ids(company_id) if company_id else ()
        return PersonRecord(
            row=row,
            email=email,
            external_ids=(PersonRef(IdentityKind.HUBSPOT, record_id),) if record_id else (),
            first_name=c.text("first_name"),
            last_name=c.text("last_name"),
            title=c.text("title"),
            phone=c.text("phone"),
            country=c.text("country"),
            original_channel=bucket.channel if bucket else None,
            created_at=created,
            traits=traits,
            claimed_stage=claimed,
            stage_dates=dates,
            account=(
                AccountRef(AccountKey.HUBSPOT_ID, clean_id(company_ids[0])) if company_ids else None
            ),
            company_domain=domain if domain and not is_freemail(domain) else None,
        )

    def _stages(self, c: Cells) -> tuple[Stage | None, tuple[tuple[Stage, datetime], ...]]:
        """The claimed stage and the dated entries; `other` (or a bad label) means no change."""
        claimed: Stage | None = None
        raw = c.text("lifecycle")
        if raw is not None:
            entry = vocab.LIFECYCLE_BY_KEY.get(key(raw))
            if entry is None:
                c.problem(
                    "lifecycle",
                    f"unknown lifecycle stage {raw!r} (custom stages are not mapped; expected "
                    f"one of {_lifecycle_labels()})",
                    raw,
                )
                return None, ()
            if entry.stage is None:
                return None, ()
            claimed = entry.stage
        dates = []
        for field, stage in self.stage_fields:
            at = c.when(field)
            if at is not None:
                dates.append((stage, at))
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
