"""The layered build model: compose's merge rules, checked against Compose v2 itself where it is installed."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import subprocess
from pathlib import Path

import pytest

from cdbctl.scaffold.builds import includes, layered_builds, project_dir_of
from tests.scaffold.cdb_layout import LAYERS, make_cdb

A = """\
services:
  s1:
    build:
      context: ../..
      dockerfile: sub/D1
      args: {A: "1"}
  s2:
    build: ../../sub
  s3:
    build:
      context: ../..
      dockerfile: x/Dockerfile
  s4:
    image: foo
  s5:
    build: {dockerfile_inline: "FROM scratch"}
  s6:
    extends: s1
    environment: {X: "1"}
"""
B = """\
services:
  s1:
    build: ../../sub
  s2:
    build:
      dockerfile: D2
  s3:
    build: !reset null
    image: bar
  s4:
    build: !override
      context: ../../sub
"""


def _merge_rules(root: Path) -> tuple[str, ...]:
    (root / "infra/c").mkdir(parents=True)
    (root / "sub").mkdir()
    (root / "infra/c/a.yml").write_text(A)
    (root / "infra/c/b.yml").write_text(B)
    return ("infra/c/a.yml", "infra/c/b.yml")


def _ours(root: Path, files: tuple[str, ...]) -> dict[str, tuple[str, str] | None]:
    layers: list[tuple[str, str]] = []
    bases: dict[str, str] = {}
    for f in files:
        text = (root / f).read_text()
        for inc, base in includes(f, text)[0]:  # included first, with their own directory
            layers.append((inc, (root / inc).read_text()))
            bases[inc] = base
        layers.append((f, text))
    builds = layered_builds(layers, bases)
    project = project_dir_of(files[0])
    out: dict[str, tuple[str, str] | None] = {}
    for name, b in builds.items():
        if b.context is None:
            out[name] = None
        else:
            ctx = root / (b.base or project) / b.context
            out[name] = (posixpath.normpath(str(ctx)), b.dockerfile or "Dockerfile")
    return out


def _include(root: Path) -> tuple[str, ...]:
    (root / "deploy/apps").mkdir(parents=True)
    (root / "svc").mkdir()
    (root / "deploy/apps/apps.yml").write_text(
        "services:\n  app:\n    build: {context: ../../svc, dockerfile: D}\n  two:\n    build: .\n"
    )
    (root / "deploy/compose.yml").write_text(
        "include:\n  - path: apps/apps.yml\nservices:\n  web:\n    build: ../svc\n"
    )
    return ("deploy/compose.yml",)


@pytest.mark.unit
def test_merge_rules(tmp_path: Path) -> None:
    files = _merge_rules(tmp_path)
    sub = str(tmp_path / "sub")
    assert _ours(tmp_path, files) == {
        "s1": (sub, "sub/D1"),  # `build: DIR` replaces the context only
        "s2": (sub, "D2"),  # a later mapping without context keeps the earlier one
        "s3": None,  # !reset drops the build
        "s4": (sub, "Dockerfile"),  # !override replaces it whole
        "s5": (str(tmp_path / "infra/c"), "Dockerfile"),
        "s6": (str(tmp_path), "sub/D1"),  # extends s1 as this file writes it (before the merge)
    }
    builds = layered_builds([(f, (tmp_path / f).read_text()) for f in files])
    assert builds["s1"].build_in == "infra/c/b.yml" and builds["s3"].image
    assert builds["s5"].inline


CORPORA = {
    "merge rules": _merge_rules,
    "cdb layout": lambda root: (make_cdb(root), LAYERS)[1],
    "include": _include,
}


@pytest.mark.integration
@pytest.mark.parametrize("corpus", sorted(CORPORA))
def test_same_builds_as_compose_v2(tmp_path: Path, corpus: str) -> None:
    """Differential: the built-in model agrees with `docker compose config` (Compose v2) on each corpus."""
    if (
        shutil.which("docker") is None
        or subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode
    ):
        if os.environ.get("CI"):
            pytest.fail("docker compose (v2) is required in CI: run bash .ci/setup.sh")
        pytest.skip("docker compose (v2) is not installed")
    files = CORPORA[corpus](tmp_path)
    cmd = ["docker", "compose", "--project-name", "differential"]
    for f in files:
        cmd += ["-f", str(tmp_path / f)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    proc = subprocess.run(
        [*cmd, "config", "--format", "json", "--no-interpolate"],
        capture_output=True, text=True, check=False, cwd=tmp_path, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    theirs: dict[str, tuple[str, str] | None] = {}
    for name, svc in json.loads(proc.stdout)["services"].items():
        build = svc.get("build")
        theirs[name] = None if build is None else (build["context"], build.get("dockerfile", "Dockerfile"))
    assert _ours(tmp_path, files) == theirs
