"""The gate_scripts prefilter (names_script_file) never skips a script that runs a repository script
file: held over every ``run:`` of the corpus, quoting tricks and generated scripts."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cdbctl.ciharden.readers import gate_scripts, names_script_file
from cdbctl.ciharden.shell_lex import commands, lex
from tests.ciharden.conftest import corpus_files

pytestmark = pytest.mark.unit

_SUFFIX = re.compile(r"\.(?:sh|bash|py)$")


def _names_a_script(script: str) -> bool:
    """The unfiltered question: does any word's value (any position) end in .sh/.bash/.py?"""
    return any(
        _SUFFIX.search(w.value)
        for cmd in commands(lex(script))
        for w in (*cmd.words, *cmd.prefix, *(t for _, t in cmd.redirects if t is not None))
    )


def _run_scripts(node: Node | None) -> list[str]:
    if isinstance(node, MappingNode):
        out = []
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value in ("run", "script") and isinstance(v, ScalarNode):
                out.append(v.value)
            out += _run_scripts(v)
        return out
    if isinstance(node, SequenceNode):
        return [s for item in node.value for s in _run_scripts(item)]
    return []


CORPUS_SCRIPTS = [
    s
    for p in corpus_files()
    for s in _run_scripts(yaml.compose(p.read_text(encoding="utf-8"), yaml.CSafeLoader))
]
TRICKS = [
    'bash "scripts/gate.sh"',
    "bash scripts/gate.s'h'",
    'python tools/che"ck".p\\y',
    "./gate.\\sh --strict",
    "sh 'ci/x.bash'",
    'python3 "$DIR"/x.py',
    "echo done\n./check.py",
]


def test_the_corpus_has_scripts_that_name_script_files() -> None:
    assert len(CORPUS_SCRIPTS) > 100
    assert any(_names_a_script(s) for s in CORPUS_SCRIPTS)


@pytest.mark.parametrize("script", CORPUS_SCRIPTS + TRICKS)
def test_the_prefilter_passes_every_script_that_names_a_script_file(script: str) -> None:
    if _names_a_script(script):
        assert names_script_file(script)


@pytest.mark.parametrize("script", TRICKS[:5] + TRICKS[6:])
def test_a_quoted_or_escaped_script_path_is_still_read(script: str) -> None:
    read: list[str] = []

    def reader(path: str) -> str:
        read.append(path)
        return "exit 1\n"

    assert gate_scripts(script, reader), script
    assert read


_PIECES = st.sampled_from([*"xshpy.ab \n'\"\\$;", "bash ", "python ", "./", "|| "])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_the_prefilter_never_skips_a_generated_script_that_names_a_script_file(script: str) -> None:
    if _names_a_script(script):
        assert names_script_file(script)
