"""docker-compose.yml itself: valid, every secret required, only the API exposed, health checks, no root, no telemetry."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cli.main import build_parser
from tests.stack.compose import COMPOSE_FILE, ComposeError, container_ports, interpolate, load_compose

ROOT = COMPOSE_FILE.parent
SCHEMA = Path(__file__).with_name("compose-subset.schema.json")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|AUTH_STRING|API_KEYS")
LONG_RUNNING = ("postgres", "mlflow", "prefect", "flows", "api", "prometheus", "grafana")
OBSERVABILITY = ("prometheus", "grafana")  # pulled images, profile "observability"


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#") and "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def filled_env() -> dict[str, str]:
    """.env.example with every required blank filled in, as an operator would."""
    return {key: value or f"secret-value-for-{key.lower()}" for key, value in env_example().items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(filled_env())


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())  # type: ignore[no-any-return]


def test_the_file_is_valid_compose(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(compose, schema, cls=jsonschema.Draft7Validator)
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on", {}):
            assert dependency in compose["services"], f"{name} depends on unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(".") or source in compose["volumes"], f"{name}: volume {source} not declared"
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name}: bind-mounted {source} is missing"


def test_every_secret_is_required_and_the_example_leaves_them_blank(raw: dict[str, Any]) -> None:
    example = env_example()
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key) and "${" in str(value):
                variables = re.findall(r"\$\{([A-Z0-9_]+)(:?[?-])?", str(value))
                for variable, op in variables:
                    if SECRET_NAME.search(variable):
                        assert op == ":?", f"{name}.{key}: ${{{variable}}} must be required (:?), not defaulted"
                        assert variable in example, f"{variable} is not in .env.example"
                        if variable != "XFMR_API_KEYS":  # its example is a hash nobody has the key of
                            assert example[variable] == "", f".env.example must not ship a value for {variable}"
    with pytest.raises(ComposeError, match="POSTGRES_PASSWORD"):
        load_compose(example)


def test_every_variable_is_documented_in_the_env_example() -> None:
    text = COMPOSE_FILE.read_text()
    documented = (ROOT / ".env.example").read_text()
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)", text)) | set(re.findall(r"environment: ([A-Z0-9_]+)", text))
    missing = sorted(v for v in variables if not re.search(rf"^#? ?{v}=", documented, flags=re.MULTILINE))
    assert not missing, f"not in .env.example: {missing}"


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$${SET}", env) == "x-d-e--${SET}"
    with pytest.raises(ComposeError, match="EMPTY is required: give it"):
        interpolate("${EMPTY:?give it}", env)


def test_only_the_api_listens_on_all_interfaces(compose: dict[str, Any]) -> None:
    published = {name: s["ports"] for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"api", "mlflow", "prefect", "prometheus", "grafana"}
    assert published["api"] == ["8000:8000"]
    assert published["mlflow"] == ["127.0.0.1:5000:5000"]
    assert published["prefect"] == ["127.0.0.1:4200:4200"]
    assert published["prometheus"] == ["127.0.0.1:9090:9090"]
    assert published["grafana"] == ["127.0.0.1:3000:3000"]


def test_mlflow_runs_the_basic_auth_app_with_the_admin_password_from_the_environment(compose: dict[str, Any]) -> None:
    mlflow = compose["services"]["mlflow"]
    assert mlflow["command"][:4] == ["mlflow", "server", "--app-name", "basic-auth"]
    assert "--serve-artifacts" in mlflow["command"]
    ini_mount = next(v for v in mlflow["volumes"] if mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"] in v)
    ini = (ROOT / ini_mount.split(":")[0]).read_text()
    assert not re.search(r"^\s*admin_password", ini, flags=re.MULTILINE), "no admin password in a committed file"
    assert mlflow["environment"]["MLFLOW_AUTH_ADMIN_PASSWORD"] == "secret-value-for-mlflow_admin_password"
    # The flows write with the writer account, the API reads with the read-only one.
    env = {name: compose["services"][name]["environment"] for name in ("flows", "api")}
    assert env["flows"]["MLFLOW_TRACKING_USERNAME"] == "xfmr-flows"
    assert env["api"]["MLFLOW_TRACKING_USERNAME"] == "xfmr-api"
    assert env["api"]["MLFLOW_TRACKING_PASSWORD"] != env["flows"]["MLFLOW_TRACKING_PASSWORD"]


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_health_checks_and_wait_for_healthy_dependencies(
    compose: dict[str, Any], name: str
) -> None:
    service = compose["services"][name]
    assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL")
    assert service["restart"] == "unless-stopped"
    for dependency, rule in service.get("depends_on", {}).items():
        one_shot = compose["services"][dependency].get("restart") == "no"
        expected = "service_completed_successfully" if one_shot else "service_healthy"
        assert rule["condition"] == expected, f"{name} -> {dependency}"


@pytest.mark.parametrize("name", ["mlflow", "mlflow-init", "prefect", "flows", "api", "bridge", "replay"])
def test_our_images_run_as_an_unprivileged_user(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["user"] == "10001"
    assert "no-new-privileges:true" in service["security_opt"] and service["cap_drop"] == ["ALL"]
    dockerfile = (ROOT / service["build"]["dockerfile"]).read_text()
    assert re.search(r"^USER xfmr$", dockerfile, flags=re.MULTILINE)
    assert "useradd --system --uid 10001" in dockerfile


def test_the_api_image_has_no_prefect_and_the_flows_image_the_full_lock(compose: dict[str, Any]) -> None:
    assert compose["services"]["api"]["build"]["dockerfile"] == "serving/Dockerfile"
    assert compose["services"]["bridge"]["build"]["dockerfile"] == "serving/Dockerfile"
    serving_lock = (ROOT / "requirements-serving.lock").read_text()
    assert not re.search(r"^(prefect|evidently)==", serving_lock, flags=re.MULTILINE)
    flows = (ROOT / "docker/flows.Dockerfile").read_text()
    assert "pip install -r requirements.lock" in flows and "pip install --no-deps ." in flows
    assert re.search(r"^flask-wtf==", (ROOT / "requirements.lock").read_text(), flags=re.MULTILINE), \
        "the MLflow basic-auth app needs Flask-WTF in the flows image"


def test_each_image_copies_the_packages_it_runs() -> None:
    flows = (ROOT / "docker/flows.Dockerfile").read_text()
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests")
    missing = [p for p in packages if f"COPY {p} ./{p}" not in flows]
    assert missing == [], f"docker/flows.Dockerfile does not copy {missing}"
    serving = (ROOT / "serving/Dockerfile").read_text()
    assert "COPY serving ./serving" in serving and "COPY tasks ./tasks" in serving
    assert "COPY flows" not in serving and "COPY cli" not in serving


def test_prefect_telemetry_is_off(compose: dict[str, Any]) -> None:
    for name in ("prefect", "flows"):
        env = compose["services"][name]["environment"]
        assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert "PREFECT_SERVER_ANALYTICS_ENABLED=false" in (ROOT / "docker/flows.Dockerfile").read_text()


@pytest.mark.parametrize("name", ["mlflow-init", "flows", "replay"])
def test_xfmr_commands_parse(compose: dict[str, Any], name: str) -> None:
    command = compose["services"][name]["command"]
    assert command[0] == "xfmr"
    build_parser().parse_args(command[1:])


def test_the_bridge_command_parses_and_keeps_its_login_off_the_command_line(compose: dict[str, Any]) -> None:
    import argparse

    from serving.bridge import add_bridge_arguments

    service = compose["services"]["bridge"]
    command = service["command"]
    assert command[:3] == ["python", "-m", "serving.bridge"]
    parser = argparse.ArgumentParser()
    add_bridge_arguments(parser)
    args = parser.parse_args(command[3:])
    assert args.heartbeat is not None and str(args.heartbeat) in service["healthcheck"]["test"]
    assert not any("PASSWORD" in str(arg) for arg in command)
    assert service["environment"]["XFMR_MQTT_PASSWORD_FILE"] == "/run/secrets/mqtt_password"
    assert service.get("ports") is None, "the bridge listens on nothing: it connects out to the broker"


def mount_target(service: dict[str, Any], source: str) -> str:
    """The container path the service mounts the repository file `source` at."""
    for volume in service["volumes"]:
        host, target = volume.split(":")[:2]
        if (ROOT / host).resolve() == (ROOT / source).resolve():
            return str(target)
    raise AssertionError(f"{source} is not mounted")


@pytest.mark.parametrize("name", OBSERVABILITY)
def test_prometheus_and_grafana_are_pinned_unprivileged_and_optional(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert "build" not in service, f"{name} is a pulled image"
    image, _, tag = service["image"].partition(":")
    assert tag and tag != "latest" and re.match(r"^v?\d+\.\d+\.\d+$", tag), f"{name}: pin a release, not {tag!r}"
    assert service["user"].isdigit() and service["user"] != "0"
    assert "no-new-privileges:true" in service["security_opt"] and service["cap_drop"] == ["ALL"]
    assert service["profiles"] == ["observability"]
    assert all(volume.endswith(":ro") for volume in service["volumes"] if volume.startswith("./")), \
        f"{name}: configuration is mounted read-only"


def test_the_default_stack_does_not_need_the_observability_profile(compose: dict[str, Any]) -> None:
    default = [name for name, service in compose["services"].items() if not service.get("profiles")]
    for name in default:
        assert not set(compose["services"][name].get("depends_on", {})) & set(OBSERVABILITY), name
    profiled = {name for name, s in compose["services"].items() if "observability" in s.get("profiles", [])}
    assert profiled == set(OBSERVABILITY)


def test_prometheus_runs_the_mounted_config_and_rules(compose: dict[str, Any]) -> None:
    service = compose["services"]["prometheus"]
    assert service["entrypoint"] == ["/bin/prometheus"]
    flags = dict(arg.split("=", 1) for arg in service["command"])
    config_target = mount_target(service, "docker/prometheus/prometheus.yml")
    assert flags["--config.file"] == config_target
    assert flags["--storage.tsdb.retention.time"] == "30d"
    assert flags["--web.listen-address"].endswith(f":{container_ports(service)[0]}")
    assert "--web.enable-admin-api" not in flags and "--web.enable-lifecycle" not in flags, "no unauthenticated admin"
    config = yaml.safe_load((ROOT / "docker/prometheus/prometheus.yml").read_text())
    for rule_file in config["rule_files"]:
        inside = str(Path(config_target).parent / rule_file)
        assert inside == mount_target(service, f"docker/prometheus/{rule_file}")
    assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{container_ports(service)[0]}/-/ready"


def test_prometheus_scrapes_the_api_and_the_flows_metrics_on_the_compose_network(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((ROOT / "docker/prometheus/prometheus.yml").read_text())
    targets = {job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]] for job in config["scrape_configs"]}
    assert set(targets) == {"api", "flows"}
    for job, found in targets.items():
        for target in found:
            host, port = target.split(":")
            assert host in compose["services"], f"job {job}: {host} is not a compose service"
            assert int(port) in container_ports(compose["services"][host]), f"job {job}: {host} does not listen on {port}"
    flows = compose["services"]["flows"]
    port = flows["environment"]["XFMR_FLOWS_METRICS_PORT"]
    assert targets["flows"] == [f"flows:{port}"]
    assert flows["environment"]["XFMR_FLOWS_METRICS_HOST"] == "0.0.0.0"  # reachable from the prometheus container
    assert port in flows["expose"] and not flows.get("ports"), "exposed on the compose network, never published"


def test_grafana_is_provisioned_with_the_prometheus_service_and_the_dashboard(compose: dict[str, Any]) -> None:
    service = compose["services"]["grafana"]
    env = service["environment"]
    assert compose["secrets"]["grafana_admin_password"] == {"environment": "GRAFANA_ADMIN_PASSWORD"}
    assert service["secrets"] == ["grafana_admin_password"]
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert not any("GF_SECURITY_ADMIN_PASSWORD" == key for key in env), "the password stays out of the environment"
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "false" and env["GF_USERS_ALLOW_SIGN_UP"] == "false"
    assert env["GF_ANALYTICS_REPORTING_ENABLED"] == "false" and env["GF_ANALYTICS_CHECK_FOR_UPDATES"] == "false"
    assert service["depends_on"] == {"prometheus": {"condition": "service_healthy"}}
    assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{container_ports(service)[0]}/api/health"
    for provisioning in ("datasources/prometheus.yml", "dashboards/dashboards.yml"):
        assert mount_target(service, f"docker/grafana/provisioning/{provisioning}") == \
            f"/etc/grafana/provisioning/{provisioning}"
    datasource = yaml.safe_load((ROOT / "docker/grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = datasource["datasources"]
    host, port = source["url"].removeprefix("http://").split(":")
    assert host == "prometheus" and int(port) in container_ports(compose["services"]["prometheus"])
    providers = yaml.safe_load((ROOT / "docker/grafana/provisioning/dashboards/dashboards.yml").read_text())["providers"]
    dashboard_target = mount_target(service, "docker/grafana/dashboards/xfmr.json")
    assert [p["options"]["path"] for p in providers] == [str(Path(dashboard_target).parent)]
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == dashboard_target
    dashboard = json.loads((ROOT / "docker/grafana/dashboards/xfmr.json").read_text())
    (variable,) = [v for v in dashboard["templating"]["list"] if v["name"] == "DS_PROMETHEUS"]
    assert variable["type"] == "datasource" and variable["current"]["value"] == source["uid"]


def test_the_local_stack_gives_the_flows_metrics_port_a_host_port_of_its_own(tmp_path: Path) -> None:
    from tests.stack.stack import Stack

    stack = Stack(filled_env(), tmp_path)
    flows = stack.local("flows")
    runner, metrics = stack.ports["flows"], stack.ports["flows:9108"]
    assert runner != metrics
    assert flows.port == runner and flows.env["PREFECT_RUNNER_SERVER_PORT"] == str(runner)
    assert flows.env["XFMR_FLOWS_METRICS_PORT"] == str(metrics)
    assert flows.env["XFMR_FLOWS_METRICS_HOST"] == "127.0.0.1"
    assert stack.rewriter.text("prometheus", "flows:9108", []) == f"127.0.0.1:{metrics}"


def test_the_default_stack_needs_no_setting_of_an_optional_profile() -> None:
    """Compose checks every ${VAR:?} of the file, whatever the profiles: an optional service may require nothing new."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())

    def required(names: list[str]) -> set[str]:
        text = yaml.safe_dump({name: raw["services"][name] for name in names})
        return set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))

    profiled = [name for name, service in raw["services"].items() if service.get("profiles")]
    default = [name for name in raw["services"] if name not in profiled]
    assert required(profiled) - required(default) == set()
    env = filled_env()
    del env["GRAFANA_ADMIN_PASSWORD"]
    assert "grafana" in load_compose(env)["services"]


@pytest.mark.parametrize("password, starts", [("", False), ("a-password", True)])
def test_grafana_refuses_to_start_without_its_admin_password(
    compose: dict[str, Any], tmp_path: Path, password: str, starts: bool
) -> None:
    """The entrypoint's check, run with the secret file and Grafana's start script stood in for."""
    import subprocess

    service = compose["services"]["grafana"]
    assert service["entrypoint"][:2] == ["/bin/sh", "-c"]
    secret = tmp_path / "grafana_admin_password"
    secret.write_text(password)
    script = service["entrypoint"][2]
    assert script.endswith("exec /run.sh"), "Grafana's own start script runs once the check passes"
    script = script.replace("/run/secrets/grafana_admin_password", str(secret)).replace("exec /run.sh", "exec echo started")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10)
    assert (done.returncode == 0 and done.stdout == "started\n") is starts, done
    if not starts:
        assert "set GRAFANA_ADMIN_PASSWORD in .env" in done.stderr
