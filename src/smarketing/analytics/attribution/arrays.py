"""Array type aliases, and Arrow <-> numpy moves that stay zero-copy and light.

pyarrow's `Array.to_numpy()` and `pa.array(ndarray)` import pandas when it is installed
(about 0.2 s and 40 MB in a fresh process), so the hot paths read Arrow buffers directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ChannelIdArray = NDArray[np.int32]
BoolArray = NDArray[np.bool_]
CreditPair = tuple[FloatArray, FloatArray]
"""Conversions and value credited (per channel; per replicate or group and channel in 2-D)."""


def as_floats(values: Any) -> FloatArray:
    """`values` as a float64 array (numpy's stubs often lose the dtype of expressions)."""
    return np.asarray(values, dtype=np.float64)


def weighted_count(index: NDArray[Any], weights: Any, size: int) -> FloatArray:
    """Sum of `weights` per value of `index` in 0 .. size-1 (`np.bincount` with weights)."""
    return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)


def grouped_count(
    index: NDArray[Any], weights: FloatArray | None, rows: int, columns: int
) -> FloatArray:
    """`weighted_count` into a rows x columns table (index = row * columns + column)."""
    out = np.bincount(index, weights=weights, minlength=rows * columns)
    return np.asarray(out, dtype=np.float64).reshape(rows, columns)


def validity(array: pa.Array) -> BoolArray:
    """True where the Arrow array holds a value, False where it is null."""
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=np.bool_)
    bitmap = array.buffers()[0]
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + n].astype(np.bool_)


def float_values(array: pa.Array) -> tuple[FloatArray, BoolArray]:
    """The values as float64 (casting in Arrow) and which of them are present (not null)."""
    as_float = pc.cast(array, pa.float64())
    if len(as_float) == 0 or as_float.buffers()[1] is None:
        return np.zeros(len(as_float), dtype=np.float64), np.ones(len(as_float), dtype=np.bool_)
    return _buffer_values(as_float, np.float64), validity(as_float)


def _buffer_values(array: pa.Array, dtype: Any) -> Any:
    """The data buffer of a fixed-width Arrow array as numpy, without a copy."""
    n = len(array)
    data = array.buffers()[1]
    if n == 0 or data is None:
        return np.zeros(n, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=array.offset + n)[array.offset :]


def int_values(array: pa.Array) -> IntArray:
    """The values of an integer array without nulls, as int64."""
    values: IntArray = _buffer_values(pc.cast(array, pa.int64()), np.int64)
    return values


_NATIVE = {pa.int32(): np.int32, pa.int64(): np.int64}


def native_values(column: pa.ChunkedArray) -> IntArray:
    """An integer column without nulls as one numpy array of its own type (32 or 64 bits,
    else int64): no copy when it is one chunk, else one."""
    dtype = _NATIVE.get(column.type)
    if dtype is None:
        return int_values(column.combine_chunks())
    chunks: list[IntArray] = [_buffer_values(chunk, dtype) for chunk in column.chunks]
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)


def bool_values(array: pa.Array, *, null_as: bool) -> BoolArray:
    """The values of a boolean array, with nulls read as `null_as`."""
    n = len(array)
    data = array.buffers()[1]
    if n == 0 or data is None:
        return np.full(n, null_as, dtype=np.bool_)
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
    values = bits[array.offset : array.offset + n].astype(np.bool_)
    if array.null_count:
        values = np.where(validity(array), values, null_as)
    return values


def arrow_mask(mask: BoolArray) -> pa.Array:
    """A boolean Arrow array (for `filter`) from a numpy mask."""
    bitmap = pa.py_buffer(np.packbits(mask, bitorder="little"))
    return pa.Array.from_buffers(pa.bool_(), int(mask.size), [None, bitmap])
