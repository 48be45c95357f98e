"""Transformer thermal model (IEEE C57.91 clause 7), paper ageing and the Chendong furan relation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

REFERENCE_HOT_SPOT_C = 110.0  # thermally upgraded paper, 65 degC-rise design
NORMAL_INSULATION_LIFE_H = 180_000.0
NEW_PAPER_DP = 1_050.0
END_OF_LIFE_DP = 200.0


@dataclass(frozen=True)
class ThermalParams:
    """Nameplate thermal constants of one cooling class."""

    top_oil_rise_rated_c: float  # top oil over ambient at rated load
    hot_spot_rise_rated_c: float  # hot spot over top oil at rated load
    loss_ratio: float  # load losses at rated current / no-load losses (R)
    oil_exponent: float  # n
    winding_exponent: float  # m
    tau_top_oil_h: float
    tau_winding_h: float


THERMAL_PARAMS: dict[str, ThermalParams] = {
    "ONAN": ThermalParams(55.0, 25.0, 6.5, 0.8, 0.8, 3.5, 10 / 60),
    "ONAF": ThermalParams(55.0, 25.0, 6.5, 0.9, 0.8, 2.5, 7 / 60),
    "OFAF": ThermalParams(50.0, 27.0, 6.5, 1.0, 0.8, 1.5, 7 / 60),
}


def ultimate_top_oil_rise(load_pu: ArrayLike, p: ThermalParams) -> NDArray[np.float64]:
    """Return the steady-state top-oil rise over ambient for a load factor K."""
    k = np.asarray(load_pu, dtype=float)
    r = p.loss_ratio
    return p.top_oil_rise_rated_c * ((k**2 * r + 1.0) / (r + 1.0)) ** p.oil_exponent


def hot_spot_rise(load_pu: ArrayLike, p: ThermalParams) -> NDArray[np.float64]:
    """Return the steady-state hot-spot rise over top oil for a load factor K."""
    k = np.clip(np.asarray(load_pu, dtype=float), 0.0, None)
    return p.hot_spot_rise_rated_c * k ** (2.0 * p.winding_exponent)


def _first_order_lag(target: NDArray[np.float64], tau_h: float, dt_h: float) -> NDArray[np.float64]:
    """Follow `target` (time on axis 0) with an exponential lag, starting in steady state."""
    a = float(np.exp(-dt_h / tau_h))
    zi = (a * target[0])[np.newaxis, ...]
    out, _ = lfilter([1.0 - a], [1.0, -a], target, axis=0, zi=zi)
    return np.asarray(out)


def simulate_temperatures(
    load_pu: NDArray[np.float64],
    ambient_c: NDArray[np.float64],
    p: ThermalParams,
    dt_h: float = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (top oil, hot spot) in degC for load and ambient series (time on axis 0).

    Top-oil rise follows its ultimate value with the oil time constant; the hot-spot gradient
    follows its own with the winding time constant (minutes, so nearly instant at hourly steps).
    """
    top_oil_rise = _first_order_lag(ultimate_top_oil_rise(load_pu, p), p.tau_top_oil_h, dt_h)
    gradient = _first_order_lag(hot_spot_rise(load_pu, p), p.tau_winding_h, dt_h)
    top_oil = ambient_c + top_oil_rise
    return top_oil, top_oil + gradient


def hot_spot_from_top_oil(top_oil_c: ArrayLike, load_pu: ArrayLike, p: ThermalParams) -> NDArray[np.float64]:
    """Estimate the hot spot from measured top oil and load (winding lag neglected at hourly steps)."""
    return np.asarray(top_oil_c, dtype=float) + hot_spot_rise(load_pu, p)


def ageing_acceleration(hot_spot_c: ArrayLike) -> NDArray[np.float64]:
    """Return F_AA for thermally upgraded paper: 1.0 at a 110 degC hot spot."""
    theta = np.asarray(hot_spot_c, dtype=float)
    return np.exp(15_000.0 / (REFERENCE_HOT_SPOT_C + 273.0) - 15_000.0 / (theta + 273.0))


def loss_of_life_pct(aged_hours: ArrayLike) -> NDArray[np.float64]:
    """Return per-cent loss of insulation life for equivalent aged hours (sum of F_AA * dt)."""
    return 100.0 * np.asarray(aged_hours, dtype=float) / NORMAL_INSULATION_LIFE_H


def furan_2fal_ppb_from_dp(dp: ArrayLike) -> NDArray[np.float64]:
    """Return 2-FAL in ppb from paper DP by the Chendong relation log10(ppm) = 1.51 - 0.0035 DP."""
    return 1_000.0 * 10.0 ** (1.51 - 0.0035 * np.asarray(dp, dtype=float))


def dp_from_furan_2fal_ppb(furan_ppb: ArrayLike) -> NDArray[np.float64]:
    """Invert Chendong: estimate paper DP from 2-FAL in ppb (floored at 0.1 ppb)."""
    ppm = np.clip(np.asarray(furan_ppb, dtype=float), 0.1, None) / 1_000.0
    return (1.51 - np.log10(ppm)) / 0.0035
