"""Content digests: every value counts, string boundaries count, and the same content hashes the same everywhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.digest import frame_digest, tables_digest


def sample() -> pd.DataFrame:
    return pd.DataFrame({
        "transformer_id": ["T001", "T002", None],
        "timestamp": pd.to_datetime(["2023-01-01", "2023-01-02", "2023-01-03"], utc=True),
        "h2": [1.5, np.nan, -0.0],
        "install_year": np.array([1975, 1988, 2001], dtype=np.int64),
    })


def test_string_boundaries_are_part_of_the_content() -> None:
    assert frame_digest(pd.DataFrame({"x": ["ab", "c"]})) != frame_digest(pd.DataFrame({"x": ["a", "bc"]}))
    assert frame_digest(pd.DataFrame({"x": ["", None]})) != frame_digest(pd.DataFrame({"x": [None, ""]}))
    assert frame_digest(pd.DataFrame({"x": [1, "1"]})) != frame_digest(pd.DataFrame({"x": ["1", "1"]}))


@pytest.mark.parametrize(
    ("column", "row", "value"),
    [("transformer_id", 0, "T00l"), ("timestamp", 1, pd.Timestamp("2023-01-02 00:00:00.000001", tz="UTC")),
     ("h2", 0, 1.5000000000000002), ("h2", 1, 0.0), ("install_year", 2, 2002)],
)
def test_any_changed_value_changes_the_digest(column: str, row: int, value: object) -> None:
    changed = sample()
    changed.loc[row, column] = value
    assert frame_digest(changed) != frame_digest(sample())


def test_names_dtypes_and_row_order_are_part_of_the_content() -> None:
    df = sample()
    assert frame_digest(df.rename(columns={"h2": "ch4"})) != frame_digest(df)
    assert frame_digest(df.astype({"install_year": "float64"})) != frame_digest(df)
    assert frame_digest(df.iloc[::-1]) != frame_digest(df)
    assert frame_digest(df.set_index("transformer_id", drop=False)) == frame_digest(df)  # the index is not content


def test_tables_digest_depends_on_names_not_mapping_order() -> None:
    a, b = sample(), sample().iloc[:2]
    assert tables_digest({"x": a, "y": b}) == tables_digest({"y": b, "x": a})
    assert tables_digest({"x": a, "y": b}) != tables_digest({"x": b, "y": a})


def test_digest_is_the_same_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "sample.parquet"
    sample().to_parquet(path)
    code = f"import pandas as pd; from tasks.digest import frame_digest; print(frame_digest(pd.read_parquet({str(path)!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == frame_digest(sample())


def test_digest_of_a_million_rows_is_fast() -> None:
    import time

    n = 1_000_000
    df = pd.DataFrame({
        "transformer_id": np.array([f"T{i:04d}" for i in range(500)], dtype=object)[np.arange(n) % 500],
        "timestamp": pd.date_range("2022-01-01", periods=n, freq="min", tz="UTC"),
        "load_pu": np.random.default_rng(0).random(n),
    })
    began = time.perf_counter()
    frame_digest(df)
    assert time.perf_counter() - began < 5.0
