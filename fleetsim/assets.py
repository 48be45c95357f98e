"""The fleet: nameplate attributes (the assets table) and each unit's hidden operating and condition traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleetsim.config import GeneratorConfig
from fleetsim.streams import Purpose, stream
from tasks.physics import NEW_PAPER_DP, THERMAL_PARAMS, ageing_acceleration, hot_spot_rise, ultimate_top_oil_rise

# Ekenstam kinetics 1/DP(t) = 1/DP0 + k * degradation hours, with k set so normal insulation life
# (180 000 aged hours) takes dry paper from new to end of life (DP 200).
DP_RATE_PER_AGED_HOUR = (1 / 200 - 1 / NEW_PAPER_DP) / 180_000.0
HYDROLYSIS_REFERENCE_C = 55.0
HYDROLYSIS_DOUBLING_C = 15.0


def paper_degradation_rate(hot_spot_c: NDArray[np.float64], ageing_multiplier: NDArray[np.float64],
                           hydrolysis_rate: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return DP-relevant degradation hours per hour: thermal F_AA plus moisture/oxygen hydrolysis.

    F_AA alone (thermally upgraded, dry paper) leaves lightly loaded units nearly unaged for
    decades; real 40-year-old units sit at DP 300-600 because water and oxygen keep degrading
    the paper at moderate temperatures, with a much weaker temperature dependence.
    """
    thermal = ageing_multiplier * ageing_acceleration(hot_spot_c)
    wet = hydrolysis_rate * np.exp2((hot_spot_c - HYDROLYSIS_REFERENCE_C) / HYDROLYSIS_DOUBLING_C)
    return np.asarray(thermal + wet)

# kV class: (share of the fleet, typical MVA ratings)
VOLTAGE_CLASSES: dict[float, tuple[float, tuple[float, ...]]] = {
    33.0: (0.30, (7.5, 10.0, 12.0, 15.0, 20.0, 24.0, 30.0)),
    66.0: (0.22, (20.0, 30.0, 40.0, 60.0)),
    132.0: (0.26, (30.0, 45.0, 60.0, 90.0, 120.0)),
    230.0: (0.13, (100.0, 150.0, 200.0, 250.0, 315.0)),
    400.0: (0.09, (240.0, 500.0, 750.0, 1000.0)),
}
UNITS_PER_SUBSTATION = 2.5
HEAVY_LOAD_SHARE = 0.05


@dataclass(frozen=True)
class Fleet:
    """All units: public nameplate (first block) and latent traits the data only reveals indirectly."""

    ids: NDArray[np.str_]
    substation_names: NDArray[np.str_]
    substation: NDArray[np.int64]  # index into substation_names
    voltage_kv: NDArray[np.float64]
    rated_mva: NDArray[np.float64]
    install_year: NDArray[np.int64]
    cooling: NDArray[np.str_]
    sealed: NDArray[np.bool_]
    # substation climate
    climate_mean_c: NDArray[np.float64]  # per substation
    climate_seasonal_c: NDArray[np.float64]
    climate_diurnal_c: NDArray[np.float64]
    # latent per unit
    online_monitor: NDArray[np.bool_]
    base_load_pu: NDArray[np.float64]
    load_growth: NDArray[np.float64]  # per year
    winter_swing: NDArray[np.float64]
    summer_swing: NDArray[np.float64]
    flatness: NDArray[np.float64]  # industrial share: flattens the daily shape
    load_noise: NDArray[np.float64]
    ageing_multiplier: NDArray[np.float64]  # moisture and oxygen on top of F_AA
    hydrolysis_rate: NDArray[np.float64]  # low-temperature degradation hours per hour at 55 degC
    initial_dp: NDArray[np.float64]
    paper_water_pct: NDArray[np.float64]
    oil_factor: NDArray[np.float64]  # oil oxidation history (reclaims, top-ups)
    onset_weight: NDArray[np.float64]  # relative incipient-fault rate, fleet mean 1
    thermal_prone: NDArray[np.float64]  # multiplier on the odds of a thermal fault type

    @property
    def size(self) -> int:
        return len(self.ids)


def _historic_degradation_rate(base: NDArray[np.float64], cooling: NDArray[np.str_], mean_c: NDArray[np.float64],
                               seasonal_c: NDArray[np.float64], multiplier: NDArray[np.float64],
                               hydrolysis: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mean degradation rate over a typical past year, averaged over load and weather swings (it is convex)."""
    out = np.zeros(len(base))
    swings = [(m, a) for m in (0.7, 0.85, 1.0, 1.15, 1.3) for a in (-1.0, 0.0, 1.0)]
    for name, p in THERMAL_PARAMS.items():
        sel = cooling == name
        k = 0.8 * base[sel]  # the fleet carried less load in the past
        acc = np.zeros(int(sel.sum()))
        for m, a in swings:
            hot = mean_c[sel] + a * seasonal_c[sel] + ultimate_top_oil_rise(k * m, p) + hot_spot_rise(k * m, p)
            acc += paper_degradation_rate(hot, multiplier[sel], hydrolysis[sel])
        out[sel] = acc / len(swings)
    return out


def build_fleet(config: GeneratorConfig) -> Fleet:
    """Draw the fleet: substations of parallel units, an old-heavy age profile, loading and paper state."""
    rng = stream(config.seed, Purpose.FLEET)
    n = config.assets
    n_sub = max(1, int(np.ceil(n / UNITS_PER_SUBSTATION)))
    substation = np.sort(np.concatenate([np.arange(min(n, n_sub)), rng.integers(0, n_sub, n - min(n, n_sub))]))
    width = max(2, len(str(n_sub)))
    substation_names = np.array([f"SS{i + 1:0{width}d}" for i in range(n_sub)])
    id_width = max(4, len(str(n)))
    ids = np.array([f"TX{i + 1:0{id_width}d}" for i in range(n)])

    # Parallel units in one substation share the voltage class and the rating.
    classes = np.array(list(VOLTAGE_CLASSES))
    shares = np.array([VOLTAGE_CLASSES[c][0] for c in classes])
    sub_kv = rng.choice(classes, size=n_sub, p=shares / shares.sum())
    sub_mva = np.array([rng.choice(VOLTAGE_CLASSES[kv][1]) for kv in sub_kv])
    voltage_kv, rated_mva = sub_kv[substation], sub_mva[substation]

    start_year = config.start_timestamp.year
    last_year = min(2020, start_year - 1)
    first_year = min(1965, last_year - 10)
    # Build-out peaked in the 1970s-80s: an old-heavy spread over 1965-2020.
    install_year = (first_year + np.floor((last_year - first_year + 1) * rng.beta(1.3, 2.0, n))).astype(np.int64)
    install_year = np.minimum(install_year, last_year)
    age = (start_year - install_year).astype(float)

    u = rng.random(n)
    cooling = np.where(
        rated_mva < 15, np.where(u < 0.8, "ONAN", "ONAF"),
        np.where(rated_mva <= 60, np.where(u < 0.35, "ONAN", np.where(u < 0.95, "ONAF", "OFAF")),
                 np.where(rated_mva < 200, np.where(u < 0.6, "ONAF", "OFAF"), np.where(u < 0.3, "ONAF", "OFAF"))),
    ).astype(str)
    p_sealed = 0.15 + 0.45 * np.clip((install_year - 1965) / 55.0, 0.0, 1.0)
    sealed = rng.random(n) < p_sealed

    climate_mean_c = rng.uniform(8.0, 16.0, n_sub)
    climate_seasonal_c = rng.uniform(7.0, 12.0, n_sub)
    climate_diurnal_c = rng.uniform(3.0, 6.0, n_sub)

    # Utilities put online monitors on their biggest, most critical units first.
    n_online = int(round(config.online_monitor_share * n))
    weight = voltage_kv / voltage_kv.sum()
    online_monitor = np.zeros(n, dtype=bool)
    if n_online:
        online_monitor[rng.choice(n, size=n_online, replace=False, p=weight)] = True

    base_load = 0.25 + 0.55 * rng.beta(2.2, 2.5, n)
    heavy = rng.random(n) < HEAVY_LOAD_SHARE
    base_load = np.where(heavy, rng.uniform(0.78, 0.92, n), base_load)
    load_growth = rng.uniform(0.0, 0.03, n)
    winter_swing = rng.uniform(0.0, 0.10, n)
    summer_swing = rng.uniform(0.04, 0.12, n)
    flatness = rng.uniform(0.0, 0.6, n)
    load_noise = rng.uniform(0.04, 0.08, n)

    paper_water_pct = np.where(sealed, 1.4, 2.3) * rng.lognormal(0.0, 0.35, n)
    # Oxygen (free breathing) and water both speed up paper degradation.
    oxygen = np.where(sealed, 1.0, 1.4)
    ageing_multiplier = oxygen * (paper_water_pct / 1.5) * rng.lognormal(0.0, 0.2, n)
    hydrolysis_rate = 0.08 * oxygen * paper_water_pct
    mean_c, seasonal_c = climate_mean_c[substation], climate_seasonal_c[substation]
    rate = _historic_degradation_rate(base_load, cooling, mean_c, seasonal_c, ageing_multiplier, hydrolysis_rate)
    # Unknown past (overloads, oil processing, paper quality) scatters the inherited ageing widely.
    aged_history = age * 8_760.0 * rate * rng.lognormal(0.0, 0.35, n)
    initial_dp = 1.0 / (1.0 / NEW_PAPER_DP + DP_RATE_PER_AGED_HOUR * aged_history)
    # Units with paper past end of life have mostly been replaced already.
    initial_dp = np.maximum(initial_dp, rng.uniform(220.0, 320.0, n))
    oil_factor = rng.lognormal(0.0, 0.4, n)

    raw_weight = (600.0 / initial_dp) * np.exp(2.0 * (base_load - 0.5)) * np.where(sealed, 1.0, 1.25)
    onset_weight = raw_weight / raw_weight.mean()
    thermal_prone = 1.0 + 3.0 * np.clip(base_load - 0.6, 0.0, None) + 0.5 * (initial_dp < 400)

    return Fleet(
        ids=ids, substation_names=substation_names, substation=substation, voltage_kv=voltage_kv,
        rated_mva=rated_mva, install_year=install_year, cooling=cooling, sealed=sealed,
        climate_mean_c=climate_mean_c, climate_seasonal_c=climate_seasonal_c, climate_diurnal_c=climate_diurnal_c,
        online_monitor=online_monitor, base_load_pu=base_load, load_growth=load_growth,
        winter_swing=winter_swing, summer_swing=summer_swing, flatness=flatness, load_noise=load_noise,
        ageing_multiplier=ageing_multiplier, hydrolysis_rate=hydrolysis_rate, initial_dp=initial_dp,
        paper_water_pct=paper_water_pct,
        oil_factor=oil_factor, onset_weight=onset_weight, thermal_prone=thermal_prone,
    )


def asset_columns(fleet: Fleet) -> dict[str, NDArray[np.generic]]:
    """Return the public assets table."""
    return {
        "transformer_id": fleet.ids,
        "substation": fleet.substation_names[fleet.substation],
        "voltage_kv": fleet.voltage_kv,
        "rated_mva": fleet.rated_mva,
        "install_year": fleet.install_year,
        "cooling": fleet.cooling,
        "oil_preservation": np.where(fleet.sealed, "sealed", "free_breathing"),
    }
