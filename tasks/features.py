"""Model features of a reading: a pure, row-wise function shared by training and the scoring service."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from tasks import condition, dga
from tasks.physics import loss_of_life_pct
from tasks.schema import COOLING_TYPES, GASES
from tasks.snapshots import READING_FIELD_NAMES, READING_FIELDS, build_snapshots

# build_snapshots and READING_FIELDS live in tasks.snapshots; re-exported so callers need one import.
__all__ = ["FEATURE_COLUMNS", "FEATURE_DESCRIPTIONS", "NUMERIC_FIELDS", "READING_FIELDS", "REQUIRED_FIELDS", "build_snapshots",
           "compute_features", "feature_matrix", "features_for_model"]

GAS_NAMES = {
    "h2": "hydrogen H2", "ch4": "methane CH4", "c2h6": "ethane C2H6", "c2h4": "ethylene C2H4",
    "c2h2": "acetylene C2H2", "co": "carbon monoxide CO", "co2": "carbon dioxide CO2",
}
ZONE_NAMES = {
    "PD": "partial discharge", "T1": "thermal < 300 C", "T2": "thermal 300-700 C", "T3": "thermal > 700 C",
    "D1": "low-energy discharge", "D2": "high-energy discharge", "DT": "mixed thermal/electrical",
}
LOG10_RATIO_CLIP = 3.0  # IEC ratios beyond 1000:1 carry no more information
CO2_CO_CLIP = 1_000.0
_YEAR_DAYS = 365.25

# (feature, readable name for operators); the order here is FEATURE_COLUMNS.
_FEATURES: tuple[tuple[str, str], ...] = (
    *((f"{g}_log_ppm", f"{GAS_NAMES[g]} (log ppm)") for g in GASES),
    ("moisture_ppm", "water in oil (ppm)"),
    *((f"{g}_jump_ppm", f"{GAS_NAMES[g]} change since previous sample (ppm)") for g in GASES),
    *((f"{g}_rate_ppm_per_year", f"{GAS_NAMES[g]} rate of increase (ppm/year)") for g in GASES),
    *((f"{g}_c57_status", f"IEEE C57.104 status of {GAS_NAMES[g]}") for g in GASES),
    ("c57_status_overall", "IEEE C57.104 overall status"),
    ("duval_ch4_pct", "Duval triangle 1: CH4 share (%)"),
    ("duval_c2h4_pct", "Duval triangle 1: C2H4 share (%)"),
    ("duval_c2h2_pct", "Duval triangle 1: C2H2 share (%)"),
    *((f"duval_zone_{z}", f"Duval triangle 1 zone {z} ({ZONE_NAMES[z]})") for z in dga.DUVAL_ZONES),
    ("iec_ch4_h2_log10", "IEC ratio CH4/H2 (log10)"),
    ("iec_c2h2_c2h4_log10", "IEC ratio C2H2/C2H4 (log10)"),
    ("iec_c2h4_c2h6_log10", "IEC ratio C2H4/C2H6 (log10)"),
    ("co2_co_ratio", "CO2/CO ratio (paper involvement)"),
    ("tdcg_log", "total dissolved combustible gas (log ppm)"),
    ("hot_spot_max_30d", "hottest winding hot spot, last 30 days (degC)"),
    ("top_oil_max_30d", "hottest top oil, last 30 days (degC)"),
    ("faa_mean_30d", "mean insulation ageing acceleration F_AA, last 30 days"),
    ("hours_hot_spot_over_120c_30d", "hours with hot spot above 120 degC, last 30 days"),
    ("loss_of_life_pct", "insulation loss of life over the telemetry record (%)"),
    ("ambient_mean_30d", "mean ambient temperature, last 30 days (degC)"),
    ("load_mean_30d", "mean load, last 30 days (p.u.)"),
    ("load_max_30d", "peak load, last 30 days (p.u.)"),
    ("breakdown_kv", "oil breakdown voltage (kV)"),
    ("acidity_mg_koh_g", "oil acidity (mg KOH/g)"),
    ("ift_mn_m", "oil interfacial tension (mN/m)"),
    ("furan_2fal_log_ppb", "furan 2-FAL (log ppb)"),
    ("moisture_band", "water in oil, IEC 60422 band (0 good, 2 poor)"),
    ("breakdown_band", "breakdown voltage, IEC 60422 band (0 good, 2 poor)"),
    ("acidity_band", "acidity, IEC 60422 band (0 good, 2 poor)"),
    ("ift_band", "interfacial tension, IEC 60422 band (0 good, 2 poor)"),
    ("oil_quality_index", "oil quality index (0 good, 2 poor)"),
    ("cnaim_oil_score", "CNAIM oil condition score (0 best)"),
    ("paper_dp_estimate", "paper degree of polymerisation, estimated from furan"),
    ("health_index", "health index (100 = best)"),
    ("age_years", "age (years)"),
    ("voltage_kv", "rated voltage (kV)"),
    ("rated_mva", "rated power (MVA)"),
    *((f"cooling_{c}", f"cooling {c}") for c in COOLING_TYPES),
    ("sealed", "sealed tank (low-oxygen oil)"),
    ("dga_age_days", "days since the last gas sample"),
    ("prev_gap_days", "days between the last two gas samples"),
    ("base_gap_days", "days spanned by the gas rate"),
    ("oil_test_age_days", "days since the last oil test"),
)
FEATURE_COLUMNS: tuple[str, ...] = tuple(name for name, _ in _FEATURES)
FEATURE_DESCRIPTIONS: dict[str, str] = dict(_FEATURES)
# Every reading field but the identity must be present as a column (values may be null).
REQUIRED_FIELDS: tuple[str, ...] = tuple(n for n in READING_FIELD_NAMES if n != "transformer_id")

FloatArray = NDArray[np.float64]


def _numeric(readings: pd.DataFrame, name: str) -> FloatArray:
    raw = readings[name]
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    # Object columns (e.g. parsed JSON with nulls): convert, and name what would not convert.
    values = raw.to_numpy(dtype=object)
    out = np.asarray(pd.to_numeric(values, errors="coerce"), dtype=float)
    bad = np.isnan(out) & ~pd.isna(values)
    if bad.any():
        raise ValueError(f"column {name!r} has {int(bad.sum())} non-numeric value(s), e.g. {values[bad][0]!r}")
    return out


# The numeric reading fields, in the column order `feature_matrix` takes them.
NUMERIC_FIELDS: tuple[str, ...] = tuple(n for n in REQUIRED_FIELDS if n not in ("as_of", "cooling", "oil_preservation"))


def _numeric_block(readings: pd.DataFrame) -> FloatArray:
    """Return the NUMERIC_FIELDS as one (rows, fields) float array (one conversion when all are numeric already)."""
    columns = list(NUMERIC_FIELDS)
    if all(readings[name].dtype.kind in "fiu" for name in columns):
        return readings.loc[:, columns].to_numpy(dtype=float, na_value=np.nan)
    return np.column_stack([_numeric(readings, name) for name in columns]) if len(readings) else np.empty((0, len(columns)))


def _checked_categories(values: NDArray[np.object_], name: str, allowed: tuple[str, ...]) -> NDArray[np.object_]:
    unknown = sorted({repr(v) for v in values if v not in allowed})
    if unknown:
        raise ValueError(f"column {name!r} has unknown value(s) {', '.join(unknown)}; expected one of {list(allowed)}")
    return values


def _as_of_year(readings: pd.DataFrame) -> FloatArray:
    raw = readings["as_of"]
    if raw.dtype.kind == "M" and getattr(raw.dtype, "tz", None) is None and not raw.isna().any():
        # Naive UTC datetimes (what the API builds): the year straight from numpy, no parsing.
        return raw.to_numpy().astype("datetime64[Y]").astype(float) + 1970.0
    stamps = pd.to_datetime(raw, utc=True, errors="coerce")
    if stamps.isna().any():
        raise ValueError(f"column 'as_of' has {int(stamps.isna().sum())} missing or unreadable timestamp(s)")
    return stamps.dt.year.to_numpy(dtype=float)


def _log10_ratio(ratio: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.clip(np.log10(ratio), -LOG10_RATIO_CLIP, LOG10_RATIO_CLIP)


# Gas-derived features after the per-gas levels, jumps and rates, in FEATURE_COLUMNS order.
_GAS_BLOCK: tuple[str, ...] = (
    *(f"{g}_c57_status" for g in GASES), "c57_status_overall", "duval_ch4_pct", "duval_c2h4_pct", "duval_c2h2_pct",
    *(f"duval_zone_{z}" for z in dga.DUVAL_ZONES), "iec_ch4_h2_log10", "iec_c2h2_c2h4_log10", "iec_c2h4_c2h6_log10",
    "co2_co_ratio", "tdcg_log",
)


def dga_features(
    levels: Mapping[str, FloatArray],
    sealed: NDArray[np.bool_] | None = None,
    jumps: Mapping[str, FloatArray] | None = None,
    rates: Mapping[str, FloatArray] | None = None,
    band: NDArray[np.int64] | None = None,
) -> dict[str, FloatArray]:
    """Return the gas-derived features that the given gases allow (all of them when every gas is given).

    Used by `compute_features` and by dataset specs that map only some gas columns. Without a known
    oil preservation the sealed-tank (O2/N2 <= 0.2) limits apply; without an age, the unknown-age band.
    """
    n = len(next(iter(levels.values())))
    sealed = np.ones(n, dtype=bool) if sealed is None else sealed
    band = np.zeros(n, dtype=np.int64) if band is None else band
    out: dict[str, FloatArray] = {f"{g}_log_ppm": np.log1p(np.clip(v, 0.0, None)) for g, v in levels.items()}
    status = dga.c57104_status(levels, jumps, rates, sealed, band)
    out.update({f"{g}_c57_status": status.per_gas[g] for g in levels})
    out["c57_status_overall"] = status.overall
    if {"ch4", "c2h4", "c2h2"} <= set(levels):
        duval = dga.duval_triangle_1(levels["ch4"], levels["c2h4"], levels["c2h2"])
        out["duval_ch4_pct"], out["duval_c2h4_pct"], out["duval_c2h2_pct"] = duval.ch4_pct, duval.c2h4_pct, duval.c2h2_pct
        out.update({f"duval_zone_{z}": (duval.zone == z).astype(float) for z in dga.DUVAL_ZONES})
    if {"h2", "ch4", "c2h6", "c2h4", "c2h2"} <= set(levels):
        iec = dga.iec_ratios(levels["h2"], levels["ch4"], levels["c2h6"], levels["c2h4"], levels["c2h2"])
        out["iec_ch4_h2_log10"] = _log10_ratio(iec.ch4_h2)
        out["iec_c2h2_c2h4_log10"] = _log10_ratio(iec.c2h2_c2h4)
        out["iec_c2h4_c2h6_log10"] = _log10_ratio(iec.c2h4_c2h6)
    if {"co", "co2"} <= set(levels):
        out["co2_co_ratio"] = np.clip(dga.safe_ratio(levels["co2"], levels["co"]), 0.0, CO2_CO_CLIP)
    if set(dga.COMBUSTIBLE_GASES) <= set(levels):
        out["tdcg_log"] = np.log1p(np.clip(dga.tdcg(levels), 0.0, None))
    return out


def compute_features(readings: pd.DataFrame) -> pd.DataFrame:
    """Return FEATURE_COLUMNS (float) for each reading, from that row's fields alone."""
    missing = [n for n in REQUIRED_FIELDS if n not in readings.columns]
    if missing:
        raise ValueError(f"readings lack required field(s): {', '.join(missing)}")
    block = feature_matrix(
        _numeric_block(readings), readings["cooling"].to_numpy(dtype=object),
        readings["oil_preservation"].to_numpy(dtype=object), _as_of_year(readings),
    )
    return pd.DataFrame(block, columns=list(FEATURE_COLUMNS), index=readings.index, copy=False)


def feature_matrix(numeric: FloatArray, cooling: NDArray[np.object_], oil_preservation: NDArray[np.object_],
                   as_of_year: FloatArray) -> FloatArray:
    """Return the (rows, FEATURE_COLUMNS) features from the reading fields as arrays: the NUMERIC_FIELDS
    block (NaN = unknown), the two categories and the calendar year of `as_of` (UTC).

    `compute_features` is this on a table; the scoring service calls it on arrays it builds itself.
    """
    if numeric.ndim != 2 or numeric.shape[1] != len(NUMERIC_FIELDS):
        raise ValueError(f"numeric block must be (rows, {len(NUMERIC_FIELDS)}), got {numeric.shape}")
    x = {name: numeric[:, i] for i, name in enumerate(NUMERIC_FIELDS)}
    cooling = _checked_categories(cooling, "cooling", COOLING_TYPES)
    sealed = dga.low_oxygen(oil_preservation)
    age = as_of_year - x["install_year"]
    age = np.where(age >= 0, age, np.nan)
    band = dga.age_band(age)

    levels = {g: x[g] for g in GASES}
    jumps = {g: x[g] - x[f"prev_{g}"] for g in GASES}
    years = np.where(x["base_gap_days"] > 0, x["base_gap_days"], np.nan) / _YEAR_DAYS
    rates = {g: (x[g] - x[f"base_{g}"]) / years for g in GASES}
    gas = dga_features(levels, sealed, jumps, rates, band)
    oil = condition.oil_quality(x["moisture_ppm"], x["breakdown_kv"], x["acidity_mg_koh_g"], x["ift_mn_m"], x["voltage_kv"])
    dp = condition.dp_estimate(x["furan_2fal_ppb"])

    f: dict[str, FloatArray] = {}
    f.update({f"{g}_log_ppm": gas[f"{g}_log_ppm"] for g in GASES})
    f["moisture_ppm"] = x["moisture_ppm"]
    f.update({f"{g}_jump_ppm": jumps[g] for g in GASES})
    f.update({f"{g}_rate_ppm_per_year": rates[g] for g in GASES})
    for name in _GAS_BLOCK:
        f[name] = gas[name]
    for name in ("hot_spot_max_30d", "top_oil_max_30d", "faa_mean_30d", "hours_hot_spot_over_120c_30d"):
        f[name] = x[name]
    f["loss_of_life_pct"] = loss_of_life_pct(x["aged_hours_total"])
    for name in ("ambient_mean_30d", "load_mean_30d", "load_max_30d", "breakdown_kv", "acidity_mg_koh_g", "ift_mn_m"):
        f[name] = x[name]
    f["furan_2fal_log_ppb"] = np.log1p(np.clip(x["furan_2fal_ppb"], 0.0, None))
    f["moisture_band"], f["breakdown_band"], f["acidity_band"], f["ift_band"] = oil.moisture, oil.breakdown, oil.acidity, oil.ift
    f["oil_quality_index"] = oil.index
    f["cnaim_oil_score"] = condition.cnaim_oil_score(x["moisture_ppm"], x["acidity_mg_koh_g"], x["breakdown_kv"], x["voltage_kv"])
    f["paper_dp_estimate"] = dp
    f["health_index"] = condition.health_index(gas["c57_status_overall"], oil.index, dp, age, x["hot_spot_max_30d"])
    f["age_years"] = age
    f["voltage_kv"], f["rated_mva"] = x["voltage_kv"], x["rated_mva"]
    f.update({f"cooling_{c}": (cooling == c).astype(float) for c in COOLING_TYPES})
    f["sealed"] = sealed.astype(float)
    for name in ("dga_age_days", "prev_gap_days", "base_gap_days", "oil_test_age_days"):
        f[name] = x[name]

    if tuple(f) != FEATURE_COLUMNS:  # a guard for whoever edits the list above
        raise RuntimeError(f"feature code and FEATURE_COLUMNS disagree: {sorted(set(f) ^ set(FEATURE_COLUMNS))}")
    block = np.empty((len(numeric), len(f)))
    for i, values in enumerate(f.values()):
        block[:, i] = values
    return block


def features_for_model(inputs: pd.DataFrame, feature_columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """Return the model's features: taken as given when the input carries them all (models trained
    from a dataset spec), else computed from fleet readings."""
    if set(feature_columns) <= set(inputs.columns):
        return inputs
    return compute_features(inputs)
