"""Drift scenarios: how load, ambient and the online H2 sensor change from `scenario_start` on."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet
from fleetsim.period import Period
from fleetsim.streams import Purpose, stream

RAMP_DAYS = 30.0  # physical drifts (load, weather, solar build-out) arrive over weeks, not at one hour
H2_GAIN = 1.3  # sensor_offset: re-calibrated online H2 reads gain * true + offset
H2_OFFSET_PPM = 50.0
PV_CAPACITY_PER_SHARE = 2.5  # PV peak (p.u. of base load) per unit of `share`: summer noons run in reverse


def scenario_details(name: str | None) -> dict[str, object]:
    """Return the numbers behind a scenario, for the manifest."""
    if name == "load_growth":
        return {"load_factor_range": [1.15, 1.25], "ambient_offset_c_range": [2.0, 4.0], "ramp_days": RAMP_DAYS}
    if name == "sensor_offset":
        return {"column": "h2", "applies_to": "online monitors", "gain": H2_GAIN, "offset_ppm": H2_OFFSET_PPM}
    if name == "der_penetration":
        return {"pv_share_of_base_load_range": [0.35, 0.7], "ramp_days": RAMP_DAYS}
    return {}


def _ramp(period: Period) -> NDArray[np.float64]:
    """0 before the drift starts, rising linearly to 1 over RAMP_DAYS."""
    assert period.scenario_hour is not None
    t = np.arange(period.hours, dtype=float) - period.scenario_hour
    return np.asarray(np.clip(t / (24.0 * RAMP_DAYS), 0.0, 1.0))


def drift_ambient(name: str | None, period: Period, ambient: NDArray[np.float64], substations: NDArray[np.int64],
                  seed: int) -> NDArray[np.float64]:
    """Return ambient (hours x substations) with the scenario's warming applied."""
    if name != "load_growth":
        return ambient
    offset = np.array([stream(seed, Purpose.SCENARIO_SITE, int(s)).uniform(2.0, 4.0) for s in substations])
    return ambient + _ramp(period)[:, np.newaxis] * offset[np.newaxis, :]


def _solar(period: Period, days: int, substations: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    """Return PV output per unit of capacity (hours x substations): clear-sky arc times daily cloudiness."""
    doy = period.day_of_year[:, np.newaxis]
    h = period.hour_of_day.astype(float)[:, np.newaxis]
    summer = 0.5 * (1.0 + np.cos(2.0 * np.pi * (doy - 172.0) / 365.25))
    day_length = 8.5 + 7.0 * summer
    x = (h + 0.5 - (12.5 - day_length / 2.0)) / day_length
    arc = np.where((x > 0) & (x < 1), np.sin(np.pi * np.clip(x, 0.0, 1.0)), 0.0) ** 1.3
    clouds = np.column_stack(
        [stream(seed, Purpose.SCENARIO_SITE, int(s)).uniform(0.3, 1.0, days) for s in substations]
    )
    return np.asarray(arc * (0.6 + 0.4 * summer) * np.repeat(clouds, 24, axis=0))


def drift_load(name: str | None, period: Period, fleet: Fleet, load: NDArray[np.float64], units: NDArray[np.int64],
               seed: int) -> NDArray[np.float64]:
    """Return load (hours x units) with the scenario's change of level or shape applied."""
    if name == "load_growth":
        factor = np.array([stream(seed, Purpose.SCENARIO, int(i)).uniform(1.15, 1.25) for i in units])
        return load * (1.0 + _ramp(period)[:, np.newaxis] * (factor - 1.0)[np.newaxis, :])
    if name == "der_penetration":
        share = np.array([stream(seed, Purpose.SCENARIO, int(i)).uniform(0.35, 0.7) for i in units])
        sites, column = np.unique(fleet.substation[units], return_inverse=True)
        pv = _solar(period, period.days, sites, seed)[:, column]
        ramp = _ramp(period)[:, np.newaxis]
        h = period.hour_of_day.astype(float)[:, np.newaxis]
        # Heat pumps and EV charging after sunset sharpen the evening ramp out of the solar dip.
        evening = 1.0 + 0.08 * np.exp(-0.5 * ((h - 19.0) / 1.5) ** 2)
        capacity = PV_CAPACITY_PER_SHARE * share * fleet.base_load_pu[units]
        net = load * (1.0 + ramp * (evening - 1.0)) - ramp * capacity * pv
        # Reverse power flow still loads the windings.
        return np.asarray(np.maximum(np.abs(net), 0.02))
    return load


def drift_online_h2(name: str | None, h2: NDArray[np.float64], online: NDArray[np.bool_],
                    sampled_day: NDArray[np.int64], period: Period) -> NDArray[np.float64]:
    """Return H2 readings with the recalibration bias applied to online-monitor samples after the start."""
    if name != "sensor_offset" or period.scenario_day is None:
        return h2
    hit = online & (sampled_day >= period.scenario_day)
    return np.where(hit, H2_GAIN * h2 + H2_OFFSET_PPM, h2)
