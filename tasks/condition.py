"""Asset condition: oil-quality scores (IEC 60422 bands, CNAIM), paper DP from furans, and the health index."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tasks.physics import END_OF_LIFE_DP, NEW_PAPER_DP, dp_from_furan_2fal_ppb

FloatArray = NDArray[np.float64]

# IEC 60422-style bands; 0 = good, 1 = fair, 2 = poor (NaN = not tested).
OIL_BANDS: tuple[str, ...] = ("good", "fair", "poor")
# Voltage classes: <= 72.5 kV, 72.5-170 kV, > 170 kV. Per class: (good limit, poor limit).
_IEC_MOISTURE_PPM = ((20.0, 30.0), (15.0, 20.0), (10.0, 15.0))  # good below, poor above
_IEC_BREAKDOWN_KV = ((40.0, 30.0), (50.0, 40.0), (60.0, 50.0))  # good above, poor below
_IEC_ACIDITY = ((0.10, 0.20), (0.10, 0.15), (0.10, 0.15))  # good below, poor above
_IEC_IFT_MN_M = ((28.0, 22.0), (28.0, 22.0), (30.0, 24.0))  # good above, poor below

# CNAIM condition-state edges (upper-inclusive) and scores; rows: <= 66 kV, > 66 kV (132 kV table).
_CNAIM_MOISTURE = (((15.0, 30.0, 40.0, 50.0), (15.0, 20.0, 30.0, 40.0)), (0, 2, 4, 8, 10))
_CNAIM_ACIDITY = (((0.10, 0.15, 0.30, 0.40), (0.05, 0.10, 0.20, 0.30)), (0, 2, 4, 8, 10))
_CNAIM_BREAKDOWN = (((30.0, 40.0, 50.0), (40.0, 50.0, 60.0)), (10, 4, 2, 0))
CNAIM_WEIGHTS = {"moisture": 80.0, "acidity": 125.0, "breakdown": 80.0}

DP_RANGE = (100.0, 1_200.0)  # plausible paper DP; Chendong is unreliable outside it

HEALTH_BANDS: tuple[tuple[float, str], ...] = (
    (85.0, "very good"),
    (70.0, "good"),
    (50.0, "fair"),
    (30.0, "poor"),
    (0.0, "very poor"),
)
NORMAL_EXPECTED_LIFE_Y = 60.0  # CNAIM normal expected life of a transformer
HOT_SPOT_RATING_C = (110.0, 140.0)  # hot spot at or below: no penalty; at or above: full penalty


def _floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=float)


def iec_voltage_class(voltage_kv: ArrayLike) -> NDArray[np.int64]:
    """Return the IEC 60422 voltage class index: 0 (<= 72.5 kV), 1 (<= 170 kV), 2 (> 170 kV)."""
    v = _floats(voltage_kv)
    return np.select([v > 170.0, v > 72.5], [2, 1], default=0).astype(np.int64)


def _band(value: ArrayLike, voltage_kv: ArrayLike, limits: tuple[tuple[float, float], ...], higher_is_better: bool) -> FloatArray:
    x = _floats(value)
    cls = np.broadcast_to(iec_voltage_class(voltage_kv), x.shape)
    good = np.array([g for g, _ in limits])[cls]
    poor = np.array([p for _, p in limits])[cls]
    with np.errstate(invalid="ignore"):
        if higher_is_better:
            band = np.where(x > good, 0.0, np.where(x < poor, 2.0, 1.0))
        else:
            band = np.where(x < good, 0.0, np.where(x > poor, 2.0, 1.0))
    return np.where(np.isnan(x), np.nan, band)


def moisture_band(moisture_ppm: ArrayLike, voltage_kv: ArrayLike) -> FloatArray:
    """Return the IEC 60422-style band of water in oil (0 good, 1 fair, 2 poor)."""
    return _band(moisture_ppm, voltage_kv, _IEC_MOISTURE_PPM, higher_is_better=False)


def breakdown_band(breakdown_kv: ArrayLike, voltage_kv: ArrayLike) -> FloatArray:
    """Return the IEC 60422-style band of breakdown voltage (0 good, 1 fair, 2 poor)."""
    return _band(breakdown_kv, voltage_kv, _IEC_BREAKDOWN_KV, higher_is_better=True)


def acidity_band(acidity_mg_koh_g: ArrayLike, voltage_kv: ArrayLike) -> FloatArray:
    """Return the IEC 60422-style band of acidity (0 good, 1 fair, 2 poor)."""
    return _band(acidity_mg_koh_g, voltage_kv, _IEC_ACIDITY, higher_is_better=False)


def ift_band(ift_mn_m: ArrayLike, voltage_kv: ArrayLike) -> FloatArray:
    """Return the IEC 60422-style band of interfacial tension (0 good, 1 fair, 2 poor)."""
    return _band(ift_mn_m, voltage_kv, _IEC_IFT_MN_M, higher_is_better=True)


def _nanmean_rows(*columns: FloatArray) -> FloatArray:
    stacked = np.vstack([np.atleast_1d(c) for c in columns])
    count = (~np.isnan(stacked)).sum(axis=0)
    total = np.nansum(stacked, axis=0)
    out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out.reshape(np.shape(columns[0]))


@dataclass(frozen=True)
class OilQuality:
    """IEC 60422-style bands per oil test and their mean (the oil-quality index, 0 best .. 2 worst)."""

    moisture: FloatArray
    breakdown: FloatArray
    acidity: FloatArray
    ift: FloatArray
    index: FloatArray


def oil_quality(
    moisture_ppm: ArrayLike, breakdown_kv: ArrayLike, acidity_mg_koh_g: ArrayLike, ift_mn_m: ArrayLike, voltage_kv: ArrayLike
) -> OilQuality:
    """Band each oil test for the unit's voltage class; the index averages the tests that were made."""
    m = moisture_band(moisture_ppm, voltage_kv)
    b = breakdown_band(breakdown_kv, voltage_kv)
    a = acidity_band(acidity_mg_koh_g, voltage_kv)
    i = ift_band(ift_mn_m, voltage_kv)
    return OilQuality(moisture=m, breakdown=b, acidity=a, ift=i, index=_nanmean_rows(m, b, a, i))


def _cnaim_state(value: ArrayLike, voltage_kv: ArrayLike, table: tuple[tuple[tuple[float, ...], ...], tuple[int, ...]]) -> FloatArray:
    x = _floats(value)
    row = np.broadcast_to(_floats(voltage_kv) > 66.0, x.shape)
    edges, scores = table
    idx = np.where(row, np.searchsorted(edges[1], x, side="left"), np.searchsorted(edges[0], x, side="left"))
    return np.where(np.isnan(x), np.nan, np.asarray(scores, dtype=float)[idx])


def cnaim_oil_score(
    moisture_ppm: ArrayLike, acidity_mg_koh_g: ArrayLike, breakdown_kv: ArrayLike, voltage_kv: ArrayLike
) -> FloatArray:
    """Return the CNAIM oil condition score 80*moisture + 125*acidity + 80*breakdown (0 best .. 2850 worst).

    A missing test is left out and the score rescaled to the full weight; NaN when none was made.
    """
    states = {
        "moisture": _cnaim_state(moisture_ppm, voltage_kv, _CNAIM_MOISTURE),
        "acidity": _cnaim_state(acidity_mg_koh_g, voltage_kv, _CNAIM_ACIDITY),
        "breakdown": _cnaim_state(breakdown_kv, voltage_kv, _CNAIM_BREAKDOWN),
    }
    weighted = np.vstack([np.atleast_1d(CNAIM_WEIGHTS[k] * v) for k, v in states.items()])
    present = np.vstack([np.atleast_1d(CNAIM_WEIGHTS[k] * ~np.isnan(v)) for k, v in states.items()])
    weight = present.sum(axis=0)
    score = np.where(weight > 0, np.nansum(weighted, axis=0) * sum(CNAIM_WEIGHTS.values()) / np.maximum(weight, 1), np.nan)
    return score.reshape(np.shape(states["moisture"]))


def dp_estimate(furan_2fal_ppb: ArrayLike) -> FloatArray:
    """Estimate paper DP from 2-FAL by Chendong, clipped to the plausible range (NaN when not measured)."""
    furan = _floats(furan_2fal_ppb)
    dp = np.clip(dp_from_furan_2fal_ppb(np.where(np.isnan(furan), 1.0, furan)), *DP_RANGE)
    return np.where(np.isnan(furan), np.nan, dp)


@dataclass(frozen=True)
class HealthWeights:
    """Weights of the condition ratings in the health index (renormalised over what is known)."""

    dga: float = 0.35
    oil: float = 0.20
    paper: float = 0.30
    age_loading: float = 0.15

    def __post_init__(self) -> None:
        for name in ("dga", "oil", "paper", "age_loading"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"health weight {name!r} must be a finite number >= 0, got {value!r}")
        if self.dga + self.oil + self.paper + self.age_loading <= 0:
            raise ValueError("health weights must not all be zero")


def condition_ratings(
    dga_status: ArrayLike, oil_index: ArrayLike, dp: ArrayLike, age_years: ArrayLike, hot_spot_max_c: ArrayLike
) -> dict[str, FloatArray]:
    """Rate each condition indicator on 0 (worst) .. 1 (best); NaN where it is unknown."""
    status = _floats(dga_status)
    age = _floats(age_years)
    hot = _floats(hot_spot_max_c)
    lo, hi = HOT_SPOT_RATING_C
    age_rating = np.clip(1.0 - age / NORMAL_EXPECTED_LIFE_Y, 0.0, 1.0)
    thermal_rating = np.clip((hi - hot) / (hi - lo), 0.0, 1.0)
    return {
        "dga": np.clip((3.0 - status) / 2.0, 0.0, 1.0),
        "oil": np.clip(1.0 - _floats(oil_index) / 2.0, 0.0, 1.0),
        "paper": np.clip((_floats(dp) - END_OF_LIFE_DP) / (NEW_PAPER_DP - END_OF_LIFE_DP), 0.0, 1.0),
        "age_loading": _nanmean_rows(age_rating, thermal_rating),
    }


def health_index(
    dga_status: ArrayLike,
    oil_index: ArrayLike,
    dp: ArrayLike,
    age_years: ArrayLike,
    hot_spot_max_c: ArrayLike,
    weights: HealthWeights = HealthWeights(),
) -> FloatArray:
    """Return the health index 0..100 (100 = best): the weighted mean of the known condition ratings."""
    ratings = condition_ratings(dga_status, oil_index, dp, age_years, hot_spot_max_c)
    shape = np.broadcast_shapes(*(np.shape(r) for r in ratings.values()))
    total = np.zeros(shape)
    weight = np.zeros(shape)
    for name, rating in ratings.items():
        w = getattr(weights, name)
        known = ~np.isnan(rating)
        total = total + np.where(known, w * np.nan_to_num(rating), 0.0)
        weight = weight + np.where(known, w, 0.0)
    return np.where(weight > 0, 100.0 * total / np.where(weight > 0, weight, 1.0), np.nan)


def health_band(hi: ArrayLike) -> NDArray[np.str_]:
    """Name the condition band of each health index (85-100 very good ... 0-30 very poor; 'unknown' for NaN)."""
    x = _floats(hi)
    with np.errstate(invalid="ignore"):
        band = np.select([x >= lower for lower, _ in HEALTH_BANDS], [name for _, name in HEALTH_BANDS], default="very poor")
    return np.where(np.isnan(x), "unknown", band).astype(str)
