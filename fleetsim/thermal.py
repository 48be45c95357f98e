"""Oil and winding temperatures from load and ambient (tasks.physics), and their daily ageing totals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet, paper_degradation_rate
from tasks.physics import THERMAL_PARAMS, ageing_acceleration, simulate_temperatures


@dataclass(frozen=True)
class ThermalHistory:
    """Hourly temperatures (hours x units) and daily totals (days x units) for one block of units."""

    top_oil_c: NDArray[np.float64]
    hot_spot_c: NDArray[np.float64]
    daily_hot_spot_max_c: NDArray[np.float64]
    daily_load_mean_pu: NDArray[np.float64]
    daily_top_oil_mean_c: NDArray[np.float64]
    daily_aged_hours: NDArray[np.float64]  # sum of F_AA: IEEE loss of life
    daily_degradation_hours: NDArray[np.float64]  # what drives paper DP (F_AA + moisture/oxygen)


def _daily(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Reshape (hours x units) to (days x 24 x units)."""
    return values.reshape(values.shape[0] // 24, 24, values.shape[1])


def simulate_thermal(fleet: Fleet, units: NDArray[np.int64], load: NDArray[np.float64],
                     ambient: NDArray[np.float64]) -> ThermalHistory:
    """Run the IEEE C57.91 model per cooling class and total the ageing per day."""
    top_oil = np.empty_like(load)
    hot_spot = np.empty_like(load)
    cooling = fleet.cooling[units]
    for name, params in THERMAL_PARAMS.items():
        sel = np.flatnonzero(cooling == name)
        if sel.size:
            top_oil[:, sel], hot_spot[:, sel] = simulate_temperatures(load[:, sel], ambient[:, sel], params)
    degradation = paper_degradation_rate(
        hot_spot, fleet.ageing_multiplier[units][np.newaxis, :], fleet.hydrolysis_rate[units][np.newaxis, :]
    )
    return ThermalHistory(
        top_oil_c=top_oil,
        hot_spot_c=hot_spot,
        daily_hot_spot_max_c=_daily(hot_spot).max(axis=1),
        daily_load_mean_pu=_daily(load).mean(axis=1),
        daily_top_oil_mean_c=_daily(top_oil).mean(axis=1),
        daily_aged_hours=_daily(ageing_acceleration(hot_spot)).sum(axis=1),
        daily_degradation_hours=_daily(degradation).sum(axis=1),
    )
