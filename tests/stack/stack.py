"""The compose stack run as plain processes on this host, against the local PostgreSQL.

`Stack.up("api")` starts what docker compose would: the service's dependencies first (waiting until
each is healthy, or for one-shot services until they exit 0), then the service, then waits for its
own health check (the compose `healthcheck` command, run here). PostgreSQL is not started: the test
session gets fresh databases and roles on 127.0.0.1:5432, created by the same init script the
postgres container runs, and dropped at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from launcher import ServiceProcess, free_port
from tests.stack.compose import COMPOSE_FILE, LocalService, Rewriter, container_ports, load_compose, port_key

PG_HOST, PG_PORT, PG_SUPERUSER = "127.0.0.1", 5432, "postgres"
TEST_DB_PREFIX = "xfmr_test_"
INIT_SCRIPTS = "/docker-entrypoint-initdb.d"


class StackError(RuntimeError):
    """A service of the stack did not start, did not become healthy, or failed."""


def psql(sql: str, database: str = "postgres") -> str:
    """Run SQL as the local superuser; fail with PostgreSQL's own message."""
    done = subprocess.run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_SUPERUSER, "-d", database, "-v", "ON_ERROR_STOP=1",
         "-Atqc", sql], capture_output=True, text=True, timeout=60,
    )
    if done.returncode != 0:
        raise StackError(f"psql on {PG_HOST}:{PG_PORT} failed: {done.stderr.strip()}")
    return done.stdout


def require_postgres() -> None:
    """Fail (never skip) when the local PostgreSQL is not reachable: CI starts it."""
    done = subprocess.run(["pg_isready", "-h", PG_HOST, "-p", str(PG_PORT)], capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(
            f"PostgreSQL is not accepting connections on {PG_HOST}:{PG_PORT} ({done.stdout.strip()}); the stack "
            "tests need it with trust auth for user postgres (.ci/run starts it)"
        )


def drop_test_databases(tag: str) -> None:
    """Drop the databases and roles named `xfmr_test_<tag>_*`."""
    like = f"{TEST_DB_PREFIX}{tag}\\_%"
    for name in psql(f"SELECT datname FROM pg_database WHERE datname LIKE '{like}'").split():
        psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    for name in psql(f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{like}'").split():
        psql(f'DROP ROLE IF EXISTS "{name}"')


def stack_env(tag: str, api_key_hash: str, api_key: str) -> dict[str, str]:
    """A `.env` for the stack: fresh secrets, and database names unique to this test session."""
    token = secrets.token_urlsafe
    return {
        "POSTGRES_PASSWORD": token(18),
        "MLFLOW_DB": f"{TEST_DB_PREFIX}{tag}_mlflow",
        "MLFLOW_DB_PASSWORD": token(18),
        "PREFECT_DB": f"{TEST_DB_PREFIX}{tag}_prefect",
        "PREFECT_DB_PASSWORD": token(18),
        "MLFLOW_ADMIN_PASSWORD": token(18),
        "MLFLOW_FLASK_SECRET_KEY": token(32),
        "MLFLOW_WRITER_PASSWORD": token(18),
        "MLFLOW_READER_PASSWORD": token(18),
        "PREFECT_AUTH_STRING": f"operator:{token(18)}",
        "XFMR_API_KEYS": api_key_hash,
        "REPLAY_API_KEY": api_key,
        "XFMR_POLL_INTERVAL_S": "2",
        # The drift check reads what the API has flushed to the prediction log.
        "XFMR_LOG_FLUSH_INTERVAL_S": "2",
        # Schedules far apart, so the test's own runs are the only ones.
        "XFMR_TRAIN_CRON": "0 0 1 1 *",
        # The replay streams as fast as the API answers.
        "REPLAY_SPEED": "100000000",
        "XFMR_DRIFT_INTERVAL_MINUTES": "10080",
    }


def container_argv(local: LocalService) -> list[str]:
    """Run like a container: only the service's environment (`env -i`), in its working directory (`-C`)."""
    return ["env", "-i", "-C", str(local.cwd), *(f"{k}={v}" for k, v in local.env.items()), *local.argv]


class Stack:
    """The services of docker-compose.yml as local processes, with state under `root`."""

    def __init__(self, env: Mapping[str, str], root: Path) -> None:
        self.env = dict(env)
        self.root = root
        self.compose: dict[str, Any] = load_compose(self.env)
        self.ports = {name: free_port() for name in self.compose["services"]}
        # A service's further container ports (the flows' metrics endpoint beside its runner's health port).
        self.ports.update({port_key(name, inside, main=False): free_port()
                           for name, service in self.compose["services"].items()
                           for inside in container_ports(service)[1:]})
        self.ports["postgres"] = PG_PORT  # the local PostgreSQL stands in for the container
        self.rewriter = Rewriter(self.compose, self.ports, root)
        self.processes: dict[str, ServiceProcess] = {}
        self.completed: set[str] = set()

    def reload(self) -> None:
        """Read the compose file again with the current `env` (what `docker compose up` does after editing .env).

        Running services keep their old settings until they are stopped and started again.
        """
        self.compose = load_compose(self.env)
        self.rewriter = Rewriter(self.compose, self.ports, self.root)

    # -- what the tests need to know -------------------------------------------------------------

    def local(self, name: str) -> LocalService:
        return self.rewriter.service(name)

    def url(self, name: str) -> str:
        port = self.local(name).port
        if port is None:
            raise StackError(f"service {name!r} publishes no port")
        return f"http://127.0.0.1:{port}"

    def volume(self, name: str) -> Path:
        path = self.rewriter.volumes_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    # -- lifecycle -------------------------------------------------------------------------------

    def init_postgres(self) -> None:
        """Run the postgres service's init scripts against the local server (as the container would once)."""
        service = self.compose["services"]["postgres"]
        env = {**os.environ, **{k: str(v) for k, v in service["environment"].items()},
               "PGHOST": PG_HOST, "PGPORT": str(PG_PORT), "POSTGRES_USER": PG_SUPERUSER}
        for mount in self.rewriter.paths("postgres"):
            if mount.target.startswith(INIT_SCRIPTS):
                done = subprocess.run(["sh", str(mount.host)], env=env, capture_output=True, text=True, timeout=60)
                if done.returncode != 0:
                    raise StackError(f"postgres init script {mount.host.name} failed: {done.stderr.strip()}")

    def up(self, *names: str, timeout_s: float = 300.0) -> None:
        """Start `names` and what they depend on, as `docker compose up` would, and wait until they are healthy.

        A service starts once its dependencies meet their `depends_on` condition; services that do
        not wait for each other start together. One-shot services run to completion.
        """
        needed = self._closure(names)
        deadline = time.monotonic() + timeout_s
        while True:
            for name in needed:
                if name not in self.completed and not self._running(name) and self._ready_to_start(name):
                    self._start(name, timeout_s)
            waiting = [n for n in needed if n not in self.completed and not (self._running(n) and self.healthy(n))]
            if not waiting:
                return
            for name in waiting:
                process = self.processes.get(name)
                if process is not None and not process.running:
                    raise StackError(f"service {name} exited; last lines of {self.log(name)}:\n{self.tail(name)}")
            if time.monotonic() > deadline:
                raise StackError(f"services {', '.join(waiting)} not healthy after {timeout_s:.0f} s; "
                                 f"logs under {self.root / 'logs'}")
            time.sleep(1.0)

    def _closure(self, names: tuple[str, ...]) -> list[str]:
        out: list[str] = []

        def visit(name: str) -> None:
            if name == "postgres" or name in out:
                return
            for dependency in self.compose["services"][name].get("depends_on") or {}:
                visit(dependency)
            out.append(name)

        for name in names:
            visit(name)
        return out

    def _ready_to_start(self, name: str) -> bool:
        for dependency, rule in (self.compose["services"][name].get("depends_on") or {}).items():
            condition = rule.get("condition", "service_started")
            if dependency == "postgres":
                ok = self.healthy("postgres")
            elif condition == "service_completed_successfully":
                ok = dependency in self.completed
            elif condition == "service_healthy":
                ok = self._running(dependency) and self.healthy(dependency)
            else:
                ok = self._running(dependency)
            if not ok:
                return False
        return True

    def write_secrets(self, name: str) -> None:
        """Write the service's compose secrets where it reads them (/run/secrets/<name>, rewritten)."""
        declared = self.compose.get("secrets") or {}
        for secret in self.compose["services"][name].get("secrets") or []:
            source = declared[secret]
            if "environment" in source:
                value = self.env[source["environment"]]
            else:
                value = (COMPOSE_FILE.parent / source["file"]).read_text()
            path = self.rewriter.host_path(name, f"/run/secrets/{secret}", [])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value)
            path.chmod(0o600)

    def _start(self, name: str, timeout_s: float) -> None:
        self.write_secrets(name)
        local = self.local(name)
        if local.one_shot:
            self.run_once(name, timeout_s)
        else:
            self.processes[name] = ServiceProcess(name, container_argv(local), self.log(name)).start()

    def run_once(self, name: str, timeout_s: float = 240.0) -> str:
        """Run a one-shot service to completion; return its output, fail naming it when it exits non-zero."""
        self.write_secrets(name)
        local = self.local(name)
        done = subprocess.run(container_argv(local), capture_output=True, text=True, timeout=timeout_s)
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        self.log(name).write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise StackError(f"one-shot service {name} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}")
        self.completed.add(name)
        return done.stdout

    def healthy(self, name: str) -> bool:
        """Run the service's compose health check once."""
        if name == "postgres":
            return subprocess.run(["pg_isready", "-h", PG_HOST, "-p", str(PG_PORT)], capture_output=True).returncode == 0
        local = self.local(name)
        if local.probe is None:
            raise StackError(f"service {name!r} has no healthcheck in the compose file")
        try:
            probe = LocalService(name, local.probe, local.env, local.cwd, None, None, True)
            return subprocess.run(container_argv(probe), capture_output=True, timeout=15).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def wait_healthy(self, name: str, timeout_s: float = 240.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and not process.running:
                raise StackError(f"service {name} exited; last lines of {self.log(name)}:\n{self.tail(name)}")
            if self.healthy(name):
                return
            time.sleep(1.0)
        raise StackError(f"service {name} not healthy after {timeout_s:.0f} s; last lines of its log:\n{self.tail(name)}")

    def stop(self, name: str, grace_s: float = 20.0) -> int | None:
        """Stop one service (SIGTERM, then SIGKILL after `grace_s`); return its exit code."""
        process = self.processes.pop(name, None)
        return process.stop(grace_s) if process is not None else None

    def down(self) -> None:
        """Stop every service, dependants first."""
        for name in reversed(list(self.processes)):
            self.stop(name)

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"

    def _running(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.running


@contextmanager
def running_stack(root: Path, env: Mapping[str, str], tag: str) -> Iterator[Stack]:
    """Fresh databases, a `Stack` over them, and everything stopped and dropped afterwards."""
    require_postgres()
    drop_test_databases(tag)
    stack = Stack(env, root)
    try:
        stack.init_postgres()
        yield stack
    finally:
        stack.down()
        drop_test_databases(tag)


@contextmanager
def prefect_client(stack: Stack) -> Iterator[None]:
    """Point this process's Prefect client at the stack's server, with its auth string."""
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: f"{stack.url('prefect')}/api",
                             PREFECT_API_AUTH_STRING: stack.env["PREFECT_AUTH_STRING"]}):
        yield


@contextmanager
def mlflow_user(username: str | None, password: str | None) -> Iterator[None]:
    """Make this process's MLflow calls as `username` (None: anonymous); the previous identity is restored."""
    saved = {var: os.environ.get(var) for var in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    try:
        for var, value in zip(saved, (username, password), strict=True):
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def start_flow_run(stack: Stack, deployment: str, parameters: Mapping[str, Any]) -> str:
    """Ask the stack's Prefect server for a run of `deployment` (as an operator would); return its id."""
    from prefect.deployments import run_deployment

    with prefect_client(stack):
        run = run_deployment(deployment, parameters=dict(parameters), timeout=0, as_subflow=False)
    return str(run.id)


def wait_flow_run(stack: Stack, run_id: str, timeout_s: float = 300.0) -> Any:
    """Wait until the flow run is final; return it, or fail with its state and the flows service's log."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with prefect_client(stack), get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)  # type: ignore[arg-type]
            if run.state is not None and run.state.is_final():
                return run
            if time.monotonic() > deadline:
                state = run.state.name if run.state else "no state"
                raise StackError(f"flow run {run.name} ({run_id}) still {state} after {timeout_s:.0f} s:\n"
                                 f"{stack.tail('flows')}")
            time.sleep(2.0)


def flow_runs_of(stack: Stack, deployment: str) -> list[Any]:
    """Every flow run of `deployment` (`flow/name`), oldest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with prefect_client(stack), get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[found.id])))
    return sorted(runs, key=lambda r: r.created)


def logged_predictions(stack: Stack, request_prefix: str | None = None) -> int:
    """Rows in the shared prediction log (the `predictions` volume) so far; with `request_prefix`, only the rows
    whose request id starts with it (the MQTT bridge's start with `mqtt-`)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = stack.volume("predictions").glob("date=*/part-*.parquet")
    if request_prefix is None:
        return sum(pq.ParquetFile(path).metadata.num_rows for path in files)
    return sum(pc.sum(pc.starts_with(pq.read_table(path, columns=["request_id"])["request_id"], request_prefix)).as_py()
               or 0 for path in files)


def wait_for_logged_predictions(stack: Stack, rows: int, timeout_s: float = 120.0,
                                request_prefix: str | None = None) -> None:
    """Wait until the log holds at least `rows` predictions (the API and the bridge write them off the request path)."""
    deadline = time.monotonic() + timeout_s
    while (found := logged_predictions(stack, request_prefix)) < rows:
        if time.monotonic() > deadline:
            raise StackError(f"the prediction log has {found} rows after {timeout_s:.0f} s, expected {rows}")
        time.sleep(0.5)
