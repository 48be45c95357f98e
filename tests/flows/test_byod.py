"""Training on a utility's own export through a dataset spec (no time column: stratified random split)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.flows.conftest import SMALL_CONFIG
from tests.tasks.test_dataset_spec import asset_export, write_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_training_flow_runs_on_a_dataset_spec(make_fleet, xfmr_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flows.training import training_flow

    export = asset_export(make_fleet(assets=240, years=1.0, seed=5, failure_rate=0.25, data_fault_rate=0.0))
    export.to_excel(tmp_path / "assets.xlsx", index=False)
    spec = write_spec(tmp_path, "assets.xlsx")
    outcome = training_flow(dataset_spec=str(spec), config=SMALL_CONFIG)

    run = MlflowClient().get_run(outcome.run_id)
    assert run.data.tags["split_kind"] == "random_stratified"
    assert run.data.tags["data_source"].startswith("dataset spec")
    assert 0.0 <= outcome.metrics["pr_auc"] <= 1.0
    assert "c57_104_rule" in outcome.baselines  # gases were mapped, so the C57.104 rule is scored too
    assert "true_hazard" not in outcome.baselines
    features = run.data.params["data.feature_count"]
    assert int(features) >= 20
