"""`xfmr generate` and `xfmr ingest`: make a synthetic fleet and validate a folder of fleet tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flows.settings import load_settings


def register(sub: Any) -> None:
    gen = sub.add_parser(
        "generate",
        help="write a synthetic, physically grounded transformer fleet as Parquet",
        description="Write the fleet tables (assets, telemetry, dga, oil_tests, failures) as Parquet, "
        "plus the true latent hazard under truth/ (never a model input) and a manifest.",
    )
    gen.add_argument("--assets", type=int, default=200, help="number of transformers (default 200)")
    gen.add_argument("--years", type=float, default=3.0, help="years of hourly history (default 3)")
    gen.add_argument("--seed", type=int, default=0, help="random seed; same arguments give identical files")
    gen.add_argument("--start", default="2022-01-01", help="first day of data, UTC (default 2022-01-01)")
    gen.add_argument("--out", type=Path, default=None, help="output folder (default: $XFMR_HOME/data/fleet)")
    gen.add_argument(
        "--scenario",
        default=None,
        choices=["load_growth", "sensor_offset", "der_penetration"],
        help="inject a named drift scenario from --scenario-start on",
    )
    gen.add_argument("--scenario-start", default=None, help="UTC date the drift begins (default: last quarter)")
    gen.add_argument(
        "--failure-rate",
        type=float,
        default=0.006,
        help="annual major-failure rate (default 0.006, realistic; raise it for training experiments)",
    )
    gen.add_argument(
        "--fault-rate", type=float, default=0.002, help="share of rows with data-quality faults (default 0.002)"
    )
    gen.set_defaults(handler=run_generate)

    ing = sub.add_parser(
        "ingest",
        help="validate a folder of fleet tables and report what was accepted and quarantined",
        description="Read assets/telemetry/dga/oil_tests/failures (Parquet or CSV) from DIR, check schema, "
        "types, physical ranges, ids, duplicates and timestamps; bad rows go to quarantine with a reason.",
    )
    ing.add_argument("folder", type=Path, metavar="DIR", help="folder holding the tables")
    ing.add_argument("--out", type=Path, default=None, help="also write accepted tables + quarantine here")
    ing.set_defaults(handler=run_ingest)


def run_generate(args: argparse.Namespace) -> int:
    from cli.progress import stage_progress
    from fleetsim import GeneratorConfig, generate_fleet

    config = GeneratorConfig(
        assets=args.assets,
        years=args.years,
        seed=args.seed,
        start=args.start,
        failure_rate=args.failure_rate,
        data_fault_rate=args.fault_rate,
        scenario=args.scenario,
        scenario_start=args.scenario_start,
    )
    out = args.out or load_settings().fleet_dir
    with stage_progress("generate") as progress:
        summary = generate_fleet(config, out, progress=progress)
    print(f"fleet written to {summary.out_dir}")
    for table, rows in summary.rows.items():
        extra = f" (realized {summary.realized_failure_rate:.2%}/yr)" if table == "failures" else ""
        print(f"  {table:<10} {rows:>12,} rows{extra}")
    for note in summary.notes:
        print(f"note: {note}")
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    if not args.folder.is_dir():
        raise FileNotFoundError(f"{args.folder}: no such folder")
    from tasks.ingest import format_report, ingest_folder, write_ingested

    result = ingest_folder(args.folder)
    print(format_report(result.report))
    print(f"accepted-data digest (sha256): {result.digest}")
    if args.out is not None:
        write_ingested(result, args.out)
        print(f"accepted tables and quarantine written to {args.out}", file=sys.stderr)
    return 0
