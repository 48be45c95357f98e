"""Bring-your-own-data: a spec over a one-row-per-asset export with a yes/no label and no time column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tasks.dataset_spec import load_spec_data, read_spec

GAS_COLUMNS = {"h2": "H2_ppm", "ch4": "CH4_ppm", "c2h6": "C2H6_ppm", "c2h4": "C2H4_ppm", "c2h2": "C2H2_ppm",
               "co": "CO_ppm", "co2": "CO2_ppm"}


def asset_export(fleet: Path) -> pd.DataFrame:
    """One row per asset as a utility might export it: nameplate, last DGA, failed yes/no, a leaky cost column."""
    assets = pd.read_parquet(fleet / "assets.parquet")
    dga = pd.read_parquet(fleet / "dga.parquet").dropna(subset=["h2"]).sort_values("sampled_at")
    last = dga.groupby("transformer_id").tail(1).set_index("transformer_id")
    failed = set(pd.read_parquet(fleet / "failures.parquet")["transformer_id"])
    out = pd.DataFrame({
        "Asset ID": assets["transformer_id"],
        "kV": assets["voltage_kv"],
        "Year installed": assets["install_year"],
        "Cooling": assets["cooling"],
        "Preservation": assets["oil_preservation"],
    })
    for gas, column in GAS_COLUMNS.items():
        out[column] = out["Asset ID"].map(last[gas]).clip(lower=0)
    out["Failed"] = np.where(out["Asset ID"].isin(failed), "Yes", "No")
    out["Replacement cost"] = np.where(out["Failed"] == "Yes", 2.5e6, 0.0)  # known only after a failure
    return out.dropna(subset=list(GAS_COLUMNS.values())).reset_index(drop=True)


def write_spec(folder: Path, data_file: str, **overrides: object) -> Path:
    spec = {
        "name": "test utility",
        "files": [data_file],
        "id_column": "Asset ID",
        "label": {"column": "Failed"},
        "numeric": ["kV", "Year installed"],
        "categorical": ["Cooling"],
        "exclude": ["Replacement cost"],
        "ranges": {col: [0, 50000] for col in GAS_COLUMNS.values()},
        "canonical": {**GAS_COLUMNS, "oil_preservation": "Preservation"},
        **overrides,
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def export(make_fleet) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return asset_export(make_fleet(assets=240, years=1.0, seed=5, failure_rate=0.25, data_fault_rate=0.0))


def test_spec_builds_domain_features_without_time(export: pd.DataFrame, tmp_path: Path) -> None:
    export.to_csv(tmp_path / "assets.csv", index=False)
    data = load_spec_data(write_spec(tmp_path, "assets.csv"))
    assert not data.has_time and data.report["split"].startswith("random_stratified")
    cols = set(data.table.feature_columns)
    assert {"kV", "Year installed", "Cooling=ONAN", "c57_status_overall", "duval_zone_T1", "tdcg_log"} <= cols
    assert "Replacement cost" not in cols and "Failed" not in cols
    assert data.table.positives == int((export["Failed"] == "Yes").sum())
    assert len(data.digest) == 64


def test_excel_and_csv_give_the_same_table(export: pd.DataFrame, tmp_path: Path) -> None:
    export.to_csv(tmp_path / "assets.csv", index=False)
    export.to_excel(tmp_path / "assets.xlsx", index=False)
    csv = load_spec_data(write_spec(tmp_path, "assets.csv")).table.frame
    xlsx = load_spec_data(write_spec(tmp_path, "assets.xlsx")).table.frame
    pd.testing.assert_frame_equal(csv, xlsx, check_dtype=False)


def test_bad_rows_are_quarantined_with_reason(export: pd.DataFrame, tmp_path: Path) -> None:
    bad = export.copy()
    bad["H2_ppm"] = bad["H2_ppm"].astype(object)
    bad.loc[0, "H2_ppm"] = "n/a?"
    bad.loc[1, "CH4_ppm"] = -5.0
    bad.to_csv(tmp_path / "assets.csv", index=False)
    data = load_spec_data(write_spec(tmp_path, "assets.csv"))
    assert data.report["quarantined"] == {"bad_type": 1, "out_of_range": 1}
    assert data.report["rows_accepted"] == len(export) - 2


def test_missing_column_is_named(export: pd.DataFrame, tmp_path: Path) -> None:
    export.drop(columns=["CH4_ppm"]).to_csv(tmp_path / "assets.csv", index=False)
    with pytest.raises(ValueError, match="'CH4_ppm'.*canonical"):
        load_spec_data(write_spec(tmp_path, "assets.csv"))


def test_wrong_type_is_named(export: pd.DataFrame, tmp_path: Path) -> None:
    export.assign(kV="high voltage").to_csv(tmp_path / "assets.csv", index=False)
    with pytest.raises(ValueError, match="'kV' is declared numeric but holds text"):
        load_spec_data(write_spec(tmp_path, "assets.csv"))


def test_unknown_label_values_and_spec_fields_are_named(export: pd.DataFrame, tmp_path: Path) -> None:
    export.assign(Failed="maybe").to_csv(tmp_path / "assets.csv", index=False)
    with pytest.raises(ValueError, match="label column 'Failed'.*maybe"):
        load_spec_data(write_spec(tmp_path, "assets.csv"))
    with pytest.raises(ValueError, match="canonical"):
        read_spec(write_spec(tmp_path, "assets.csv", canonical={"hydrogen": "H2_ppm"}))
    with pytest.raises(ValueError, match="id_column"):
        spec = tmp_path / "s.yaml"
        spec.write_text(yaml.safe_dump({"files": ["assets.csv"], "label": {"column": "Failed"}}))
        read_spec(spec)


def test_leaky_column_cannot_be_a_feature(export: pd.DataFrame, tmp_path: Path) -> None:
    export.to_csv(tmp_path / "assets.csv", index=False)
    with pytest.raises(ValueError, match="exclude"):
        load_spec_data(write_spec(tmp_path, "assets.csv", numeric=["kV", "Replacement cost"]))
