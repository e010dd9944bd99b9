"""Harness of the end-to-end suite: a CDB-like repository on a real Docker engine, torn down always.

Everything the suite creates carries its compose project name (``cdbctl-e2e-<hex>``) and the label
``org.cdbctl.e2e.project``; teardown removes exactly those containers, volumes, networks and images, and
nothing else. Containers use host networking only, so every request of the suite goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

E2E_DIR = Path(__file__).resolve().parent
FIXTURE_REPO = E2E_DIR.parent / "data" / "e2e" / "repo"
IMAGES_DIR = E2E_DIR / "images"
DEFAULT_BASE_IMAGE = "cdbctl-base:bookworm"

#: The back-office services and the port each serves on (host networking: the host's port).
SERVICES: dict[str, int] = {"cdb_core": 8001, "cdb_risk": 8002, "cdb_execution": 8003}
#: The data stores of the stack, built from the local base image with Debian's packages.
DATA_STORES: dict[str, int] = {"redis": 6379, "postgres": 5432}

LABEL_PROJECT = "org.cdbctl.e2e.project"
LABEL_PID = "org.cdbctl.e2e.pid"
LABEL_ROLE = "org.cdbctl.role"

# Upper bounds of single steps; the whole stage stays far below 15 minutes on 2 cores.
BUILD_TIMEOUT = 900.0
UP_TIMEOUT = 300.0
CLI_TIMEOUT = 240.0


#: Reports the suite shows at the end of the run (title, text), e.g. verify while Docker restarts a service.
REPORTS: list[tuple[str, str]] = []


class StepFailed(AssertionError):
    """A step of the end-to-end story failed; the message carries the command and its output."""


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "...\n" + text[-limit:]


def run(
    cmd: Sequence[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one command with a hard timeout; on failure raise StepFailed with its output."""
    try:
        proc = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise StepFailed(f"`{shlex.join(cmd)}` did not finish within {timeout:.0f} s") from exc
    if check and proc.returncode != 0:
        raise StepFailed(
            f"`{shlex.join(cmd)}` exited {proc.returncode}\n"
            f"--- stdout ---\n{_tail(proc.stdout)}\n--- stderr ---\n{_tail(proc.stderr)}"
        )
    return proc


def compose_command(configured: str = "") -> list[str] | None:
    """The Compose CLI: `configured` (CDBCTL_COMPOSE), else `docker compose` (v2), else docker-compose (v1)."""
    if configured.strip():
        return configured.split()
    if shutil.which("docker") is not None and compose_version(["docker", "compose"]) is not None:
        return ["docker", "compose"]
    if shutil.which("docker-compose") is not None:
        return ["docker-compose"]
    return None


def compose_version(cmd: Sequence[str]) -> str | None:
    """The version a Compose CLI reports (`2.40.3`, `1.29.2`), or None when it does not run."""
    try:
        proc = run([*cmd, "version", "--short"], timeout=30, check=False)
    except StepFailed:
        return None
    text = proc.stdout.strip().removeprefix("v")
    return text if proc.returncode == 0 and text[:1].isdigit() else None


def is_compose_v1(cmd: Sequence[str]) -> bool:
    """True for Compose v1 (the Python docker-compose), which needs the classic builder switched on."""
    version = compose_version(cmd)
    return version is not None and version.startswith("1.")


def docker_problem(base_image: str, compose: list[str] | None) -> str | None:
    """Why the Docker part of the suite cannot run here, or None when the engine and tools are ready."""
    if shutil.which("docker") is None:
        return "`docker` is not installed; run `bash .ci/setup.sh` (or set CDBCTL_E2E=skip to skip e2e)"
    if compose is None:
        return (
            "neither `docker compose` (v2) nor `docker-compose` is installed; run `bash .ci/setup.sh` "
            "(or set CDBCTL_E2E=skip to skip e2e)"
        )
    try:
        info = run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30, check=False)
    except StepFailed as exc:
        return f"the Docker engine does not answer: {exc}"
    if info.returncode != 0:
        return (
            "the Docker engine is not reachable "
            f"({info.stderr.strip().splitlines()[-1] if info.stderr.strip() else 'docker info failed'}); "
            "start it with `bash .ci/setup.d/50-docker.sh` (its log: /var/log/cdbctl-dockerd.log), "
            "or set CDBCTL_E2E=skip to skip e2e"
        )
    image = run(["docker", "image", "inspect", base_image], timeout=30, check=False)
    if image.returncode != 0:
        return (
            f"the base image {base_image} is missing; build it with `bash .ci/setup.d/60-base-image.sh` "
            "(or set CDBCTL_BASE_IMAGE to an image such as python:3.12-slim)"
        )
    return None


def busy_ports(ports: Sequence[int]) -> list[int]:
    """The ports some process on this host already listens on (host networking would clash)."""
    busy: list[int] = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("0.0.0.0", port))  # a service binding 0.0.0.0 must find it free
            except OSError:
                busy.append(port)
    return busy


def listen_addresses(port: int) -> set[str]:
    """Local IPv4 addresses with a TCP socket listening on `port` in this network namespace."""
    found: set[str] = set()
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A: TCP_LISTEN
            found.add(socket.inet_ntoa(int(addr_hex, 16).to_bytes(4, "little")))
    return found


def _pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (a killed pytest nobody reaped yet is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # Field 3, after the parenthesised command name (which may itself contain spaces or parentheses).
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _labelled(kind: str, label: str) -> list[tuple[str, dict[str, str]]]:
    """(id, labels) of every container or image that carries `label`."""
    if kind == "container":
        listing = run(["docker", "ps", "-aq", "--filter", f"label={label}"], timeout=60).stdout
    else:
        listing = run(["docker", "image", "ls", "-q", "--filter", f"label={label}"], timeout=60).stdout
    ids = sorted(set(listing.split()))
    if not ids:
        return []
    data = json.loads(run(["docker", kind, "inspect", *ids], timeout=60).stdout)
    return [(item["Id"], (item.get("Config") or {}).get("Labels") or {}) for item in data]


def remove_project(project: str, *, keep_images: bool = False) -> list[str]:
    """Remove every container, volume, network and image of one e2e project; return what went wrong."""
    problems: list[str] = []
    steps: list[list[str]] = []
    containers = run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"], timeout=60
    ).stdout.split()
    if containers:
        steps.append(["docker", "rm", "-f", "-v", *containers])
    volumes = run(
        ["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        timeout=60,
    ).stdout.split()
    if volumes:
        steps.append(["docker", "volume", "rm", "-f", *volumes])
    networks = run(
        ["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"],
        timeout=60,
    ).stdout.split()
    if networks:
        steps.append(["docker", "network", "rm", *networks])
    if not keep_images:
        images = run(
            ["docker", "image", "ls", "-q", "--filter", f"label={LABEL_PROJECT}={project}"], timeout=60
        ).stdout.split()
        if images:
            steps.append(["docker", "image", "rm", "-f", *sorted(set(images))])
    for cmd in steps:
        proc = run(cmd, timeout=120, check=False)
        if proc.returncode != 0:
            problems.append(f"`{shlex.join(cmd)}`: {proc.stderr.strip()}")
    return problems


def remove_stale_projects() -> list[str]:
    """Tear down e2e projects whose pytest process died without its teardown (killed, machine stopped)."""
    stale: set[str] = set()
    for kind in ("container", "image"):
        for _, labels in _labelled(kind, LABEL_PID):
            pid, project = labels.get(LABEL_PID, ""), labels.get(LABEL_PROJECT, "")
            if project.startswith("cdbctl-e2e-") and pid.isdigit() and not _pid_alive(int(pid)):
                stale.add(project)
    problems: list[str] = []
    for project in sorted(stale):
        problems.extend(remove_project(project))
    return problems


@dataclass
class Stack:
    """One copy of the fixture repository and the compose project that runs it."""

    root: Path
    base_image: str
    compose_cmd: list[str] = field(default_factory=lambda: ["docker", "compose"])
    #: Compose v1 (docker-compose 1.x): classic builder switched on explicitly, no `version --short` calls.
    compose_v1: bool = False
    keep_images: bool = False
    project: str = field(default_factory=lambda: f"cdbctl-e2e-{secrets.token_hex(4)}")
    password: str = field(default_factory=lambda: secrets.token_hex(12))
    transcript: list[str] = field(default_factory=list)
    #: The compose file as `cdbctl scaffold` left it; the suite never changes it (the override does).
    scaffolded_compose: bytes = b""

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def compose_file(self) -> Path:
        return self.repo / "docker-compose.yml"

    @property
    def override_file(self) -> Path:
        # Outside the repository: the repository root is the build context of the services.
        return self.root / "compose.e2e-override.yml"

    @property
    def run_file(self) -> Path:
        return self.root / "compose.e2e-run.yml"

    @classmethod
    def create(
        cls, root: Path, base_image: str, compose_cmd: list[str], *, keep_images: bool = False
    ) -> Stack:
        """Copy the fixture repository into `root`/repo."""
        stack = cls(
            root=root,
            base_image=base_image,
            compose_cmd=compose_cmd,
            compose_v1=is_compose_v1(compose_cmd),
            keep_images=keep_images,
        )
        shutil.copytree(FIXTURE_REPO, stack.repo, symlinks=True)
        return stack

    # -- commands ------------------------------------------------------------------------------
    def cli_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "CDBCTL_DEBUG"))}
        env.update({"NO_COLOR": "1", "COLUMNS": "200", "POSTGRES_PASSWORD": self.password})
        env.update(extra or {})
        return env

    def cdbctl(
        self,
        *args: str,
        check: bool = False,
        timeout: float = CLI_TIMEOUT,
        env: Mapping[str, str] | None = None,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed cdbctl (as `python -m cdbctl`) in the repository copy."""
        cmd = [sys.executable, "-m", "cdbctl", *args]
        self.transcript.append("$ cdbctl " + shlex.join(args))
        proc = run(cmd, cwd=self.repo, env=env or self.cli_env(), check=check, timeout=timeout, stdin=stdin)
        self.transcript.append(f"  exit {proc.returncode}")
        return proc

    def compose(
        self, *args: str, files: Sequence[Path] | None = None, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Compose on this project (`docker compose` v2 by default; v1 for its smoke test)."""
        chosen = files if files is not None else [self.compose_file, self.override_file]
        cmd = [*self.compose_cmd, "--project-name", self.project]
        for f in chosen:
            cmd += ["--file", str(f)]
        cmd += list(args)
        self.transcript.append("$ " + shlex.join(cmd))
        return run(cmd, cwd=self.repo, env=self.compose_env(), timeout=timeout, check=check)

    def compose_env(self) -> dict[str, str]:
        """The environment of a Compose call: the classic builder, as the engine has no buildx plugin."""
        if self.compose_v1:
            return self.cli_env({"COMPOSE_DOCKER_CLI_BUILD": "0", "DOCKER_BUILDKIT": "0"})
        # v2 would try `buildx bake` first and warn that buildx is missing; ask for its own builder.
        return self.cli_env({"COMPOSE_BAKE": "false"})

    # -- compose files ---------------------------------------------------------------------------
    def service_image(self, service: str) -> str:
        return f"{self.project}-{service}:e2e"

    def override(self) -> dict[str, Any]:
        """The test-only override: host networking, the local base image, loopback URLs, our labels."""
        labels = {LABEL_PROJECT: self.project, LABEL_PID: str(os.getpid())}
        loopback_env = {
            "REDIS_URL": f"redis://127.0.0.1:{DATA_STORES['redis']}/0",
            "DATABASE_URL": (
                f"postgresql://cdb:{self.password}@127.0.0.1:{DATA_STORES['postgres']}/claire_de_binare"
            ),
        }
        services: dict[str, Any] = {}
        for name in DATA_STORES:
            services[name] = {
                # Built once per base image and kept, like the base image itself (not per project).
                "image": f"cdbctl-e2e-{name}:{self.base_image.replace(':', '-').replace('/', '-')}",
                "build": {
                    "context": str(IMAGES_DIR / name),
                    "network": "host",
                    "args": {"BASE_IMAGE": self.base_image},
                    "labels": {LABEL_ROLE: "e2e-infra"},
                },
                "network_mode": "host",
                "labels": labels,
            }
        for name, port in SERVICES.items():
            services[name] = {
                "image": self.service_image(name),
                "build": {
                    "network": "host",
                    "args": {"BASE_IMAGE": self.base_image},
                    "labels": labels,
                },
                "network_mode": "host",
                "labels": labels,
                # Host networking: listen on loopback only, on the port the compose file publishes.
                "environment": {**loopback_env, "BIND_HOST": "127.0.0.1", "PORT": str(port)},
            }
        return {"version": "3.8", "services": services}

    def write_override(self) -> None:
        self.override_file.write_text(yaml.safe_dump(self.override(), sort_keys=False), encoding="utf-8")

    def render_run_file(self) -> dict[str, Any]:
        """`compose config` of compose file + override, without the port bindings.

        Docker ignores published ports under host networking, but docker-compose v1's Python client refuses
        the combination outright ("host" network_mode is incompatible with port_bindings), and an override
        file cannot delete keys in v1 (v2's `!reset` can, but the run file works for both). So the stack is started from compose's own merge of the two files
        with exactly that one key dropped; every other value is the one compose computed.
        """
        merged: dict[str, Any] = yaml.safe_load(self.compose("config").stdout)
        for name, service in merged["services"].items():
            if service.get("network_mode") != "host":
                raise StepFailed(f"service {name} does not use host networking in the merged config")
            service.pop("ports", None)
        self.run_file.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
        return merged

    # -- lifecycle ---------------------------------------------------------------------------------
    def build(self) -> subprocess.CompletedProcess[str]:
        """Build the data stores and the three services with the classic builder."""
        return self.compose("build", *DATA_STORES, *SERVICES, timeout=BUILD_TIMEOUT)

    def up(self) -> subprocess.CompletedProcess[str]:
        busy = busy_ports([*DATA_STORES.values(), *SERVICES.values()])
        if busy:
            raise StepFailed(
                f"ports {busy} are in use on this host (see `ss -ltnp`); host networking needs them free"
            )
        self.render_run_file()
        return self.compose("up", "-d", "--no-build", files=[self.run_file], timeout=UP_TIMEOUT)

    def teardown(self) -> list[str]:
        """compose down -v, then remove whatever of this project is left; never raises."""
        problems: list[str] = []
        files = [self.run_file] if self.run_file.exists() else None
        if files is not None or self.override_file.exists():
            with contextlib.suppress(StepFailed):
                proc = self.compose(
                    "down", "-v", "--remove-orphans", "-t", "5", files=files, timeout=180, check=False
                )
                if proc.returncode != 0:
                    problems.append(f"compose down: {proc.stderr.strip()[-500:]}")
        try:
            problems.extend(remove_project(self.project, keep_images=self.keep_images))
            # A rebuilt data-store image leaves its predecessor dangling: only ours carry this label.
            run(["docker", "image", "prune", "-f", "--filter", f"label={LABEL_ROLE}=e2e-infra"], timeout=120)
        except StepFailed as exc:
            problems.append(str(exc))
        return problems

    # -- inspection -----------------------------------------------------------------------------
    def container(self, service: str) -> dict[str, Any]:
        """`docker inspect` of the (one) container of a service."""
        ids = run(
            [
                "docker",
                "ps",
                "-aq",
                "--filter",
                f"label=com.docker.compose.project={self.project}",
                "--filter",
                f"label=com.docker.compose.service={service}",
            ],
            timeout=30,
        ).stdout.split()
        if len(ids) != 1:
            raise StepFailed(f"expected one container for {service}, found {len(ids)}")
        data: list[dict[str, Any]] = json.loads(run(["docker", "inspect", ids[0]], timeout=30).stdout)
        return data[0]

    def wait_for(self, what: str, predicate: Any, timeout: float, interval: float = 0.5) -> Any:
        """Poll `predicate()` until it returns a truthy value; StepFailed after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(interval)
        raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
