"""The timestamp parser: the split path gives exactly what ``datetime.fromisoformat`` gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdbctl.risk.timeparse import _parse, parse_now, to_epoch

pytestmark = pytest.mark.unit


@st.composite
def iso_texts(draw: st.DrawFn) -> str:
    """ISO-8601-ish strings around the accepted shapes, valid and not."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    sep = draw(st.sampled_from(["T", "t", " ", "X"]))
    text = moment.strftime("%Y-%m-%d") + sep + moment.strftime("%H:%M")
    if draw(st.integers(0, 5)):
        text += f":{moment.second:02d}"
        digits = draw(
            st.sampled_from(["", "", "1", "12", "123", "1234", "12345", "123456", "1234567", "123456789"])
        )
        if digits or not draw(st.integers(0, 9)):
            text += draw(st.sampled_from([".", ","])) + digits
    text += draw(st.sampled_from(["Z", "Z", "+00:00", "-00:00", "+05:30", "-11:45", "+0530", "+05", "", "z",
                                  " Z", "+24:00", "+23:59", "+05:30:15", "Zx"]))  # fmt: skip
    return draw(st.sampled_from([text, text, f" {text}", text.replace(":", "", 1)]))


@settings(max_examples=1500, deadline=None)
@given(iso_texts() | st.text(max_size=30) | st.from_regex(r"\A[0-9]{1,16}\Z"))
def test_split_path_equals_fromisoformat(text: str) -> None:
    assert to_epoch(text) == _parse(text)
    assert to_epoch(text) == _parse(text)  # cached answers too


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-(10**20), max_value=10**400) | st.floats())
def test_numbers_equal_the_general_parser(value: float) -> None:
    expected = _parse(value)
    got = to_epoch(value)
    assert got == expected or (got is None and expected is None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-01-01T12:00:00Z", 1767268800.0),
        ("2026-01-01T12:00:00.123Z", 1767268800.123),
        ("2026-01-01T13:00:00.5+01:00", 1767268800.5),
        ("2026-01-01T12:00:00+00:00", 1767268800.0),
        (1767268800123, 1767268800.123),
        (1767268800, 1767268800.0),
        (1767268800.25, 1767268800.25),
        ("1767268800123", 1767268800.123),
        ("2026-01-01T12:00:00", None),  # naive: ambiguous
        ("2026-02-30T12:00:00Z", None),
        ("garbage", None),
        (True, None),
        (-5, None),
        (10**400, None),
    ],
)
def test_accepted_forms(raw: str | float, expected: float | None) -> None:
    assert to_epoch(raw) == expected


def test_parse_now() -> None:
    assert parse_now(None) is None
    assert parse_now(datetime(2026, 1, 1, 12, tzinfo=UTC)) == 1767268800.0
    assert parse_now(datetime(2026, 1, 1, 12)) is None
    assert parse_now(datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(milliseconds=5)) == 1767268800.005
