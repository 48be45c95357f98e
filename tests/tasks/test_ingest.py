"""Ingest and validation: every bad row quarantined with its reason, no good row lost, files that fail fast."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.ingest import IngestError, format_report, ingest_folder, write_ingested
from tasks.schema import MANIFEST_FILE, TABLES, TRUTH_DIR
from tasks.validation import REASONS

START = pd.Timestamp("2023-01-01", tz="UTC")
UNITS = ("T001", "T002", "T003", "T004")
Fleet = dict[str, pd.DataFrame]


def clean_fleet() -> Fleet:
    """Four units, three days of hourly telemetry, daily DGA, one oil test each, one failure."""
    assets = pd.DataFrame({
        "transformer_id": list(UNITS),
        "substation": ["S1", "S1", "S2", "S2"],
        "voltage_kv": [132.0, 132.0, 33.0, 33.0],
        "rated_mva": [60.0, 60.0, 20.0, 20.0],
        "install_year": np.array([1975, 1988, 2001, 2015], dtype=np.int64),
        "cooling": ["ONAN", "ONAF", "OFAF", "ONAN"],
        "oil_preservation": ["sealed", "free_breathing", "sealed", "sealed"],
    })
    hours = pd.date_range(START, periods=72, freq="h")
    h = np.arange(72)
    telemetry = pd.concat([
        pd.DataFrame({
            "transformer_id": unit,
            "timestamp": hours,
            "load_pu": np.round(0.5 + 0.1 * i + 0.2 * np.sin(h / 24 * 2 * np.pi), 3),
            "ambient_temp_c": np.round(5.0 + 3 * np.cos(h / 24 * 2 * np.pi), 2),
            "top_oil_temp_c": np.round(35.0 + 2 * i + 10 * np.sin(h / 24 * 2 * np.pi), 2),
            "quality": np.where(h % 17 == 0, "suspect", "good"),
        })
        for i, unit in enumerate(UNITS)
    ], ignore_index=True)
    days = pd.date_range(START + pd.Timedelta(hours=6), periods=3, freq="D")
    gases = {"h2": 40.0, "ch4": 20.0, "c2h6": 15.0, "c2h4": 8.0, "c2h2": 0.5, "co": 300.0, "co2": 2500.0}
    dga = pd.concat([
        pd.DataFrame({"transformer_id": unit, "sampled_at": days,
                      **{g: v * (1 + 0.1 * i) + np.arange(3) for g, v in gases.items()}, "moisture_ppm": 12.0 + i})
        for i, unit in enumerate(UNITS)
    ], ignore_index=True)
    oil_tests = pd.DataFrame({
        "transformer_id": list(UNITS),
        "sampled_at": START + pd.Timedelta(hours=30),
        "breakdown_kv": [62.0, 55.5, np.nan, 70.0],
        "acidity_mg_koh_g": [0.05, 0.12, 0.2, 0.03],
        "ift_mn_m": [38.0, 30.5, 25.0, 41.0],
        "furan_2fal_ppb": [120.0, np.nan, 900.0, 50.0],
    })
    failures = pd.DataFrame({"transformer_id": ["T003"], "failed_at": [START + pd.Timedelta(hours=60)],
                             "failure_mode": ["thermal"]})
    return {"assets": assets, "telemetry": telemetry, "dga": dga, "oil_tests": oil_tests, "failures": failures}


def write_fleet(tables: Fleet, folder: Path, fmt: str = "parquet") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def insert(frame: pd.DataFrame, at: int, rows: list[dict[str, object]]) -> pd.DataFrame:
    """Insert rows at a position; an inserted row keeps the other columns of the row it is based on."""
    return pd.concat([frame.iloc[:at], pd.DataFrame(rows), frame.iloc[at:]], ignore_index=True)


def tel(i: int, **changes: object) -> dict[str, object]:
    """A telemetry row like clean row i, half an hour later (a fresh key) unless changed."""
    row = clean_fleet()["telemetry"].iloc[i].to_dict()
    row["timestamp"] = row["timestamp"] + pd.Timedelta(minutes=30)
    return {**row, **changes}


# (table, row_number, reason, words the detail must contain) for every fault dirty_fleet() injects.
EXPECTED = [
    ("assets", 4, "out_of_range", ["install_year", "1800", "minimum"]),
    ("telemetry", 10, "missing_value", ["quality"]),
    ("telemetry", 11, "out_of_range", ["top_oil_temp_c", "999.0", "200.0"]),
    ("telemetry", 12, "unknown_category", ["quality", "'great'"]),
    ("telemetry", 13, "unknown_transformer", ["'T999'"]),
    ("telemetry", 14, "duplicate_row", ["row 3"]),
    ("telemetry", 15, "conflicting_duplicate", ["row 4", "top_oil_temp_c", "77.7"]),
    ("telemetry", 16, "bad_timestamp", ["timestamp", "2030-01-01", "after the latest data time"]),
    ("telemetry", 17, "bad_timestamp", ["timestamp", "1900-01-01", "before 1950"]),
    ("telemetry", 18, "out_of_range", ["load_pu", "5.0"]),  # also an unknown id: the range check comes first
    ("dga", 12, "out_of_range", ["column 'h2' value -4.0 is below the minimum 0.0 ppm"]),
    ("oil_tests", 1, "missing_value", ["transformer_id"]),
    ("failures", 1, "unknown_category", ["failure_mode", "'explosion'"]),
]


def dirty_fleet() -> Fleet:
    t = clean_fleet()
    t["assets"] = insert(t["assets"], 4, [{**t["assets"].iloc[0].to_dict(), "transformer_id": "T005", "install_year": 1800}])
    t["telemetry"] = insert(t["telemetry"], 10, [
        tel(0, quality=None),
        tel(1, top_oil_temp_c=999.0),
        tel(2, quality="great"),
        tel(3, transformer_id="T999"),
        t["telemetry"].iloc[3].to_dict(),
        {**t["telemetry"].iloc[4].to_dict(), "top_oil_temp_c": 77.7},
        tel(6, timestamp=pd.Timestamp("2030-01-01", tz="UTC")),
        tel(7, timestamp=pd.Timestamp("1900-01-01", tz="UTC")),
        tel(8, transformer_id="T999", load_pu=5.0),
    ])
    t["dga"] = insert(t["dga"], 12, [{**t["dga"].iloc[0].to_dict(), "sampled_at": START + pd.Timedelta(hours=7), "h2": -4.0}])
    t["oil_tests"] = insert(t["oil_tests"], 1, [{**t["oil_tests"].iloc[0].to_dict(), "transformer_id": None}])
    t["failures"] = insert(t["failures"], 1, [{"transformer_id": "T001", "failed_at": START + pd.Timedelta(hours=50),
                                               "failure_mode": "explosion"}])
    return t


def assert_same_tables(got: Fleet, want: Fleet) -> None:
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name].reset_index(drop=True), check_exact=True)


def test_clean_fleet_is_accepted_whole_with_canonical_dtypes(tmp_path: Path) -> None:
    fleet = clean_fleet()
    result = ingest_folder(write_fleet(fleet, tmp_path))
    assert result.quarantine.empty
    assert_same_tables(result.tables, fleet)
    assert result.tables["assets"]["install_year"].dtype == np.int64
    assert str(result.tables["telemetry"]["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert result.tables["telemetry"]["quality"].map(type).eq(str).all()
    assert result.report.tables["oil_tests"].missing_values == {
        "breakdown_kv": 1, "acidity_mg_koh_g": 0, "ift_mn_m": 0, "furan_2fal_ppb": 1}
    assert len(result.digest) == 64 and int(result.digest, 16) >= 0


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_each_bad_row_is_quarantined_with_reason_and_detail(tmp_path: Path, fmt: str) -> None:
    result = ingest_folder(write_fleet(dirty_fleet(), tmp_path, fmt))
    q = result.quarantine
    got = sorted(zip(q["table"], q["row_number"], q["reason"]))
    assert got == sorted((t, r, reason) for t, r, reason, _ in EXPECTED)
    details = {(t, r): d for t, r, d in zip(q["table"], q["row_number"], q["detail"])}
    for table, row, _, words in EXPECTED:
        for word in words:
            assert word in details[(table, row)], (table, row, details[(table, row)])
    # No good row is lost: the accepted tables are exactly the clean fleet.
    assert_same_tables(result.tables, clean_fleet())
    assert result.digest == ingest_folder(write_fleet(clean_fleet(), tmp_path / "clean", fmt)).digest
    for name, t in result.report.tables.items():
        assert t.rows_read == t.rows_accepted + t.rows_quarantined == len(dirty_fleet()[name])
    assert result.report.tables["telemetry"].quarantined["bad_timestamp"] == 2
    assert list(result.report.tables["telemetry"].quarantined) == [r for r in REASONS if r in result.report.tables["telemetry"].quarantined]


def test_quarantine_record_is_the_original_row(tmp_path: Path) -> None:
    result = ingest_folder(write_fleet(dirty_fleet(), tmp_path))
    row = result.quarantine.set_index(["table", "row_number"]).loc[("telemetry", 11)]
    record = json.loads(row["record"])
    assert record["top_oil_temp_c"] == 999.0 and record["transformer_id"] == "T001"
    assert pd.Timestamp(record["timestamp"]) == START + pd.Timedelta(minutes=30, hours=1)


def test_csv_values_that_do_not_parse_are_bad_type_or_bad_timestamp(tmp_path: Path) -> None:
    t = {name: frame.astype(str).replace({"nan": ""}) for name, frame in clean_fleet().items()}
    t["telemetry"].loc[5, "load_pu"] = "abc"
    t["telemetry"].loc[6, "timestamp"] = "2023-13-45 00:00"
    t["telemetry"].loc[7, "transformer_id"] = "  T001 "  # surrounding blanks are not part of an id
    t["assets"] = insert(t["assets"], 4, [{**t["assets"].iloc[0].to_dict(), "transformer_id": "T005", "install_year": "1987.5"}])
    result = ingest_folder(write_fleet(t, tmp_path, "csv"))
    q = result.quarantine.set_index(["table", "row_number"])
    assert q.loc[("telemetry", 5), "reason"] == "bad_type"
    assert q.loc[("telemetry", 5), "detail"] == "column 'load_pu' value 'abc' is not a number"
    assert q.loc[("telemetry", 6), "reason"] == "bad_timestamp" and "'2023-13-45 00:00'" in q.loc[("telemetry", 6), "detail"]
    assert q.loc[("assets", 4), "reason"] == "bad_type" and "install_year" in q.loc[("assets", 4), "detail"]
    assert json.loads(q.loc[("telemetry", 5), "record"])["load_pu"] == "abc"
    assert len(q) == 3
    assert result.tables["telemetry"]["transformer_id"].iloc[7] == "T001"


def test_csv_and_parquet_give_the_same_result(tmp_path: Path) -> None:
    a = ingest_folder(write_fleet(dirty_fleet(), tmp_path / "p", "parquet"))
    b = ingest_folder(write_fleet(dirty_fleet(), tmp_path / "c", "csv"))
    assert a.digest == b.digest
    assert_same_tables(b.tables, a.tables)
    cols = ["table", "row_number", "reason", "detail"]
    pd.testing.assert_frame_equal(a.quarantine[cols], b.quarantine[cols])


def test_ingest_is_idempotent_and_writes_the_same_bytes(tmp_path: Path) -> None:
    folder = write_fleet(dirty_fleet(), tmp_path / "raw")
    first, second = ingest_folder(folder), ingest_folder(folder)
    assert first.digest == second.digest
    assert_same_tables(second.tables, first.tables)
    pd.testing.assert_frame_equal(first.quarantine, second.quarantine)
    write_ingested(first, tmp_path / "out1")
    write_ingested(second, tmp_path / "out2")
    for path in sorted((tmp_path / "out1").iterdir()):
        assert path.read_bytes() == (tmp_path / "out2" / path.name).read_bytes(), path.name
    report = json.loads((tmp_path / "out1" / "ingest_report.json").read_text())
    assert report["digest"] == first.digest and report["tables"]["telemetry"]["rows_quarantined"] == 9
    assert len(pd.read_parquet(tmp_path / "out1" / "quarantine.parquet")) == len(EXPECTED)
    # The written accepted tables are themselves clean input with the same digest.
    again = ingest_folder(tmp_path / "out1")
    assert again.quarantine.empty and again.digest == first.digest
    with pytest.raises(IngestError, match="raw source"):
        write_ingested(first, folder)


def test_late_rows_are_accepted_and_row_order_does_not_change_the_digest(tmp_path: Path) -> None:
    fleet = clean_fleet()
    shuffled = {name: frame.sample(frac=1.0, random_state=1) for name, frame in fleet.items()}
    a = ingest_folder(write_fleet(fleet, tmp_path / "a"))
    b = ingest_folder(write_fleet(shuffled, tmp_path / "b"))
    assert b.quarantine.empty
    assert a.digest == b.digest
    assert_same_tables(b.tables, fleet)


def test_one_changed_value_changes_the_digest(tmp_path: Path) -> None:
    fleet = clean_fleet()
    base = ingest_folder(write_fleet(fleet, tmp_path / "a")).digest
    fleet["telemetry"].loc[200, "ambient_temp_c"] += 0.01
    assert ingest_folder(write_fleet(fleet, tmp_path / "b")).digest != base


def test_naive_and_offset_timestamps_are_read_as_utc(tmp_path: Path) -> None:
    fleet = clean_fleet()
    base = ingest_folder(write_fleet(fleet, tmp_path / "a")).digest
    naive = {**fleet, "telemetry": fleet["telemetry"].assign(timestamp=fleet["telemetry"]["timestamp"].dt.tz_localize(None))}
    assert ingest_folder(write_fleet(naive, tmp_path / "b")).digest == base
    shifted = {**fleet, "dga": fleet["dga"].assign(sampled_at=fleet["dga"]["sampled_at"].dt.tz_convert("Europe/Berlin"))}
    write_fleet(shifted, tmp_path / "c", "csv")
    assert "+01:00" in (tmp_path / "c" / "dga.csv").read_text()
    assert ingest_folder(tmp_path / "c").digest == base


def test_nulls_in_nullable_columns_are_kept_and_counted(tmp_path: Path) -> None:
    fleet = clean_fleet()
    fleet["dga"].loc[[1, 5], "h2"] = np.nan
    fleet["telemetry"].loc[3, "load_pu"] = np.nan
    result = ingest_folder(write_fleet(fleet, tmp_path))
    assert result.quarantine.empty
    assert result.report.tables["dga"].missing_values["h2"] == 2
    assert result.report.tables["telemetry"].missing_values["load_pu"] == 1
    assert math.isnan(result.tables["dga"]["h2"].iloc[1])


def test_rows_of_a_quarantined_asset_become_unknown_transformer(tmp_path: Path) -> None:
    fleet = clean_fleet()
    fleet["assets"].loc[1, "cooling"] = "ONAX"
    result = ingest_folder(write_fleet(fleet, tmp_path))
    counts = result.quarantine.groupby(["table", "reason"]).size().to_dict()
    assert counts == {("assets", "unknown_category"): 1, ("telemetry", "unknown_transformer"): 72,
                      ("dga", "unknown_transformer"): 3, ("oil_tests", "unknown_transformer"): 1}
    assert "T002" not in set(result.tables["telemetry"]["transformer_id"])


def test_missing_column_fails_naming_file_and_column(tmp_path: Path) -> None:
    fleet = clean_fleet()
    fleet["telemetry"] = fleet["telemetry"].drop(columns=["quality", "load_pu"])
    with pytest.raises(IngestError) as err:
        ingest_folder(write_fleet(fleet, tmp_path))
    message = str(err.value)
    assert "telemetry.parquet" in message and "'quality'" in message and "'load_pu'" in message
    assert "\n" not in message


def test_corrupt_parquet_fails_naming_the_file(tmp_path: Path) -> None:
    folder = write_fleet(clean_fleet(), tmp_path)
    (folder / "dga.parquet").write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(IngestError, match=r"dga\.parquet.*not a readable Parquet file") as err:
        ingest_folder(folder)
    assert "\n" not in str(err.value)


def test_malformed_csv_fails_naming_the_file(tmp_path: Path) -> None:
    folder = write_fleet(clean_fleet(), tmp_path, "csv")
    with (folder / "oil_tests.csv").open("a") as f:
        f.write("T001,2023-01-02,1,2,3,4,5,6,7\n")
    with pytest.raises(IngestError, match=r"oil_tests\.csv: not a readable CSV file") as err:
        ingest_folder(folder)
    assert "\n" not in str(err.value)


def test_reference_time_sets_the_future_limit(tmp_path: Path) -> None:
    result = ingest_folder(write_fleet(clean_fleet(), tmp_path), reference_time=START)
    q = result.quarantine
    assert set(q["reason"]) == {"bad_timestamp"}
    late = result.tables["telemetry"]["timestamp"]
    assert late.max() <= START + pd.Timedelta(days=1)
    assert (q["table"] == "telemetry").sum() == 4 * (72 - 25)  # hours after 2023-01-02 00:00, per unit
    assert result.report.latest_data_time == START.isoformat()


def test_column_that_never_parses_fails_the_file(tmp_path: Path) -> None:
    fleet = clean_fleet()
    fleet["dga"] = fleet["dga"].assign(co2="high")
    with pytest.raises(IngestError, match=r"dga\.csv: column 'co2' cannot be parsed as float.*'high'"):
        ingest_folder(write_fleet(fleet, tmp_path, "csv"))


def test_missing_required_table_fails(tmp_path: Path) -> None:
    folder = write_fleet(clean_fleet(), tmp_path)
    (folder / "oil_tests.parquet").unlink()
    with pytest.raises(IngestError, match="oil_tests"):
        ingest_folder(folder)


def test_failures_table_is_optional(tmp_path: Path) -> None:
    fleet = clean_fleet()
    del fleet["failures"]
    result = ingest_folder(write_fleet(fleet, tmp_path))
    failures = result.tables["failures"]
    assert failures.empty and list(failures.columns) == TABLES["failures"].column_names
    assert str(failures["failed_at"].dtype) == "datetime64[ns, UTC]"
    assert result.report.tables["failures"].source is None and "failures" not in result.source_files


def test_truth_folder_and_other_files_are_ignored(tmp_path: Path) -> None:
    folder = write_fleet(clean_fleet(), tmp_path)
    base = ingest_folder(folder)
    truth = folder / TRUTH_DIR
    truth.mkdir()
    (truth / "telemetry.parquet").write_bytes(b"garbage")
    pd.DataFrame({"transformer_id": ["T001"], "date": [START], "hazard": [0.5]}).to_parquet(truth / "hazard.parquet")
    (folder / MANIFEST_FILE).write_text("{}")
    (folder / "notes.txt").write_text("not a table")
    result = ingest_folder(folder)
    assert result.digest == base.digest
    assert all(TRUTH_DIR not in p.parts for p in result.source_files.values())


def test_parquet_is_preferred_over_csv(tmp_path: Path) -> None:
    folder = write_fleet(clean_fleet(), tmp_path)
    other = clean_fleet()["telemetry"].assign(load_pu=0.1)
    other.to_csv(folder / "telemetry.csv", index=False)
    result = ingest_folder(folder)
    assert result.source_files["telemetry"].name == "telemetry.parquet"
    assert_same_tables(result.tables, clean_fleet())


def test_format_report_lists_tables_and_reasons(tmp_path: Path) -> None:
    text = format_report(ingest_folder(write_fleet(dirty_fleet(), tmp_path)).report)
    for name in TABLES:
        assert name in text
    assert "conflicting_duplicate" in text and "unknown_transformer" in text
    assert any(line.startswith("telemetry") and line.split()[1:4] == ["297", "288", "9"] for line in text.splitlines())


# How each generator fault kind (manifest "faults") shows up: kinds not listed are accepted rows
# (a NaN in a nullable column, a gap, a late row) and are never quarantined.
FAULT_REASONS = {"out_of_range": "out_of_range", "unknown_id": "unknown_transformer",
                 "duplicate": "duplicate_row", "conflict": "conflicting_duplicate"}


def test_generated_fleet_quarantine_matches_the_manifest(make_fleet) -> None:  # type: ignore[no-untyped-def]
    folder = make_fleet(assets=30, years=1, seed=0, data_fault_rate=0.01)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    result = ingest_folder(folder)
    want = {(table, FAULT_REASONS[kind]): n for table, kinds in manifest["faults"].items()
            for kind, n in kinds.items() if kind in FAULT_REASONS and n}
    assert want and result.quarantine.groupby(["table", "reason"]).size().to_dict() == want
    for name, rows in manifest["rows"].items():
        assert result.report.tables[name].rows_read == rows
    unknown = result.quarantine[result.quarantine["reason"] == "unknown_transformer"]
    assert unknown["detail"].str.contains(manifest["unknown_transformer_id"], regex=False).all()
    # Every hour of every unit arrives once unless it was lost in a gap or carried an impossible value.
    faults = manifest["faults"]["telemetry"]
    hours = manifest["period"]["hours"] * manifest["config"]["assets"]
    assert len(result.tables["telemetry"]) == hours - faults["dropout_absent"] - faults["out_of_range"]
