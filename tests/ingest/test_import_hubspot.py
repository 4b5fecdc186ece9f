"""HubSpot imports: UI and API exports of the same records give the same store, on both
backends; lifecycle, sources, associations and deal outcomes map as documented."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from smarketing.errors import ImportFileError
from smarketing.services.imports import ImportSource, get_import, run_import
from smarketing.services.workspace import Workspace
from smarketing.store import tables
from tests.ingest import import_runs, store_state, write_csv

CONTACTS = ImportSource("hubspot", "contacts")
COMPANIES = ImportSource("hubspot", "companies")
DEALS = ImportSource("hubspot", "deals")

UI_COMPANIES = (
    ["Record ID", "Company name", "Company Domain Name", "Industry", "Number of Employees",
     "Annual Revenue", "Create Date"],
    [
        ["9001", "Acme", "acme.com", "Computer Software", "250", "1,500,000.00", "2023-05-01 09:00"],
        ["9002", "Beta", "https://www.beta.io/", "Information Technology and Services", "40", "",
         "2023-06-01 09:00"],
    ],
)  # fmt: skip
API_COMPANIES = (
    ["hs_object_id", "name", "domain", "industry", "numberofemployees", "annualrevenue",
     "createdate"],
    [
        ["9001", "Acme", "acme.com", "COMPUTER_SOFTWARE", "250", "1500000", "2023-05-01T09:00:00Z"],
        ["9002", "Beta", "beta.io", "INFORMATION_TECHNOLOGY_AND_SERVICES", "40", "",
         "1685610000000"],
    ],
)  # fmt: skip

UI_CONTACTS = (
    ["Record ID", "First Name", "Last Name", "Email", "Job Title", "Lifecycle Stage", "Lead Status",
     "Original Source", "Original Source Drill-Down 1", "Create Date",
     "Date entered 'Lead (Lifecycle Stage Pipeline)'",
     "Date entered 'Marketing Qualified Lead (Lifecycle Stage Pipeline)'",
     "Date entered 'Sales Qualified Lead (Lifecycle Stage Pipeline)'",
     "Date entered 'Opportunity (Lifecycle Stage Pipeline)'",
     "Date entered 'Customer (Lifecycle Stage Pipeline)'", "Associated Company ID"],
    [
        ["101", "Ada", "Lovelace", "ada@acme.com", "CTO", "Marketing Qualified Lead", "In Progress",
         "Organic Search", "google", "2024-01-02 10:00", "2024-01-02 10:00", "2024-02-03 11:00",
         "", "", "", "9001"],
        ["102", "Bob", "Byte", "Bob@Beta.io", "", "Customer", "Connected", "Paid Social", "",
         "2024-01-05 08:00", "2024-01-05 08:00", "2024-01-20 08:00", "2024-02-01 08:00",
         "2024-02-15 08:00", "2024-03-01 08:00", ""],
        ["103", "Cy", "Cole", "cy@gmail.com", "", "Subscriber", "", "Email Marketing", "", "", "",
         "", "", "", "", ""],
        ["104", "Dee", "Dot", "dee@delta.com", "", "Other", "Bad Timing", "Offline Sources", "",
         "", "", "", "", "", "", ""],
        ["105", "Eve", "Eden", "eve@acme.com", "", "Lead", "New", "Organic Social", "", "",
         "2024-04-01 12:30", "", "", "", "", ""],
    ],
)  # fmt: skip
API_CONTACTS = (
    ["hs_object_id", "firstname", "lastname", "email", "jobtitle", "lifecyclestage",
     "hs_lead_status", "hs_analytics_source", "hs_analytics_source_data_1", "createdate",
     "hs_v2_date_entered_lead", "hs_v2_date_entered_marketingqualifiedlead",
     "hs_v2_date_entered_salesqualifiedlead", "hs_v2_date_entered_opportunity",
     "hs_v2_date_entered_customer", "associatedcompanyid"],
    [
        ["101", "Ada", "Lovelace", "ada@acme.com", "CTO", "marketingqualifiedlead", "IN_PROGRESS",
         "ORGANIC_SEARCH", "google", "2024-01-02T10:00:00Z", "2024-01-02T10:00:00.000Z",
         "1706958000000", "", "", "", "9001"],
        ["102", "Bob", "Byte", "bob@beta.io", "", "customer", "CONNECTED", "PAID_SOCIAL", "",
         "2024-01-05T08:00:00Z", "2024-01-05T08:00:00Z", "2024-01-20T08:00:00Z",
         "2024-02-01T08:00:00Z", "2024-02-15T08:00:00Z", "2024-03-01T08:00:00Z", ""],
        ["103", "Cy", "Cole", "cy@gmail.com", "", "subscriber", "", "EMAIL_MARKETING", "", "", "",
         "", "", "", "", ""],
        ["104", "Dee", "Dot", "dee@delta.com", "", "other", "BAD_TIMING", "OFFLINE", "", "", "",
         "", "", "", "", ""],
        ["105", "Eve", "Eden", "eve@acme.com", "", "lead", "NEW", "SOCIAL_MEDIA", "", "",
         "2024-04-01T12:30:00+00:00", "", "", "", "", ""],
    ],
)  # fmt: skip

UI_DEALS = (
    ["Record ID", "Deal Name", "Deal Stage", "Amount", "Close Date", "Deal Type",
     "Associated Contact IDs", "Associated Company IDs", "Create Date"],
    [
        ["7001", "Acme expansion", "Closed Won", "1,200.50", "2024-03-31", "Existing Business",
         "101", "9001", "2024-02-10 09:00"],
        ["7002", "Beta pilot", "Contract Sent (Sales Pipeline)", "900", "", "New Business",
         "102;105", "9002", "2024-02-11 09:00"],
        ["7003", "Lost one", "Closed Lost", "", "", "", "", "", "2024-02-12 09:00"],
    ],
)  # fmt: skip
API_DEALS = (
    ["hs_object_id", "dealname", "dealstage", "amount", "closedate", "dealtype",
     "associatedcontactids", "associatedcompanyids", "createdate"],
    [
        ["7001", "Acme expansion", "closedwon", "1200.5", "2024-03-31T00:00:00Z",
         "existingbusiness", "101", "9001", "2024-02-10T09:00:00Z"],
        ["7002", "Beta pilot", "contractsent", "900.00", "", "newbusiness", "102;105", "9002",
         "2024-02-11T09:00:00Z"],
        ["7003", "Lost one", "closedlost", "", "", "", "", "", "2024-02-12T09:00:00Z"],
    ],
)  # fmt: skip


def _import_all(ws: Workspace, folder: Path, flavour: str) -> None:
    exports = {
        "ui": (UI_COMPANIES, UI_CONTACTS, UI_DEALS),
        "api": (API_COMPANIES, API_CONTACTS, API_DEALS),
    }
    companies, contacts, deals = exports[flavour]
    for source, (header, rows), name in (
        (COMPANIES, companies, "companies"),
        (CONTACTS, contacts, "contacts"),
        (DEALS, deals, "deals"),
    ):
        report = run_import(ws, source, write_csv(folder / f"{flavour}-{name}.csv", header, rows))
        assert report.run.rows_rejected == 0, report.errors_file and report.errors_file.read_text()


def test_ui_and_api_exports_of_the_same_records_give_the_same_store(
    workspace: Workspace, tmp_path: Path
) -> None:
    _import_all(workspace, tmp_path, "ui")
    from_ui = store_state(workspace)
    with workspace.db.begin() as conn:
        for table in (tables.transitions, tables.identities, tables.deals, tables.people,
                      tables.accounts):  # fmt: skip
            conn.execute(table.delete())
    _import_all(workspace, tmp_path, "api")
    assert store_state(workspace) == from_ui
    assert len(from_ui["people"]) == 5
    assert len(from_ui["deals"]) == 3


def test_contacts_map_lifecycle_sources_traits_and_companies(
    workspace: Workspace, tmp_path: Path
) -> None:
    _import_all(workspace, tmp_path, "api")
    with workspace.db.read() as conn:
        people = {r.email: r for r in conn.execute(select(tables.people))}
        accounts = {r.id: r for r in conn.execute(select(tables.accounts))}
    ada, bob, cy, dee, eve = (people[f"{n}@{d}"] for n, d in (
        ("ada", "acme.com"), ("bob", "beta.io"), ("cy", "gmail.com"), ("dee", "delta.com"),
        ("eve", "acme.com")))  # fmt: skip
    assert (ada.stage, ada.original_channel) == ("mql", "Organic Search")
    assert ada.traits == {
        "hubspot_lead_status": "IN_PROGRESS",
        "hubspot_original_source": "ORGANIC_SEARCH",
        "hubspot_original_source_drill_down_1": "google",
    }
    assert accounts[ada.account_id].hubspot_id == "9001"  # by Associated Company ID
    assert accounts[bob.account_id].domain == "beta.io"  # by the email's company domain
    assert accounts[eve.account_id].domain == "acme.com"
    assert cy.account_id is None  # free mail links nothing
    assert (bob.stage, bob.original_channel) == ("customer", "Paid Social")
    assert (cy.stage, cy.original_channel) == ("subscriber", "Email")
    assert (dee.stage, dee.original_channel) == (None, "Offline Sources")  # `other`: no stage
    assert (eve.stage, eve.original_channel) == ("lead", "Organic Social")
    assert accounts[ada.account_id].industry == "Computer Software"
    assert accounts[ada.account_id].annual_revenue == Decimal("1500000.00")


def test_stage_dates_become_dated_transitions(workspace: Workspace, tmp_path: Path) -> None:
    _import_all(workspace, tmp_path, "ui")
    transitions = store_state(workspace)["transitions"]
    bob = [(old, new, at) for email, old, new, at, _, _ in transitions if email == "bob@beta.io"]
    at = [
        datetime(2024, m, d, 8, tzinfo=UTC) for m, d in ((1, 5), (1, 20), (2, 1), (2, 15), (3, 1))
    ]
    assert bob == sorted(
        [(None, "lead", at[0]), ("lead", "mql", at[1]), ("mql", "sql", at[2]),
         ("sql", "opportunity", at[3]), ("opportunity", "customer", at[4])], key=repr
    )  # fmt: skip
    assert {(actor, reason) for *_, actor, reason in transitions} == {
        ("import:hubspot", "imported from HubSpot")
    }
    run = get_import(workspace, 2)
    cy = [row for row in transitions if row[0] == "cy@gmail.com"]
    assert cy == [("cy@gmail.com", None, "subscriber", run.started_at, "import:hubspot",
                   "imported from HubSpot")]  # undated: the run's start  # fmt: skip


def test_deals_map_stage_status_amount_and_associations(
    workspace: Workspace, tmp_path: Path
) -> None:
    _import_all(workspace, tmp_path, "ui")
    deals = {row[0]: row for row in store_state(workspace)["deals"]}
    _, person, account, stage, status, kind, amount, *_ = deals["Acme expansion"]
    assert (person, account, stage, status, kind) == (
        "ada@acme.com",
        "9001",
        "closedwon",
        "won",
        "expansion",
    )
    assert amount == Decimal("1200.50")
    assert deals["Beta pilot"][1:6] == ("bob@beta.io", "9002", "contractsent", "open", "new")
    assert deals["Lost one"][3:5] == ("closedlost", "lost")


def test_reimport_changes_nothing_and_counts_every_row_unchanged(
    workspace: Workspace, tmp_path: Path
) -> None:
    _import_all(workspace, tmp_path, "ui")
    before = store_state(workspace)
    _import_all(workspace, tmp_path, "ui")
    assert store_state(workspace) == before
    assert [run[1:] for run in import_runs(workspace)] == [
        ("completed", 2, 0, 2, 0, 3),
        ("completed", 5, 0, 5, 0, 6),
        ("completed", 3, 0, 3, 0, 4),
    ]


def test_an_import_never_moves_a_person_backwards(workspace: Workspace, tmp_path: Path) -> None:
    header = ["Email", "Lifecycle Stage"]
    run_import(
        workspace, CONTACTS, write_csv(tmp_path / "a.csv", header, [["jo@x.com", "Customer"]])
    )
    report = run_import(
        workspace, CONTACTS, write_csv(tmp_path / "b.csv", header, [["jo@x.com", "Lead"]])
    )
    assert report.run.summary == "read 1 = imported 0 + unchanged 1 + rejected 0"
    state = store_state(workspace)
    assert [row[6] for row in state["people"]] == ["customer"]
    assert [row[1:3] for row in state["transitions"]] == [(None, "customer")]


def test_a_move_back_the_playbook_allows_is_made(workspace: Workspace, tmp_path: Path) -> None:
    path = workspace.settings.playbook_path
    path.write_text(
        path.read_text().replace("allow_backward: []", "allow_backward: [[customer, opportunity]]")
    )
    header = ["Email", "Lifecycle Stage"]
    run_import(
        workspace, CONTACTS, write_csv(tmp_path / "a.csv", header, [["jo@x.com", "customer"]])
    )
    run_import(
        workspace, CONTACTS, write_csv(tmp_path / "b.csv", header, [["jo@x.com", "opportunity"]])
    )
    run_import(workspace, CONTACTS, write_csv(tmp_path / "c.csv", header, [["jo@x.com", "lead"]]))
    state = store_state(workspace)
    assert [row[6] for row in state["people"]] == ["opportunity"]
    assert sorted((row[1:3] for row in state["transitions"]), key=repr) == sorted(
        [(None, "customer"), ("customer", "opportunity")], key=repr
    )


def test_a_missing_required_column_fails_the_file_naming_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "no-email.csv", ["First Name", "Lifecycle Stage"], [["Jo", "Lead"]])
    with pytest.raises(ImportFileError) as caught:
        run_import(workspace, CONTACTS, path)
    message = str(caught.value)
    assert "'email'" in message
    assert "'First Name', 'Lifecycle Stage'" in message
    assert import_runs(workspace) == []


def test_duplicate_emails_in_one_file_are_one_person(workspace: Workspace, tmp_path: Path) -> None:
    header = ["Email", "First Name", "Lifecycle Stage"]
    rows = [["jo@x.com", "Jo", "Lead"], ["JO@x.com", "Jo", "Lead"], ["jo@x.com", "Joanna", "MQL"]]
    report = run_import(workspace, CONTACTS, write_csv(tmp_path / "dup.csv", header, rows))
    assert report.run.summary == "read 3 = imported 2 + unchanged 1 + rejected 0"
    people = store_state(workspace)["people"]
    assert [(row[0], row[1], row[6]) for row in people] == [("jo@x.com", "Joanna", "mql")]


def test_a_changed_email_follows_the_record_id(workspace: Workspace, tmp_path: Path) -> None:
    header = ["Record ID", "Email", "First Name"]
    run_import(
        workspace, CONTACTS, write_csv(tmp_path / "a.csv", header, [["101", "ada@acme.com", "Ada"]])
    )
    report = run_import(
        workspace,
        CONTACTS,
        write_csv(tmp_path / "b.csv", header, [["101", "ada.l@acme.com", "Ada"]]),
    )
    assert report.run.rows_imported == 1
    state = store_state(workspace)
    assert [p[0] for p in state["people"]] == ["ada.l@acme.com"]
    assert sorted(v for _, k, v in state["identities"]) == ["101", "ada.l@acme.com", "ada@acme.com"]
    taken = write_csv(
        tmp_path / "c.csv",
        header,
        [["102", "ada.l@acme.com", "Other"], ["101", "bob@acme.com", "B"]],
    )
    report = run_import(workspace, CONTACTS, taken)
    assert report.run.summary == "read 2 = imported 2 + unchanged 0 + rejected 0"
