"""`smarketing attribute`: options, output formats and errors (run in-process)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer

from smarketing.cli.attribute_cmd import attribute
from smarketing.errors import SmarketingError, UsageError


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("attribute")(attribute)
    command = typer.main.get_command(app)
    command.main(args=["attribute", *args], prog_name="smarketing", standalone_mode=False)
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.fixture
def paths_file(tmp_path: Path) -> Path:
    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "Email > Web;2;30;2\nWeb;1;5;1\nEmail > Direct;0;0;3\n;1;4;0\n",
        encoding="utf-8",
    )
    return file


def test_csv_output(paths_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run([str(paths_file), "-m", "linear", "-m", "markov", "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["model"], r["channel"]) for r in rows] == [
        ("linear", "Email"),
        ("linear", "Web"),
        ("markov", "Email"),
        ("markov", "Web"),
    ]
    assert float(rows[0]["conversions"]) == 1.0
    assert float(rows[1]["value"]) == 20.0
    assert "dropped 1 journey without any touch (1 conversion, 4.00 value)" in err


def test_json_with_intervals_to_a_file(
    paths_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "credits.json"
    run(
        [
            str(paths_file),
            "--model",
            "all",
            "--weights",
            "1,1",
            "--ci",
            "0.9",
            "--out",
            str(target),
        ],
        capsys,
    )
    rows = json.loads(target.read_text(encoding="utf-8"))
    assert {r["model"] for r in rows} >= {"markov", "shapley", "custom", "time_decay"}
    assert set(rows[0]) == {
        "model",
        "channel",
        "conversions",
        "value",
        "conversions_low",
        "conversions_high",
        "value_low",
        "value_high",
    }
    assert all(r["conversions_low"] <= r["conversions_high"] for r in rows)


def test_table_output(paths_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run([str(paths_file), "-m", "first_touch"], capsys)
    assert "first_touch" in out
    assert "Email" in out
    assert "3.00 conversions, 35.00 value from 9 journeys" in out


def test_no_value_column_shows_no_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "p.csv"
    file.write_text("path,total_conversions\nA > B,1\nB,0\n", encoding="utf-8")
    out, _ = run([str(file), "-m", "linear", "--format", "json"], capsys)
    assert json.loads(out) == [
        {"model": "linear", "channel": "A", "conversions": 0.5, "value": None},
        {"model": "linear", "channel": "B", "conversions": 0.5, "value": None},
    ]


def test_model_options_reach_the_models(
    paths_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = run(
        [
            str(paths_file),
            "-m",
            "position_based",
            "--position-weights",
            "1,0,3",
            "--format",
            "csv",
        ],
        capsys,
    )
    rows = {r["channel"]: float(r["conversions"]) for r in csv.DictReader(io.StringIO(out))}
    assert rows == pytest.approx({"Email": 0.5, "Web": 2.5})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nope"], "unknown attribution model 'nope'"),
        (["-m", "custom"], "needs stage weights"),
        (["-m", "linear", "--path-column", "p"], "no column 'p'"),
        (["-m", "linear", "--ci", "95"], "--ci must be between 0 and 1"),
        (["-m", "markov", "--order", "5"], "order must be 1 to 3"),
        (["-m", "position_based", "--position-weights", "a,b"], "must be numbers"),
        (["-m", "linear", "--sep", " "], "separator cannot be empty"),
    ],
)
def test_bad_input_raises_usage_errors(
    paths_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        run([str(paths_file), *args], capsys)


def test_errors_are_smarketing_errors_not_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "p.csv"
    file.write_text("path,total_conversions\nA,-1\n", encoding="utf-8")
    with pytest.raises(SmarketingError, match="row 1"):
        run([str(file), "-m", "linear"], capsys)


def test_time_and_markov_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "p.csv"
    file.write_text(
        "path,total_conversions,days\nA > A > B,1,0 > 7 > 14\nB > A,1,0 > 0\nA,0,3\n",
        encoding="utf-8",
    )
    out, _ = run(
        [
            str(file),
            "-m",
            "time_decay",
            "-m",
            "markov",
            "--time-column",
            "days",
            "--half-life-days",
            "7",
            "--order",
            "2",
            "--no-collapse",
            "--format",
            "json",
        ],
        capsys,
    )
    rows = {(r["model"], r["channel"]): r["conversions"] for r in json.loads(out)}
    assert rows["time_decay", "A"] == pytest.approx(3 / 7 + 0.5)
    assert rows["markov", "A"] + rows["markov", "B"] == pytest.approx(2.0)
