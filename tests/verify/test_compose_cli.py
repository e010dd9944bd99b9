"""Differential test: cdbctl's compose model against `docker compose config` (Compose v2) on a corpus.

The corpus: the CDB-layout fixture (base.yml + dev.yml, secrets under SECRETS_PATH), the reference
stack in compose/, and hand-written files in the style of public examples (extends, include,
profiles, interpolation corners, !reset/!override). Both models must agree on what verify reads of
each active service, and on the probes planned from them (secrets included).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from cdbctl.errors import InputError, UsageError
from cdbctl.resources import compose_dir
from cdbctl.verify.compose import ComposeProject
from cdbctl.verify.compose_cli import config_json, find_compose_cli, load_project_from_cli, unescape
from cdbctl.verify.discovery import parse_ports, plan_probes
from cdbctl.verify.interpolation import interpolate_text
from cdbctl.verify.merge import environment_dict
from cdbctl.verify.project import load_project

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent.parent / "data" / "verify"
CORPUS = DATA / "corpus"
FIXTURE = DATA / "cdb_stack" / "infrastructure" / "compose"


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    command = find_compose_cli(os.environ)
    if command is None:
        message = "no Compose v2 CLI (`docker compose`); bash .ci/setup.sh installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return command


def _words(value: Any) -> list[str] | None:
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _healthcheck(value: Any) -> list[str] | None:
    test = (value or {}).get("test")
    if isinstance(test, str):
        return ["CMD-SHELL", test]
    return [str(t) for t in test] if test else None


def _mounts(entries: Any, directory: str) -> list[tuple[str, str]]:
    out = []
    for e in entries or []:
        source = str(e.get("source")) if isinstance(e, dict) else str(e)
        target = str(e.get("target") or source) if isinstance(e, dict) else source
        out.append((source, str(PurePosixPath(directory) / target)))
    return sorted(out)


def _binds(entries: Any) -> list[tuple[str, str]]:
    out = []
    for e in entries or []:
        if isinstance(e, dict):
            if e.get("type") == "bind":
                out.append((str(e["source"]), str(e["target"])))
        elif str(e).startswith("/"):
            source, target = str(e).split(":")[:2]
            out.append((source, target))
    return sorted(out)


def _build(value: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    build = {"context": value} if isinstance(value, str) else value
    return str(build.get("context")), str(build.get("dockerfile") or "Dockerfile")


def comparable(project: ComposeProject) -> dict[str, Any]:
    """What verify reads of a model, in one normal form for both sources."""
    services = {}
    for name in project.active:
        s = project.services[name]
        services[name] = {
            "image": s.get("image"),
            "ports": parse_ports(s.get("ports"), name),
            "environment": environment_dict(s.get("environment")),
            "command": _words(s.get("command")),
            "entrypoint": _words(s.get("entrypoint")),
            "healthcheck": _healthcheck(s.get("healthcheck")),
            "secrets": _mounts(s.get("secrets"), "/run/secrets"),
            "build": _build(s.get("build")),
            "binds": _binds(s.get("volumes")),
            "network_mode": s.get("network_mode"),
        }
    # Compose drops top-level secrets and configs no active service uses; verify only reads used ones.
    used = {
        kind: {m[0] for n in project.active for m in _mounts(project.services[n].get(kind), "/")}
        for kind in ("secrets", "configs")
    }
    resources = {
        kind: {
            k: (v.get("file"), v.get("environment"))
            for k, v in getattr(project, kind).items()
            if k in used[kind]
        }
        for kind in ("secrets", "configs")
    }
    return {"name": project.name, "active": sorted(project.active), "services": services, **resources}


def probes(project: ComposeProject) -> list[tuple[str, str, str, str | None, str | None]]:
    return [
        (p.name, p.rule, p.endpoint.display, p.endpoint.password, p.problem)
        for p in plan_probes(project, project.active, [])
    ]


def _cases(tmp: Path | None) -> list[tuple[str, list[Path], dict[str, str]]]:
    """(label, files, environment) of each corpus case; with tmp, the fixture's secret files are written."""
    secrets = (tmp or Path("/nonexistent")) / "secrets"
    if tmp is not None:
        secrets.mkdir(exist_ok=True)
        (secrets / "redis_password").write_text("fixture-redis-pw\n")
        (secrets / "postgres_password").write_text("fixture-pg-pw")
    fixture_env = {"SECRETS_PATH": str(secrets), "CDB_PROMETHEUS_PORT": "29090"}
    return [
        ("cdb base+dev", [FIXTURE / "base.yml", FIXTURE / "dev.yml"], fixture_env),
        (
            "cdb base+dev, debug profile, other stack name",
            [FIXTURE / "base.yml", FIXTURE / "dev.yml"],
            {**fixture_env, "COMPOSE_PROFILES": "debug", "STACK_NAME": "CDB_Paper"},
        ),
        ("cdb base only", [FIXTURE / "base.yml"], fixture_env),
        (
            "reference compose/",
            [compose_dir() / "docker-compose.yml"],
            {"REDIS_PASSWORD": "r", "POSTGRES_PASSWORD": "p"},
        ),
        (
            "e2e seed repository (version: 3.8, anchors)",
            [DATA.parent / "e2e" / "repo" / "docker-compose.yml"],
            {},
        ),
        ("wordpress", [CORPUS / "wordpress" / "compose.yaml"], {"WP_PORT": "8088"}),
        ("voting", [CORPUS / "voting" / "compose.yaml"], {}),
        ("voting with seed profile", [CORPUS / "voting" / "compose.yaml"], {"COMPOSE_PROFILES": "seed"}),
        ("extends", [CORPUS / "extends" / "compose.yaml"], {}),
        ("include", [CORPUS / "include" / "compose.yaml"], {"APP_TAG": "1.2"}),
        (
            "interpolation",
            [CORPUS / "interpolation" / "compose.yaml"],
            {"REDIS_PW": "pw", "PASSTHROUGH": "x"},
        ),
        ("dotenv dialect", [CORPUS / "dotenv" / "compose.yaml"], {"BARE": "from-os"}),
        ("merge rules", [CORPUS / "merge" / "base.yml", CORPUS / "merge" / "over.yml"], {}),
        (
            "bare environment keys, empty and unset",
            [CORPUS / "passthrough" / "compose.yaml"],
            {"FROM_SHELL": ""},
        ),
        ("several YAML documents in one file", [CORPUS / "documents" / "compose.yaml"], {}),
        (
            "null in an override file, project name interpolated",
            [CORPUS / "nulls" / "compose.yaml", CORPUS / "nulls" / "prod.yml"],
            {},
        ),
        (
            "the same, another stack name",
            [CORPUS / "nulls" / "compose.yaml", CORPUS / "nulls" / "prod.yml"],
            {"STACK_NAME": "paper", "ROLLBACK_TAG": "v1"},
        ),
        (
            "override file with !reset/!override",
            [CORPUS / "layered" / "compose.yaml", CORPUS / "layered" / "override.yml"],
            {"API_TOKEN": "tok", "COMPOSE_PROFILES": "jobs"},
        ),
    ]


LABELS = [c[0] for c in _cases(None)]


@pytest.mark.parametrize("label", LABELS)
def test_builtin_model_agrees_with_docker_compose_config(
    compose_cli: list[str], tmp_path: Path, label: str
) -> None:
    files, extra = next((f, e) for lb, f, e in _cases(tmp_path) if lb == label)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **extra}
    ours = load_project(files, env)
    theirs = load_project_from_cli(compose_cli, files, env, order=list(ours.services))
    assert comparable(ours) == comparable(theirs)
    assert probes(ours) == probes(theirs)


def test_the_cdb_fixture_plans_the_probes_the_stack_declares(compose_cli: list[str], tmp_path: Path) -> None:
    (_, files, extra), *_ = _cases(tmp_path)
    env = {"PATH": os.environ.get("PATH", ""), **extra}
    project = load_project_from_cli(compose_cli, files, env, order=list(load_project(files, env).services))
    assert project.name == "cdb"
    assert [(n, rule, target) for n, rule, target, _, _ in probes(project)] == [
        ("cdb_redis", "redis", "redis://:***@127.0.0.1:6379"),
        ("cdb_postgres", "postgres", "postgresql://cdb_app:***@127.0.0.1:5432/cdb_ledger"),
        ("cdb_prometheus", "healthcheck", "http://127.0.0.1:29090/-/healthy"),
        ("cdb_grafana", "healthcheck", "http://127.0.0.1:3000/api/health"),
        ("cdb_postgres_exporter", "image", "http://127.0.0.1:9187/metrics"),
        ("cdb_redis_exporter", "healthcheck", "http://127.0.0.1:9121/health"),
        ("cdb_ws", "healthcheck", "http://127.0.0.1:8000/health"),
        ("cdb_signal", "healthcheck", "http://127.0.0.1:8005/health"),
        ("cdb_risk", "cdb", "http://127.0.0.1:8002/health"),
        ("cdb_execution", "cdb", "http://127.0.0.1:8003/health"),
    ]
    passwords = {n: pw for n, _, _, pw, _ in probes(project)}
    # trailing newline dropped, as $(cat file) drops it
    assert passwords["cdb_redis"] == "fixture-redis-pw"
    assert passwords["cdb_postgres"] == "fixture-pg-pw"


def test_compose_refusal_is_an_input_error_naming_the_file(compose_cli: list[str], tmp_path: Path) -> None:
    f = tmp_path / "compose.yaml"
    f.write_text("services:\n  a:\n    image: x\n    ports: ['80:80:80:80']\n")
    with pytest.raises(InputError) as info:
        config_json(compose_cli, [f], {"PATH": os.environ.get("PATH", "")})
    assert info.value.message.startswith("docker compose config: ")
    assert info.value.where == str(f)


def test_compose_refusal_names_the_file_compose_names(compose_cli: list[str], tmp_path: Path) -> None:
    # CDB's rollback.yml sets `build: null` on a service no earlier file defines; the message named base.yml
    base, over = tmp_path / "base.yml", tmp_path / "rollback.yml"
    base.write_text("services:\n  a:\n    image: x\n")
    over.write_text("services:\n  b:\n    image: y\n    build: null\n")
    with pytest.raises(InputError) as info:
        config_json(compose_cli, [base, over], {"PATH": os.environ.get("PATH", "")})
    assert "services.b.build" in info.value.message
    assert info.value.where == str(over)


def test_dollar_escapes_of_the_output_are_undone() -> None:
    assert unescape({"a": ["$$(cat f)", "$$$$"], "b": 1}) == {"a": ["$(cat f)", "$$"], "b": 1}


def test_a_v1_docker_compose_is_not_taken_for_v2(tmp_path: Path) -> None:
    fake = tmp_path / "docker-compose"
    fake.write_text("#!/bin/sh\necho 1.29.2\n")
    fake.chmod(0o755)
    assert find_compose_cli({"PATH": str(tmp_path)}) is None
    fake.write_text("#!/bin/sh\necho v2.40.3\n")
    assert find_compose_cli({"PATH": str(tmp_path)}) == [str(fake)]


def test_subprocess_env_is_exactly_the_given_one(compose_cli: list[str], tmp_path: Path) -> None:
    # the caller's environment must not leak into the model: SECRETS_PATH unset here is an error
    f = FIXTURE / "base.yml"
    with pytest.raises(InputError, match="SECRETS_PATH"):
        config_json(compose_cli, [f], {"PATH": os.environ.get("PATH", "")})
    assert subprocess.run([*compose_cli, "version"], capture_output=True, check=False).returncode == 0


def test_interpolation_agrees_on_random_strings(compose_cli: list[str], tmp_path: Path) -> None:
    """Seeded random strings of `$`, braces, operators and names, interpolated by both."""
    import json
    import random

    rng = random.Random(20261206)
    pieces = [
        "$",
        "$$",
        "${",
        "}",
        "{",
        ":-",
        "-",
        ":?",
        "?",
        ":+",
        "+",
        "A",
        "B",
        "U",
        "_x",
        " ",
        "(",
        ")",
        "1",
        "é",
    ]
    env = {"A": "a-value", "B": "", "PATH": os.environ.get("PATH", "")}
    texts = sorted({"".join(rng.choice(pieces) for _ in range(rng.randint(1, 9))) for _ in range(600)})
    ours: dict[str, str] = {}
    refused: list[str] = []
    for text in texts:
        try:
            ours[text] = interpolate_text(text, env, "x")
        except InputError:
            refused.append(text)
    keys = {f"V{i}": text for i, text in enumerate(ours)}
    body = "".join(f"      {k}: {json.dumps(t)}\n" for k, t in keys.items())
    f = tmp_path / "compose.yaml"
    f.write_text(f"services:\n  s:\n    image: x\n    environment:\n{body}")
    theirs = config_json(compose_cli, [f], env)["services"]["s"]["environment"]
    assert {keys[k]: v for k, v in theirs.items()} == {t: ours[t] for t in keys.values()}
    for text in refused[:40]:  # each refusal on its own: one bad value fails the whole file
        f.write_text(f"services:\n  s:\n    image: x\n    environment:\n      V: {json.dumps(text)}\n")
        with pytest.raises(InputError):
            config_json(compose_cli, [f], env)


def _verify_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str
) -> tuple[int, str, str]:
    from cdbctl.cli import main

    monkeypatch.chdir(cwd)
    for var in ("COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"):
        monkeypatch.delenv(var, raising=False)
    code = main(["verify", "--no-docker", "--timeout", "0.5", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_compose_model_docker_without_a_v2_cli_is_an_environment_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx\n    ports: ['1:80']\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no docker-compose
    code, out, err = _verify_cli(capsys, monkeypatch, tmp_path, "--compose-model", "docker")
    assert (code, out) == (3, "")
    assert "no Compose v2 CLI" in err
    # auto quietly uses the built-in model
    code, out, err = _verify_cli(capsys, monkeypatch, tmp_path, "--format", "json")
    assert code == 1
    assert "tcp://127.0.0.1:1" in out
    assert "compose model" not in err


def test_auto_falls_back_when_compose_refuses_what_verify_can_read(
    compose_cli: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a service with neither image nor build: `docker compose up` refuses it, the running stack may exist
    (tmp_path / "compose.yaml").write_text("services:\n  cdb_core:\n    ports: ['1:8001']\n")
    code, out, err = _verify_cli(capsys, monkeypatch, tmp_path, "--format", "json")
    assert code == 1
    assert "http://127.0.0.1:1/health" in out
    assert "neither an image nor a build context" in err
    assert "using cdbctl's own compose model" in err
    code, out, err = _verify_cli(capsys, monkeypatch, tmp_path, "--compose-model", "docker")
    assert (code, out) == (2, "")
    assert err.startswith("cdbctl: error: docker compose config: ")


@pytest.mark.parametrize(
    ("directory", "top_name", "env", "option"),
    [
        ("My.CDB Stack_01", None, {}, None),
        ("cdb", "Claire-de-Binare", {}, None),
        ("cdb", None, {"COMPOSE_PROJECT_NAME": "FromEnv"}, None),
        ("cdb", None, {"COMPOSE_PROJECT_NAME": "from_env"}, None),
        ("cdb", None, {}, "CLI_wins"),
        ("cdb", None, {}, "cli-wins"),
        ("cdb", "named", {"COMPOSE_PROJECT_NAME": "x y"}, "ok"),
    ],
)
def test_project_name_accepted_or_refused_like_compose(  # noqa: PLR0917 - one argument per table column
    compose_cli: list[str],
    tmp_path: Path,
    directory: str,
    top_name: str | None,
    env: dict[str, str],
    option: str | None,
) -> None:
    head = f"name: {top_name}\n" if top_name else ""
    folder = tmp_path / directory
    folder.mkdir()
    f = folder / "compose.yaml"
    f.write_text(head + "services:\n  a:\n    image: x\n")
    full_env = {"PATH": os.environ.get("PATH", ""), **env}
    command = [*compose_cli, "-f", str(f), *(["-p", option] if option else []), "config", "--format", "json"]
    theirs = subprocess.run(command, env=full_env, capture_output=True, text=True, check=False, cwd=folder)
    try:
        ours: str | None = load_project([f], env, option).name
    except UsageError:
        ours = None
    if theirs.returncode != 0:
        assert "invalid project name" in theirs.stderr
        assert ours is None
    else:
        assert ours == json.loads(theirs.stdout)["name"]
