"""Load a downloaded version and prove it fit to serve: intact booster, same features and signature, golden set reproduced."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from serving.registry_client import VersionRef
from serving.schemas import READING_FIELD_NAMES
from serving.scoring import score_readings
from serving.slots import ServedModel
from serving.trees import TreeTables, UnsupportedBooster, build_tables, verify
from tasks.features import FEATURE_COLUMNS
from tasks.model import FailureModel, native_model_dir

GOLDEN_FILE = "golden_readings.parquet"
GOLDEN_TOLERANCE = 1e-6
log = logging.getLogger("serving.model_check")


class ModelRefused(Exception):
    """A version that must not serve; `reason` is a short metric label, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _signature_inputs(model_dir: Path) -> list[str]:
    spec = yaml.safe_load((model_dir / "MLmodel").read_text())
    inputs = (spec.get("signature") or {}).get("inputs")
    if not inputs:
        raise ModelRefused("signature", f"{model_dir.name}: the MLmodel has no input signature")
    return [col.get("name", "") for col in json.loads(inputs)]


def load_checked(ref: VersionRef, model_dir: Path, source: str, top: int) -> ServedModel:
    """Return the version ready to serve, or raise ModelRefused naming what is wrong with it."""
    try:
        native = native_model_dir(model_dir)
    except ValueError as exc:
        raise ModelRefused("layout", str(exc)) from exc
    missing_inputs = sorted(set(READING_FIELD_NAMES) - set(_signature_inputs(model_dir)))
    if missing_inputs:
        raise ModelRefused("signature", f"signature lacks reading field(s) {', '.join(missing_inputs)}")
    try:
        model = FailureModel.load(native)
    except ValueError as exc:
        raise ModelRefused("corrupt", str(exc)) from exc
    except Exception as exc:  # xgboost refuses a damaged file with its own error type
        raise ModelRefused("corrupt", f"booster does not load: {exc}") from exc
    if model.feature_columns != FEATURE_COLUMNS:
        missing = [c for c in FEATURE_COLUMNS if c not in model.feature_columns]
        extra = [c for c in model.feature_columns if c not in FEATURE_COLUMNS]
        raise ModelRefused(
            "features",
            f"feature list differs from this service's feature code: missing {missing or 'none'}, "
            f"unexpected {extra or 'none'}" + ("" if missing or extra else " (same names, other order)"),
        )
    model.booster.set_param({"nthread": 1})  # one scoring thread; OpenMP fan-out costs more than it saves here
    golden = _read_golden(native / GOLDEN_FILE)
    tables = _tables(ref, model, golden)
    _check_golden(model, golden, top, tables)
    return ServedModel(ref=ref, model=model, source=source, folder=model_dir, loaded_at=datetime.now(UTC),
                       tables=tables)


def _tables(ref: VersionRef, model: FailureModel, golden: pd.DataFrame) -> TreeTables | None:
    """Tabulate the booster for serving.trees and prove it on the golden set; None (score with XGBoost) if it can't."""
    try:
        tables = build_tables(model.booster)
        values = score_readings(model, golden.loc[:, list(READING_FIELD_NAMES)], 0).values.astype(np.float32)
        values = np.vstack([values, np.full((1, values.shape[1]), np.nan, dtype=np.float32)])  # every default branch
        problem = verify(tables, model.booster, values, list(model.feature_columns))
    except (UnsupportedBooster, KeyError, ValueError) as exc:
        problem = str(exc)
    if problem is not None:
        log.warning("%s v%s is scored by XGBoost itself (slower): %s", ref.name, ref.version, problem)
        return None
    return tables


def _read_golden(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ModelRefused("golden", f"no {GOLDEN_FILE} in the model folder")
    golden = pd.read_parquet(path)
    if "expected_probability" not in golden.columns or golden.empty:
        raise ModelRefused("golden", f"{GOLDEN_FILE} has no rows or no expected_probability column")
    return golden


def _check_golden(model: FailureModel, golden: pd.DataFrame, top: int, tables: TreeTables | None) -> None:
    """Score the golden readings written at training time; outputs must be finite and equal the recorded ones."""
    try:
        scores = score_readings(model, golden.loc[:, list(READING_FIELD_NAMES)], top, tables=tables)
        score_readings(model, golden.loc[:, list(READING_FIELD_NAMES)].head(1), top, tables=tables)  # warm one-row path
    except (KeyError, ValueError) as exc:
        raise ModelRefused("golden", f"golden readings do not score: {exc}") from exc
    prob = scores.probability
    if not np.isfinite(prob).all() or ((prob < 0) | (prob > 1)).any():
        raise ModelRefused("golden", f"golden readings give {int((~np.isfinite(prob)).sum())} non-finite probabilities")
    expected = golden["expected_probability"].to_numpy(dtype=float)
    worst = float(np.max(np.abs(prob - expected)))
    if not worst <= GOLDEN_TOLERANCE:
        raise ModelRefused("golden", f"golden readings differ from training by up to {worst:.3g} (> {GOLDEN_TOLERANCE:g})")
