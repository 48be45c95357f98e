"""HTTP contract: every bad input gets a 4xx JSON error naming the field and reason; auth; docs; OpenAPI example."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.schemas import EXAMPLE_READING, score_request_model
from tests.serving.conftest import API_KEY, ROTATED_KEY, Registry, auth, make_settings
from tests.serving.factory import readings_json

MAX_BATCH = 20
MAX_BODY = 64_000


def wait_ready(client: TestClient, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get("/health/ready").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("service did not become ready")


@pytest.fixture(scope="module")
def client(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    name = registry.new_model("good")
    settings = make_settings(tmp_path_factory.mktemp("contract"), registry.uri, name, max_batch=MAX_BATCH,
                             max_body_bytes=MAX_BODY)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        wait_ready(c)
        yield c


@pytest.fixture(scope="module")
def reading(registry: Registry) -> dict[str, Any]:
    return readings_json(registry.logged["good"].readings.head(1))[0]


def post(client: TestClient, content: bytes | str, headers: dict[str, str] | None = None) -> Any:
    return client.post("/v1/score", content=content,
                       headers={"Content-Type": "application/json", **auth(), **(headers or {})})


def assert_error(response: Any, status: int, field: str, reason_part: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert "Traceback" not in response.text and "File \"" not in response.text
    assert body["request_id"] and body["message"]
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert field in fields, fields
    assert reason_part.lower() in fields[field].lower(), fields[field]
    return body


def with_reading(reading: dict[str, Any], **changes: Any) -> str:
    return json.dumps({"readings": [{**reading, **changes}]})


def test_a_valid_reading_is_scored_with_version_and_request_id(client: TestClient, reading: dict[str, Any]) -> None:
    r = post(client, json.dumps({"readings": [reading, reading]}), {"X-Request-ID": "scada-42"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["request_id"] == "scada-42" == r.headers["x-request-id"]
    assert body["model_version"] == "1" and body["model_name"].startswith("xfmr_test_")
    first = body["results"][0]
    assert first["transformer_id"] == reading["transformer_id"]
    assert 0.0 <= first["failure_probability"] <= 1.0
    assert first["risk_band"] in {"low", "medium", "high", "critical"}
    assert len(first["top_features"]) == 3 and all(f["label"] for f in first["top_features"])
    assert len(post(client, json.dumps({"readings": [reading]})).headers["x-request-id"]) == 32  # generated


def test_malformed_json_is_400(client: TestClient) -> None:
    assert_error(post(client, b'{"readings": [ {"h2": 1,'), 400, "body", "malformed JSON")


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"h2": -4.0}, "readings[0].h2", ">= 0 ppm"),
        ({"co2": 1e9}, "readings[0].co2", "<= 100000 ppm"),
        ({"hot_spot_max_30d": 900.0}, "readings[0].hot_spot_max_30d", "<= 400 degC"),
        ({"ambient_mean_30d": -80.0}, "readings[0].ambient_mean_30d", ">= -60 degC"),
        ({"load_max_30d": 7.5}, "readings[0].load_max_30d", "<= 3 p.u."),
        ({"install_year": 1800}, "readings[0].install_year", ">= 1940"),
        ({"h2": "lots"}, "readings[0].h2", "expected a number"),
        ({"h2": "12.5"}, "readings[0].h2", "expected a number"),
        ({"install_year": 1990.5}, "readings[0].install_year", "integer"),
        ({"transformer_id": 42}, "readings[0].transformer_id", "expected a string"),
        ({"as_of": "yesterday"}, "readings[0].as_of", "timestamp"),
        ({"cooling": "AIR"}, "readings[0].cooling", "one of"),
        ({"voltage_kv": None}, "readings[0].voltage_kv", "must not be null"),
        ({"transformer_id": None}, "readings[0].transformer_id", "must not be null"),
        ({"colour": "blue"}, "readings[0].colour", "unknown field"),
    ],
)
def test_bad_values_are_422_naming_field_and_reason(
    client: TestClient, reading: dict[str, Any], changes: dict[str, Any], field: str, reason: str
) -> None:
    assert_error(post(client, with_reading(reading, **changes)), 422, field, reason)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client: TestClient, reading: dict[str, Any], literal: str) -> None:
    text = with_reading(reading, c2h2=123456.0).replace("123456.0", literal)
    body = assert_error(post(client, text), 422, "readings[0].c2h2", "finite")
    assert "NaN" in body["errors"][0]["reason"]


def test_missing_field_is_named(client: TestClient, reading: dict[str, Any]) -> None:
    partial = {k: v for k, v in reading.items() if k != "moisture_ppm"}
    assert_error(post(client, json.dumps({"readings": [partial]})), 422, "readings[0].moisture_ppm", "missing")


def test_nullable_field_accepts_null(client: TestClient, reading: dict[str, Any]) -> None:
    assert post(client, with_reading(reading, furan_2fal_ppb=None, base_h2=None)).status_code == 200


def test_batch_shape_errors(client: TestClient, reading: dict[str, Any]) -> None:
    assert_error(post(client, json.dumps({"readings": []})), 422, "readings", "empty batch")
    assert_error(post(client, json.dumps({"readings": [reading] * (MAX_BATCH + 1)})), 422, "readings",
                 f"at most {MAX_BATCH}")
    assert_error(post(client, json.dumps({"reading": [reading]})), 422, "readings", "missing")
    assert_error(post(client, json.dumps([reading])), 422, "body", "object")
    assert_error(post(client, json.dumps({"readings": [reading, 7]})), 422, "readings[1]", "object")


def test_second_reading_error_is_located(client: TestClient, reading: dict[str, Any]) -> None:
    bad = {**reading, "c2h2": -1.0}
    assert_error(post(client, json.dumps({"readings": [reading, bad]})), 422, "readings[1].c2h2", ">= 0")


def test_oversized_body_is_413(client: TestClient, reading: dict[str, Any]) -> None:
    huge = json.dumps({"readings": [reading] * 100})
    assert len(huge) > MAX_BODY
    assert_error(post(client, huge), 413, "body", "exceeds")


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"readings": ['
        for _ in range(200):
            yield b'{"transformer_id": "' + b"x" * 1000 + b'"},'
        yield b"]}"

    r = client.post("/v1/score", content=chunks(), headers={"Content-Type": "application/json", **auth()})
    assert_error(r, 413, "body", "exceeds")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_415(client: TestClient, reading: dict[str, Any], content_type: str) -> None:
    r = client.post("/v1/score", content=json.dumps({"readings": [reading]}),
                    headers={"Content-Type": content_type, **auth()})
    assert_error(r, 415, "Content-Type", "application/json")


def test_missing_content_type_is_415(client: TestClient) -> None:
    r = client.post("/v1/score", content=b"{}", headers=auth())
    assert_error(r, 415, "Content-Type", "application/json")


def test_auth_is_required_and_keys_rotate(client: TestClient, reading: dict[str, Any]) -> None:
    body = json.dumps({"readings": [reading]})
    no_key = client.post("/v1/score", content=body, headers={"Content-Type": "application/json"})
    assert_error(no_key, 401, "Authorization", "missing")
    assert no_key.headers["www-authenticate"] == "Bearer"
    wrong = post(client, body, auth("not-a-key"))
    assert_error(wrong, 401, "Authorization", "not recognised")
    basic = post(client, body, {"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    for key in (API_KEY, ROTATED_KEY):  # both hashes configured: old and new key work during rotation
        assert post(client, body, auth(key)).status_code == 200
    assert client.get("/v1/model").status_code == 401
    assert client.get("/v1/model", headers=auth(ROTATED_KEY)).status_code == 200


def test_health_and_metrics_are_open(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "ok", "model_version": None, "reason": None}
    assert client.get("/health/ready").status_code == 200
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "xfmr_http_requests_total" in metrics.text


def test_unknown_path_is_json_404(client: TestClient) -> None:
    assert_error(client.get("/v2/score", headers=auth()), 404, "path", "not found")


def test_model_endpoint_describes_the_version(client: TestClient) -> None:
    info = client.get("/v1/model", headers=auth()).json()
    assert info["version"] == "1" and info["alias"] == "champion" and info["source"] == "registry"
    assert info["data_digest"] == "digest-good" and info["git_commit"] == "abc123"
    assert info["metrics"]["model.pr_auc"] == pytest.approx(0.5) and info["feature_count"] > 50


def test_openapi_documents_a_valid_example_request(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/v1/score"]["post"]
    example = op["requestBody"]["content"]["application/json"]["example"]
    score_request_model(MAX_BATCH).model_validate_json(json.dumps(example))  # the example itself is valid input
    assert example["readings"][0] == EXAMPLE_READING
    assert "ScoreRequest" in spec["components"]["schemas"] and "Reading" in spec["components"]["schemas"]
    assert {"200", "401", "413", "415", "422"} <= set(op["responses"])
    assert op["responses"]["200"]["content"]["application/json"]["example"]["results"]
    r = post(client, json.dumps(example))
    assert r.status_code == 200, r.text


def test_docs_can_be_disabled(registry: Registry, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, registry.uri, "unused", docs_enabled=False)
    with TestClient(create_app(settings)) as c:
        assert c.get("/docs").status_code == 404
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/health/live").status_code == 200


def test_explain_false_skips_top_features_but_not_the_score(client: TestClient, reading: dict[str, Any]) -> None:
    body = json.dumps({"readings": [reading]})
    full = post(client, body).json()["results"][0]
    lean = client.post("/v1/score?explain=false", content=body,
                       headers={"Content-Type": "application/json", **auth()}).json()["results"][0]
    assert lean["top_features"] == [] and full["top_features"]
    assert lean["failure_probability"] == full["failure_probability"]
    bad = client.post("/v1/score?explain=maybe", content=body, headers={"Content-Type": "application/json", **auth()})
    assert_error(bad, 422, "query.explain", "true or false")


@pytest.mark.parametrize("query", ["", "?explain=false", "?explain=1&dedupe=0"])
def test_fast_path_and_route_answer_alike(client: TestClient, registry: Registry, query: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Plain flags are served by serving.fast_score; spellings only the framework parses ("yes", "off")
    # fall through to the FastAPI route. Same request id, same document.
    import serving.routes

    routed: list[str] = []
    real = serving.routes.score_body

    async def counted(*args: Any, **kwargs: Any) -> bytes:
        routed.append("route")
        return await real(*args, **kwargs)

    monkeypatch.setattr(serving.routes, "score_body", counted)
    body = json.dumps({"readings": readings_json(registry.logged["good"].readings.head(3))})
    spelled = query.replace("=false", "=off").replace("=1", "=yes").replace("=0", "=no") or "?explain=yes"
    answers = []
    for q in (query, spelled):
        r = client.post(f"/v1/score{q}", content=body,
                        headers={"Content-Type": "application/json", "X-Request-ID": "same-id", **auth()})
        assert r.status_code == 200, r.text
        answers.append((r.json(), r.headers["x-model-version"], r.headers["x-request-id"]))
    assert routed == ["route"]  # only the second spelling reached the framework
    assert answers[0] == answers[1]
    explained = [len(x["top_features"]) for x in answers[0][0]["results"]]
    assert explained == ([0, 0, 0] if "false" in query else [3, 3, 3])


@pytest.mark.parametrize("query", ["", "?explain=yes"], ids=["fast path", "route"])
def test_readings_the_feature_code_refuses_are_a_422(client: TestClient, reading: dict[str, Any], query: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import serving.batcher

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("column 'cooling' has unknown value(s) 'ONXX'")

    monkeypatch.setattr(serving.batcher, "score_readings", refuse)
    r = client.post(f"/v1/score{query}", content=json.dumps({"readings": [reading]}),
                    headers={"Content-Type": "application/json", **auth()})
    body = assert_error(r, 422, "readings", "unknown value")
    assert body["error"] == "invalid_input" and r.headers["x-request-id"] == body["request_id"]
