"""The dotenv dialect of Compose v2 (`.env`, `env_file`); tests/verify/test_compose_cli.py compares it with Compose."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdbctl.errors import InputError
from cdbctl.verify.dotenv import parse_dotenv

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "lookup", "expected"),
    [
        ("A=1\n# comment\n\nexport B=2\nC: 3\n", {}, {"A": "1", "B": "2", "C": "3"}),
        ("A=a #comment\nB=a#b\nC=  spaced  \n", {}, {"A": "a", "B": "a#b", "C": "spaced"}),
        ("A='x #y $Z'\nB=\"x #y $Z\"\n", {"Z": "z"}, {"A": "x #y $Z", "B": "x #y z"}),
        ("A=\"one\ntwo\"\nB='3\n4'\n", {}, {"A": "one\ntwo", "B": "3\n4"}),
        ('A="q\\"uote\\n\\\\"\n', {}, {"A": 'q"uote\n\\'}),
        ("BARE\nGONE\n", {"BARE": "from-env"}, {"BARE": "from-env"}),
        ("A=1\nB=${A}2\nC=${D:-d}\n", {}, {"A": "1", "B": "12", "C": "d"}),
        ("A=$(cat x) 5$\n", {}, {"A": "$(cat x) 5$"}),
    ],
)
def test_parse(text: str, lookup: dict[str, str], expected: dict[str, str]) -> None:
    assert parse_dotenv(text, "app.env", lookup) == expected


def test_without_lookup_nothing_is_interpolated_and_bare_keys_are_skipped() -> None:
    assert parse_dotenv("A=${X}\nBARE\n", "app.env") == {"A": "${X}"}


@pytest.mark.parametrize(
    ("text", "where"),
    [("A=1\nnot a pair\n", "app.env:2"), ('A=1\nB="open\nC=2\n', "app.env:2"), ("=x\n", "app.env:1")],
)
def test_errors_name_the_line(text: str, where: str) -> None:
    with pytest.raises(InputError) as info:
        parse_dotenv(text, "app.env", {})
    assert info.value.where == where


@given(st.text(alphabet="AB=:#'\"\\$ {}\n\texport", max_size=60))
def test_never_crashes(text: str) -> None:
    try:
        out = parse_dotenv(text, "f", {"A": "a"})
    except InputError:
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in out.items())
