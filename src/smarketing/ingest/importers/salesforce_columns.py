"""The columns of Salesforce exports: API name first (Data Loader, API), then report labels."""

from __future__ import annotations

from smarketing.ingest.importers.headers import Column

CREATED = Column("created", ("CreatedDate", "Create Date", "Created Date"))
EMAIL = Column("email", ("Email",))
FIRST_NAME = Column("first_name", ("FirstName", "First Name"))
LAST_NAME = Column("last_name", ("LastName", "Last Name"))
TITLE = Column("title", ("Title",))
PHONE = Column("phone", ("Phone", "Business Phone"))
LEAD_SOURCE = Column("lead_source", ("LeadSource", "Lead Source"))
ACCOUNT_ID = Column("account_id", ("AccountId", "Account ID"))

LEAD_COLUMNS: tuple[Column, ...] = (
    Column("record_id", ("Id", "Lead ID"), required=True),
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    TITLE,
    PHONE,
    Column("company", ("Company", "Company / Account")),
    Column("country", ("Country",)),
    Column("status", ("Status", "Lead Status")),
    LEAD_SOURCE,
    Column("rating", ("Rating",)),
    Column("industry", ("Industry",)),
    Column("owner", ("OwnerId", "Lead Owner ID", "Lead Owner")),
    CREATED,
    Column("converted", ("IsConverted", "Converted")),
    Column("converted_date", ("ConvertedDate", "Converted Date")),
    Column("converted_account", ("ConvertedAccountId", "Converted Account ID")),
    Column("converted_contact", ("ConvertedContactId", "Converted Contact ID")),
    Column("converted_opportunity", ("ConvertedOpportunityId", "Converted Opportunity ID")),
)
CONTACT_COLUMNS: tuple[Column, ...] = (
    Column("record_id", ("Id", "Contact ID"), required=True),
    ACCOUNT_ID,
    EMAIL,
    FIRST_NAME,
    LAST_NAME,
    TITLE,
    PHONE,
    Column("country", ("MailingCountry", "Mailing Country")),
    LEAD_SOURCE,
    Column("owner", ("OwnerId", "Contact Owner ID", "Contact Owner")),
    CREATED,
)
ACCOUNT_COLUMNS: tuple[Column, ...] = (
    Column("record_id", ("Id", "Account ID"), required=True),
    Column("name", ("Name", "Account Name"), required=True),
    Column("website", ("Website",)),
    Column("industry", ("Industry",)),
    Column("type", ("Type", "Account Type")),
    Column("employees", ("NumberOfEmployees", "Employees")),
    Column("revenue", ("AnnualRevenue", "Annual Revenue")),
    Column("country", ("BillingCountry", "Billing Country")),
    Column("owner", ("OwnerId", "Account Owner ID", "Account Owner")),
    CREATED,
)
OPPORTUNITY_COLUMNS: tuple[Column, ...] = (
    Column("record_id", ("Id", "Opportunity ID"), required=True),
    Column("name", ("Name", "Opportunity Name"), required=True),
    Column("stage", ("StageName", "Stage"), required=True),
    ACCOUNT_ID,
    Column("contact_id", ("ContactId", "Contact ID")),
    Column("amount", ("Amount",)),
    Column("close_date", ("CloseDate", "Close Date")),
    Column("type", ("Type", "Opportunity Type")),
    Column("is_closed", ("IsClosed", "Closed")),
    Column("is_won", ("IsWon", "Won")),
    Column("currency", ("CurrencyIsoCode", "Opportunity Currency")),
    CREATED,
)
CAMPAIGN_COLUMNS: tuple[Column, ...] = (
    Column("record_id", ("Id", "Campaign ID"), required=True),
    Column("name", ("Name", "Campaign Name"), required=True),
    Column("type", ("Type", "Campaign Type")),
    Column("start_date", ("StartDate", "Start Date")),
    Column("end_date", ("EndDate", "End Date")),
    Column("budgeted", ("BudgetedCost", "Budgeted Cost in Campaign", "Budgeted Cost")),
    Column("actual", ("ActualCost", "Actual Cost in Campaign", "Actual Cost")),
    CREATED,
)
MEMBER_COLUMNS: tuple[Column, ...] = (
    Column("member_id", ("Id", "Campaign Member ID")),
    Column("campaign_id", ("CampaignId", "Campaign ID"), required=True),
    Column("lead_id", ("LeadId", "Lead ID")),
    Column("contact_id", ("ContactId", "Contact ID")),
    Column("status", ("Status", "Member Status")),
    Column("responded", ("HasResponded", "Responded"), required=True),
    Column("first_responded", ("FirstRespondedDate", "First Responded Date")),
    CREATED,
)
