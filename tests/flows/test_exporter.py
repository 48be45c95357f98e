"""The flows' metrics endpoint: drift-check state files under XFMR_HOME/monitoring -> Prometheus samples."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flows.exporter import DriftStateError, build_registry, read_records, start_exporter
from flows.settings import PipelineSettings
from launcher import free_port
from monitoring.policy import PolicyState

CHECKED = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def write_state(path: Path, state: PolicyState) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.to_json())
    return path


def samples(settings: PipelineSettings) -> dict[tuple[str, str], float]:
    """(sample name, model) -> value, as a scrape of the exporter's registry renders them."""
    from prometheus_client import generate_latest

    text = generate_latest(build_registry(settings)).decode()
    return {(s.name, s.labels["model"]): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if not s.name.endswith("_created")}


def test_single_and_per_model_state_files_are_reported_by_model(tmp_path: Path) -> None:
    settings = PipelineSettings(home=tmp_path, model_name="transformer_failure")
    write_state(tmp_path / "monitoring" / "policy_state.json",
                PolicyState(last_check_at=CHECKED, consecutive_drifted=1, triggers=2))
    write_state(tmp_path / "monitoring" / "pump_failure" / "policy_state.json",
                PolicyState(last_check_at=datetime(2025, 3, 2, tzinfo=UTC)))
    found = samples(settings)
    assert found == {
        ("xfmr_drift_check_last_run_timestamp_seconds", "transformer_failure"): CHECKED.timestamp(),
        ("xfmr_drift_check_last_run_timestamp_seconds", "pump_failure"): datetime(2025, 3, 2, tzinfo=UTC).timestamp(),
        ("xfmr_drift_consecutive_drifted_windows", "transformer_failure"): 1.0,
        ("xfmr_drift_consecutive_drifted_windows", "pump_failure"): 0.0,
        ("xfmr_drift_retrain_triggers_total", "transformer_failure"): 2.0,
        ("xfmr_drift_retrain_triggers_total", "pump_failure"): 0.0,
    }


def test_a_model_in_both_layouts_is_reported_once_with_its_latest_check(tmp_path: Path) -> None:
    monitoring = tmp_path / "monitoring"
    write_state(monitoring / "policy_state.json", PolicyState(last_check_at=CHECKED))
    write_state(monitoring / "transformer_failure" / "policy_state.json",
                PolicyState(last_check_at=datetime(2025, 3, 5, tzinfo=UTC), triggers=4))
    (record,) = read_records(monitoring, "transformer_failure")
    assert record.last_run == datetime(2025, 3, 5, tzinfo=UTC).timestamp() and record.triggers == 4


def test_a_state_saved_before_check_times_were_recorded_reports_its_file_time(tmp_path: Path) -> None:
    path = write_state(tmp_path / "monitoring" / "policy_state.json", PolicyState(triggers=1))
    os.utime(path, (1_700_000_000, 1_700_000_000))
    (record,) = read_records(tmp_path / "monitoring", "transformer_failure")
    assert record.last_run == 1_700_000_000


def test_no_state_yet_reports_nothing_and_a_broken_one_names_the_file(tmp_path: Path) -> None:
    settings = PipelineSettings(home=tmp_path)
    assert samples(settings) == {}
    broken = tmp_path / "monitoring" / "policy_state.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"consecutive_drifted": "many"}')
    with pytest.raises(DriftStateError, match="policy_state.json cannot be read"):
        read_records(tmp_path / "monitoring", "transformer_failure")


def test_the_endpoint_serves_what_the_files_say_at_scrape_time(tmp_path: Path) -> None:
    settings = PipelineSettings(home=tmp_path, flows_metrics_port=free_port())
    server = start_exporter(settings)
    assert server is not None
    try:
        url = f"http://127.0.0.1:{settings.flows_metrics_port}/metrics"
        assert "xfmr_drift_check_last_run_timestamp_seconds{" not in httpx.get(url, timeout=5).text
        # Written after the start: read at the next scrape, not cached.
        write_state(tmp_path / "monitoring" / "policy_state.json", PolicyState(last_check_at=CHECKED))
        scraped = {(s.name, s.labels.get("model")): s.value
                   for family in text_string_to_metric_families(httpx.get(url, timeout=5).text) for s in family.samples}
        assert scraped[("xfmr_drift_check_last_run_timestamp_seconds", "transformer_failure")] == CHECKED.timestamp()
    finally:
        server.shutdown()
        server.server_close()


def test_port_zero_turns_the_endpoint_off_and_a_taken_port_fails_naming_the_setting(tmp_path: Path) -> None:
    assert start_exporter(PipelineSettings(home=tmp_path, flows_metrics_port=0)) is None
    taken = PipelineSettings(home=tmp_path, flows_metrics_port=free_port())
    server = start_exporter(taken)
    assert server is not None
    try:
        with pytest.raises(OSError, match="XFMR_FLOWS_METRICS_PORT"):
            start_exporter(taken)
    finally:
        server.shutdown()
        server.server_close()
