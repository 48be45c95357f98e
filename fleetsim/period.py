"""The simulated period: hourly and daily time axes, calendar features and the drift window."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleetsim.config import GeneratorConfig

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR


@dataclass(frozen=True)
class Period:
    """Time axes shared by every asset; hours are treated as local time (a single-time-zone utility)."""

    start_ns: int  # UTC midnight of the first day, ns since the epoch
    days: int
    hour_of_day: NDArray[np.int64]  # per hour
    weekend: NDArray[np.bool_]  # per hour
    day_of_year: NDArray[np.float64]  # per hour, fractional
    years_elapsed: NDArray[np.float64]  # per hour, since start
    scenario_hour: int | None  # first hour of the drift window
    scenario_day: int | None

    @property
    def start_year(self) -> int:
        return int(np.datetime64(self.start_ns, "ns").astype("datetime64[Y]").astype(np.int64)) + 1970

    @property
    def hours(self) -> int:
        return self.days * 24

    def hour_ns(self) -> NDArray[np.int64]:
        """Return the timestamp (ns, UTC) of every hour."""
        return self.start_ns + np.arange(self.hours, dtype=np.int64) * NS_PER_HOUR

    def day_ns(self) -> NDArray[np.int64]:
        """Return the UTC midnight (ns) of every day."""
        return self.start_ns + np.arange(self.days, dtype=np.int64) * NS_PER_DAY

    def iso(self, ns: int) -> str:
        return str(np.datetime64(ns, "ns").astype("datetime64[s]")) + "Z"


def build_period(config: GeneratorConfig) -> Period:
    """Lay out the hourly axis of the configured period."""
    start = config.start_timestamp
    start_ns = int(start.value)
    days = config.days
    stamps = (start_ns + np.arange(days * 24, dtype=np.int64) * NS_PER_HOUR).astype("datetime64[ns]")
    day_index = stamps.astype("datetime64[D]")
    hour_of_day = (stamps - day_index).astype("timedelta64[h]").astype(np.int64)
    # 1970-01-01 was a Thursday: weekday 0 = Monday.
    weekday = (day_index.astype(np.int64) + 3) % 7
    year_start = stamps.astype("datetime64[Y]").astype("datetime64[D]")
    day_of_year = (day_index - year_start).astype(np.int64) + hour_of_day / 24.0
    scenario = config.scenario_start_timestamp
    scenario_hour = None if scenario is None else int((scenario.value - start_ns) // NS_PER_HOUR)
    return Period(
        start_ns=start_ns,
        days=days,
        hour_of_day=hour_of_day,
        weekend=weekday >= 5,
        day_of_year=day_of_year.astype(np.float64),
        years_elapsed=np.arange(days * 24, dtype=np.float64) / (24 * 365.25),
        scenario_hour=scenario_hour,
        scenario_day=None if scenario_hour is None else scenario_hour // 24,
    )
