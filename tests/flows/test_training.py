"""The training flow end to end on a tiny fleet: lineage, aliases, the gate, reproducibility, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tests.flows.conftest import SMALL_CONFIG

pytestmark = pytest.mark.usefixtures("prefect_harness")

LINEAGE_TAGS = {"data_digest", "git_commit", "git_dirty", "flow_run_id", "feature_list", "holdout_digest", "trigger"}


def _train(fleet: Path, trigger: str = "manual"):  # type: ignore[no-untyped-def]
    from flows.training import training_flow

    return training_flow(data_dir=str(fleet), trigger=trigger, config=SMALL_CONFIG)


def test_first_run_registers_a_champion_with_full_lineage(tiny_fleet: Path, xfmr_home: Path) -> None:
    outcome = _train(tiny_fleet)
    client = MlflowClient()
    assert outcome.version == "1" and outcome.decision.promote
    assert client.get_model_version_by_alias("transformer_failure", "champion").version == "1"
    assert client.get_model_version_by_alias("transformer_failure", "challenger").version == "1"

    mv = client.get_model_version("transformer_failure", "1")
    assert LINEAGE_TAGS <= set(mv.tags), LINEAGE_TAGS - set(mv.tags)
    assert len(mv.tags["data_digest"]) == 64 and mv.tags["gate.decision"] == "promoted"
    assert mv.tags["flow_run_id"] not in ("", "none")

    run = client.get_run(outcome.run_id)
    assert float(run.data.params["labels.horizon_days"]) == 90
    assert {"model.pr_auc", "model.brier", "model.top_k_recall", "c57_104_rule.pr_auc", "age_rule.pr_auc",
            "true_hazard.pr_auc", "ratio.pr_auc_vs_c57_104_rule"} <= set(run.data.metrics)
    assert run.inputs.dataset_inputs, "the training data is logged with mlflow.log_input"
    artifacts = {a.path for a in client.list_artifacts(outcome.run_id)}
    assert {"plots", "model_card.md", "promotion"} <= artifacts
    plots = {Path(a.path).name for a in client.list_artifacts(outcome.run_id, "plots")}
    assert {"pr_curves.png", "roc_curves.png", "reliability.png", "feature_importance.png", "shap_summary.png"} <= plots
    record = json.loads(mlflow.artifacts.load_text(f"runs:/{outcome.run_id}/{outcome.record_artifact}"))
    assert record["promoted"] is True and record["trigger"] == "manual"
    assert record["holdout_digest"] == mv.tags["holdout_digest"]


def test_pyfunc_returns_probabilities_and_model_is_not_pickled(tiny_fleet: Path, xfmr_home: Path) -> None:
    outcome = _train(tiny_fleet)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/transformer_failure/{outcome.version}"))
    assert not list(local.rglob("*.pkl")) and not list(local.rglob("*.pickle"))
    assert list(local.rglob("model.ubj"))
    model = mlflow.pyfunc.load_model(f"models:/transformer_failure/{outcome.version}")
    import pandas as pd

    example = pd.read_parquet(next(local.rglob("golden_readings.parquet")))
    readings = example.drop(columns=["expected_probability"])
    prob = model.predict(readings)["failure_probability"].to_numpy()
    assert ((prob >= 0) & (prob <= 1)).all()
    np.testing.assert_allclose(prob, example["expected_probability"].to_numpy(), rtol=1e-6)


def test_rerun_on_same_data_gives_same_metrics_and_keeps_the_champion(tiny_fleet: Path, xfmr_home: Path) -> None:
    first = _train(tiny_fleet)
    second = _train(tiny_fleet, trigger="schedule")
    assert first.metrics == second.metrics
    assert not second.decision.promote  # no gain over an identical champion
    client = MlflowClient()
    assert client.get_model_version_by_alias("transformer_failure", "champion").version == first.version
    assert client.get_model_version_by_alias("transformer_failure", "challenger").version == second.version
    assert client.get_model_version("transformer_failure", second.version).tags["gate.decision"] == "rejected"


def test_worse_challenger_is_rejected_and_champion_unchanged(tiny_fleet: Path, xfmr_home: Path) -> None:
    from flows.gating import register_and_gate
    from flows.settings import load_settings
    from tasks.config import LabelSettings
    from tasks.evaluate import evaluate
    from tasks.sources import load_fleet
    from tasks.split import time_split
    from tasks.tracking import log_training_run
    from tasks.train import fit_model

    champion = _train(tiny_fleet)
    data = load_fleet(tiny_fleet).with_modeling_table(SMALL_CONFIG.labels)
    parts = time_split(data.table.frame, SMALL_CONFIG.split, LabelSettings(horizon_days=90))
    rng = np.random.default_rng(0)
    shuffled = parts.train.assign(label=rng.permutation(parts.train["label"].to_numpy()))
    bad_split = type(parts)(shuffled, parts.validation, parts.holdout, parts.kind, parts.windows, parts.purged_rows)
    fit = fit_model(bad_split, data.table.feature_columns, SMALL_CONFIG.model, data.table.feature_labels)
    scores = {"model": fit.model.predict_proba(parts.holdout), **data.baseline_scores(parts.holdout)}
    evaluation = evaluate(parts.holdout, scores["model"], {k: v for k, v in scores.items() if k != "model"}, 5.0)
    settings = load_settings()
    logged = log_training_run(
        table=data.table, split=parts, fit=fit, evaluation=evaluation, scores=scores, config=SMALL_CONFIG,
        data_digest=data.digest, data_source="test", experiment=settings.model_name, flow_run_id=None,
        trigger="manual", artifact_location=settings.artifact_location,
    )
    outcome = register_and_gate(
        logged=logged, split=parts, fit=fit, evaluation=evaluation, gate_settings=SMALL_CONFIG.gate,
        top_k_pct=5.0, trigger="manual", trigger_detail="shuffled labels", settings=settings,
    )
    assert not outcome.decision.promote
    assert outcome.decision.checks["pr_auc_gain"] is False
    assert outcome.champion_version == champion.version
    assert MlflowClient().get_model_version_by_alias("transformer_failure", "champion").version == champion.version


def test_promote_and_rollback_are_recorded(tiny_fleet: Path, xfmr_home: Path) -> None:
    from tasks.registry import promote, rollback

    first = _train(tiny_fleet)
    second = _train(tiny_fleet)
    client = MlflowClient()
    record = promote(client, "transformer_failure", second.version, reason="test promote")
    assert record.champion_before == first.version and record.champion_after == second.version
    assert client.get_model_version_by_alias("transformer_failure", "previous_champion").version == first.version
    back = rollback(client, "transformer_failure", reason="bad field results")
    assert back.champion_after == first.version
    assert client.get_model_version_by_alias("transformer_failure", "champion").version == first.version
    tags = client.get_model_version("transformer_failure", first.version).tags
    assert tags["gate.record"].startswith("promotion/rollback-")
