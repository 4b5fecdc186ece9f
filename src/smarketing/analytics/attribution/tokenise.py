"""Split path strings into channel ids without materialising one string per touch.

For a one-byte ASCII separator (the usual `>`), the separators are found with numpy in the
Arrow data buffer and every touch becomes a zero-copy slice of it (the slice keeps its trailing
separator and surrounding spaces). Dictionary-encoding those slices yields a handful of
distinct spellings per channel, which are cleaned in Python. Other separators go through
pyarrow's `split_pattern`. Both give the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from smarketing.analytics.attribution.arrays import (
    ChannelIdArray,
    IntArray,
    float_values,
    int_values,
)
from smarketing.errors import ValidationFailed

INT32_OFFSET_LIMIT = 2**31 - 1


class ChannelIndex:
    """Channel name to integer id, in order of first appearance."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.names: list[str] = []

    def ids_for(self, names: list[str | None]) -> ChannelIdArray:
        """Ids for distinct cleaned names; empty or missing names map to -1."""
        out = np.full(len(names), -1, dtype=np.int32)
        for i, name in enumerate(names):
            if not name:
                continue
            known = self._ids.get(name)
            if known is None:
                known = len(self.names)
                self._ids[name] = known
                self.names.append(name)
            out[i] = known
        return out


def as_path_strings(column: pa.Array, sep: str) -> pa.Array:
    """The path column as strings (list columns are joined with the separator)."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        return pc.binary_join(pc.cast(column, pa.list_(pa.string())), sep)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    raise ValidationFailed(
        f"the path column must hold text like 'A > B' or lists of channels, found {column.type}",
        hint="check --path-column",
    )


@dataclass(frozen=True, slots=True)
class TokenisedPaths:
    """Touches as ids into `names`, which is local to this call (see `ChannelIndex`)."""

    lengths: IntArray
    """Per path: its number of touches (names that were empty are not counted)."""
    touches: ChannelIdArray
    names: list[str]


def tokenise_paths(column: pa.Array, sep: str) -> TokenisedPaths:
    """Split every path; touches are ids into the returned list of distinct channel names."""
    strings = as_path_strings(column, sep)
    if strings.null_count:
        strings = strings.fill_null("")
    if len(sep) == 1 and sep.isascii() and len(strings) > 0:
        return _tokenise_buffer(strings, sep)
    return _tokenise_split(strings, sep)


def _clean(raw: str | None, sep: str) -> str:
    name = (raw or "").strip()
    if name.endswith(sep):
        name = name[: -len(sep)].strip()
    return name


def _tokenise_buffer(strings: pa.Array, sep: str) -> TokenisedPaths:
    n = len(strings)
    _, offsets_buffer, data_buffer = strings.buffers()
    offset_type = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[
        strings.offset : strings.offset + n + 1
    ].astype(np.int64)
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, dtype=np.uint8)
    )
    begin, end = int(offsets[0]), int(offsets[-1])
    separators = np.flatnonzero(data[begin:end] == ord(sep)) + (begin + 1)
    seps_before = np.searchsorted(separators, offsets + 1)
    tokens_per_path = np.diff(seps_before) + 1
    first_token = np.arange(n, dtype=np.int64) + (seps_before[:-1] - seps_before[0])
    n_tokens = int(tokens_per_path.sum())
    token_starts = np.empty(n_tokens + 1, dtype=np.int64)
    is_first = np.zeros(n_tokens, dtype=np.bool_)
    is_first[first_token] = True
    token_starts[:-1][is_first] = offsets[:-1]
    token_starts[:-1][~is_first] = separators
    token_starts[-1] = end
    if end <= INT32_OFFSET_LIMIT:
        tokens = pa.StringArray.from_buffers(
            n_tokens, pa.py_buffer(token_starts.astype(np.int32)), data_buffer
        )
    else:
        tokens = pa.LargeStringArray.from_buffers(n_tokens, pa.py_buffer(token_starts), data_buffer)
    return _encode(tokens, tokens_per_path, first_token, sep)


def _tokenise_split(strings: pa.Array, sep: str) -> TokenisedPaths:
    lists = pc.split_pattern(strings, pattern=sep)
    lengths, present = float_values(pc.list_value_length(lists))
    tokens_per_path = np.where(present, lengths, 0.0).astype(np.int64)
    first_token = np.zeros(tokens_per_path.size, dtype=np.int64)
    np.cumsum(tokens_per_path[:-1], out=first_token[1:])
    return _encode(pc.list_flatten(lists), tokens_per_path, first_token, sep)


def _encode(
    tokens: pa.Array, tokens_per_path: IntArray, first_token: IntArray, sep: str
) -> TokenisedPaths:
    encoded = pc.dictionary_encode(tokens)
    local = ChannelIndex()
    ids_of_spelling = local.ids_for([_clean(raw, sep) for raw in encoded.dictionary.to_pylist()])
    ids = ids_of_spelling[int_values(encoded.indices)]
    unnamed = np.flatnonzero(ids < 0)
    lengths = tokens_per_path.astype(np.int64)
    if unnamed.size:
        owner = np.searchsorted(first_token, unnamed, side="right") - 1
        lengths = lengths - np.bincount(owner, minlength=lengths.size)
        ids = ids[ids >= 0]
    return TokenisedPaths(lengths=lengths, touches=ids, names=local.names)
