"""Salesforce exports: leads, contacts, accounts, opportunities, campaigns, campaign members.

Report exports carry field labels ("Lead ID", "First Name") and 15-character ids; Data Loader
and API exports carry API names (`Id`, `FirstName`) and 18-character ids. Every id is stored in
its 18-character form (`sfid.to_18`), so both exports key the same records. Leads and contacts
are people (a `salesforce` identity per id; a converted lead also gets its contact's id, so
lead and contact are one person); accounts, opportunities (deals) and campaigns key on their
id. A campaign member who responded becomes a touchpoint; one who did not is read and counted
unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from smarketing.domain.identity import is_freemail, normalize_domain
from smarketing.domain.model import DealStatus, IdentityKind
from smarketing.domain.stages import Stage
from smarketing.errors import ValidationFailed
from smarketing.ingest.importers import salesforce_vocab as vocab
from smarketing.ingest.importers.headers import BoundColumns, bind_columns, key
from smarketing.ingest.importers.records import (
    AccountKey,
    AccountRecord,
    AccountRef,
    CampaignRecord,
    CampaignResponseRecord,
    DealRecord,
    PersonRecord,
    PersonRef,
    Record,
    SkippedRow,
)
from smarketing.ingest.importers.salesforce_columns import (
    ACCOUNT_COLUMNS,
    CAMPAIGN_COLUMNS,
    CONTACT_COLUMNS,
    LEAD_COLUMNS,
    MEMBER_COLUMNS,
    OPPORTUNITY_COLUMNS,
)
from smarketing.ingest.importers.sfid import BadSalesforceId, salesforce_id
from smarketing.ingest.importers.values import Cells, ParseOptions, Problem


def _id(c: Cells, field: str, sf_object: str, *, required: bool = False) -> str | None:
    raw = c.required(field) if required else c.text(field)
    if raw is None:
        return None
    try:
        return salesforce_id(raw, sf_object)
    except BadSalesforceId as exc:
        c.problem(field, str(exc), raw)
        return None


def _traits(c: Cells, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    return {trait: value for field, trait in pairs if (value := c.text(field))}


def _company_domain(email: str | None) -> str | None:
    domain = email.rpartition("@")[2] if email else None
    return domain if domain and not is_freemail(domain) else None


@dataclass(frozen=True, slots=True)
class LeadParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        lead_id = _id(c, "record_id", "Lead", required=True)
        contact_id = _id(c, "converted_contact", "Contact")
        account_id = _id(c, "converted_account", "Account")
        opportunity_id = _id(c, "converted_opportunity", "Opportunity")
        email = c.email("email")
        created = c.when("created")
        converted = bool(c.flag("converted")) or contact_id is not None
        status = c.text("status")
        claimed = vocab.lead_stage(status)
        dates: list[tuple[Stage, datetime]] = [(Stage.LEAD, created)] if created else []
        if converted:
            claimed = Stage.OPPORTUNITY if opportunity_id else Stage.SQL
            converted_at = c.when("converted_date")
            if converted_at:
                dates.append((claimed, converted_at))
        traits = _traits(
            c,
            (
                ("company", "company"),
                ("status", "salesforce_lead_status"),
                ("lead_source", "salesforce_lead_source"),
                ("rating", "salesforce_rating"),
                ("industry", "industry"),
                ("owner", "salesforce_owner"),
            ),
        )
        if c.problems:
            return c.problems
        assert lead_id is not None
        ids = [PersonRef(IdentityKind.SALESFORCE, lead_id)]
        if contact_id:
            ids.append(PersonRef(IdentityKind.SALESFORCE, contact_id))
        return PersonRecord(
            row=row,
            email=email,
            external_ids=tuple(ids),
            first_name=c.text("first_name"),
            last_name=c.text("last_name"),
            title=c.text("title"),
            phone=c.text("phone"),
            country=c.text("country"),
            created_at=created,
            traits=traits,
            claimed_stage=claimed,
            stage_dates=tuple(dates),
            account=AccountRef(AccountKey.SALESFORCE_ID, account_id) if account_id else None,
            company_domain=_company_domain(email),
            converted_deal_ids=(opportunity_id,) if opportunity_id else (),
        )


@dataclass(frozen=True, slots=True)
class ContactParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        contact_id = _id(c, "record_id", "Contact", required=True)
        account_id = _id(c, "account_id", "Account")
        email = c.email("email")
        record = PersonRecord(
            row=row,
            email=email,
            external_ids=((PersonRef(IdentityKind.SALESFORCE, contact_id),) if contact_id else ()),
            first_name=c.text("first_name"),
            last_name=c.text("last_name"),
            title=c.text("title"),
            phone=c.text("phone"),
            country=c.text("country"),
            created_at=c.when("created"),
            traits=_traits(
                c, (("lead_source", "salesforce_lead_source"), ("owner", "salesforce_owner"))
            ),
            account=AccountRef(AccountKey.SALESFORCE_ID, account_id) if account_id else None,
            company_domain=_company_domain(email),
        )
        return c.problems or record


@dataclass(frozen=True, slots=True)
class AccountParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        account_id = _id(c, "record_id", "Account", required=True)
        website = c.text("website")
        domain = None
        if website:
            try:
                domain = normalize_domain(website)
            except ValidationFailed as exc:
                c.problem("website", f"bad website: {exc.message}", website)
        record = AccountRecord(
            row=row,
            name=c.required("name"),
            salesforce_id=account_id,
            domain=domain,
            industry=c.text("industry"),
            employees=c.integer("employees"),
            annual_revenue=c.money("revenue"),
            created_at=c.when("created"),
            traits=_traits(
                c,
                (
                    ("type", "salesforce_account_type"),
                    ("country", "country"),
                    ("owner", "salesforce_owner"),
                ),
            ),
        )
        return c.problems or record


@dataclass(frozen=True, slots=True)
class OpportunityParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        opportunity_id = _id(c, "record_id", "Opportunity", required=True)
        account_id = _id(c, "account_id", "Account")
        contact_id = _id(c, "contact_id", "Contact")
        stage = c.required("stage")
        closed, won = c.flag("is_closed"), c.flag("is_won")
        if closed is not None or won is not None:
            status = DealStatus.WON if won else (DealStatus.LOST if closed else DealStatus.OPEN)
        else:
            status = vocab.CLOSED_STAGE_STATUS.get(key(stage or ""), DealStatus.OPEN)
        currency = c.text("currency")
        record = DealRecord(
            row=row,
            name=c.required("name"),
            stage=stage,
            status=status,
            salesforce_id=opportunity_id,
            deal_type=vocab.opportunity_type(c.text("type")),
            amount=c.money("amount"),
            currency=currency.upper() if currency else None,
            close_date=c.day("close_date"),
            person=PersonRef(IdentityKind.SALESFORCE, contact_id) if contact_id else None,
            account=AccountRef(AccountKey.SALESFORCE_ID, account_id) if account_id else None,
            created_at=c.when("created"),
        )
        return c.problems or record


@dataclass(frozen=True, slots=True)
class CampaignParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        campaign_id = _id(c, "record_id", "Campaign", required=True)
        name = c.required("name")
        campaign_type = c.text("type")
        actual, budgeted = c.money("actual"), c.money("budgeted")
        start, end, created = c.day("start_date"), c.day("end_date"), c.when("created")
        if c.problems or name is None:
            return c.problems
        return CampaignRecord(
            row=row,
            name=name,
            salesforce_id=campaign_id,
            channel=vocab.campaign_channel(campaign_type),
            kind=campaign_type,
            cost=actual if actual is not None else budgeted,
            start_date=start,
            end_date=end,
            created_at=created,
        )


@dataclass(frozen=True, slots=True)
class CampaignMemberParser:
    columns: BoundColumns
    options: ParseOptions

    def __call__(self, row: int, cells: Sequence[str]) -> Record | list[Problem]:
        c = Cells(self.columns, row, cells, self.options)
        campaign_id = _id(c, "campaign_id", "Campaign", required=True)
        contact_id = _id(c, "contact_id", "Contact")
        lead_id = _id(c, "lead_id", "Lead")
        member_id = _id(c, "member_id", "CampaignMember")
        responded = c.flag("responded")
        responded_at = c.when("first_responded") or c.when("created")
        if not c.problems and contact_id is None and lead_id is None:
            c.problem("lead_id", "missing required value: a member needs a Lead ID or Contact ID")
        if c.problems:
            return c.problems
        if not responded:
            return SkippedRow(row, "member did not respond")
        if responded_at is None:
            c.problem("first_responded", "missing required value: a response needs its date")
            return c.problems
        assert campaign_id is not None
        people = tuple(
            PersonRef(IdentityKind.SALESFORCE, value)
            for value in (contact_id, lead_id)
            if value is not None
        )
        return CampaignResponseRecord(
            row=row,
            campaign_salesforce_id=campaign_id,
            people=people,
            responded_at=responded_at,
            member_id=member_id,
            member_status=c.text("status"),
        )


def bind_leads(headers: Sequence[str], file: str, options: ParseOptions) -> LeadParser:
    return LeadParser(bind_columns(headers, LEAD_COLUMNS, file=file), options)


def bind_contacts(headers: Sequence[str], file: str, options: ParseOptions) -> ContactParser:
    return ContactParser(bind_columns(headers, CONTACT_COLUMNS, file=file), options)


def bind_accounts(headers: Sequence[str], file: str, options: ParseOptions) -> AccountParser:
    return AccountParser(bind_columns(headers, ACCOUNT_COLUMNS, file=file), options)


def bind_opportunities(
    headers: Sequence[str], file: str, options: ParseOptions
) -> OpportunityParser:
    return OpportunityParser(bind_columns(headers, OPPORTUNITY_COLUMNS, file=file), options)


def bind_campaigns(headers: Sequence[str], file: str, options: ParseOptions) -> CampaignParser:
    return CampaignParser(bind_columns(headers, CAMPAIGN_COLUMNS, file=file), options)


def bind_campaign_members(
    headers: Sequence[str], file: str, options: ParseOptions
) -> CampaignMemberParser:
    columns = bind_columns(headers, MEMBER_COLUMNS, file=file, one_of=[("lead_id", "contact_id")])
    return CampaignMemberParser(columns, options)
