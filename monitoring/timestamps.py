"""Normalise the times monitoring compares to timezone-aware UTC, refusing naive ones (they hide offsets)."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd


def as_utc(value: datetime | pd.Timestamp | str, name: str) -> datetime:
    """Return `value` as a UTC datetime; a naive time is an error naming `name`."""
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        raise ValueError(f"{name} is not a time: {value!r}")
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {stamp.isoformat()}")
    utc: datetime = stamp.tz_convert(timezone.utc).to_pydatetime()
    return utc


def utc_series(values: pd.Series, name: str) -> pd.Series:
    """Return a column of times as tz-aware UTC nanoseconds; naive values are taken to be UTC (the log's convention)."""
    try:
        stamps = pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"column {name!r} does not hold times: {exc}") from exc
    utc = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    return utc.dt.as_unit("ns")  # one resolution, so columns read from Parquet (us) and pandas (ns) can be joined
