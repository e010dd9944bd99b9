"""State-file logic: user edits merged, template upgrades applied, foreign files flagged, --force."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from cdbctl.errors import InputError
from cdbctl.scaffold import state as st
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import ScaffoldResult, run_scaffold
from cdbctl.scaffold.spec import build_specs
from tests.scaffold.conftest import tree

pytestmark = pytest.mark.unit


def test_state_roundtrip() -> None:
    s = st.State("abc", "0.1.0", {"cdb_risk": 8002}, {"b": "sha256:1", "a": "sha256:2"})
    data = st.dump_state(s)
    assert data.endswith(b"\n")
    assert list(json.loads(data)["files"]) == ["a", "b"]
    assert st.load_state(data, "x") == dataclasses.replace(s, files={"a": "sha256:2", "b": "sha256:1"})
    assert st.load_state(None, "x") == st.State()


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"[]",
        b'{"schema_version": 99, "files": {}}',
        b'{"schema_version": 1, "files": {"a": 1}}',
        b'{"schema_version": 1, "files": {}, "compose": 5}',
        b"\xff",
    ],
)
def test_bad_state_is_input_error(data: bytes) -> None:
    with pytest.raises(InputError) as info:
        st.load_state(data, ".cdbctl/scaffold.json")
    assert info.value.where == ".cdbctl/scaffold.json"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"[]", "expected a JSON object, got list"),
        (b'{"schema_version": 99, "files": {}}', "schema_version: expected 1, got 99"),
        (b'{"schema_version": 1}', "files: expected an object of path: digest"),
        (b'{"schema_version": 1, "files": {"a": 1}}', "files.a: expected a digest string"),
        (b'{"schema_version": 1, "files": {}, "blocks": {"f#s": null}}', "blocks.f#s: expected a digest string"),
        (b'{"schema_version": 1, "files": {}, "services": {"cdb_core": "8001"}}',
         "services.cdb_core: expected a port number, got '8001'"),
        (b'{"schema_version": 1, "files": {}, "services": {"cdb_core": true}}',
         "services.cdb_core: expected a port number, got True"),
        (b'{"schema_version": 1, "files": {}, "compose": 5}', "compose: expected a path"),
        (b'{"schema_version": 1, "files": {}, "compose_files": "a.yml"}', "compose_files: expected a list of paths"),
    ],
)  # fmt: skip
def test_a_bad_state_names_the_field(data: bytes, problem: str) -> None:
    # A hand-resolved merge of .cdbctl/scaffold.json said only "is not a cdbctl scaffold state".
    with pytest.raises(InputError) as info:
        st.load_state(data, ".cdbctl/scaffold.json")
    assert info.value.message == f"state file is not a cdbctl scaffold state (schema_version 1): {problem}"


def _run(repo: Path, sources: Sources, *, force: bool = False, write: bool = True) -> ScaffoldResult:
    return run_scaffold(RepoFS(repo), build_specs([]), sources, compose=None, write=write, force=force)


def _status(result: ScaffoldResult, path: str) -> str:
    return next(f.status for f in result.files if f.path == path)


def _upgraded(sources: Sources, rel: str, marker: str) -> Sources:
    templates = dict(sources.templates)
    templates[rel] = templates[rel] + marker
    return dataclasses.replace(sources, templates=templates)


MAIN = "backoffice/services/cdb_core/app/main.py"
REQS = "backoffice/services/cdb_risk/requirements.txt"


def test_user_edits_merged_and_template_upgrades_applied(repo: Path, sources: Sources) -> None:
    _run(repo, sources)
    main = repo / MAIN
    lines = main.read_bytes().splitlines(keepends=True)
    edited = b"".join([lines[0], b"# my local change\n", *lines[1:]])
    main.write_bytes(edited)
    upgraded = _upgraded(
        _upgraded(sources, "service/app/main.py.j2", "# v2\n"), "service/requirements.txt.j2", "# v2\n"
    )
    result = _run(repo, upgraded)
    assert _status(result, MAIN) == "merged"
    assert main.read_bytes() == edited + b"# v2\n"  # the user's line and the template's, both
    assert _status(result, REQS) == "updated"  # unchanged since generation: refreshed
    assert (repo / REQS).read_text().endswith("# v2\n")
    state = json.loads((repo / ".cdbctl/scaffold.json").read_text())
    assert state["template_version"] == upgraded.fingerprint
    # The merge is done: the next run keeps the file (edited, template unchanged since) and changes nothing.
    before = tree(repo)
    again = _run(repo, upgraded)
    assert _status(again, MAIN) == "kept"
    assert not again.would_change
    assert tree(repo) == before
    # --force brings the template back.
    forced = _run(repo, upgraded, force=True)
    assert _status(forced, MAIN) == "updated"
    assert b"# my local change" not in main.read_bytes()
    assert _status(_run(repo, upgraded), MAIN) == "identical"


def test_foreign_file_is_a_conflict_and_nothing_is_written(repo: Path, sources: Sources) -> None:
    dockerfile = repo / "backoffice/services/cdb_risk/Dockerfile"
    dockerfile.parent.mkdir(parents=True)
    dockerfile.write_bytes(b"FROM scratch\n")
    before = tree(repo)
    result = _run(repo, sources)
    assert result.conflicts and not result.written
    assert _status(result, "backoffice/services/cdb_risk/Dockerfile") == "conflict"
    assert tree(repo) == before
    forced = _run(repo, sources, force=True)
    assert forced.written
    assert b"FROM ${BASE_IMAGE}" in dockerfile.read_bytes()


def test_existing_dockerignore_is_the_users(repo: Path, sources: Sources) -> None:
    (repo / ".dockerignore").write_bytes(b"secrets/\r\n")
    result = _run(repo, sources, force=True)
    assert _status(result, ".dockerignore") == "kept"
    assert (repo / ".dockerignore").read_bytes() == b"secrets/\r\n"


def test_mode_of_existing_file_is_kept(repo: Path, sources: Sources) -> None:
    _run(repo, sources)
    target = repo / REQS
    os.chmod(target, 0o600)
    _run(repo, _upgraded(sources, "service/requirements.txt.j2", "# v3\n"))
    assert target.read_text().endswith("# v3\n")
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)


def test_healthcheck_is_executable(repo: Path, sources: Sources) -> None:
    _run(repo, sources)
    assert (repo / "backoffice/services/cdb_core/healthcheck.py").stat().st_mode & 0o111


def test_shared_services_dir_changes_the_dockerfile(repo: Path, sources: Sources) -> None:
    _run(repo, sources)
    dockerfile = repo / "backoffice/services/cdb_core/Dockerfile"
    assert "COPY services/ /app/services/" in dockerfile.read_text()
    (repo / "services/__init__.py").unlink()
    (repo / "services").rmdir()
    result = _run(repo, sources)
    assert _status(result, "backoffice/services/cdb_core/Dockerfile") == "updated"
    assert "COPY services/" not in dockerfile.read_text()


def test_dry_run_writes_nothing(repo: Path, sources: Sources) -> None:
    before = tree(repo)
    result = _run(repo, sources, write=False)
    assert result.would_change and not result.written
    assert tree(repo) == before
    assert {f.status for f in result.files if f.kind == "service"} == {"would create"}
    assert "+++ b/backoffice/services/cdb_risk/app/main.py" in result.diff
    assert "-      context: ./backoffice/services/risk_manager" in result.diff
