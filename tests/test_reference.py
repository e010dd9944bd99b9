"""The manual: generated reference tables are current, README stays short and true, mkdocs builds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdbctl.errors import InputError
from cdbctl.reference import TABLES, render_page, risk_config_table, stale_pages, write_pages

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.mark.unit
def test_generated_tables_are_current() -> None:
    assert stale_pages(DOCS) == [], "run: python -m cdbctl.reference"


@pytest.mark.unit
def test_config_table_lists_every_key_with_its_aliases() -> None:
    from cdbctl.risk.config import KEYS

    table = risk_config_table()
    for spec in KEYS:
        assert f"| `{spec.name}`" in table
        for alias in spec.aliases:
            assert f"`{alias}`" in table
    assert "| `MAX_LEVERAGE` | 10 | 1..125 |" in table


@pytest.mark.unit
def test_stale_page_is_detected_and_rewritten(tmp_path: Path) -> None:
    for page in TABLES:
        shutil.copy(DOCS / page, tmp_path / page)
    page = next(iter(TABLES))
    path = tmp_path / page
    text = path.read_text(encoding="utf-8")
    name = next(iter(TABLES[page]))
    marker = f"<!-- /generated:{name} -->"
    path.write_text(text.replace(marker, "| stale | row |\n" + marker), encoding="utf-8")
    assert stale_pages(tmp_path) == [page]
    assert write_pages(tmp_path) == [page]
    assert path.read_text(encoding="utf-8") == text
    assert write_pages(tmp_path) == []  # idempotent


@pytest.mark.unit
def test_missing_block_is_an_input_error() -> None:
    with pytest.raises(InputError, match="generated block 'x' missing"):
        render_page("no markers here\n", {"x": lambda: "t"}, "page.md")


@pytest.mark.unit
def test_readme_is_short_and_names_the_ci_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 10 * 1024
    ci_line = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert f"```bash\n{ci_line}\n```" in readme
    for link in ("docs/risk.md", "docs/scaffold.md", "docs/ci-harden.md", "docs/verify.md"):
        assert link in readme and (ROOT / link).is_file()


@pytest.mark.integration
def test_mkdocs_builds_strict(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.unit
def test_pre_commit_example_pins_the_release_and_shipped_hooks() -> None:
    import yaml

    from cdbctl import __version__

    example_text = (ROOT / "examples" / "pre-commit-config.yaml").read_text(encoding="utf-8")
    example = yaml.safe_load(example_text)
    shipped = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    (repo,) = example["repos"]
    assert repo["rev"] == f"v{__version__}"
    assert {h["id"] for h in repo["hooks"]} <= shipped
    assert example_text in (DOCS / "pre-commit.md").read_text(encoding="utf-8")
