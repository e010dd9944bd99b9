"""The three-way merge: byte-exact (CRLF, no final newline), diff3 regions, conflict markers, no loss."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from cdbctl.scaffold.merge import has_markers, is_text, mark_differences, merge3, split_lines

pytestmark = pytest.mark.unit

BASE = b"one\ntwo\nthree\nfour\nfive\nsix\n"


@pytest.mark.parametrize(
    ("base", "yours", "theirs", "merged"),
    [
        # Changes far apart merge; each side's change is taken.
        (
            BASE,
            BASE.replace(b"one", b"ONE"),
            BASE.replace(b"six", b"SIX"),
            b"ONE\ntwo\nthree\nfour\nfive\nSIX\n",
        ),
        # One side unchanged: the other side's bytes exactly.
        (BASE, BASE, b"x\n", b"x\n"),
        (BASE, b"mine\n", BASE, b"mine\n"),
        # The same change on both sides is taken once.
        (BASE, BASE.replace(b"three", b"3"), BASE.replace(b"three", b"3"), BASE.replace(b"three", b"3")),
        # Deletions: one side deletes, the other edits elsewhere; both delete the same line.
        (BASE, BASE.replace(b"two\n", b""), BASE.replace(b"five", b"5"), b"one\nthree\nfour\n5\nsix\n"),
        (BASE, BASE.replace(b"two\n", b""), BASE.replace(b"two\n", b""), BASE.replace(b"two\n", b"")),
        # Insertions at both ends.
        (BASE, b"head\n" + BASE, BASE + b"tail\n", b"head\n" + BASE + b"tail\n"),
        # CRLF stays CRLF, a lone CR inside a line stays.
        (
            b"a\r\nb\r\nc\r\nd\r\ne\r\n",
            b"A\r\nb\r\nc\r\nd\r\ne\r\n",
            b"a\r\nb\r\nc\r\nd\r\nE\rx\r\n",
            b"A\r\nb\r\nc\r\nd\r\nE\rx\r\n",
        ),
        # No final newline, kept by a clean merge on either side.
        (b"a\nb\nc\nd", b"A\nb\nc\nd", b"a\nb\nc\nD", b"A\nb\nc\nD"),
        (b"a\nb\nc\nd", b"A\nb\nc\nd", b"a\nb\nc\nd\n", b"A\nb\nc\nd\n"),
        # Empty files.
        (b"", b"", b"new\n", b"new\n"),
        (b"x\n", b"x\n", b"", b""),
    ],
)
def test_clean_merges_are_byte_exact(base: bytes, yours: bytes, theirs: bytes, merged: bytes) -> None:
    result = merge3(base, yours, theirs)
    assert result.conflicts == 0
    assert result.data == merged
    assert not has_markers(result.data)


def test_overlapping_changes_become_a_diff3_block() -> None:
    result = merge3(BASE, BASE.replace(b"three", b"mine"), BASE.replace(b"three", b"theirs"), label="0.4.0")
    assert result.conflicts == 1
    assert result.data == (
        b"one\ntwo\n"
        b"<<<<<<< yours\nmine\n||||||| base\nthree\n=======\ntheirs\n>>>>>>> template 0.4.0\n"
        b"four\nfive\nsix\n"
    )
    assert has_markers(result.data)


def test_delete_against_edit_is_a_conflict() -> None:
    result = merge3(BASE, BASE.replace(b"four\n", b""), BASE.replace(b"four", b"FOUR"))
    assert result.conflicts == 1
    assert b"<<<<<<< yours\n||||||| base\nfour\n=======\nFOUR\n>>>>>>> template\n" in result.data


def test_conflict_markers_use_the_files_crlf_and_end_every_line() -> None:
    result = merge3(b"a\r\nb", b"a\r\nmine", b"a\r\ntheirs", label="1.0")
    assert result.data == (
        b"a\r\n<<<<<<< yours\r\nmine\r\n||||||| base\r\nb\r\n=======\r\ntheirs\r\n>>>>>>> template 1.0\r\n"
    )


def test_lines_both_sides_added_stay_outside_the_block() -> None:
    result = merge3(b"a\nz\n", b"a\nsame\nmine\nz\n", b"a\nsame\ntheirs\nz\n")
    assert result.data.startswith(b"a\nsame\n<<<<<<< yours\nmine\n")
    assert result.data.count(b"same") == 1


def test_mark_differences_without_a_base() -> None:
    result = mark_differences(b"a\nmine\nc\n", b"a\ntheirs\nc\nd\n", label="1.0")
    assert result.conflicts == 2
    assert result.data == (
        b"a\n<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> template 1.0\n"
        b"c\n<<<<<<< yours\n=======\nd\n>>>>>>> template 1.0\n"
    )
    assert mark_differences(b"same\n", b"same\n").data == b"same\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"<<<<<<< yours\nx\n>>>>>>> template 1.0\n", True),
        (b"<<<<<<< yours\r\nx\r\n=======\r\n>>>>>>> template\r\n", True),
        (b"<<<<<<< HEAD\nx\n>>>>>>> other\n", False),  # not scaffold's
        (b"# <<<<<<< yours and >>>>>>> template in a comment\n", False),
        (b"", False),
    ],
)
def test_has_markers(data: bytes, expected: bool) -> None:
    assert has_markers(data) is expected


def test_is_text_and_split_lines() -> None:
    assert is_text(b"caf\xc3\xa9\r\n") and not is_text(b"\x00\x01") and not is_text(b"\xff\xfe")
    for data in (b"", b"a", b"a\n", b"a\r\nb", b"\n\n", b"a\rb\n"):
        assert b"".join(split_lines(data)) == data


# Property: lines are unique per origin (b = base, y = yours, t = template), so which lines a merge kept,
# dropped or added can be read off its result.


@hs.composite
def _edited(draw: hs.DrawFn, base: list[str], side: str) -> list[str]:
    out: list[str] = []
    for i, line in enumerate(base):
        out += [f"{side}{i}-{k}" for k in range(draw(hs.integers(0, 2)))]  # insertions before line i
        op = draw(hs.sampled_from(["keep", "keep", "keep", "delete", "replace"]))
        if op == "keep":
            out.append(line)
        elif op == "replace":
            out.append(f"{side}{i}-r")
    out += [f"{side}end-{k}" for k in range(draw(hs.integers(0, 2)))]
    return out


@hs.composite
def _scenario(draw: hs.DrawFn) -> tuple[list[str], list[str], list[str], bytes, bool]:
    base = [f"b{i}" for i in range(draw(hs.integers(0, 12)))]
    eol = draw(hs.sampled_from([b"\n", b"\r\n"]))
    return base, draw(_edited(base, "y")), draw(_edited(base, "t")), eol, draw(hs.booleans())


def _join(lines: list[str], eol: bytes, final: bool) -> bytes:
    data = eol.join(line.encode() for line in lines)
    return data + eol if lines and final else data


@settings(max_examples=400, deadline=None)
@given(_scenario())
def test_a_merge_never_loses_a_change(scenario: tuple[list[str], list[str], list[str], bytes, bool]) -> None:
    """Random edits x random template changes: a clean merge holds both sides' changes (and no line either
    side deleted); a conflict holds every line both sides added, between markers. Never a silent loss."""
    base, yours, theirs, eol, final = scenario
    result = merge3(_join(base, eol, final), _join(yours, eol, final), _join(theirs, eol, final))
    lines = [line.rstrip(b"\r\n").decode() for line in split_lines(result.data)]
    added = (set(yours) | set(theirs)) - set(base)
    assert added <= set(lines)
    if result.conflicts == 0:
        assert not has_markers(result.data)
        deleted = (set(base) - set(yours)) | (set(base) - set(theirs))
        assert not deleted & set(lines)
        assert [line for line in lines if line in set(base)] == [
            b for b in base if b in yours and b in theirs
        ]
        # Clean merges keep the line ending: every line ends with eol except, maybe, the last.
        assert all(line.endswith(eol) for line in split_lines(result.data)[:-1])
    else:
        assert lines.count("<<<<<<< yours") == result.conflicts
        assert sum(line.startswith(">>>>>>> template") for line in lines) == result.conflicts


@settings(max_examples=200, deadline=None)
@given(_scenario())
def test_merge_identities(scenario: tuple[list[str], list[str], list[str], bytes, bool]) -> None:
    """Unchanged on one side gives the other side byte for byte; the same change on both is taken once."""
    base, yours, theirs, eol, final = scenario
    b, y, t = _join(base, eol, final), _join(yours, eol, final), _join(theirs, eol, not final)
    assert merge3(b, b, t).data == t
    assert merge3(b, y, b).data == y
    assert merge3(b, y, y).data == y
    assert merge3(b, y, y).conflicts == 0


_REPEATED = hs.lists(hs.sampled_from([b"a\n", b"b\n", b"\n", b"a\r\n", b"a", b"x\r"]), max_size=12).map(
    b"".join
)


@settings(max_examples=300, deadline=None)
@given(base=_REPEATED, yours=_REPEATED, theirs=_REPEATED)
def test_repeated_lines_never_lose_bytes(base: bytes, yours: bytes, theirs: bytes) -> None:
    """Blank and repeated lines (where a diff can align several ways): the identities hold, and every
    line of a side that changed a region survives, merged or inside a conflict block."""
    assert merge3(base, base, theirs).data == theirs
    assert merge3(base, yours, base).data == yours
    assert merge3(base, yours, yours).data == yours
    result = merge3(base, yours, theirs)
    if result.conflicts:
        assert has_markers(result.data)
    for side in (yours, theirs):
        for line in set(split_lines(side)) - set(split_lines(base)):
            assert line.rstrip(b"\r\n") in result.data
