"""Model lifecycle: readiness, hot swap under load, refused versions, registry outage with and without a cache."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import serving.batcher
from serving.app import create_app
from tasks.features import compute_features
from tests.serving.conftest import Registry, auth, make_settings
from tests.serving.factory import readings_json
from tests.serving.test_contract import wait_ready

UNREACHABLE = "http://127.0.0.1:9"  # discard port: connection refused at once


def score(client: TestClient, readings: list[dict[str, Any]]) -> Any:
    return client.post("/v1/score", content=json.dumps({"readings": readings}),
                       headers={"Content-Type": "application/json", **auth()})


def wait_for(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def expected_probability(registry: Registry, kind: str, readings: Any) -> np.ndarray:
    return registry.logged[kind].model.predict_proba(compute_features(readings))  # type: ignore[no-any-return]


def metric(client: TestClient, name: str) -> float:
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_not_ready_until_a_champion_exists_then_ready(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good", champion=None)
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name))) as client:
        time.sleep(0.5)  # a few polls find no @champion
        ready = client.get("/health/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
        assert client.get("/health/live").status_code == 200
        reading = readings_json(registry.logged["good"].readings.head(1))
        r = score(client, reading)
        assert r.status_code == 503 and r.json()["error"] == "not_ready"
        registry.set_champion(name, "1")
        wait_ready(client)
        assert client.get("/health/ready").json() == {"status": "ready", "model_version": "1", "reason": None}
        assert score(client, reading).status_code == 200
        assert client.app.state.service.slots.active.tables is not None  # proven against XGBoost at load


def test_swap_under_load_drops_nothing_and_each_answer_names_its_version(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good", "good_b")
    readings = registry.logged["good"].readings.head(5)
    body = readings_json(readings)
    expected = {"1": expected_probability(registry, "good", readings),
                "2": expected_probability(registry, "good_b", readings)}
    assert not np.allclose(expected["1"], expected["2"])
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name, poll_interval_s=0.05))) as client:
        wait_ready(client)
        stop = threading.Event()

        def swapper() -> None:
            for version in ("2", "1", "2", "1", "2"):
                registry.set_champion(name, version)
                wait_for(lambda v=version: client.get("/health/ready").json()["model_version"] == v)
            stop.set()

        def hammer() -> list[tuple[int, str, list[float]]]:
            out = []
            while not stop.is_set():
                r = score(client, body)
                payload = r.json()
                out.append((r.status_code, payload.get("model_version"),
                            [x["failure_probability"] for x in payload.get("results", [])]))
            return out

        with ThreadPoolExecutor(5) as pool:
            workers = [pool.submit(hammer) for _ in range(4)]
            pool.submit(swapper).result()
            results = [row for w in workers for row in w.result()]
    assert len(results) > 20
    assert {status for status, _, _ in results} == {200}
    assert {version for _, version, _ in results} == {"1", "2"}
    for _, version, probabilities in results:  # the named version is the one that scored
        np.testing.assert_allclose(probabilities, expected[version], rtol=0, atol=1e-12)


def test_in_flight_request_finishes_on_the_version_it_started_with(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = registry.new_model("good", "good_b")
    readings = registry.logged["good"].readings.head(2)
    entered, release = threading.Event(), threading.Event()
    real = serving.batcher.score_readings

    def held(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name.startswith("xfmr-score") and not release.is_set():
            entered.set()
            release.wait(10)
        return real(*args, **kwargs)

    settings = make_settings(tmp_path, registry.uri, name, poll_interval_s=0.05)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        monkeypatch.setattr(serving.batcher, "score_readings", held)
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(score, client, readings_json(readings))
            assert entered.wait(10)
            registry.set_champion(name, "2")
            wait_for(lambda: client.get("/health/ready").json()["model_version"] == "2")
            release.set()
            first = pending.result()
        second = score(client, readings_json(readings))
    assert first.status_code == 200 and first.json()["model_version"] == "1"
    np.testing.assert_allclose([x["failure_probability"] for x in first.json()["results"]],
                               expected_probability(registry, "good", readings), atol=1e-12)
    assert second.json()["model_version"] == "2"


@pytest.mark.parametrize(("kind", "reason"), [("corrupt", "corrupt"), ("features", "features")])
def test_bad_version_is_refused_and_the_old_one_keeps_serving(
    registry: Registry, tmp_path: Path, kind: str, reason: str
) -> None:
    name = registry.new_model("good", kind)
    reading = readings_json(registry.logged["good"].readings.head(1))
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name))) as client:
        wait_ready(client)
        registry.set_champion(name, "2")
        wait_for(lambda: metric(client, "xfmr_model_swaps_refused_total") >= 1)
        r = score(client, reading)
        assert r.status_code == 200 and r.json()["model_version"] == "1"
        text = client.get("/metrics").text
        assert f'xfmr_model_swaps_refused_total{{reason="{reason}",version="2"}} 1.0' in text
        assert 'xfmr_model_info{name="' + name + '",source="registry",version="1"} 1.0' in text
        time.sleep(0.5)  # later polls do not retry (or re-count) the refused version
        assert metric(client, "xfmr_model_swaps_refused_total") == 1
        assert client.get("/v1/model", headers=auth()).json()["version"] == "1"


def test_corrupt_champion_at_start_leaves_the_service_not_ready(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good", "corrupt", champion=2)
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name))) as client:
        wait_for(lambda: metric(client, "xfmr_model_swaps_refused_total") >= 1)
        assert client.get("/health/ready").status_code == 503
        registry.set_champion(name, "1")
        wait_ready(client)


def test_registry_down_at_start_serves_the_cached_verified_version(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good")
    home = tmp_path / "home"
    reading = readings_json(registry.logged["good"].readings.head(1))
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name, home=home))) as client:
        wait_ready(client)
        served = score(client, reading).json()["results"][0]["failure_probability"]
    offline = make_settings(tmp_path, UNREACHABLE, name, home=home, registry_timeout_s=1)
    with TestClient(create_app(offline)) as client:
        wait_ready(client)
        r = score(client, reading)
        assert r.status_code == 200 and r.json()["model_version"] == "1"
        assert r.json()["results"][0]["failure_probability"] == served
        assert client.get("/v1/model", headers=auth()).json()["source"] == "cache"
        wait_for(lambda: metric(client, "xfmr_registry_errors_total") >= 2)  # the poller keeps trying


def test_tampered_cache_is_not_served(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good")
    home = tmp_path / "home"
    with TestClient(create_app(make_settings(tmp_path, registry.uri, name, home=home))) as client:
        wait_ready(client)
    booster = next((home / "serving-cache").rglob("model.ubj"))
    booster.write_bytes(booster.read_bytes()[:-8])
    offline = make_settings(tmp_path, UNREACHABLE, name, home=home, registry_timeout_s=1)
    with TestClient(create_app(offline)) as client:
        time.sleep(0.8)
        assert client.get("/health/ready").status_code == 503


def test_registry_down_without_cache_stays_not_ready(registry: Registry, tmp_path: Path) -> None:
    offline = make_settings(tmp_path, UNREACHABLE, "never_served", registry_timeout_s=1)
    with TestClient(create_app(offline)) as client:
        wait_for(lambda: metric(client, "xfmr_registry_errors_total") >= 2)
        assert client.get("/health/ready").status_code == 503
        assert client.get("/health/live").status_code == 200
