"""The snapshot grid (which units are scored when) and its failure labels: fails within the horizon, or unknown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.snapshots import as_utc_naive

_DATA_TABLES = {"telemetry": "timestamp", "dga": "sampled_at", "oil_tests": "sampled_at"}


@dataclass(frozen=True)
class LabelConfig:
    """How far ahead a snapshot looks for a failure and how often units are snapshotted."""

    horizon_days: int = 90
    snapshot_freq_days: int = 7

    def __post_init__(self) -> None:
        for name in ("horizon_days", "snapshot_freq_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"LabelConfig.{name} must be a whole number of days >= 1, got {value!r}")


def observation_window(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return per transformer_id the first and last time any telemetry, DGA or oil test was recorded."""
    parts = []
    for name, time_column in _DATA_TABLES.items():
        frame = tables.get(name)
        if frame is None or frame.empty:
            continue
        for column in ("transformer_id", time_column):
            if column not in frame.columns:
                raise ValueError(f"table {name!r} lacks column {column!r}")
        stamps = as_utc_naive(frame[time_column])
        parts.append(pd.DataFrame({"transformer_id": frame["transformer_id"].astype(str).to_numpy(), "t": stamps.to_numpy()}))
    if not parts:
        raise ValueError(f"no data to snapshot: tables {sorted(_DATA_TABLES)} are missing or empty")
    times = pd.concat(parts, ignore_index=True).dropna()
    return times.groupby("transformer_id")["t"].agg(first="min", last="max")


def _first_failures(failures: pd.DataFrame) -> pd.Series:
    for column in ("transformer_id", "failed_at"):
        if column not in failures.columns:
            raise ValueError(f"table 'failures' lacks column {column!r}")
    stamps = pd.Series(as_utc_naive(failures["failed_at"]).to_numpy(), index=failures["transformer_id"].astype(str).to_numpy())
    return stamps.dropna().groupby(level=0).min()


def snapshot_grid(
    tables: Mapping[str, pd.DataFrame],
    freq_days: int = 7,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Return (transformer_id, as_of) on one calendar every `freq_days` days.

    A unit (of `assets`, when given) is snapshotted from its first data to its last data, and never
    at or after its first failure. The calendar starts at `start` (default: midnight of the earliest data) so that all
    units share snapshot times. Times are UTC: tz-aware if the data's timestamps are, else naive.
    """
    if freq_days < 1:
        raise ValueError(f"freq_days must be >= 1, got {freq_days}")
    window = observation_window(tables)
    if "assets" in tables:  # a unit without nameplate data cannot be scored
        window = window[window.index.isin(tables["assets"]["transformer_id"].astype(str))]
    failures = tables.get("failures")
    if failures is not None and not failures.empty:
        first_failure = _first_failures(failures).reindex(window.index)
        window["last"] = window["last"].where(first_failure.isna() | (window["last"] < first_failure),
                                              first_failure - pd.Timedelta(seconds=1))
    origin = window["first"].min().normalize() if start is None else as_utc_naive([start]).iloc[0]
    stop = window["last"].max() if end is None else as_utc_naive([end]).iloc[0]
    calendar = pd.date_range(origin, stop, freq=pd.Timedelta(days=freq_days))
    as_of_dtype = "datetime64[ns, UTC]" if _utc_aware(tables) else "datetime64[ns]"
    if len(calendar) == 0:
        return pd.DataFrame({"transformer_id": pd.Series(dtype=object), "as_of": pd.Series(dtype=as_of_dtype)})
    first = window["first"].to_numpy()
    last = window["last"].to_numpy()
    # Each unit covers a contiguous run of calendar points: find it by binary search, then expand.
    lo = np.searchsorted(calendar.to_numpy(), first, side="left")
    hi = np.searchsorted(calendar.to_numpy(), last, side="right")
    count = np.maximum(hi - lo, 0)
    unit = np.repeat(np.arange(len(window)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    grid = pd.DataFrame({
        "transformer_id": window.index.to_numpy()[unit],
        "as_of": calendar.to_numpy()[lo[unit] + offset],
    })
    if _utc_aware(tables):
        grid["as_of"] = grid["as_of"].dt.tz_localize("UTC")
    return grid.sort_values(["as_of", "transformer_id"], kind="stable").reset_index(drop=True)


def _utc_aware(tables: Mapping[str, pd.DataFrame]) -> bool:
    """Tell whether the data's timestamps carry a time zone, so the grid can follow the same convention."""
    return any(
        isinstance(tables[name][column].dtype, pd.DatetimeTZDtype)
        for name, column in _DATA_TABLES.items()
        if name in tables and column in tables[name].columns
    )


def next_failure(grid: pd.DataFrame, failures: pd.DataFrame) -> pd.Series:
    """Return, per grid row, the unit's first failure strictly after `as_of` (NaT if none); keeps the grid's index."""
    for column in ("transformer_id", "as_of"):
        if column not in grid.columns:
            raise ValueError(f"snapshot grid lacks column {column!r}")
    for column in ("transformer_id", "failed_at"):
        if column not in failures.columns:
            raise ValueError(f"table 'failures' lacks column {column!r}")
    left = pd.DataFrame({
        "transformer_id": grid["transformer_id"].astype(str).to_numpy(),
        "as_of": as_utc_naive(grid["as_of"]).to_numpy(),
        "_row": np.arange(len(grid)),
    }).sort_values("as_of", kind="stable")
    right = pd.DataFrame({
        "transformer_id": failures["transformer_id"].astype(str).to_numpy(),
        "failed_at": as_utc_naive(failures["failed_at"]).to_numpy(),
    }).dropna().sort_values("failed_at", kind="stable")
    merged = pd.merge_asof(left, right, left_on="as_of", right_on="failed_at", by="transformer_id",
                           direction="forward", allow_exact_matches=False)
    return pd.Series(merged.set_index("_row").sort_index()["failed_at"].to_numpy(), index=grid.index, name="failed_at")


def label_snapshots(
    grid: pd.DataFrame,
    failures: pd.DataFrame,
    data_end: pd.Timestamp | str | pd.Series,
    horizon_days: int = 90,
) -> pd.Series:
    """Label each snapshot: 1.0 if the unit fails in (as_of, as_of + H], 0.0 if it is known not to, else NaN.

    `data_end` is when observation stops: one time for the whole fleet, or a Series indexed by
    transformer_id (e.g. `observation_window(tables)["last"]`) for units retired early. A snapshot
    whose horizon reaches past it without a failure is right-censored (NaN), not negative.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    as_of = as_utc_naive(grid["as_of"]).to_numpy()
    failed_at = next_failure(grid, failures).to_numpy()
    if isinstance(data_end, pd.Series):
        ends = pd.Series(as_utc_naive(data_end).to_numpy(), index=data_end.index.astype(str))
        end = ends.reindex(grid["transformer_id"].astype(str).to_numpy()).to_numpy()
    else:
        end = np.full(len(grid), as_utc_naive([data_end]).iloc[0].to_datetime64())
    horizon_end = as_of + np.timedelta64(horizon_days, "D")
    positive = ~pd.isna(failed_at) & (failed_at <= horizon_end)
    known_negative = ~positive & ~pd.isna(end) & (horizon_end <= end)
    label = np.where(positive, 1.0, np.where(known_negative, 0.0, np.nan))
    return pd.Series(label, index=grid.index, name="label")
