"""Full-content SHA-256 digests of DataFrames, stable across runs, processes and machines."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

_FORMAT = b"xfmr-digest-v1"


def frame_digest(df: pd.DataFrame) -> str:
    """Return the hex SHA-256 of a frame's column names, dtypes and every value, in row order.

    The index is not hashed. Row order is: sort the frame first (as ingest does) when the same
    content in another order must give the same digest.
    """
    h = hashlib.sha256(_FORMAT)
    _update_frame(h, df)
    return h.hexdigest()


def tables_digest(tables: Mapping[str, pd.DataFrame]) -> str:
    """Return the hex SHA-256 of several named frames, taken in name order."""
    h = hashlib.sha256(_FORMAT + b"-tables")
    _update_int(h, len(tables))
    for name in sorted(tables):
        _update_bytes(h, name.encode("utf-8"))
        _update_frame(h, tables[name])
    return h.hexdigest()


def _update_int(h: Any, value: int) -> None:
    h.update(struct.pack("<q", value))


def _update_bytes(h: Any, data: bytes | memoryview) -> None:
    """Length-prefix every chunk so that neighbouring chunks cannot trade bytes."""
    _update_int(h, len(data))
    h.update(data)


def _update_frame(h: Any, df: pd.DataFrame) -> None:
    _update_int(h, len(df))
    _update_int(h, df.shape[1])
    for position in range(df.shape[1]):
        column = df.iloc[:, position]
        _update_bytes(h, str(df.columns[position]).encode("utf-8"))
        _update_bytes(h, str(column.dtype).encode("utf-8"))
        for chunk in _column_bytes(column):
            _update_bytes(h, chunk)


def _column_bytes(s: pd.Series) -> list[bytes | memoryview]:
    """Canonical little-endian bytes of one column's values (plus a null mask where nulls are not values)."""
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return [_le(pd.DatetimeIndex(s).asi8)]
    if pd.api.types.is_timedelta64_dtype(dtype):
        return [_le(pd.TimedeltaIndex(s).asi8)]
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = s.to_numpy()
        if dtype.kind == "f":
            values = np.where(np.isnan(values), np.nan, values)  # one bit pattern for every NaN
        return [_le(values)]
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "numpy_dtype") and not isinstance(
        dtype, pd.StringDtype
    ):
        mask = s.isna().to_numpy()
        values = s.to_numpy(dtype=dtype.numpy_dtype, na_value=0)
        return [_le(mask.astype(np.uint8)), _le(values)]
    return _text_bytes(s)


def _text_bytes(s: pd.Series) -> list[bytes | memoryview]:
    """Offsets + UTF-8 data + null mask of the values as strings: ("ab", "c") and ("a", "bc") differ."""
    values = s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
    try:
        arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        # Not all strings: tag every value with its type so 1 and "1" stay apart.
        tagged = [None if _is_null(v) else f"{type(v).__qualname__}:{v!r}" for v in values]
        arr = pa.array(tagged, type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    if n == 0:
        return [b"", b"", b""]
    null = arr.is_null().to_numpy(zero_copy_only=False).astype(np.uint8)
    buffers = arr.buffers()
    raw_offsets = np.frombuffer(buffers[1], dtype="<i8")[arr.offset : arr.offset + n + 1]
    start, end = int(raw_offsets[0]), int(raw_offsets[-1])
    offsets = raw_offsets - start
    data = b"" if buffers[2] is None else memoryview(buffers[2])[start:end]
    return [_le(null), _le(offsets), data]


def _is_null(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _le(values: np.ndarray) -> memoryview:
    """Little-endian, contiguous bytes of a numpy array (same on every machine)."""
    arr = np.ascontiguousarray(values)
    if arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and np.little_endian is False):
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return memoryview(arr).cast("B")
