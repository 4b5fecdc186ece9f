"""Read a paths file (CSV or Parquet) or an in-memory table as a stream of Arrow record batches.

The common layout is channelattribution's: one row per journey or per distinct path, with the
columns `path` (channels joined by `>`), `total_conversions`, `total_conversion_value` and
`total_null`. Only the columns a run needs are read, batch by batch, so memory stays bounded by
one batch plus the encoded paths.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.parquet as pq

from smarketing.errors import ImportFileError, UsageError

DEFAULT_PATH_COLUMN = "path"
DEFAULT_CONVERSIONS_COLUMN = "total_conversions"
DEFAULT_VALUE_COLUMN = "total_conversion_value"
DEFAULT_NULL_COLUMN = "total_null"
BATCH_ROWS = 1 << 17
CSV_BLOCK_BYTES = 1 << 24
CSV_DELIMITER_CANDIDATES = (",", ";", "\t", "|")
PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
PARQUET_MAGIC = b"PAR1"

JourneySource: TypeAlias = str | os.PathLike[str] | Any
"""A file path, a pyarrow Table/RecordBatch, a pandas DataFrame, or any Arrow stream object."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JourneyColumns:
    """Column names in the input. `None` for value/nulls means: the default name if present."""

    path: str = DEFAULT_PATH_COLUMN
    conversions: str = DEFAULT_CONVERSIONS_COLUMN
    value: str | None = None
    nulls: str | None = None
    touch_times: str | None = None
    """Per-touch times, joined by the same separator as the path (days or ISO timestamps)."""
    lead_index: str | None = None
    """0-based index of the touch that created the lead (w_shaped, full_path)."""
    opportunity_index: str | None = None
    """0-based index of the touch that created the opportunity (w_shaped, full_path)."""
    won_index: str | None = None
    """0-based index of the touch that closed the deal (full_path)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedColumns:
    """The columns actually read: optional ones are `None` when absent or not needed."""

    path: str
    conversions: str
    value: str | None
    nulls: str | None
    touch_times: str | None
    lead_index: str | None
    opportunity_index: str | None
    won_index: str | None

    def names(self) -> list[str]:
        ordered = [
            self.path,
            self.conversions,
            self.value,
            self.nulls,
            self.touch_times,
            self.lead_index,
            self.opportunity_index,
            self.won_index,
        ]
        unique: list[str] = []
        for name in ordered:
            if name is not None and name not in unique:
                unique.append(name)
        return unique


@dataclass(frozen=True, slots=True)
class BatchStream:
    """The schema of a source and a way to read chosen columns of it batch by batch."""

    schema: pa.Schema
    read: Callable[[ResolvedColumns], Iterator[pa.RecordBatch]]
    label: str


def resolve_columns(
    schema: pa.Schema,
    columns: JourneyColumns,
    *,
    label: str,
    want_touch_times: bool,
    want_stage_indexes: bool,
) -> ResolvedColumns:
    """Check that the named columns exist; say which are missing and which are there."""
    present = set(schema.names)

    def required(name: str, option: str) -> str:
        if name not in present:
            raise UsageError(
                f"{label}: no column {name!r}",
                hint=f"pass {option} with one of: {', '.join(schema.names) or '(no columns)'}",
            )
        return name

    def optional(name: str | None, default: str | None, option: str) -> str | None:
        if name is None:
            return default if default is not None and default in present else None
        return required(name, option)

    return ResolvedColumns(
        path=required(columns.path, "--path-column"),
        conversions=required(columns.conversions, "--conversions-column"),
        value=optional(columns.value, DEFAULT_VALUE_COLUMN, "--value-column"),
        nulls=optional(columns.nulls, DEFAULT_NULL_COLUMN, "--null-column"),
        touch_times=optional(columns.touch_times, None, "--time-column")
        if want_touch_times
        else None,
        lead_index=optional(columns.lead_index, None, "--lead-index-column")
        if want_stage_indexes
        else None,
        opportunity_index=optional(columns.opportunity_index, None, "--opportunity-index-column")
        if want_stage_indexes
        else None,
        won_index=optional(columns.won_index, None, "--won-index-column")
        if want_stage_indexes
        else None,
    )


def open_batches(
    source: JourneySource, *, delimiter: str | None = None, batch_rows: int = BATCH_ROWS
) -> BatchStream:
    """Open a file (CSV or Parquet, by suffix or magic bytes) or wrap an in-memory table."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"{path}: no such file", hint="check the path of the paths file")
        if _is_parquet(path):
            return _parquet_batches(path, batch_rows)
        return _csv_batches(path, delimiter)
    table = as_arrow_table(source)
    return BatchStream(
        schema=table.schema,
        read=lambda cols: iter(table.select(cols.names()).to_batches(max_chunksize=batch_rows)),
        label="table",
    )


def as_arrow_table(data: Any) -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch, pandas DataFrame or Arrow stream object."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise UsageError(
        f"cannot read journeys from a {type(data).__name__}",
        hint="pass a file path, a pyarrow Table or a pandas DataFrame",
    )


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(4) == PARQUET_MAGIC


def _parquet_batches(path: Path, batch_rows: int) -> BatchStream:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ImportFileError(f"{path}: not a readable Parquet file ({exc})") from None

    def read(columns: ResolvedColumns) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
        yield from parquet.iter_batches(batch_size=batch_rows, columns=columns.names())

    return BatchStream(schema=schema, read=read, label=str(path))


def sniff_delimiter(header_line: str) -> str:
    """The most frequent of `, ; tab |` in the header line; `,` when none occurs."""
    counts = {candidate: header_line.count(candidate) for candidate in CSV_DELIMITER_CANDIDATES}
    best = max(CSV_DELIMITER_CANDIDATES, key=lambda candidate: counts[candidate])
    return best if counts[best] > 0 else ","


def _csv_header(path: Path) -> str:
    with pa.input_stream(str(path), compression="detect") as stream:
        head = stream.read(1 << 16)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    return text.splitlines()[0] if text else ""


def _csv_batches(path: Path, delimiter: str | None) -> BatchStream:
    import pyarrow.csv as pa_csv  # imported here: Parquet runs do not pay for it

    header = _csv_header(path)
    if not header.strip():
        raise ImportFileError(f"{path}: empty file, expected a header line")
    chosen = delimiter if delimiter is not None else sniff_delimiter(header)
    if len(chosen) != 1:
        raise UsageError(f"--delimiter must be one character, got {chosen!r}")
    parse = pa_csv.ParseOptions(delimiter=chosen)
    try:
        with pa_csv.open_csv(
            pa.input_stream(str(path), compression="detect"),
            read_options=pa_csv.ReadOptions(block_size=1 << 16),
            parse_options=parse,
        ) as probe:
            schema = probe.schema
    except pa.ArrowInvalid as exc:
        raise ImportFileError(f"{path}: cannot read as CSV ({exc})") from None

    def read(columns: ResolvedColumns) -> Iterator[pa.RecordBatch]:
        text_columns = {columns.path, columns.touch_times} - {None}
        types: dict[str, pa.DataType] = {
            name: (pa.string() if name in text_columns else pa.float64())
            for name in columns.names()
        }
        convert = pa_csv.ConvertOptions(include_columns=columns.names(), column_types=types)
        try:
            reader = pa_csv.open_csv(
                pa.input_stream(str(path), compression="detect"),
                read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                parse_options=parse,
                convert_options=convert,
            )
            with reader:
                yield from reader
        except pa.ArrowInvalid as exc:
            raise ImportFileError(f"{path}: cannot read as CSV ({exc})") from None

    return BatchStream(schema=schema, read=read, label=str(path))
