"""Read-only checks after planning: a generated service whose compose file overrides its start.

`cdbctl scaffold --service cdb_risk --force` on CDB's layers re-pointed cdb_risk's build at the generated
Dockerfile but left dev.yml's `entrypoint: ["sh", "-c", "... exec python -m services.risk.service"]`:
the container ran CDB's old module in the new image and crash-looped (ModuleNotFoundError: redis), and
scaffold said nothing.
"""

from __future__ import annotations

import pytest

from cdbctl.scaffold.checks import start_overrides

pytestmark = pytest.mark.unit

BASE = "services:\n  cdb_risk:\n    image: x\n    command: [python, -m, services.risk]\n  cdb_redis:\n    image: r\n"


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([("base.yml", BASE)], ["command in base.yml"]),
        (
            [("base.yml", "services:\n  cdb_risk:\n    entrypoint: sh -c 'exec python -m old'\n")],
            ["entrypoint in base.yml"],
        ),
        # a later layer that resets or clears it wins
        ([("base.yml", BASE), ("dev.yml", "services:\n  cdb_risk:\n    command: !reset null\n")], []),
        ([("base.yml", BASE), ("dev.yml", "services:\n  cdb_risk:\n    command: []\n")], []),
        # a later layer that sets it again is the one named
        (
            [("base.yml", BASE), ("dev.yml", "services:\n  cdb_risk:\n    command: [gunicorn, x]\n")],
            ["command in dev.yml"],
        ),
        # other services may start as they like; an unreadable layer says nothing
        ([("base.yml", "services:\n  cdb_redis:\n    command: [redis-server]\n")], []),
        ([("base.yml", "services: [\n")], []),
    ],
)
def test_start_overrides(layers: list[tuple[str, str]], expected: list[str]) -> None:
    def problem(found: str) -> str:
        key, path = found.split(" in ")
        return (
            f"scaffolded service 'cdb_risk': `{key}` in {path} replaces the generated image's start "
            "(gunicorn), so its app never runs; remove it"
        )

    assert start_overrides(layers, {"cdb_risk"}) == [problem(f) for f in expected]
