"""The --dry-run diff written from the edits (not difflib): it applies with patch and gives exactly
the hardened file, for every corpus file and its CRLF / no-final-newline variants."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cdbctl.ciharden.harden import harden
from cdbctl.ciharden.hunks import unified
from cdbctl.ciharden.model import Edit
from cdbctl.ciharden.splice import unified_diff
from tests.ciharden.conftest import CORPUS, corpus_files

pytestmark = pytest.mark.unit

PATCH = shutil.which("patch")
LETTERS = "".join(f"{chr(97 + i)}\n" for i in range(20))


def variants(text: str) -> list[str]:
    lf = text.replace("\r\n", "\n")
    return [lf, lf.replace("\n", "\r\n"), lf.rstrip("\n"), lf.rstrip("\n").replace("\n", "\r\n")]


def patched(tmp_path: Path, before: str, diff: str) -> str:
    assert PATCH is not None, "patch is required"
    target = tmp_path / "x.yml"
    target.write_bytes(before.encode())
    subprocess.run([PATCH, "-s", "--binary", "-p1", "-d", str(tmp_path)], input=diff.encode(), check=True)
    return target.read_bytes().decode()


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_diff_from_edits_applies_to_give_the_hardened_file(path: Path, tmp_path: Path) -> None:
    for text in variants(path.read_bytes().decode()):
        result = harden(text, "x.yml", write=True)
        diff = unified("x.yml", result.original, result.edits)
        if not result.changed:
            assert diff == ""
            continue
        assert patched(tmp_path, result.original, diff) == result.hardened


def test_diff_from_edits_is_mostly_byte_identical_to_difflib() -> None:
    """difflib may align an ambiguous change (identical lines) differently; the rest is the same."""
    equal = total = 0
    for path in corpus_files():
        for text in variants(path.read_bytes().decode()):
            result = harden(text, "x.yml", write=True)
            if result.changed:
                total += 1
                equal += unified("x.yml", result.original, result.edits) == unified_diff(
                    "x.yml", result.original, result.hardened
                )
    assert total >= 50
    assert equal >= total * 0.8


@pytest.mark.parametrize(
    ("before", "edits"),
    [
        ("a\nb\nc\n", [Edit(2, 4, "")]),  # a whole line deleted
        ("a\nb", [Edit(3, 3, "\nc")]),  # appended to a last line without a newline
        ("a\nb\n", [Edit(4, 4, "c\n")]),  # appended after the final newline
        (LETTERS, [Edit(0, 2, ""), Edit(38, 40, "y\n")]),  # two hunks far apart
        (LETTERS, [Edit(0, 2, ""), Edit(10, 10, "z\n")]),  # one hunk: contexts overlap
        ("a\r\nb\r\n", [Edit(0, 1, "A")]),
    ],
)
def test_diff_from_edits_edge_cases(before: str, edits: list[Edit], tmp_path: Path) -> None:
    from cdbctl.ciharden.splice import apply_edits

    after = apply_edits(before, edits)
    diff = unified("x.yml", before, edits)
    assert patched(tmp_path, before, diff) == after
    assert diff == unified_diff("x.yml", before, after)
