"""The failure model as training writes it and serving reads it: native XGBoost, calibration, feature list."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

BOOSTER_FILE = "model.ubj"
MODEL_ARTIFACT = "failure_model"  # name of the native model folder inside the MLflow model
META_FILE = "model_meta.json"


@dataclass(frozen=True)
class Explanation:
    """One feature's push on one prediction, in log-odds."""

    feature: str
    label: str
    value: float | None
    contribution: float


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the booster margin: p = sigmoid(slope * margin + intercept)."""

    slope: float = 1.0
    intercept: float = 0.0
    method: str = "none"


@dataclass
class FailureModel:
    """A fitted booster plus everything needed to turn its margin into a calibrated probability."""

    booster: xgb.Booster
    feature_columns: tuple[str, ...]
    calibration: Calibration = Calibration()
    feature_labels: dict[str, str] = field(default_factory=dict)

    def _matrix(self, features: pd.DataFrame) -> xgb.DMatrix:
        missing = [c for c in self.feature_columns if c not in features.columns]
        if missing:
            raise ValueError(f"features lack column(s) the model needs: {', '.join(missing)}")
        values = features.loc[:, list(self.feature_columns)].to_numpy(dtype=np.float32)
        return xgb.DMatrix(values, feature_names=list(self.feature_columns), missing=np.nan)

    def margin(self, features: pd.DataFrame) -> np.ndarray:
        """Return the raw booster log-odds (before calibration)."""
        return np.asarray(self.booster.predict(self._matrix(features), output_margin=True), dtype=float)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Return the calibrated failure probability per row."""
        z = self.calibration.slope * self.margin(features) + self.calibration.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def contributions(self, features: pd.DataFrame) -> np.ndarray:
        """Return XGBoost's per-row feature contributions (n x features; bias column dropped)."""
        contribs = self.booster.predict(self._matrix(features), pred_contribs=True)
        return np.asarray(contribs[:, :-1], dtype=float)

    def explain(self, features: pd.DataFrame, top: int = 3) -> list[list[Explanation]]:
        """Return the `top` features pushing each row's risk up or down the most."""
        contribs = self.contributions(features)
        values = features.loc[:, list(self.feature_columns)].to_numpy(dtype=float)
        order = np.argsort(-np.abs(contribs), axis=1)[:, :top]
        out: list[list[Explanation]] = []
        for i, idx in enumerate(order):
            row = []
            for j in idx:
                name = self.feature_columns[j]
                v = values[i, j]
                row.append(
                    Explanation(
                        feature=name,
                        label=self.feature_labels.get(name, name),
                        value=None if np.isnan(v) else float(v),
                        contribution=float(contribs[i, j]),
                    )
                )
            out.append(row)
        return out

    def save(self, folder: Path) -> Path:
        """Write the booster in XGBoost's native format and the metadata as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / BOOSTER_FILE))
        meta = {
            "feature_columns": list(self.feature_columns),
            "feature_labels": self.feature_labels,
            "calibration": {
                "slope": self.calibration.slope,
                "intercept": self.calibration.intercept,
                "method": self.calibration.method,
            },
            "booster_sha256": file_sha256(folder / BOOSTER_FILE),
        }
        (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        return folder

    @classmethod
    def load(cls, folder: Path) -> FailureModel:
        """Read a model written by `save`, checking the booster file against its recorded hash."""
        meta_path = folder / META_FILE
        booster_path = folder / BOOSTER_FILE
        if not meta_path.is_file() or not booster_path.is_file():
            raise ValueError(f"{folder}: not a model folder (needs {BOOSTER_FILE} and {META_FILE})")
        meta = json.loads(meta_path.read_text())
        expected = meta.get("booster_sha256")
        if expected and file_sha256(booster_path) != expected:
            raise ValueError(f"{booster_path}: content hash does not match {META_FILE}; file is corrupt")
        booster = xgb.Booster()
        booster.load_model(str(booster_path))
        cal = meta.get("calibration", {})
        return cls(
            booster=booster,
            feature_columns=tuple(meta["feature_columns"]),
            calibration=Calibration(
                slope=float(cal.get("slope", 1.0)),
                intercept=float(cal.get("intercept", 0.0)),
                method=str(cal.get("method", "none")),
            ),
            feature_labels=dict(meta.get("feature_labels", {})),
        )


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def native_model_dir(model_dir: Path) -> Path:
    """Find the native model folder inside a downloaded pyfunc model (read from its MLmodel file)."""
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        raise ValueError(f"{model_dir}: no MLmodel file; not an MLflow model")
    import yaml

    spec = yaml.safe_load(mlmodel.read_text())
    artifacts = spec.get("flavors", {}).get("python_function", {}).get("artifacts", {})
    entry = artifacts.get(MODEL_ARTIFACT)
    if not entry:
        raise ValueError(f"{model_dir}: MLmodel lists no '{MODEL_ARTIFACT}' artifact")
    return model_dir / entry["path"]
