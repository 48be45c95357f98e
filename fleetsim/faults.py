"""Data-quality faults: missing values, dropouts, duplicates, conflicts, spikes, late rows and unknown ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tasks.schema import GASES

Rows = dict[str, NDArray[np.generic]]  # one chunk of a table: "unit" (fleet index, -1 unknown), time, values

QUALITY_CODES: tuple[str, ...] = ("good", "suspect", "bad")
GOOD, SUSPECT, BAD = 0, 1, 2
UNKNOWN_UNIT = -1

# Share of the fault budget per kind; tables without hourly streams have no dropouts and renormalise.
FAULT_SHARES: dict[str, float] = {
    "missing": 0.325, "dropout": 0.20, "duplicate": 0.12, "conflict": 0.10,
    "out_of_range": 0.15, "late": 0.10, "unknown_id": 0.005,
}
FAULT_KINDS: dict[str, str] = {
    "missing": "one value column set to NaN (telemetry quality 'bad')",
    "dropout_absent": "rows of a 3-48 h telemetry gap that never arrived",
    "dropout_blank": "rows of a 3-48 h telemetry gap delivered with NaN values and quality 'bad'",
    "duplicate": "extra rows that exactly repeat an existing row",
    "conflict": "extra rows with an existing key but different values (telemetry quality 'suspect')",
    "out_of_range": "one value outside the physical range of tasks/schema.py (telemetry quality 'suspect')",
    "late": "rows moved out of time order to the end of the table",
    "unknown_id": "extra rows copied from real ones with an unknown transformer id",
}
GAP_HOURS = (3, 48)


@dataclass(frozen=True)
class FaultSpec:
    """How faults look in one table: its value columns, their out-of-range values and conflict steps."""

    table: str
    spikes: dict[str, tuple[float, ...]]  # per value column: impossible readings to inject
    conflict_step: dict[str, float]  # per value column: typical size of a disagreeing second reading
    dropouts: bool = False
    quality: bool = False

    @property
    def value_columns(self) -> tuple[str, ...]:
        return tuple(self.spikes)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in FAULT_KINDS if self.dropouts or not k.startswith("dropout"))


@dataclass
class FaultTally:
    """Rows affected per table and kind (mutable accumulator while the fleet is written)."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def register(self, spec: FaultSpec) -> None:
        self.counts.setdefault(spec.table, {k: 0 for k in spec.kinds})

    def add(self, table: str, kind: str, n: int) -> None:
        self.counts[table][kind] += int(n)


TELEMETRY_FAULTS = FaultSpec(
    table="telemetry", dropouts=True, quality=True,
    spikes={"load_pu": (12.0, -1.0), "ambient_temp_c": (-99.0, 85.0), "top_oil_temp_c": (999.0, -80.0)},
    conflict_step={"load_pu": 0.05, "ambient_temp_c": 1.5, "top_oil_temp_c": 3.0},
)
DGA_FAULTS = FaultSpec(
    table="dga",
    spikes={**{g: (-5.0, 1.0e6) for g in GASES}, "moisture_ppm": (-1.0, 5_000.0)},
    conflict_step={**{g: 2.0 for g in GASES}, "moisture_ppm": 1.0},
)
OIL_FAULTS = FaultSpec(
    table="oil_tests",
    spikes={"breakdown_kv": (999.0, -1.0), "acidity_mg_koh_g": (-0.5, 9.9), "ift_mn_m": (150.0, -1.0),
            "furan_2fal_ppb": (-10.0, 250_000.0)},
    conflict_step={"breakdown_kv": 3.0, "acidity_mg_koh_g": 0.02, "ift_mn_m": 1.5, "furan_2fal_ppb": 5.0},
)


def _take(rows: Rows, index: NDArray[np.int64]) -> Rows:
    return {k: v[index] for k, v in rows.items()}


def _concat(parts: list[Rows]) -> Rows:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _dropouts(n: int, budget: float, rng: np.random.Generator) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return (absent, blank) masks for contiguous multi-hour gaps using about `budget` * n rows."""
    mean_gap = 0.5 * (GAP_HOURS[0] + GAP_HOURS[1])
    gaps = rng.poisson(budget * n / mean_gap)
    starts = rng.integers(0, n, gaps)
    lengths = rng.integers(GAP_HOURS[0], GAP_HOURS[1] + 1, gaps)
    blank_gap = rng.random(gaps) < 0.5
    absent, blank = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    for s, length, b in zip(starts, lengths, blank_gap):  # a handful of gaps per unit
        (blank if b else absent)[s : s + length] = True
    return absent, blank & ~absent


def inject_faults(rows: Rows, spec: FaultSpec, rate: float, rng: np.random.Generator,
                  tally: FaultTally) -> tuple[Rows, Rows]:
    """Corrupt one unit's rows as a flaky data path would: return (rows in arrival order, rows that arrive late)."""
    n = len(rows["unit"])
    if rate <= 0.0 or n == 0:
        return rows, _take(rows, np.zeros(0, dtype=np.int64))
    rows = {k: v.copy() for k, v in rows.items()}
    shares = {k: v for k, v in FAULT_SHARES.items() if spec.dropouts or k != "dropout"}
    total_share = sum(shares.values())
    share = {k: v / total_share for k, v in shares.items()}

    absent = np.zeros(n, dtype=bool)
    blank = np.zeros(n, dtype=bool)
    if spec.dropouts:
        absent, blank = _dropouts(n, rate * share["dropout"], rng)
        for c in spec.value_columns:
            rows[c][blank] = np.nan
        rows["quality"][blank] = BAD
        tally.add(spec.table, "dropout_absent", int(absent.sum()))
        tally.add(spec.table, "dropout_blank", int(blank.sum()))

    kinds = ("missing", "out_of_range", "duplicate", "conflict", "unknown_id", "late")
    wanted = {k: int(rng.binomial(n, rate * share[k])) for k in kinds}
    # Each row suffers at most one fault, so the counts stay exact. The newest row is never "late":
    # a late row always arrives after something newer than itself.
    shuffled = rng.permutation(np.flatnonzero(~absent & ~blank))
    picks = {"late": shuffled[shuffled < n - 1][: wanted["late"]]}
    rest = shuffled[~np.isin(shuffled, picks["late"])]
    for k in kinds[:-1]:
        picks[k], rest = rest[: wanted[k]], rest[wanted[k]:]
    columns = spec.value_columns

    which = rng.integers(0, len(columns), len(picks["missing"]))
    for j, c in enumerate(columns):
        rows[c][picks["missing"][which == j]] = np.nan
    which = rng.integers(0, len(columns), len(picks["out_of_range"]))
    option = rng.integers(0, 2, len(picks["out_of_range"]))
    for j, c in enumerate(columns):
        hit = which == j
        rows[c][picks["out_of_range"][hit]] = np.asarray(spec.spikes[c])[option[hit] % len(spec.spikes[c])]
    if spec.quality:
        rows["quality"][picks["missing"]] = BAD
        rows["quality"][picks["out_of_range"]] = SUSPECT

    duplicate = _take(rows, picks["duplicate"])
    conflict = _take(rows, picks["conflict"])
    for c in columns:
        step = spec.conflict_step[c] * rng.uniform(1.0, 3.0, len(picks["conflict"]))
        conflict[c] = np.round(conflict[c] + step, 3)
    if spec.quality:
        conflict["quality"][:] = SUSPECT
    unknown = _take(rows, picks["unknown_id"])
    unknown["unit"][:] = UNKNOWN_UNIT

    late_mask = np.zeros(n, dtype=bool)
    late_mask[picks["late"]] = True
    keep = np.flatnonzero(~absent & ~late_mask)
    # Extra rows arrive right after the row they copy.
    extra_at = np.concatenate([picks["duplicate"], picks["conflict"], picks["unknown_id"]])
    order = np.argsort(np.concatenate([2 * keep, 2 * extra_at + 1]), kind="stable")
    delivered = _concat([_take(rows, keep), duplicate, conflict, unknown])
    delivered = _take(delivered, order)

    for k in kinds:
        tally.add(spec.table, k, len(picks[k]))
    return delivered, _take(rows, picks["late"])
