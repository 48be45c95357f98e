"""Concurrency and faults on the production stack: the compose services as local processes on real PostgreSQL.

One stack for the module, in this order: a first champion (`xfmr train` run inside the flows service);
20 registrations at once; a training run SIGKILLed in its registry step; the scoring API while the
MLflow server is down and after it is back; the run after the killed one; two retraining triggers at once.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stack.conftest import ApiKey
from tests.stack.faults_support import (
    MODEL,
    alias_problems,
    aliases,
    gate_recorded,
    kill_group,
    lineage_of,
    metric,
    registry,
    run_in_flows,
    sample_readings,
    score,
    served_version,
    start_in_flows,
    versions,
    wait_for,
    write_config,
    writer,
)
from tests.stack.stack import Stack, flow_runs_of, prefect_client, wait_flow_run

pytestmark = pytest.mark.slow

REGISTRATIONS = 20


@pytest.fixture(scope="module")
def fleet(stack: Stack) -> Path:
    """The tiny fleet of the flow tests, in the flows service's default data folder."""
    from fleetsim import GeneratorConfig, generate_fleet
    from tests.flows.conftest import TINY_FLEET

    out = Path(stack.local("flows").env["XFMR_HOME"]) / "data" / "fleet"
    generate_fleet(GeneratorConfig(**TINY_FLEET), out)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def small_config(stack: Stack) -> Path:
    """The real training config, shrunk as in the flow tests, for `xfmr train --config`."""
    from tests.flows.conftest import SMALL_CONFIG

    return write_config(stack.root / "small-config.json", SMALL_CONFIG)


@pytest.fixture(scope="module")
def champion(stack: Stack, fleet: Path, small_config: Path) -> str:
    """The first champion: `xfmr train` inside the flows service (as `docker compose exec flows xfmr train`)."""
    stack.up("flows")
    run_in_flows(stack, "train", "--config", str(small_config), timeout_s=420)
    with writer(stack):
        mv = registry(stack).get_model_version_by_alias(MODEL, "champion")
    assert gate_recorded(mv), mv.tags
    return str(mv.version)


def test_twenty_concurrent_registrations_get_consecutive_versions_with_their_lineage(stack: Stack, champion: str) -> None:
    """20 threads register a version of the model at the same moment through tasks.registry, as the gate does."""
    from mlflow.tracking import MlflowClient

    from tasks.registry import register_version

    with writer(stack):
        client = registry(stack)
        source = client.get_model_version(MODEL, champion)
        lineage = lineage_of(client, champion)
        before = max(versions(client))
        start = threading.Barrier(REGISTRATIONS)

        def register(i: int) -> str:
            own = MlflowClient(tracking_uri=stack.url("mlflow"), registry_uri=stack.url("mlflow"))
            own.get_registered_model(MODEL)  # the server verifies and caches the password: then all 20 hit the database
            start.wait(timeout=60)
            tags = {**lineage, "fault_test.registration": str(i)}
            return str(register_version(own, MODEL, source.source, source.run_id, tags).version)

        with ThreadPoolExecutor(REGISTRATIONS) as pool:
            futures = [pool.submit(register, i) for i in range(REGISTRATIONS)]
            errors = [f.exception() for f in futures if f.exception() is not None]
            assert not errors, f"{len(errors)} of {REGISTRATIONS} registrations failed, e.g. {errors[0]!r}"
            returned = [f.result() for f in futures]
        after = versions(client)

    new = sorted(int(v) for v in returned)
    assert new == list(range(before + 1, before + 1 + REGISTRATIONS)), f"versions {new} after v{before}"
    assert sorted(set(after) - set(range(before + 1))) == new, "the registry holds exactly the 20 new versions"
    for i, version in enumerate(returned):
        mv = after[int(version)]
        assert mv.status == "READY", f"v{version} is {mv.status}"
        assert mv.tags.get("fault_test.registration") == str(i), f"v{version} carries another thread's tags"
        missing = {k: v for k, v in lineage.items() if mv.tags.get(k) != v}
        assert not missing, f"v{version} lacks lineage tags {sorted(missing)}"
    assert {"git_commit", "data_digest", "flow_run_id", "holdout_digest", "feature_list"} <= set(lineage)


@dataclass(frozen=True)
class Killed:
    """A training run SIGKILLed after registering its version and before the gate recorded a decision."""

    version: str
    exit_code: int
    aliases_before: dict[str, str]


@pytest.fixture(scope="module")
def killed(stack: Stack, champion: str, small_config: Path) -> Killed:
    """`xfmr train` in the flows service, killed as soon as its version appears with gate.decision 'pending'."""
    with writer(stack):
        client = registry(stack)
        known = set(versions(client))
        before = aliases(client)
        process = start_in_flows(stack, stack.root / "logs" / "killed-train.log", "train", "--config", str(small_config))

        def pending() -> str | None:
            if process.poll() is not None:
                raise AssertionError(f"the run ended (exit {process.returncode}) before it registered a version:\n"
                                     + (stack.root / "logs" / "killed-train.log").read_text()[-3000:])
            for number, mv in versions(client).items():
                if number not in known:
                    decision = mv.tags.get("gate.decision")
                    assert decision == "pending", f"missed the registry step: v{number} is already {decision!r}"
                    return str(number)
            return None

        try:
            version = wait_for("the run to register its version", pending, timeout_s=420, interval_s=0.1)
        finally:
            code = kill_group(process)
    return Killed(version, code, before)


def test_a_run_killed_in_its_registry_step_moves_no_alias(stack: Stack, killed: Killed) -> None:
    assert killed.exit_code == -9
    with writer(stack):
        client = registry(stack)
        left = versions(client)[int(killed.version)]
        now = aliases(client)
        problems = alias_problems(client, require_record=("champion",))
    # Killed between registering and deciding: its version stays marked as never gated...
    assert left.tags.get("gate.decision") == "pending" and not gate_recorded(left)
    # ...and nothing that serves or compares points at it.
    assert now.get("champion") == killed.aliases_before["champion"], (now, killed.aliases_before)
    assert killed.version not in (now.get("champion"), now.get("previous_champion")), now
    assert not problems, problems


@pytest.fixture(scope="module")
def api(stack: Stack, champion: str, fleet: Path) -> list[dict[str, Any]]:
    stack.up("api")
    return sample_readings(fleet)


def test_the_api_serves_its_model_while_mlflow_is_down_and_follows_a_new_champion_after(
    stack: Stack, api: list[dict[str, Any]], api_key: ApiKey
) -> None:
    from tasks.registry import promote, register_version

    readings = api
    with writer(stack):
        serving_now = registry(stack).get_model_version_by_alias(MODEL, "champion").version
    wait_for(f"the API to serve v{serving_now}", lambda: served_version(stack, api_key) == serving_now, timeout_s=60)
    errors_before = metric(stack, api_key, "xfmr_registry_errors_total")

    stack.stop("mlflow")
    assert not stack.healthy("mlflow")
    poll_s = float(stack.local("api").env["XFMR_POLL_INTERVAL_S"])
    for _ in range(6):  # across three poll intervals and more
        body = score(stack, api_key, readings)
        assert body["model_version"] == serving_now and len(body["results"]) == len(readings)
        time.sleep(poll_s / 2)
    # It did notice: the polls in between failed.
    assert metric(stack, api_key, "xfmr_registry_errors_total") > errors_before
    assert served_version(stack, api_key) == serving_now

    stack.up("mlflow")
    with writer(stack):
        client = registry(stack)
        source = client.get_model_version(MODEL, serving_now)
        tags = {**lineage_of(client, serving_now), "fault_test.copy_of": serving_now}
        new = str(register_version(client, MODEL, source.source, source.run_id, tags).version)
        promote(client, MODEL, new, reason="new champion after the registry came back", actor="fault-test")
    wait_for(f"the API to swap to v{new}", lambda: served_version(stack, api_key) == new, timeout_s=90)
    for _ in range(3):
        assert score(stack, api_key, readings)["model_version"] == new


def test_the_run_after_a_killed_one_completes_and_is_gated(stack: Stack, killed: Killed, small_config: Path) -> None:
    """The killed run's slot and lock are not held forever; the next run registers, gates and leaves aliases sound.

    The killed process still holds its lease on the training concurrency slot: this run waits until the lease
    expires (XFMR_TRAINING_LEASE_S, 60 s by default).
    """
    with writer(stack):
        known = set(versions(registry(stack)))
    done = run_in_flows(stack, "train", "--config", str(small_config), timeout_s=600)
    assert "gate:" in done.stdout, done.stdout[-2000:]
    with writer(stack):
        client = registry(stack)
        after = versions(client)
        (mine,) = set(after) - known
        now = aliases(client)
        problems = alias_problems(client)
    assert gate_recorded(after[mine]), after[mine].tags
    assert now["challenger"] == str(mine)
    assert not problems, problems
    assert killed.version not in (now.get("champion"), now.get("challenger")), now
    # The killed run's version is still there, still marked: it was never gated.
    assert after[int(killed.version)].tags.get("gate.decision") == "pending"


@dataclass(frozen=True)
class Triggers:
    """Three retraining triggers at once: two with one idempotency key, one with another."""

    same_key: tuple[str, str]
    other_key: str


@pytest.fixture(scope="module")
def triggers(stack: Stack, champion: str, fleet: Path) -> Triggers:
    from flows.monitoring import trigger_retrain

    stack.up("flows")
    tag = f"{time.time_ns()}"
    calls = [(f"fault-test-{tag}-a", "a"), (f"fault-test-{tag}-a", "b"), (f"fault-test-{tag}-b", "c")]
    start = threading.Barrier(len(calls))

    def trigger(key: str, report: str) -> str:
        start.wait(timeout=60)
        run = trigger_retrain("deployment", report=f"fault-test-{report}", key=key, data_dir=str(fleet))
        assert run is not None
        return run

    with prefect_client(stack), ThreadPoolExecutor(len(calls)) as pool:
        # Prefect's settings live in a context variable: each thread gets a copy of this one.
        futures = [pool.submit(contextvars.copy_context().run, trigger, key, report) for key, report in calls]
        ids = [f.result(timeout=120) for f in futures]
    return Triggers((ids[0], ids[1]), ids[2])


def test_the_same_retraining_trigger_twice_at_once_starts_one_run(stack: Stack, triggers: Triggers) -> None:
    assert triggers.same_key[0] == triggers.same_key[1]
    assert triggers.other_key != triggers.same_key[0]
    runs = {str(r.id) for r in flow_runs_of(stack, "train/retrain")}
    assert runs == {triggers.same_key[0], triggers.other_key}


def test_two_retraining_runs_never_run_at_the_same_time(stack: Stack, triggers: Triggers) -> None:
    from prefect.client.orchestration import get_client

    finished = [wait_flow_run(stack, run_id, timeout_s=600) for run_id in (triggers.same_key[0], triggers.other_key)]
    for run in finished:
        assert run.state.is_completed(), f"{run.name}: {run.state}\n{stack.tail('flows')}"
    first, second = sorted(finished, key=lambda r: r.start_time)
    assert first.end_time <= second.start_time, (
        f"{first.name} ran {first.start_time}..{first.end_time}, {second.name} started {second.start_time}"
    )
    with prefect_client(stack), get_client(sync_client=True) as client:
        history = [s.name for s in client.read_flow_run_states(second.id)]
    assert "AwaitingConcurrencySlot" in history, history
    # Each run registered one version and the gate decided on it, recording what triggered it.
    with writer(stack):
        found = versions(registry(stack))
    for run in finished:
        mine = [mv for mv in found.values() if mv.tags.get("flow_run_id") == str(run.id)]
        assert len(mine) == 1, f"{run.name} registered {len(mine)} versions"
        assert gate_recorded(mine[0]) and mine[0].tags["gate.trigger"] == "drift", mine[0].tags
