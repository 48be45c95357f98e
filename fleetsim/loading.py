"""Hourly load (p.u. of rating) per unit and ambient temperature per substation."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from fleetsim.assets import Fleet
from fleetsim.period import Period
from fleetsim.streams import Purpose, stream

LOAD_NOISE_PHI = 0.9  # hourly persistence of load deviations (weather, switching)
WEATHER_PHI = float(np.exp(-1.0 / 36.0))  # weather systems persist for a day or two
WEATHER_SD_C = 3.0
SUMMER_PEAK_DAY = 200.0
OVERLOAD_KNEE_PU = 1.1
OVERLOAD_ROOM_PU = 0.25  # warmest day of the year (northern hemisphere)


def _stationary_ar1(shocks: NDArray[np.float64], phi: float) -> NDArray[np.float64]:
    """Turn standard-normal shocks (time on axis 0) into a unit-variance AR(1) that starts in steady state."""
    scaled = shocks * np.sqrt(1.0 - phi**2)
    scaled[0] = shocks[0]
    return np.asarray(lfilter([1.0], [1.0, -phi], scaled, axis=0))


def _bump(hour: NDArray[np.float64], centre: float, width: float) -> NDArray[np.float64]:
    """A daily Gaussian bump, wrapped around midnight."""
    d = np.abs(hour - centre)
    d = np.minimum(d, 24.0 - d)
    return np.asarray(np.exp(-0.5 * (d / width) ** 2))


def daily_shape(period: Period, flatness: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the (hours x units) daily load shape, mean about 1: morning and evening peaks, lower weekends."""
    h = period.hour_of_day.astype(float)
    weekday = 0.70 + 0.20 * _bump(h, 8.5, 1.8) + 0.38 * _bump(h, 18.5, 2.2) + 0.12 * _bump(h, 13.0, 3.0)
    weekend = 0.68 + 0.10 * _bump(h, 10.5, 2.5) + 0.34 * _bump(h, 19.0, 2.2) + 0.08 * _bump(h, 14.0, 3.0)
    shape = np.where(period.weekend, 0.88 * weekend, weekday)
    shape = shape / weekday.mean()
    # Industrial load is flat around the clock and through the week.
    return np.asarray((1.0 - flatness)[np.newaxis, :] * shape[:, np.newaxis] + flatness[np.newaxis, :])


def seasonal_shape(period: Period, winter: NDArray[np.float64], summer: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the (hours x units) seasonal factor: a heating peak in winter, a cooling peak in summer."""
    angle = 2.0 * np.pi * (period.day_of_year - 15.0) / 365.25
    winter_term = np.cos(angle)[:, np.newaxis] * winter[np.newaxis, :]
    # cos(2x) is high both in January and in July: the second (cooling) peak.
    summer_term = np.cos(2.0 * angle)[:, np.newaxis] * summer[np.newaxis, :]
    return np.asarray(1.0 + winter_term + summer_term)


def simulate_load(period: Period, fleet: Fleet, units: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    """Return hourly demand in p.u. (hours x units) before any drift scenario and before `soft_cap`."""
    noise = np.column_stack([stream(seed, Purpose.LOAD, int(i)).standard_normal(period.hours) for i in units])
    sd = fleet.load_noise[units]
    ar = _stationary_ar1(noise, LOAD_NOISE_PHI)
    growth = (1.0 + fleet.load_growth[units][np.newaxis, :]) ** period.years_elapsed[:, np.newaxis]
    load = (
        fleet.base_load_pu[units][np.newaxis, :]
        * growth
        * daily_shape(period, fleet.flatness[units])
        * seasonal_shape(period, fleet.winter_swing[units], fleet.summer_swing[units])
        * np.exp(sd[np.newaxis, :] * ar - 0.5 * sd[np.newaxis, :] ** 2)
    )
    return np.asarray(np.clip(load, 0.02, None))


def soft_cap(load: NDArray[np.float64]) -> NDArray[np.float64]:
    """Bend peaks above 1.1 p.u. towards 1.35 p.u.: operators transfer or shed load before emergency limits."""
    over = np.clip(load - OVERLOAD_KNEE_PU, 0.0, None)
    return np.asarray(load - over + OVERLOAD_ROOM_PU * np.tanh(over / OVERLOAD_ROOM_PU))


def simulate_ambient(period: Period, fleet: Fleet, substations: NDArray[np.int64], seed: int) -> NDArray[np.float64]:
    """Return hourly ambient in degC (hours x substations): seasonal + diurnal + AR(1) weather."""
    doy = period.day_of_year[:, np.newaxis]
    h = period.hour_of_day.astype(float)[:, np.newaxis]
    seasonal = np.cos(2.0 * np.pi * (doy - SUMMER_PEAK_DAY) / 365.25)
    mean = fleet.climate_mean_c[substations][np.newaxis, :]
    amp = fleet.climate_seasonal_c[substations][np.newaxis, :]
    # Clear summer days swing more between night and afternoon than overcast winter days.
    diurnal = fleet.climate_diurnal_c[substations][np.newaxis, :] * (1.0 + 0.3 * seasonal)
    daily = np.cos(2.0 * np.pi * (h - 15.0) / 24.0)
    shocks = np.column_stack(
        [stream(seed, Purpose.AMBIENT, int(s)).standard_normal(period.hours) for s in substations]
    )
    weather = WEATHER_SD_C * _stationary_ar1(shocks, WEATHER_PHI)
    return np.asarray(mean + amp * seasonal + diurnal * daily + weather)
