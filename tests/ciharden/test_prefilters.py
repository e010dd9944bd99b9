"""Cheap checks that run before a costlier regex (composer's anchor/alias test, the gate index's
``$GITHUB_ENV`` writers) give the same answer as the regex alone, on the corpus and generated text."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdbctl.ciharden.composer import _has_aliases
from cdbctl.ciharden.policy import _SETS_VAR, _sets_vars
from tests.ciharden.conftest import corpus_files

pytestmark = pytest.mark.unit

# the definition: an anchor and an alias, each at the start or after a blank or flow indicator
_ANCHOR = re.compile(r"(?:^|[\s\[{,])&[^\s\[\]{},]")
_ALIAS = re.compile(r"(?:^|[\s\[{,])\*[^\s\[\]{},]")

CORPUS = [p.read_text(encoding="utf-8") for p in corpus_files()]
TEXTS = [
    "a: &x 1\nb: *x\n",
    "&x [1]\n- *x",
    "[&a 1, *a]",
    "{k: &a v, j: *a}",
    "run: make && ls *.py",
    "run: echo a&&b *",
    "x: \u2028&a 1\ny:\u3000*a",
    "",
]


@pytest.mark.parametrize("text", CORPUS + TEXTS)
def test_alias_prefilter_agrees_with_the_regexes(text: str) -> None:
    assert _has_aliases(text) == bool(_ANCHOR.search(text) and _ALIAS.search(text))


@pytest.mark.parametrize("text", CORPUS + TEXTS)
def test_github_env_prefilter_agrees_with_the_regex(text: str) -> None:
    assert _sets_vars(text) == set(_SETS_VAR.findall(text))


_PIECES = st.sampled_from(
    [
        *"&*[]{},: \t\n\u2028\u3000ax=",
        "GITHUB_ENV",
        "github_output",
        "$GITHUB_OUTPUT",
        ">> ",
        "ok=1 ",
        "| Out-File ",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_prefilters_agree_on_generated_text(text: str) -> None:
    assert _has_aliases(text) == bool(_ANCHOR.search(text) and _ALIAS.search(text))
    assert _sets_vars(text) == set(_SETS_VAR.findall(text))
