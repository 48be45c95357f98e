"""Training: the same steps as plain function calls vs. through the Prefect flow, plus model quality.

One run on one fleet: (1) plain calls of the task functions, (2) the Prefect flow against a local
Prefect server that is already running (how deployments run), with a cold feature cache so it does
the same work. Prints both times, the overhead, and holdout quality vs. the rule baselines and the
generator's true hazard (the best achievable score).

    .venv/bin/python benchmarks/bench_training.py [--assets 300] [--years 4] [--failure-rate 0.06]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def plain(fleet: Path, home: Path) -> tuple[float, dict[str, dict[str, float]]]:
    """Run every training step as a plain call; return wall time and the holdout metrics."""
    from flows.gating import register_and_gate
    from flows.settings import load_settings
    from tasks.config import TrainingConfig
    from tasks.evaluate import evaluate
    from tasks.sources import load_fleet
    from tasks.split import time_split
    from tasks.tracking import log_training_run
    from tasks.train import fit_model

    os.environ["XFMR_HOME"] = str(home)
    import mlflow

    settings = load_settings()
    mlflow.set_tracking_uri(settings.tracking_uri)
    config = TrainingConfig()
    t0 = time.perf_counter()
    data = load_fleet(fleet).with_modeling_table(config.labels)
    parts = time_split(data.table.frame, config.split, config.labels)
    fit = fit_model(parts, data.table.feature_columns, config.model, data.table.feature_labels)
    scores = {"model": fit.model.predict_proba(parts.holdout), **data.baseline_scores(parts.holdout)}
    evaluation = evaluate(parts.holdout, scores["model"], {k: v for k, v in scores.items() if k != "model"},
                          config.evaluation.top_k_pct)
    logged = log_training_run(
        table=data.table, split=parts, fit=fit, evaluation=evaluation, config=config,
        data_digest=data.digest, data_source=str(fleet), experiment=settings.model_name, flow_run_id=None,
        trigger="manual", artifact_location=settings.artifact_location,
    )
    register_and_gate(
        logged=logged, split=parts, fit=fit, evaluation=evaluation, gate_settings=config.gate,
        top_k_pct=config.evaluation.top_k_pct, trigger="manual", trigger_detail=None, settings=settings,
    )
    return time.perf_counter() - t0, evaluation.metrics


def through_flow(fleet: Path, home: Path) -> float:
    """Run the Prefect flow (server already up, empty result storage); return wall time."""
    os.environ["XFMR_HOME"] = str(home)
    import mlflow

    from flows.settings import load_settings
    from flows.training import training_flow

    mlflow.set_tracking_uri(load_settings().tracking_uri)
    t0 = time.perf_counter()
    training_flow(data_dir=str(fleet))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=300)
    parser.add_argument("--years", type=float, default=4.0)
    parser.add_argument("--failure-rate", type=float, default=0.06)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="alternate plain/flow this many times; best of each")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xfmr-bench-train-"))
    os.environ.update({
        "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
    })
    from launcher import ServiceProcess, free_port
    from fleetsim import GeneratorConfig, generate_fleet

    fleet = work / "fleet"
    summary = generate_fleet(
        GeneratorConfig(assets=args.assets, years=args.years, seed=args.seed, failure_rate=args.failure_rate), fleet
    )
    print(f"fleet: {args.assets} units x {args.years:g} y, {sum(summary.rows.values()):,} rows, "
          f"{summary.failures} failures")

    port = free_port()
    server = ServiceProcess(
        "prefect-server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        work / "prefect-server.log", ready_url=f"http://127.0.0.1:{port}/api/health",
    )
    with server.start(timeout_s=180):
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        plain_times, flow_times = [], []
        for i in range(args.rounds):
            # Fresh state each round (new MLflow store, empty Prefect result storage => no feature cache hit).
            os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(work / f"storage-{i}")
            seconds, metrics = plain(fleet, work / f"home-plain-{i}")
            plain_times.append(seconds)
            flow_times.append(through_flow(fleet, work / f"home-flow-{i}"))
        plain_s, flow_s = min(plain_times), min(flow_times)
        print(f"rounds: plain {[round(t, 1) for t in plain_times]} s, flow {[round(t, 1) for t in flow_times]} s")

    overhead = (flow_s - plain_s) / plain_s
    m = metrics["model"]
    print(f"\n{'mode':<26}{'wall s':>9}")
    print(f"{'plain function calls':<26}{plain_s:>9.1f}")
    print(f"{'Prefect flow (server up)':<26}{flow_s:>9.1f}")
    print(f"Prefect overhead: {overhead:+.1%} of the plain time (target <= 15 %)")
    print(f"\nholdout quality ({int(m['failures'])} failures in the holdout, top-k {5:g} %):")
    print(f"{'scorer':<16}{'PR-AUC':>8}{'ROC-AUC':>9}{'top-k recall':>14}{'lead days':>11}")
    for name, values in metrics.items():
        print(f"{name:<16}{values['pr_auc']:>8.4f}{values['roc_auc']:>9.4f}{values['top_k_recall']:>14.3f}"
              f"{values.get('median_lead_days', float('nan')):>11.1f}")
    ratio = m["pr_auc"] / metrics["true_hazard"]["pr_auc"]
    print(f"model PR-AUC / true-hazard PR-AUC: {ratio:.2f}")
    out = ROOT / "benchmarks" / "results" / "training.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"plain_s": plain_s, "flow_s": flow_s, "overhead": overhead, "metrics": metrics,
                               "fleet": vars(args)}, indent=2, default=float))


if __name__ == "__main__":
    main()
