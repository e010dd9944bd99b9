"""JSONL blocks: split into cache-sized pieces of whole lines, numbered on, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdbctl.risk.io import LineBlock

pytestmark = pytest.mark.unit


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"x")), max_size=30),
    st.booleans(),
    st.integers(1, 300),
    st.integers(1, 10**6),
)
def test_pieces_are_whole_lines_numbered_on(
    lines: list[bytes], final_newline: bool, size: int, first: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    pieces = list(LineBlock(data, first, data.count(b"\n")).split(size))
    assert b"".join(p.data for p in pieces) == data
    assert all(p.data.endswith(b"\n") for p in pieces[:-1])
    line = first
    for piece in pieces:
        assert (piece.first, piece.newlines) == (line, piece.data.count(b"\n"))
        line += piece.newlines
    assert all(len(p.data) < size + 41 for p in pieces)  # each about `size`: its last line completes it


def test_a_block_below_the_size_is_one_piece() -> None:
    block = LineBlock(b'{"a": 1}\n{"b": 2}\n', 3, 2)
    assert list(block.split(1 << 16)) == [block]
