"""Replay fixtures: the serving tests' real MLflow registry, a live scoring API in a subprocess, a tiny fleet."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.auth import hash_key
from tests.serving.conftest import API_KEY, Registry, registry  # noqa: F401 - the session registry fixture, reused

ROOT = Path(__file__).resolve().parents[2]
FLEET = {"assets": 6, "years": 1.0, "seed": 11}  # the serving tests' fleet: generated once per session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_log(folder: Path) -> pd.DataFrame:
    files = sorted(folder.rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


@dataclass
class LiveApi:
    """A real uvicorn server serving a registered model; `stop()` sends SIGTERM (drain, flush the log)."""

    url: str
    key: str
    log_dir: Path
    proc: subprocess.Popen[bytes]

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        return self.proc.stdout.read().decode() if self.proc.stdout else ""  # type: ignore[union-attr]


@pytest.fixture()
def live_api(registry: Registry, tmp_path: Path) -> Iterator[LiveApi]:  # noqa: F811
    """Start the API on a free port with a fresh model name and prediction log; stop it afterwards."""
    name = registry.new_model("good")
    port = free_port()
    log_dir = tmp_path / "predictions"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "XFMR_API_KEYS": hash_key(API_KEY), "MLFLOW_TRACKING_URI": registry.uri,
        "XFMR_MODEL_NAME": name, "XFMR_HOME": str(tmp_path / "home"), "XFMR_PREDICTION_LOG_DIR": str(log_dir),
        "XFMR_LOG_FLUSH_INTERVAL_S": "300", "XFMR_LOG_LEVEL": "warning",  # only the SIGTERM flush writes the log
    }
    proc = subprocess.Popen([sys.executable, "-m", "serving", "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = LiveApi(f"http://127.0.0.1:{port}", API_KEY, log_dir, proc)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"API exited: {api.stop()[-2000:]}")
            try:
                if httpx.get(f"{api.url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("API not ready in 90 s")
            time.sleep(0.2)
        yield api
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def fleet(make_fleet: Callable[..., Path]) -> Path:
    return make_fleet(**FLEET)
