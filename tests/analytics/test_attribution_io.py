"""Reading paths files and tables: layouts, delimiters, separators, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from smarketing.analytics.attribution import JourneyColumns, ModelName, attribute, load_journeys
from smarketing.analytics.attribution.table import sniff_delimiter
from smarketing.errors import ImportFileError, UsageError, ValidationFailed
from tests.analytics.attribution_data import conversions_by_channel, journey_table

MODELS: list[ModelName] = ["first_touch", "linear", "markov", "shapley"]


def all_credits(source: object, **kwargs: object) -> dict[str, dict[str, float]]:
    result = attribute(source, models=MODELS, **kwargs)  # type: ignore[arg-type]
    return {model: conversions_by_channel(result, model) for model in MODELS}


def test_one_row_per_journey_equals_one_row_per_distinct_path() -> None:
    per_journey = pa.table(
        {
            "path": ["A > B", "A > B", "A>B", " A >B ", "C", "C", "C > A"],
            "total_conversions": [1, 0, 1, 0, 1, 0, 0],
            "total_conversion_value": [10.0, 0.0, 20.0, 0.0, 5.0, 0.0, 0.0],
        }
    )
    per_path = journey_table(
        {"A > B": (2.0, 30.0, 2.0), "C": (1.0, 5.0, 1.0), "C > A": (0.0, 0.0, 1.0)}
    )
    assert all_credits(per_journey) == all_credits(per_path)
    loaded = load_journeys(per_journey, models=["markov"])
    assert loaded.totals.journeys == 7.0


def test_csv_with_semicolons_is_sniffed(tmp_path: Path) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "A > B;2;30.5;2\nC;1;5;1\nC > A;0;0;1\n",
        encoding="utf-8",
    )
    per_path = journey_table(
        {"A > B": (2.0, 30.5, 2.0), "C": (1.0, 5.0, 1.0), "C > A": (0.0, 0.0, 1.0)}
    )
    assert all_credits(file) == all_credits(per_path)
    assert all_credits(str(file), delimiter=";") == all_credits(per_path)


def test_csv_with_bom_tabs_and_custom_columns(tmp_path: Path) -> None:
    file = tmp_path / "paths.tsv"
    file.write_text("\ufeffjourney\tconv\nEmail|Web\t3\nWeb\t0\n", encoding="utf-8")
    result = attribute(
        file,
        models=["linear"],
        columns=JourneyColumns(path="journey", conversions="conv"),
        sep="|",
    )
    assert conversions_by_channel(result, "linear") == {"Email": 1.5, "Web": 1.5}
    assert result.totals.journeys == 4.0
    assert not result.has_value


def test_parquet_and_pandas_and_list_paths(tmp_path: Path) -> None:
    table = journey_table({"A > B": (2.0, 30.0, 2.0), "C": (1.0, 5.0, 1.0)})
    file = tmp_path / "paths.parquet"
    pq.write_table(table, file)
    expected = all_credits(table)
    assert all_credits(file) == expected
    as_lists = table.set_column(0, "path", pa.array([["A", "B"], ["C"]]))
    assert all_credits(as_lists) == expected
    pandas = pytest.importorskip("pandas")
    assert all_credits(table.to_pandas()) == expected
    assert isinstance(pandas.DataFrame, type)


def test_multi_character_separator() -> None:
    table = pa.table({"path": ["A -> B -> A", "B"], "total_conversions": [1, 1]})
    result = attribute(table, models=["linear"], sep="->")
    assert conversions_by_channel(result, "linear") == pytest.approx({"A": 2 / 3, "B": 4 / 3})


def test_empty_channel_names_are_skipped() -> None:
    table = pa.table({"path": ["A >> B >", "> A"], "total_conversions": [1, 1]})
    result = attribute(table, models=["linear", "markov"])
    assert conversions_by_channel(result, "linear") == pytest.approx({"A": 1.5, "B": 0.5})


def test_channel_names_are_case_sensitive_and_trimmed() -> None:
    table = pa.table({"path": ["  Email  >email", "Email"], "total_conversions": [1, 1]})
    result = attribute(table, models=["first_touch"])
    assert conversions_by_channel(result, "first_touch") == {"Email": 2.0, "email": 0.0}


@pytest.mark.parametrize(
    ("header", "expected"),
    [("a,b;c;d", ";"), ("a\tb", "\t"), ("a|b|c", "|"), ("path", ","), ("a,b", ",")],
)
def test_sniff_delimiter(header: str, expected: str) -> None:
    assert sniff_delimiter(header) == expected


def test_missing_column_names_the_options_and_the_columns() -> None:
    table = pa.table({"journey": ["A"], "total_conversions": [1]})
    with pytest.raises(UsageError, match=r"no column .path.*--path-column.*journey"):
        attribute(table, models=["linear"])
    with pytest.raises(UsageError, match="no column 'v'"):
        attribute(table, models=["linear"], columns=JourneyColumns(path="journey", value="v"))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"total_conversions": [1, -1]}, r"row 2: 'total_conversions' is -1.0"),
        ({"total_conversions": [1, float("nan")]}, r"row 2: 'total_conversions' is nan"),
        ({"total_conversions": [1, 0], "total_conversion_value": [1.0, 3.0]}, r"row 2: .* is 0"),
        ({"total_conversions": ["x", "y"]}, r"must hold numbers"),
    ],
)
def test_bad_counts_are_rejected(values: dict[str, list[object]], message: str) -> None:
    table = pa.table({"path": ["A", "B"], **values})
    with pytest.raises(ValidationFailed, match=message):
        attribute(table, models=["linear"])


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        attribute(tmp_path / "nope.csv", models=["linear"])
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ImportFileError, match="empty file"):
        attribute(empty, models=["linear"])
    broken = tmp_path / "broken.csv"
    broken.write_text("path,total_conversions\nA,one\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="cannot read as CSV"):
        attribute(broken, models=["linear"])
    with pytest.raises(UsageError, match="cannot read journeys from a dict"):
        attribute({"path": ["A"]}, models=["linear"])


def test_nulls_in_counts_read_as_zero() -> None:
    table = pa.table({"path": ["A", "B"], "total_conversions": [1, None], "total_null": [None, 2]})
    loaded = load_journeys(table, models=["markov"])
    assert loaded.totals.journeys == 3.0


def test_without_null_column_a_row_without_conversion_is_one_lost_journey() -> None:
    table = pa.table({"path": ["A", "B", "B"], "total_conversions": [2, 0, 0]})
    loaded = load_journeys(table, models=["markov"])
    assert loaded.totals.journeys == 4.0
    assert list(loaded.paths.nulls) == [0.0, 2.0]


def test_small_batches_give_the_same_result(tmp_path: Path) -> None:
    rows = [
        (f"A > {'B' if i % 3 else 'C'} > A", (float(i % 2), 3.0 * (i % 2), 1.0)) for i in range(50)
    ]
    file = tmp_path / "paths.parquet"
    pq.write_table(journey_table(rows), file, row_group_size=7)
    from smarketing.analytics.attribution.pipeline import attribute_journeys

    whole = attribute(journey_table(rows), models=MODELS)
    small = attribute_journeys(load_journeys(file, models=MODELS, batch_rows=5), models=MODELS)
    for a, b in zip(whole.credits, small.credits, strict=True):
        assert conversions_by_channel(whole, a.model) == pytest.approx(
            conversions_by_channel(small, b.model), rel=1e-12
        )


def test_markov_refuses_journeys_loaded_without_the_non_converting_ones() -> None:
    from smarketing.analytics.attribution import attribute_journeys

    loaded = load_journeys(journey_table({"A": (1.0, 0.0, 3.0)}), models=["linear"])
    assert loaded.converting_only
    with pytest.raises(UsageError, match="Markov model needs the journeys that did not convert"):
        attribute_journeys(loaded, models=["markov"])
