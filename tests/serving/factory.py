"""Seeded synthetic readings (READING_FIELDS) and tiny real models registered in a real MLflow registry."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.features import FEATURE_COLUMNS, FEATURE_DESCRIPTIONS, READING_FIELDS, compute_features
from tasks.model import BOOSTER_FILE, MODEL_ARTIFACT, META_FILE, Calibration, FailureModel, native_model_dir
from tasks.schema import GASES

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
GOLDEN_FILE = "golden_readings.parquet"
GOLDEN_ROWS = 32
# Typical spreads (not the physical limits, which are far wider): gas ppm medians and log-spread.
_GAS_MEDIAN = {"h2": 30.0, "ch4": 20.0, "c2h6": 15.0, "c2h4": 10.0, "c2h2": 0.5, "co": 300.0, "co2": 3000.0}


def synthetic_readings(n: int, seed: int = 0) -> pd.DataFrame:
    """Return `n` plausible readings with every READING_FIELDS column, within its physical range."""
    rng = np.random.default_rng(seed)
    as_of = pd.Timestamp("2024-06-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    frame: dict[str, object] = {
        "transformer_id": [f"T{i % 97:04d}" for i in range(n)],
        "as_of": as_of,
        "voltage_kv": rng.choice([33.0, 66.0, 132.0, 275.0, 400.0], n),
        "rated_mva": rng.choice([10.0, 30.0, 60.0, 120.0, 240.0], n),
        "install_year": rng.integers(1965, 2020, n),
        "cooling": rng.choice(["ONAN", "ONAF", "OFAF"], n),
        "oil_preservation": rng.choice(["sealed", "free_breathing"], n),
    }
    severity = rng.gamma(1.0, 1.0, n)
    for g in GASES:
        level = _GAS_MEDIAN[g] * np.exp(rng.normal(0.0, 0.8, n)) * (1.0 + severity)
        frame[g] = level
        frame[f"prev_{g}"] = level * np.exp(rng.normal(-0.1, 0.1, n))
        frame[f"base_{g}"] = level * np.exp(rng.normal(-0.3, 0.2, n))
    frame["moisture_ppm"] = rng.uniform(5, 40, n)
    frame["dga_age_days"] = rng.uniform(0, 60, n)
    frame["prev_gap_days"] = rng.uniform(20, 120, n)
    frame["base_gap_days"] = rng.uniform(122, 700, n)
    load = rng.uniform(0.3, 1.1, n)
    frame["load_mean_30d"] = load
    frame["load_max_30d"] = np.clip(load * rng.uniform(1.1, 1.5, n), 0, 3)
    frame["ambient_mean_30d"] = rng.uniform(-10, 35, n)
    frame["top_oil_max_30d"] = rng.uniform(40, 95, n)
    frame["hot_spot_max_30d"] = frame["top_oil_max_30d"] + rng.uniform(5, 30, n)  # type: ignore[operator]
    frame["faa_mean_30d"] = rng.uniform(0.01, 3.0, n)
    frame["hours_hot_spot_over_120c_30d"] = rng.uniform(0, 20, n)
    frame["aged_hours_total"] = rng.uniform(1e3, 1.5e5, n)
    frame["breakdown_kv"] = rng.uniform(25, 80, n)
    frame["acidity_mg_koh_g"] = rng.uniform(0.01, 0.3, n)
    frame["ift_mn_m"] = rng.uniform(15, 45, n)
    frame["furan_2fal_ppb"] = np.exp(rng.normal(5, 1.2, n))
    frame["oil_test_age_days"] = rng.uniform(0, 400, n)
    out = pd.DataFrame(frame)
    for column in READING_FIELDS:  # stay inside the physical ranges the API enforces
        if column.kind in ("float", "int") and (column.low is not None or column.high is not None):
            out[column.name] = out[column.name].clip(column.low, column.high)
    # A few gaps, as in real data (never in the identity, time or asset fields).
    for name in ("base_h2", "furan_2fal_ppb", "prev_c2h2"):
        out.loc[rng.random(n) < 0.05, name] = np.nan
    return out.loc[:, [c.name for c in READING_FIELDS]]


def readings_json(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Return readings as the JSON objects a client sends (timestamps ISO 8601, NaN as null)."""
    out = []
    for row in frame.to_dict(orient="records"):
        item: dict[str, object] = {}
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                item[key] = value.isoformat()
            elif isinstance(value, float) and np.isnan(value):
                item[key] = None
            elif isinstance(value, np.integer):
                item[key] = int(value)
            elif isinstance(value, np.floating):
                item[key] = float(value)
            else:
                item[key] = value
        out.append(item)
    return out


@dataclass(frozen=True)
class TinyModel:
    """A tiny fitted failure model and the readings it was trained on."""

    model: FailureModel
    readings: pd.DataFrame


def train_tiny_model(seed: int = 0, rows: int = 400, rounds: int = 30, depth: int = 3) -> TinyModel:
    # rounds/depth: tests keep them tiny; the benchmark asks for a realistically sized booster.
    """Fit a small real booster on compute_features of synthetic readings (label from a noisy rule)."""
    import xgboost as xgb

    readings = synthetic_readings(rows, seed=seed)
    features = compute_features(readings)
    rng = np.random.default_rng(seed + 1000)
    logit = -3.0 + 0.8 * features["c2h2_log_ppm"] + 0.02 * features["age_years"].fillna(0) + rng.normal(0, 0.5, rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit.to_numpy()))).astype(float)
    columns = list(FEATURE_COLUMNS)
    matrix = xgb.DMatrix(features[columns].to_numpy(dtype=np.float32), label=label, feature_names=columns, missing=np.nan)
    params = {"objective": "binary:logistic", "max_depth": depth, "learning_rate": 0.2, "seed": seed, "nthread": 1}
    booster = xgb.train(params, matrix, num_boost_round=rounds)
    model = FailureModel(
        booster=booster,
        feature_columns=tuple(columns),
        calibration=Calibration(slope=0.9, intercept=-0.1, method="platt"),
        feature_labels={c: FEATURE_DESCRIPTIONS[c] for c in columns},
    )
    return TinyModel(model=model, readings=readings)


def write_model_folder(tiny: TinyModel, folder: Path) -> Path:
    """Save the native model and its golden readings (with expected probabilities) into `folder`."""
    model_dir = tiny.model.save(folder / MODEL_ARTIFACT)
    golden = tiny.readings.head(GOLDEN_ROWS).copy()
    golden["expected_probability"] = tiny.model.predict_proba(compute_features(golden))
    golden.to_parquet(model_dir / GOLDEN_FILE, index=False)
    return model_dir


def corrupt_booster(model_dir: Path) -> None:
    """Truncate the booster so its content no longer matches the recorded SHA-256."""
    path = model_dir / BOOSTER_FILE
    path.write_bytes(path.read_bytes()[:-64])


def drop_feature(model_dir: Path) -> None:
    """Rewrite the metadata with one feature missing (a feature-list mismatch, hash still valid)."""
    import json

    meta_path = model_dir / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["feature_columns"] = meta["feature_columns"][:-1]
    meta_path.write_text(json.dumps(meta))


@dataclass(frozen=True)
class LoggedModel:
    """A model logged to a tracking store, ready to be registered under any name."""

    model_uri: str
    run_id: str
    readings: pd.DataFrame
    model: Any  # FailureModel, or None for damaged ones


@contextmanager
def tracking(uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at a registry (some registry calls read the global)."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def log_pyfunc_model(tiny: TinyModel, work: Path) -> LoggedModel:
    """Log a model exactly as tasks/tracking.py does: pyfunc from code, native model folder as artifact."""
    import mlflow
    from mlflow.models import infer_signature

    folder = write_model_folder(tiny, work / "good")
    example = tiny.readings.dropna().head(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        signature = infer_signature(example, pd.DataFrame({"failure_probability": [0.1, 0.2, 0.3][: len(example)]}))
        with mlflow.start_run(run_name="serving-good") as run:
            mlflow.log_metrics({"model.pr_auc": 0.5, "model.brier": 0.05})
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(TASKS_DIR / "pyfunc_model.py"),
                artifacts={MODEL_ARTIFACT: str(folder)},
                code_paths=[str(TASKS_DIR)],
                signature=signature,
                pip_requirements=["xgboost", "pandas", "numpy"],
            )
    return LoggedModel(info.model_uri, run.info.run_id, tiny.readings, tiny.model)


def log_variant(kind: str, base: Path, tiny: TinyModel | None, damage: Callable[[Path], None] | None,
                work: Path) -> LoggedModel:
    """Copy a downloaded MLflow model folder, swap in another booster and/or damage it, log it as run artifacts.

    Much faster than another log_model, and the registry serves the same layout.
    """
    import mlflow

    folder = work / kind
    shutil.copytree(base, folder)
    native = native_model_dir(folder)
    if tiny is not None:
        shutil.rmtree(native)
        write_model_folder(tiny, native.parent)
    if damage is not None:
        damage(native)
    with mlflow.start_run(run_name=f"serving-{kind}") as run:
        mlflow.log_metrics({"model.pr_auc": 0.6, "model.brier": 0.04})
        mlflow.log_artifacts(str(folder), artifact_path=kind)
    model = tiny.model if tiny is not None and damage is None else None
    return LoggedModel(f"runs:/{run.info.run_id}/{kind}", run.info.run_id,
                       tiny.readings if tiny is not None else pd.DataFrame(), model)
