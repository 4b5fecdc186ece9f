"""`smarketing import csv --map`: any CSV of people, accounts or deals through a YAML mapping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from smarketing.errors import ImportFileError, UsageError
from smarketing.services.imports import ImportSource, run_import
from smarketing.services.workspace import Workspace
from tests.ingest import read_errors, store_state, write_csv

PEOPLE_MAPPING = """\
object: people
date_format: "%d.%m.%Y"
columns:
  email: E-Mail
  first_name: Vorname
  stage: Status
  original_channel: Quelle
  account_domain: Firma
  entered.mql: MQL seit
  traits.newsletter: Newsletter
values:
  stage: {Kunde: customer, Interessent: lead, Heiß: mql}
  original_channel: {Messe: Offline Sources}
"""


def _mapping(tmp_path: Path, text: str, name: str = "map.yaml") -> ImportSource:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return ImportSource("csv", mapping=path)


def test_people_through_a_mapping_with_value_maps_and_a_date_format(
    workspace: Workspace, tmp_path: Path
) -> None:
    accounts = _mapping(
        tmp_path, "object: accounts\ncolumns: {domain: Web, name: Firma}\n", "a.yaml"
    )
    run_import(
        workspace,
        accounts,
        write_csv(tmp_path / "a.csv", ["Firma", "Web"], [["Acme GmbH", "https://acme.de"]]),
    )
    rows = [
        ["anna@acme.de", "Anna", "Heiß", "Messe", "acme.de", "03.02.2024", "ja"],
        ["bert@acme.de", "Bert", "Kunde", "", "acme.de", "", ""],
        ["carl@acme.de", "Carl", "Vielleicht", "", "", "", ""],
        ["dora@acme.de", "Dora", "Interessent", "", "", "2024-02-03", ""],
    ]
    header = ["E-Mail", "Vorname", "Status", "Quelle", "Firma", "MQL seit", "Newsletter"]
    report = run_import(
        workspace,
        _mapping(tmp_path, PEOPLE_MAPPING),
        write_csv(tmp_path / "p.csv", header, rows, delimiter=";"),
    )
    assert report.run.summary == "read 4 = imported 2 + unchanged 0 + rejected 2"
    errors = read_errors(tmp_path / "p.errors.csv")
    assert [(e["row"], e["column"]) for e in errors] == [("4", "Status"), ("5", "MQL seit")]
    assert "unknown lifecycle stage 'Vielleicht'" in errors[0]["reason"]
    state = store_state(workspace)
    people = {p[0]: p for p in state["people"]}
    assert people["anna@acme.de"][6:10] == (
        "mql",
        "Offline Sources",
        "acme.de",
        (("newsletter", "ja"),),
    )
    assert people["bert@acme.de"][6] == "customer"
    anna_moves = [t[1:4] for t in state["transitions"] if t[0] == "anna@acme.de"]
    assert anna_moves == [(None, "mql", datetime(2024, 2, 3, tzinfo=UTC))]
    assert state["transitions"][0][4:] == ("import:csv", "imported from CSV (map.yaml)")


def test_deals_through_a_mapping(workspace: Workspace, tmp_path: Path) -> None:
    mapping = _mapping(
        tmp_path,
        "object: deals\ncolumns: {name: Deal, status: Result, amount: Value, close_date: Closed,"
        " person_email: Contact}\nvalues:\n  status: {Gewonnen: won, Verloren: lost, Offen: open}\n",
    )
    rows = [["Big one", "Gewonnen", "1.234,50", "31.03.2024", ""], ["Small", "Offen", "99", "", ""]]
    path = write_csv(tmp_path / "d.csv", ["Deal", "Result", "Value", "Closed", "Contact"], rows)
    assert run_import(workspace, mapping, path).run.rows_imported == 2
    deals = {d[0]: d for d in store_state(workspace)["deals"]}
    assert deals["Big one"][4] == "won"
    assert deals["Big one"][6] == Decimal("1234.50")
    assert deals["Big one"][8] == date(2024, 3, 31)
    again = run_import(workspace, mapping, path)
    assert again.run.summary == "read 2 = imported 0 + unchanged 2 + rejected 0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("object: people\ncolumns: {first_name: Name}\n", "must map the key field 'email'"),
        (
            "object: people\ncolumns: {email: Mail, shoe_size: Size}\n",
            "columns.shoe_size: is not a field of people",
        ),
        ("object: leads\ncolumns: {email: Mail}\n", "object"),
        ("object: people\ncolumns: {email: Mail, entered.vip: Since}\n", "not a lifecycle stage"),
        ("object: [people\n", "cannot read mapping"),
    ],
)
def test_a_wrong_mapping_is_a_usage_error_naming_the_field(
    workspace: Workspace, tmp_path: Path, text: str, message: str
) -> None:
    path = write_csv(tmp_path / "p.csv", ["Mail"], [["a@b.co"]])
    with pytest.raises(UsageError, match=message):
        run_import(workspace, _mapping(tmp_path, text), path)


def test_a_mapped_column_missing_from_the_file_fails_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "p.csv", ["Mail"], [["a@b.co"]])
    mapping = _mapping(tmp_path, "object: people\ncolumns: {email: Mail, first_name: Vorname}\n")
    with pytest.raises(ImportFileError, match="required column 'Vorname' is missing"):
        run_import(workspace, mapping, path)
