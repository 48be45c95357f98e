"""Generate a fleet: simulate blocks of units, inject data faults and write tables, truth and manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fleetsim.assets import Fleet, asset_columns, build_fleet
from fleetsim.block import BlockData, simulate_block
from fleetsim.condition import FAULT_TYPES
from fleetsim.config import GeneratorConfig
from fleetsim.faults import DGA_FAULTS, OIL_FAULTS, TELEMETRY_FAULTS, FaultSpec, FaultTally, Rows, inject_faults
from fleetsim.period import build_period
from fleetsim.streams import Purpose, stream
from fleetsim.summary import GenerationSummary, manifest, summarize
from fleetsim.writer import (
    TRUTH_HAZARD_SCHEMA,
    TRUTH_UNITS_FILE,
    TRUTH_UNITS_SCHEMA,
    StreamWriter,
    TableEncoder,
    arrow_schema,
    write_manifest,
    write_table,
)
from tasks.schema import ASSETS, DGA, FAILURES, HAZARD_FILE, MANIFEST_FILE, OIL_TESTS, TELEMETRY, TRUTH_DIR

Progress = Callable[[str, float], None]
FAULT_STREAMS = {"telemetry": Purpose.TELEMETRY_FAULTS, "dga": Purpose.DGA_FAULTS, "oil_tests": Purpose.OIL_FAULTS}


def _concat(parts: list[Rows]) -> Rows:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _deliver(rows: Rows, bounds: NDArray[np.int64], units: NDArray[np.int64], spec: FaultSpec,
             config: GeneratorConfig, tally: FaultTally, late: list[Rows]) -> Rows:
    """Inject faults unit by unit (each unit its own stream); return the rows in arrival order."""
    delivered = []
    for c, unit in enumerate(units):
        chunk = {k: v[bounds[c] : bounds[c + 1]] for k, v in rows.items()}
        rng = stream(config.seed, FAULT_STREAMS[spec.table], int(unit))
        main, tardy = inject_faults(chunk, spec, config.data_fault_rate, rng, tally)
        delivered.append(main)
        late.append(tardy)
    return _concat(delivered)


def _unit_truth(fleet: Fleet, block: BlockData) -> Rows:
    """Per-unit latent traits and fate (truth/units.parquet)."""
    u, c = block.units, block.condition
    return {
        "unit": u, "online_monitor": fleet.online_monitor[u], "base_load_pu": np.round(fleet.base_load_pu[u], 3),
        "load_growth_per_year": np.round(fleet.load_growth[u], 4), "initial_paper_dp": np.round(fleet.initial_dp[u], 1),
        "paper_water_pct": np.round(fleet.paper_water_pct[u], 2), "fault_type": np.array(FAULT_TYPES)[c.fault_type],
        "fault_onset_day": np.round(c.fault_onset_day, 2), "paper_involved": c.paper_involved,
        "failure_mode": c.failure_mode,
    }


def generate_fleet(config: GeneratorConfig, out_dir: Path, progress: Progress | None = None) -> GenerationSummary:
    """Generate the fleet described by `config` into `out_dir` and return what was written."""
    report: Progress = progress or (lambda stage, fraction: None)
    out_dir = Path(out_dir)
    (out_dir / TRUTH_DIR).mkdir(parents=True, exist_ok=True)
    period = build_period(config)
    fleet = build_fleet(config)
    encoder = TableEncoder(fleet.ids)
    report("assets", 1.0)

    tally = FaultTally()
    for spec in (TELEMETRY_FAULTS, DGA_FAULTS, OIL_FAULTS):
        tally.register(spec)
    late: dict[str, list[Rows]] = {"telemetry": [], "dga": [], "oil_tests": []}
    dga: list[Rows] = []
    oil: list[Rows] = []
    unit_truth: list[Rows] = []
    failures: list[Rows] = []
    exposure_days, expected = 0, 0.0
    with (StreamWriter(out_dir / "telemetry.parquet", arrow_schema(TELEMETRY), encoder) as telemetry,
          StreamWriter(out_dir / TRUTH_DIR / HAZARD_FILE, TRUTH_HAZARD_SCHEMA, encoder) as truth):
        for first in range(0, fleet.size, config.block_assets):
            units = np.arange(first, min(fleet.size, first + config.block_assets), dtype=np.int64)
            block = simulate_block(config, fleet, period, units)
            telemetry.write(_deliver(block.telemetry, block.telemetry_bounds, units, TELEMETRY_FAULTS, config,
                                     tally, late["telemetry"]))
            dga.append(_deliver(block.dga, block.dga_bounds, units, DGA_FAULTS, config, tally, late["dga"]))
            oil.append(_deliver(block.oil, block.oil_bounds, units, OIL_FAULTS, config, tally, late["oil_tests"]))
            truth.write(block.truth)
            unit_truth.append(_unit_truth(fleet, block))
            cond = block.condition
            failed = cond.failure_day >= 0
            failures.append({"unit": units[failed], "failed_at": cond.failure_ns[failed],
                             "failure_mode": cond.failure_mode[failed]})
            exposure_days += int(cond.days_in_service.sum())
            expected += float(block.truth["hazard"].sum())
            report("simulate", float(units[-1] + 1) / fleet.size)
        telemetry.write(_concat(late["telemetry"]))  # late rows arrive after everything else
        telemetry_rows, truth_rows = telemetry.rows, truth.rows

    report("write", 0.0)
    failed = _concat(failures)
    order = np.lexsort((failed["unit"], failed["failed_at"]))
    rows = {
        "assets": write_table(out_dir / "assets.parquet", {"unit": np.arange(fleet.size), **asset_columns(fleet)},
                              arrow_schema(ASSETS), encoder),
        "telemetry": telemetry_rows,
        "dga": write_table(out_dir / "dga.parquet", _concat(dga + late["dga"]), arrow_schema(DGA), encoder),
        "oil_tests": write_table(out_dir / "oil_tests.parquet", _concat(oil + late["oil_tests"]),
                                 arrow_schema(OIL_TESTS), encoder),
        "failures": write_table(out_dir / "failures.parquet", {k: v[order] for k, v in failed.items()},
                                arrow_schema(FAILURES), encoder),
    }
    write_table(out_dir / TRUTH_DIR / TRUTH_UNITS_FILE, _concat(unit_truth), TRUTH_UNITS_SCHEMA, encoder)
    summary = summarize(config, out_dir, rows, truth_rows, failed["failure_mode"][order], exposure_days, expected,
                        tally.counts)
    write_manifest(out_dir / MANIFEST_FILE, manifest(config, period, fleet, encoder.unknown, summary))
    report("write", 1.0)
    return summary
