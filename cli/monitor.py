"""`xfmr drift`: one drift and performance-decay check now, with its verdict and report."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from flows.runtime import configure_mlflow, prepare
from flows.settings import load_settings


def register(sub: Any) -> None:
    drift = sub.add_parser("drift", help="run one drift check now and print the verdict and the report path")
    drift.add_argument("--window-hours", type=float, default=None, help="hours of predictions to read (default: XFMR_DRIFT_WINDOW_HOURS)")
    drift.add_argument("--window-end", default=None, help="end of the window, ISO time (default: now)")
    drift.add_argument("--retrain", choices=["off", "inline", "deployment"], default="off",
                       help="on confirmed drift: do nothing (default), train here, or start train/retrain on the server")
    drift.add_argument("--retrain-data", default=None, metavar="DIR", help="data the retraining run reads")
    drift.add_argument("--failures", default=None, metavar="DIR",
                       help="folder whose failures.parquet the decay step judges past predictions against "
                            "(default: --retrain-data, else $XFMR_HOME/data/fleet)")
    drift.add_argument("--outcomes-until", default=None, metavar="TIME",
                       help="ISO time up to which the failure records are complete (default: the folder's last telemetry)")
    drift.add_argument("--no-decay", action="store_true", help="skip the performance-decay step")
    drift.set_defaults(handler=run_drift)


def run_drift(args: argparse.Namespace) -> int:
    settings = load_settings()
    prepare(settings)
    configure_mlflow(settings)
    end = datetime.fromisoformat(args.window_end) if args.window_end else None
    if end is not None and end.tzinfo is None:
        raise ValueError(f"--window-end {args.window_end!r} needs a timezone, e.g. 2025-06-01T00:00:00+00:00")
    until = datetime.fromisoformat(args.outcomes_until) if args.outcomes_until else None
    if until is not None and until.tzinfo is None:
        raise ValueError(f"--outcomes-until {args.outcomes_until!r} needs a timezone, e.g. 2025-06-01T00:00:00+00:00")
    from flows.monitoring import drift_check_flow

    outcome = drift_check_flow(
        window_hours=args.window_hours or settings.drift_window_hours,
        window_end=end,
        retrain=args.retrain,
        retrain_data_dir=args.retrain_data,
        decay=not args.no_decay,
        failures_dir=args.failures,
        outcomes_until=until,
    )
    print(f"drift verdict: {outcome.verdict} ({outcome.window_rows:,} predictions, champion v{outcome.model_version})")
    if outcome.drifted_columns:
        print(f"  drifted columns: {', '.join(outcome.drifted_columns)}")
    print(f"  policy: {outcome.reason}")
    if outcome.decay_reason:
        print(f"  performance decay: {outcome.decay_reason}")
    if outcome.triggered:
        print(f"  retraining triggered by {outcome.trigger_cause}: {outcome.retrain_run or 'not started (--retrain off)'}")
    if outcome.report_path:
        print(f"  report: {outcome.report_path}")
    return 0
