"""MQTT round trip through the real broker: replay --mqtt -> bridge (the API's service parts) -> results -> log."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from replay.config import MessConfig, MqttReplayConfig, Pacing, StreamConfig
from replay.mqtt import run_mqtt_replay
from replay.source import FleetSource
from serving.mqtt_bridge import BridgeOptions, run_bridge
from tests.replay.conftest import read_log
from tests.replay.expect import expect
from tests.serving.conftest import Registry, make_settings

BROKER = ("127.0.0.1", 1883)


def _broker_up() -> bool:
    try:
        with socket.create_connection(BROKER, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def broker() -> None:
    """Fail, never skip, without the broker: the MQTT path is a core path and CI starts Mosquitto."""
    assert _broker_up(), ("no MQTT broker on 127.0.0.1:1883: start one with "
                          "`mosquitto -d -c /etc/mosquitto/mosquitto.conf` (.ci/run does)")


def test_mqtt_round_trip_scores_once_publishes_results_and_logs(registry: Registry, fleet: Path,
                                                                tmp_path: Path) -> None:
    root = f"xfmr-test-{os.urandom(4).hex()}"  # a topic tree of its own: other runs on the broker stay out
    settings = make_settings(tmp_path, registry.uri, registry.new_model("good"), log_flush_interval_s=300)
    stop, ready = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}
    options = BridgeOptions(topic_root=root, client_id=f"{root}-bridge", max_batch=64)
    bridge = threading.Thread(target=lambda: outcome.update(stats=run_bridge(
        settings, *BROKER, stop, options=options, ready_event=ready)), daemon=True)
    bridge.start()
    try:
        assert ready.wait(60), "bridge did not subscribe within 60 s"
        stream = StreamConfig(FleetSource(folder=fleet, days=2, step="1h"), pacing=Pacing(speed=None, rate=1500.0),
                              mess=MessConfig(duplicate=0.1, corrupt=0.05, late=0.05, seed=3))
        expected = expect(stream)
        report = run_mqtt_replay(MqttReplayConfig(stream, topic_root=root, drain_timeout_s=30))
    finally:
        stop.set()
        bridge.join(60)
    assert not bridge.is_alive()

    assert report.unanswered == 0 and report.sent == len(expected.events)
    assert report.scored == len(expected.scored_keys)
    assert report.duplicates == expected.duplicates > 0
    assert report.rejects_by_reason == expected.rejects
    assert report.flags == expected.flags
    assert report.p99_ms >= report.p50_ms > 0 and report.versions == frozenset({"1"})
    stats = outcome["stats"]
    assert stats.scored == report.scored and stats.duplicates == report.duplicates  # type: ignore[attr-defined]
    log = read_log(settings.log_dir)  # the bridge's stop flushed it
    keys = list(zip(log["transformer_id"], log["as_of"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert len(keys) == len(set(keys)) == report.scored
    assert set(keys) == set(expected.scored_keys)
    assert log["request_id"].str.startswith("mqtt-").all()
