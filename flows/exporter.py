"""The flows process's Prometheus endpoint: when each model's drift check last ran, read from its state at scrape time.

The drift check (flows/monitoring.py) saves its policy state as JSON at the end of every check:
`$XFMR_HOME/monitoring/policy_state.json` for the configured model, or
`$XFMR_HOME/monitoring/<model>/policy_state.json` per model. Reading the files at scrape time,
rather than counting in the flow run, keeps the figures right whichever process ran the check
(any worker of the deployment) and across restarts of this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import ValidationError

from flows.settings import PipelineSettings
from monitoring.policy import PolicyState

STATE_FILE = "policy_state.json"
LAST_RUN = "xfmr_drift_check_last_run_timestamp_seconds"
DRIFTED_WINDOWS = "xfmr_drift_consecutive_drifted_windows"
TRIGGERS = "xfmr_drift_retrain_triggers"  # a counter: exposed as ..._total


class DriftStateError(ValueError):
    """A drift-check state file exists but cannot be read."""


@dataclass(frozen=True)
class DriftCheckRecord:
    """What one model's drift-check state file says."""

    model: str
    last_run: float  # Unix seconds
    consecutive_drifted: int
    triggers: int


def _read(model: str, path: Path) -> DriftCheckRecord:
    try:
        state = PolicyState.from_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise DriftStateError(f"drift-check state {path} cannot be read: {exc}") from exc
    # Files saved before the check time was recorded: the file is rewritten at the end of every check.
    last = state.last_check_at.timestamp() if state.last_check_at is not None else path.stat().st_mtime
    return DriftCheckRecord(model, last, state.consecutive_drifted, state.triggers)


def read_records(monitoring_dir: Path, default_model: str) -> list[DriftCheckRecord]:
    """Read every model's state: `policy_state.json` is `default_model`'s, `<model>/policy_state.json` that model's.

    A model found in both places is reported once, with its latest check.
    """
    candidates = [(default_model, monitoring_dir / STATE_FILE)]
    candidates += [(path.parent.name, path) for path in sorted(monitoring_dir.glob(f"*/{STATE_FILE}"))]
    latest: dict[str, DriftCheckRecord] = {}
    for model, path in candidates:
        if not path.is_file():
            continue
        record = _read(model, path)
        if model not in latest or record.last_run > latest[model].last_run:
            latest[model] = record
    return [latest[model] for model in sorted(latest)]


def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, CounterMetricFamily]:
    return (
        GaugeMetricFamily(LAST_RUN, "when the model's drift check last completed (Unix time)", labels=["model"]),
        GaugeMetricFamily(DRIFTED_WINDOWS, "drifted windows counted towards confirming drift", labels=["model"]),
        CounterMetricFamily(TRIGGERS, "retraining runs the drift and decay checks triggered", labels=["model"]),
    )


class DriftCheckCollector(Collector):
    """Report the drift-check state files under `monitoring_dir` on each scrape."""

    def __init__(self, monitoring_dir: Path, default_model: str) -> None:
        self.monitoring_dir = monitoring_dir
        self.default_model = default_model

    def describe(self) -> Iterator[Metric]:
        # Names only: registering must not read the files (a bad file fails the scrape, not the start).
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        last, drifted, triggers = _families()
        for record in read_records(self.monitoring_dir, self.default_model):
            last.add_metric([record.model], record.last_run)
            drifted.add_metric([record.model], record.consecutive_drifted)
            triggers.add_metric([record.model], record.triggers)
        yield from (last, drifted, triggers)


def monitoring_dir(settings: PipelineSettings) -> Path:
    """Where the drift check keeps its state (flows.monitoring saves it there)."""
    return settings.root / "monitoring"


def build_registry(settings: PipelineSettings) -> CollectorRegistry:
    """A registry holding only the drift-check collector (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DriftCheckCollector(monitoring_dir(settings), settings.model_name))
    return registry


def start_exporter(settings: PipelineSettings) -> WSGIServer | None:
    """Serve /metrics on XFMR_FLOWS_METRICS_HOST:XFMR_FLOWS_METRICS_PORT from a daemon thread (port 0: not at all).

    Return the server (`shutdown()` stops it), or None when turned off.
    """
    if settings.flows_metrics_port == 0:
        return None
    try:
        server, _ = start_http_server(settings.flows_metrics_port, addr=settings.flows_metrics_host,
                                      registry=build_registry(settings))
    except OSError as exc:
        raise OSError(f"cannot serve the flows metrics on {settings.flows_metrics_host}:{settings.flows_metrics_port} "
                      f"(XFMR_FLOWS_METRICS_HOST/XFMR_FLOWS_METRICS_PORT; 0 turns it off): {exc}") from exc
    return server
