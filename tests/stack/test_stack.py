"""The production stack end to end, each service started from docker-compose.yml as a local process.

Real PostgreSQL, `mlflow server --app-name basic-auth`, `prefect server start`, `xfmr deploy`,
`python -m serving`: train through the flows service, gate, serve with the read-only account, score,
then a drift check that triggers the retraining deployment. The tests run in order on one stack.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.stack.conftest import ApiKey
from tests.stack.stack import (
    Stack,
    flow_runs_of,
    logged_predictions,
    mlflow_user,
    start_flow_run,
    wait_flow_run,
    wait_for_logged_predictions,
)

pytestmark = pytest.mark.slow

MODEL = "transformer_failure"
MLFLOW_AUTH_INI = Path(__file__).resolve().parents[2] / "docker" / "mlflow" / "basic_auth.ini"
# The reduced demo: 120 units over 3 years, with a re-calibrated H2 sensor over the last 1.5 years in the twin.
FLEET = {"assets": 120, "years": 3.0, "seed": 3, "failure_rate": 0.12, "stream_days": 2.0, "step_hours": 12.0,
         "min_window_units": 40}


def demo_config() -> Any:
    from demo.loop import DemoConfig

    return DemoConfig(**FLEET)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Fleets:
    normal: Path
    drifted: Path


@pytest.fixture(scope="module")
def fleets(stack: Stack) -> Fleets:
    """The fleet in the flows service's default data folder, and its drifted twin beside it."""
    from demo.loop import generate_fleets

    home = Path(stack.local("flows").env["XFMR_HOME"])
    fleets = generate_fleets(demo_config(), home)
    normal, drifted = fleets.normal, fleets.drifted
    assert normal == home / "data" / "fleet"
    return Fleets(normal, drifted)


@pytest.fixture(scope="module")
def first_training(stack: Stack, fleets: Fleets) -> Any:
    """`train/nightly` run by hand from the Prefect API, executed by the flows service on its default data."""
    stack.up("flows")
    run = start_flow_run(stack, "train/nightly", {"trigger": "manual"})
    return wait_flow_run(stack, run, timeout_s=420)


def writer(stack: Stack) -> Any:
    return mlflow_user(stack.env.get("MLFLOW_WRITER_USER", "xfmr-flows"), stack.env["MLFLOW_WRITER_PASSWORD"])


def reader(stack: Stack) -> Any:
    return mlflow_user(stack.env.get("MLFLOW_READER_USER", "xfmr-api"), stack.env["MLFLOW_READER_PASSWORD"])


def registry(stack: Stack) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=stack.url("mlflow"), registry_uri=stack.url("mlflow"))


def served(stack: Stack, key: ApiKey) -> dict[str, Any]:
    response = httpx.get(f"{stack.url('api')}/v1/model", headers={"Authorization": f"Bearer {key.key}"}, timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def test_anonymous_calls_to_mlflow_and_prefect_are_refused(stack: Stack) -> None:
    stack.up("mlflow", "prefect")
    mlflow = stack.url("mlflow")
    assert httpx.get(f"{mlflow}/api/2.0/mlflow/registered-models/search", timeout=10).status_code == 401
    assert httpx.get(f"{mlflow}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10).status_code == 401
    assert httpx.post(f"{stack.url('prefect')}/api/deployments/filter", json={}, timeout=10).status_code == 401
    # Health stays open for the probes.
    assert httpx.get(f"{mlflow}/health", timeout=10).status_code == 200


def test_the_nightly_deployment_trains_and_promotes_the_first_champion(stack: Stack, first_training: Any) -> None:
    assert first_training.state.is_completed(), f"{first_training.state}: {stack.tail('flows')}"
    with writer(stack):
        champion = registry(stack).get_model_version_by_alias(MODEL, "champion")
    assert champion.version == "1"
    assert champion.tags["gate.decision"] == "promoted" and champion.tags["gate.trigger"] == "manual"
    # Artifacts went through the tracking server's proxy onto its volume.
    assert list(stack.volume("mlflow-data").glob("artifacts/**/model.ubj"))


def test_the_api_serves_the_champion_through_the_read_only_account(
    stack: Stack, first_training: Any, api_key: ApiKey, fleets: Fleets
) -> None:
    stack.up("api")
    assert stack.local("api").env["MLFLOW_TRACKING_USERNAME"] == "xfmr-api"
    assert served(stack, api_key)["version"] == "1"
    from demo.stream import readings_for_period
    from replay.encode import records
    from tasks.ingest import ingest_folder

    tables = dict(ingest_folder(fleets.normal).tables)
    end = pd.Timestamp(tables["telemetry"]["timestamp"].max())
    readings = records(readings_for_period(tables, end - pd.Timedelta(days=1), end, 12.0))[:20]
    response = httpx.post(f"{stack.url('api')}/v1/score", json={"readings": readings},
                          headers={"Authorization": f"Bearer {api_key.key}"}, timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1" and len(body["results"]) == len(readings)
    assert httpx.post(f"{stack.url('api')}/v1/score", json={"readings": readings}, timeout=10).status_code == 401


def test_the_bridge_scores_readings_from_the_broker_into_the_shared_log(
    stack: Stack, first_training: Any, fleets: Fleets
) -> None:
    """The `bridge` service (profile mqtt) against the local Mosquitto, standing in for the utility's broker."""
    from replay.config import MqttReplayConfig, Pacing, StreamConfig
    from replay.mqtt import run_mqtt_replay
    from replay.source import FleetSource

    root = f"xfmr-stack-{secrets.token_hex(4)}"  # a topic tree of its own on the shared broker
    # Mosquitto here takes any login: the bridge must still connect with the one it is given.
    stack.env.update({"MQTT_BROKER_HOST": "127.0.0.1", "MQTT_BROKER_PORT": "1883", "MQTT_TOPIC_ROOT": root,
                      "MQTT_CLIENT_ID": f"{root}-bridge", "XFMR_MQTT_USERNAME": "xfmr-bridge",
                      "XFMR_MQTT_PASSWORD": secrets.token_urlsafe(12)})
    stack.reload()
    stack.up("bridge")  # healthy only once connected, subscribed and serving the champion
    assert stack.local("bridge").env["MLFLOW_TRACKING_USERNAME"] == "xfmr-api"
    stream = StreamConfig(FleetSource(folder=fleets.normal, days=1, step="12h"), pacing=Pacing(speed=None, rate=200.0))
    report = run_mqtt_replay(MqttReplayConfig(stream, topic_root=root, drain_timeout_s=30))
    assert report.sent > 0 and report.unanswered == 0 and report.scored == report.sent, report.lines()
    assert report.versions == frozenset({"1"})
    # Written to the same prediction log as the API's, so the drift check sees MQTT traffic too.
    wait_for_logged_predictions(stack, report.scored, timeout_s=60, request_prefix="mqtt-")
    assert logged_predictions(stack, request_prefix="mqtt-") == report.scored


def test_the_server_schedules_the_nightly_training(stack: Stack, first_training: Any) -> None:
    # The Prefect scheduler creates upcoming runs of a cron deployment (it cannot with SQLAlchemy 2.1).
    scheduled = [run for run in flow_runs_of(stack, "train/nightly") if run.state and run.state.is_scheduled()]
    assert scheduled, f"no scheduled train/nightly runs; see {stack.log('prefect')}"
    assert all(run.expected_start_time.month == 1 and run.expected_start_time.day == 1 for run in scheduled)


def test_the_read_only_account_cannot_register_or_move_models(stack: Stack, first_training: Any) -> None:
    from mlflow.exceptions import MlflowException

    with writer(stack):
        champion = registry(stack).get_model_version_by_alias(MODEL, "champion")
    with reader(stack):
        client = registry(stack)
        assert client.get_registered_model(MODEL).name == MODEL  # it may read
        attempts = {
            "register a version": lambda: client.create_model_version(MODEL, champion.source, champion.run_id),
            "move @champion": lambda: client.set_registered_model_alias(MODEL, "champion", "1"),
            "delete @champion": lambda: client.delete_registered_model_alias(MODEL, "champion"),
            "tag a version": lambda: client.set_model_version_tag(MODEL, "1", "gate.decision", "forged"),
            "delete the model": lambda: client.delete_registered_model(MODEL),
            "write to the training run": lambda: client.log_metric(champion.run_id, "pr_auc", 1.0),
        }
        for what, attempt in attempts.items():
            with pytest.raises(MlflowException, match="403|Permission denied"):
                attempt()
                pytest.fail(f"the read-only account could {what}")
    with writer(stack):
        assert registry(stack).get_model_version_by_alias(MODEL, "champion").version == champion.version


@pytest.fixture(scope="module")
def drift_check(stack: Stack, first_training: Any, fleets: Fleets, api_key: ApiKey) -> Any:
    """The replay service streams the drifted twin's last days; then `monitor/drift-check` runs by hand.

    The check confirms drift on one window (the demo's monitoring settings otherwise).
    """
    import json

    from demo.loop import demo_monitoring
    from monitoring import DriftPolicy

    stack.up("api")
    config = demo_config()
    stack.env.update({"REPLAY_DATA": f"/srv/flows-home/data/{fleets.drifted.name}",
                      "REPLAY_DAYS": str(config.stream_days), "REPLAY_STEP": f"{config.step_hours:g}h"})
    stack.reload()
    before = logged_predictions(stack)
    started = datetime.now(UTC)
    stack.up("replay")
    report = json.loads(next(stack.volume("replay-home").glob("reports/replay-*.json")).read_text())
    assert report["sent"] > 0 and report["scored"] == report["sent"], report
    # The API logs off the request path; the window must end after the last replayed row is written.
    wait_for_logged_predictions(stack, before + report["scored"])
    ended = datetime.now(UTC)
    monitoring = demo_monitoring(config).model_copy(update={"policy": DriftPolicy(consecutive_windows=1)})
    run = start_flow_run(stack, "monitor/drift-check", {
        "window_hours": (ended - started).total_seconds() / 3600 + 0.01, "window_end": ended.isoformat(),
        "retrain": "deployment", "retrain_data_dir": str(fleets.drifted), "config": monitoring.model_dump(mode="json"),
    })
    return wait_flow_run(stack, run, timeout_s=300)


def test_confirmed_drift_starts_the_retraining_deployment(stack: Stack, drift_check: Any, fleets: Fleets) -> None:
    assert drift_check.state.is_completed(), f"{drift_check.state}: {stack.tail('flows')}"
    retrains = flow_runs_of(stack, "train/retrain")
    assert len(retrains) == 1, "confirmed drift triggers exactly one retraining run"
    retrain = wait_flow_run(stack, str(retrains[0].id), timeout_s=420)
    assert retrain.state.is_completed(), f"{retrain.state}: {stack.tail('flows')}"
    assert retrain.parameters["trigger"] == "drift" and retrain.parameters["data_dir"] == str(fleets.drifted)
    assert Path(retrain.parameters["trigger_detail"]).name.startswith("drift_")
    with writer(stack):
        version = registry(stack).get_model_version(MODEL, "2")
    assert version.tags["gate.trigger"] == "drift"
    assert version.tags["gate.decision"] in ("promoted", "rejected")
    # The drift check read what the API logged: the prediction log is the shared volume.
    assert list(stack.volume("predictions").rglob("*.parquet"))


def test_the_flows_service_reports_when_the_drift_check_ran(stack: Stack, drift_check: Any) -> None:
    """What Prometheus scrapes from the flows service (job `flows` of docker/prometheus/prometheus.yml)."""
    from prometheus_client.parser import text_string_to_metric_families

    body = httpx.get(f"http://127.0.0.1:{stack.ports['flows:9108']}/metrics", timeout=10).text
    found = {s.labels["model"]: s.value for family in text_string_to_metric_families(body) for s in family.samples
             if s.name == "xfmr_drift_check_last_run_timestamp_seconds"}
    assert set(found) == {MODEL}
    assert drift_check.start_time.timestamp() <= found[MODEL] <= drift_check.end_time.timestamp()


def test_the_api_follows_the_gate_decision(stack: Stack, drift_check: Any, api_key: ApiKey) -> None:
    retrain = wait_flow_run(stack, str(flow_runs_of(stack, "train/retrain")[0].id), timeout_s=420)
    assert retrain.state.is_completed()
    with writer(stack):
        expected = registry(stack).get_model_version_by_alias(MODEL, "champion").version
    deadline = time.monotonic() + 60
    while served(stack, api_key)["version"] != expected and time.monotonic() < deadline:
        time.sleep(1.0)
    assert served(stack, api_key)["version"] == expected


def test_rerunning_mlflow_init_rotates_the_api_password(stack: Stack, first_training: Any) -> None:
    old = stack.env["MLFLOW_READER_PASSWORD"]
    stack.env["MLFLOW_READER_PASSWORD"] = new = "rotated-" + old
    stack.reload()
    stack.run_once("mlflow-init")
    rotated = time.monotonic()
    url = f"{stack.url('mlflow')}/api/2.0/mlflow/registered-models/get?name={MODEL}"
    assert httpx.get(url, auth=("xfmr-api", new), timeout=10).status_code == 200
    # A server worker that verified the old password before the rotation may accept it until that cache
    # entry expires (entries are not renewed on use); after the TTL every worker refuses it.
    ttl = int(re.search(r"^auth_cache_ttl_seconds = (\d+)", MLFLOW_AUTH_INI.read_text(), re.MULTILINE)[1])
    time.sleep(max(0.0, rotated + ttl + 1 - time.monotonic()))
    statuses = [httpx.get(url, auth=("xfmr-api", old), timeout=10).status_code for _ in range(8)]
    assert statuses == [401] * 8, statuses
