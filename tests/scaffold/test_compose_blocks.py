"""Service blocks scaffold added to a compose file are brought up to date like generated files.

The fixture is the CDB-like layered layout (tests/scaffold/cdb_layout.py) as cdbctl 0.2.0 left it: its
cdb_core block in dev.yml requires REDIS_PASSWORD/POSTGRES_PASSWORD (`${X:?}`), so `docker compose up`
fails, while the stack reads both passwords from compose secrets. OLD_BLOCK is what cdbctl 0.2.0 wrote for
this layout (produced by running v0.2.0 on it).
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as hs

from cdbctl.cli import main
from cdbctl.resources import compose_dir, templates_dir
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import ScaffoldResult, package_dir, run_scaffold
from cdbctl.scaffold.sources import load_sources
from cdbctl.scaffold.spec import build_specs
from tests.scaffold.cdb_layout import DEV, LAYERS, make_cdb

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]
DEV_PATH = "infrastructure/compose/dev.yml"
BLOCK = f"{DEV_PATH}#cdb_core"
BASE = f".cdbctl/scaffold/base/{BLOCK}"

OLD_BLOCK = """\
  cdb_core:
    build:
      context: ../..
      dockerfile: backoffice/services/cdb_core/Dockerfile
      args:
        BASE_IMAGE: ${CDB_BASE_IMAGE:-python:3.12-slim}
    image: ${CDB_IMAGE_PREFIX:-cdb}/cdb_core:${CDB_IMAGE_TAG:-local}
    restart: unless-stopped
    environment:
      PORT: "8001"
      LOG_LEVEL: ${LOG_LEVEL:-info}
      REDIS_URL: redis://:${REDIS_PASSWORD:?set REDIS_PASSWORD in .env}@${CDB_REDIS_HOST:-cdb_redis}:${CDB_REDIS_PORT:-6379}/0
      DATABASE_URL: postgresql://${POSTGRES_USER:-cdb}:${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@${CDB_POSTGRES_HOST:-cdb_postgres}:${CDB_POSTGRES_PORT:-5432}/${POSTGRES_DB:-claire_de_binare}
    ports:
      - "${CDB_PUBLISH_HOST:-127.0.0.1}:8001:8001"
    healthcheck:
      test: ["CMD", "/opt/venv/bin/python", "/app/healthcheck.py"]
      interval: 10s
      timeout: 5s
      retries: 3
      start_period: 20s
    depends_on:
      - cdb_redis
      - cdb_postgres
    deploy:
      replicas: 1
      update_config:
        parallelism: 1
        delay: 10s
        order: start-first
        failure_action: rollback
        monitor: 60s
      rollback_config:
        parallelism: 1
        order: start-first
        monitor: 60s
      restart_policy:
        condition: any
        delay: 5s
        window: 120s
      resources:
        limits:
          cpus: "1.0"
          memory: 512M
"""

# What this version renders instead, in the lines that differ (the passwords come from the secrets).
NEW_ENV = """\
      REDIS_URL: redis://${CDB_REDIS_HOST:-cdb_redis}:${CDB_REDIS_PORT:-6379}/0
      REDIS_PASSWORD_FILE: /run/secrets/redis_password
      DATABASE_URL: postgresql://${POSTGRES_USER:-claire_user}@${CDB_POSTGRES_HOST:-cdb_postgres}:${CDB_POSTGRES_PORT:-5432}/${POSTGRES_DB:-claire_de_binare}
      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password
    secrets:
      - redis_password
      - postgres_password
"""

OLD_STATE = {
    "schema_version": 1,
    "generator": "cdbctl scaffold",
    "template_version": "e8a5cc4d8ea6768f",
    "cdbctl_version": "0.2.0",
    "compose": DEV_PATH,
    "compose_files": list(LAYERS),
    "services": {"cdb_core": 8001},
    "files": {},
}


def _old_repo(root: Path, block: str = OLD_BLOCK, *, eol: str = "\n") -> Path:
    """The CDB-like layout after a cdbctl 0.2.0 run: its block appended to dev.yml, its state file."""
    make_cdb(root)
    (root / DEV_PATH).write_bytes((DEV + "\n" + block).replace("\n", eol).encode())
    (root / ".cdbctl").mkdir()
    (root / ".cdbctl/scaffold.json").write_text(json.dumps(OLD_STATE, indent=2) + "\n")
    return root


def _run(root: Path, sources: Sources, *, write: bool = True, **kw: frozenset[str]) -> ScaffoldResult:
    return run_scaffold(RepoFS(root), None, sources, compose=LAYERS, write=write, force=False, **kw)


def _row(result: ScaffoldResult, path: str) -> tuple[str, str]:
    return next((f.status, f.detail) for f in result.files if f.path == path)


def _dev(root: Path) -> str:
    return (root / DEV_PATH).read_bytes().decode()


def test_an_unedited_020_block_is_brought_up_to_date(tmp_path: Path, sources: Sources) -> None:
    root = _old_repo(tmp_path / "cdb")
    result = _run(root, sources)
    assert _row(result, BLOCK)[0] == "updated"
    assert _row(result, DEV_PATH) == ("updated", "services brought up to date: cdb_core")
    dev = _dev(root)
    assert ":?" not in dev and NEW_ENV in dev
    assert dev.startswith(DEV + "\n  cdb_core:\n")  # nothing outside the block moved
    state = json.loads((root / ".cdbctl/scaffold.json").read_text())
    assert (root / BASE).read_bytes() == dev[len(DEV) + 1 :].encode()
    assert state["blocks"] == {BLOCK: _sha(dev[len(DEV) + 1 :].encode())}
    again = _run(root, sources, write=False)
    assert not again.would_change and _row(again, BLOCK)[0] == "identical"


def _sha(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_an_edited_020_block_gets_the_change_merged_and_keeps_the_edit(
    tmp_path: Path, sources: Sources
) -> None:
    edited = OLD_BLOCK.replace("      replicas: 1\n", "      replicas: 2  # two for failover\n")
    root = _old_repo(tmp_path / "cdb", edited)
    result = _run(root, sources)
    assert _row(result, BLOCK) == ("merged", "the template's changes merged with yours")
    dev = _dev(root)
    assert "replicas: 2  # two for failover\n" in dev and NEW_ENV in dev and ":?" not in dev
    # Next run: the user's edit against the recorded base, the template unchanged.
    again = _run(root, sources)
    assert _row(again, BLOCK)[0] == "kept" and not again.would_change and _dev(root) == dev


def test_edits_next_to_the_template_change_are_merged_key_by_key(tmp_path: Path, sources: Sources) -> None:
    """A line merge collides (adjacent lines); the keys differ, so each side's change is taken."""
    edited = OLD_BLOCK.replace(
        "LOG_LEVEL: ${LOG_LEVEL:-info}\n", 'LOG_LEVEL: debug  # mine\n      FEATURE_X: "1"\n'
    )
    root = _old_repo(tmp_path / "cdb", edited)
    result = _run(root, sources)
    assert _row(result, BLOCK) == ("merged", "the template's changes merged with yours, key by key")
    dev = _dev(root)
    assert 'LOG_LEVEL: debug  # mine\n      FEATURE_X: "1"\n' + NEW_ENV in dev
    assert ":?" not in dev
    assert _row(_run(root, sources), BLOCK)[0] == "kept"


# The user wrote a password into the very line the template changes: that is a conflict.
OWN_PASSWORD = OLD_BLOCK.replace(":${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@", ":hunter2@")


def test_the_same_key_changed_both_ways_is_a_conflict_never_markers(
    tmp_path: Path, sources: Sources, capsys: Cap
) -> None:
    edited = OWN_PASSWORD
    root = _old_repo(tmp_path / "cdb", edited)
    before = _dev(root)
    assert main(["scaffold", "--repo", str(root), "--check", "--format", "json"]) == 1
    check = json.loads(capsys.readouterr().out)
    assert {f["path"]: f["status"] for f in check["files"]}[BLOCK] == "would conflict"
    assert main(["scaffold", "--repo", str(root), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    row = next(f for f in out["files"] if f["path"] == BLOCK)
    assert row["status"] == "conflict" and row["kind"] == "compose-block"
    assert f"--overwrite {BLOCK}" in row["detail"] and f"--skip {BLOCK}" in row["detail"]
    assert _dev(root) == before  # no <<<<<<< in a compose file; the other files were written
    assert (root / "backoffice/services/cdb_core/Dockerfile").is_file()
    # Still a conflict on the next run, until --skip or --overwrite decides it.
    assert main(["scaffold", "--repo", str(root)]) == 1
    capsys.readouterr()
    assert main(["scaffold", "--repo", str(root), "--skip", BLOCK, "--format", "json"]) == 0
    skipped = json.loads(capsys.readouterr().out)
    assert next(f for f in skipped["files"] if f["path"] == BLOCK)["status"] == "skipped"
    assert _dev(root) == before
    assert main(["scaffold", "--repo", str(root), "--check"]) == 0  # declined: kept from now on
    capsys.readouterr()
    assert main(["scaffold", "--repo", str(root), "--overwrite", BLOCK]) == 0
    assert NEW_ENV in _dev(root) and "hunter2" not in _dev(root)


def test_a_block_the_user_wrote_is_never_taken_for_scaffolds(tmp_path: Path, sources: Sources) -> None:
    """A service an old run only re-pointed (its block is the user's) gets no block row and no change."""
    own = (
        OLD_BLOCK.split("    ports:\n", maxsplit=1)[0].replace("unless-stopped", "always")
        + "    command: [run]\n"
    )
    root = _old_repo(tmp_path / "cdb", own)
    result = _run(root, sources)
    assert all(f.kind != "compose-block" for f in result.files)
    assert _dev(root) == DEV + "\n" + own
    assert "blocks" not in json.loads((root / ".cdbctl/scaffold.json").read_text())


def test_a_recorded_block_follows_a_later_fragment_change(tmp_path: Path, sources: Sources) -> None:
    root = make_cdb(tmp_path / "cdb")
    _run(root, sources)  # adds cdb_core to dev.yml and records its block
    assert (root / BASE).is_file()
    edited = _dev(root).replace("      retries: 3\n", "      retries: 5  # slow disks\n")
    (root / DEV_PATH).write_text(edited)
    later = dataclasses.replace(
        sources, compose_fragment=sources.compose_fragment.replace("memory: 512M", "memory: 768M")
    )
    dry = _run(root, later, write=False)
    assert _row(dry, BLOCK)[0] == "would merge" and _dev(root) == edited
    assert "-          memory: 512M\n+          memory: 768M\n" in dry.diff
    assert _row(_run(root, later), BLOCK)[0] == "merged"
    assert "retries: 5  # slow disks" in _dev(root) and "memory: 768M" in _dev(root)
    assert not _run(root, later, write=False).would_change


def test_crlf_compose_file_stays_crlf(tmp_path: Path, sources: Sources) -> None:
    root = _old_repo(tmp_path / "cdb", eol="\r\n")
    assert _row(_run(root, sources), BLOCK)[0] == "updated"
    raw = (root / DEV_PATH).read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n") and NEW_ENV.replace("\n", "\r\n").encode() in raw
    assert not _run(root, sources, write=False).would_change


def test_skip_naming_no_block_is_a_usage_error(tmp_path: Path, capsys: Cap) -> None:
    root = _old_repo(tmp_path / "cdb")
    assert main(["scaffold", "--repo", str(root), "--skip", f"{DEV_PATH}#cdb_nothing"]) == 2
    err = capsys.readouterr().err
    assert "not a service block scaffold added" in err and "cdb_nothing" in err


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI with Compose v2")
def test_docker_compose_accepts_the_upgraded_stack_without_password_variables(
    tmp_path: Path, sources: Sources
) -> None:
    root = _old_repo(tmp_path / "cdb")
    compose = root / "infrastructure/compose"
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "SECRETS_PATH": str(tmp_path)}
    cmd = ["docker", "compose", "-f", "base.yml", "-f", "dev.yml", "config", "--format", "json"]
    if subprocess.run([*cmd[:2], "version"], capture_output=True, check=False).returncode:
        pytest.skip("docker compose v2 is not installed")
    old = subprocess.run(cmd, cwd=compose, env=env, capture_output=True, text=True, check=False)
    # What 0.2.0 left behind (compose names REDIS_PASSWORD or POSTGRES_PASSWORD, whichever it reads first).
    assert old.returncode != 0 and re.search(r"required variable (REDIS|POSTGRES)_PASSWORD", old.stderr)
    _run(root, sources)
    new = subprocess.run(cmd, cwd=compose, env=env, capture_output=True, text=True, check=False)
    assert new.returncode == 0, new.stderr
    core = json.loads(new.stdout)["services"]["cdb_core"]
    assert core["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert {s["source"] for s in core["secrets"]} == {"redis_password", "postgres_password"}


def test_a_block_is_named_relative_to_the_current_directory(
    tmp_path: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _old_repo(tmp_path / "cdb", OWN_PASSWORD)
    (root / ".git").mkdir()  # the repository scaffold finds from a subdirectory
    monkeypatch.chdir(root / "infrastructure")
    assert main(["scaffold", "--overwrite", "compose/dev.yml#cdb_core"]) == 0
    assert NEW_ENV in _dev(root)


def test_a_block_between_other_services_in_a_four_space_file(tmp_path: Path, sources: Sources) -> None:
    root = tmp_path / "cdb"
    root.mkdir()
    compose = "# ops\nservices:\n    redis:\n        image: redis:7-alpine  # cache\n"
    (root / "docker-compose.yml").write_text(compose)
    specs = build_specs(["cdb_core"])
    run_scaffold(RepoFS(root), specs, sources, compose=(), write=True, force=False)
    added = (root / "docker-compose.yml").read_text()
    assert added.startswith(compose + "\n    cdb_core:\n        build:\n")
    after = added + "\n    worker:  # mine, after scaffold's\n        image: busybox\n"
    (root / "docker-compose.yml").write_text(after)
    later = dataclasses.replace(sources, compose_fragment=sources.compose_fragment.replace("5s", "7s"))
    result = run_scaffold(RepoFS(root), None, later, compose=(), write=True, force=False)
    assert _row(result, "docker-compose.yml#cdb_core")[0] == "updated"
    text = (root / "docker-compose.yml").read_text()
    assert text == after.replace("timeout: 5s", "timeout: 7s").replace("delay: 5s", "delay: 7s")
    assert not run_scaffold(RepoFS(root), None, later, compose=(), write=False, force=False).would_change


# Module level, not a fixture: hypothesis prints the arguments of a failing example, and these are large.
SOURCES = load_sources(templates_dir(), compose_dir(), package_dir())

# User edits of the block scaffold added, and template changes of the fragment, drawn in any combination.
USER_EDITS = {
    "log level": ("      LOG_LEVEL: ${LOG_LEVEL:-info}\n", "      LOG_LEVEL: debug\n"),
    "new variable": ('      PORT: "8001"\n', '      PORT: "8001"\n      FEATURE_X: "1"\n'),
    "replicas": ("      replicas: 1\n", "      replicas: 3  # more\n"),
    "comment": ("    healthcheck:\n", "    # probes\n    healthcheck:\n"),
    "memory": ("          memory: 512M\n", "          memory: 1G\n"),
}
KEPT = {  # what shows an edit is still there (the template's new key may now sit between two of yours)
    "log level": "LOG_LEVEL: debug\n",
    "new variable": 'FEATURE_X: "1"\n',
    "replicas": "replicas: 3  # more\n",
    "comment": "    # probes\n    healthcheck:\n",
    "memory": "memory: 1G\n",
}
TEMPLATE_CHANGES = {
    "memory": ("memory: 512M", "memory: 768M"),
    "retries": ("retries: 3", "retries: 5"),
    "new key": ('      PORT: "{{ port }}"\n', '      PORT: "{{ port }}"\n      TZ: UTC\n'),
    "log level": ('conv.var("LOG_LEVEL", ":-info")', 'conv.var("LOG_LEVEL", ":-warning")'),
}


@settings(max_examples=20, deadline=None)
@given(
    edits=hs.sets(hs.sampled_from(sorted(USER_EDITS)), min_size=1),
    changes=hs.sets(hs.sampled_from(sorted(TEMPLATE_CHANGES)), min_size=1),
)
def test_an_upgrade_never_loses_an_edit_and_a_rerun_changes_nothing(
    edits: set[str], changes: set[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _upgrade_keeps_edits(Path(tmp) / "cdb", SOURCES, edits, changes)


def _upgrade_keeps_edits(root: Path, sources: Sources, edits: set[str], changes: set[str]) -> None:
    make_cdb(root)
    _run(root, sources)
    dev = _dev(root)
    for name in sorted(edits):
        old, new = USER_EDITS[name]
        dev = dev.replace(old, new)
    (root / DEV_PATH).write_text(dev)
    fragment = sources.compose_fragment
    for name in sorted(changes):
        fragment = fragment.replace(*TEMPLATE_CHANGES[name])
    later = dataclasses.replace(sources, compose_fragment=fragment)
    status = _row(_run(root, later), BLOCK)[0]
    after = _dev(root)
    yaml.safe_load(after)
    if status == "conflict":
        assert after == dev  # left as it is, never markers
        assert "memory" in edits & changes or "log level" in edits & changes  # only the same key collides
    else:
        assert status == "merged"
        assert all(KEPT[name] in after for name in edits)  # every edit kept
        assert ("memory: 768M" in after) == ("memory" in changes)
        assert ("retries: 5" in after) == ("retries" in changes)
        assert ("TZ: UTC" in after) == ("new key" in changes)
    rerun = _run(root, later, write=False)
    assert _dev(root) == after
    assert not rerun.would_change or _row(rerun, BLOCK)[0] == "would conflict"


def test_force_takes_the_template_block_over_your_edits(tmp_path: Path, sources: Sources) -> None:
    root = _old_repo(tmp_path / "cdb", OWN_PASSWORD)
    result = run_scaffold(RepoFS(root), None, sources, compose=LAYERS, write=True, force=True)
    assert _row(result, BLOCK) == ("updated", "user edits overwritten (--force)")
    assert NEW_ENV in _dev(root) and "hunter2" not in _dev(root)
