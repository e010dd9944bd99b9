"""The per-file decision of a rerun: every combination of file, base, template change and per-file choice."""

from __future__ import annotations

import pytest

from cdbctl.errors import InputError
from cdbctl.scaffold import state as st
from cdbctl.scaffold.reconcile import OVERWRITE, SKIP, choices, decide, usable_base

pytestmark = pytest.mark.unit

G = b"one\ntwo\nthree\nfour\n"  # what the templates rendered last time (the base)
NEW = b"one\ntwo\nthree\nfour\nfive\n"  # the template now adds a line at the end
EDIT = b"ONE\ntwo\nthree\nfour\n"  # the user changed the first line
CLASH = b"one\ntwo\nthree\nfour\nmine\n"  # the user added a line where the template adds one
MARKED = b"<<<<<<< yours\nx\n=======\ny\n>>>>>>> template 1\n"

# current, recorded base (None: never generated), base kept (None: an older cdbctl kept none),
# create_only, force, choice -> status, written bytes, recorded base (None: entry dropped)
CASES = [
    (None, None, None, False, False, None, "created", NEW, NEW),
    (NEW, None, None, False, False, None, "identical", None, NEW),
    (NEW, G, G, False, False, None, "identical", None, NEW),
    (G, G, G, False, False, None, "updated", NEW, NEW),  # unedited: plain update
    (G, G, None, False, False, None, "updated", NEW, NEW),  # ... also without a kept base
    (EDIT, G, G, False, False, None, "merged", b"ONE\ntwo\nthree\nfour\nfive\n", NEW),
    (EDIT, NEW, NEW, False, False, None, "kept", None, NEW),  # edited, template unchanged
    (EDIT, NEW, None, False, False, None, "kept", None, NEW),  # ... its base is the render that matches
    (EDIT, G, G, False, True, None, "updated", NEW, NEW),  # --force
    (EDIT, None, None, False, False, None, "conflict", None, None),  # foreign file: blocks the run
    (EDIT, None, None, False, True, None, "updated", NEW, NEW),
    (EDIT, None, None, True, False, None, "kept", None, None),  # the user's own .dockerignore wins
    (EDIT, None, None, True, True, None, "kept", None, None),  # ... even with --force
    (G, G, G, True, False, None, "updated", NEW, NEW),
    (EDIT, G, G, True, False, None, "merged", b"ONE\ntwo\nthree\nfour\nfive\n", NEW),
    (MARKED, G, G, False, False, None, "conflict", None, G),  # unresolved: not merged again
    (MARKED, G, G, False, True, None, "updated", NEW, NEW),
    (EDIT, G, G, False, False, SKIP, "skipped", None, NEW),  # the template change declined
    (EDIT, None, None, False, False, SKIP, "skipped", None, None),
    (None, G, G, False, False, SKIP, "skipped", None, G),  # a deleted file stays deleted
    (MARKED, G, G, False, False, SKIP, "skipped", None, NEW),
    (EDIT, G, G, False, False, OVERWRITE, "updated", NEW, NEW),
    (EDIT, None, None, False, False, OVERWRITE, "updated", NEW, NEW),
    (MARKED, G, G, False, False, OVERWRITE, "updated", NEW, NEW),
    (None, G, G, False, False, OVERWRITE, "created", NEW, NEW),
]


@pytest.mark.parametrize(
    ("current", "recorded", "base", "create_only", "force", "choice", "status", "written", "record"), CASES
)
def test_decide(  # noqa: PLR0917  (pytest passes parameters positionally)
    current: bytes | None, recorded: bytes | None, base: bytes | None, create_only: bool, force: bool,
    choice: str | None, status: str, written: bytes | None, record: bytes | None,
) -> None:  # fmt: skip
    d = decide(
        current,
        NEW,
        st.digest(recorded) if recorded is not None else None,
        base,
        create_only=create_only,
        force=force,
        choice=choice,
    )
    assert (d.status, d.write) == (status, written)
    assert d.record == (st.digest(record) if record is not None else None)
    assert d.base == record  # the base kept is always the bytes whose digest is recorded
    assert d.blocking == (status == "conflict" and recorded is None)


def test_overlapping_edit_writes_markers_and_advances_the_base() -> None:
    d = decide(CLASH, NEW, st.digest(G), G, label="0.4.0 (abc)")
    assert d.status == "conflict" and not d.blocking
    assert (
        d.write
        == b"one\ntwo\nthree\nfour\n<<<<<<< yours\nmine\n||||||| base\n=======\nfive\n>>>>>>> template 0.4.0 (abc)\n"
    )
    assert d.record == st.digest(NEW)  # the next run compares with this render; the markers block it


def test_no_base_kept_marks_every_difference() -> None:
    """A state of an older cdbctl (digest only): the edit and the template change both show, marked."""
    d = decide(EDIT, NEW, st.digest(G), None)
    assert d.status == "conflict"
    assert d.write is not None and d.write.count(b"<<<<<<< yours") == 2
    assert b"ONE\n" in d.write and b"five\n" in d.write
    assert "no base was kept" in d.detail


def test_binary_file_edited_on_both_sides_is_left_alone() -> None:
    g, new, mine = b"\x00\x01", b"\x00\x02", b"\x00\x03"
    d = decide(mine, new, st.digest(g), None)
    assert (d.status, d.write, d.record) == ("conflict", None, st.digest(g))


def test_already_merged_by_hand_is_kept() -> None:
    d = decide(b"ONE\ntwo\nthree\nfour\nfive\n", NEW, st.digest(G), G)
    assert (d.status, d.write, d.record) == ("kept", None, st.digest(NEW))


def test_choices_name_generated_files_only() -> None:
    planned = ["a/Dockerfile", "a/app/main.py"]
    assert choices(planned, frozenset({"a/Dockerfile"}), frozenset({"a/app/main.py"})) == {
        "a/Dockerfile": SKIP,
        "a/app/main.py": OVERWRITE,
    }
    with pytest.raises(InputError, match="--skip: not a file this run generates") as info:
        choices(planned, frozenset({"a/nope"}), frozenset())
    assert info.value.where == "a/nope"
    with pytest.raises(InputError, match="both --skip and --overwrite"):
        choices(planned, frozenset({"a/Dockerfile"}), frozenset({"a/Dockerfile"}))


def test_a_crlf_checkout_is_merged_in_crlf_and_its_base_recognised() -> None:
    """git core.autocrlf checks out the file and its base with CRLF; the recorded digest is of LF bytes."""
    crlf = G.replace(b"\n", b"\r\n")
    assert usable_base(crlf, st.digest(G)) == G
    assert usable_base(G, st.digest(G)) == G
    assert usable_base(b"other\n", st.digest(G)) is None
    assert usable_base(None, st.digest(G)) is None and usable_base(G, None) is None
    d = decide(EDIT.replace(b"\n", b"\r\n"), NEW, st.digest(G), G)
    assert (d.status, d.write) == ("merged", b"ONE\r\ntwo\r\nthree\r\nfour\r\nfive\r\n")
    assert d.base == NEW  # the base kept is the render itself, LF
    unedited = decide(crlf, NEW, st.digest(G), G)  # not edited, only checked out CRLF
    assert (unedited.status, unedited.write) == ("merged", NEW.replace(b"\n", b"\r\n"))


def test_a_crlf_conflict_keeps_the_render_as_its_base_like_a_clean_merge() -> None:
    """The base kept after a conflict in a CRLF checkout was the CRLF copy (after a clean merge, LF):
    the base directory then differed by line endings depending on how the last merge went."""
    d = decide(CLASH.replace(b"\n", b"\r\n"), NEW, st.digest(G), G)
    assert d.status == "conflict" and d.write is not None and b"\r\n>>>>>>> template" in d.write
    assert (d.base, d.record) == (NEW, st.digest(NEW))
