"""Dissolved-gas screening: IEEE C57.104-2019 status, Duval triangle 1, IEC 60599 ratios and TDCG."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tasks.schema import GASES, OIL_PRESERVATION

FloatArray = NDArray[np.float64]

AGE_BANDS: tuple[str, ...] = ("unknown", "1-9 y", "10-30 y", ">30 y")
# Row 0: O2/N2 <= 0.2 (sealed / nitrogen blanket); row 1: O2/N2 > 0.2 (free breathing).
# Columns: the AGE_BANDS. Values from transformer-facts.md section 1.1.
TAB1: dict[str, FloatArray] = {
    g: np.array(v, dtype=float)
    for g, v in {
        "h2": ((80, 75, 75, 100), (40, 40, 40, 40)),
        "ch4": ((90, 45, 90, 110), (20, 20, 20, 20)),
        "c2h6": ((90, 30, 90, 150), (15, 15, 15, 15)),
        "c2h4": ((50, 20, 50, 90), (50, 25, 60, 60)),
        "c2h2": ((1, 1, 1, 1), (2, 2, 2, 2)),
        "co": ((900, 900, 900, 900), (500, 500, 500, 500)),
        "co2": ((9000, 5000, 10000, 10000), (5000, 3500, 5500, 5500)),
    }.items()
}
TAB2: dict[str, FloatArray] = {
    g: np.array(v, dtype=float)
    for g, v in {
        "h2": ((200, 200, 200, 200), (90, 90, 90, 90)),
        "ch4": ((150, 100, 150, 200), (50, 60, 60, 30)),
        "c2h6": ((175, 70, 175, 250), (40, 30, 40, 40)),
        "c2h4": ((100, 40, 95, 175), (100, 80, 125, 125)),
        "c2h2": ((2, 2, 2, 4), (7, 7, 7, 7)),
        "co": ((1100, 1100, 1100, 1100), (600, 600, 600, 600)),
        "co2": ((12500, 7000, 14000, 14000), (7000, 5000, 8000, 8000)),
    }.items()
}
# "Any measurable rise" of acetylene: more than a typical lab detection step.
C2H2_MEASURABLE_RISE_PPM = 0.5
# (sealed, free breathing): largest normal jump between consecutive samples (ppm) ...
TAB3: dict[str, FloatArray] = {
    g: np.array(v, dtype=float)
    for g, v in {
        "h2": (40, 25), "ch4": (30, 10), "c2h6": (25, 7), "c2h4": (20, 20),
        "c2h2": (C2H2_MEASURABLE_RISE_PPM, C2H2_MEASURABLE_RISE_PPM), "co": (250, 175), "co2": (2500, 1750),
    }.items()
}
# ... and largest normal rate of increase (ppm/year).
TAB4: dict[str, FloatArray] = {
    g: np.array(v, dtype=float)
    for g, v in {
        "h2": (20, 10), "ch4": (10, 3), "c2h6": (9, 2), "c2h4": (7, 5),
        "c2h2": (C2H2_MEASURABLE_RISE_PPM, C2H2_MEASURABLE_RISE_PPM), "co": (100, 80), "co2": (1000, 800),
    }.items()
}

DUVAL_ZONES: tuple[str, ...] = ("PD", "T1", "T2", "T3", "D1", "D2", "DT")
NO_ZONE = "none"
# Below this three-gas sum the triangle's percentages are noise, so no zone is named.
DUVAL_MIN_TOTAL_PPM = 0.1
COMBUSTIBLE_GASES: tuple[str, ...] = ("h2", "ch4", "c2h6", "c2h4", "c2h2", "co")


def _floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=float)


def age_band(age_years: ArrayLike) -> NDArray[np.int64]:
    """Return the C57.104 age band index (0 unknown, 1: <10 y, 2: 10-30 y, 3: >30 y) for ages in years."""
    age = _floats(age_years)
    band = np.select([age < 10, age <= 30, age > 30], [1, 2, 3], default=0)
    return np.where(np.isnan(age) | (age < 0), 0, band).astype(np.int64)


def low_oxygen(oil_preservation: ArrayLike) -> NDArray[np.bool_]:
    """Return True where the tank is sealed (O2/N2 <= 0.2 tables), False where it breathes freely."""
    values = np.asarray(oil_preservation, dtype=object)
    unknown = sorted({str(v) for v in values if v not in OIL_PRESERVATION})
    if unknown:
        raise ValueError(
            f"column 'oil_preservation' has unknown value(s) {unknown}; expected one of {list(OIL_PRESERVATION)}"
        )
    return values == "sealed"


def _lookup(table: Mapping[str, FloatArray], gas: str, sealed: NDArray[np.bool_], band: NDArray[np.int64] | None) -> FloatArray:
    limits = table[gas]
    row = np.where(sealed, 0, 1)
    return limits[row] if band is None else limits[row, band]


def gas_status(
    gas: str,
    level: ArrayLike,
    jump: ArrayLike | None,
    rate: ArrayLike | None,
    sealed: ArrayLike,
    band: ArrayLike,
) -> FloatArray:
    """Return the C57.104 status (1, 2, 3; NaN without a level) of one gas.

    Status 3: level above Tab2 or rate above Tab4. Status 2: level above Tab1 or jump since the
    previous sample above Tab3. A missing jump or rate raises no flag.
    """
    if gas not in TAB1:
        raise ValueError(f"unknown gas {gas!r}; expected one of {list(GASES)}")
    lvl = _floats(level)
    low_o2 = np.broadcast_to(np.asarray(sealed, dtype=bool), lvl.shape)
    age = np.broadcast_to(np.asarray(band, dtype=np.int64), lvl.shape)
    nan = np.full(lvl.shape, np.nan)
    jmp = nan if jump is None else _floats(jump)
    rte = nan if rate is None else _floats(rate)
    with np.errstate(invalid="ignore"):
        three = (lvl > _lookup(TAB2, gas, low_o2, age)) | (rte > _lookup(TAB4, gas, low_o2, None))
        two = (lvl > _lookup(TAB1, gas, low_o2, age)) | (jmp > _lookup(TAB3, gas, low_o2, None))
    status = np.where(three, 3.0, np.where(two, 2.0, 1.0))
    return np.where(np.isnan(lvl), np.nan, status)


@dataclass(frozen=True)
class C57Status:
    """C57.104 status per gas and overall (the worst gas; NaN when no gas was measured)."""

    per_gas: dict[str, FloatArray]
    overall: FloatArray


def c57104_status(
    levels: Mapping[str, ArrayLike],
    jumps: Mapping[str, ArrayLike] | None,
    rates: Mapping[str, ArrayLike] | None,
    sealed: ArrayLike,
    band: ArrayLike,
) -> C57Status:
    """Screen every gas in `levels` against Tab1-Tab4 and take the worst as the unit's status."""
    per_gas = {
        g: gas_status(
            g,
            levels[g],
            None if jumps is None else jumps.get(g),
            None if rates is None else rates.get(g),
            sealed,
            band,
        )
        for g in levels
    }
    if not per_gas:
        raise ValueError("c57104_status needs at least one gas level")
    stacked = np.vstack([np.atleast_1d(v) for v in per_gas.values()])
    all_nan = np.isnan(stacked).all(axis=0)
    overall = np.where(all_nan, np.nan, np.where(np.isnan(stacked), -np.inf, stacked).max(axis=0))
    return C57Status(per_gas=per_gas, overall=overall.reshape(np.shape(next(iter(per_gas.values())))))


@dataclass(frozen=True)
class DuvalResult:
    """Duval triangle 1 zone and the three gas shares (percent of CH4 + C2H4 + C2H2)."""

    zone: NDArray[np.str_]
    ch4_pct: FloatArray
    c2h4_pct: FloatArray
    c2h2_pct: FloatArray


def duval_triangle_1(
    ch4: ArrayLike, c2h4: ArrayLike, c2h2: ArrayLike, min_total_ppm: float = DUVAL_MIN_TOTAL_PPM
) -> DuvalResult:
    """Place each sample in Duval triangle 1; zone 'none' and NaN shares when the gas sum is tiny or missing."""
    m, e, a = (np.clip(_floats(x), 0.0, None) for x in (ch4, c2h4, c2h2))
    total = m + e + a
    valid = total >= min_total_ppm  # NaN compares False
    safe_total = np.where(valid, total, 1.0)
    pm, pe, pa = (np.where(valid, 100.0 * x / safe_total, np.nan) for x in (m, e, a))
    with np.errstate(invalid="ignore"):
        # First matching rule wins; the order encodes the zone boundaries of facts section 1.2.
        conditions = [
            pm >= 98,
            (pa < 4) & (pe < 20),
            (pa < 4) & (pe < 50),
            (pa < 15) & (pe >= 50),
            (pa >= 13) & (pe < 23),
            (pa >= 13) & ((pe < 40) | (pa >= 29)),
        ]
    zone = np.select(conditions, list(DUVAL_ZONES[:6]), default="DT")
    zone = np.where(valid, zone, NO_ZONE).astype(str)
    return DuvalResult(zone=zone, ch4_pct=pm, c2h4_pct=pe, c2h2_pct=pa)


def safe_ratio(numerator: ArrayLike, denominator: ArrayLike) -> FloatArray:
    """Return numerator / denominator, NaN where the denominator is not positive or either side is missing."""
    num = _floats(numerator)
    den = _floats(denominator)
    ok = den > 0  # NaN compares False
    return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


@dataclass(frozen=True)
class IecRatios:
    """The three IEC 60599 gas ratios."""

    ch4_h2: FloatArray
    c2h2_c2h4: FloatArray
    c2h4_c2h6: FloatArray


def iec_ratios(h2: ArrayLike, ch4: ArrayLike, c2h6: ArrayLike, c2h4: ArrayLike, c2h2: ArrayLike) -> IecRatios:
    """Return CH4/H2, C2H2/C2H4 and C2H4/C2H6 (NaN where the denominator is zero or missing)."""
    return IecRatios(
        ch4_h2=safe_ratio(ch4, h2),
        c2h2_c2h4=safe_ratio(c2h2, c2h4),
        c2h4_c2h6=safe_ratio(c2h4, c2h6),
    )


def tdcg(levels: Mapping[str, ArrayLike]) -> FloatArray:
    """Return total dissolved combustible gas (H2, CH4, C2H6, C2H4, C2H2, CO; ppm), NaN if none was measured."""
    missing = [g for g in COMBUSTIBLE_GASES if g not in levels]
    if missing:
        raise ValueError(f"tdcg needs gas level(s) {', '.join(missing)}")
    stacked = np.vstack([np.atleast_1d(_floats(levels[g])) for g in COMBUSTIBLE_GASES])
    total = np.where(np.isnan(stacked).all(axis=0), np.nan, np.nansum(stacked, axis=0))
    return total.reshape(np.shape(_floats(levels[COMBUSTIBLE_GASES[0]])))
