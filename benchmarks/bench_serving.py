"""Drive `mlflow models serve` and our scoring service, serving the SAME registered version, with wrk.

One run: registers versions in a temp MLflow registry (a realistically sized booster, a second
one, and a corrupt one), serves it with each server in turn on 127.0.0.1 (the other one stopped),
runs wrk at concurrency 1 and 8 with single readings and 1000-reading batches, then swaps the champion 3 times under load (once to the
corrupt version) counting failed requests. Our service runs with its default registry poll interval
(30 s) for the measured runs and is restarted polling every 0.5 s for the swaps, so that they happen
within seconds (its throughput and latency while polling that often are printed too). Prints a table
and the ratios; writes benchmarks/results/serving.json.

    .venv/bin/python benchmarks/bench_serving.py [--duration 10] [--trees 300] [--depth 4]

Needs wrk (`apt-get install -y wrk`). Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
API_KEY = "bench-key"
MODEL = "bench_transformer_failure"
BATCH = 1000
SERVING_POLL_S = 30.0  # the service's default registry poll interval (XFMR_POLL_INTERVAL_S)
SWAP_POLL_S = 0.5
LUA = """
local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
{auth}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRKJSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non_2xx\\": %d, \\"socket_errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"mean_us\\": %.1f, \\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not healthy after {timeout_s:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's own process group (mlflow serve runs uvicorn as a child), then wait."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def register_versions(work: Path, uri: str, trees: int, depth: int) -> Any:
    """Register v1 (model A), v2 (model B), v3 (A with a truncated booster); @champion -> v1."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from tests.serving.factory import (corrupt_booster, log_pyfunc_model, log_variant, tracking,
                                       train_tiny_model)

    with tracking(uri):
        experiment = mlflow.create_experiment("bench-serving", artifact_location=(work / "artifacts").as_uri())
        mlflow.set_experiment(experiment_id=experiment)
        a = train_tiny_model(seed=0, rows=3000, rounds=trees, depth=depth)
        b = train_tiny_model(seed=1, rows=3000, rounds=trees, depth=depth)
        good = log_pyfunc_model(a, work / "logged")
        base = Path(mlflow.artifacts.download_artifacts(good.model_uri, dst_path=str(work / "base")))
        other = log_variant("good_b", base, b, None, work / "logged")
        corrupt = log_variant("corrupt", base, None, corrupt_booster, work / "logged")
        client = MlflowClient()
        client.create_registered_model(MODEL)
        for logged in (good, other, corrupt):
            client.create_model_version(MODEL, logged.model_uri, run_id=logged.run_id)
        client.set_registered_model_alias(MODEL, "champion", "1")
    return a


def bodies(work: Path) -> dict[str, Path]:
    """Write the request bodies: one reading and 1000 readings, for both APIs."""
    from tests.serving.factory import readings_json, synthetic_readings

    complete = synthetic_readings(3 * BATCH, seed=7).dropna()
    single = readings_json(complete.head(1))
    batch = readings_json(complete.head(BATCH))
    files = {
        "ours_single": {"readings": single},
        "ours_batch": {"readings": batch},
        "mlflow_single": {"dataframe_records": single},
        "mlflow_batch": {"dataframe_records": batch},
    }
    out = {}
    for name, payload in files.items():
        out[name] = work / f"{name}.json"
        out[name].write_text(json.dumps(payload))
    return out


def wrk(url: str, body: Path, concurrency: int, duration: int, auth: bool, work: Path) -> dict[str, float]:
    script = work / f"wrk-{body.stem}-{concurrency}.lua"
    header = f'wrk.headers["Authorization"] = "Bearer {API_KEY}"' if auth else ""
    script.write_text(LUA.format(body=body, auth=header))
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--timeout", "10s", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    raw = json.loads(line[len("WRKJSON "):])
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"], "rps": raw["requests"] / seconds, "p50_ms": raw["p50_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3, "mean_ms": raw["mean_us"] / 1e3, "max_ms": raw["max_us"] / 1e3,
        "non_2xx": raw["non_2xx"], "socket_errors": raw["socket_errors"],
    }


def settle(url: str, body: Path, auth: bool) -> None:
    """Wait until a server has drained what an earlier run left queued: one request through its FIFO."""
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = f"Bearer {API_KEY}"
    httpx.post(url, content=body.read_bytes(), headers=headers, timeout=300).raise_for_status()


def start_ours(work: Path, uri: str, port: int, top_features: int, poll_s: float) -> subprocess.Popen[bytes]:
    from serving.auth import hash_key

    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "XFMR_API_KEYS": hash_key(API_KEY), "MLFLOW_TRACKING_URI": uri,
        "XFMR_MODEL_NAME": MODEL, "XFMR_HOME": str(work / f"home-{port}"), "XFMR_POLL_INTERVAL_S": str(poll_s),
        "XFMR_LOG_LEVEL": "warning", "XFMR_TOP_FEATURES": str(top_features),
    }
    return subprocess.Popen([sys.executable, "-c", f"from serving.app import run; run('127.0.0.1', {port})"],
                            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def metric_value(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name) and not l.startswith("#"))


def swaps_under_load(url: str, uri: str, body: Path, work: Path, step_s: float) -> dict[str, Any]:
    """Run wrk at c=8 while @champion moves 1 -> 2 -> 3 (corrupt, refused) -> 1."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    plan = ["2", "3", "1"]
    timeline: list[dict[str, Any]] = []

    def mover() -> None:
        for version in plan:
            time.sleep(step_s)
            client.set_registered_model_alias(MODEL, "champion", version)
            timeline.append({"t": time.monotonic(), "alias_to": version})

    thread = threading.Thread(target=mover)
    started = time.monotonic()
    thread.start()
    result = wrk(f"{url}/v1/score", body, 8, int(step_s * (len(plan) + 1.5)), True, work)
    thread.join()
    for event in timeline:
        event["t"] = round(event["t"] - started, 2)
    return {
        **result, "alias_moves": timeline,
        "swaps_total": metric_value(url, "xfmr_model_swaps_total"),
        "refused_total": metric_value(url, "xfmr_model_swaps_refused_total"),
        "serving_version_after": httpx.get(f"{url}/health/ready", timeout=5).json()["model_version"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--trees", type=int, default=300, help="boosting rounds of the benchmark model")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "serving.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench_serving: wrk is not installed; install it with: apt-get install -y wrk", file=sys.stderr)
        return 2
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        work = Path(tmp)
        uri = f"sqlite:///{work / 'mlflow.db'}"
        print("registering versions ...", flush=True)
        tiny = register_versions(work, uri, args.trees, args.depth)
        leaves = sum(tree.count("leaf=") for tree in tiny.model.booster.get_dump())
        files = bodies(work)
        ml_port, our_port = free_port(), free_port()
        # mlflow execs `uvicorn` by name: the interpreter's bin folder must be on PATH.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT), "PATH": path}
        procs: list[subprocess.Popen[bytes]] = []
        try:
            ml_url, our_url = f"http://127.0.0.1:{ml_port}", f"http://127.0.0.1:{our_port}"
            # One server at a time: the other is not even idle in the background while one is measured.
            plan = [
                ("mlflow models serve", f"{ml_url}/invocations", "mlflow", False),
                ("xfmr serving", f"{our_url}/v1/score", "ours", True),
                ("xfmr serving ?explain=false", f"{our_url}/v1/score?explain=false", "ours", True),
            ]
            for server, url, key, auth in plan:
                if key == "mlflow" and not procs:
                    procs.append(subprocess.Popen(
                        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1", "--env-manager",
                         "local", "-h", "127.0.0.1", "-p", str(ml_port)], env=env, cwd=work, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True))
                    wait_http(f"{ml_url}/ping", procs[-1])
                elif key == "ours" and len(procs) == 1:
                    stop(procs[0])
                    procs.append(start_ours(work, uri, our_port, top_features=3, poll_s=SERVING_POLL_S))
                    wait_http(f"{our_url}/health/ready", procs[-1])
                wrk(url, files[f"{key}_single"], 8, 2, auth, work)  # warm-up
                for kind, size in (("single", 1), ("batch", BATCH)):
                    for c in (1, 8):
                        print(f"{server}: {kind} c={c} ...", flush=True)
                        settle(url, files[f"{key}_single"], auth)
                        load = os.getloadavg()[0]
                        r = wrk(url, files[f"{key}_{kind}"], c, args.duration, auth, work)
                        rows.append({"server": server, "readings_per_request": size, "concurrency": c, **r,
                                     "readings_per_s": r["rps"] * size, "loadavg_1m_before": round(load, 2)})
            stop(procs[-1])
            # The swap run polls the registry every 0.5 s so that three swaps fit in ~20 s of load.
            swap_port = free_port()
            swapping = start_ours(work, uri, swap_port, top_features=3, poll_s=SWAP_POLL_S)
            procs.append(swapping)
            swap_url = f"http://127.0.0.1:{swap_port}"
            wait_http(f"{swap_url}/health/ready", swapping)
            print("xfmr serving: 3 swaps under load (one to a corrupt version) ...", flush=True)
            settle(f"{swap_url}/v1/score", files["ours_single"], True)
            swaps = swaps_under_load(swap_url, uri, files["ours_single"], work, step_s=4.0)
        finally:
            for proc in procs:
                stop(proc)
    report = summarise(rows, swaps, args, leaves)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")
    return 0


def summarise(rows: list[dict[str, Any]], swaps: dict[str, Any], args: argparse.Namespace, leaves: int) -> dict[str, Any]:
    def find(server: str, size: int, c: int) -> dict[str, Any]:
        return next(r for r in rows if r["server"] == server and r["readings_per_request"] == size and r["concurrency"] == c)

    print(f"\n{'server':32} {'readings':>8} {'c':>2} {'req/s':>9} {'readings/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for r in rows:
        print(f"{r['server']:32} {r['readings_per_request']:>8} {r['concurrency']:>2} {r['rps']:>9.1f} "
              f"{r['readings_per_s']:>11.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['non_2xx'] + r['socket_errors']:>8}")
    ours1, ml1 = find("xfmr serving", 1, 8), find("mlflow models serve", 1, 8)
    oursb, mlb = find("xfmr serving", BATCH, 1), find("mlflow models serve", BATCH, 1)
    ratios = {
        "single_c8_throughput_vs_mlflow": ours1["rps"] / ml1["rps"],
        "single_c1_throughput_vs_mlflow": find("xfmr serving", 1, 1)["rps"] / find("mlflow models serve", 1, 1)["rps"],
        "batch_c1_throughput_vs_mlflow": oursb["rps"] / mlb["rps"],
        "batch_c8_throughput_vs_mlflow": find("xfmr serving", BATCH, 8)["rps"] / find("mlflow models serve", BATCH, 8)["rps"],
        "single_c8_throughput_vs_mlflow_without_explanations":
            find("xfmr serving ?explain=false", 1, 8)["rps"] / ml1["rps"],
    }
    failed_during_swaps = swaps["non_2xx"] + swaps["socket_errors"]
    targets = {
        "single_c8_throughput_ge_15x_mlflow": ratios["single_c8_throughput_vs_mlflow"] >= 15,
        "single_c8_p99_le_10ms": ours1["p99_ms"] <= 10,
        "batch_1000_c1_p99_le_25ms": oursb["p99_ms"] <= 25,
        "batch_1000_c1_p99_le_25ms_without_explanations": find("xfmr serving ?explain=false", BATCH, 1)["p99_ms"] <= 25,
        "zero_failed_requests_during_swaps": failed_during_swaps == 0,
    }
    print("\nratios (xfmr / mlflow): " + ", ".join(f"{k} = {v:.1f}x" for k, v in ratios.items()))
    print(f"swaps under load: {swaps['requests']} requests at c=8 ({swaps['rps']:.0f} req/s, p50 {swaps['p50_ms']:.1f} ms, "
          f"p99 {swaps['p99_ms']:.1f} ms, polling every {SWAP_POLL_S} s), {failed_during_swaps} failed; alias moves "
          f"{[m['alias_to'] for m in swaps['alias_moves']]}; swaps_total={swaps['swaps_total']:.0f} (incl. first load), "
          f"refused={swaps['refused_total']:.0f}; serving v{swaps['serving_version_after']} after")
    print("targets: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items()))
    print(f"load average (1 min) during the runs: {min(r['loadavg_1m_before'] for r in rows):.1f}-"
          f"{max(r['loadavg_1m_before'] for r in rows):.1f} on {os.cpu_count()} cores")
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "model": {"trees": args.trees, "depth": args.depth, "features": 76, "leaves": leaves},
        "duration_s_per_run": args.duration, "load_generator": "wrk -t1 (one thread), 127.0.0.1",
        "registry_poll_s": {"measured_runs": SERVING_POLL_S, "swaps_under_load": SWAP_POLL_S},
        "runs": rows, "ratios": ratios, "swaps_under_load": swaps, "targets": targets,
    }


if __name__ == "__main__":
    sys.exit(main())
