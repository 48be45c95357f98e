"""Latent condition: paper DP, incipient faults and their growth, the daily failure hazard and the failures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from fleetsim.assets import DP_RATE_PER_AGED_HOUR, Fleet
from fleetsim.period import NS_PER_DAY, Period
from fleetsim.streams import Purpose, stream
from fleetsim.thermal import ThermalHistory
from tasks.physics import loss_of_life_pct

FAULT_TYPES: tuple[str, ...] = ("none", "T1", "T2", "T3", "D1", "D2", "PD")
FAULT_MODE: dict[str, str] = {
    "T1": "thermal", "T2": "thermal", "T3": "thermal",
    "D1": "low_energy_discharge", "D2": "high_energy_discharge", "PD": "partial_discharge",
}
NO_PRECURSOR = "no_precursor"
THERMAL = np.array([False, True, True, True, False, False, False])
TYPE_ODDS = np.array([0.0, 0.14, 0.18, 0.14, 0.18, 0.16, 0.20])
# e-folding time of gas generation (days): arcing runs away in weeks, PD smoulders for a year or more.
GROWTH_DAYS = np.array([np.inf, 100.0, 75.0, 50.0, 70.0, 35.0, 120.0])
PAPER_INVOLVED = np.array([0.0, 0.6, 0.6, 0.6, 0.3, 0.4, 0.2])
SEVERITY_SCALE = 30.0  # raw exponential growth at which a fault reaches severity 1 (typical at failure)
HAZARD_GAIN = 1.4  # with hazard = gain/tau * severity^2, the median failure comes at severity ~1
PRE_WINDOW_DAYS = 1_095  # faults can start this long before the data and still fail inside it
_DRAWS = 13  # uniforms per unit: two candidate faults (5 each), paper involvement, no-precursor time, time of day


@dataclass(frozen=True)
class Condition:
    """Daily latent state (days x units) and the per-unit fault and failure of one block."""

    paper_dp: NDArray[np.float64]
    paper_water_pct: NDArray[np.float64]
    loss_of_life_pct: NDArray[np.float64]  # IEEE, accrued since the start of the data
    severity: NDArray[np.float64]  # 0 before the fault starts, ~1 when it typically fails
    hazard: NDArray[np.float64]  # probability of failure that day
    fault_type: NDArray[np.int64]  # index into FAULT_TYPES
    fault_onset_day: NDArray[np.float64]  # days since start (negative: before the data), nan if none
    paper_involved: NDArray[np.bool_]
    failure_day: NDArray[np.int64]  # -1 if the unit survives the period
    failure_ns: NDArray[np.int64]  # failure instant, 0 if none
    failure_mode: NDArray[np.str_]  # "" if none

    @property
    def days_in_service(self) -> NDArray[np.int64]:
        """Days of data per unit: through the failure day, or the whole period."""
        return np.where(self.failure_day >= 0, self.failure_day + 1, self.paper_dp.shape[0])


def _first_crossing(cumulative: NDArray[np.float64], threshold: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index of the first row where cumulative >= threshold per column; -1 where it never gets there."""
    hit = cumulative >= threshold[np.newaxis, :]
    first = hit.argmax(axis=0)
    return np.where(hit.any(axis=0), first, -1)


@dataclass(frozen=True)
class _Fault:
    """One candidate incipient fault per unit, on the extended day grid (pre-window days first)."""

    kind: NDArray[np.int64]
    onset: NDArray[np.float64]  # on the extended day grid
    onset_index: NDArray[np.int64]  # -1 if none
    tau: NDArray[np.float64]
    fail_index: NDArray[np.int64]  # on the extended grid, -1 if none


def _draw_fault(u: NDArray[np.float64], onset_cum: NDArray[np.float64], already: NDArray[np.float64],
                type_odds: NDArray[np.float64], hazard_scale: NDArray[np.float64],
                thermal_scale: NDArray[np.float64]) -> _Fault:
    """Draw the next fault after cumulative onset intensity `already` and when it fails, from uniforms u (5 x n)."""
    e_onset, u_type, z_tau, e_fail, u_onset = -np.log1p(-u[0]), u[1], ndtri(u[2]), -np.log1p(-u[3]), u[4]
    onset_index = _first_crossing(onset_cum, already + e_onset)
    cdf = np.cumsum(type_odds, axis=1) / type_odds.sum(axis=1, keepdims=True)
    kind = np.minimum((u_type[:, np.newaxis] > cdf).sum(axis=1), len(FAULT_TYPES) - 1)
    kind = np.where(onset_index >= 0, kind, 0)
    tau = GROWTH_DAYS[kind] * np.exp(0.3 * z_tau)
    onset = np.where(onset_index >= 0, onset_index + u_onset, np.inf)
    rate = _fault_hazard(onset, tau, onset_cum.shape[0], hazard_scale, np.where(THERMAL[kind], thermal_scale, 1.0))
    fail_index = _first_crossing(np.cumsum(rate, axis=0), e_fail)
    return _Fault(kind, onset, onset_index, tau, np.where(onset_index >= 0, fail_index, -1))


def _severity(onset: NDArray[np.float64], tau: NDArray[np.float64], days: int) -> NDArray[np.float64]:
    """Fault severity on each day (days x units), growing exponentially from the onset."""
    started = np.isfinite(onset)
    onset, tau = np.where(started, onset, days + 1.0), np.where(started, tau, 1.0)
    t = np.arange(days, dtype=float)[:, np.newaxis] + 0.5 - onset[np.newaxis, :]
    growth = np.expm1(np.clip(t / tau[np.newaxis, :], 0.0, 30.0))
    return np.asarray(np.where(t > 0, growth, 0.0) / SEVERITY_SCALE)


def _fault_hazard(onset: NDArray[np.float64], tau: NDArray[np.float64], days: int, scale: NDArray[np.float64],
                  thermal_scale: NDArray[np.float64]) -> NDArray[np.float64]:
    """Daily failure intensity from a developing fault, raised by weak paper and (thermal faults) by load."""
    s = _severity(onset, tau, days)
    return np.asarray(HAZARD_GAIN / tau[np.newaxis, :] * s**2 * scale * thermal_scale)


def simulate_condition(fleet: Fleet, units: NDArray[np.int64], period: Period, thermal: ThermalHistory,
                       failure_rate: float, no_precursor_share: float, seed: int) -> Condition:
    """Age the paper, start and grow incipient faults, and draw each unit's failure (if any)."""
    days, n = period.days, len(units)
    dp0 = fleet.initial_dp[units]
    inv_dp = 1.0 / dp0 + DP_RATE_PER_AGED_HOUR * np.cumsum(thermal.daily_degradation_hours, axis=0)
    dp = 1.0 / inv_dp
    water = fleet.paper_water_pct[units] * (1.0 + 0.25 * np.log(dp0 / dp))  # degrading cellulose releases water
    loss_of_life = loss_of_life_pct(np.cumsum(thermal.daily_aged_hours, axis=0))

    # Condition on the extended grid: the days before the data repeat day-0 paper and average load.
    pre = PRE_WINDOW_DAYS
    dp_ext = np.vstack([np.repeat(dp0[np.newaxis, :], pre, axis=0), dp])
    load_ext = np.vstack([np.repeat(thermal.daily_load_mean_pu.mean(axis=0, keepdims=True), pre, axis=0),
                          thermal.daily_load_mean_pu])
    weak_paper = np.clip(450.0 / dp_ext, 0.6, 3.0)
    hot = np.clip(np.exp(2.0 * (load_ext - 0.6)), 0.5, 3.0)
    # Nearly every fault runs to failure within PRE_WINDOW_DAYS, so in steady state failures occur at the
    # onset rate (checked on 4 x 1000-unit fleets: within Poisson noise of the target).
    onset_rate = (1.0 - no_precursor_share) * failure_rate / 365.25
    # Faults start more often in weak, hot, wet units, and more often as the paper degrades.
    intensity = onset_rate * fleet.onset_weight[units][np.newaxis, :] * (dp0[np.newaxis, :] / dp_ext)
    onset_cum = np.cumsum(intensity, axis=0)
    # Hot, heavily loaded units and weak paper tilt the odds towards thermal faults.
    odds = TYPE_ODDS[np.newaxis, :] * np.where(THERMAL[np.newaxis, :], fleet.thermal_prone[units][:, np.newaxis], 1.0)

    # A fixed set of uniforms per unit from its own stream: a unit's fate never depends on its block-mates.
    u = np.array([stream(seed, Purpose.CONDITION, int(i)).random(_DRAWS) for i in units]).T.reshape(_DRAWS, n)
    first = _draw_fault(u[0:5], onset_cum, np.zeros(n), odds, weak_paper, hot)
    # A fault that already failed before the data began belongs to a repaired past: take the next one.
    failed_before = (first.fail_index >= 0) & (first.fail_index < pre)
    already = np.where(first.onset_index >= 0, onset_cum[np.maximum(first.onset_index, 0), np.arange(n)], 0.0)
    second = _draw_fault(u[5:10], onset_cum, already, odds, weak_paper, hot)
    kind = np.where(failed_before, second.kind, first.kind)
    onset = np.where(failed_before, second.onset, first.onset)
    tau = np.where(failed_before, second.tau, first.tau)
    fail_index = np.where(failed_before, second.fail_index, first.fail_index)
    unlucky = (fail_index >= 0) & (fail_index < pre)  # a second fault that also failed before the data
    kind = np.where(unlucky, 0, kind)
    onset = np.where(unlucky, np.inf, onset)
    fail_index = np.where(unlucky, -1, fail_index)

    paper = u[10] < PAPER_INVOLVED[kind]
    severity = _severity(onset - pre, tau, days)
    fault_rate = _fault_hazard(onset, tau, pre + days, weak_paper, np.where(THERMAL[kind], hot, 1.0))[pre:]
    no_precursor_rate = no_precursor_share * failure_rate / 365.25
    no_precursor_day = -np.log1p(-u[11]) / no_precursor_rate if no_precursor_rate > 0 else np.full(n, np.inf)
    fault_day = np.where(fail_index >= 0, fail_index - pre + u[12], np.inf)
    when = np.minimum(fault_day, no_precursor_day)
    fails = when < days
    minutes = np.floor(np.where(fails, when, 0.0) * 1440.0).astype(np.int64)
    failure_day = np.where(fails, minutes // 1440, -1)
    failure_ns = np.where(fails, period.start_ns + minutes * (NS_PER_DAY // 1440), 0)
    modes = np.array([FAULT_MODE.get(FAULT_TYPES[k], NO_PRECURSOR) for k in kind])
    failure_mode = np.where(fails, np.where(fault_day <= no_precursor_day, modes, NO_PRECURSOR), "")

    hazard = -np.expm1(-(fault_rate + no_precursor_rate))
    return Condition(
        paper_dp=dp, paper_water_pct=water, loss_of_life_pct=loss_of_life, severity=severity, hazard=hazard,
        fault_type=kind.astype(np.int64), fault_onset_day=np.where(np.isfinite(onset), onset - pre, np.nan),
        paper_involved=paper & (kind > 0), failure_day=failure_day, failure_ns=failure_ns.astype(np.int64),
        failure_mode=failure_mode.astype(str),
    )

