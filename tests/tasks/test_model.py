"""Fitting, calibration and the native (pickle-free) model round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.config import ModelSettings
from tasks.model import BOOSTER_FILE, FailureModel
from tasks.split import Split, Window
from tasks.train import fit_model, positive_weight

FEATURES = ("gas", "age", "noise")


def _part(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gas = rng.gamma(2.0, 1.0, n)
    age = rng.uniform(0, 50, n)
    logit = -6.0 + 1.2 * gas + 0.03 * age
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"gas": gas, "age": age, "noise": rng.normal(size=n), "label": label})


def _split() -> Split:
    w = Window(None, None)
    return Split(_part(6000, 1), _part(3000, 2), _part(3000, 3), "random_stratified", {"train": w}, 0)


SMALL = ModelSettings(n_estimators=150, early_stopping_rounds=20, learning_rate=0.1)


def test_positive_weight_rules() -> None:
    y = np.array([0] * 99 + [1])
    assert positive_weight(y, "ratio") == 99.0
    assert positive_weight(y, "sqrt_ratio") == pytest.approx(np.sqrt(99))
    with pytest.raises(ValueError, match="no positive"):
        positive_weight(np.zeros(5), "ratio")


def test_fit_is_reproducible_and_calibrated() -> None:
    split = _split()
    a = fit_model(split, FEATURES, SMALL)
    b = fit_model(split, FEATURES, SMALL)
    pa = a.model.predict_proba(split.holdout)
    np.testing.assert_array_equal(pa, b.model.predict_proba(split.holdout))
    # Platt scaling undoes the positive weighting: mean predicted ~ observed rate.
    observed = split.holdout["label"].mean()
    assert abs(pa.mean() - observed) < 0.35 * observed
    uncalibrated = fit_model(split, FEATURES, SMALL.model_copy(update={"calibration": "none"}))
    assert uncalibrated.model.predict_proba(split.holdout).mean() > pa.mean()


def test_directional_more_gas_never_lowers_risk_much() -> None:
    split = _split()
    model = fit_model(split, FEATURES, SMALL.model_copy(update={"max_depth": 2})).model
    base = split.holdout.head(200).copy()
    more = base.assign(gas=base["gas"] + 3.0)
    assert (model.predict_proba(more) >= model.predict_proba(base) - 1e-3).mean() > 0.95


def test_save_and_load_without_pickle(tmp_path: Path) -> None:
    split = _split()
    model = fit_model(split, FEATURES, SMALL, feature_labels={"gas": "a gas"}).model
    folder = model.save(tmp_path / "m")
    assert not list(folder.glob("*.pkl"))
    loaded = FailureModel.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(split.holdout), model.predict_proba(split.holdout))
    assert loaded.feature_labels == {"gas": "a gas"}
    top = loaded.explain(split.holdout.head(2), top=2)
    assert len(top) == 2 and len(top[0]) == 2
    assert {e.feature for e in top[0]} <= set(FEATURES)


def test_corrupt_booster_is_refused(tmp_path: Path) -> None:
    model = fit_model(_split(), FEATURES, SMALL).model
    folder = model.save(tmp_path / "m")
    path = folder / BOOSTER_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="corrupt"):
        FailureModel.load(folder)


def test_missing_feature_is_named() -> None:
    model = fit_model(_split(), FEATURES, SMALL).model
    with pytest.raises(ValueError, match="noise"):
        model.predict_proba(pd.DataFrame({"gas": [1.0], "age": [3.0]}))
