"""Prometheus and Grafana of the stack, proven with the real Prometheus (Debian package `prometheus`).

promtool checks the config and the alert rules and runs the rules' unit tests (alerts.test.yml). Then a
real scoring service (a process, tiny registered models) takes some requests and is refused a corrupt
version, the flows' metrics endpoint reads a drift-check state file, and a real Prometheus scrapes both
with docker/prometheus/prometheus.yml (targets rewritten, scraping every second) and the alert rules.
Every query of every panel of the Grafana dashboard runs against it and must return data.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from flows.exporter import start_exporter
from flows.settings import PipelineSettings
from launcher import ServiceProcess, free_port
from monitoring.policy import PolicyState
from serving.auth import hash_key
from tests.serving.conftest import API_KEY, Registry, auth
from tests.serving.conftest import registry  # noqa: F401 - the session's tiny registered models
from tests.serving.factory import readings_json, synthetic_readings

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "docker" / "prometheus"
DASHBOARD = ROOT / "docker" / "grafana" / "dashboards" / "xfmr.json"
# Grafana's variables as the test dashboard has them: every instance and model, a one-minute rate window.
GRAFANA_VARIABLES = {"__rate_interval": "1m", "__interval": "1s", "__range": "1h", "instance": ".*", "model": ".*"}
WAIT_S = 90.0
T = TypeVar("T")
# The end-to-end tests: about 40 s on a busy 2-core machine, most of it registering the models and starting the API.
end_to_end = pytest.mark.slow


def binary(name: str) -> str:
    """The path of a Prometheus binary; fail (never skip) naming the make target that installs it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make system-deps` (the Debian package prometheus)", pytrace=False)
    return path


def promtool(*args: str) -> str:
    done = subprocess.run([binary("promtool"), *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"promtool {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard_panels() -> list[dict[str, Any]]:
    """Every panel that shows data (rows excluded, rows' nested panels included)."""
    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        out.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return out


def substitute(expr: str) -> str:
    """Replace Grafana's `$name` / `${name}` variables; fail on one the test does not know."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in GRAFANA_VARIABLES, f"unknown Grafana variable ${name} in {expr!r}"
        return GRAFANA_VARIABLES[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


# -- promtool on the committed files ------------------------------------------------------------------


def test_the_prometheus_config_and_its_rules_are_valid() -> None:
    out = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 1 rule files found" in out, out
    out = promtool("check", "rules", "alerts.yml")
    assert f"SUCCESS: {len(alert_rules())} rules found" in out, out


def test_the_alert_rules_pass_their_unit_tests() -> None:
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_does_not() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    cases = [case for test in yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
             for case in test.get("alert_rule_test", [])]
    fires = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert names - fires == set(), f"alerts with no test where they fire: {sorted(names - fires)}"
    assert names - quiet == set(), f"alerts with no test where they stay quiet: {sorted(names - quiet)}"
    assert (fires | quiet) - names == set(), f"tests of alerts that do not exist: {sorted((fires | quiet) - names)}"


def test_every_alert_says_how_bad_and_what_happened() -> None:
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert "for" in rule, f"{rule['alert']}: say how long the condition must hold (for: 0m for events)"


def test_every_dashboard_panel_queries_the_provisioned_prometheus() -> None:
    panels = dashboard_panels()
    assert len(panels) >= 10
    datasource = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for panel in panels:
        assert panel["datasource"] == datasource, panel["title"]
        assert panel["targets"] and all(t["datasource"] == datasource and t["expr"] for t in panel["targets"]), \
            panel["title"]
    every = json.loads(DASHBOARD.read_text())["panels"]
    assert len({p["id"] for p in every}) == len(every), "panel ids are unique"


# -- a real Prometheus scraping a real service ---------------------------------------------------------


@dataclass
class Observed:
    """A Prometheus that scrapes a scoring service and the flows' metrics endpoint."""

    prometheus: str  # base URL
    model: str  # the registered model the service serves

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.post(f"{self.prometheus}/api/v1/query", data={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr!r}: {body}"
        return body["data"]["result"]  # type: ignore[no-any-return]

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.prometheus}{path}", timeout=10)
        response.raise_for_status()
        return response.json()["data"]

    def wait_for(self, what: str, check: Callable[[], T], timeout_s: float = WAIT_S) -> T:
        """Poll `check()` until it returns something truthy; fail naming `what` and the last result."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not seen after {timeout_s:.0f} s (last: {found!r})")
            time.sleep(0.5)


def _send_traffic(url: str, readings: list[dict[str, object]]) -> None:
    """Scoring requests of several sizes, plus one refused for its key and one for its body (4xx)."""
    with httpx.Client(base_url=url, headers=auth(), timeout=30) as client:
        for start in range(0, len(readings), 40):
            response = client.post("/v1/score", json={"readings": readings[start:start + 40]})
            assert response.status_code == 200, response.text
        for reading in readings[:20]:
            assert client.post("/v1/score", json={"readings": [reading]}).status_code == 200
        assert client.post("/v1/score", json={"readings": []}).status_code == 422
        assert httpx.post(f"{url}/v1/score", json={"readings": readings[:1]}, timeout=10).status_code == 401


def _prometheus_config(api: str, flows: str, tmp: Path) -> Path:
    """docker/prometheus/prometheus.yml with its targets on this host, a 1 s scrape, and the rules file by path."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    here = {"api:8000": api, "flows:9108": flows}
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            unknown = [t for t in static["targets"] if t not in here]
            assert not unknown, f"job {job['job_name']}: no local stand-in for {unknown}"
            static["targets"] = [here[t] for t in static["targets"]]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def observed(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:  # noqa: F811
    prometheus_bin = binary("prometheus")
    tmp = tmp_path_factory.mktemp("observability")
    # Version 1 serves; version 2 has a truncated booster, which the service refuses when @champion moves to it.
    name = registry.new_model("good", "corrupt", champion=1)
    api_port, flows_port, prometheus_port = free_port(), free_port(), free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    api = ServiceProcess(
        "scoring API", [sys.executable, "-m", "serving", "--host", "127.0.0.1", "--port", str(api_port)],
        tmp / "logs" / "api.log",
        env={"XFMR_API_KEYS": hash_key(API_KEY), "MLFLOW_TRACKING_URI": registry.uri, "XFMR_MODEL_NAME": name,
             "XFMR_HOME": str(tmp / "api-home"), "XFMR_POLL_INTERVAL_S": "0.5", "XFMR_LOG_FLUSH_INTERVAL_S": "0.5",
             # Bands a tiny model's probabilities spread over (the default bands are for a real fleet).
             "XFMR_RISK_BANDS": "0.02,0.05,0.1", "XFMR_DOCS_ENABLED": "false", "XFMR_LOG_LEVEL": "warning"},
        ready_url=f"{api_url}/health/ready",
    )
    # The drift check ran a minute ago (the state file the monitoring flow saves).
    flows_home = tmp / "flows-home"
    state = flows_home / "monitoring" / "policy_state.json"
    state.parent.mkdir(parents=True)
    state.write_text(PolicyState(last_check_at=datetime.now(UTC)).to_json())
    exporter = None
    prometheus = ServiceProcess(
        "prometheus",
        [prometheus_bin, f"--config.file={_prometheus_config(f'127.0.0.1:{api_port}', f'127.0.0.1:{flows_port}', tmp)}",
         f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prometheus_port}",
         "--storage.tsdb.retention.time=1h"],
        tmp / "logs" / "prometheus.log", ready_url=f"http://127.0.0.1:{prometheus_port}/-/ready",
    )
    try:
        api.start(timeout_s=120)
        exporter = start_exporter(PipelineSettings(home=flows_home, model_name=name, flows_metrics_port=flows_port))
        _send_traffic(api_url, readings_json(synthetic_readings(200, seed=7)))
        registry.set_champion(name, "2")
        prometheus.start(timeout_s=60)
        yield Observed(f"http://127.0.0.1:{prometheus_port}", name)
    finally:
        prometheus.stop()
        if exporter is not None:
            exporter.shutdown()
            exporter.server_close()
        api.stop()


@end_to_end
def test_prometheus_scrapes_the_api_and_the_flows_metrics(observed: Observed) -> None:
    def healthy() -> dict[str, str]:
        targets = observed.get("/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if health == {"api": "up", "flows": "up"} else {}

    observed.wait_for("both targets up", healthy)
    (sample,) = observed.wait_for("the drift check's time", lambda: observed.query(
        "xfmr_drift_check_last_run_timestamp_seconds"))
    assert sample["metric"]["model"] == observed.model and sample["metric"]["job"] == "flows"


@end_to_end
def test_every_dashboard_query_returns_data(observed: Observed) -> None:
    queries = [(panel["title"], substitute(target["expr"])) for panel in dashboard_panels() for target in panel["targets"]]

    def empty() -> list[tuple[str, str]]:
        return [(title, expr) for title, expr in queries if not observed.query(expr)]

    deadline = time.monotonic() + WAIT_S
    while (missing := empty()) and time.monotonic() < deadline:
        time.sleep(1.0)
    assert missing == [], "dashboard queries without data:\n" + "\n".join(f"  {t}: {e}" for t, e in missing)
    # The variables' queries (label_values(metric, label)) find values too.
    for variable in json.loads(DASHBOARD.read_text())["templating"]["list"]:
        if variable["type"] == "query":
            metric, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["definition"]).groups()  # type: ignore[union-attr]
            assert [s["metric"].get(label) for s in observed.query(metric) if s["metric"].get(label)], variable["name"]


@end_to_end
def test_readings_are_counted_in_several_risk_bands(observed: Observed) -> None:
    bands = observed.wait_for("readings by band", lambda: {
        s["metric"]["band"]: float(s["value"][1])
        for s in observed.query(f'sum by (band) (xfmr_readings_by_risk_band_total{{model="{observed.model}"}})')})
    assert set(bands) == {"low", "medium", "high", "critical"}
    assert sum(bands.values()) == 220  # 200 readings in batches of 40, then 20 one by one
    assert sum(1 for count in bands.values() if count > 0) >= 2, bands


@end_to_end
def test_the_alert_rules_load_and_evaluate_healthy(observed: Observed) -> None:
    def evaluated() -> dict[str, str]:
        rules = [r for g in observed.get("/api/v1/rules")["groups"] for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001-") for r in rules)
        return {r["name"]: r["health"] for r in rules} if rules and done else {}

    health = observed.wait_for("every rule evaluated", evaluated)
    assert health == {rule["alert"]: "ok" for rule in alert_rules()}


@end_to_end
def test_every_metric_the_rules_use_is_scraped(observed: Observed) -> None:
    used = {name for rule in alert_rules() for name in re.findall(r"\bxfmr_\w+", rule["expr"])}
    scraped = set(observed.get("/api/v1/label/__name__/values"))
    assert used - scraped == set(), f"rules use metrics nobody exposes: {sorted(used - scraped)}"


@end_to_end
def test_a_refused_version_fires_its_alert_naming_the_version_served(observed: Observed) -> None:
    def refused() -> list[dict[str, Any]]:
        return [a for a in observed.get("/api/v1/alerts")["alerts"]
                if a["labels"]["alertname"] == "ModelSwapRefused" and a["state"] == "firing"]

    (alert,) = observed.wait_for("ModelSwapRefused firing", refused)
    assert alert["labels"]["version"] == "2" and alert["labels"]["reason"] == "corrupt"
    assert alert["labels"]["severity"] == "warning"
    assert "refused version 2 (corrupt)" in alert["annotations"]["summary"]
    assert f"keeps serving {observed.model} v1." in alert["annotations"]["description"]
