"""A repository scaffolded by an earlier version (the engine copied into vendor/ of every service).

The rerun removes the generated files the templates no longer produce when they are unchanged since
generation (their digest is the recorded one), keeps an edited one, forgets both in the state, and
removes the directories left empty; --check and --dry-run report it and touch nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from cdbctl.errors import EnvironmentProblem
from cdbctl.scaffold import state as st
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import run_scaffold
from tests.nobody import as_nobody
from tests.scaffold.conftest import SEED_COMPOSE, tree

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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_a_removal_that_fails_leaves_the_state_knowing_the_files(sources: Sources) -> None:
    """The state that forgets obsolete files was renamed into place before they were removed: a removal
    that failed (a directory the user may not change) left them in the repository and out of the state,
    never mentioned again."""
    root = Path(tempfile.mkdtemp(prefix="scaffold-obsolete-", dir="/tmp"))  # reachable for nobody
    try:
        repo = root / "cdb"
        (repo / "services").mkdir(parents=True)
        (repo / "services/__init__.py").write_text("")
        (repo / "docker-compose.yml").write_text(SEED_COMPOSE)
        _as_an_earlier_version_left_it(repo, sources)
        for path in [root, *root.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o666)
        locked = repo / "backoffice/services/cdb_risk/vendor/cdbctl/risk"
        locked.chmod(0o555)
        state_before = (repo / st.STATE_PATH).read_bytes()

        def task() -> object:
            try:
                run_scaffold(RepoFS(repo), None, sources, write=True, force=False)
            except EnvironmentProblem as exc:
                return str(exc)
            return "no error"

        assert "cannot remove: Permission denied" in str(as_nobody(task))
        assert (repo / st.STATE_PATH).read_bytes() == state_before  # still knows every vendored file
        assert (locked / "engine.py").exists() and not list(repo.rglob("*.tmp"))
        locked.chmod(0o755)
        result = run_scaffold(RepoFS(repo), None, sources, write=True, force=False)
        assert [f.status for f in result.files if f.path.startswith(str(locked.relative_to(repo)))] == [
            st.REMOVED
        ]
        assert not list(repo.rglob("vendor"))
    finally:
        shutil.rmtree(root)


def test_ctrl_c_during_the_renames_lets_them_finish(
    repo: Path, sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the first rename: every file is still renamed and removed, then the run stops."""
    import signal

    import cdbctl.scaffold.fs as fs_module

    _as_an_earlier_version_left_it(repo, sources)
    real_commit = fs_module.commit
    calls: list[Path] = []

    def commit_then_ctrl_c(tmp: Path, path: Path) -> None:
        real_commit(tmp, path)
        calls.append(path)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(fs_module, "commit", commit_then_ctrl_c)
    # A template upgrade too, so several files (and their bases) are renamed into place.
    gunicorn = "service/gunicorn.conf.py.j2"
    upgraded = dataclasses.replace(
        sources, templates={**sources.templates, gunicorn: sources.templates[gunicorn] + "# upgraded\n"}
    )
    with pytest.raises(KeyboardInterrupt):
        run_scaffold(RepoFS(repo), None, upgraded, write=True, force=False)
    assert len(calls) == 3 + 3 + 1 and not list(repo.rglob("*.tmp"))  # files, bases, state
    assert not list(repo.rglob("vendor"))
    monkeypatch.setattr(fs_module, "commit", real_commit)
    again = run_scaffold(RepoFS(repo), None, upgraded, write=False, force=False)
    assert not again.would_change, [(f.path, f.status) for f in again.files if f.status != st.IDENTICAL]


def test_the_table_names_an_edited_obsolete_file_left_in_place(
    repo: Path, sources: Sources, capsys: pytest.CaptureFixture[str]
) -> None:
    """'kept' rows are quiet without -v, but an obsolete file left in place is said once, by path."""
    from cdbctl.cli import main

    _as_an_earlier_version_left_it(repo, sources)
    edited = "backoffice/services/cdb_core/vendor/cdbctl/errors.py"
    (repo / edited).write_text("# my own change\n")
    assert main(["scaffold", "--repo", str(repo), "--format", "table"]) == 0
    rows = [line.split(None, 2) for line in capsys.readouterr().out.splitlines()[1:]]
    assert ["kept", edited, "no longer generated; edited, so left in place"] in rows
    assert ["removed", "backoffice/services/cdb_core/vendor/", "vendored risk engine: 2 removed"] in rows
    assert main(["scaffold", "--repo", str(repo), "--format", "table"]) == 0
    assert capsys.readouterr().out == ""  # forgotten: not mentioned again
