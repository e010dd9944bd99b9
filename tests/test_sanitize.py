"""The sanitising choke point: controls stripped, URL credentials and known secrets masked."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdbctl.sanitize import (
    _RAW_IN_JSON_BYTES,
    MASK,
    clean,
    escape_json_bytes,
    escape_json_text,
    mask_secrets,
    mask_url,
    strip_controls,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("\x1b]0;PWNED\x07title", " ]0;PWNED title"),
        ("\x1b[31mred\x1b[0m", " [31mred [0m"),
        ("a\x9b2Jb", "a 2Jb"),  # the 8-bit CSI (C1)
        ("line\r\nnext\ttab\x00nul\x7fdel", "line  next tab nul del"),
        ("abc\u202edcba", "abc dcba"),  # right-to-left override
        ("naïve café 日本", "naïve café 日本"),  # printable non-ASCII stays
    ],
)
def test_strip_controls(text: str, expected: str) -> None:
    assert strip_controls(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("redis://user:pw@h", "redis://user:***@h"),
        ("redis://user@h", "redis://user@h"),  # a user name is no secret
        ("redis://:p@w/x@h", "redis://:***@h"),  # up to the LAST '@'
        ("redis://:p w@h", "redis://:***@h"),
        ("redis:/:pw@h", "redis:***@h"),  # no "://": all after the first ":" is masked
        (":pw@h", ":***@h"),
        ("http://h/path", "http://h/path"),
    ],
)
def test_mask_url(raw: str, expected: str) -> None:
    assert mask_url(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see redis://admin:s3cret@10.0.0.1:6379 now", "see redis://admin:***@10.0.0.1:6379 now"),
        ("a postgresql://u:p@ss@h/db b", "a postgresql://u:***@h/db b"),
        ("two x://a:b@h and y://c:d@k", "two x://a:***@h and y://c:***@k"),
        ("mail me at bob@example.com", "mail me at bob@example.com"),
        (
            "postgresql://u@h/db?sslmode=require&password=pw1",
            "postgresql://u@h/db?sslmode=require&password=***",
        ),
        ("http://h:1/health?Token=abc&x=1", "http://h:1/health?Token=***&x=1"),
    ],
)
def test_clean_masks_credentials_of_any_url_in_free_text(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_mask_secrets_covers_encoded_and_truncated_echoes() -> None:
    secret = "correct horse!battery staple"
    text = f"a {secret} b correct%20horse%21battery%20staple c 'correct hors' d"
    masked = mask_secrets(text, [secret])
    assert masked == f"a {MASK} b {MASK} c '{MASK}' d"


def test_a_secret_holding_a_control_character_is_masked_before_and_after_stripping() -> None:
    assert clean("pw is ab\x1bcd", ["ab\x1bcd"]) == f"pw is {MASK}"


@given(st.text(), st.text(min_size=1))
def test_clean_never_leaves_a_control_or_the_secret(text: str, secret: str) -> None:
    out = clean(text + secret + text, [secret])
    assert not any(unicodedata.category(ch) == "Cc" for ch in out)
    assert strip_controls(secret) not in out or strip_controls(secret) in MASK


@given(st.text(alphabet=st.characters(blacklist_characters="@"), min_size=1), st.text(min_size=1))
def test_mask_url_never_shows_a_password(password: str, tail: str) -> None:
    shown = mask_url(f"redis://user:{password}@{tail.replace('@', '')}")
    assert shown.startswith(f"redis://user:{MASK}@")


@given(
    st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)
)
def test_escaped_json_keeps_the_data_and_holds_no_raw_control(data: object) -> None:
    import json

    import msgspec

    for text in (
        escape_json_bytes(msgspec.json.encode(data)).decode(),
        escape_json_text(json.dumps(data, ensure_ascii=False)),
    ):
        assert json.loads(text) == data
        assert strip_controls(text) == text


# Each escaped range's edges and the characters beside them, characters that share a lead byte (C2, D8,
# E2) or a second byte (E2 80, E2 81) with one, or whose continuation bytes fall in an escaped range
# after another lead byte (U+00C2 is C3 82, U+0600 is D8 80): where a byte-level scan could slip.
_EDGES = "".join(map(chr, (
    0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xE2, 0xFF, 0x100, 0x5FF, 0x600, 0x61B, 0x61C, 0x61D, 0x63F,
    0x640, 0x200D, 0x200E, 0x200F, 0x2010, 0x2029, 0x202A, 0x202E, 0x202F, 0x203F, 0x2040, 0x2065, 0x2066,
    0x2069, 0x206A, 0x20AC, 0x20BF, 0xE000, 0xFFFD, 0x10000, 0x1F600, 0x10FFFF,
)))  # fmt: skip
_ANY_CHAR = st.characters(exclude_categories=("Cs",))  # every code point UTF-8 can encode


@given(st.text(alphabet=st.one_of(st.sampled_from(_EDGES), _ANY_CHAR)))
def test_escaped_json_bytes_is_the_text_escape_encoded(text: str) -> None:
    """The byte scan that clears output without DEL or a lead byte agrees with the text escape."""
    assert escape_json_bytes(text.encode()) == escape_json_text(text).encode()


@given(
    st.lists(
        st.sampled_from(
            [c.encode() for c in _EDGES] + [b"\x80", b"\x9c", b"\xa6", b"\xc2", b"\xd8", b"\xe2", b"a"]
        )
    )
)
def test_escaped_json_bytes_scans_any_bytes_as_the_pattern_does(parts: list[bytes]) -> None:
    """The pre-scan only skips what the pattern cannot match, also for bytes that are not UTF-8."""
    data = b"".join(parts)
    want = _RAW_IN_JSON_BYTES.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)
    assert escape_json_bytes(data) == want
