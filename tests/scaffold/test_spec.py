"""--service NAME[:PORT] parsing and validation."""

from __future__ import annotations

import pytest

from cdbctl.errors import InputError
from cdbctl.scaffold.spec import ServiceSpec, build_specs, parse_service

pytestmark = pytest.mark.unit


def test_defaults() -> None:
    assert build_specs([]) == (
        ServiceSpec("cdb_core", 8001),
        ServiceSpec("cdb_risk", 8002),
        ServiceSpec("cdb_execution", 8003),
    )
    assert [s.serves_risk for s in build_specs([])] == [False, True, False]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["cdb_risk"], [("cdb_risk", 8002)]),
        (["cdb_risk:9000"], [("cdb_risk", 9000)]),
        (["x"], [("x", 8001)]),
        (["x", "y"], [("x", 8001), ("y", 8002)]),
        (["cdb_core:8002", "cdb_risk"], [("cdb_core", 8002), ("cdb_risk", 8001)]),  # default taken: next free
        (["a:1", "b:65535"], [("a", 1), ("b", 65535)]),
    ],
)
def test_build_specs(options: list[str], expected: list[tuple[str, int]]) -> None:
    assert [(s.name, s.port) for s in build_specs(options)] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A",
        "_x",
        "9x",
        "x-y",
        "x.y",
        "x:",
        "x:-1",
        "x:0",
        "x:70000",
        "x:8o",
        "x:٣",
        "x" * 64,
        "x:1:2",
        # YAML reads these keys as null or booleans, not as service names
        "null",
        "true",
        "false",
        "yes",
        "no",
        "on",
        "off:9000",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_service(text)
    assert info.value.where == f"--service {text!r}"


def test_unique_names_and_ports() -> None:
    with pytest.raises(InputError, match="given twice"):
        build_specs(["a", "a:9000"])
    with pytest.raises(InputError, match="port 9000 used by both 'a' and 'b'"):
        build_specs(["a:9000", "b:9000"])


RECORDED = {"cdb_core": 8001, "cdb_risk": 8002, "cdb_execution": 8003}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["foo"], [("foo", 8004)]),  # auto ports skip the ones earlier runs gave away
        (["cdb_risk"], [("cdb_risk", 8002)]),
        (["cdb_risk:9002", "foo:8002"], [("cdb_risk", 9002), ("foo", 8002)]),  # moved in the same run: free
    ],
)
def test_build_specs_respects_recorded_services(options: list[str], expected: list[tuple[str, int]]) -> None:
    assert [(s.name, s.port) for s in build_specs(options, reserved=RECORDED)] == expected


def test_a_name_without_port_keeps_its_recorded_port() -> None:
    specs = build_specs(["cdb_core", "x"], reserved={"cdb_core": 9001, "x": 9100})
    assert [(s.name, s.port) for s in specs] == [("cdb_core", 9001), ("x", 9100)]


def test_explicit_port_of_an_already_scaffolded_service_is_an_input_error() -> None:
    with pytest.raises(InputError) as info:
        build_specs(["foo:8002"], reserved=RECORDED)
    assert "port 8002 is already used by 'cdb_risk'" in info.value.message
    assert info.value.where == "--service 'foo:8002'"
    assert info.value.hint
