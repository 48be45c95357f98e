"""Save a drift check's Evidently HTML report under a deterministic name built from the window end."""

from __future__ import annotations

import hashlib
import html
import json
import os
import tempfile
from pathlib import Path

from monitoring.results import DriftResult


def report_filename(result: DriftResult) -> str:
    """Return `drift_<window end, UTC>[_v<model version>].html`; a digest of the result stands in for a missing end."""
    if result.window_end is not None:
        stamp = result.window_end.strftime("%Y%m%dT%H%M%SZ")
    else:
        digest = hashlib.sha256(json.dumps(result.as_dict(), sort_keys=True, default=str).encode()).hexdigest()
        stamp = f"undated-{digest[:12]}"
    version = f"_v{result.model_version}" if result.model_version else ""
    safe_version = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in version)
    return f"drift_{stamp}{safe_version}.html"


def _summary_page(result: DriftResult) -> str:
    """A plain page for a check that ran no Evidently report (too few rows or no testable column)."""
    title = f"Drift check: {result.verdict}"
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>\n"
        f"<body><h1>{html.escape(title)}</h1><p>No Evidently report: {html.escape(result.reason)}</p>\n"
        f"<pre>{html.escape(result.summary_markdown())}</pre></body></html>\n"
    )


def save_report(result: DriftResult, folder: Path) -> Path:
    """Write the Evidently report of `result` into `folder` (atomically: readers never see half a file).

    A check that ran no report (verdict "insufficient_data") gets a plain page saying why, so every
    check has a report to link to.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / report_filename(result)
    page = result.report.get_html_str(as_iframe=False) if result.report is not None else _summary_page(result)
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".drift-", suffix=".html.tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
