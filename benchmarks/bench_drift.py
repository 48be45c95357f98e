"""Drift check cost for 100k- and 1M-row windows, and detection delay / false alarms for three synthetic drifts.

Cost: a day-partitioned Parquet prediction log of 70 feature columns is written once; each window
size then runs in its own subprocess (peak RSS = that size alone): read the window with sampling,
check drift, save the HTML report. Baseline in the same run: the naive check of the 100k window
(read every column of every row, no sampling). A last case reads 100k rows spread over 2,000
small files, as a prediction log flushed every few seconds looks.

Detection: windows drawn from the reference distribution (false alarms over N windows), and for
each scenario (load_growth, sensor_offset, der_penetration: synthetic shifts resembling the
generator's) clean windows followed by a drift that ramps in over three windows; the policy with
K=2 decides when drift is confirmed. Prints a table and writes benchmarks/results/drift.json.

    .venv/bin/python benchmarks/bench_drift.py [--part all|cost|detection] [--false-alarm-windows 50]
                                               [--window-rows 2000 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GASES = ("h2", "ch4", "c2h6", "c2h4", "c2h2", "co", "co2")
GAS_MEDIAN = {"h2": 30.0, "ch4": 20.0, "c2h6": 15.0, "c2h4": 10.0, "c2h2": 0.5, "co": 300.0, "co2": 3000.0}
C57_LIMITS = {"h2": (80, 200, 500), "ch4": (90, 150, 400), "c2h6": (90, 150, 400), "c2h4": (50, 100, 300),
              "c2h2": (1, 5, 35), "co": (900, 1200, 2000), "co2": (9000, 12000, 20000)}
ZONES = ("PD", "T1", "T2", "T3", "D1", "D2", "DT")
SCENARIOS = ("load_growth", "sensor_offset", "der_penetration")
DAY0 = datetime(2025, 6, 1, tzinfo=timezone.utc)


def _band(values: np.ndarray, cuts: tuple[float, ...]) -> np.ndarray:
    return np.digitize(values, cuts).astype(float)


def synthetic_features(n: int, rng: np.random.Generator, scenario: str | None = None, intensity: float = 0.0) -> pd.DataFrame:
    """Return n rows of ~62 feature columns shaped like the model's, with a scenario applied at `intensity` (0..1)."""
    s = intensity if scenario else 0.0
    load = np.clip(rng.normal(0.6, 0.12, n), 0.05, None)
    peak = load * rng.uniform(1.2, 1.6, n)
    ambient = rng.normal(15.0, 5.0, n)
    if scenario == "load_growth":
        load, peak, ambient = load * (1 + 0.2 * s), peak * (1 + 0.2 * s), ambient + 3.0 * s
    if scenario == "der_penetration":
        pv = rng.uniform(0.35, 0.7, n)
        load, peak = load * (1 - 0.45 * pv * s), peak * (1 + 0.08 * s)
    online = rng.random(n) < 0.3
    ppm = {g: np.exp(rng.normal(np.log(GAS_MEDIAN[g]), 0.8, n)) for g in GASES}
    ppm["co"] *= 1 + 0.5 * (load - 0.6)
    if scenario == "sensor_offset":
        ppm["h2"] = np.where(online, (1 + 0.3 * s) * ppm["h2"] + 50.0 * s, ppm["h2"])
    sampled = online | (rng.random(n) < 0.85)
    cols: dict[str, np.ndarray] = {}
    for g in GASES:
        cols[f"{g}_log_ppm"] = np.where(sampled, np.log(ppm[g] + 1), np.nan)
    cols["moisture_ppm"] = np.clip(rng.normal(15, 6, n) + 10 * (load - 0.6), 1, None)
    for g in GASES:
        cols[f"{g}_jump_ppm"] = np.where(rng.random(n) < 0.6, 0.0, np.abs(rng.normal(0, 0.1 * GAS_MEDIAN[g], n)))
        cols[f"{g}_rate_ppm_per_year"] = rng.normal(0.05 * GAS_MEDIAN[g], 0.2 * GAS_MEDIAN[g], n)
    for g in GASES:
        cols[f"{g}_c57_status"] = 1.0 + _band(ppm[g], C57_LIMITS[g])
    cols["c57_status"] = np.max([cols[f"{g}_c57_status"] for g in GASES], axis=0)
    total = ppm["ch4"] + ppm["c2h4"] + ppm["c2h2"]
    for g in ("ch4", "c2h4", "c2h2"):
        cols[f"duval_{g}_pct"] = 100 * ppm[g] / total
    zone = rng.choice(len(ZONES), n, p=[0.05, 0.45, 0.2, 0.05, 0.1, 0.05, 0.1])
    for i, z in enumerate(ZONES):
        cols[f"duval_zone_{z}"] = (zone == i).astype(float)
    cols["iec_ch4_h2_log10"] = np.clip(np.log10(ppm["ch4"] / ppm["h2"]), -3, 3)
    cols["iec_c2h2_c2h4_log10"] = np.clip(np.log10(ppm["c2h2"] / ppm["c2h4"]), -3, 3)
    cols["iec_c2h4_c2h6_log10"] = np.clip(np.log10(ppm["c2h4"] / ppm["c2h6"]), -3, 3)
    cols["co2_co_ratio"] = np.clip(ppm["co2"] / ppm["co"], 0, 1000)
    cols["tdcg_log_ppm"] = np.log(sum(ppm[g] for g in GASES if g != "co2") + 1)
    hot = 55 + 55 * load + 0.8 * ambient + rng.normal(0, 4, n)
    cols["hot_spot_max_30d"] = 55 + 55 * peak + 0.8 * ambient + rng.normal(0, 4, n)
    cols["top_oil_max_30d"] = 35 + 35 * peak + 0.8 * ambient + rng.normal(0, 3, n)
    cols["faa_mean_30d"] = np.exp((hot - 98) / 10.0)
    cols["hours_hot_spot_over_120c_30d"] = np.clip(rng.poisson(np.clip((cols["hot_spot_max_30d"] - 110) * 2, 0, None)), 0, 720).astype(float)
    cols["loss_of_life_pct"] = rng.gamma(2, 1.5, n)
    cols["ambient_mean_30d"] = ambient
    cols["load_mean_30d"] = load
    cols["load_max_30d"] = peak
    cols["breakdown_kv"] = rng.normal(60, 10, n)
    cols["acidity_mg_koh_g"] = rng.gamma(2, 0.04, n)
    cols["ift_mn_m"] = rng.normal(32, 5, n)
    cols["furan_2fal_log_ppb"] = rng.normal(5, 1.2, n)
    cols["moisture_band"] = _band(cols["moisture_ppm"], (20, 30))
    cols["breakdown_band"] = _band(-cols["breakdown_kv"], (-60, -50))
    cols["acidity_band"] = _band(cols["acidity_mg_koh_g"], (0.1, 0.2))
    cols["ift_band"] = _band(-cols["ift_mn_m"], (-28, -22))
    cols["oil_quality_index"] = np.round((cols["moisture_band"] + cols["breakdown_band"] + cols["acidity_band"] + cols["ift_band"]) / 2, 1)
    cols["health_index"] = np.clip(100 - 8 * cols["c57_status"] - 5 * cols["oil_quality_index"] + rng.normal(0, 5, n), 0, 100)
    cols["age_years"] = rng.uniform(5, 50, n)
    cols["voltage_kv"] = rng.choice([33.0, 66.0, 132.0, 275.0], n)
    cooling = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    for i, c in enumerate(("ONAN", "ONAF", "OFAF")):
        cols[f"cooling_{c}"] = (cooling == i).astype(float)
    cols["sealed"] = (rng.random(n) < 0.4).astype(float)
    cols["dga_age_days"] = np.where(online, rng.uniform(0, 1, n), rng.uniform(0, 365, n))
    frame = pd.DataFrame(cols)
    z = (0.9 * np.nan_to_num(frame["h2_log_ppm"], nan=3.4) + 0.7 * np.nan_to_num(frame["c2h2_log_ppm"], nan=0.4)
         + 5.0 * (load - 0.6) + 0.04 * (ambient - 15) + 0.4 * frame["c57_status"] - 7.5)
    frame["failure_probability"] = 1 / (1 + np.exp(-z))
    return frame


FEATURES = tuple(c for c in synthetic_features(10, np.random.default_rng(0)).columns if c != "failure_probability")


# ----------------------------------------------------------------------------------------------- cost

def write_log(folder: Path, days: int, rows_per_day: int, files_per_day: int = 1) -> None:
    """Write a day-partitioned prediction log, `files_per_day` files a day (bounded memory while writing)."""
    for day in range(days):
        rng = np.random.default_rng(100 + day)
        frame = synthetic_features(rows_per_day, rng)
        start = pd.Timestamp(DAY0) + pd.Timedelta(days=day)
        frame.insert(0, "scored_at", start + pd.to_timedelta(np.sort(rng.uniform(0, 86_400, rows_per_day)), unit="s"))
        frame.insert(1, "transformer_id", [f"T{i % 5000:05d}" for i in range(rows_per_day)])
        frame.insert(2, "model_version", "3")
        frame["request_id"] = [f"r{day}-{i}" for i in range(rows_per_day)]
        frame["latency_ms"] = rng.gamma(2.0, 1.5, rows_per_day)
        part = folder / f"date={start.date().isoformat()}"
        part.mkdir(parents=True, exist_ok=True)
        for i, chunk in enumerate(np.array_split(np.arange(rows_per_day), files_per_day)):
            frame.iloc[chunk].to_parquet(part / f"part-{i:05d}.parquet", index=False)


def cost_child(log: Path, reference: Path, days: int, mode: str) -> dict[str, Any]:
    """Run one drift check on the first `days` days of the log and measure it (runs in a subprocess)."""
    from monitoring import DriftSettings, PredictionWindow, check_drift, load_prediction_window, load_reference, save_report

    settings = DriftSettings()
    columns = [*FEATURES, settings.prediction_column]
    start, end = DAY0, DAY0 + timedelta(days=days)
    t0 = time.perf_counter()
    ref = load_reference(reference)
    current: PredictionWindow | pd.DataFrame
    if mode == "sampled":
        current = load_prediction_window(log, start, end, columns, max_rows=settings.max_sample_rows, seed=settings.seed)
        rows = current.total_rows
    else:  # naive baseline: every column of every row in memory, no sampling
        current = pd.read_parquet(log, filters=[("scored_at", ">=", pd.Timestamp(start)), ("scored_at", "<", pd.Timestamp(end))])
        rows = len(current)
        settings = DriftSettings(max_sample_rows=10**9)
    t1 = time.perf_counter()
    result = check_drift(ref, current, FEATURES, settings, window_start=start, window_end=end)
    t2 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        save_report(result, Path(tmp))
    t3 = time.perf_counter()
    return {
        "mode": mode, "window_rows": float(rows), "sampled_rows": float(result.sampled_rows),
        "columns_tested": float(len(result.columns)), "read_s": t1 - t0, "check_s": t2 - t1, "report_s": t3 - t2,
        "total_s": t3 - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_cost(work: Path, repeats: int) -> list[dict[str, Any]]:
    log, small, reference = work / "log", work / "small-files", work / "reference.parquet"
    t0 = time.perf_counter()
    write_log(log, days=10, rows_per_day=100_000)
    write_log(small, days=1, rows_per_day=100_000, files_per_day=2_000)
    synthetic_features(5_000, np.random.default_rng(7)).to_parquet(reference, index=False)
    print(f"wrote 1,000,000-row log ({len(FEATURES)} features) in {time.perf_counter() - t0:.0f}s", flush=True)
    cases = ((log, 1, "sampled"), (log, 10, "sampled"), (log, 1, "naive"), (small, 1, "sampled"))
    best: dict[int, dict[str, Any]] = {}
    # Repeats interleave the cases, so a burst of load on a shared machine hits every case alike.
    for repeat in range(repeats):
        for i, (folder, days, mode) in enumerate(cases):
            if mode == "naive" and repeat > 0:
                continue
            cmd = [sys.executable, __file__, "--cost-child", str(folder), str(reference), str(days), mode]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["files"] = float(len(list(folder.rglob("*.parquet"))) * days / (10 if folder == log else 1))
            if i not in best or run["total_s"] < best[i]["total_s"]:
                best[i] = run
    runs = [best[i] for i in range(len(cases))]
    for r in runs:
        print(f"  {r['mode']:8s} {int(r['window_rows']):>9,} rows in {int(r['files']):,} files: "
              f"{r['total_s']:.1f}s, {r['peak_rss_mb']:.0f} MB", flush=True)
    return runs


# ------------------------------------------------------------------------------------------ detection

@dataclass(frozen=True)
class Walk:
    """What the policy did over a sequence of windows."""

    verdicts: list[str]
    triggers: list[int]  # window indices where retraining was triggered
    top_drifted_at_trigger: list[str] | None


def walk(reference: pd.DataFrame, scenario: str | None, intensities: list[float], window_rows: int, seed: int) -> Walk:
    """Check one window per intensity (0 = no drift) and feed each verdict to the K=2 policy."""
    from monitoring import DriftPolicy, DriftSettings, PolicyState, check_drift, evaluate_policy

    settings = DriftSettings(min_window_rows=min(500, window_rows))
    policy = DriftPolicy(consecutive_windows=2, cooldown_hours=0)
    state, verdicts, triggers, top = PolicyState(), list[str](), list[int](), None
    for i, level in enumerate(intensities):
        window = synthetic_features(window_rows, np.random.default_rng(seed + i), scenario if level else None, level)
        end = DAY0 + timedelta(days=i + 1)
        result = check_drift(reference, window, FEATURES, settings, window_start=end - timedelta(days=1), window_end=end)
        decision = evaluate_policy(state, result, end, policy)
        state = decision.new_state
        verdicts.append(str(result.verdict))
        if decision.trigger:
            triggers.append(i)
            if top is None:
                ranked = sorted(result.drifted_columns, key=lambda c: -c.score if c.score_kind == "distance" else c.score)
                top = [c.column for c in ranked[:6]]
    return Walk(verdicts, triggers, top)


def detection(window_rows: int, false_alarm_windows: int, clean: int, drifting: int) -> dict[str, Any]:
    """False alarms over stable windows and windows-to-confirmation for each scenario, with K=2."""
    reference = synthetic_features(5_000, np.random.default_rng(7))
    stable = walk(reference, None, [0.0] * false_alarm_windows, window_rows, seed=10_000)
    drifted = sum(v == "drift" for v in stable.verdicts)
    scenarios: dict[str, Any] = {}
    ramp = [1 / 3, 2 / 3] + [1.0] * (drifting - 2)
    for k, name in enumerate(SCENARIOS):
        run = walk(reference, name, [0.0] * clean + ramp, window_rows, seed=20_000 + 1_000 * k)
        after = [t - clean + 1 for t in run.triggers if t >= clean]
        scenarios[name] = {
            "triggers_before_drift": sum(t < clean for t in run.triggers),
            "delay_windows": after[0] if after else None,
            "triggers_during_drift": len(after),
            "top_drifted_at_trigger": run.top_drifted_at_trigger,
            "verdicts": run.verdicts,
        }
        print(f"  {window_rows} rows/window {name}: delay {after[0] if after else 'not detected'}", flush=True)
    return {
        "window_rows": window_rows,
        "false_alarm": {
            "windows": false_alarm_windows, "drift_verdicts": drifted,
            "window_false_alarm_rate": drifted / false_alarm_windows, "confirmed_triggers": len(stable.triggers),
        },
        "scenarios": scenarios,
    }


def table(cost: list[dict[str, Any]], detect: list[dict[str, Any]]) -> str:
    lines = ["", f"Drift check cost ({len(FEATURES)} features + prediction; best of repeats; own subprocess each)", "",
             f"{'mode':9s} {'rows':>10s} {'files':>6s} {'sampled':>8s} {'read s':>7s} {'check s':>8s} {'report s':>9s} "
             f"{'total s':>8s} {'peak MB':>8s}"]
    for r in cost:
        lines.append(f"{r['mode']:9s} {int(r['window_rows']):>10,} {int(r['files']):>6,} {int(r['sampled_rows']):>8,} "
                     f"{r['read_s']:>7.1f} {r['check_s']:>8.1f} {r['report_s']:>9.1f} {r['total_s']:>8.1f} {r['peak_rss_mb']:>8.0f}")
    small, large, naive = cost[:3]
    lines += ["", f"1M / 100k: time x{large['total_s'] / small['total_s']:.2f} (target <= 2), "
                  f"peak memory x{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}; "
                  f"naive 100k baseline: {naive['total_s']:.1f}s, {naive['peak_rss_mb']:.0f} MB "
                  f"(sampled 100k is x{naive['total_s'] / small['total_s']:.1f} faster)", "",
              "Detection with K=2 (windows until confirmation, counted from the first drifted window; ramp 1/3, 2/3, 1)", "",
              f"{'rows/window':>11s} {'false alarms':>20s} {'load_growth':>12s} {'sensor_offset':>14s} {'der_penetration':>16s}"]
    for d in detect:
        fa = d["false_alarm"]
        sc = d["scenarios"]
        cells = [str(sc[n]["delay_windows"]) if sc[n]["delay_windows"] else "missed" for n in SCENARIOS]
        lines.append(f"{d['window_rows']:>11} {fa['drift_verdicts']:>3}/{fa['windows']} win, {fa['confirmed_triggers']} trig "
                     f"{cells[0]:>12s} {cells[1]:>14s} {cells[2]:>16s}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--false-alarm-windows", type=int, default=50)
    parser.add_argument("--window-rows", type=int, nargs="+", default=[2_000, 600])
    parser.add_argument("--clean-windows", type=int, default=3)
    parser.add_argument("--drift-windows", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--part", choices=["all", "cost", "detection"], default="all",
                        help="run one part; the other part's figures are kept from the last drift.json")
    parser.add_argument("--cost-child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cost_child:
        log, reference, days, mode = args.cost_child
        print(json.dumps(cost_child(Path(log), Path(reference), int(days), mode)))
        return
    out = ROOT / "benchmarks" / "results" / "drift.json"
    previous = json.loads(out.read_text()) if out.is_file() and args.part != "all" else {}
    if args.part == "detection":
        cost = previous.get("cost", [])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            cost = run_cost(Path(tmp), args.repeats)
    if args.part == "cost":
        detect = previous.get("detection", [])
    else:
        detect = [detection(n, args.false_alarm_windows, args.clean_windows, args.drift_windows) for n in args.window_rows]
    result = {
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_avg_1m": os.getloadavg()[0]},
        "features": len(FEATURES),
        "cost": cost,
        "ratio_1m_vs_100k": {"time": cost[1]["total_s"] / cost[0]["total_s"],
                             "peak_rss": cost[1]["peak_rss_mb"] / cost[0]["peak_rss_mb"]} if cost else None,
        "detection": detect,
    }
    if cost and detect:
        print(table(cost, detect))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
