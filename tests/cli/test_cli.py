"""The command line as a new user meets it: init, check, keys, sign-off, and clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from smarketing.cli.main import run
from smarketing.domain import credentials


def ok(*argv: str, stdin: str | None = None) -> str:
    result = run(list(argv), stdin=stdin)
    assert result.exit_code == 0, result.stderr
    return result.stdout


@pytest.fixture
def ws(tmp_path: Path) -> str:
    path = str(tmp_path / "acme")
    ok("init", path)
    return path


def test_init_writes_a_commented_playbook_and_a_wal_database(ws: str) -> None:
    playbook = Path(ws, "smarketing.yaml").read_text()
    assert playbook.startswith("# smarketing.yaml")
    assert "version: 1" in playbook
    assert Path(ws, "smarketing.db").exists()
    assert "ok (5 fit rules" in ok("playbook", "check", "--workspace", ws)
    again = ok("init", ws)
    assert "kept existing playbook" in again


def test_check_of_a_broken_file_lists_file_line_field_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nmql:\n  min_score: -5\nfit:\n  rules:\n    - {id: x, when: {field: person.title, matches: '('}, points: 1}\n"
    )
    result = run(["playbook", "check", str(bad)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}:3:14: mql.min_score: Input should be greater than or equal to 0"
    assert lines[1].startswith(f"{bad}:6:52: fit.rules[0].when.matches: bad regular expression")
    assert lines[-1] == "error: 2 problem(s) in the playbook"
    assert "Traceback" not in result.stderr


def test_playbook_check_exit_codes(tmp_path: Path, ws: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nbogus: 1\n")
    assert run(["playbook", "check", str(bad)]).exit_code == 1
    assert run(["playbook", "check", "--workspace", ws]).exit_code == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["users", "list", "--workspace", "/nonexistent/ws"],
            "error: workspace /nonexistent/ws does not exist; create it with `smarketing init DIR`",
        ),
        (
            ["playbook", "check", "/nonexistent/pb.yaml"],
            "error: no playbook at /nonexistent/pb.yaml; run `smarketing init DIR`",
        ),
    ],
)
def test_bad_setup_is_one_clear_line_with_exit_2(argv: list[str], message: str) -> None:
    result = run(argv)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert "Traceback" not in result.stderr


def test_database_that_does_not_connect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARKETING_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = run(["db", "upgrade", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        "error: cannot connect to the database postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    assert line.endswith("check that the server runs and SMARKETING_DATABASE_URL is right")


def test_malformed_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARKETING_DATABASE_URL", "nosuchdb://x")
    result = run(["db", "status", "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: cannot use database URL nosuchdb://x")


def test_schema_behind_names_the_fix_and_writes_nothing(ws: str) -> None:
    engine = create_engine(f"sqlite:///{ws}/smarketing.db")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    engine.dispose()
    result = run(
        ["keys", "create", "--role", "admin", "--name", "x", "--workspace", ws],
    )
    assert result.exit_code == 2
    assert "schema is behind" in result.stderr
    assert "run `smarketing db upgrade`" in result.stderr
    assert "smk_" not in result.stdout


def test_keys_create_prints_the_key_alone_on_the_last_line(ws: str) -> None:
    out = ok("keys", "create", "--role", "sales", "--name", "crm-sync", "--workspace", ws)
    key = out.strip().splitlines()[-1]
    assert key.startswith("smk_")
    assert " " not in key
    engine = create_engine(f"sqlite:///{ws}/smarketing.db")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT key_hash, role FROM api_keys")).one()
    engine.dispose()
    assert stored == (credentials.key_hash(key), "sales")


def test_sources_add_prints_a_write_key(ws: str) -> None:
    key = ok("sources", "add", "website", "--workspace", ws).strip().splitlines()[-1]
    assert key.startswith("swk_")
    result = run(["sources", "add", "website", "--workspace", ws])
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_users_and_two_team_sign_off(ws: str) -> None:
    ok("users", "add", "mo@acme.test", "--role", "marketing", "--workspace", ws, stdin="pw1234\n")
    ok("users", "add", "sy@acme.test", "--role", "sales", "--workspace", ws, stdin="pw1234\n")
    assert "mo@acme.test\tmarketing\tactive" in ok("users", "list", "--workspace", ws)
    first = ok("playbook", "sign", "--as", "marketing", "--user", "mo@acme.test", "--workspace", ws)
    assert "waiting for sales" in first
    wrong = run(
        ["playbook", "sign", "--as", "marketing", "--user", "sy@acme.test", "--workspace", ws]
    )
    assert wrong.exit_code == 2
    assert "sign with a user whose role is marketing" in wrong.stderr
    second = ok("playbook", "sign", "--as", "sales", "--user", "sy@acme.test", "--workspace", ws)
    assert "agreed by both teams" in second
    assert " agreed " in ok("playbook", "versions", "--workspace", ws)


def test_users_add_needs_a_password(ws: str) -> None:
    result = run(["users", "add", "x@acme.test", "--role", "viewer", "--workspace", ws], stdin="")
    assert result.exit_code == 2
    assert "no password on standard input" in result.stderr


def test_playbook_diff_in_words(tmp_path: Path, ws: str) -> None:
    old = Path(ws, "smarketing.yaml")
    new = tmp_path / "new.yaml"
    new.write_text(old.read_text().replace("min_score: 60", "min_score: 75"))
    assert ok("playbook", "diff", str(old), str(new)).strip() == "MQL threshold 60 -> 75"
    assert ok("playbook", "diff", str(old), str(old)).strip() == "no change in meaning"


def test_workspace_from_the_environment(ws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARKETING_WORKSPACE", ws)
    assert "database revision" in ok("db", "status")
