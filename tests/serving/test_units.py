"""Code tests of the serving parts: settings fail loudly, keys, risk bands, scoring equals the training model's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from serving.auth import KeyRing, hash_key
from serving.scoring import ReadingBatch, risk_bands, score_readings
from serving.trees import build_tables
from serving.schemas import score_request_model
from serving.settings import ServingSettings
from tasks.features import compute_features
from tests.serving.factory import readings_json, synthetic_readings, train_tiny_model

GOOD_HASH = hash_key("k")


def test_settings_fail_loudly_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XFMR_API_KEYS", raising=False)
    with pytest.raises(ValidationError, match="api_keys"):
        ServingSettings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"XFMR_API_KEYS": "plaintext-secret"}, "not 64-character SHA-256"),
        ({"XFMR_API_KEYS": GOOD_HASH, "XFMR_RISK_BANDS": "0.5,0.2,0.8"}, "ascend"),
        ({"XFMR_API_KEYS": GOOD_HASH, "XFMR_RISK_BANDS": "0.5"}, "3 thresholds"),
        ({"XFMR_API_KEYS": GOOD_HASH, "XFMR_MAX_BATCH": "0"}, "max_batch"),
    ],
)
def test_bad_settings_name_the_value(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError, match=message):
        ServingSettings(_env_file=None)  # type: ignore[call-arg]


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XFMR_API_KEYS", f"{GOOD_HASH.upper()}, {hash_key('other')}")
    monkeypatch.setenv("XFMR_HOME", str(tmp_path))
    monkeypatch.setenv("XFMR_RISK_BANDS", "0.1,0.3,0.6")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    s = ServingSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.api_keys == (GOOD_HASH, hash_key("other"))
    assert s.risk_bands == (0.1, 0.3, 0.6)
    assert s.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert s.log_dir == tmp_path / "predictions" and s.model_name == "transformer_failure"


def test_key_ring_accepts_every_configured_key_and_nothing_else() -> None:
    ring = KeyRing([hash_key("old"), hash_key("new")])
    assert ring.accepts("old") and ring.accepts("new")
    assert not ring.accepts("") and not ring.accepts("old ") and not ring.accepts(hash_key("old"))


def test_key_tool_prints_a_key_and_its_hash() -> None:
    out = subprocess.run([sys.executable, "-m", "serving.keys", "new"], capture_output=True, text=True, check=True)
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines() if ": " in line)
    assert hash_key(lines["key"].strip()) == lines["hash"].strip()


def test_risk_bands_use_the_thresholds() -> None:
    p = np.array([0.0, 0.049, 0.05, 0.19, 0.2, 0.7, 1.0])
    assert risk_bands(p, (0.05, 0.2, 0.5)) == ["low", "low", "medium", "medium", "high", "critical", "critical"]


@pytest.mark.parametrize("with_tables", [True, False], ids=["tables", "xgboost"])
def test_service_scores_equal_the_training_model(with_tables: bool) -> None:
    tiny = train_tiny_model(seed=4)
    readings = synthetic_readings(50, seed=9)
    body = json.dumps({"readings": readings_json(readings)})
    validated = score_request_model(100).model_validate_json(body).readings  # the service parses JSON
    tables = build_tables(tiny.model.booster) if with_tables else None
    scores = score_readings(tiny.model, ReadingBatch.from_models(validated), top=4, tables=tables)
    features = compute_features(readings)
    np.testing.assert_array_equal(scores.values, features.to_numpy())
    np.testing.assert_array_equal(scores.probability, tiny.model.predict_proba(features))
    # Same top features as XGBoost's own contributions (summed in float64 here, float32 in XGBoost: ~1e-7 apart;
    # compared by strength, since features with equal strength may come in either order).
    reference = tiny.model.contributions(features)
    got = np.take_along_axis(reference, scores.top_index, axis=1)
    np.testing.assert_allclose(scores.top_contribution, got, rtol=1e-5, atol=1e-6)
    strongest = -np.sort(-np.abs(reference), axis=1)[:, :4]
    np.testing.assert_allclose(np.abs(scores.top_contribution), strongest, rtol=1e-5, atol=1e-6)
    # Half the rows without explanations (enough for XGBoost's own margins): same probabilities, and the
    # explained rows keep their top features.
    half = np.arange(len(readings)) % 2 == 0
    partial = score_readings(tiny.model, ReadingBatch.from_models(validated), top=4, explain_rows=half, tables=tables)
    np.testing.assert_array_equal(partial.probability, scores.probability)
    np.testing.assert_array_equal(partial.top_index[half], scores.top_index[half])
    assert not partial.explained[~half].any() and (partial.top_index[~half] == 0).all()


def test_directional_more_acetylene_never_lowers_risk_much() -> None:
    tiny = train_tiny_model(seed=5)
    base = synthetic_readings(100, seed=2)
    more = base.assign(c2h2=base["c2h2"].fillna(0) + 20.0)
    p0 = score_readings(tiny.model, base, top=0).probability
    p1 = score_readings(tiny.model, more, top=0).probability
    assert (p1 >= p0 - 1e-3).mean() > 0.95


ROOT = Path(__file__).resolve().parents[2]


def test_env_example_documents_every_serving_setting() -> None:
    documented = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#") and "=" in line}
    expected = {"MLFLOW_TRACKING_URI" if name == "mlflow_tracking_uri" else f"XFMR_{name.upper()}"
                for name in ServingSettings.model_fields}
    assert expected - documented == set()


def test_serving_image_installs_no_prefect_or_evidently() -> None:
    lock = (ROOT / "requirements-serving.lock").read_text().lower()
    assert "prefect" not in lock and "evidently" not in lock
    dockerfile = (ROOT / "serving" / "Dockerfile").read_text()
    assert "requirements-serving.lock" in dockerfile and "--no-deps" in dockerfile
    assert "USER xfmr" in dockerfile and "/health/ready" in dockerfile and "python:3.11-slim" in dockerfile


def test_load_settings_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from serving.settings import load_settings

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("XFMR_API_KEYS", raising=False)
    monkeypatch.setenv("XFMR_MAX_BATCH", "0")
    with pytest.raises(ValueError, match=r"XFMR_API_KEYS: Field required; XFMR_MAX_BATCH: .*greater than or equal to 1"):
        load_settings()


def test_freed_request_buffers_are_reused_not_faulted_in_again() -> None:
    """With the service's allocator settings, buffers freed after a request come back without page faults."""
    import subprocess
    import sys

    probe = (
        "import resource, sys\n"
        "if sys.argv[1] == 'tuned':\n"
        "    from serving.app import keep_freed_memory\n"
        "    assert keep_freed_memory()\n"
        "def request():\n"
        "    held = [bytearray(4 * 2**20) for _ in range(5)]\n"  # 20 MB of buffers at once, then freed
        "    del held\n"
        "for _ in range(3):\n"
        "    request()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(10):\n"
        "    request()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", probe, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    # glibc's defaults hand the freed 20 MB back to the kernel each time: ~5,000 faults per request.
    assert faults("default") > 10_000
    assert faults("tuned") < 500
