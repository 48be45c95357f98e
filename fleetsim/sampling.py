"""When samples are taken: online DGA monitors (daily), lab DGA (every 60-120 days), oil tests (6-12 months)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fleetsim.period import NS_PER_DAY, NS_PER_HOUR, Period
from fleetsim.streams import Purpose, stream

NS_PER_MINUTE = NS_PER_HOUR // 60
LAB_DGA_INTERVAL_DAYS = (60.0, 120.0)
OIL_TEST_INTERVAL_DAYS = (180.0, 365.0)


@dataclass(frozen=True)
class Samples:
    """Sample instants of one block, grouped by unit (units in block order, times ascending within a unit)."""

    column: NDArray[np.int64]  # unit's column in the block
    sampled_ns: NDArray[np.int64]
    online: NDArray[np.bool_]

    def hour_index(self, period: Period) -> NDArray[np.int64]:
        return (self.sampled_ns - period.start_ns) // NS_PER_HOUR

    def day_index(self, period: Period) -> NDArray[np.int64]:
        return (self.sampled_ns - period.start_ns) // NS_PER_DAY

    def count_per_column(self, columns: int) -> NDArray[np.int64]:
        return np.bincount(self.column, minlength=columns)


def _periodic(rng: np.random.Generator, period: Period, interval: tuple[float, float],
              first_max: float) -> NDArray[np.int64]:
    """Return visit instants (ns from start): a random first visit, then jittered intervals, on weekday office hours."""
    lo, hi = interval
    count = int(np.ceil(period.days / lo)) + 1
    gaps = np.concatenate([[rng.uniform(0.0, first_max)], rng.uniform(lo, hi, count)])
    day = np.floor(np.cumsum(gaps)).astype(np.int64)
    minute = rng.integers(8 * 60, 16 * 60, size=day.size)
    # Field crews do not sample at weekends: Saturday and Sunday visits move to Monday.
    weekday = (period.start_ns // NS_PER_DAY + day + 3) % 7
    day = day + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
    keep = day < period.days
    return np.asarray(day[keep] * NS_PER_DAY + minute[keep] * NS_PER_MINUTE)


def dga_samples(period: Period, units: NDArray[np.int64], online: NDArray[np.bool_], seed: int) -> Samples:
    """Schedule DGA for the whole period: daily at a fixed time on monitored units, periodic lab samples otherwise."""
    columns, stamps, flags = [], [], []
    for c, unit in enumerate(units):
        rng = stream(seed, Purpose.DGA_SAMPLING, int(unit))
        clock = int(rng.integers(0, 24 * 60))  # the monitor's fixed daily measuring time
        lab = _periodic(rng, period, LAB_DGA_INTERVAL_DAYS, 90.0)
        if online[c]:
            ns = np.arange(period.days, dtype=np.int64) * NS_PER_DAY + clock * NS_PER_MINUTE
        else:
            ns = lab
        columns.append(np.full(ns.size, c, dtype=np.int64))
        stamps.append(ns)
        flags.append(np.full(ns.size, bool(online[c])))
    return Samples(np.concatenate(columns), period.start_ns + np.concatenate(stamps), np.concatenate(flags))


def oil_samples(period: Period, units: NDArray[np.int64], seed: int) -> Samples:
    """Schedule oil-quality and furan tests every 6-12 months."""
    columns, stamps = [], []
    for c, unit in enumerate(units):
        ns = _periodic(stream(seed, Purpose.OIL_SAMPLING, int(unit)), period, OIL_TEST_INTERVAL_DAYS, 365.0)
        columns.append(np.full(ns.size, c, dtype=np.int64))
        stamps.append(ns)
    column = np.concatenate(columns)
    return Samples(column, period.start_ns + np.concatenate(stamps), np.zeros(column.size, dtype=bool))


def before(samples: Samples, cutoff_ns: NDArray[np.int64]) -> Samples:
    """Keep the samples taken before each unit's cutoff (its failure, or the end of data)."""
    keep = samples.sampled_ns < cutoff_ns[samples.column]
    return Samples(samples.column[keep], samples.sampled_ns[keep], samples.online[keep])
