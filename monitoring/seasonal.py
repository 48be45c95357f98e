"""Narrow the reference to the window's calendar months in an earlier year, so summer load is not called drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from monitoring.config import SeasonalSettings
from monitoring.timestamps import as_utc, utc_series


@dataclass(frozen=True)
class SeasonalReference:
    """The reference rows to compare with, and whether they are the seasonal slice or the full set."""

    frame: pd.DataFrame
    seasonal: bool
    months: tuple[str, ...]  # "YYYY-MM" of the rows used; empty when the full reference is used
    note: str


def _months(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Period]:
    """Calendar months touched by [start, end)."""
    last = end - pd.Timedelta(microseconds=1)
    naive_start, naive_last = start.tz_convert(None), last.tz_convert(None)
    return list(pd.period_range(naive_start.to_period("M"), naive_last.to_period("M"), freq="M"))


def seasonal_reference(
    reference: pd.DataFrame, window_start: datetime, window_end: datetime, settings: SeasonalSettings | None = None
) -> SeasonalReference:
    """Return the reference rows from the window's calendar months one year earlier (or up to `max_years_back`).

    The most recent earlier year whose months the reference covers - rows in every one of those
    months and at least `min_rows` in all - is used. Otherwise the full reference comes back with a
    note saying why; so does a disabled setting.
    """
    settings = settings or SeasonalSettings()
    if not settings.enabled:
        return SeasonalReference(reference, False, (), "seasonal reference disabled: full reference used")
    start, end = pd.Timestamp(as_utc(window_start, "window_start")), pd.Timestamp(as_utc(window_end, "window_end"))
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")
    if settings.time_column not in reference.columns:
        raise ValueError(f"reference has no time column {settings.time_column!r} to pick seasonal rows by")
    stamps = utc_series(reference[settings.time_column], settings.time_column)
    row_month = stamps.dt.tz_convert(None).dt.to_period("M")
    if len(_months(start, end)) >= 12:
        return SeasonalReference(reference, False, (), "window spans a year or more: full reference used")
    tried: list[str] = []
    for years in range(1, settings.max_years_back + 1):
        shift = pd.DateOffset(years=years)
        months = _months(start - shift, end - shift)
        counts = {m: int((row_month == m).sum()) for m in months}
        label = ", ".join(str(m) for m in months)
        if all(counts.values()) and sum(counts.values()) >= settings.min_rows:
            chosen = reference.loc[row_month.isin(months).to_numpy()]
            note = f"seasonal reference: {len(chosen):,} rows from {label} ({years} year(s) before the window)"
            return SeasonalReference(chosen, True, tuple(str(m) for m in months), note)
        empty = [str(m) for m, n in counts.items() if n == 0]
        why = f"no rows in {', '.join(empty)}" if empty else f"{sum(counts.values())} rows < {settings.min_rows}"
        tried.append(f"{label}: {why}")
    note = f"seasonal reference not available ({'; '.join(tried)}): full reference of {len(reference):,} rows used"
    return SeasonalReference(reference, False, (), note)

