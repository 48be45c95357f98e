"""The training flow end to end on a tiny fleet: lineage, aliases, the gate, reproducibility, rollback.

One registry is shared by the module (training is the expensive part): run 1 becomes the champion,
run 2 on the same data is rejected, a shuffled-label challenger is rejected, then promote/rollback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.flows.conftest import SMALL_CONFIG, isolated_home

pytestmark = pytest.mark.usefixtures("prefect_harness")

NAME = "transformer_failure"
LINEAGE_TAGS = {"data_digest", "git_commit", "git_dirty", "flow_run_id", "feature_list", "holdout_digest", "trigger"}


@dataclass
class Registry:
    home: Path
    first: Any
    second: Any


def _train(fleet: Path, trigger: str = "manual") -> Any:
    from flows.training import training_flow

    return training_flow(data_dir=str(fleet), trigger=trigger, config=SMALL_CONFIG)


def _champion() -> str:
    return str(MlflowClient().get_model_version_by_alias(NAME, "champion").version)


@pytest.fixture(scope="module")
def registry(tiny_fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with isolated_home(tmp_path_factory.mktemp("registry")) as home:
        first = _train(tiny_fleet)
        second = _train(tiny_fleet, trigger="schedule")
        yield Registry(home, first, second)


def test_first_run_registers_a_champion_with_full_lineage(registry: Registry) -> None:
    outcome, client = registry.first, MlflowClient()
    assert outcome.version == "1" and outcome.decision.promote
    mv = client.get_model_version(NAME, "1")
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
    card = mlflow.artifacts.load_text(f"runs:/{outcome.run_id}/model_card.md")
    assert "c57_104_rule" in card and "Intended use" in card


def test_pyfunc_returns_probabilities_and_model_is_not_pickled(registry: Registry) -> None:
    uri = f"models:/{NAME}/{registry.first.version}"
    local = Path(mlflow.artifacts.download_artifacts(uri))
    assert not list(local.rglob("*.pkl")) and not list(local.rglob("*.pickle"))
    assert list(local.rglob("model.ubj"))
    golden = pd.read_parquet(next(local.rglob("golden_readings.parquet")))
    prob = mlflow.pyfunc.load_model(uri).predict(golden.drop(columns=["expected_probability"]))
    values = prob["failure_probability"].to_numpy()
    assert ((values >= 0) & (values <= 1)).all()
    np.testing.assert_allclose(values, golden["expected_probability"].to_numpy(), rtol=1e-6)


def test_rerun_on_same_data_gives_same_metrics_and_keeps_the_champion(registry: Registry) -> None:
    assert registry.first.metrics == registry.second.metrics
    assert not registry.second.decision.promote  # no gain over an identical champion
    client = MlflowClient()
    assert _champion() == registry.first.version
    assert str(client.get_model_version_by_alias(NAME, "challenger").version) == registry.second.version
    assert client.get_model_version(NAME, registry.second.version).tags["gate.decision"] == "rejected"
    assert client.get_model_version(NAME, registry.second.version).tags["gate.trigger"] == "schedule"


def test_worse_challenger_is_rejected_and_champion_unchanged(registry: Registry, tiny_fleet: Path) -> None:
    from flows.gating import register_and_gate
    from flows.settings import load_settings
    from tasks.evaluate import evaluate
    from tasks.sources import load_fleet
    from tasks.split import Split, time_split
    from tasks.tracking import log_training_run
    from tasks.train import fit_model

    champion = _champion()
    data = load_fleet(tiny_fleet).with_modeling_table(SMALL_CONFIG.labels)
    parts = time_split(data.table.frame, SMALL_CONFIG.split, SMALL_CONFIG.labels)
    shuffled = parts.train.assign(label=np.random.default_rng(0).permutation(parts.train["label"].to_numpy()))
    bad = Split(shuffled, parts.validation, parts.holdout, parts.kind, parts.windows, parts.purged_rows)
    fit = fit_model(bad, data.table.feature_columns, SMALL_CONFIG.model, data.table.feature_labels)
    scores = {"model": fit.model.predict_proba(parts.holdout), **data.baseline_scores(parts.holdout)}
    evaluation = evaluate(parts.holdout, scores["model"], {k: v for k, v in scores.items() if k != "model"}, 5.0)
    settings = load_settings()
    logged = log_training_run(
        table=data.table, split=parts, fit=fit, evaluation=evaluation, config=SMALL_CONFIG,
        data_digest=data.digest, data_source="test", experiment=settings.model_name, flow_run_id=None,
        trigger="manual", artifact_location=settings.artifact_location,
    )
    outcome = register_and_gate(
        logged=logged, split=parts, fit=fit, evaluation=evaluation, gate_settings=SMALL_CONFIG.gate,
        top_k_pct=5.0, trigger="manual", trigger_detail="shuffled labels", settings=settings,
    )
    assert not outcome.decision.promote
    assert outcome.decision.checks["pr_auc_gain"] is False
    assert outcome.champion_version == champion == _champion()


def test_promote_and_rollback_are_recorded(registry: Registry) -> None:
    from tasks.registry import promote, rollback

    client = MlflowClient()
    first, second = registry.first.version, registry.second.version
    record = promote(client, NAME, second, reason="test promote")
    assert record.champion_before == first and record.champion_after == second
    assert str(client.get_model_version_by_alias(NAME, "previous_champion").version) == first
    back = rollback(client, NAME, reason="bad field results")
    assert back.champion_after == first and _champion() == first
    tags = client.get_model_version(NAME, first).tags
    assert tags["gate.record"].startswith("promotion/rollback-")
