"""Smoke test of Compose v1 (docker-compose 1.x) on the scaffolded repository, while v1 is installed here.

The suite runs on Compose v2 (`docker compose`). Debian still ships v1 as `docker-compose`; as long as it
is on these machines, the files scaffold writes must stay readable and buildable by it too.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from tests.e2e.harness import FIXTURE_REPO, Stack, StepFailed, is_compose_v1

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def v1(scaffolded: Stack) -> Stack:
    """The scaffolded stack, driven by docker-compose v1 (same project, so teardown removes its image)."""
    if shutil.which("docker-compose") is None or not is_compose_v1(["docker-compose"]):
        pytest.skip("Compose v1 (docker-compose 1.x) is not installed on this machine")
    return replace(scaffolded, compose_cmd=["docker-compose"], compose_v1=True)


def test_v1_reads_the_scaffolded_file_and_refuses_the_seed(v1: Stack) -> None:
    v1.compose("config", "--quiet", files=[v1.compose_file])
    seed = v1.compose("config", "--quiet", files=[FIXTURE_REPO / "docker-compose.yml"], check=False)
    assert seed.returncode != 0 and "signal_engine" in seed.stderr, seed.stderr


def test_v1_builds_a_generated_service(v1: Stack) -> None:
    v1.write_override()
    try:
        v1.compose("build", "cdb_risk", timeout=900.0)
    except StepFailed as exc:
        pytest.fail(f"docker-compose v1 could not build cdb_risk\n{exc}", pytrace=False)
