"""Dissolved gases and oil moisture per DGA sample: correlated background, paper ageing and incipient-fault gas."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet
from fleetsim.condition import Condition
from fleetsim.period import Period
from fleetsim.sampling import Samples
from fleetsim.streams import Purpose, stream
from fleetsim.thermal import ThermalHistory
from tasks.schema import GASES

# Background medians of a healthy in-service fleet (facts 1.3: 743 units); C2H2 sits mostly below detection.
BACKGROUND_MEDIAN_PPM = np.array([16.0, 6.0, 14.0, 5.0, 0.2, 250.0, 1_800.0])
UNIT_SD = np.array([0.7, 0.9, 1.0, 0.9, 1.2, 0.5, 0.5])  # spread of persistent unit levels (log)
_C = [  # correlation of persistent unit levels (log): strong hydrocarbon coupling, C2H2 nearly independent
    [1.00, 0.45, 0.35, 0.35, 0.25, 0.30, 0.25],
    [0.45, 1.00, 0.90, 0.88, 0.30, 0.35, 0.30],
    [0.35, 0.90, 1.00, 0.88, 0.30, 0.35, 0.30],
    [0.35, 0.88, 0.88, 1.00, 0.35, 0.30, 0.30],
    [0.25, 0.30, 0.30, 0.35, 1.00, 0.10, 0.10],
    [0.30, 0.35, 0.35, 0.30, 0.10, 1.00, 0.85],
    [0.25, 0.30, 0.30, 0.30, 0.10, 0.85, 1.00],
]
UNIT_CHOL = np.linalg.cholesky(np.array(_C) * np.outer(UNIT_SD, UNIT_SD))
# Free-breathing tanks lose gas to the conservator air (lower IEEE Tab1 limits); old units carry more.
FREE_BREATHING_SHIFT = np.array([-0.5, -0.4, -0.4, -0.15, 0.0, -0.5, -0.3])
PER_DECADE_SHIFT = np.array([0.05, 0.12, 0.15, 0.12, 0.05, 0.10, 0.12])
SAMPLE_SD = 0.15  # sample-to-sample variation of the background (log): temperature, partitioning
MEASUREMENT_SD = 0.05  # lab / monitor repeatability (log)
DETECTION_LIMIT_PPM = np.array([2.0, 0.5, 0.5, 0.5, 0.5, 5.0, 10.0])
SEALED_ACCUMULATION_PER_YEAR = 0.03
# Gas per paper-degradation hour (CO, CO2) and per F_AA hour of overheating (hydrocarbons).
CO_PER_DEGRADATION_HOUR = 0.02  # ~25 ppm/yr for a typical unit, below the IEEE Tab4 rate limits
HYDROCARBONS_PER_AGED_HOUR = np.array([0.0, 0.02, 0.012, 0.008, 0.0, 0.0, 0.0])

# Gas a fault adds at severity 1 (ppm; h2 ch4 c2h6 c2h4 c2h2 co co2). Each profile sits well inside its
# Duval triangle 1 zone and matches the IEC 60599 ratio rules (see facts 1.2) and the labelled medians (1.3).
FAULT_SIGNATURE_PPM = np.array([
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # none
    [40.0, 110.0, 45.0, 12.0, 0.0, 0.0, 0.0],  # T1: CH4, C2H6; Duval %C2H4 ~10
    [45.0, 150.0, 80.0, 90.0, 0.5, 0.0, 0.0],  # T2: C2H4 ~ C2H6; %C2H4 ~37
    [70.0, 150.0, 40.0, 260.0, 4.0, 0.0, 0.0],  # T3: C2H4 dominant; %C2H4 ~63
    [90.0, 12.0, 3.0, 8.0, 30.0, 0.0, 0.0],  # D1: H2 + C2H2 > C2H4; %C2H2 ~60, %C2H4 ~16
    [300.0, 60.0, 12.0, 110.0, 150.0, 0.0, 0.0],  # D2: C2H2 and C2H4 high; %C2H4 ~34, %C2H2 ~47
    [600.0, 55.0, 6.0, 0.2, 0.0, 0.0, 0.0],  # PD: mostly H2, CH4/H2 < 0.1; %CH4 > 99
])
PAPER_FAULT_PPM = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 400.0, 1_200.0])  # CO2/CO ~3: paper inside the fault
MAX_GAS_SEVERITY = 5.0  # gas generation saturates: oil sampled after a fault has run away
_NOISE_COLUMNS = 2 + 2 * len(GASES)  # shared shock, moisture, background scatter per gas, measurement per gas


def _moisture_ppm(water_pct: NDArray[np.float64], top_oil_c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Water in oil at sampling: paper water content, shifted towards the oil as the oil warms."""
    return np.asarray(7.8 * water_pct**1.5 * np.exp(0.035 * (top_oil_c - 50.0)))


def oil_moisture_ppm(condition: Condition, thermal: ThermalHistory, samples: Samples, period: Period,
                     noise: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return moisture in oil for each sample, with lognormal scatter from `noise` (standard normal)."""
    day, hour, col = samples.day_index(period), samples.hour_index(period), samples.column
    return _moisture_ppm(condition.paper_water_pct[day, col], thermal.top_oil_c[hour, col]) * np.exp(0.12 * noise)


def _detect(ppm: NDArray[np.float64]) -> NDArray[np.float64]:
    """Report below-detection readings as 0 and round to 0.1 ppm, as labs do."""
    return np.asarray(np.where(ppm < DETECTION_LIMIT_PPM, 0.0, np.round(ppm, 1)))


def simulate_dga(fleet: Fleet, units: NDArray[np.int64], period: Period, thermal: ThermalHistory,
                 condition: Condition, samples: Samples, seed: int) -> dict[str, NDArray[np.float64]]:
    """Return gas (ppm) and moisture columns, one row per sample in `samples` (block order)."""
    counts = samples.count_per_column(len(units))
    levels, signature, sample_noise = [], [], []
    for c, unit in enumerate(units):
        rng = stream(seed, Purpose.GASES, int(unit))
        levels.append(UNIT_CHOL @ rng.standard_normal(len(GASES)))
        signature.append(rng.lognormal(0.0, 0.25) * rng.lognormal(0.0, 0.1, len(GASES)))
        sample_noise.append(rng.standard_normal((counts[c], _NOISE_COLUMNS)))
    noise = np.vstack(sample_noise)
    age_decades = (period.start_year - fleet.install_year[units] - 35.0) / 10.0
    free = (~fleet.sealed[units]).astype(float) - 0.6  # centred on the fleet mix so medians stay on target
    log_level = (np.log(BACKGROUND_MEDIAN_PPM)[np.newaxis, :] + np.vstack(levels)
                 + free[:, np.newaxis] * FREE_BREATHING_SHIFT + age_decades[:, np.newaxis] * PER_DECADE_SHIFT)

    col, day = samples.column, samples.day_index(period)
    years = day / 365.25
    # Shared shock (partitioning with temperature) plus gas-specific scatter.
    shock = SAMPLE_SD * (0.6 * noise[:, [0]] + 0.8 * noise[:, 2:2 + len(GASES)])
    background = np.exp(log_level[col] + shock)
    background *= (1.0 + SEALED_ACCUMULATION_PER_YEAR * fleet.sealed[units][col] * years)[:, np.newaxis]
    degradation = np.cumsum(thermal.daily_degradation_hours, axis=0)[day, col]
    aged = np.cumsum(thermal.daily_aged_hours, axis=0)[day, col]
    co2_ratio = background[:, 6] / background[:, 5]
    ageing_gas = np.zeros_like(background)
    ageing_gas[:, 5] = CO_PER_DEGRADATION_HOUR * degradation
    ageing_gas[:, 6] = 1.2 * co2_ratio * ageing_gas[:, 5]
    ageing_gas += aged[:, np.newaxis] * HYDROCARBONS_PER_AGED_HOUR

    kind = condition.fault_type[col]
    severity = np.minimum(condition.severity[day, col], MAX_GAS_SEVERITY)[:, np.newaxis]
    paper = condition.paper_involved[col][:, np.newaxis] * PAPER_FAULT_PPM
    fault_gas = severity * (FAULT_SIGNATURE_PPM[kind] + paper) * np.vstack(signature)[col]

    measured = _detect((background + ageing_gas + fault_gas) * np.exp(MEASUREMENT_SD * noise[:, 2 + len(GASES):]))
    out = {g: measured[:, k] for k, g in enumerate(GASES)}
    out["moisture_ppm"] = np.round(oil_moisture_ppm(condition, thermal, samples, period, noise[:, 1]), 1)
    return out
