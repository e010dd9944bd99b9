"""`cdbctl verify --stack` on a real single-node Docker Swarm on loopback (issue 15).

The engine runs with --bridge=none --iptables=false, so the services join the built-in `host`
network (an external network named `host`) and listen on 127.0.0.1. The images are small health
servers built from the local base image (no registry: `docker stack deploy --resolve-image never`).
The module's fixture joins the engine to a new swarm and always leaves it again, also when a step
fails; the tests run in file order against one stack.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import LABEL_PROJECT, REPORTS, StepFailed, _pid_alive, run
from tests.servers import free_port

pytestmark = pytest.mark.e2e

WAIT_TIMEOUT = "120"
# The pid of the pytest run that made a swarm node or image. Not the harness's LABEL_PID: the compose
# suite removes a dead run's images by that label, and these may still be in use by a stale swarm.
LABEL_SWARM_PID = "org.cdbctl.e2e.swarm-pid"

# A /health server on 127.0.0.1:$PORT; with FAIL_EXIT set it exits with that code at once.
APP = """\
import http.server, os, signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1: no default action for SIGTERM
if os.environ.get("FAIL_EXIT"):
    print("refusing to start: FAIL_EXIT is set", flush=True)
    sys.exit(int(os.environ["FAIL_EXIT"]))
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status": "ok"}'
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
"""
DOCKERFILE = """\
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY app.py /app.py
HEALTHCHECK --interval=1s --timeout=2s --start-period=5s --retries=3 \\
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['PORT'], timeout=1)"]
CMD ["python3", "/app.py"]
"""


@dataclass
class Swarm:
    """The stack under test: its name, compose files, images and ports."""

    root: Path
    stack: str
    image_ok: str
    image_broken: str
    api_port: int
    worker_port: int
    transcript: list[str]

    @property
    def compose_file(self) -> Path:
        return self.root / "stack.yml"

    @property
    def crash_file(self) -> Path:
        return self.root / "stack-with-crash.yml"

    def service(self, name: str) -> str:
        return f"{self.stack}_{name}"

    def docker(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        self.transcript.append("$ docker " + " ".join(args))
        return run(["docker", *args], timeout=timeout, check=check)

    def deploy(self, compose: Path, *extra: str) -> None:
        self.docker("stack", "deploy", "--resolve-image", "never", *extra, "-c", str(compose), self.stack)

    def verify(self, *args: str, compose: Path | None = None) -> tuple[subprocess.CompletedProcess[str], Any]:
        """`cdbctl verify --stack` (this worktree's code: PYTHONPATH is inherited) as JSON."""
        cmd = [sys.executable, "-m", "cdbctl", "verify", "--stack", self.stack]
        cmd += ["--compose", str(compose or self.compose_file), "--format", "json", *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "CDBCTL_DEBUG"))}
        self.transcript.append("$ cdbctl " + " ".join(cmd[3:]))
        proc = run(cmd, timeout=240, check=False, cwd=self.root, env={**env, "NO_COLOR": "1"})
        self.transcript.append(f"  exit {proc.returncode}")
        REPORTS.append((f"cdbctl {' '.join(cmd[3:])} (exit {proc.returncode})", proc.stdout + proc.stderr))
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc, (json.loads(proc.stdout) if proc.stdout.strip() else None)

    def inspect(self, name: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(self.docker("service", "inspect", self.service(name)).stdout)
        return data[0]

    def wait_for(self, what: str, predicate: Any, timeout: float = 120) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(1)
        raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def stack_file(sw: Swarm, *, crash: bool) -> dict[str, Any]:
    """Two services on the host network (one published in host mode, one global); optionally a crash."""
    restart = {"condition": "any", "delay": "1s"}
    # stop-first: a host-mode port is held by the old task, so a start-first task could not be placed.
    update = {"parallelism": 1, "order": "stop-first", "failure_action": "rollback", "monitor": "5s"}
    services: dict[str, Any] = {
        "cdb_api": {
            "image": sw.image_ok,
            "environment": {"PORT": str(sw.api_port)},
            "ports": [{"target": sw.api_port, "published": sw.api_port, "protocol": "tcp", "mode": "host"}],
            "networks": ["hostnet"],
            "stop_grace_period": "3s",
            "deploy": {
                "replicas": 1,
                "update_config": update,
                "rollback_config": {"parallelism": 1, "order": "stop-first"},
                "restart_policy": restart,
                "resources": {"limits": {"cpus": "0.5", "memory": "128M"}},
            },
        },
        "cdb_worker": {
            "image": sw.image_ok,
            "environment": {"PORT": str(sw.worker_port)},
            "networks": ["hostnet"],
            "stop_grace_period": "3s",
            "deploy": {"mode": "global", "restart_policy": restart},
        },
    }
    if crash:
        services["cdb_ledger"] = {
            "image": sw.image_ok,
            "environment": {"PORT": str(free_port()), "FAIL_EXIT": "3"},
            "networks": ["hostnet"],
            "deploy": {"restart_policy": restart},
        }
    return {
        "version": "3.8",
        "services": services,
        "networks": {"hostnet": {"external": True, "name": "host"}},
    }


def swarm_state() -> str:
    return run(["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"], timeout=30).stdout.strip()


def leave_stale_swarm() -> bool:
    """Leave a swarm an earlier e2e run (now dead) created; False when the swarm is someone else's."""
    proc = run(
        ["docker", "node", "inspect", "self", "--format", "{{json .Spec.Labels}}"], timeout=30, check=False
    )
    labels = json.loads(proc.stdout or "null") or {} if proc.returncode == 0 else {}
    pid = str(labels.get(LABEL_SWARM_PID, ""))
    if not pid.isdigit() or _pid_alive(int(pid)):
        return False
    run(["docker", "swarm", "leave", "--force"], timeout=120)
    # That run's swarm made docker_gwbridge (the bridge of swarm containers); it goes with the swarm.
    run(["docker", "network", "rm", "docker_gwbridge"], timeout=60, check=False)
    return swarm_state() == "inactive"


def remove_stale_images() -> None:
    """Remove the images of earlier runs of this module whose process is dead (killed before teardown)."""
    listing = run(["docker", "image", "ls", "-q", "--filter", f"label={LABEL_SWARM_PID}"], timeout=60).stdout
    for image in sorted(set(listing.split())):
        fmt = f'{{{{index .Config.Labels "{LABEL_SWARM_PID}"}}}}'
        inspect = run(["docker", "image", "inspect", "--format", fmt, image], timeout=30, check=False)
        pid = inspect.stdout.strip()
        if pid.isdigit() and not _pid_alive(int(pid)):
            run(["docker", "image", "rm", "-f", image], timeout=120, check=False)


def networks() -> set[str]:
    return set(run(["docker", "network", "ls", "--format", "{{.Name}}"], timeout=30).stdout.split())


@pytest.fixture(scope="module")
def images(
    docker_engine: list[str], base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Swarm]:
    """The two images (a healthy server; the same with FAIL_EXIT=3), removed at the end."""
    state = swarm_state()
    if state != "inactive" and not leave_stale_swarm():
        pytest.fail(
            f"e2e: the Docker engine is already in a swarm ({state}); not taking it over", pytrace=False
        )
    remove_stale_images()
    root = tmp_path_factory.mktemp("swarm")
    project = f"cdbctl-e2e-swarm-{secrets.token_hex(4)}"
    (root / "app.py").write_text(APP, encoding="utf-8")
    (root / "Dockerfile").write_text(DOCKERFILE, encoding="utf-8")
    sw = Swarm(root, project, f"{project}-app:ok", f"{project}-app:broken", free_port(), free_port(), [])
    labels = ["--label", f"{LABEL_PROJECT}={project}", "--label", f"{LABEL_SWARM_PID}={os.getpid()}"]
    try:
        sw.docker("build", "-q", "--network", "host", "--build-arg", f"BASE_IMAGE={base_image}", *labels,
                  "-t", sw.image_ok, str(root), timeout=600)  # fmt: skip
        broken = f"FROM {sw.image_ok}\nENV FAIL_EXIT=3\n"
        proc = subprocess.run(
            ["docker", "build", "-q", *labels, "-t", sw.image_broken, "-"],
            input=broken, text=True, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise StepFailed(f"building {sw.image_broken} failed: {proc.stderr}")
        yield sw
    finally:
        run(["docker", "image", "rm", "-f", sw.image_ok, sw.image_broken], timeout=120, check=False)
        print("\n".join(["", "swarm e2e transcript:", *sw.transcript]), file=sys.stderr)


@pytest.fixture(scope="module")
def swarm(images: Swarm) -> Iterator[Swarm]:
    """A single-node swarm on loopback with the stack deployed; the engine leaves the swarm afterwards."""
    state = swarm_state()
    if state != "inactive":
        pytest.fail(
            f"e2e: the Docker engine is already in a swarm ({state}); not taking it over", pytrace=False
        )
    remove_stale_images()
    before = networks()
    problems: list[str] = []
    try:
        images.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
        # Marks the swarm as this run's: a later run leaves it if this process died before its teardown.
        node = run(["docker", "info", "--format", "{{.Swarm.NodeID}}"], timeout=30).stdout.strip()
        images.docker("node", "update", "--label-add", f"{LABEL_SWARM_PID}={os.getpid()}", node)
        images.compose_file.write_text(yaml.safe_dump(stack_file(images, crash=False)), encoding="utf-8")
        images.crash_file.write_text(yaml.safe_dump(stack_file(images, crash=True)), encoding="utf-8")
        images.deploy(images.compose_file)
        yield images
    finally:
        images.docker("stack", "rm", images.stack, check=False)
        leave = images.docker("swarm", "leave", "--force", check=False)
        if leave.returncode != 0 and "not part of a swarm" not in leave.stderr:
            problems.append(f"docker swarm leave --force: {leave.stderr.strip()}")
        for net in sorted(networks() - before):  # docker_gwbridge, if Swarm created it
            images.docker("network", "rm", net, check=False)
        if swarm_state() != "inactive":
            problems.append(f"the engine is still in a swarm ({swarm_state()})")
        if problems:
            pytest.fail("e2e: swarm teardown failed:\n" + "\n".join(problems), pytrace=False)


def checks_by_service(report: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for check in report["checks"]:
        out.setdefault(check["service"], {})[check["kind"]] = check
    return out


def test_the_scaffolded_compose_file_is_accepted_by_docker_stack_config(
    docker_engine: list[str], tmp_path: Path
) -> None:
    repo = tmp_path / "cdb"
    repo.mkdir()
    proc = run([sys.executable, "-m", "cdbctl", "scaffold", "--repo", str(repo)], timeout=240, check=False)
    assert proc.returncode == 0, proc.stderr
    env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": "r" * 16, "POSTGRES_PASSWORD": "p" * 16}
    commands = run(["docker", "stack", "--help"], timeout=30, check=False).stdout
    if not re.search(r"^\s+config\s", commands, re.MULTILINE):
        pytest.fail(
            "e2e: this Docker CLI has no `docker stack config` (Debian's docker.io 20.10 lacks it); "
            "put a current Docker CLI first on PATH",
            pytrace=False,
        )
    config = run(["docker", "stack", "config", "-c", "docker-compose.yml"], timeout=60, cwd=repo, env=env)
    deployed = yaml.safe_load(config.stdout)["services"]
    for name in ("cdb_core", "cdb_risk", "cdb_execution"):
        deploy = deployed[name]["deploy"]
        assert deploy["replicas"] == 1
        assert deploy["update_config"]["order"] == "start-first"
        assert deploy["update_config"]["failure_action"] == "rollback"
        assert set(deploy) >= {"rollback_config", "restart_policy", "resources"}
        assert deploy["resources"]["limits"]["cpus"] == "1.0"
    # The same file still starts with Compose (docker-compose v1 here: it ignores `deploy:`).
    run([*docker_engine, "-f", "docker-compose.yml", "config", "-q"], timeout=60, cwd=repo, env=env)


def test_verify_stack_outside_a_swarm_is_an_environment_error(images: Swarm) -> None:
    assert swarm_state() == "inactive"
    cmd = [sys.executable, "-m", "cdbctl", "verify", "--stack", images.stack]
    proc = run(cmd, timeout=120, check=False, cwd=images.root)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "not a swarm manager" in proc.stderr and "docker swarm init" in proc.stderr
    assert proc.stdout == ""


def test_verify_wait_reports_the_deployed_stack_healthy(swarm: Swarm) -> None:
    proc, report = swarm.verify("--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = checks_by_service(report)
    api, worker = checks["cdb_api"]["service"], checks["cdb_worker"]["service"]
    assert (api["name"], api["status"], api["detail"]) == (
        swarm.service("cdb_api"),
        "healthy",
        "replicated, 1/1 running",
    )
    assert api["swarm"]["ports"] == [{"published": swarm.api_port, "target": swarm.api_port, "mode": "host"}]
    assert (worker["status"], worker["swarm"]["mode"], worker["swarm"]["replicas"]) == (
        "healthy",
        "global",
        "1/1",
    )
    # The probe comes from the compose file's host-mode port, on loopback.
    http = checks["cdb_api"]["http"]
    assert (http["target"], http["status"]) == (f"http://127.0.0.1:{swarm.api_port}/health", "healthy")


def test_a_task_that_exits_non_zero_is_reported_with_its_error(swarm: Swarm) -> None:
    swarm.deploy(swarm.crash_file)
    try:
        proc, report = swarm.verify("--wait", "--wait-timeout", WAIT_TIMEOUT, compose=swarm.crash_file)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        ledger = checks_by_service(report)["cdb_ledger"]["service"]
        assert ledger["status"] == "unhealthy"
        assert "task: non-zero exit (3)" in ledger["detail"] and "(exit code 3)" in ledger["detail"]
        assert ledger["swarm"]["last_failure"]["exit_code"] == 3
        assert ledger["swarm"]["replicas"] == "0/1"
        assert "stopped waiting" in proc.stderr  # a crash loop ends --wait early
        assert checks_by_service(report)["cdb_api"]["service"]["status"] == "healthy"
    finally:
        swarm.deploy(swarm.compose_file, "--prune")


def test_a_service_scaled_to_zero_is_named(swarm: Swarm) -> None:
    swarm.docker("service", "scale", "--detach", f"{swarm.service('cdb_api')}=0")
    try:
        proc, report = swarm.verify()
        assert proc.returncode == 1, proc.stdout + proc.stderr
        api = checks_by_service(report)["cdb_api"]["service"]
        assert api["name"] == swarm.service("cdb_api")
        assert (api["status"], api["swarm"]["desired"]) == ("unhealthy", 0)
        assert "scaled to 0 replicas" in api["detail"]
    finally:
        swarm.docker("service", "scale", "--detach", f"{swarm.service('cdb_api')}=1")
    proc, _ = swarm.verify("--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_rolling_update_is_rolled_back_and_reported(swarm: Swarm) -> None:
    swarm.docker("service", "update", "--detach", "--image", swarm.image_broken, swarm.service("cdb_api"))
    proc, report = swarm.verify("--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # --wait stops at the failed update
    during = checks_by_service(report)["cdb_api"]["service"]
    assert during["swarm"]["update"] in ("paused", "rollback_started", "rollback_completed"), during
    assert "task: non-zero exit (3)" in during["detail"], during  # the task that failed the update
    swarm.wait_for(
        "the rollback to complete",
        lambda: (swarm.inspect("cdb_api").get("UpdateStatus") or {}).get("State") == "rollback_completed",
    )
    swarm.wait_for(
        "the old image to serve again",
        lambda: checks_by_service(swarm.verify()[1])["cdb_api"]["http"]["status"] == "healthy",
    )
    proc, report = swarm.verify()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = checks_by_service(report)
    api = checks["cdb_api"]["service"]
    assert api["status"] == "unhealthy"
    assert "update rolled back" in api["detail"] and swarm.image_broken in api["detail"]
    assert (api["swarm"]["update"], api["swarm"]["image"]) == ("rollback_completed", swarm.image_ok)
    assert api["swarm"]["last_failure"]["image"] == swarm.image_broken
    assert checks["cdb_api"]["http"]["status"] == "healthy"  # the old image serves again
    # A new deploy of the good spec clears it.
    swarm.docker("service", "update", "--detach", "--force", swarm.service("cdb_api"))
    proc, _ = swarm.verify("--wait", "--wait-timeout", WAIT_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
