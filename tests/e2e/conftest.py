"""Fixtures of the end-to-end suite: one Docker stack per session, built once, torn down always.

Environment:
- ``CDBCTL_E2E=skip`` skips every e2e test (the only way to skip them; a missing engine fails them).
- ``CDBCTL_BASE_IMAGE`` the image the services are built FROM (default ``cdbctl-base:bookworm``,
  built by .ci/setup.d/60-base-image.sh; ``python:3.12-slim`` on a machine that can pull it).
- ``CDBCTL_COMPOSE`` the Compose command (default ``docker compose``, v2; else ``docker-compose``).
  test_compose_v1.py checks Compose v1 (``docker-compose``) separately while it is installed.
- ``CDBCTL_E2E_KEEP_IMAGES=1`` keeps the built service images after the run (faster local iteration).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    DEFAULT_BASE_IMAGE,
    REPORTS,
    Stack,
    StepFailed,
    compose_command,
    docker_problem,
    remove_stale_projects,
)

E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Only an explicit CDBCTL_E2E=skip skips the suite."""
    if os.environ.get("CDBCTL_E2E", "").strip().lower() != "skip":
        return
    marker = pytest.mark.skip(reason="CDBCTL_E2E=skip")
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(marker)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reports the suite collected (verify while Docker restarts a container, ...)."""
    if not REPORTS:
        return
    terminalreporter.section("e2e reports")
    for title, text in REPORTS:
        terminalreporter.write_line(f"--- {title}")
        terminalreporter.write(text if text.endswith("\n") else text + "\n")


@pytest.fixture(scope="session")
def base_image() -> str:
    """The image the generated Dockerfiles build FROM (their BASE_IMAGE build argument)."""
    return os.environ.get("CDBCTL_BASE_IMAGE", DEFAULT_BASE_IMAGE)


@pytest.fixture(scope="session")
def docker_engine(base_image: str) -> list[str]:
    """A reachable Docker engine, Compose and the base image (the Compose command); else FAIL, never skip."""
    compose = compose_command(os.environ.get("CDBCTL_COMPOSE", ""))
    problem = docker_problem(base_image, compose)
    if problem is not None or compose is None:
        pytest.fail(f"e2e: {problem}", pytrace=False)
    stale = remove_stale_projects()
    if stale:
        pytest.fail("e2e: could not remove a previous run's leftovers:\n" + "\n".join(stale), pytrace=False)
    return compose


@pytest.fixture(scope="session")
def stack(
    docker_engine: list[str], base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """A fresh copy of the fixture repository and its compose project; teardown runs whatever happens."""
    keep = os.environ.get("CDBCTL_E2E_KEEP_IMAGES", "") == "1"
    st = Stack.create(tmp_path_factory.mktemp("e2e"), base_image, docker_engine, keep_images=keep)
    try:
        yield st
    finally:
        problems = st.teardown()
        print("\n".join(["", "e2e transcript:", *st.transcript]), file=sys.stderr)
        if problems:
            pytest.fail("e2e teardown left something behind:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def scaffolded(stack: Stack) -> Stack:
    """Issue step 2: `cdbctl scaffold` on the copy (exit 0)."""
    proc = stack.cdbctl("scaffold", "--repo", str(stack.repo))
    if proc.returncode != 0:
        pytest.fail(
            f"e2e: `cdbctl scaffold` exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}", pytrace=False
        )
    stack.scaffolded_compose = stack.compose_file.read_bytes()
    return stack


@pytest.fixture(scope="session")
def built(scaffolded: Stack) -> Stack:
    """Issue step 3: the images, built by Compose from the repo's compose file + the override."""
    try:
        scaffolded.write_override()
        scaffolded.build()
    except StepFailed as exc:
        pytest.fail(f"e2e: building the images failed\n{exc}", pytrace=False)
    return scaffolded


@pytest.fixture(scope="session")
def running(built: Stack) -> Stack:
    """Issue step 4: Redis, PostgreSQL and the three services up (compose waits for the data stores)."""
    try:
        built.up()
    except StepFailed as exc:
        pytest.fail(f"e2e: starting the stack failed\n{exc}", pytrace=False)
    return built
