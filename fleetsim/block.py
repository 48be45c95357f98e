"""Simulate one block of units end to end: weather, load, temperatures, condition, samples and truth rows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet
from fleetsim.condition import FAULT_TYPES, Condition, simulate_condition
from fleetsim.config import GeneratorConfig
from fleetsim.faults import GOOD, Rows
from fleetsim.gases import simulate_dga
from fleetsim.loading import simulate_ambient, simulate_load, soft_cap
from fleetsim.oil import simulate_oil_tests
from fleetsim.period import NS_PER_HOUR, Period
from fleetsim.sampling import Samples, before, dga_samples, oil_samples
from fleetsim.scenarios import drift_ambient, drift_load, drift_online_h2
from fleetsim.streams import Purpose, stream
from fleetsim.thermal import ThermalHistory, simulate_thermal

SENSOR_SD = {"load_pu": 0.005, "ambient_temp_c": 0.2, "top_oil_temp_c": 0.3}  # relative for load, degC otherwise


@dataclass(frozen=True)
class BlockData:
    """Clean (fault-free) rows of one block; `*_bounds` delimit each unit's rows for per-unit processing."""

    units: NDArray[np.int64]
    telemetry: Rows
    telemetry_bounds: NDArray[np.int64]  # len(units) + 1 offsets
    dga: Rows
    dga_bounds: NDArray[np.int64]
    oil: Rows
    oil_bounds: NDArray[np.int64]
    truth: Rows
    condition: Condition


def _bounds(column: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    return np.concatenate([[0], np.cumsum(np.bincount(column, minlength=n))]).astype(np.int64)


def _telemetry(units: NDArray[np.int64], period: Period, load: NDArray[np.float64], ambient: NDArray[np.float64],
               thermal: ThermalHistory, cutoff_ns: NDArray[np.int64], seed: int) -> tuple[Rows, NDArray[np.int64]]:
    """Measured hourly rows up to each unit's failure: SCADA noise and rounding on true values."""
    hours = np.minimum(-(-(cutoff_ns - period.start_ns) // NS_PER_HOUR), period.hours)
    stamps = period.hour_ns()
    parts: dict[str, list[NDArray[np.generic]]] = {k: [] for k in ("unit", "timestamp", *SENSOR_SD, "quality")}
    for c, unit in enumerate(units):
        m = int(hours[c])
        noise = stream(seed, Purpose.SENSOR, int(unit)).standard_normal((period.hours, 3))[:m]
        parts["unit"].append(np.full(m, unit, dtype=np.int64))
        parts["timestamp"].append(stamps[:m])
        parts["load_pu"].append(np.round(load[:m, c] * (1.0 + SENSOR_SD["load_pu"] * noise[:, 0]), 3))
        parts["ambient_temp_c"].append(np.round(ambient[:m, c] + SENSOR_SD["ambient_temp_c"] * noise[:, 1], 1))
        top_oil = thermal.top_oil_c[:m, c] + SENSOR_SD["top_oil_temp_c"] * noise[:, 2]
        parts["top_oil_temp_c"].append(np.round(top_oil, 1))
        parts["quality"].append(np.full(m, GOOD, dtype=np.int8))
    rows = {k: np.concatenate(v) for k, v in parts.items()}
    return rows, np.concatenate([[0], np.cumsum(hours)]).astype(np.int64)


def _sample_rows(units: NDArray[np.int64], samples: Samples, values: dict[str, NDArray[np.float64]]) -> Rows:
    return {"unit": units[samples.column], "sampled_at": samples.sampled_ns, **values}


def _truth(units: NDArray[np.int64], period: Period, thermal: ThermalHistory, condition: Condition) -> Rows:
    """One row per unit and in-service day of the latent state (never a model input)."""
    served = condition.days_in_service
    day = np.concatenate([np.arange(d) for d in served])
    col = np.repeat(np.arange(len(units)), served)
    fault = np.where(condition.severity[day, col] > 0, condition.fault_type[col], 0)
    return {
        "unit": units[col],
        "date": period.day_ns()[day],
        "hazard": condition.hazard[day, col],
        "fault_type": np.array(FAULT_TYPES)[fault],
        "fault_severity": np.round(condition.severity[day, col], 4),
        "paper_dp": np.round(condition.paper_dp[day, col], 1),
        "loss_of_life_pct": np.round(condition.loss_of_life_pct[day, col], 5),
        "hot_spot_max_c": np.round(thermal.daily_hot_spot_max_c[day, col], 1),
        "load_mean_pu": np.round(thermal.daily_load_mean_pu[day, col], 3),
        "failed": day == condition.failure_day[col],
    }


def simulate_block(config: GeneratorConfig, fleet: Fleet, period: Period, units: NDArray[np.int64]) -> BlockData:
    """Simulate the units of one block over the whole period and cut their data at failure."""
    seed, scenario = config.seed, config.scenario
    sites, site_column = np.unique(fleet.substation[units], return_inverse=True)
    ambient_site = drift_ambient(scenario, period, simulate_ambient(period, fleet, sites, seed), sites, seed)
    ambient = ambient_site[:, site_column]
    load = soft_cap(drift_load(scenario, period, fleet, simulate_load(period, fleet, units, seed), units, seed))
    thermal = simulate_thermal(fleet, units, load, ambient)
    condition = simulate_condition(fleet, units, period, thermal, config.failure_rate, config.no_precursor_share,
                                   seed)
    end_ns = period.start_ns + period.days * 24 * NS_PER_HOUR
    cutoff = np.where(condition.failure_day >= 0, condition.failure_ns, end_ns)
    telemetry, telemetry_bounds = _telemetry(units, period, load, ambient, thermal, cutoff, seed)

    dga_at = before(dga_samples(period, units, fleet.online_monitor[units], seed), cutoff)
    gases = simulate_dga(fleet, units, period, thermal, condition, dga_at, seed)
    gases["h2"] = drift_online_h2(scenario, gases["h2"], dga_at.online, dga_at.day_index(period), period)
    oil_at = before(oil_samples(period, units, seed), cutoff)
    oil = simulate_oil_tests(fleet, units, period, thermal, condition, oil_at, seed)
    return BlockData(
        units=units,
        telemetry=telemetry,
        telemetry_bounds=telemetry_bounds,
        dga=_sample_rows(units, dga_at, gases),
        dga_bounds=_bounds(dga_at.column, len(units)),
        oil=_sample_rows(units, oil_at, oil),
        oil_bounds=_bounds(oil_at.column, len(units)),
        truth=_truth(units, period, thermal, condition),
        condition=condition,
    )
