"""Attacks on scaffold (issue 17, items 3, 4, 5, 16, 17, 18), each reproduced, each with its fix.

Concurrent runs, edits during a run, read-only files and directories, kill -9 in the middle of the
writes, symlink loops, unreadable directories, FIFOs, huge and hostile YAML. Grows with every defect.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from cdbctl.cli import main
from cdbctl.errors import EnvironmentProblem
from cdbctl.scaffold.fs import RepoFS
from cdbctl.scaffold.plan import Sources
from cdbctl.scaffold.runner import run_scaffold
from cdbctl.scaffold.spec import build_specs
from tests.nobody import as_nobody
from tests.scaffold.conftest import SEED_COMPOSE, tree

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]
ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD = 120  # seconds; a run that needs longer is hanging


def cli(
    *args: str, timeout: float = HANG_GUARD, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """cdbctl of this checkout as a separate process (what two users at once would run)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("COMPOSE_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "cdbctl", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        check=False,
    )


def everything(root: Path) -> dict[str, bytes | None]:
    """Files (with content) and directories (None) under root: also catches directories left behind."""
    return {
        p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
        for p in sorted(root.rglob("*"))
    }


def temps(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.tmp"))


def run_cli(capsys: Cap, *args: str) -> tuple[int, str, str]:
    code = main(["scaffold", *args])
    out, err = capsys.readouterr()
    return code, out, err


# -- item 3: concurrent runs and edits during a run -------------------------------------------------------
@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_at_once_both_land(repo: Path, attempt: int) -> None:
    """Both runs exited 0 and one's changes were lost (4 of 5 tries); the lock serialises them."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cdbctl", "scaffold", "--repo", str(repo), "--service", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        for name in ("alpha", "beta")
    ]
    results = [p.communicate(timeout=HANG_GUARD) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    state = json.loads((repo / ".cdbctl/scaffold.json").read_text())
    assert set(state["services"]) == {"alpha", "beta"}
    compose = (repo / "docker-compose.yml").read_text()
    assert "\n  alpha:\n" in compose and "\n  beta:\n" in compose
    assert cli("scaffold", "--repo", str(repo), "--check").returncode == 0


class _EditingFS(RepoFS):
    """Makes a user's edit to a file right before the run writes (the window a real editor hits)."""

    def __init__(self, root: Path, victim: str, edit: Callable[[Path], None]) -> None:
        super().__init__(root)
        self.victim, self.edit = victim, edit

    def write_all(self, writes: Sequence[tuple[str, bytes, int | None]], **kw: Sequence[str]) -> None:
        self.edit(self.root / self.victim)
        super().write_all(writes, **kw)


@pytest.mark.parametrize(
    ("victim", "edit"),
    [
        ("docker-compose.yml", lambda p: p.write_text(p.read_text() + "# my edit\n")),
        (".cdbctl/scaffold.json", lambda p: (p.parent.mkdir(exist_ok=True), p.write_text("{}\n"))),
        (
            "backoffice/services/cdb_core/Dockerfile",
            lambda p: (p.parent.mkdir(parents=True), p.write_text("FROM x\n")),
        ),
    ],
)
def test_a_file_changed_during_the_run_is_not_overwritten(
    repo: Path, sources: Sources, victim: str, edit: Callable[[Path], None]
) -> None:
    fs = _EditingFS(repo, victim, edit)
    with pytest.raises(EnvironmentProblem) as info:
        run_scaffold(fs, build_specs([]), sources, write=True, force=False)
    assert "changed while scaffold was running" in str(info.value) and victim in str(info.value)
    edited = (repo / victim).read_bytes()
    assert edited in {SEED_COMPOSE.encode() + b"# my edit\n", b"{}\n", b"FROM x\n"}
    assert (repo / "docker-compose.yml").read_text().startswith(SEED_COMPOSE)  # not patched
    assert not (repo / "backoffice/services/cdb_risk").exists()
    assert temps(repo) == []


# -- items 4 and 5: check every write first; read-only files -------------------------------------------
def test_read_only_compose_is_refused_before_anything_is_written(repo: Path, capsys: Cap) -> None:
    compose = repo / "docker-compose.yml"
    compose.chmod(0o444)
    before = everything(repo)
    code, _, err = run_cli(capsys, "--repo", str(repo))
    assert code == 3, err
    assert "read-only (mode 0444)" in err and "docker-compose.yml" in err
    assert everything(repo) == before
    assert compose.stat().st_mode & 0o777 == 0o444


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """chattr +i: not writable even for root (who ignores mode bits)."""
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode
    ):
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_read_only_directory_stops_the_run_before_any_file_changes(repo: Path, capsys: Cap) -> None:
    """It wrote 33 files, then failed with no state and the compose unpatched; now nothing changes."""
    locked = repo / "backoffice/services/cdb_risk/app"
    locked.mkdir(parents=True)
    before = everything(repo)
    with immutable(locked):
        code, _, err = run_cli(capsys, "--repo", str(repo))
    assert code == 3, err
    assert "nothing was written" in err and "backoffice/services/cdb_risk/app/" in err
    assert everything(repo) == before  # no file, no temp file, no directory left behind


def test_a_file_where_a_directory_must_go_is_found_before_writing(repo: Path, capsys: Cap) -> None:
    (repo / "backoffice").mkdir()
    (repo / "backoffice/services").write_text("not a directory\n")
    before = everything(repo)
    code, _, err = run_cli(capsys, "--repo", str(repo))
    assert code == 3 and "Not a directory" in err
    assert everything(repo) == before


GUNICORN = "backoffice/services/cdb_core/gunicorn.conf.py"


def test_a_directory_where_a_file_goes_is_one_line_naming_it_and_the_fix(repo: Path, capsys: Cap) -> None:
    """It was a bare 'expected a file, found a directory' (exit 3), with --skip PATH too."""
    (repo / GUNICORN).mkdir(parents=True)
    before = everything(repo)
    code, out, err = run_cli(capsys, "--repo", str(repo), "--service", "cdb_core")
    assert code == 3 and out == ""
    assert err.splitlines() == [
        f"cdbctl: error: a directory is in the way of a generated file: move it away, or rerun with "
        f"--skip {GUNICORN} to leave it, {GUNICORN}"
    ]
    assert everything(repo) == before


def test_skip_leaves_a_directory_where_a_file_goes_and_the_run_goes_on(repo: Path, capsys: Cap) -> None:
    (repo / GUNICORN / "mine").mkdir(parents=True)
    (repo / ".dockerignore").mkdir()
    skips = ("--skip", GUNICORN, "--skip", ".dockerignore")
    code, out, err = run_cli(capsys, "--repo", str(repo), "--service", "cdb_core", *skips, "--format", "json")
    assert code == 0, err
    rows = {f["path"]: f for f in json.loads(out)["files"]}
    assert rows[GUNICORN]["status"] == "skipped" and rows[GUNICORN]["detail"].startswith("a directory")
    assert rows[".dockerignore"]["status"] == "skipped"
    assert (repo / "backoffice/services/cdb_core/app/main.py").is_file()  # the others were written
    assert (repo / GUNICORN / "mine").is_dir() and (repo / ".dockerignore").is_dir()
    assert GUNICORN not in json.loads((repo / ".cdbctl/scaffold.json").read_text())["files"]
    assert run_cli(capsys, "--repo", str(repo), "--check", *skips)[0] == 0  # nothing else would change
    # A file generated before, a directory now: --skip keeps its record, so moving the directory away
    # gives the file back on the next run.
    shutil.rmtree(repo / GUNICORN)
    assert run_cli(capsys, "--repo", str(repo), "--skip", ".dockerignore")[0] == 0
    (repo / GUNICORN).unlink()
    (repo / GUNICORN).mkdir()
    assert run_cli(capsys, "--repo", str(repo), "--skip", GUNICORN, "--skip", ".dockerignore")[0] == 0
    recorded = json.loads((repo / ".cdbctl/scaffold.json").read_text())["files"]
    assert GUNICORN in recorded
    (repo / GUNICORN).rmdir()
    code, out, _ = run_cli(capsys, "--repo", str(repo), "--skip", ".dockerignore", "--format", "json")
    assert code == 0 and {f["path"]: f["status"] for f in json.loads(out)["files"]}[GUNICORN] == "created"


def test_a_directory_where_a_merge_base_goes_names_it(repo: Path, capsys: Cap) -> None:
    assert run_cli(capsys, "--repo", str(repo), "--service", "cdb_core")[0] == 0
    base = f".cdbctl/scaffold/base/{GUNICORN}"
    (repo / base).unlink()
    (repo / base).mkdir()
    code, _, err = run_cli(capsys, "--repo", str(repo))
    assert code == 3
    assert err.splitlines() == [
        f"cdbctl: error: a directory is in the way of a generated file: remove it (scaffold keeps a merge "
        f"base there) and rerun, {base}"
    ]


def test_kill_9_between_the_writes_leaves_temp_files_that_later_runs_report_and_remove(repo: Path) -> None:
    """kill -9 left `.X.tmp` files that no later run or --check mentioned."""
    killer = (
        "import os, signal, sys\n"
        "import cdbctl.atomic as atomic\n"
        "def commit(tmp, path):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "atomic.commit = commit\n"
        "import cdbctl.scaffold.fs as fs\n"
        "fs.commit = commit\n"
        "from cdbctl.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    (repo / ".notes.abcdefgh.tmp").write_text("not ours: a file scaffold does not manage\n")
    before = tree(repo)
    proc = subprocess.run(
        [sys.executable, "-c", killer, "scaffold", "--repo", str(repo)],
        capture_output=True, text=True, timeout=HANG_GUARD, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    assert proc.returncode == -9
    left = temps(repo)
    assert "docker-compose.yml" not in "".join(left) or any(
        t.startswith(".docker-compose.yml.") for t in left
    )
    assert len(left) > 30  # every file was staged, none renamed
    assert {k: v for k, v in tree(repo).items() if not k.endswith(".tmp")} == {
        k: v for k, v in before.items() if not k.endswith(".tmp")
    }  # the kill came before any rename: every real file is as it was

    check = cli("scaffold", "--repo", str(repo), "--check", "--format", "json")
    assert check.returncode == 1
    reported = {f["path"] for f in json.loads(check.stdout)["files"] if f["status"] == "leftover"}
    assert reported == set(left) - {".notes.abcdefgh.tmp"}
    assert temps(repo) == left  # --check removes nothing

    apply = cli("scaffold", "--repo", str(repo))
    assert apply.returncode == 0, apply.stderr
    assert "removed" in apply.stdout
    assert temps(repo) == [".notes.abcdefgh.tmp"]
    assert cli("scaffold", "--repo", str(repo), "--check").returncode == 0


# -- item 16: symlink loops, unreadable directories: exit 2 or 3 with the cause, never 4 ----------------
@pytest.mark.parametrize(
    ("link", "extra"),
    [
        ("docker-compose.yml", []),
        ("w.yml", ["--compose", "w.yml"]),
        ("backoffice", []),
        (".cdbctl/scaffold.json", []),
        ("services/risk/Dockerfile", ["--service", "cdb_risk"]),
    ],
)
def test_symlink_loop_is_named_not_a_crash(repo: Path, capsys: Cap, link: str, extra: list[str]) -> None:
    target = repo / link
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    if link == "services/risk/Dockerfile":
        (repo / "docker-compose.yml").write_text(
            "services:\n  cdb_risk:\n    build: {context: ., dockerfile: services/risk/Dockerfile}\n"
        )
    target.symlink_to(target.name)  # ln -s NAME NAME
    code, _, err = run_cli(capsys, "--repo", str(repo), "--dry-run", *extra)
    assert code in {0, 2, 3}, err
    assert "internal error" not in err and "Traceback" not in err
    if code:
        assert "symlink loop" in err, err


@pytest.fixture
def world_repo() -> Iterator[Path]:
    """A seed repository user 'nobody' can reach (pytest's tmp_path sits under a 0700 directory)."""
    root = Path(tempfile.mkdtemp(prefix="scaffold-nobody-", dir="/tmp"))
    root.chmod(0o755)
    (root / "services").mkdir()
    (root / "services/__init__.py").write_text("")
    (root / "docker-compose.yml").write_text(SEED_COMPOSE)
    try:
        yield root
    finally:
        for d in [root, *root.rglob("*")]:
            if d.is_dir() and not d.is_symlink():
                d.chmod(0o777)
        shutil.rmtree(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
@pytest.mark.parametrize("locked", ["backoffice/services", "backoffice/services/cdb_core", ".cdbctl"])
def test_unreadable_subdirectory_is_an_environment_error(world_repo: Path, capsys: Cap, locked: str) -> None:
    for d in [world_repo, *world_repo.rglob("*")]:
        if d.is_dir():
            d.chmod(0o777)
        else:
            d.chmod(0o666)
    run_cli(capsys, "--repo", str(world_repo), "--dry-run")  # imports every lazy module as root first
    (world_repo / locked).mkdir(parents=True, exist_ok=True)
    (world_repo / locked).chmod(0)

    def task() -> object:
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["scaffold", "--repo", str(world_repo)])
        return code, err.getvalue()

    code, err = as_nobody(task)  # type: ignore[misc]
    assert code == 3, err
    assert "Permission denied" in err and locked in err
    assert "internal error" not in err


# -- item 17: a FIFO never blocks a run ------------------------------------------------------------------
@pytest.mark.parametrize(
    "where", ["backoffice/services/cdb_core/Dockerfile", ".cdbctl/scaffold.json", ".dockerignore"]
)
def test_fifo_at_a_path_scaffold_reads_is_refused_not_waited_on(repo: Path, where: str) -> None:
    fifo = repo / where
    fifo.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(fifo)
    proc = cli("scaffold", "--repo", str(repo))  # used to hang forever: the timeout would raise here
    assert proc.returncode == 3, proc.stderr
    assert "not a regular file" in proc.stderr and where in proc.stderr


def test_fifo_as_compose_file_is_refused(repo: Path) -> None:
    (repo / "docker-compose.yml").unlink()
    os.mkfifo(repo / "docker-compose.yml")
    proc = cli("scaffold", "--repo", str(repo), "--compose", str(repo / "docker-compose.yml"))
    assert proc.returncode == 2 and "is not a file" in proc.stderr
    proc = cli("scaffold", "--repo", str(repo))
    assert proc.returncode == 3 and "not a regular file" in proc.stderr


# -- item 18: huge and hostile YAML ------------------------------------------------------------------------
def test_50_mb_compose_file_is_refused_with_the_limit(repo: Path) -> None:
    """8 minutes and 2.5 GB before; now refused unread."""
    with (repo / "docker-compose.yml").open("a") as fh:
        fh.write(("  # padding" + " " * 88 + "\n") * 500_000)
    proc = cli("scaffold", "--repo", str(repo), "--dry-run")
    assert proc.returncode == 2, proc.stderr
    assert "over the 1048576 byte limit" in proc.stderr and "docker-compose.yml" in proc.stderr


def test_a_large_real_file_under_the_limit_is_processed(repo: Path) -> None:
    """About 0.9 MB of services: read in one linear pass (the hang guard would catch a quadratic one)."""
    lines = [SEED_COMPOSE]
    for n in range(9_000):
        lines.append(
            f"  svc{n}:\n    image: redis:7\n    environment:\n      A: 'x{n}'\n    ports: ['{n}:80']\n"
        )
    (repo / "docker-compose.yml").write_text("".join(lines))
    proc = cli("scaffold", "--repo", str(repo), "--dry-run", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["would_change"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "".join(f"x{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9) if n else 'lol'}]\n" for n in range(10))
            + "services:\n  cdb_core: {build: ./x}\n",
            "YAML aliases expand to over",
        ),
        ("x: &a [1, *a]\nservices:\n  cdb_core: {build: ./x}\n", "recursive YAML alias"),
        (
            "services:\n  cdb_core:\n    build: ./x\n    labels: !!python/object:os.system {}\n",
            "!!python/object",
        ),
    ],
)
def test_hostile_yaml_is_an_input_error(repo: Path, capsys: Cap, text: str, message: str) -> None:
    (repo / "docker-compose.yml").write_text(text)
    code, _, err = run_cli(capsys, "--repo", str(repo), "--dry-run")
    assert code == 2, err
    assert message in err and "docker-compose.yml:" in err


def test_a_run_that_cannot_get_the_lock_gives_up_with_exit_3(repo: Path) -> None:
    holder = RepoFS(repo)
    second = RepoFS(repo).lock(wait=0.2)
    with holder.lock(), pytest.raises(EnvironmentProblem, match="another cdbctl scaffold is running"):
        second.__enter__()
    with RepoFS(repo).lock(wait=0.2):  # released with the block
        pass


def test_dry_run_lists_leftovers_and_removes_nothing(repo: Path, capsys: Cap) -> None:
    leftover = repo / ".docker-compose.yml.k2j4h8sd.tmp"
    leftover.write_text("half a file\n")
    (repo / ".docker-compose.yml.zzzzzzzz.tmp").symlink_to(repo / "docker-compose.yml")  # not a regular file
    code, _out, err = run_cli(capsys, "--repo", str(repo), "--dry-run")
    assert code == 0, err
    # The table is on stderr with --dry-run.
    assert any(
        line.split()[:2] == ["leftover", ".docker-compose.yml.k2j4h8sd.tmp"] for line in err.splitlines()
    )
    assert leftover.exists()
    assert run_cli(capsys, "--repo", str(repo))[0] == 0
    assert not leftover.exists()
    assert (repo / ".docker-compose.yml.zzzzzzzz.tmp").is_symlink()  # only regular temp files are removed


def test_a_layer_edited_during_the_run_stops_it_even_when_only_another_is_written(
    tmp_path: Path, sources: Sources
) -> None:
    from tests.scaffold.cdb_layout import DEV, LAYERS, make_cdb

    cdb = make_cdb(tmp_path / "cdb")
    fs = _EditingFS(cdb, LAYERS[0], lambda p: p.write_text(p.read_text() + "# edited\n"))
    with pytest.raises(EnvironmentProblem, match="changed while scaffold was running") as info:
        run_scaffold(fs, build_specs([]), sources, compose=LAYERS, write=True, force=False)
    assert LAYERS[0] in str(info.value)
    assert (cdb / LAYERS[1]).read_text() == DEV  # cdb_core was to be added here: nothing renamed
    assert not (cdb / "backoffice").exists() and temps(cdb) == []


def test_terminal_escapes_in_paths_do_not_reach_the_terminal(repo: Path, capsys: Cap) -> None:
    evil = repo / "evil\x1b]0;PWNED\x07\x1b[31m"
    evil.mkdir()
    (evil / "Dockerfile").write_text("FROM scratch\n")
    (repo / "docker-compose.yml").write_text(
        'services:\n  cdb_risk:\n    build: "./evil\\e]0;PWNED\\a\\e[31m"\n'
        '  web:\n    build: "./gone\\e[31m"\n'
    )
    code, out, err = run_cli(capsys, "--repo", str(repo), "--service", "cdb_risk")
    assert code == 0, err
    assert "ok" in out and "PWNED" in out  # the row is there, its escapes are not
    assert "\x1b" not in out + err and "\x07" not in out + err
