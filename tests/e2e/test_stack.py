"""The whole story on a real Docker engine: scaffold, build, run, probe, evaluate (issue 6, steps 1-5).

One compose project per session (see conftest.py): the images are built once, the tests run in file
order against the running stack, and teardown removes it whatever happens.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    DATA_STORES,
    FIXTURE_REPO,
    LABEL_PROJECT,
    SERVICES,
    Stack,
    listen_addresses,
    run,
)

pytestmark = pytest.mark.e2e

SIGNALS = Path(__file__).resolve().parent.parent / "data" / "e2e" / "signals.json"
NOW = "2026-01-01T12:00:10Z"
HEALTHY_TIMEOUT = 180.0


def http(method: str, url: str, body: bytes | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """One request to 127.0.0.1, never through a proxy; (status, body) also for 4xx/5xx answers."""
    assert url.startswith("http://127.0.0.1:"), url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def health_status(stack: Stack, service: str) -> str:
    state = stack.container(service)["State"]
    return str((state.get("Health") or {}).get("Status", "none"))


def wait_healthy(stack: Stack, services: list[str]) -> None:
    for service in services:
        stack.wait_for(
            f"Docker to report {service} healthy",
            lambda s=service: health_status(stack, s) == "healthy",
            HEALTHY_TIMEOUT,
        )


# -- step 2: scaffold ----------------------------------------------------------------------------------
def test_scaffold_fixes_the_repository_and_check_is_clean(scaffolded: Stack) -> None:
    check = scaffolded.cdbctl("scaffold", "--repo", str(scaffolded.repo), "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    compose = scaffolded.compose_file.read_text(encoding="utf-8")
    for service in SERVICES:
        dockerfile = f"backoffice/services/{service}/Dockerfile"
        assert (scaffolded.repo / dockerfile).is_file()
        assert dockerfile in compose
    # The comments and anchors of the seed's compose file survive the patch.
    for kept in ("# Claire de Binare", "x-backoffice: &backoffice", "<<: *backoffice", "<<: *service-env"):
        assert kept in compose
    # Compose itself cannot build the seed's file (v2's `config` accepts a missing build context; its
    # `build` stops before building anything) and accepts the patched one.
    seed = scaffolded.compose("build", "cdb_core", files=[FIXTURE_REPO / "docker-compose.yml"], check=False)
    assert seed.returncode != 0 and "signal_engine" in seed.stderr, seed.stderr
    scaffolded.compose("config", "--quiet", files=[scaffolded.compose_file])


# -- step 3: images ------------------------------------------------------------------------------------
def test_images_are_built_from_the_generated_dockerfiles_on_the_base_image(built: Stack) -> None:
    base = json.loads(run(["docker", "image", "inspect", built.base_image], timeout=30).stdout)[0]
    base_layers = base["RootFS"]["Layers"]
    for service, port in SERVICES.items():
        image = json.loads(
            run(["docker", "image", "inspect", built.service_image(service)], timeout=30).stdout
        )[0]
        config = image["Config"]
        assert image["RootFS"]["Layers"][: len(base_layers)] == base_layers, f"{service} is not FROM the base"
        assert config["Labels"][LABEL_PROJECT] == built.project
        assert config["User"] not in ("", "0", "root", "0:0"), f"{service} runs as root"
        assert f"{port}/tcp" in config["ExposedPorts"]
        assert config["Healthcheck"]["Test"][0] == "CMD", "HEALTHCHECK must be exec form"
        assert config["Healthcheck"].get("StartPeriod", 0) > 0
    # Built with the repository's compose file as scaffold left it: only the override file differs.
    assert built.compose_file.read_bytes() == built.scaffolded_compose
    assert not (built.repo / "docker-compose.override.yml").exists()


def test_images_install_hash_pinned_requirements_and_only_cdb_risk_has_the_engine(built: Stack) -> None:
    probe = (
        "import importlib.util as u, json; "
        "print(json.dumps({m: u.find_spec(m) is not None for m in "
        "('cdbctl', 'msgspec', 'prometheus_client', 'flask', 'gunicorn')}))"
    )
    for service in SERVICES:
        dockerfile = (built.repo / f"backoffice/services/{service}/Dockerfile").read_text(encoding="utf-8")
        assert "--require-hashes" in dockerfile  # the build above passed pip's hash check
        found = json.loads(
            run(
                ["docker", "run", "--rm", "--network", "host", "--label", f"{LABEL_PROJECT}={built.project}",
                 "--entrypoint", "/opt/venv/bin/python", built.service_image(service), "-c", probe],
                timeout=120,
            ).stdout
        )  # fmt: skip
        assert found["prometheus_client"] and found["flask"] and found["gunicorn"], (service, found)
        # The risk engine (and msgspec, its one dependency) is only in the image that evaluates signals.
        assert found["cdbctl"] is (service == "cdb_risk"), (service, found)
        assert found["msgspec"] is (service == "cdb_risk"), (service, found)
    assert not list(built.repo.glob("backoffice/services/*/vendor"))


# -- step 4: the stack runs and is healthy by Docker's own HEALTHCHECK ---------------------------------
def test_every_container_turns_healthy_by_its_own_healthcheck(running: Stack) -> None:
    wait_healthy(running, [*DATA_STORES, *SERVICES])
    for service in SERVICES:
        container = running.container(service)
        assert container["HostConfig"]["NetworkMode"] == "host"
        assert container["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        # Listening on loopback only, although it shares the host's network.
        assert listen_addresses(SERVICES[service]) == {"127.0.0.1"}
        log = container["State"]["Health"]["Log"]
        assert log and log[-1]["ExitCode"] == 0
    for port in DATA_STORES.values():
        assert listen_addresses(port) == {"127.0.0.1"}
    # Host networking only: the project created no network of its own (no bridge).
    networks = run(
        ["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={running.project}"],
        timeout=30,
    ).stdout.split()
    assert networks == []


def test_endpoints_answer_on_loopback_with_redis_and_postgres_ready(running: Stack) -> None:
    wait_healthy(running, list(SERVICES))
    for service, port in SERVICES.items():
        base = f"http://127.0.0.1:{port}"
        status, body = http("GET", f"{base}/health")
        assert (status, json.loads(body)) == (200, {"status": "ok", "service": service})
        status, body = http("GET", f"{base}/ready")
        ready = json.loads(body)
        assert status == 200, ready
        assert ready["checks"] == {"redis": "ok", "postgres": "ok"}
        status, body = http("GET", f"{base}/status")
        info = json.loads(body)
        assert status == 200 and info["service"] == service
        assert info["shared_services"]["available"] is True  # services/ was copied into the image
        status, body = http("GET", f"{base}/metrics")
        assert status == 200
        assert b"# TYPE" in body and b"/health" in body


def test_service_logs_are_json_lines_from_several_workers_without_a_control_socket(running: Stack) -> None:
    wait_healthy(running, list(SERVICES))
    for service in SERVICES:
        logs = run(["docker", "logs", running.container(service)["Id"]], timeout=60)
        lines = [line for line in (logs.stdout + logs.stderr).splitlines() if line.strip()]
        records = [json.loads(line) for line in lines]  # gunicorn's own lines too
        messages = [str(r.get("message", "")) for r in records]
        assert sum(m.startswith("Booting worker") for m in messages) >= 2, (service, messages)
        assert not [m for m in messages if "ontrol" in m], (service, messages)


# -- step 5: the risk service and the CLI agree ----------------------------------------------------------
def _risk_keys(stack: Stack) -> set[str]:
    listing = json.loads(stack.cdbctl("risk", "config", "--format", "json", check=True).stdout)
    keys: set[str] = set()
    for entry in listing["keys"]:
        keys.add(entry["key"])
        keys.update(entry.get("aliases", []))
    return keys


def _container_env(stack: Stack, service: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in stack.container(service)["Config"]["Env"])
    return {k: v for k, v in pairs}


def _cli_env_like(stack: Stack, service: str) -> dict[str, str]:
    """The CLI's environment with exactly the risk keys the container runs with (compose + image env)."""
    keys = _risk_keys(stack)
    env = {k: v for k, v in stack.cli_env().items() if k not in keys}
    env.update({k: v for k, v in _container_env(stack, service).items() if k in keys})
    return env


# The service answers like the CLI exits: 200 for decisions (approved or rejected), 400 when a record is
# invalid (the CLI's exit 2), with the same decisions in the body either way.
HTTP_STATUS_OF_EXIT = {0: 200, 1: 200, 2: 400}


def test_evaluate_endpoint_returns_the_same_decisions_as_the_cli(running: Stack) -> None:
    wait_healthy(running, ["cdb_risk"])
    env = _cli_env_like(running, "cdb_risk")
    signals: list[dict[str, Any]] = json.loads(SIGNALS.read_bytes())
    valid = [s for s in signals if s["signal_id"] != "e2e-invalid-price"]
    cases = {
        "every signal, one invalid": json.dumps(signals),
        "valid signals, some rejected": json.dumps(valid),
        "one signal alone": json.dumps(signals[0]),
    }
    exits = set()
    for case, payload in cases.items():
        url = f"http://127.0.0.1:{SERVICES['cdb_risk']}/evaluate?now={NOW}"
        status, body = http("POST", url, payload.encode())
        cli = running.cdbctl(
            "risk", "evaluate", "-", "--now", NOW, "--format", "json", env=env, stdin=payload
        )
        assert cli.returncode in HTTP_STATUS_OF_EXIT, f"{case}: {cli.stderr}"
        exits.add(cli.returncode)
        assert status == HTTP_STATUS_OF_EXIT[cli.returncode], (
            f"{case}: HTTP {status}, CLI exit {cli.returncode}"
        )
        assert json.loads(body) == json.loads(cli.stdout), case
    assert exits == {0, 1, 2}

    served = json.loads(
        http(
            "POST",
            f"http://127.0.0.1:{SERVICES['cdb_risk']}/evaluate?now={NOW}",
            cases["every signal, one invalid"].encode(),
        )[1]
    )
    assert [d["signal_id"] for d in served] == [s["signal_id"] for s in signals]
    reasons = {d["reason"] for d in served}
    assert None in reasons and {"leverage_exceeds_max", "excessive_spread", "invalid_signal"} <= reasons


def test_evaluate_endpoint_rejects_malformed_input_like_the_cli(running: Stack) -> None:
    status, body = http("POST", f"http://127.0.0.1:{SERVICES['cdb_risk']}/evaluate", b'{"symbol": "BTC')
    assert status == 400
    assert json.loads(body)["error"]
    cli = running.cdbctl("risk", "evaluate", "-", stdin='{"symbol": "BTC')
    assert cli.returncode == 2
    assert "Traceback" not in cli.stderr


def test_status_reports_the_risk_configuration_the_cli_computes(running: Stack) -> None:
    status, body = http("GET", f"http://127.0.0.1:{SERVICES['cdb_risk']}/status")
    served = json.loads(body)["risk_config"]
    assert status == 200 and served["ok"] is True, served
    env = _cli_env_like(running, "cdb_risk")
    listing = json.loads(running.cdbctl("risk", "config", "--format", "json", env=env, check=True).stdout)
    assert served["values"] == {entry["key"]: entry["value"] for entry in listing["keys"]}
    # The compose file sets MAX_LEVERAGE=10 for cdb_risk (the default too) and ACCOUNT_EQUITY.
    assert served["values"]["ACCOUNT_EQUITY"] == 100000.0
