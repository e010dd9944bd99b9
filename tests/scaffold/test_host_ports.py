"""Ports scaffold picks never take a host port the stack already publishes (CDB's dev.yml: 8002-8008).

`--service cdb_audit` on CDB's layers got 8002, which dev.yml publishes for cdb_risk on 127.0.0.1:
`docker compose up` then fails with "port is already allocated".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from cdbctl.cli import main
from cdbctl.scaffold.host_ports import avoid_published, published_ports
from cdbctl.scaffold.spec import ServiceSpec, build_specs
from tests.scaffold.cdb_layout import LAYERS, make_cdb

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]


@pytest.mark.parametrize(
    ("entry", "ports"),
    [
        ("127.0.0.1:8002:8002", [8002]),
        ("${CDB_PUBLISH_HOST:-127.0.0.1}:8001:8001", [8001]),  # an interpolated IP has a colon too
        ("8005:8000/tcp", [8005]),
        ("[::1]:8006:8006", [8006]),
        ("127.0.0.1:9000-9002:9000-9002", [9000, 9001, 9002]),
        ("8001", []),  # container port only: Docker picks a random host port
        ("${PORT:-8001}:8001", []),  # an interpolated host port: not known here
        ({"target": 8000, "published": 8007, "host_ip": "127.0.0.1"}, [8007]),
        ({"target": 8000, "published": "8008"}, [8008]),
        ({"target": 8000}, []),
        ("1-99999:1-99999", []),  # nonsense: compose refuses it, nothing to learn
    ],
)
def test_published_host_ports(entry: object, ports: list[int]) -> None:
    text = yaml.safe_dump({"services": {"svc": {"image": "x", "ports": [entry]}}})
    assert sorted(published_ports([("dev.yml", text)])) == ports


def test_unreadable_layers_publish_nothing() -> None:
    assert published_ports([("dev.yml", "services: [\n")]) == {}


def test_only_ports_scaffold_chose_move() -> None:
    published = {8002: ("cdb_risk", "dev.yml"), 8003: ("cdb_execution", "dev.yml")}
    chosen = build_specs(["cdb_core", "cdb_audit"])  # 8001 (default), 8002 (next free)
    moved, problems = avoid_published(chosen, published, {})
    assert [(s.name, s.port) for s in moved] == [("cdb_core", 8001), ("cdb_audit", 8004)] and problems == []
    given = build_specs(["cdb_audit:8003"])
    kept, problems = avoid_published(given, published, {})
    assert [(s.name, s.port) for s in kept] == [("cdb_audit", 8003)]
    assert problems == [
        "cdb_audit: host port 8003 is already published by 'cdb_execution' (dev.yml); `docker compose up` "
        "cannot bind it twice (choose another: --service cdb_audit:PORT)"
    ]
    # a service's own published port is no clash, and an earlier run's port is never taken
    own = avoid_published([ServiceSpec("cdb_risk", 8002, auto_port=True)], published, {})
    assert own == ((ServiceSpec("cdb_risk", 8002),), [])
    moved, _ = avoid_published(build_specs(["cdb_new:8002"]), published, {"cdb_old": 8001})
    assert moved[0].port == 8002  # given: kept (and reported)
    moved, _ = avoid_published((ServiceSpec("cdb_new", 8002, auto_port=True),), published, {"cdb_old": 8001})
    assert moved[0].port == 8004


def _scaffold(capsys: Cap, repo: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["scaffold", "--repo", str(repo), "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def _published(repo: Path, service: str) -> list[str]:
    dev = yaml.safe_load((repo / LAYERS[1]).read_text())
    ports: list[str] = dev["services"][service]["ports"]
    return ports


def test_a_new_service_on_cdb_layers_gets_a_port_nobody_publishes(tmp_path: Path, capsys: Cap) -> None:
    repo = make_cdb(tmp_path / "cdb")  # dev.yml publishes 8002 (cdb_risk) and 8003 (cdb_execution)
    code, data, err = _scaffold(capsys, repo, "--service", "cdb_core", "--service", "cdb_audit")
    assert code == 0, err
    assert data["services"] == [{"name": "cdb_core", "port": 8001}, {"name": "cdb_audit", "port": 8004}]
    assert _published(repo, "cdb_audit") == ["${CDB_PUBLISH_HOST:-127.0.0.1}:8004:8004"]
    assert data["problems"] == []
    # the port is recorded: the next run keeps it, and changes nothing
    code, data, _ = _scaffold(capsys, repo, "--check")
    assert code == 0 and {s["name"]: s["port"] for s in data["services"]} == {
        "cdb_core": 8001,
        "cdb_audit": 8004,
    }


def test_a_chosen_port_another_service_publishes_is_kept_and_reported(tmp_path: Path, capsys: Cap) -> None:
    repo = make_cdb(tmp_path / "cdb")
    code, data, err = _scaffold(capsys, repo, "--service", "cdb_audit:8003")
    assert code == 0
    assert _published(repo, "cdb_audit") == ["${CDB_PUBLISH_HOST:-127.0.0.1}:8003:8003"]
    problem = (
        "cdb_audit: host port 8003 is already published by 'cdb_execution' (infrastructure/compose/dev.yml); "
        "`docker compose up` cannot bind it twice (choose another: --service cdb_audit:PORT)"
    )
    assert data["problems"] == [problem] and f"cdbctl: warning: {problem}\n" in err
