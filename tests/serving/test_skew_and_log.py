"""Training/serving skew (same snapshot, same features) and the prediction log holding exactly the scored rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tasks.features import FEATURE_COLUMNS, compute_features
from tasks.snapshots import build_snapshots
from tests.serving.conftest import Registry, auth, make_settings
from tests.serving.factory import readings_json
from tests.serving.test_contract import wait_ready


def post(client: TestClient, readings: list[dict[str, Any]], request_id: str) -> Any:
    return client.post("/v1/score", content=json.dumps({"readings": readings}),
                       headers={"Content-Type": "application/json", "X-Request-ID": request_id, **auth()})


def read_log(folder: Path) -> pd.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    assert files, f"no prediction log under {folder}"
    return pd.concat([pd.read_parquet(f).assign(partition=f.parent.name) for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def fleet_snapshots(make_fleet) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """Readings of a small generated fleet, assembled point-in-time by the training pipeline's own code."""
    from tasks.ingest import ingest_folder

    tables = dict(ingest_folder(make_fleet(assets=6, years=1.0, seed=11)).tables)  # validated, as training sees them
    units = tables["assets"]["transformer_id"].astype(str).tolist()
    end = pd.to_datetime(tables["telemetry"]["timestamp"], utc=True).max().tz_localize(None)
    grid = pd.DataFrame([(u, end - pd.Timedelta(days=d)) for u in units for d in (3, 60, 150)],
                        columns=["transformer_id", "as_of"])
    return build_snapshots(tables, grid)


def test_served_features_equal_training_features_for_the_same_snapshot(
    registry: Registry, tmp_path: Path, fleet_snapshots: pd.DataFrame
) -> None:
    name = registry.new_model("good")
    settings = make_settings(tmp_path, registry.uri, name)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        r = post(client, readings_json(fleet_snapshots), "skew-check")
        assert r.status_code == 200, r.text
    served = r.json()["results"]
    logged = read_log(settings.log_dir)
    training = compute_features(fleet_snapshots).reset_index(drop=True)
    assert len(logged) == len(training) == len(served)
    # Exactly equal, NaN where training has NaN: one feature implementation, no drift through JSON.
    pd.testing.assert_frame_equal(logged.loc[:, list(FEATURE_COLUMNS)], training, check_exact=True)
    model = registry.logged["good"].model
    np.testing.assert_array_equal([x["failure_probability"] for x in served], model.predict_proba(training))
    explained = model.explain(training, top=3)
    assert [[f["feature"] for f in x["top_features"]] for x in served] == [[e.feature for e in row] for row in explained]


def test_prediction_log_holds_exactly_the_scored_rows(registry: Registry, tmp_path: Path) -> None:
    name = registry.new_model("good")
    settings = make_settings(tmp_path, registry.uri, name, log_flush_interval_s=60)  # only the shutdown flush writes
    readings = readings_json(registry.logged["good"].readings.head(40))
    sent: dict[str, list[str]] = {}
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        for i, size in enumerate((1, 7, 1, 31)):
            batch = readings[i : i + size]
            assert post(client, batch, f"req-{i}").status_code == 200
            sent[f"req-{i}"] = [r["transformer_id"] for r in batch]
        assert post(client, [{**readings[0], "h2": -1.0}], "rejected").status_code == 422
        assert not list(settings.log_dir.rglob("*.parquet"))  # nothing written on the request path
    log = read_log(settings.log_dir)
    assert len(log) == sum(len(v) for v in sent.values())
    assert set(log["request_id"]) == set(sent)
    for request_id, ids in sent.items():
        assert log.loc[log["request_id"] == request_id, "transformer_id"].tolist() == ids
    assert (log["model_version"] == "1").all() and (log["model_name"] == name).all()
    assert (log["latency_ms"] > 0).all() and log["failure_probability"].between(0, 1).all()
    assert set(FEATURE_COLUMNS) <= set(log.columns)
    days = pd.to_datetime(log["scored_at"]).dt.strftime("date=%Y-%m-%d")
    assert (days == log["partition"]).all()
