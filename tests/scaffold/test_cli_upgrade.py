"""`cdbctl scaffold` after a template upgrade, through the CLI: statuses, exit codes, --skip/--overwrite, -v.

The upgrade is a changed copy of templates/ named by CDBCTL_SCAFFOLD_TEMPLATES.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cdbctl.cli import main
from cdbctl.resources import templates_dir
from tests.scaffold.conftest import tree

pytestmark = pytest.mark.unit

Cap = pytest.CaptureFixture[str]
CORE = "backoffice/services/cdb_core"
GUNICORN = f"{CORE}/gunicorn.conf.py"
HEALTH = f"{CORE}/healthcheck.py"


def table(text: str) -> dict[str, str]:
    """A status table as {path: status}; columns are two or more spaces apart ("would merge" is one)."""
    lines = text.splitlines()
    if not lines or lines[0].split()[:1] != ["STATUS"]:
        return {}
    rows = (re.split(r"\s{2,}", line) for line in lines[1:])
    return {row[1]: row[0] for row in rows if len(row) > 1}  # the summary follows the table on stderr


def run(capsys: Cap, repo: Path, *args: str) -> tuple[int, str, str]:
    fmt = [] if {"--format", "-f"} & set(args) else ["--format", "table"]
    code = main(["scaffold", "--repo", str(repo), "--service", "cdb_core", *args, *fmt])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped templates, used by every run from here on; tests append to its files."""
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy)
    monkeypatch.setenv("CDBCTL_SCAFFOLD_TEMPLATES", str(copy))
    return copy


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + text)


def _insert_second_line(path: Path, line: str) -> None:
    first, rest = path.read_text().split("\n", 1)
    path.write_text(f"{first}\n{line}\n{rest}")


def test_unchanged_run_prints_no_table_and_v_lists_everything(repo: Path, capsys: Cap) -> None:
    assert run(capsys, repo)[0] == 0
    code, out, err = run(capsys, repo)
    assert code == 0 and out == ""  # nothing changes: nothing to list
    assert "identical" in err
    code, out, _ = run(capsys, repo, "-v")
    rows = table(out)
    assert code == 0 and rows[GUNICORN] == "identical" and rows["docker-compose.yml"] == "identical"
    code, out, _ = run(capsys, repo, "--format", "json")
    statuses = {f["path"]: f["status"] for f in json.loads(out)["files"]}
    assert statuses[GUNICORN] == "identical" and statuses[f".cdbctl/scaffold/base/{GUNICORN}"] == "identical"


def test_fresh_check_and_dry_run_say_would(repo: Path, capsys: Cap) -> None:
    before = tree(repo)
    code, out, err = run(capsys, repo, "--check")
    rows = table(out)
    assert code == 1 and rows[GUNICORN] == "would create" and rows["docker-compose.yml"] == "would update"
    assert not {"created", "updated"} & set(rows.values())  # nothing was written
    code, out, err = run(capsys, repo, "--dry-run")
    assert code == 0 and table(err)[GUNICORN] == "would create" and f"+++ b/{GUNICORN}" in out
    assert ".cdbctl/scaffold/base/" not in out  # the bases are bookkeeping, not part of the diff
    code, out, _ = run(capsys, repo, "--check", "--format", "json")
    statuses = {f["path"]: f["status"] for f in json.loads(out)["files"]}
    assert statuses[GUNICORN] == "would create" and json.loads(out)["written"] is False
    assert tree(repo) == before


def test_upgrade_merges_edits_and_check_fails_until_applied(repo: Path, upgrade: Path, capsys: Cap) -> None:
    run(capsys, repo)
    _insert_second_line(repo / GUNICORN, "# mine")
    assert run(capsys, repo, "--check")[0] == 0  # edited, template unchanged: up to date
    _append(upgrade / "service/gunicorn.conf.py.j2", "# template v2\n")
    before = tree(repo)
    code, out, err = run(capsys, repo, "--check")
    assert code == 1 and table(out)[GUNICORN] == "would merge" and "would change" in err
    code, _, err = run(capsys, repo, "--dry-run")
    assert code == 0 and table(err)[GUNICORN] == "would merge"
    assert tree(repo) == before
    code, out, _ = run(capsys, repo)
    assert code == 0 and table(out)[GUNICORN] == "merged"
    text = (repo / GUNICORN).read_text()
    assert "# mine\n" in text and text.endswith("# template v2\n")
    code, out, err = run(capsys, repo, "--check")
    assert code == 0 and out == "" and "up to date" in err


def test_conflict_exits_1_and_stays_until_resolved(repo: Path, upgrade: Path, capsys: Cap) -> None:
    run(capsys, repo)
    _append(repo / HEALTH, "# mine\n")
    _append(upgrade / "service/healthcheck.py.j2", "# theirs\n")
    code, out, _ = run(capsys, repo, "--dry-run", "--format", "json")
    data = json.loads(out)
    assert code == 1 and {f["path"]: f["status"] for f in data["files"]}[HEALTH] == "would conflict"
    code, out, err = run(capsys, repo)
    assert code == 1 and table(out)[HEALTH] == "conflict"
    assert "resolve the conflicts" in err
    assert (
        "<<<<<<< yours\n# mine\n||||||| base\n=======\n# theirs\n>>>>>>> template"
        in (repo / HEALTH).read_text()
    )
    marked = tree(repo)
    code, out, _ = run(capsys, repo)
    assert code == 1 and table(out)[HEALTH] == "conflict" and tree(repo) == marked
    assert run(capsys, repo, "--check")[0] == 1
    text = (repo / HEALTH).read_text()
    (repo / HEALTH).write_text(text[: text.index("<<<<<<< yours")] + "# mine\n# theirs\n")
    assert run(capsys, repo)[0] == 0
    assert run(capsys, repo, "--check")[0] == 0


def test_skip_and_overwrite(repo: Path, upgrade: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, repo)
    _append(repo / HEALTH, "# mine\n")
    _append(upgrade / "service/healthcheck.py.j2", "# theirs\n")
    mine = (repo / HEALTH).read_bytes()
    code, out, _ = run(capsys, repo, "--skip", HEALTH)
    assert code == 0 and table(out)[HEALTH] == "skipped" and (repo / HEALTH).read_bytes() == mine
    assert run(capsys, repo, "--check")[0] == 0  # the update was declined, not postponed
    _append(upgrade / "service/healthcheck.py.j2", "# theirs again\n")
    monkeypatch.chdir(repo)  # a path relative to the current directory works too
    code, out, _ = run(capsys, repo, "--overwrite", f"./{HEALTH}")
    assert code == 0 and table(out)[HEALTH] == "updated"
    assert (repo / HEALTH).read_text().endswith("# theirs\n# theirs again\n") and "# mine" not in (
        repo / HEALTH
    ).read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--skip", "backoffice/services/cdb_core/nope.py"], "--skip: not a file this run generates"),
        (["--overwrite", "docker-compose.yml"], "--overwrite: not a file this run generates"),
        (["--skip", HEALTH, "--overwrite", HEALTH], "given to both --skip and --overwrite"),
    ],
)
def test_bad_per_file_choice_is_a_one_line_usage_error(
    repo: Path, capsys: Cap, args: list[str], message: str
) -> None:
    run(capsys, repo)
    before = tree(repo)
    code, out, err = run(capsys, repo, *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert err.startswith("cdbctl: error:")
    assert tree(repo) == before


def test_templates_override_must_be_a_directory(
    repo: Path, capsys: Cap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDBCTL_SCAFFOLD_TEMPLATES", str(repo / "missing"))
    code, _, err = run(capsys, repo)
    assert code == 2 and "CDBCTL_SCAFFOLD_TEMPLATES is not a directory" in err
