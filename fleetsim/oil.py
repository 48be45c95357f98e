"""Oil-quality lab tests: breakdown voltage, acidity, interfacial tension and 2-FAL furan from paper DP."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet
from fleetsim.condition import Condition
from fleetsim.gases import oil_moisture_ppm
from fleetsim.period import Period
from fleetsim.sampling import Samples
from fleetsim.streams import Purpose, stream
from fleetsim.thermal import ThermalHistory
from tasks.physics import END_OF_LIFE_DP, NEW_PAPER_DP, furan_2fal_ppb_from_dp

FURAN_SCATTER = 0.18  # lognormal sd: about +-20 % lab scatter


def simulate_oil_tests(fleet: Fleet, units: NDArray[np.int64], period: Period, thermal: ThermalHistory,
                       condition: Condition, samples: Samples, seed: int) -> dict[str, NDArray[np.float64]]:
    """Return oil-test columns, one row per sample in `samples` (block order)."""
    counts = samples.count_per_column(len(units))
    noise = np.vstack([stream(seed, Purpose.OIL, int(u)).standard_normal((counts[c], 5)) for c, u in enumerate(units)])
    col, day = samples.column, samples.day_index(period)
    dp = condition.paper_dp[day, col]
    used = np.clip((1.0 / dp - 1.0 / NEW_PAPER_DP) / (1.0 / END_OF_LIFE_DP - 1.0 / NEW_PAPER_DP), 0.0, 1.5)
    # Oxidation products track paper/oil ageing; oxygen from the breather speeds it up.
    oxygen = np.where(fleet.sealed[units][col], 1.0, 1.6)
    acidity = (0.02 + 0.25 * used * oxygen * fleet.oil_factor[units][col]) * np.exp(0.1 * noise[:, 0])
    # Polar ageing products lower the interfacial tension: IFT and acidity move together.
    ift = np.clip(44.0 - 75.0 * acidity + 1.5 * noise[:, 1], 12.0, 50.0)
    moisture = oil_moisture_ppm(condition, thermal, samples, period, noise[:, 2])
    # Water and particles (not modelled) lower the breakdown voltage.
    breakdown = np.clip(72.0 * np.exp(-0.018 * moisture) - 20.0 * acidity + 5.0 * noise[:, 3], 10.0, 95.0)
    furan = furan_2fal_ppb_from_dp(dp) * np.exp(FURAN_SCATTER * noise[:, 4])
    return {
        "breakdown_kv": np.round(breakdown, 1),
        "acidity_mg_koh_g": np.round(acidity, 3),
        "ift_mn_m": np.round(ift, 1),
        "furan_2fal_ppb": np.round(furan, 1),
    }
