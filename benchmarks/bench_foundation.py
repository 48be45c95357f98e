"""Time generate -> ingest -> features for a fleet of N and 2N units; print rows/s, peak memory and the 2N/N ratio.

Each size runs in its own subprocess so peak RSS belongs to that size alone.

    .venv/bin/python benchmarks/bench_foundation.py [--assets 150] [--years 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(assets: int, years: float) -> dict[str, float]:
    from tasks.config import LabelSettings
    from tasks.dataset import build_modeling_table
    from fleetsim import GeneratorConfig, generate_fleet
    from tasks.ingest import ingest_folder

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        summary = generate_fleet(GeneratorConfig(assets=assets, years=years, seed=1, failure_rate=0.05), out)
        t1 = time.perf_counter()
        result = ingest_folder(out)
        t2 = time.perf_counter()
        table = build_modeling_table(result.tables, LabelSettings())
        t3 = time.perf_counter()
    rows = float(sum(summary.rows.values()))
    return {
        "assets": assets,
        "rows": rows,
        "snapshots": float(len(table.frame)),
        "generate_s": t1 - t0,
        "ingest_s": t2 - t1,
        "features_s": t3 - t2,
        "total_s": t3 - t0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_size(assets: int, years: float) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--one", str(assets), "--years", str(years)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=int, default=150, help="N (the run also does 2N)")
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.years)))
        return
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    results = [run_size(n, args.years) for n in (args.assets, 2 * args.assets)]
    header = f"{'assets':>7} {'rows':>11} {'snapshots':>10} {'generate s':>10} {'ingest s':>9} {'features s':>10} {'total s':>8} {'rows/s':>10} {'peak MB':>8}"
    print(header)
    for r in results:
        print(
            f"{r['assets']:>7.0f} {r['rows']:>11,.0f} {r['snapshots']:>10,.0f} {r['generate_s']:>10.2f} "
            f"{r['ingest_s']:>9.2f} {r['features_s']:>10.2f} {r['total_s']:>8.2f} "
            f"{r['rows'] / r['total_s']:>10,.0f} {r['peak_rss_mb']:>8.0f}"
        )
    small, big = results
    ratio = big["total_s"] / small["total_s"]
    verdict = "linear (<= 2.3x)" if ratio <= 2.3 else "SUPERLINEAR (> 2.3x)"
    print(f"2N/N time ratio: {ratio:.2f} -> {verdict}; memory ratio {big['peak_rss_mb'] / small['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
