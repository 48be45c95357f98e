"""`xfmr demo` at a reduced size: a drift-triggered retrain goes through the gate, with no failed request."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_reduced_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    from demo.loop import DemoConfig, run_demo
    from demo.stream import http_stream
    from tests.flows.conftest import isolated_home

    import os

    import mlflow

    config = DemoConfig(assets=120, years=3.0, seed=3, failure_rate=0.12, stream_days=2.0, step_hours=12.0,
                        min_window_units=40)
    # The demo points XFMR_HOME, PREFECT_HOME and MLflow at its own folder; undo all of it afterwards.
    saved_env, saved_uri = dict(os.environ), mlflow.get_tracking_uri()
    try:
        with isolated_home(tmp_path / "home"):
            summary = run_demo(config, tmp_path / "home", http_stream(config))
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        mlflow.set_tracking_uri(saved_uri)

    verdicts = [c.verdict for _, c in summary.checks]
    assert verdicts[0] == "no_drift", summary.checks[0][1].reason
    assert verdicts[1:] == ["drift", "drift"]
    triggered = [c for _, c in summary.checks if c.triggered]
    assert len(triggered) == 1 and triggered[0].retrain_run, "confirmed drift triggers exactly one retraining run"
    assert any(c.startswith("h2") for c in triggered[0].drifted_columns)
    retrained = summary.versions[-1]
    assert retrained["version"] == "2" and retrained["trigger"] == "drift"
    assert summary.failed_requests == 0
    if retrained["promoted"]:
        assert "2" in summary.versions_seen_after_swap
    assert (summary.home / "reports").is_dir() and list((summary.home / "reports").glob("drift_*.html"))
