"""The reference CDB stack in compose/: healthchecks, dependencies, Swarm deploy, no secrets, in sync with the fragment."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cdbctl.resources import compose_dir
from cdbctl.scaffold.compose_patch import Dependency
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import patch_for
from cdbctl.scaffold.spec import DEFAULT_SERVICES, build_specs

STACK = compose_dir() / "docker-compose.yml"


def _stack() -> dict[str, dict[str, object]]:
    return yaml.safe_load(STACK.read_text())["services"]  # type: ignore[no-any-return]


@pytest.mark.unit
def test_services_and_healthchecks() -> None:
    services = _stack()
    assert set(services) == {"redis", "postgres", "cdb_core", "cdb_risk", "cdb_execution"}
    for name, svc in services.items():
        assert "healthcheck" in svc, name
    for name, port in DEFAULT_SERVICES:
        svc = services[name]
        # The short form: `docker stack config/deploy` reject `condition:` (Swarm has no start order).
        assert svc["depends_on"] == ["redis", "postgres"]
        deploy = svc["deploy"]
        assert isinstance(deploy, dict)
        assert deploy["replicas"] == 1
        assert deploy["update_config"]["order"] == "start-first"
        assert deploy["update_config"]["failure_action"] == "rollback"
        assert set(deploy) == {"replicas", "update_config", "rollback_config", "restart_policy", "resources"}
        assert svc["build"] == {
            "context": ".",
            "dockerfile": f"backoffice/services/{name}/Dockerfile",
            "args": {"BASE_IMAGE": "${CDB_BASE_IMAGE:-python:3.12-slim}"},
        }
        assert svc["environment"]["PORT"] == str(port)  # type: ignore[index]


@pytest.mark.unit
def test_no_secret_is_committed() -> None:
    for name, svc in _stack().items():
        env = svc.get("environment", {})
        assert isinstance(env, dict)
        for key, value in env.items():
            if "PASSWORD" in key:  # only ever interpolated from the environment, and required
                assert value == f"${{{key}:?set {key} in .env}}", (name, key)
            if key in {"REDIS_URL", "DATABASE_URL"}:
                secret = "REDIS_PASSWORD" if key == "REDIS_URL" else "POSTGRES_PASSWORD"
                assert f"${{{secret}:?set {secret} in .env}}@" in value, (name, key)
    env_example = (compose_dir() / ".env.example").read_text()
    assert re.search(r"^REDIS_PASSWORD=$", env_example, re.M) and re.search(
        r"^POSTGRES_PASSWORD=$", env_example, re.M
    )


@pytest.mark.unit
def test_cdb_blocks_are_the_fragment_scaffold_inserts(sources: Sources) -> None:
    """Scaffolding the three services into a file with only redis and postgres yields the reference stack."""
    text = STACK.read_text()
    head = text[: text.index("\n  cdb_core:\n")]
    tail = text[text.index("\nvolumes:\n") :]
    patched = patch_for(head, build_specs([]), sources, "docker-compose.yml").text
    assert patched + tail == text


@pytest.mark.unit
def test_dependencies_detected_in_reference_stack(sources: Sources) -> None:
    from cdbctl.scaffold.compose_doc import find_dependencies

    assert find_dependencies(STACK.read_text(), "x") == [
        Dependency("redis", "redis", True),
        Dependency("postgres", "postgres", True),
    ]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("redis", "password"),
    [
        ("image: redis:7", False),
        ("image: redis:7\n    healthcheck: {test: [CMD, redis-cli, ping]}", False),
        ('image: redis:7\n    command: redis-server --requirepass "$${REDIS_PASSWORD}"', True),
        ("image: redis:7\n    command: [redis-server, --requirepass, x]", True),
        ("image: redis:7\n    environment: [REDIS_PASSWORD=x]", True),
        ("image: bitnami/redis:7\n    environment: {REDIS_PASSWORD: x}", True),
        ("image: redis:7\n    command: redis-server /usr/local/etc/redis/redis.conf", True),  # cannot see
        ("image: redis:7\n    volumes: [./redis.conf:/usr/local/etc/redis/redis.conf]", True),
    ],
)
def test_redis_password_is_required_only_when_the_redis_service_uses_one(redis: str, password: bool) -> None:
    from cdbctl.scaffold.compose_doc import find_dependencies

    (dep,) = find_dependencies(f"services:\n  redis:\n    {redis}\n", "x")
    assert dep.password is password


def _compose_v2() -> list[str] | None:
    if shutil.which("docker") is None:
        return None
    ok = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0
    return ["docker", "compose"] if ok else None


@pytest.mark.integration
@pytest.mark.skipif(
    _compose_v2() is None, reason="Compose v2 (`docker compose`) is installed by .ci/setup.sh"
)
def test_docker_compose_accepts_the_stack(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "REDIS_PASSWORD": "x" * 16, "POSTGRES_PASSWORD": "y" * 16}
    proc = subprocess.run(
        ["docker", "compose", "-f", str(STACK), "config", "-q"], env=env, capture_output=True, text=True,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # Each secret is required on its own (Compose v2 names the first missing one it meets, in no fixed order).
    for unset in ("REDIS_PASSWORD", "POSTGRES_PASSWORD"):
        missing = subprocess.run(
            ["docker", "compose", "-f", str(STACK), "config", "-q"],
            env={k: v for k, v in env.items() if k != unset}, capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert missing.returncode != 0 and unset in missing.stderr + missing.stdout


@pytest.mark.integration
@pytest.mark.skipif(
    _compose_v2() is None, reason="Compose v2 (`docker compose`) is installed by .ci/setup.sh"
)
def test_docker_compose_accepts_the_cdb_layout_after_scaffold_without_passwords_in_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CDB keeps its passwords in compose secrets, never in the environment: an added service that
    # required ${REDIS_PASSWORD:?} stopped `docker compose up` of the whole real stack.
    from cdbctl.cli import main
    from tests.scaffold.cdb_layout import LAYERS, make_cdb

    cdb = make_cdb(tmp_path / "cdb")
    assert (
        main(["scaffold", "--repo", str(cdb), "--format", "json", *(a for f in LAYERS for a in ("-c", f))])
        == 0
    )
    capsys.readouterr()
    env = {"PATH": os.environ["PATH"], "SECRETS_PATH": str(tmp_path / "secrets")}
    proc = subprocess.run(
        ["docker", "compose", *(a for f in LAYERS for a in ("-f", f)), "config", "--format", "json"],
        env=env, capture_output=True, text=True, cwd=cdb,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    core = yaml.safe_load(proc.stdout)["services"]["cdb_core"]
    assert [s["source"] for s in core["secrets"]] == ["redis_password", "postgres_password"]
    assert core["environment"]["REDIS_URL"] == "redis://cdb_redis:6379/0"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("service", "secret"),
    [
        (
            'image: redis:7\n    secrets: [rpw]\n    command: sh -c "redis-server --requirepass $$(cat /run/secrets/rpw)"',
            "rpw",
        ),
        (
            "image: redis:7\n    secrets: [{source: rpw, target: /run/secrets/redis_pw}]\n"
            '    command: sh -c "redis-server --requirepass $$(cat /run/secrets/redis_pw)"',
            "rpw",
        ),
        (
            'image: redis:7\n    command: sh -c "redis-server --requirepass $$(cat /run/secrets/rpw)"',
            None,
        ),  # not mounted
        ("image: redis:7\n    secrets: [rpw]\n    command: [redis-server, --requirepass, x]", None),
        (
            "image: postgres:15\n    secrets: [pg]\n    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/pg}",
            "pg",
        ),
        (
            "image: postgres:15\n    secrets: [pg]\n    environment: [POSTGRES_PASSWORD_FILE=/run/secrets/pg]",
            "pg",
        ),
        ("image: postgres:15\n    secrets: [pg]\n    environment: {POSTGRES_PASSWORD: x}", None),
    ],
)
def test_a_password_read_from_a_compose_secret_is_found(service: str, secret: str | None) -> None:
    from cdbctl.scaffold.compose_doc import find_dependencies

    (dep,) = find_dependencies(f"services:\n  store:\n    {service}\n", "x")
    assert dep.secret == secret
