"""What a generation run produced: the returned summary, its notes and the manifest written beside the data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleetsim.assets import Fleet
from fleetsim.config import REALISTIC_FAILURE_RATE_MAX, SCENARIOS, GeneratorConfig
from fleetsim.faults import FAULT_KINDS
from fleetsim.period import NS_PER_DAY, Period
from fleetsim.scenarios import scenario_details
from fleetsim.writer import TRUTH_UNITS_FILE
from tasks.schema import HAZARD_FILE, TRUTH_DIR

FORMAT_VERSION = 1


@dataclass(frozen=True)
class GenerationSummary:
    """What was written: row counts, failures against the target rate, injected faults and notes."""

    out_dir: Path
    rows: dict[str, int]  # per fleet table
    truth_rows: int  # rows of truth/hazard.parquet (unit-days in service)
    failures: int
    failures_by_mode: dict[str, int]
    unit_years: float  # in service
    target_failure_rate: float
    realized_failure_rate: float  # failures per in-service unit-year
    expected_failures: float  # sum of the true daily hazard over in-service days
    faults: dict[str, dict[str, int]]  # table -> fault kind -> rows affected
    scenario: str | None
    scenario_start: str | None  # ISO UTC
    notes: tuple[str, ...]


def summarize(config: GeneratorConfig, out_dir: Path, rows: dict[str, int], truth_rows: int,
              failure_modes: np.ndarray, exposure_days: int, expected: float,
              faults: dict[str, dict[str, int]]) -> GenerationSummary:
    """Assemble the summary of a finished run."""
    unit_years = exposure_days / 365.25
    modes, counts = np.unique(failure_modes, return_counts=True)
    start = config.scenario_start_timestamp
    return GenerationSummary(
        out_dir=out_dir,
        rows=rows,
        truth_rows=truth_rows,
        failures=len(failure_modes),
        failures_by_mode={str(m): int(c) for m, c in zip(modes, counts)},
        unit_years=unit_years,
        target_failure_rate=config.failure_rate,
        realized_failure_rate=len(failure_modes) / unit_years if unit_years else 0.0,
        expected_failures=expected,
        faults=faults,
        scenario=config.scenario,
        scenario_start=None if start is None else start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        notes=_notes(config, len(failure_modes), expected),
    )


def _notes(config: GeneratorConfig, failures: int, expected: float) -> tuple[str, ...]:
    notes = []
    if config.failure_rate > REALISTIC_FAILURE_RATE_MAX:
        notes.append(
            f"failure_rate {config.failure_rate:.1%}/yr is raised above realistic levels for training experiments "
            "(major power-transformer failures run at about 0.3-0.6 %/yr, CIGRE); positives are oversampled by design"
        )
    if expected > 0 and abs(failures - expected) > 2.0 * np.sqrt(expected) + 1:
        notes.append(f"{failures} failures against {expected:.1f} expected from the true hazard: "
                     "chance in a small fleet")
    if config.data_fault_rate > 0:
        notes.append(f"data-quality faults injected into about {config.data_fault_rate:.2%} of telemetry, dga and "
                     "oil_tests rows (assets and failures are clean); counts per table and kind under 'faults'")
    if config.scenario is not None:
        start = config.scenario_start_timestamp
        assert start is not None
        notes.append(f"drift scenario '{config.scenario}' from {start.date()}: "
                     f"{SCENARIOS[config.scenario].description}")
    notes.append("truth/ holds the latent hazard and condition: ground truth for evaluation, never a model input")
    return tuple(notes)


def manifest(config: GeneratorConfig, period: Period, fleet: Fleet, unknown_id: str,
             summary: GenerationSummary) -> dict[str, Any]:
    """Return the manifest: config, period, row counts, failures, injected faults, scenario and notes."""
    end = period.iso(period.start_ns + period.days * NS_PER_DAY)
    scenario = None
    if config.scenario is not None:
        spec = SCENARIOS[config.scenario]
        scenario = {
            "name": spec.name, "description": spec.description, "start": summary.scenario_start, "end": end,
            "affected_columns": list(spec.affected_columns), "details": scenario_details(spec.name),
        }
    return {
        "generator": "fleetsim",
        "format_version": FORMAT_VERSION,
        "config": asdict(config),
        "period": {"start": period.iso(period.start_ns), "end": end, "days": period.days, "hours": period.hours},
        "rows": summary.rows,
        "truth": {"hazard_rows": summary.truth_rows,
                  "files": [f"{TRUTH_DIR}/{HAZARD_FILE}", f"{TRUTH_DIR}/{TRUTH_UNITS_FILE}"]},
        "failures": {
            "count": summary.failures,
            "by_mode": summary.failures_by_mode,
            "unit_years": round(summary.unit_years, 3),
            "target_annual_rate": config.failure_rate,
            "realized_annual_rate": round(summary.realized_failure_rate, 6),
            "expected_failures": round(summary.expected_failures, 3),
        },
        "faults": summary.faults,
        "fault_kinds": FAULT_KINDS,
        "unknown_transformer_id": unknown_id,
        "online_monitor_units": fleet.ids[fleet.online_monitor].tolist(),
        "scenario": scenario,
        "notes": list(summary.notes),
    }
