"""Readings as the JSON objects the scoring API takes: ISO UTC times, whole years as integers, null for unknown."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd

from tasks.features import READING_FIELDS

_KINDS: dict[str, str] = {c.name: c.kind for c in READING_FIELDS}


def _iso(values: pd.Series) -> list[Any]:
    stamps = pd.DatetimeIndex(values)
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    whole = (stamps.nanosecond == 0) & (stamps.microsecond == 0)
    text = stamps.strftime("%Y-%m-%dT%H:%M:%S")
    out: list[Any] = [f"{t}Z" for t in text]
    for i in np.flatnonzero(~whole | stamps.isna()):  # rare: keep sub-second precision; NaT becomes null
        out[i] = None if stamps[i] is pd.NaT else stamps[i].isoformat() + "Z"
    return out


def _column(name: str, values: pd.Series) -> list[Any]:
    """Convert one column to JSON-ready Python values without touching values that are wrong (the API judges them)."""
    kind = _KINDS.get(name)
    if kind == "timestamp" or pd.api.types.is_datetime64_any_dtype(values):
        return _iso(values)
    if pd.api.types.is_float_dtype(values):
        array = values.to_numpy(dtype=float)
        gaps = np.isnan(array)
        if kind == "int":  # a CSV int column with gaps reads as float: send whole numbers as integers
            whole = ~gaps & (np.floor(array) == array)
            out: list[Any] = [int(v) if w else v for v, w in zip(array.tolist(), whole)]
        else:
            out = array.tolist()
        for i in np.flatnonzero(gaps):
            out[i] = None
        return out
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy().tolist()
    out = values.astype(object).tolist()
    return [None if isinstance(v, float) and v != v else v for v in out]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return one dict per row with the frame's columns, as JSON-ready Python values."""
    names = list(frame.columns)
    columns = [_column(name, frame[name]) for name in names]
    return [dict(zip(names, row)) for row in zip(*columns)]


def dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)
