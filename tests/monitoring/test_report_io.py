"""The Evidently HTML report is written under a deterministic name; cheap imports stay free of Evidently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from monitoring import check_drift, report_filename, save_report
from tests.monitoring.factory import FEATURES, gas_bias, make_window

ROOT = Path(__file__).resolve().parents[2]


def test_report_html_is_written_under_the_window_end(tmp_path: Path) -> None:
    result = check_drift(make_window(3_000, 1_000), make_window(1_200, 4, gas_bias), FEATURES, model_version="3")
    path = save_report(result, tmp_path / "reports")
    assert path.name == "drift_20250601T195900Z_v3.html"  # last scored_at: 1,199 minutes after the start
    html = path.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "h2_log_ppm" in html and "failure_probability" in html
    assert save_report(result, tmp_path / "reports") == path
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [path.name]  # no temp files left


def test_undated_results_get_a_content_digest_and_insufficient_ones_a_plain_page(tmp_path: Path) -> None:
    window = make_window(1_000, 5).drop(columns="scored_at")
    result = check_drift(make_window(3_000, 1_000), window, FEATURES)
    assert result.window_end is None
    name = report_filename(result)
    assert name.startswith("drift_undated-") and name == report_filename(result)
    small = check_drift(make_window(3_000, 1_000), make_window(10, 5), FEATURES, model_version="3")
    page = save_report(small, tmp_path).read_text(encoding="utf-8")
    assert "Drift check: insufficient_data" in page and "window has 10 rows; need at least 500" in page


def test_policy_and_results_import_without_evidently() -> None:
    code = (
        "import sys\n"
        "from monitoring import PolicyState, DriftSettings, evaluate_policy, DriftResult\n"
        "import monitoring.loaders, monitoring.seasonal\n"
        "print('evidently' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
