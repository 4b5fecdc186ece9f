"""Salesforce imports: 15- and 18-character ids key the same records, converted leads become
one person with their contact, campaign responses become touchpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from smarketing.ingest.importers.sfid import BadSalesforceId, checksum, salesforce_id, to_18
from smarketing.services.imports import ImportSource, run_import
from smarketing.services.workspace import Workspace
from smarketing.store import tables
from tests.ingest import import_runs, read_errors, store_state, write_csv

ACCOUNT = "0015g00000AbCdE"
CONTACT = "0035g00000XyZaB"
OPPORTUNITY = "0065g00000QrStU"
LEAD = "00Q5g00000LmNoP"
OTHER_LEAD = "00Q5g00000LmNoQ"
CAMPAIGN = "7015g00000CaMpA"
WEBINAR = "7015g00000CaMpB"


def sf(obj: str) -> ImportSource:
    return ImportSource("salesforce", obj)


def test_the_checksum_matches_published_examples() -> None:
    assert to_18("0019000000B98de") == "0019000000B98deAAB"
    assert to_18("a0D30000001n7Pi") == "a0D30000001n7PiEAI"
    assert checksum("001A0000006Vm9r") != checksum("001A0000006VM9r")


def test_ids_convert_15_to_18_and_malformed_ones_are_refused() -> None:
    long = to_18(ACCOUNT)
    assert len(long) == 18
    assert to_18(long) == long
    bad = long[:15] + ("A" if long[15] != "A" else "B") + long[16:]
    with pytest.raises(BadSalesforceId, match="malformed 18-character"):
        to_18(bad)
    with pytest.raises(BadSalesforceId, match="15 or 18"):
        to_18("001abc")
    with pytest.raises(BadSalesforceId, match="is a Contact id, not a Lead id"):
        salesforce_id(CONTACT, "Lead")


def _report_exports(folder: Path) -> dict[str, Path]:
    """Report exports: labels and 15-character ids."""
    return {
        "accounts": write_csv(
            folder / "accounts.csv",
            ["Account ID", "Account Name", "Website", "Industry", "Type", "Employees"],
            [[ACCOUNT, "Acme", "www.acme.com", "Software", "Customer", "250"]],
        ),
        "contacts": write_csv(
            folder / "contacts.csv",
            ["Contact ID", "Account ID", "First Name", "Last Name", "Email", "Lead Source"],
            [[CONTACT, ACCOUNT, "Jo", "Jones", "jo@acme.com", "Web"]],
        ),
        "opportunities": write_csv(
            folder / "opportunities.csv",
            [
                "Opportunity ID",
                "Account ID",
                "Opportunity Name",
                "Stage",
                "Amount",
                "Close Date",
                "Closed",
                "Won",
                "Type",
            ],
            [
                [
                    OPPORTUNITY,
                    ACCOUNT,
                    "Acme platform",
                    "Closed Won",
                    "24000",
                    "3/31/2024",
                    "1",
                    "1",
                    "New Customer",
                ]
            ],
        ),
        "leads": write_csv(
            folder / "leads.csv",
            [
                "Lead ID",
                "First Name",
                "Last Name",
                "Email",
                "Company",
                "Lead Status",
                "Lead Source",
                "Create Date",
                "Converted",
                "Converted Date",
                "Converted Account ID",
                "Converted Contact ID",
                "Converted Opportunity ID",
            ],
            [
                [
                    LEAD,
                    "Jo",
                    "Jones",
                    "jo@acme.com",
                    "Acme",
                    "Closed - Converted",
                    "Web",
                    "1/15/2024 9:30 AM",
                    "1",
                    "2/1/2024",
                    ACCOUNT,
                    CONTACT,
                    OPPORTUNITY,
                ],
                [
                    OTHER_LEAD,
                    "Max",
                    "Mute",
                    "max@gmail.com",
                    "Self",
                    "Closed - Not Converted",
                    "Purchased List",
                    "1/16/2024",
                    "0",
                    "",
                    "",
                    "",
                    "",
                ],
            ],
        ),
        "campaigns": write_csv(
            folder / "campaigns.csv",
            [
                "Campaign ID",
                "Campaign Name",
                "Type",
                "Start Date",
                "Budgeted Cost in Campaign",
                "Actual Cost in Campaign",
            ],
            [
                [CAMPAIGN, "Spring Expo", "Trade Show", "4/2/2024", "5000", "4200.5"],
                [WEBINAR, "Webinar: Attribution", "Webinar", "4/9/2024", "300", ""],
            ],
        ),
        "campaign-members": write_csv(
            folder / "members.csv",
            [
                "Campaign ID",
                "Lead ID",
                "Contact ID",
                "Member Status",
                "Responded",
                "First Responded Date",
            ],
            [
                [CAMPAIGN, LEAD, CONTACT, "Attended", "1", "4/3/2024"],
                [WEBINAR, OTHER_LEAD, "", "Sent", "0", ""],
                [WEBINAR, OTHER_LEAD, "", "Registered", "1", "4/10/2024"],
                ["7015g00000NoSuC", OTHER_LEAD, "", "Attended", "1", "4/10/2024"],
            ],
        ),
    }


def _data_loader_exports(folder: Path) -> dict[str, Path]:
    """The same records from Data Loader: API names and 18-character ids."""
    a, c, o, lead, other = (to_18(x) for x in (ACCOUNT, CONTACT, OPPORTUNITY, LEAD, OTHER_LEAD))
    return {
        "accounts": write_csv(
            folder / "dl-accounts.csv",
            ["Id", "Name", "Website", "Industry", "Type", "NumberOfEmployees"],
            [[a, "Acme", "https://acme.com", "Software", "Customer", "250"]],
        ),
        "contacts": write_csv(
            folder / "dl-contacts.csv",
            ["Id", "AccountId", "FirstName", "LastName", "Email", "LeadSource"],
            [[c, a, "Jo", "Jones", "JO@acme.com", "Web"]],
        ),
        "opportunities": write_csv(
            folder / "dl-opps.csv",
            [
                "Id",
                "AccountId",
                "Name",
                "StageName",
                "Amount",
                "CloseDate",
                "IsClosed",
                "IsWon",
                "Type",
            ],
            [
                [
                    o,
                    a,
                    "Acme platform",
                    "Closed Won",
                    "24000.00",
                    "2024-03-31",
                    "true",
                    "true",
                    "New Customer",
                ]
            ],
        ),
        "leads": write_csv(
            folder / "dl-leads.csv",
            [
                "Id",
                "FirstName",
                "LastName",
                "Email",
                "Company",
                "Status",
                "LeadSource",
                "CreatedDate",
                "IsConverted",
                "ConvertedDate",
                "ConvertedAccountId",
                "ConvertedContactId",
                "ConvertedOpportunityId",
            ],
            [
                [
                    lead,
                    "Jo",
                    "Jones",
                    "jo@acme.com",
                    "Acme",
                    "Closed - Converted",
                    "Web",
                    "2024-01-15T09:30:00.000+0000",
                    "true",
                    "2024-02-01",
                    a,
                    c,
                    o,
                ],
                [
                    other,
                    "Max",
                    "Mute",
                    "max@gmail.com",
                    "Self",
                    "Closed - Not Converted",
                    "Purchased List",
                    "2024-01-16T00:00:00.000+0000",
                    "false",
                    "",
                    "",
                    "",
                    "",
                ],
            ],
        ),
    }


ORDER = ("accounts", "contacts", "opportunities", "leads", "campaigns", "campaign-members")


def test_converted_leads_join_their_contact_account_and_opportunity(
    workspace: Workspace, tmp_path: Path
) -> None:
    files = _report_exports(tmp_path)
    for obj in ORDER[:4]:
        report = run_import(workspace, sf(obj), files[obj])
        assert report.run.rows_rejected == 0, read_errors(report.errors_file or Path())
    state = store_state(workspace)
    people = {row[0]: row for row in state["people"]}
    assert set(people) == {"jo@acme.com", "max@gmail.com"}
    jo = people["jo@acme.com"]
    assert (jo[6], jo[8]) == ("opportunity", to_18(ACCOUNT))
    assert dict(jo[9])["salesforce_lead_source"] == "Web"
    jo_ids = {v for e, k, v in state["identities"] if e == "jo@acme.com" and k == "salesforce"}
    assert jo_ids == {to_18(CONTACT), to_18(LEAD)}
    jo_moves = {row[1:4] for row in state["transitions"] if row[0] == "jo@acme.com"}
    assert jo_moves == {
        (None, "lead", datetime(2024, 1, 15, 9, 30, tzinfo=UTC)),
        ("lead", "opportunity", datetime(2024, 2, 1, tzinfo=UTC)),
    }
    assert people["max@gmail.com"][6] == "disqualified"
    (deal,) = state["deals"]
    assert deal[:6] == ("Acme platform", "jo@acme.com", to_18(ACCOUNT), "Closed Won", "won", "new")
    assert (deal[6], deal[8]) == (Decimal("24000.00"), date(2024, 3, 31))


def test_report_and_data_loader_exports_key_the_same_records(
    workspace: Workspace, tmp_path: Path
) -> None:
    report_files = _report_exports(tmp_path)
    for obj in ORDER[:4]:
        run_import(workspace, sf(obj), report_files[obj])
    before = store_state(workspace)
    for obj, path in _data_loader_exports(tmp_path).items():
        report = run_import(workspace, sf(obj), path)
        assert report.run.rows_imported == 0, (obj, report.run.summary)
        assert report.run.rows_rejected == 0, read_errors(report.errors_file or Path())
    assert store_state(workspace) == before


def test_campaign_responses_become_marketing_touchpoints_once(
    workspace: Workspace, tmp_path: Path
) -> None:
    files = _report_exports(tmp_path)
    for obj in ORDER:
        run_import(workspace, sf(obj), files[obj])
    members = import_runs(workspace)[-1]
    assert members[2:6] == (4, 2, 1, 1)  # read, imported, unchanged (not responded), rejected
    errors = read_errors(tmp_path / "members.errors.csv")
    assert [(e["row"], e["column"]) for e in errors] == [("5", "Campaign ID")]
    assert "import the campaigns first" in errors[0]["reason"]
    state = store_state(workspace)
    assert state["campaigns"] == sorted(
        [("Spring Expo", "Offline Sources", "Trade Show", Decimal("4200.50"), date(2024, 4, 2),
          None, to_18(CAMPAIGN)),
         ("Webinar: Attribution", "Other Campaigns", "Webinar", Decimal("300.00"),
          date(2024, 4, 9), None, to_18(WEBINAR))], key=repr)  # fmt: skip
    assert state["touchpoints"] == sorted(
        [("jo@acme.com", to_18(ACCOUNT), datetime(2024, 4, 3, tzinfo=UTC), "event",
          "Campaign Responded", "Offline Sources", "salesforce-import", "Spring Expo", "marketing"),
         ("max@gmail.com", None, datetime(2024, 4, 10, tzinfo=UTC), "event",
          "Campaign Responded", "Other Campaigns", "salesforce-import", "Webinar: Attribution",
          "marketing")], key=repr)  # fmt: skip
    again = run_import(workspace, sf("campaign-members"), files["campaign-members"])
    assert again.run.summary == "read 4 = imported 0 + unchanged 3 + rejected 1"
    assert store_state(workspace) == state


def test_opportunity_status_comes_from_the_flags_else_the_stage(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [
        ["0065g00000Opp01", "Won by flag", "Negotiation/Review", "true", "true"],
        ["0065g00000Opp02", "Lost by flag", "Closed Lost", "true", "false"],
        ["0065g00000Opp03", "Open by flag", "Closed Won", "false", "false"],
        ["0065g00000Opp04", "Won by name", "Closed Won", "", ""],
        ["0065g00000Opp05", "Open by name", "Prospecting", "", ""],
    ]
    path = write_csv(tmp_path / "o.csv", ["Id", "Name", "StageName", "IsClosed", "IsWon"], rows)
    run_import(workspace, sf("opportunities"), path)
    with workspace.db.read() as conn:
        status = dict(conn.execute(select(tables.deals.c.name, tables.deals.c.status)).all())
    assert status == {
        "Won by flag": "won",
        "Lost by flag": "lost",
        "Open by flag": "open",
        "Won by name": "won",
        "Open by name": "open",
    }


def test_a_malformed_id_rejects_its_row_only(workspace: Workspace, tmp_path: Path) -> None:
    good = to_18(ACCOUNT)
    bad = good[:15] + "ZZZ"
    rows = [[good, "Acme"], [bad, "Broken"], ["00Q5g00000LmNoP", "A lead id"]]
    path = write_csv(tmp_path / "acc.csv", ["Id", "Name"], rows)
    report = run_import(workspace, sf("accounts"), path)
    assert report.run.summary == "read 3 = imported 1 + unchanged 0 + rejected 2"
    reasons = [e["reason"] for e in read_errors(tmp_path / "acc.errors.csv")]
    assert "malformed 18-character Salesforce id" in reasons[0]
    assert "is a Lead id, not a Account id" in reasons[1]
