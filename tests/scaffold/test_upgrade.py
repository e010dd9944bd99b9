"""Template upgrades between two runs (like `copier update`): merged, conflicts, --check, old states.

A template upgrade is simulated through the seams scaffold has for it: the Sources passed to
run_scaffold, and for the CLI the CDBCTL_SCAFFOLD_TEMPLATES directory (a changed copy of templates/).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from cdbctl.resources import compose_dir, templates_dir
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.merge import has_markers, split_lines
from cdbctl.scaffold.plan import Sources, plan_files
from cdbctl.scaffold.runner import ScaffoldResult, package_dir, run_scaffold
from cdbctl.scaffold.sources import load_sources
from cdbctl.scaffold.spec import build_specs
from tests.scaffold.conftest import SEED_COMPOSE, tree

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]
SOURCES = load_sources(templates_dir(), compose_dir(), package_dir())
CORE = "backoffice/services/cdb_core"
GUNICORN = f"{CORE}/gunicorn.conf.py"
GUNICORN_T = "service/gunicorn.conf.py.j2"
BASES = ".cdbctl/scaffold/base"
WOULD = {
    "created": "would create",
    "updated": "would update",
    "merged": "would merge",
    "conflict": "would conflict",
}


def _run(root: Path, sources: Sources, *, write: bool = True, **kw: frozenset[str]) -> ScaffoldResult:
    specs = build_specs(["cdb_core"])
    return run_scaffold(RepoFS(root), specs, sources, compose=(), write=write, force=False, **kw)


def _status(result: ScaffoldResult, path: str) -> str:
    return next(f.status for f in result.files if f.path == path)


def _with_template(sources: Sources, rel: str, text: str) -> Sources:
    return dataclasses.replace(sources, templates={**sources.templates, rel: text})


def _insert_line(data: bytes, at: int, line: bytes) -> bytes:
    lines = split_lines(data)
    return b"".join([*lines[:at], line, *lines[at:]])


def _appended(sources: Sources, rel: str, line: str) -> Sources:
    return _with_template(sources, rel, sources.templates[rel] + line)


def _render(root: Path, sources: Sources) -> dict[str, bytes]:
    """What the templates render for cdb_core, by path."""
    planned = plan_files(build_specs(["cdb_core"]), sources, has_shared_services=(root / "services").is_dir())
    return {pf.path: pf.data for pf in planned}


# --- scenarios through run_scaffold ---------------------------------------------------------------


def test_edit_and_template_change_apart_merge(repo: Path) -> None:
    _run(repo, SOURCES)
    target = repo / GUNICORN
    edited = _insert_line(target.read_bytes(), 1, b"# mine\n")
    target.write_bytes(edited)
    upgraded = _appended(SOURCES, GUNICORN_T, "# template v2\n")
    check = _run(repo, upgraded, write=False)
    assert _status(check, GUNICORN) == "would merge" and check.would_change
    result = _run(repo, upgraded)
    assert _status(result, GUNICORN) == "merged" and not result.conflicts
    assert target.read_bytes() == edited + b"# template v2\n"
    assert (repo / BASES / GUNICORN).read_bytes().endswith(b"# template v2\n")  # the new base
    settled = tree(repo)
    again = _run(repo, upgraded)
    assert _status(again, GUNICORN) == "kept" and not again.would_change
    assert tree(repo) == settled


def test_colliding_changes_write_markers_and_block_until_resolved(repo: Path) -> None:
    _run(repo, SOURCES)
    target = repo / GUNICORN
    target.write_bytes(target.read_bytes() + b"workers = 8\n")
    upgraded = _appended(SOURCES, GUNICORN_T, "workers = 2\n")
    assert _status(_run(repo, upgraded, write=False), GUNICORN) == "would conflict"
    result = _run(repo, upgraded)
    assert result.written and result.conflicts and _status(result, GUNICORN) == "conflict"
    text = target.read_text()
    assert "<<<<<<< yours\nworkers = 8\n||||||| base\n=======\nworkers = 2\n>>>>>>> template " in text
    # The next run reports it again and touches nothing: a conflict is never merged twice.
    marked = tree(repo)
    again = _run(repo, upgraded)
    assert _status(again, GUNICORN) == "conflict" and "unresolved" in next(
        f.detail for f in again.files if f.path == GUNICORN
    )
    assert tree(repo) == marked
    # Resolved by hand (both lines kept): done, and it stays as the user left it.
    target.write_text(
        re.sub(r"<<<<<<< yours\n|\|\|\|\|\|\|\| base\n|=======\n|>>>>>>> template .*\n", "", text)
    )
    resolved = _run(repo, upgraded)
    assert _status(resolved, GUNICORN) == "kept" and not resolved.would_change
    assert target.read_text().endswith("workers = 8\nworkers = 2\n")


def test_unedited_files_follow_the_template_and_check_sees_every_behind_file(repo: Path) -> None:
    _run(repo, SOURCES)
    target = repo / GUNICORN
    target.write_bytes(_insert_line(target.read_bytes(), 1, b"# mine\n"))
    assert not _run(repo, SOURCES, write=False).would_change  # edited, template unchanged: up to date
    upgraded = _appended(_appended(SOURCES, GUNICORN_T, "# v2\n"), "service/requirements.txt.j2", "# v2\n")
    check = _run(repo, upgraded, write=False)
    assert _status(check, GUNICORN) == "would merge"  # edited and behind: --check fails for it too
    assert _status(check, f"{CORE}/requirements.txt") == "would update"
    assert check.would_change


def test_foreign_file_blocks_everything_even_merges(repo: Path) -> None:
    _run(repo, SOURCES)
    target = repo / GUNICORN
    target.write_bytes(_insert_line(target.read_bytes(), 1, b"# mine\n"))
    foreign = repo / f"{CORE}/app/__init__.py"
    state = json.loads((repo / ".cdbctl/scaffold.json").read_text())
    del state["files"][f"{CORE}/app/__init__.py"]  # as if the user had written it before scaffold ran
    (repo / ".cdbctl/scaffold.json").write_text(json.dumps(state))
    foreign.write_text("# the user's own\n")
    before = tree(repo)
    result = _run(repo, _appended(SOURCES, GUNICORN_T, "# v2\n"))
    assert result.blocked and not result.written
    assert _status(result, f"{CORE}/app/__init__.py") == "conflict"
    assert _status(result, GUNICORN) == "would merge"  # nothing was written: no "merged"
    assert tree(repo) == before


def test_skip_declines_and_overwrite_takes_the_template(repo: Path) -> None:
    _run(repo, SOURCES)
    target = repo / GUNICORN
    mine = target.read_bytes() + b"workers = 8\n"
    target.write_bytes(mine)
    upgraded = _appended(SOURCES, GUNICORN_T, "workers = 2\n")
    skipped = _run(repo, upgraded, skip=frozenset({GUNICORN}))
    assert _status(skipped, GUNICORN) == "skipped" and not skipped.conflicts
    assert target.read_bytes() == mine
    assert not _run(repo, upgraded, write=False).would_change  # declined for good, not asked again
    newer = _appended(upgraded, GUNICORN_T, "threads = 8\n")
    overwritten = _run(repo, newer, overwrite=frozenset({GUNICORN}))
    assert _status(overwritten, GUNICORN) == "updated"
    assert (
        target.read_bytes().endswith(b"workers = 2\nthreads = 8\n")
        and b"workers = 8" not in target.read_bytes()
    )


def test_skip_lets_a_run_go_on_past_a_foreign_file(repo: Path) -> None:
    foreign = repo / f"{CORE}/Dockerfile"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"FROM scratch\n")
    assert _run(repo, SOURCES).blocked
    result = _run(repo, SOURCES, skip=frozenset({f"{CORE}/Dockerfile"}))
    assert result.written and not result.blocked and not result.conflicts
    assert _status(result, f"{CORE}/Dockerfile") == "skipped" and _status(result, GUNICORN) == "created"
    assert foreign.read_bytes() == b"FROM scratch\n"
    state = json.loads((repo / ".cdbctl/scaffold.json").read_text())
    assert f"{CORE}/Dockerfile" not in state["files"]  # still not scaffold's: the next run asks again
    assert not (repo / BASES / CORE / "Dockerfile").exists()


def test_state_of_an_older_cdbctl_without_bases(repo: Path) -> None:
    """An older cdbctl kept digests only: unedited files and edited-but-current files get their base from
    the render their digest matches; an edited file behind its template is marked, never overwritten."""
    _run(repo, SOURCES)
    shutil.rmtree(repo / ".cdbctl/scaffold")  # what an older cdbctl left: .cdbctl/scaffold.json only
    main_py, target = repo / f"{CORE}/app/main.py", repo / GUNICORN
    main_py.write_bytes(_insert_line(main_py.read_bytes(), 1, b"# mine\n"))  # edited, template unchanged
    target.write_bytes(_insert_line(target.read_bytes(), 1, b"# mine\n"))  # edited, template changes
    upgraded = _appended(_appended(SOURCES, GUNICORN_T, "# v2\n"), "service/requirements.txt.j2", "# v2\n")
    result = _run(repo, upgraded)
    assert _status(result, f"{CORE}/app/main.py") == "kept"
    assert _status(result, f"{CORE}/requirements.txt") == "updated"
    assert _status(result, GUNICORN) == "conflict"
    assert "no base was kept" in next(f.detail for f in result.files if f.path == GUNICORN)
    text = target.read_bytes()
    assert has_markers(text) and b"# mine\n" in text and b"# v2\n" in text  # both sides, marked
    # Bases now exist for every generated file, main.py's being the render its digest matched.
    assert (repo / BASES / f"{CORE}/app/main.py").read_bytes() == _render(repo, upgraded)[
        f"{CORE}/app/main.py"
    ]
    assert {p.removeprefix(BASES + "/") for p in tree(repo) if p.startswith(BASES)} == {
        p for p in tree(repo) if p.startswith(("backoffice/", ".dockerignore"))
    }


# --- property: random user edits x random template changes ---------------------------------------

# The templates of the files cdb_core gets (some, like the request-body reader, only cdb_risk gets).
_CORE_FILES = {pf.path for pf in plan_files(build_specs(["cdb_core"]), SOURCES, has_shared_services=True)}
TEXT_TEMPLATES = sorted(
    rel
    for rel, text in SOURCES.templates.items()
    if rel.startswith("service/")
    and rel.endswith(".j2")
    and text.count("\n") >= 5
    and f"{CORE}/{rel.removeprefix('service/').removesuffix('.j2')}" in _CORE_FILES
)


@hs.composite
def _line_edits(draw: hs.DrawFn, lines: list[bytes], tag: str, jinja: bool) -> list[bytes]:
    """Insert unique lines, delete or replace others (never a Jinja line of a template)."""
    out: list[bytes] = []
    for i, line in enumerate(lines):
        if draw(hs.integers(0, 9)) == 0:
            out.append(f"# {tag}-{i}\n".encode())
        op = draw(hs.sampled_from(["keep"] * 8 + ["delete", "replace"]))
        if op == "keep" or (jinja and re.search(rb"[{}%]", line)) or not line.endswith(b"\n"):
            out.append(line)
        elif op == "replace":
            out.append(f"# {tag}-{i}-r\n".encode())
    if draw(hs.booleans()):
        out.append(f"# {tag}-end\n".encode())
    return out


def _unique(lines: list[bytes]) -> set[bytes]:
    return {line for line in lines if lines.count(line) == 1}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=hs.data(), template=hs.sampled_from(TEXT_TEMPLATES))
def test_an_upgrade_never_loses_a_change(data: hs.DataObject, template: str) -> None:
    """Either a clean merge holding the user's and the template's changes, or a reported conflict with
    markers holding both; a second run changes nothing."""
    rel = f"{CORE}/{template.removeprefix('service/').removesuffix('.j2')}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docker-compose.yml").write_text(SEED_COMPOSE)
        _run(root, SOURCES)
        base = split_lines((root / rel).read_bytes())
        yours = data.draw(_line_edits(base, "user", jinja=False), label="user edits")
        (root / rel).write_bytes(b"".join(yours))
        t_lines = split_lines(SOURCES.templates[template].encode())
        changed = b"".join(data.draw(_line_edits(t_lines, "template", jinja=True), label="template change"))
        upgraded = _with_template(SOURCES, template, changed.decode())
        check = _run(root, upgraded, write=False)
        result = _run(root, upgraded)
        theirs = split_lines(_render(root, upgraded)[rel])
        status = _status(result, rel)
        assert _status(check, rel) == WOULD.get(status, status)  # --check says what the run then does
        now = split_lines((root / rel).read_bytes())
        added = (set(yours) | set(theirs)) - set(base)
        assert added <= set(now), "a line one side added is missing"
        if status == "conflict":
            assert has_markers(b"".join(now)) and result.conflicts
        else:
            assert status in {"merged", "updated", "identical", "kept"}
            deleted = _unique(base) - (set(yours) & set(theirs))
            assert not deleted & set(now), "a line one side deleted came back"
        settled = tree(root)
        again = _run(root, upgraded)
        assert tree(root) == settled
        assert again.would_change == (status == "conflict")


def _crlf(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def test_a_crlf_checkout_merges_in_its_own_line_endings(repo: Path) -> None:
    """git with core.autocrlf=true checks out the file and its base with CRLF: an edit still merges
    cleanly with an LF template change, and the file stays CRLF throughout."""
    _run(repo, SOURCES)
    target = repo / GUNICORN
    _crlf(target)
    _crlf(repo / BASES / GUNICORN)
    assert not _run(repo, SOURCES, write=False).would_change  # line endings alone are not drift
    target.write_bytes(_insert_line(target.read_bytes(), 1, b"# mine\r\n"))
    result = _run(repo, _appended(SOURCES, GUNICORN_T, "# template v2\n"))
    assert _status(result, GUNICORN) == "merged"
    data = target.read_bytes()
    assert data.endswith(b"# template v2\r\n") and b"# mine\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")
