"""--service NAME[:PORT] parsing and validation."""

from __future__ import annotations

import pytest

from cdbctl.errors import InputError
from cdbctl.scaffold.spec import ServiceSpec, build_specs, parse_service


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
    ["", "A", "_x", "9x", "x-y", "x.y", "x:", "x:-1", "x:0", "x:70000", "x:8o", "x:٣", "x" * 64, "x:1:2"],
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
