"""What the fault tests of the stack share: commands run inside a service, registry reads, readings, waiting."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.stack.compose import LocalService
from tests.stack.conftest import ApiKey
from tests.stack.stack import Stack, container_argv, mlflow_user

MODEL = "transformer_failure"
ALIASES = ("champion", "challenger", "previous_champion")
# What a training run tags its version with (tasks/tracking.py lineage, flows/gating.py); the gate adds gate.*.
LINEAGE_TAGS = ("git_commit", "data_digest", "data_source", "flow_run_id", "trigger", "split_kind",
                "holdout_digest", "feature_list", "feature_count")
T = TypeVar("T")


def writer(stack: Stack) -> Any:
    return mlflow_user(stack.env.get("MLFLOW_WRITER_USER", "xfmr-flows"), stack.env["MLFLOW_WRITER_PASSWORD"])


def registry(stack: Stack) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=stack.url("mlflow"), registry_uri=stack.url("mlflow"))


def versions(client: Any) -> dict[int, Any]:
    """Every registered version of the model, by number."""
    return {int(mv.version): mv for mv in client.search_model_versions(f"name='{MODEL}'", max_results=1000)}


def aliases(client: Any) -> dict[str, str]:
    return {str(alias): str(version) for alias, version in client.get_registered_model(MODEL).aliases.items()}


def gate_recorded(mv: Any) -> bool:
    """The version carries a gate (or manual promotion) decision and the path of its record."""
    return mv.tags.get("gate.decision") in ("promoted", "rejected") and bool(mv.tags.get("gate.record"))


def alias_problems(client: Any, require_record: tuple[str, ...] = ("champion", "challenger")) -> list[str]:
    """What is wrong with the aliases: pointing at a missing or not-READY version, or at one without a gate record."""
    found = versions(client)
    problems = []
    for alias, version in aliases(client).items():
        mv = found.get(int(version))
        if mv is None:
            problems.append(f"@{alias} -> v{version}, which does not exist")
        elif mv.status != "READY":
            problems.append(f"@{alias} -> v{version}, status {mv.status}")
        elif alias in require_record and not gate_recorded(mv):
            problems.append(f"@{alias} -> v{version}, which has no gate record (gate.decision "
                            f"{mv.tags.get('gate.decision')!r})")
    return problems


def lineage_of(client: Any, version: str) -> dict[str, str]:
    """The lineage tags a training run gave `version` (what a copy of it must carry too)."""
    mv = client.get_model_version(MODEL, version)
    return {key: mv.tags[key] for key in LINEAGE_TAGS if key in mv.tags}


def flows_command(stack: Stack, *args: str) -> list[str]:
    """argv of `docker compose exec flows xfmr <args>`: the flows service's environment and working directory."""
    flows = stack.local("flows")
    xfmr = str(Path(flows.argv[0]).with_name("xfmr"))
    return container_argv(LocalService("flows-exec", [xfmr, *args], flows.env, flows.cwd, None, None, True))


def run_in_flows(stack: Stack, *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(flows_command(stack, *args), capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, f"xfmr {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


def start_in_flows(stack: Stack, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start `xfmr <args>` in the flows service's environment, in its own process group, output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(flows_command(stack, *args), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def kill_group(process: subprocess.Popen[bytes]) -> int:
    """SIGKILL the process and everything it started; return its exit code."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return process.wait(timeout=30)


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, interval_s: float = 0.5) -> T:
    """Poll `probe` until it returns something other than None (or False); fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def write_config(path: Path, config: Any) -> Path:
    """Write a TrainingConfig as the JSON file `xfmr train --config` reads."""
    path.write_text(json.dumps(config.model_dump(mode="json")))
    return path


def sample_readings(fleet: Path, count: int = 20) -> list[dict[str, Any]]:
    """The fleet's last day of readings, as a client sends them."""
    import pandas as pd

    from demo.stream import readings_for_period
    from replay.encode import records
    from tasks.ingest import ingest_folder

    tables = dict(ingest_folder(fleet).tables)
    end = pd.Timestamp(tables["telemetry"]["timestamp"].max())
    return records(readings_for_period(tables, end - pd.Timedelta(days=1), end, 12.0))[:count]


def score(stack: Stack, key: ApiKey, readings: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(f"{stack.url('api')}/v1/score", json={"readings": readings},
                          headers={"Authorization": f"Bearer {key.key}"}, timeout=30)
    assert response.status_code == 200, f"scoring failed: {response.status_code} {response.text[:500]}"
    return response.json()  # type: ignore[no-any-return]


def served_version(stack: Stack, key: ApiKey) -> str:
    response = httpx.get(f"{stack.url('api')}/v1/model", headers={"Authorization": f"Bearer {key.key}"}, timeout=10)
    response.raise_for_status()
    return str(response.json()["version"])


def metric(stack: Stack, key: ApiKey, name: str) -> float:
    """One unlabelled sample of the API's Prometheus metrics."""
    response = httpx.get(f"{stack.url('api')}/metrics", headers={"Authorization": f"Bearer {key.key}"}, timeout=10)
    response.raise_for_status()
    for line in response.text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} not in the API's /metrics")
