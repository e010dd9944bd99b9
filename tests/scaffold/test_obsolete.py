"""A repository scaffolded by an earlier version (the engine copied into vendor/ of every service).

The rerun removes the generated files the templates no longer produce when they are unchanged since
generation (their digest is the recorded one), keeps an edited one, forgets both in the state, and
removes the directories left empty; --check and --dry-run report it and touch nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cdbctl.scaffold import state as st
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import run_scaffold
from tests.scaffold.conftest import tree

pytestmark = pytest.mark.unit
VENDORED = ("vendor/cdbctl/__init__.py", "vendor/cdbctl/errors.py", "vendor/cdbctl/risk/engine.py")
SERVICES = ("cdb_core", "cdb_risk", "cdb_execution")


def _as_an_earlier_version_left_it(repo: Path, sources: Sources) -> None:
    """Scaffold now, then add vendor/ files recorded in the state as the earlier version did."""
    assert run_scaffold(RepoFS(repo), None, sources, write=True, force=False).written
    state_path = repo / st.STATE_PATH
    state = json.loads(state_path.read_text())
    for service in SERVICES:
        for rel in VENDORED:
            path = repo / "backoffice/services" / service / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = f"# {service} {rel}\n".encode()
            path.write_bytes(data)
            state["files"][path.relative_to(repo).as_posix()] = st.digest(data)
    state_path.write_text(json.dumps(state, indent=2) + "\n")


def test_unchanged_obsolete_files_are_removed_and_edited_ones_kept(repo: Path, sources: Sources) -> None:
    _as_an_earlier_version_left_it(repo, sources)
    edited = repo / "backoffice/services/cdb_core/vendor/cdbctl/errors.py"
    edited.write_text("# my own change\n")
    before = tree(repo)

    check = run_scaffold(RepoFS(repo), None, sources, write=False, force=False)
    assert check.would_change and tree(repo) == before  # --check / --dry-run write nothing
    statuses = {f.path: (f.status, f.kind) for f in check.files}
    assert statuses["backoffice/services/cdb_risk/vendor/cdbctl/risk/engine.py"] == (
        st.WOULD[st.REMOVED],
        "vendor",
    )  # nothing removed yet
    assert statuses["backoffice/services/cdb_core/vendor/cdbctl/errors.py"] == (st.KEPT, "vendor")
    assert "--- a/backoffice/services/cdb_risk/vendor/cdbctl/errors.py\n+++ /dev/null\n" in check.diff

    result = run_scaffold(RepoFS(repo), None, sources, write=True, force=False)
    assert result.written
    for service in ("cdb_risk", "cdb_execution"):
        assert not (repo / "backoffice/services" / service / "vendor").exists()  # emptied dirs go too
    assert edited.read_text() == "# my own change\n"
    assert not (repo / "backoffice/services/cdb_core/vendor/cdbctl/risk").exists()
    recorded = json.loads((repo / st.STATE_PATH).read_text())["files"]
    assert not [p for p in recorded if "/vendor/" in p]

    # Nothing more to do: the edited leftover is the user's file now.
    again = run_scaffold(RepoFS(repo), None, sources, write=False, force=False)
    assert not again.would_change
    assert not [f for f in again.files if "/vendor/" in f.path]


def test_a_conflict_elsewhere_removes_nothing(repo: Path, sources: Sources) -> None:
    _as_an_earlier_version_left_it(repo, sources)
    state_path = repo / st.STATE_PATH
    state = json.loads(state_path.read_text())
    del state["files"]["backoffice/services/cdb_core/app/main.py"]  # now a file cdbctl did not generate
    state_path.write_text(json.dumps(state))
    (repo / "backoffice/services/cdb_core/app/main.py").write_text("# someone else's\n")
    before = tree(repo)
    result = run_scaffold(RepoFS(repo), None, sources, write=True, force=False)
    assert result.conflicts and not result.written
    assert tree(repo) == before


def test_a_file_the_user_added_keeps_its_directory(repo: Path, sources: Sources) -> None:
    _as_an_earlier_version_left_it(repo, sources)
    mine = repo / "backoffice/services/cdb_risk/vendor/cdbctl/risk/notes.txt"
    mine.write_text("mine\n")
    assert run_scaffold(RepoFS(repo), None, sources, write=True, force=False).written
    assert mine.read_text() == "mine\n"
    assert not (repo / "backoffice/services/cdb_risk/vendor/cdbctl/risk/engine.py").exists()
