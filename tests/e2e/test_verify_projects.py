"""`cdbctl verify` with a project name the stack was not started under: the hint names the right one.

CDB names its compose project `${STACK_NAME:-cdb}`; a shell with another STACK_NAME (or none) made
verify look at an empty project and say only "name the project with --project".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import DEFAULT_BASE_IMAGE, LABEL_PID, LABEL_PROJECT

pytestmark = pytest.mark.e2e


def test_a_wrong_project_name_gets_the_project_the_services_run_in(tmp_path: Path) -> None:
    project = f"cdbctl-e2e-hint-{os.getpid()}"
    service = f"cdb_hint_{os.getpid()}"  # no other container on this engine runs it
    container = f"{project}-{service}-1"
    labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.oneoff": "False",
        LABEL_PROJECT: project,  # removed by remove_stale_projects if this run dies
        LABEL_PID: str(os.getpid()),
    }
    image = os.environ.get("CDBCTL_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    flags = [arg for k, v in labels.items() for arg in ("--label", f"{k}={v}")]
    subprocess.run(
        ["docker", "create", "--name", container, *flags, image, "true"], check=True, capture_output=True
    )
    try:
        compose = tmp_path / "compose.yaml"
        compose.write_text(f"name: cdb-{os.getpid()}\nservices:\n  {service}:\n    image: redis:7.4-alpine\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        env.pop("COMPOSE_PROJECT_NAME", None)
        proc = subprocess.run(
            [sys.executable, "-m", "cdbctl", "verify", "-c", str(compose), "-f", "json"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        right = subprocess.run(
            [sys.executable, "-m", "cdbctl", "verify", "-c", str(compose), "-p", project, "-f", "json"],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert (
        f"hint: no container of compose project 'cdb-{os.getpid()}' exists, but these services run in "
        f"compose project '{project}' ({service}): pass --project {project}\n"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr + right.stderr
    assert '"detail": "created, not started yet"' in right.stdout  # the container the hint pointed at
