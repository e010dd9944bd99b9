"""Scaffold's compose blocks rewritten by the user in another style: flow style, anchors, merge keys.

The block is still scaffold's: it is recognised by what compose reads of it (merge keys applied, aliases
followed), not by its lines. A change of the template is merged into it where that is sound (a block
style block, by its lines, and only when compose then reads what a key-by-key merge expects); anything
else is a conflict left as it is, decided with --overwrite or --skip: never written over.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from cdbctl.scaffold.plan import Sources
from tests.scaffold.cdb_layout import DEV, make_cdb
from tests.scaffold.test_compose_blocks import (
    BLOCK,
    DEV_PATH,
    NEW_ENV,
    OLD_BLOCK,
    _dev,
    _old_repo,
    _row,
    _run,
)

pytestmark = pytest.mark.unit


def _flow(block: str, width: float = float("inf")) -> str:
    """A service block (`  name:` and its lines) rewritten as one flow mapping, as compose reads it."""
    ((name, value),) = yaml.safe_load(block).items()
    text = yaml.safe_dump(value, default_flow_style=True, width=width, sort_keys=False).strip()
    return f"  {name}: " + text.replace("\n", "\n    ") + "\n"


def _meaning(root: Path, name: str = "cdb_core") -> object:
    return yaml.safe_load(_dev(root))["services"][name]


def _scaffolded(root: Path, sources: Sources) -> str:
    """The layout after a run that added and recorded cdb_core: the block it added."""
    make_cdb(root)
    _run(root, sources)
    block = _dev(root)[len(DEV) + 1 :]
    assert block.startswith("  cdb_core:\n")
    return block


def _rewrite(root: Path, block: str) -> str:
    text = DEV + "\n" + block
    (root / DEV_PATH).write_text(text)
    return text


@pytest.mark.parametrize("width", [float("inf"), 60], ids=["one line", "wrapped"])
def test_a_block_rewritten_in_flow_style_is_recognised_and_kept(
    tmp_path: Path, sources: Sources, width: float
) -> None:
    root = tmp_path / "cdb"
    block = _scaffolded(root, sources)
    meaning = _meaning(root)
    text = _rewrite(root, _flow(block, width))
    assert _meaning(root) == meaning
    result = _run(root, sources)
    assert _row(result, BLOCK) == ("kept", "edited; the template did not change")
    assert _dev(root) == text and not result.would_change


def test_a_template_change_to_a_flow_style_block_is_a_conflict_left_as_it_is(
    tmp_path: Path, sources: Sources
) -> None:
    root = tmp_path / "cdb"
    text = _rewrite(root, _flow(_scaffolded(root, sources)))
    later = dataclasses.replace(
        sources, compose_fragment=sources.compose_fragment.replace("memory: 512M", "memory: 768M")
    )
    dry = _run(root, later, write=False)
    assert _row(dry, BLOCK)[0] == "would conflict"
    status, detail = _row(_run(root, later), BLOCK)
    assert status == "conflict" and _dev(root) == text
    assert f"--overwrite {BLOCK}" in detail and f"--skip {BLOCK}" in detail
    assert "flow style" in detail
    assert _row(_run(root, later, skip=frozenset({BLOCK})), BLOCK)[0] == "skipped"
    assert _dev(root) == text
    assert _row(_run(root, later, overwrite=frozenset({BLOCK})), BLOCK)[0] == "updated"
    assert "          memory: 768M\n" in _dev(root)  # the template's block, in block style


def test_a_flow_style_block_with_the_template_change_already_made_is_kept(
    tmp_path: Path, sources: Sources
) -> None:
    root = tmp_path / "cdb"
    block = _scaffolded(root, sources)
    text = _rewrite(root, _flow(block.replace("memory: 512M", "memory: 768M")))
    later = dataclasses.replace(
        sources, compose_fragment=sources.compose_fragment.replace("memory: 512M", "memory: 768M")
    )
    result = _run(root, later)
    assert _row(result, BLOCK) == ("kept", "edited; already has the template's change")
    assert _dev(root) == text
    assert not _run(root, later, write=False).would_change


# What a user who shares settings among services makes of the block cdbctl 0.2.0 added: the restart
# policy, healthcheck and deploy settings (most of its lines) moved into an extension field, merged back
# with `<<`.
_SHARED = "    restart: unless-stopped\n" + OLD_BLOCK.split("    ports:\n")[1].split("\n", 1)[1]


def _defaults() -> str:
    shared = _SHARED.replace("    depends_on:\n      - cdb_redis\n      - cdb_postgres\n", "")
    return "x-cdb-service: &cdb-service\n" + shared.replace("\n  ", "\n")[2:]


def _with_merge_key(block: str) -> str:
    head, rest = block.split("    restart: unless-stopped\n")
    env_to_ports = rest.split("    healthcheck:\n", maxsplit=1)[0]
    depends = "    depends_on:\n      - cdb_redis\n      - cdb_postgres\n"
    return head + "    <<: *cdb-service\n" + env_to_ports + depends


def test_an_020_block_rewritten_with_a_merge_key_is_recognised_and_updated(
    tmp_path: Path, sources: Sources
) -> None:
    root = _old_repo(tmp_path / "cdb")
    mine = _with_merge_key(OLD_BLOCK)
    (root / DEV_PATH).write_text(_defaults() + DEV + "\n" + mine)
    assert yaml.safe_load(_dev(root))["services"]["cdb_core"] == yaml.safe_load(OLD_BLOCK)["cdb_core"]
    result = _run(root, sources)
    assert _row(result, BLOCK) == ("merged", "the template's changes merged with yours")
    dev = _dev(root)
    assert dev.startswith(_defaults() + DEV) and "    <<: *cdb-service\n" in dev
    assert NEW_ENV in dev and ":?" not in dev
    state = json.loads((root / ".cdbctl/scaffold.json").read_text())
    assert BLOCK in state["blocks"]
    assert _row(_run(root, sources), BLOCK)[0] == "kept" and _dev(root) == dev


def test_a_template_key_a_merge_key_already_sets_is_a_conflict_never_an_override(
    tmp_path: Path, sources: Sources
) -> None:
    """The template adds `stop_grace_period` where your `<<: *defaults` sets it: merged by lines, the
    template's key would silently win over yours (a key of the mapping beats a merged one)."""
    root = tmp_path / "cdb"
    block = _scaffolded(root, sources)
    defaults = "x-defaults: &defaults\n  restart: unless-stopped\n  stop_grace_period: 10s\n"
    mine = block.replace("    restart: unless-stopped\n", "    <<: *defaults\n")
    (root / DEV_PATH).write_text(defaults + DEV + "\n" + mine)
    before = _dev(root)
    later = dataclasses.replace(
        sources,
        compose_fragment=sources.compose_fragment.replace(
            "    environment:\n", "    stop_grace_period: 30s\n    environment:\n", 1
        ),
    )
    status, detail = _row(_run(root, later), BLOCK)
    assert status == "conflict" and _dev(root) == before
    assert f"--overwrite {BLOCK}" in detail


def test_a_block_with_an_anchor_is_still_scaffolds(tmp_path: Path, sources: Sources) -> None:
    root = tmp_path / "cdb"
    block = _scaffolded(root, sources)
    _rewrite(root, block.replace("  cdb_core:\n", "  cdb_core: &core\n", 1))
    later = dataclasses.replace(
        sources, compose_fragment=sources.compose_fragment.replace("memory: 512M", "memory: 768M")
    )
    assert _row(_run(root, later), BLOCK)[0] == "merged"
    dev = _dev(root)
    assert "  cdb_core: &core\n" in dev and "memory: 768M" in dev
