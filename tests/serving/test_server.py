"""The real server in a subprocess (uvicorn, uvloop, httptools): chunked uploads, SIGTERM loses nothing scored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from serving.auth import hash_key
from tests.serving.conftest import API_KEY, Registry, auth
from tests.serving.factory import readings_json

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(registry: Registry, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    name = registry.new_model("good")
    port = free_port()
    log_dir = tmp_path / "predictions"
    env = {
        **os.environ,
        "XFMR_API_KEYS": hash_key(API_KEY),
        "MLFLOW_TRACKING_URI": registry.uri,
        "XFMR_MODEL_NAME": name,
        "XFMR_HOME": str(tmp_path / "home"),
        "XFMR_PREDICTION_LOG_DIR": str(log_dir),
        "XFMR_LOG_FLUSH_INTERVAL_S": "300",  # nothing reaches disk before the shutdown flush
        "XFMR_MAX_BODY_BYTES": "50000",
        "XFMR_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from serving.app import run; run('127.0.0.1', {port})"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("server not ready in time")
        yield url, proc, log_dir
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_real_server_chunked_limit_and_sigterm_flush(server: tuple[str, subprocess.Popen[bytes], Path],
                                                      registry: Registry) -> None:
    url, proc, log_dir = server
    readings = readings_json(registry.logged["good"].readings.head(12))
    headers = {"Content-Type": "application/json", **auth()}
    sent: dict[str, int] = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        def chunks() -> Iterator[bytes]:
            yield b'{"readings": ['
            for _ in range(100):
                yield b'{"transformer_id": "' + b"x" * 1000 + b'"},'
            yield b"]}"

        big = client.post("/v1/score", content=chunks(), headers=headers)  # Transfer-Encoding: chunked
        assert big.status_code == 413 and big.json()["errors"][0]["field"] == "body"
        for i, size in enumerate((1, 5, 12, 1, 3)):
            r = client.post("/v1/score", content=json.dumps({"readings": readings[:size]}),
                            headers={**headers, "X-Request-ID": f"sig-{i}"})
            assert r.status_code == 200, r.text
            sent[f"sig-{i}"] = size
        assert client.post("/v1/score", content=b"{oops", headers=headers).status_code == 400
    assert not list(log_dir.rglob("*.parquet"))
    proc.send_signal(signal.SIGTERM)
    # uvicorn drains, runs the lifespan shutdown, then re-raises the signal: exit by SIGTERM after a clean stop.
    assert proc.wait(60) in (0, -signal.SIGTERM)
    output = proc.stdout.read().decode()  # type: ignore[union-attr]
    assert "Traceback" not in output, output[-3000:]
    log = pd.concat([pd.read_parquet(f) for f in log_dir.rglob("*.parquet")])
    assert log.groupby("request_id").size().to_dict() == sent
