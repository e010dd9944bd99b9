"""The positional YAML tree is the same whichever parser builds it (libyaml's C parser or ruamel's)."""

from __future__ import annotations

import pytest
import yaml

from cdbctl.scaffold import yamltree
from cdbctl.scaffold.yamltree import YNode, parse_tree
from tests.scaffold.cdb_layout import BASE, DEV
from tests.scaffold.conftest import DATA, SEED_COMPOSE

pytestmark = pytest.mark.unit

CORPUS = {p.name: p.read_bytes().decode("utf-8-sig") for p in sorted((DATA / "compose").glob("*.yml"))}
CORPUS |= {
    "seed": SEED_COMPOSE,
    "base.yml": BASE,
    "dev.yml": DEV,
    "unicode": "a: 'é€😀'\nb: [x, {c: \"d\\u00e9\"}]\nc: |\n  é\n  😀\n",
    "tags": "services:\n  x:\n    build: !reset null\n    ports: !override ['1:1']\n",
}


def _tree(text: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> YNode | None:
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml and yaml.__with_libyaml__)
    parse_tree.cache_clear()
    try:
        return parse_tree(text, "x.yml")
    finally:
        parse_tree.cache_clear()


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml: only one parser here")
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_both_parsers_give_the_same_tree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    text = CORPUS[name]
    fast = _tree(text, True, monkeypatch)
    slow = _tree(text, False, monkeypatch)
    assert _comparable(fast) == _comparable(slow)


def _comparable(node: YNode | None) -> YNode | None:
    """The tree with the position of empty values blanked: the parsers disagree on it (after the colon,
    or the next line), so the patcher never splices there (compose_patch._value_edit)."""
    if node is None:
        return None
    if node.kind == "scalar" and not node.value and node.style is None:
        node.start = node.end = node.line = node.column = -1
    for k, v in node.items:
        _comparable(k)
        _comparable(v)
    for c in node.children:
        _comparable(c)
    return node


def test_events_fall_back_to_ruamel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml, "__with_libyaml__", False)
    events = yamltree._events("a: 1\n")
    assert type(events[0]).__module__.startswith("ruamel")
