"""Files as users have them: encodings, delimiters, bad rows, formulas; and the CLI end to end."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from smarketing.cli.main import run
from smarketing.errors import ImportFileError, NotFoundError
from smarketing.ingest.importers.errors_csv import ErrorsCsv, neutralise
from smarketing.ingest.importers.reader import inspect_csv, open_rows
from smarketing.ingest.importers.values import Problem
from smarketing.services.imports import ImportSource, get_import, run_import
from smarketing.services.workspace import Workspace
from smarketing.settings import Settings
from tests.ingest import read_errors, store_state, write_csv

CONTACTS = ImportSource("hubspot", "contacts")
HEADER = ["Email", "First Name", "Last Name", "Lifecycle Stage"]
ROWS = [
    ["zoe@acme.com", "Zoë", "Müller-Lüdenscheidt", "Lead"],
    ["rene@acme.fr", "René", "Côté", "MQL"],
]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "detected"),
    [
        ("utf-8", ",", "utf-8"),
        ("utf-8-sig", ";", "utf-8-sig"),
        ("utf-16", "\t", "utf-16"),
        ("latin-1", ";", "latin-1"),
        ("cp1252", "|", "cp1252"),
    ],
)
def test_encodings_and_delimiters_are_detected(
    tmp_path: Path, encoding: str, delimiter: str, detected: str
) -> None:
    rows = [*ROWS, ["q@acme.com", "“Quoted” €", "X", "Lead"]] if encoding == "cp1252" else ROWS
    path = write_csv(tmp_path / "c.csv", HEADER, rows, encoding=encoding, delimiter=delimiter)
    source = inspect_csv(path)
    assert (source.encoding, source.delimiter) == (detected, delimiter)
    with open_rows(source) as opened:
        assert opened.header == HEADER
        assert [cells for _, cells in opened.rows] == rows


def test_utf16_bom_and_latin1_import_the_same_people(workspace: Workspace, tmp_path: Path) -> None:
    for name, encoding, delimiter in (("a", "utf-16", "\t"), ("b", "latin-1", ";")):
        path = write_csv(
            tmp_path / f"{name}.csv", HEADER, ROWS, encoding=encoding, delimiter=delimiter
        )
        report = run_import(workspace, CONTACTS, path)
        assert report.run.rows_rejected == 0
    people = store_state(workspace)["people"]
    assert [(p[0], p[1], p[2]) for p in people] == [
        ("rene@acme.fr", "René", "Côté"),
        ("zoe@acme.com", "Zoë", "Müller-Lüdenscheidt"),
    ]


def test_rows_a_forced_wrong_encoding_cannot_decode_are_rejected(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = [*ROWS, ["plain@acme.com", "Plain", "Ascii", "Lead"]]
    path = write_csv(tmp_path / "c.csv", HEADER, rows, encoding="latin-1")
    report = run_import(workspace, CONTACTS, path, options=_options(encoding="utf-8"))
    assert report.run.summary == "read 3 = imported 1 + unchanged 0 + rejected 2"
    reasons = {e["reason"] for e in read_errors(tmp_path / "c.errors.csv")}
    assert reasons == {"the row has bytes that are not utf-8; pass --encoding"}


def _options(**kw: object) -> object:
    from smarketing.services.imports import ImportOptions

    return ImportOptions(**kw)  # type: ignore[arg-type]


def test_bad_rows_go_to_the_errors_csv_and_the_counts_reconcile(
    workspace: Workspace, tmp_path: Path
) -> None:
    header = ["Email", "First Name", "Lifecycle Stage", "Create Date"]
    rows = [
        ["ok@acme.com", "Ok", "Lead", "2024-01-02"],
        ["not an email", "Bad", "Lead", ""],
        ["x@acme.com", "=1+2", "Sometimes", "yesterday"],
        ["", "NoKey", "Lead", ""],
        ["ok@acme.com", "Ok", "Lead", "2024-01-02"],
        ["y@acme.com", "@SUM(A1)", "-99", ""],
    ]
    path = write_csv(tmp_path / "c.csv", header, rows)
    report = run_import(workspace, CONTACTS, path)
    assert report.run.summary == "read 6 = imported 1 + unchanged 1 + rejected 4"
    assert report.errors_file == tmp_path / "c.errors.csv"
    errors = read_errors(tmp_path / "c.errors.csv")
    assert [(e["file"], e["row"], e["column"]) for e in errors] == [
        ("c.csv", "3", "Email"),
        ("c.csv", "4", "Lifecycle Stage"),
        ("c.csv", "4", "Create Date"),
        ("c.csv", "5", "Email"),
        ("c.csv", "7", "Lifecycle Stage"),
    ]
    assert "bad email" in errors[0]["reason"]
    assert "unknown lifecycle stage 'Sometimes'" in errors[1]["reason"]
    assert "unknown date format 'yesterday'" in errors[2]["reason"]
    assert "missing required value" in errors[3]["reason"]
    assert errors[4]["value"] == "'-99"  # neutralised: never a formula in a spreadsheet
    run = get_import(workspace, report.run.id)
    assert (run.rows_read, run.rows_rejected, run.errors_file) == (
        6,
        4,
        str(tmp_path / "c.errors.csv"),
    )


def test_cells_that_start_a_formula_are_neutralised() -> None:
    assert [neutralise(v) for v in ("=1+2", "+1", "-1", "@A1", "\tx", "ok", "a=b")] == [
        "'=1+2", "'+1", "'-1", "'@A1", "'\tx", "ok", "a=b"
    ]  # fmt: skip
    assert neutralise("two\nlines") == "two lines"


def test_the_errors_csv_is_cut_back_to_the_checkpoint_on_resume(tmp_path: Path) -> None:
    errors = ErrorsCsv(tmp_path / "e.csv", file_label="f.csv")
    errors.write([Problem(3, "Email", "bad"), Problem(9, "Email", "bad")])
    errors.close()
    with (tmp_path / "e.csv").open("a", encoding="utf-8") as torn:
        torn.write("f.csv,1")  # a line cut by a crash
    ErrorsCsv(tmp_path / "e.csv", file_label="f.csv").resume_after(5)
    assert [e["row"] for e in read_errors(tmp_path / "e.csv")] == ["3"]


def test_a_row_wider_than_the_header_is_rejected(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Email,First Name\na@acme.com,A\nb@acme.com,B,surplus\nc@acme.com,C,,\n")
    report = run_import(workspace, CONTACTS, path)
    assert report.run.summary == "read 3 = imported 2 + unchanged 0 + rejected 1"
    (error,) = read_errors(tmp_path / "c.errors.csv")
    assert (error["row"], error["column"]) == ("3", "(row)")


def test_an_empty_file_or_header_only_file(workspace: Workspace, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFileError, match="is empty"):
        run_import(workspace, CONTACTS, empty)
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(codecs.BOM_UTF8 + b"Email,First Name\r\n")
    report = run_import(workspace, CONTACTS, header_only)
    assert report.run.summary == "read 0 = imported 0 + unchanged 0 + rejected 0"


def test_get_import_of_an_unknown_run(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError):
        get_import(workspace, 999)


@pytest.fixture
def cli_workspace(workspace: Workspace, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    if settings.database_url:
        monkeypatch.setenv("SMARKETING_DATABASE_URL", settings.database_url)
    return str(settings.workspace)


def test_cli_imports_then_finds_everything_unchanged(cli_workspace: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", HEADER, [*ROWS, ["bad", "B", "C", "Lead"]], delimiter=";")
    first = run(["import", "hubspot", "contacts", str(path), "--workspace", cli_workspace])
    assert first.exit_code == 0, first.stderr
    lines = first.stdout.strip().splitlines()
    assert lines[0] == f"{path} (utf-8, semicolon-separated) as hubspot:contacts"
    assert lines[1] == f"1 rows rejected: see {tmp_path / 'c.errors.csv'}"
    assert lines[-1] == "import 1 completed: read 3 = imported 2 + unchanged 0 + rejected 1"
    again = run(["import", "hubspot", "contacts", str(path), "-w", cli_workspace, "--quiet"])
    assert again.stdout == "import 1 completed: read 3 = imported 0 + unchanged 2 + rejected 1\n"


def test_cli_reports_a_missing_column_and_exits_2(cli_workspace: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "deals.csv", ["Deal Name", "Amount"], [["X", "1"]])
    result = run(["import", "hubspot", "deals", str(path), "-w", cli_workspace])
    assert result.exit_code == 2
    assert "required column 'hs_object_id' is missing" in result.stderr
    assert "headers found: 'Deal Name', 'Amount'" in result.stderr


def test_cli_errors_option_and_salesforce_and_csv_commands(
    cli_workspace: str, tmp_path: Path
) -> None:
    accounts = write_csv(
        tmp_path / "a.csv", ["Account ID", "Account Name"], [["0015g00000AbCdE", "Acme"]]
    )
    result = run(["import", "salesforce", "accounts", str(accounts), "-w", cli_workspace, "-q"])
    assert result.stdout.endswith("read 1 = imported 1 + unchanged 0 + rejected 0\n"), result.stderr
    mapping = tmp_path / "m.yaml"
    mapping.write_text("object: people\ncolumns: {email: Mail}\n")
    people = write_csv(tmp_path / "p.csv", ["Mail"], [["a@b.co"], ["nope"]])
    errors = tmp_path / "out" / "rejects.csv"
    result = run(["import", "csv", str(people), "--map", str(mapping), "--errors", str(errors),
                  "-w", cli_workspace])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("read 2 = imported 1 + unchanged 0 + rejected 1")
    assert [e["row"] for e in read_errors(errors)] == ["3"]


def test_the_progress_bar_shows_rows_per_second(workspace: Workspace, tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from smarketing.cli.import_cmds import _ProgressBar

    screen = io.StringIO()
    bar = _ProgressBar(Console(file=screen, force_terminal=True, width=100), "c.csv")
    path = write_csv(tmp_path / "c.csv", HEADER, ROWS)
    run_import(workspace, CONTACTS, path, progress=bar)
    bar.stop()
    assert "rows/s" in screen.getvalue()
