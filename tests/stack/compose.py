"""Read docker-compose.yml and turn one service into the argv, environment and probe of a local process.

The rewrite is mechanical and the same for every service:

* `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?reason}`, `${VAR?reason}` and `$$` are
  interpolated from the given environment, as Compose does;
* `service:port` (any service, any of its container ports) becomes `127.0.0.1:<host port>`; the
  service's own `localhost:port` / `127.0.0.1:port` too, and a value equal to one of its own container
  ports becomes that host port (`--port 5000`, `PREFECT_RUNNER_SERVER_PORT: "8080"`); `0.0.0.0` becomes
  `127.0.0.1`;
* a volume's container path becomes a folder on this host (bind mounts: their source), the working
  directory likewise, and any other absolute container path a folder in the service's own root;
* the program (`python`, `mlflow`, `prefect`, `xfmr`) is the one installed next to this interpreter;
* the environment is the image's `ENV` (read from its Dockerfile) plus the service's `environment`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
# An absolute container path under a folder that holds state or configuration (never part of a URL).
_CONTAINER_PATH = re.compile(r"(?<![\w.:/-])(/(?:var|etc|run|srv|app)(?:/[\w.-]+)*)")

_VAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class ComposeError(ValueError):
    """The compose file cannot be turned into local processes (bad file or missing variable)."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute `${...}` references in one string the way Compose does."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name"), match.group("op"), match.group("arg") or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset_or_empty:
            raise ComposeError(f"variable {name} is required: {arg or 'not set'}")
        if op in (":-", "-") and unset_or_empty:
            return interpolate(arg, env)
        return value or ""

    return _VAR.sub(sub, text)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    return node


def load_compose(env: Mapping[str, str], path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file with every variable substituted from `env`."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or "services" not in raw:
        raise ComposeError(f"{path} has no services")
    return interpolate_tree(raw, env)  # type: ignore[no-any-return]


def container_ports(service: Mapping[str, Any]) -> list[int]:
    """The ports the service listens on inside its container: published targets first, then `expose`."""
    published = [int(str(entry).rsplit(":", 1)[-1].split("/")[0]) for entry in service.get("ports", [])]
    exposed = [int(str(entry).split("/")[0]) for entry in service.get("expose", [])]
    return list(dict.fromkeys([*published, *exposed]))


def container_port(service: Mapping[str, Any]) -> int | None:
    """The service's main port inside its container (the first published target, else the first `expose`)."""
    ports = container_ports(service)
    return ports[0] if ports else None


def port_key(name: str, inside: int, main: bool) -> str:
    """The key of a container port in the host-port map: the service name for its main port, `name:port` else."""
    return name if main else f"{name}:{inside}"


def image_env(service: Mapping[str, Any], base: Path = ROOT) -> dict[str, str]:
    """`ENV` of the image the service builds, read from its Dockerfile (empty for a pulled image)."""
    build = service.get("build")
    if not isinstance(build, dict):
        return {}
    text = (base / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).read_text()
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV\s+((?:.*\\\n)*.*)$", text, flags=re.MULTILINE):
        for key, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", block.replace("\\\n", " ")):
            env[key] = value
    return env


@dataclass(frozen=True)
class Mount:
    """A container path and the host folder (or file) that stands in for it."""

    target: str
    host: Path


def mounts(service: Mapping[str, Any], volumes_dir: Path, base: Path = ROOT) -> list[Mount]:
    """The service's volumes: named ones as folders under `volumes_dir`, bind mounts as their source."""
    out = []
    for entry in service.get("volumes", []):
        if isinstance(entry, dict):
            source, target = str(entry["source"]), str(entry["target"])
        else:
            source, target = str(entry).split(":")[:2]
        host = (base / source).resolve() if source.startswith((".", "/")) else volumes_dir / source
        out.append(Mount(target, host))
    return out


@dataclass(frozen=True)
class LocalService:
    """One compose service as a local process: what to run, with which environment, and how to probe it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    probe: list[str] | None  # the healthcheck's command, rewritten; None: no healthcheck
    port: int | None  # host port it listens on
    one_shot: bool


class Rewriter:
    """Rewrite a compose service for this host: ports, addresses, container paths and programs."""

    def __init__(self, compose: Mapping[str, Any], ports: Mapping[str, int], root: Path) -> None:
        """`ports` maps `port_key(...)` of every container port (the service name for its main one) to a host port."""
        self.compose = compose
        self.services: dict[str, Any] = dict(compose["services"])
        self.root = root
        self.volumes_dir = root / "volumes"
        # service -> (container port, host port) of its main port
        self.ports: dict[str, tuple[int, int]] = {}
        # service -> every (container port, host port), main port first
        self.all_ports: dict[str, list[tuple[int, int]]] = {}
        for name, service in self.services.items():
            for i, inside in enumerate(container_ports(service)):
                key = port_key(name, inside, main=i == 0)
                if key not in ports:
                    raise ComposeError(f"service {name!r} listens on {inside}: give it a host port ({key!r})")
                self.all_ports.setdefault(name, []).append((inside, ports[key]))
            if name in self.all_ports:
                self.ports[name] = self.all_ports[name][0]
        self.bin_dir = Path(sys.executable).parent

    def text(self, name: str, value: str, paths: list[Mount]) -> str:
        for other, pairs in self.all_ports.items():
            for inside, host in pairs:
                value = re.sub(rf"(?<![\w.-]){re.escape(other)}:{inside}(?!\d)", f"127.0.0.1:{host}", value)
        for inside, host in self.all_ports.get(name, []):
            value = re.sub(rf"(?<![\w.-])(localhost|127\.0\.0\.1):{inside}(?!\d)", f"127.0.0.1:{host}", value)
            if value == str(inside):
                value = str(host)
        if value == "0.0.0.0":
            value = "127.0.0.1"
        return _CONTAINER_PATH.sub(lambda m: str(self.host_path(name, m.group(1), paths)), value)

    def host_path(self, name: str, inside: str, paths: list[Mount]) -> Path:
        """The host folder for a container path: its mount's folder, else the service's own root."""
        for mount in paths:
            if inside == mount.target or inside.startswith(mount.target.rstrip("/") + "/"):
                return Path(str(mount.host) + inside[len(mount.target.rstrip("/")):])
        return self.root / "rootfs" / name / inside.lstrip("/")

    def paths(self, name: str) -> list[Mount]:
        """Mounts, longest container path first, with nested mounts linked into their parent folder."""
        found = sorted(mounts(self.services[name], self.volumes_dir), key=lambda m: len(m.target), reverse=True)
        for mount in found:
            if mount.host.suffix == "" and not mount.host.exists():
                mount.host.mkdir(parents=True, exist_ok=True)
        for inner in found:
            for outer in found:
                if inner is not outer and inner.target.startswith(outer.target.rstrip("/") + "/"):
                    link = outer.host / inner.target[len(outer.target.rstrip("/")) + 1 :]
                    link.parent.mkdir(parents=True, exist_ok=True)
                    if not link.exists() and not link.is_symlink():
                        link.symlink_to(inner.host, target_is_directory=True)
        return found

    def program(self, argv: list[str]) -> list[str]:
        head = "python" if argv[0] in ("python", "python3") else argv[0]
        local = self.bin_dir / head
        return [str(local) if local.exists() else argv[0], *argv[1:]]

    def service(self, name: str) -> LocalService:
        """Return the local version of service `name`."""
        if name not in self.services:
            raise ComposeError(f"no service {name!r} in the compose file (have: {', '.join(self.services)})")
        spec = self.services[name]
        paths = self.paths(name)
        command = spec.get("command")
        if not isinstance(command, list) or not command:
            raise ComposeError(f"service {name!r}: command must be a non-empty argv list, got {command!r}")
        environment = {**image_env(spec), **_as_dict(spec.get("environment", {}))}
        env = {key: self.text(name, str(value), paths) for key, value in environment.items()}
        own_root = self.root / "rootfs" / name
        (own_root / "home").mkdir(parents=True, exist_ok=True)
        env.setdefault("HOME", str(own_root / "home"))
        env["PATH"] = f"{self.bin_dir}:/usr/local/bin:/usr/bin:/bin"
        workdir = spec.get("working_dir") or env.get("XFMR_HOME") or "/var/lib/xfmr"
        cwd = Path(self.text(name, str(workdir), paths))
        cwd.mkdir(parents=True, exist_ok=True)
        probe = None
        test = (spec.get("healthcheck") or {}).get("test")
        if test:
            if test[0] == "CMD":
                probe = self.program([self.text(name, str(arg), paths) for arg in test[1:]])
            elif test[0] == "CMD-SHELL":
                probe = ["sh", "-c", self.text(name, str(test[1]), paths)]
        return LocalService(
            name=name, argv=self.program([self.text(name, str(arg), paths) for arg in command]), env=env, cwd=cwd,
            probe=probe, port=self.ports.get(name, (0, None))[1], one_shot=str(spec.get("restart", "")) == "no",
        )


def _as_dict(environment: Any) -> dict[str, str]:
    if isinstance(environment, dict):
        return {str(k): "" if v is None else str(v) for k, v in environment.items()}
    return dict(str(item).split("=", 1) for item in environment)
