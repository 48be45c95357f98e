"""The whole loop on embedded defaults: fleet -> champion -> API -> stream -> drift -> retrain -> gate -> swap."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from launcher import ServiceProcess, free_port


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; the defaults finish in a few minutes on a 2-core machine."""

    assets: int = 250
    years: float = 4.0
    seed: int = 11
    failure_rate: float = 0.08  # raised for training experiments; realistic fleets fail at 0.3-0.6 %/yr
    scenario: str = "sensor_offset"
    drift_years_before_end: float = 1.5  # early enough that retraining sees drifted data in its train window
    stream_days: float = 10.0  # days of data time streamed per phase
    step_hours: float = 6.0  # one reading per unit every step_hours of data time
    batch: int = 50
    concurrency: int = 4
    poll_interval_s: float = 2.0
    min_window_units: int = 100  # a drift window needs at least this many units with readings


def demo_monitoring(config: DemoConfig) -> Any:
    """Monitoring settings of the demo."""
    from monitoring import DriftSettings, MonitoringConfig, SeasonalSettings

    # Streamed windows cover days of one season: compare them with the same months a year earlier.
    # One re-calibrated gas sensor moves about a tenth of the features, hence the lower share.
    return MonitoringConfig(
        seasonal=SeasonalSettings(enabled=True),
        drift=DriftSettings(min_window_rows=config.min_window_units, drift_share=0.1),
    )


@dataclass
class PhaseResult:
    """What one streaming phase did."""

    name: str
    started: datetime
    ended: datetime
    stats: Any


@dataclass
class DemoSummary:
    """Everything the closing table shows."""

    home: Path
    versions: list[dict[str, Any]] = field(default_factory=list)
    phases: list[PhaseResult] = field(default_factory=list)
    checks: list[tuple[str, Any]] = field(default_factory=list)
    failed_requests: int = 0
    versions_seen_after_swap: tuple[str, ...] = ()
    api_url: str = ""
    elapsed_s: float = 0.0


def _say(message: str) -> None:
    print(f"\n== {message}", flush=True)


def prepare_home(root: Path) -> Path:
    """Start from an empty demo folder under XFMR_HOME and point every component at it."""
    home = root / "demo"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    os.environ["XFMR_HOME"] = str(home)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return home


@dataclass(frozen=True)
class DemoFleets:
    """The demo's two fleet folders: normal, and the same fleet with a drift scenario over its last part."""

    normal: Path
    drifted: Path


@dataclass(frozen=True)
class RunningApi:
    """The scoring API the demo started: its process, URL and client key."""

    process: ServiceProcess
    url: str
    key: str


def generate_fleets(config: DemoConfig, home: Path) -> DemoFleets:
    """A normal fleet and the same fleet with a drift scenario over its last part."""
    from fleetsim import GeneratorConfig, generate_fleet

    base = GeneratorConfig(assets=config.assets, years=config.years, seed=config.seed, failure_rate=config.failure_rate)
    normal = home / "data" / "fleet"
    generate_fleet(base, normal)
    start = pd.Timestamp(base.start, tz="UTC") + pd.Timedelta(days=365.25 * (config.years - config.drift_years_before_end))
    drifted = home / "data" / f"fleet-{config.scenario}"
    generate_fleet(
        GeneratorConfig(**{**base.__dict__, "scenario": config.scenario, "scenario_start": f"{start:%Y-%m-%d}"}), drifted
    )
    return DemoFleets(normal, drifted)


def start_api(home: Path, config: DemoConfig) -> RunningApi:
    """Start the scoring API with a fresh key; return the process, its URL and the key."""
    from serving.auth import hash_key

    key = secrets.token_urlsafe(24)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api = ServiceProcess(
        "scoring API",
        [sys.executable, "-m", "serving", "--host", "127.0.0.1", "--port", str(port)],
        home / "logs" / "api.log",
        env={
            "XFMR_HOME": str(home),
            "XFMR_API_KEYS": hash_key(key),
            "XFMR_POLL_INTERVAL_S": str(config.poll_interval_s),
            "XFMR_LOG_FLUSH_INTERVAL_S": "0.5",
        },
        ready_url=f"{url}/health/ready",
    )
    return RunningApi(api.start(timeout_s=180), url, key)


def served_version(url: str, key: str) -> str:
    import httpx

    info = httpx.get(f"{url}/v1/model", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    return str(info["version"])


def drift_check(name: str, phase: PhaseResult, retrain: str, retrain_dir: Path | None, monitoring: Any) -> Any:
    from flows.monitoring import drift_check_flow

    hours = max((phase.ended - phase.started).total_seconds() / 3600, 1e-3)
    outcome = drift_check_flow(
        window_hours=hours + 1 / 3600, window_end=phase.ended, retrain=retrain,  # type: ignore[arg-type]
        retrain_data_dir=str(retrain_dir) if retrain_dir else None, config=monitoring,
        decay=False,  # the demo shows drift; the replayed period's failures are already in the training data
    )
    print(f"   drift check '{name}': {outcome.verdict}; {outcome.reason}")
    return outcome


def run_phase(name: str, stream: Callable[[], Any]) -> PhaseResult:
    started = datetime.now(UTC)
    stats = stream()
    # The API writes its prediction log in the background; give it one flush interval.
    time.sleep(1.5)
    return PhaseResult(name, started, datetime.now(UTC), stats)


def run_demo(config: DemoConfig, root: Path, stream_factory: Callable[..., Callable[[], Any]]) -> DemoSummary:
    """Run the whole loop; `stream_factory(fleet, start, end, url, key)` returns a callable that streams a period."""
    t0 = time.monotonic()
    home = prepare_home(root)
    summary = DemoSummary(home=home)
    from flows.runtime import configure_mlflow, prepare
    from flows.settings import load_settings

    settings = load_settings()
    prepare(settings)
    configure_mlflow(settings)
    from flows.training import training_flow

    _say(f"1/7 generating a {config.assets}-unit fleet ({config.years:g} years) and its '{config.scenario}' twin")
    fleets = generate_fleets(config, home)
    normal, drifted = fleets.normal, fleets.drifted

    _say("2/7 training the first champion on the normal fleet")
    first = training_flow(data_dir=str(normal), trigger="manual")
    summary.versions.append({"version": first.version, "trigger": "manual", "metrics": first.metrics,
                             "decision": first.decision.reason, "promoted": first.decision.promote})
    if not first.decision.promote:
        raise RuntimeError(
            f"the first model was not promoted ({first.decision.reason}); with no champion there is nothing to "
            "serve - try a larger fleet (--assets, --years)"
        )

    _say("3/7 starting the scoring API")
    running = start_api(home, config)
    api, url, key = running.process, running.url, running.key
    summary.api_url = url
    try:
        print(f"   {url} serving version {served_version(url, key)}")
        end = pd.Timestamp(pd.read_parquet(normal / "telemetry.parquet", columns=["timestamp"])["timestamp"].max())
        span = pd.Timedelta(days=config.stream_days)

        _say("4/7 streaming a normal period")
        normal_phase = run_phase("normal", stream_factory(normal, end - span, end, url, key))
        summary.phases.append(normal_phase)
        monitoring = demo_monitoring(config)
        summary.checks.append(("normal", drift_check("normal", normal_phase, "off", None, monitoring)))

        _say(f"5/7 switching the stream to the '{config.scenario}' scenario")
        for i, (a, b) in enumerate(((end - 2 * span, end - span), (end - span, end)), start=1):
            phase = run_phase(f"drift {i}", stream_factory(drifted, a, b, url, key))
            summary.phases.append(phase)
            retrain = "inline" if i == 2 else "off"
            summary.checks.append((f"drift {i}", drift_check(f"drift {i}", phase, retrain, drifted, monitoring)))

        _say("6/7 retraining outcome and hot swap")
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        latest = max((int(v.version) for v in client.search_model_versions(f"name='{settings.model_name}'")), default=0)
        if latest > int(first.version):
            mv = client.get_model_version(settings.model_name, str(latest))
            summary.versions.append({
                "version": str(latest), "trigger": mv.tags.get("gate.trigger", "?"),
                "metrics": client.get_run(mv.run_id).data.metrics, "decision": mv.tags.get("gate.reason", ""),
                "promoted": mv.tags.get("gate.decision") == "promoted",
            })
        champion = str(client.get_model_version_by_alias(settings.model_name, "champion").version)
        _say(f"7/7 streaming on while the API picks up champion v{champion}")
        after = _stream_until_version(stream_factory(drifted, end - span, end, url, key), url, key, champion, config)
        summary.phases.append(after)
        summary.versions_seen_after_swap = tuple(sorted(getattr(after.stats, "versions", ()) or ()))
    finally:
        api.stop()
    summary.failed_requests = sum(int(getattr(p.stats, "failed_requests", 0)) for p in summary.phases)
    summary.elapsed_s = time.monotonic() - t0
    return summary


def _stream_until_version(stream: Callable[[], Any], url: str, key: str, version: str, config: DemoConfig) -> PhaseResult:
    """Stream in the background while the API's poller swaps; return once the new version answers."""
    result: dict[str, Any] = {}
    started = datetime.now(UTC)
    worker = threading.Thread(target=lambda: result.update(stats=stream()), daemon=True)
    worker.start()
    deadline = time.monotonic() + 30 * config.poll_interval_s
    while time.monotonic() < deadline and served_version(url, key) != version:
        time.sleep(0.5)
    worker.join()
    print(f"   API now serves version {served_version(url, key)}")
    return PhaseResult("after swap", started, datetime.now(UTC), result.get("stats"))


def render_summary(summary: DemoSummary, settings: Any) -> None:
    """Print the closing table: versions and gate decisions, drift verdicts, stream figures, where to look."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    versions = Table(title="Model versions", title_justify="left")
    for col in ("version", "trigger", "holdout PR-AUC", "Brier", "top-k recall", "gate"):
        versions.add_column(col)
    for v in summary.versions:
        m = v["metrics"]
        pr = m.get("pr_auc", m.get("model.pr_auc", float("nan")))
        brier = m.get("brier", m.get("model.brier", float("nan")))
        recall = m.get("top_k_recall", m.get("model.top_k_recall", float("nan")))
        gate = ("promoted: " if v["promoted"] else "rejected: ") + str(v["decision"])[:90]
        versions.add_row(v["version"], v["trigger"], f"{pr:.3f}", f"{brier:.4f}", f"{recall:.3f}", gate)
    console.print(versions)

    checks = Table(title="Drift checks", title_justify="left")
    for col in ("window", "verdict", "rows", "drifted columns", "policy", "retraining"):
        checks.add_column(col)
    for name, c in summary.checks:
        cols = ", ".join(c.drifted_columns[:4]) + (" …" if len(c.drifted_columns) > 4 else "")
        checks.add_row(name, c.verdict, f"{c.window_rows:,}", cols or "-", c.reason[:60], c.retrain_run or "-")
    console.print(checks)

    stream = Table(title="Stream (HTTP, micro-batches)", title_justify="left")
    for col in ("phase", "readings", "readings/s", "p50 ms", "p95 ms", "p99 ms", "failed requests", "versions"):
        stream.add_column(col)
    for p in summary.phases:
        s = p.stats
        stream.add_row(
            p.name, f"{getattr(s, 'scored', 0):,}", f"{getattr(s, 'throughput', 0.0):,.0f}",
            f"{getattr(s, 'p50_ms', float('nan')):.1f}", f"{getattr(s, 'p95_ms', float('nan')):.1f}",
            f"{getattr(s, 'p99_ms', float('nan')):.1f}", str(getattr(s, "failed_requests", "?")),
            ", ".join(sorted(getattr(s, "versions", ()) or ())),
        )
    console.print(stream)
    console.print(f"failed requests during the whole demo: [bold]{summary.failed_requests}[/]")
    console.print(f"state: {summary.home}  (reports: {summary.home / 'reports'}, prediction log: {summary.home / 'predictions'})")
    console.print(f"MLflow UI:  .venv/bin/mlflow ui --backend-store-uri {settings.tracking_uri}")
    console.print("Prefect UI: .venv/bin/prefect server start  (then run `xfmr deploy` with PREFECT_API_URL set)")
    console.print(f"demo took {summary.elapsed_s:.0f} s")


DEMO_MONITORING = demo_monitoring(DemoConfig())
