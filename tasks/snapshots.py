"""The reading of a transformer at an instant (READING_FIELDS), assembled point-in-time from the fleet tables."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

from tasks.physics import THERMAL_PARAMS, ageing_acceleration, hot_spot_from_top_oil
from tasks.schema import ASSETS, DGA, GASES, OIL_TESTS, TELEMETRY, Column

TELEMETRY_WINDOW_DAYS = 30
HOT_SPOT_LIMIT_C = 120.0  # IEC 60076-7 normal cyclic loading limit
# C57.104 rates are fitted over samples spanning 4-24 months.
RATE_WINDOW_DAYS = (122, 730)
_DAY = pd.Timedelta(days=1)
_MAX_DAYS = 36_525.0


def _days(name: str, high: float = _MAX_DAYS) -> Column:
    return Column(name, "float", nullable=True, low=0.0, high=high, unit="d")


def _like(source: Column, name: str) -> Column:
    return Column(name, source.kind, nullable=True, low=source.low, high=source.high, unit=source.unit)


_DGA_FIELDS = (*GASES, "moisture_ppm")
_OIL_FIELDS = ("breakdown_kv", "acidity_mg_koh_g", "ift_mn_m", "furan_2fal_ppb")
_ASSET_FIELDS = ("voltage_kv", "rated_mva", "install_year", "cooling", "oil_preservation")

READING_FIELDS: tuple[Column, ...] = (
    Column("transformer_id", "str"),
    Column("as_of", "timestamp"),
    *(ASSETS.column_index[name] for name in _ASSET_FIELDS),
    *(DGA.column_index[name] for name in _DGA_FIELDS),
    _days("dga_age_days"),
    *(_like(DGA.column_index[g], f"prev_{g}") for g in GASES),
    _days("prev_gap_days"),
    *(_like(DGA.column_index[g], f"base_{g}") for g in GASES),
    _days("base_gap_days"),
    Column("load_mean_30d", "float", nullable=True, low=0.0, high=3.0, unit="p.u."),
    Column("load_max_30d", "float", nullable=True, low=0.0, high=3.0, unit="p.u."),
    Column("ambient_mean_30d", "float", nullable=True, low=-60.0, high=60.0, unit="degC"),
    Column("top_oil_max_30d", "float", nullable=True, low=-60.0, high=200.0, unit="degC"),
    Column("hot_spot_max_30d", "float", nullable=True, low=-60.0, high=400.0, unit="degC"),
    Column("faa_mean_30d", "float", nullable=True, low=0.0, high=1e8),
    Column("hours_hot_spot_over_120c_30d", "float", nullable=True, low=0.0, high=24.0 * 31, unit="h"),
    Column("aged_hours_total", "float", nullable=True, low=0.0, high=1e9, unit="h"),
    *(OIL_TESTS.column_index[name] for name in _OIL_FIELDS),
    _days("oil_test_age_days"),
)
READING_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in READING_FIELDS)
_REQUIRED_TABLES = {"assets": ASSETS, "telemetry": TELEMETRY, "dga": DGA, "oil_tests": OIL_TESTS}


def as_utc_naive(values: pd.Series | pd.Index | object) -> pd.Series:
    """Return timestamps as naive UTC datetime64[ns] (naive input is taken to be UTC already)."""
    stamps = pd.to_datetime(pd.Series(values) if not isinstance(values, pd.Series) else values, utc=True)
    return stamps.dt.tz_localize(None).astype("datetime64[ns]")


def _table(tables: Mapping[str, pd.DataFrame], name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if name not in tables:
        raise ValueError(f"build_snapshots needs table {name!r}; got {sorted(tables)}")
    frame = tables[name]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks column(s) {', '.join(missing)}")
    if name == "telemetry":  # millions of rows: converted lazily, after filtering, in _telemetry_fields
        return frame
    out = frame.loc[:, list(columns)].copy()
    out["transformer_id"] = out["transformer_id"].astype(str)
    time_column = _REQUIRED_TABLES[name].time_column
    if time_column is not None:
        out[time_column] = as_utc_naive(out[time_column])
        out = out[out[time_column].notna()]
    return out


def build_snapshots(tables: Mapping[str, pd.DataFrame], grid: pd.DataFrame) -> pd.DataFrame:
    """Return one reading (READING_FIELDS) per grid row, using only data dated at or before its `as_of`.

    `tables` holds assets, telemetry, dga and oil_tests (failures is never read). The result keeps
    the grid's index and row order.
    """
    missing = [c for c in ("transformer_id", "as_of") if c not in grid.columns]
    if missing:
        raise ValueError(f"snapshot grid lacks column(s) {', '.join(missing)}")
    queries = pd.DataFrame(
        {"transformer_id": grid["transformer_id"].astype(str).to_numpy(), "as_of": as_utc_naive(grid["as_of"]).to_numpy()}
    )
    if queries["as_of"].isna().any():
        raise ValueError(f"snapshot grid column 'as_of' has {int(queries['as_of'].isna().sum())} missing value(s)")
    queries["_row"] = np.arange(len(queries))
    assets = _table(tables, "assets", ("transformer_id", *_ASSET_FIELDS))
    dga = _table(tables, "dga", ("transformer_id", "sampled_at", *_DGA_FIELDS))
    oil = _table(tables, "oil_tests", ("transformer_id", "sampled_at", *_OIL_FIELDS))
    telemetry = _table(
        tables, "telemetry", ("transformer_id", "timestamp", "load_pu", "ambient_temp_c", "top_oil_temp_c", "quality")
    )

    out = _asset_fields(assets, queries)
    out = out.join(_dga_fields(dga, queries)).join(_oil_fields(oil, queries))
    out = out.join(_telemetry_fields(telemetry, out["cooling"], queries))
    out.insert(0, "as_of", grid["as_of"].to_numpy())
    out.insert(0, "transformer_id", grid["transformer_id"].to_numpy())
    out.index = grid.index
    return out.loc[:, list(READING_FIELD_NAMES)]


def _asset_fields(assets: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    duplicated = assets["transformer_id"][assets["transformer_id"].duplicated()].unique()
    if len(duplicated):
        raise ValueError(f"table 'assets' has duplicate transformer_id(s) {list(duplicated[:5])}")
    unknown = sorted(set(queries["transformer_id"]) - set(assets["transformer_id"]))
    if unknown:
        raise ValueError(f"snapshot grid has {len(unknown)} transformer_id(s) not in assets, e.g. {unknown[:5]}")
    bad = sorted(set(assets["cooling"].astype(str)) - set(THERMAL_PARAMS))
    if bad:
        raise ValueError(f"table 'assets' column 'cooling' has unknown value(s) {bad}; expected {sorted(THERMAL_PARAMS)}")
    merged = queries[["transformer_id"]].merge(assets, on="transformer_id", how="left")
    return merged.loc[:, list(_ASSET_FIELDS)].set_axis(queries["_row"].to_numpy())


def _latest(events: pd.DataFrame, time_column: str, queries: pd.DataFrame) -> pd.DataFrame:
    """Attach to each query the latest event at or before its as_of (same unit)."""
    left = queries.sort_values("as_of", kind="stable")
    right = events.sort_values(time_column, kind="stable")
    merged = pd.merge_asof(
        left, right, left_on="as_of", right_on=time_column, by="transformer_id",
        direction="backward", allow_exact_matches=True,
    )
    return merged.set_index("_row").sort_index()


def _dga_fields(dga: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    dga = dga.sort_values(["transformer_id", "sampled_at"], kind="stable").reset_index(drop=True)
    previous = dga.groupby("transformer_id", sort=False)[["sampled_at", *GASES]].shift(1)
    for g in GASES:
        dga[f"prev_{g}"] = previous[g]
    dga["prev_gap_days"] = (dga["sampled_at"] - previous["sampled_at"]) / _DAY

    # Baseline for rates: the earliest sample 4-24 months before each sample.
    shortest, longest = (pd.Timedelta(days=d) for d in RATE_WINDOW_DAYS)
    probe = dga[["transformer_id", "sampled_at"]].assign(_from=dga["sampled_at"] - longest, _i=np.arange(len(dga)))
    base = dga[["transformer_id", "sampled_at", *GASES]].rename(columns={"sampled_at": "_base_at", **{g: f"base_{g}" for g in GASES}})
    found = pd.merge_asof(
        probe.sort_values("_from", kind="stable"), base.sort_values("_base_at", kind="stable"),
        left_on="_from", right_on="_base_at", by="transformer_id", direction="forward", allow_exact_matches=True,
    ).set_index("_i").sort_index()
    in_window = (found["_base_at"] <= found["sampled_at"] - shortest).to_numpy()
    for g in GASES:
        dga[f"base_{g}"] = np.where(in_window, found[f"base_{g}"].to_numpy(dtype=float), np.nan)
    dga["base_gap_days"] = np.where(in_window, ((found["sampled_at"] - found["_base_at"]) / _DAY).to_numpy(), np.nan)

    merged = _latest(dga, "sampled_at", queries)
    merged["dga_age_days"] = (merged["as_of"] - merged["sampled_at"]) / _DAY
    return merged.drop(columns=["transformer_id", "as_of", "sampled_at"])


def _oil_fields(oil: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    merged = _latest(oil, "sampled_at", queries)
    merged["oil_test_age_days"] = (merged["as_of"] - merged["sampled_at"]) / _DAY
    return merged.drop(columns=["transformer_id", "as_of", "sampled_at"])


class _Windows(BaseIndexer):  # type: ignore[misc]
    """Precomputed [start, end) row windows for pandas' rolling aggregations."""

    def __init__(self, start: np.ndarray, end: np.ndarray) -> None:
        super().__init__()
        self._start = start.astype(np.int64)
        self._end = end.astype(np.int64)

    def get_window_bounds(self, num_values: int = 0, min_periods: int | None = None, center: bool | None = None,
                          closed: str | None = None, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self._start, self._end


def _seconds(stamps: pd.Series, ceil: bool) -> np.ndarray:
    ns = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    return -((-ns) // 10**9) if ceil else ns // 10**9


def _telemetry_fields(telemetry: pd.DataFrame, cooling: pd.Series, queries: pd.DataFrame) -> pd.DataFrame:
    """Aggregate telemetry over (as_of - 30 d, as_of] and from the start up to as_of, exactly per query.

    Queries are spliced into the unit's time-sorted telemetry as empty rows (after telemetry stamped
    at the same second), so one pass of rolling windows yields every query's aggregates at once.
    """
    units = pd.Index(pd.unique(queries["transformer_id"]))
    unit_cooling = pd.Series(cooling.to_numpy(), index=queries["transformer_id"].to_numpy())
    cooling_by_code = unit_cooling[~unit_cooling.index.duplicated()].reindex(units).to_numpy()
    ids = telemetry["transformer_id"]
    all_codes = units.get_indexer(ids if ids.dtype == object or isinstance(ids.dtype, pd.CategoricalDtype) else ids.astype(str))
    stamps = telemetry["timestamp"]
    keep = (all_codes >= 0) & (telemetry["quality"] != "bad").to_numpy() & stamps.notna().to_numpy()
    t_codes = all_codes[keep]
    load = telemetry["load_pu"].to_numpy(dtype=float)[keep]
    ambient = telemetry["ambient_temp_c"].to_numpy(dtype=float)[keep]
    top_oil = telemetry["top_oil_temp_c"].to_numpy(dtype=float)[keep]
    t_cooling = cooling_by_code[t_codes]
    hot_spot = np.full(len(t_codes), np.nan)
    for name, params in THERMAL_PARAMS.items():
        mask = t_cooling == name
        hot_spot[mask] = hot_spot_from_top_oil(top_oil[mask], load[mask], params)
    faa = ageing_acceleration(hot_spot)
    with np.errstate(invalid="ignore"):
        over = np.where(np.isnan(hot_spot), np.nan, (hot_spot > HOT_SPOT_LIMIT_C).astype(float))

    n_t, n_q = len(t_codes), len(queries)
    # Rows stamped with fractional seconds round up and query times round down: never a leak.
    secs = np.concatenate([_seconds(as_utc_naive(stamps[keep]), ceil=True), _seconds(queries["as_of"], ceil=False)])
    codes = np.concatenate([t_codes, units.get_indexer(queries["transformer_id"])])
    window = TELEMETRY_WINDOW_DAYS * 86_400
    origin = secs.min() if len(secs) else 0
    span = (secs.max() - origin if len(secs) else 0) + window + 1
    key = codes.astype(np.int64) * span + (secs - origin)  # units far apart on one time axis
    order_key = 2 * key + np.concatenate([np.zeros(n_t, np.int64), np.ones(n_q, np.int64)])
    order = np.argsort(order_key, kind="stable")
    start = np.searchsorted(order_key[order], 2 * (key[order] - window) + 1, side="right")
    windows = _Windows(start, np.arange(1, len(order) + 1))
    is_query = order >= n_t
    pad = np.full(n_q, np.nan)

    def rolled(values: np.ndarray, how: str) -> np.ndarray:
        series = pd.Series(np.concatenate([values, pad])[order])
        return np.asarray(getattr(series.rolling(windows, min_periods=1), how)().to_numpy()[is_query])

    # Running totals per unit: global cumulative sums minus the total before the unit's first row.
    sorted_codes = codes[order]
    first_of_unit = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(order) else np.zeros(0, int)
    unit_start = np.repeat(first_of_unit, np.diff(np.r_[first_of_unit, len(order)]))[is_query]
    faa_sorted = np.concatenate([faa, pad])[order]
    aged = np.r_[0.0, np.cumsum(np.nan_to_num(faa_sorted))]
    seen = np.r_[0, np.cumsum(~np.isnan(faa_sorted))]
    position = np.flatnonzero(is_query) + 1
    aged_total = aged[position] - aged[unit_start]
    result = pd.DataFrame(
        {
            "load_mean_30d": rolled(load, "mean"),
            "load_max_30d": rolled(load, "max"),
            "ambient_mean_30d": rolled(ambient, "mean"),
            "top_oil_max_30d": rolled(top_oil, "max"),
            "hot_spot_max_30d": rolled(hot_spot, "max"),
            "faa_mean_30d": rolled(faa, "mean"),
            "hours_hot_spot_over_120c_30d": rolled(over, "sum"),
            "aged_hours_total": np.where(seen[position] - seen[unit_start] > 0, aged_total, np.nan),
        },
        index=queries["_row"].to_numpy()[order[is_query] - n_t],
    )
    return result.sort_index()
