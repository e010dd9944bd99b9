"""The one place that makes outside text safe to show: no control characters, no credentials.

Text from servers, containers, files and the command line can carry terminal escapes
(`ESC ]0;title BEL` retitles the terminal, `ESC [31m` recolours it) and passwords (a URL's
userinfo, or a server that echoes the AUTH arguments back). Every report field and every error
message passes through `clean` before it reaches stdout, stderr or JSON.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"

# Bidirectional overrides and isolates reorder what the reader sees ("Trojan Source",
# CVE-2021-42574); they are format characters (Cf), not controls (Cc), so list them by hand.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# scheme://user:password@ inside free text. The password runs to the last '@' before whitespace,
# so one containing '@', ':' or '/' is masked whole (over-masking a path is the safe side).
_URL_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*):(?P<pw>[^\s]*)@")
# A credential passed as a URL parameter (libpq's ?password=, a ?token= on a health URL).
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|token|access_token|secret|api_?key|apikey|auth)=)[^&#\s]*",
    re.IGNORECASE,
)
# What may precede the userinfo in a URL as typed: an `--endpoint` NAME= and a well-formed scheme://.
_URL_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.:@-]*=)?[A-Za-z][A-Za-z0-9+.-]*://")
# Prefix length from which a cut-off echo of a long secret is still masked (Redis echoes at most
# 128 characters of arguments, so a long password comes back truncated).
_PREFIX = 12


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI


def strip_controls(text: str, replacement: str = " ") -> str:
    """Replace C0/C1 controls (ESC, BEL, CR, LF, TAB, DEL, CSI, ...) and bidi overrides.

    By a space by default: it keeps words apart where a line break or tab separated them, and the
    result is one line. Rich output removes them instead ("" keeps its measured cell widths).
    """
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(replacement if _unsafe(ch) else ch for ch in text)


def mask_url(raw: str) -> str:
    """A URL as the user typed it, malformed or not, with everything after the userinfo ':' masked.

    The userinfo is everything between a leading `[NAME=]scheme://` and the LAST '@' (a password
    may hold '@', '/', '?', '#', '=' or spaces when the user forgot to percent-encode it), so no
    malformed form shows its password. A userinfo without ':' is a user name and stays.
    """
    head, at, host = raw.rpartition("@")
    if not at:
        return raw
    prefix = _URL_PREFIX.match(head)
    start = prefix.end() if prefix else 0
    user, colon, _ = head[start:].partition(":")
    if not colon:
        return raw
    return f"{head[:start]}{user}:{MASK}@{host}"


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret (and its percent-encoded form, and a long enough prefix) by ***."""
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, quote(secret, safe=""), quote(secret, safe=":@")}
        if len(secret) > _PREFIX:
            forms.add(secret[:_PREFIX])  # a truncated echo still begins with the secret
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, MASK)
    return text


def clean(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Outside text made safe for a terminal, a log or JSON: controls stripped, credentials masked."""
    known = [s for s in secrets if s]
    # Secrets first (one may hold a control character), then again as they read once stripped.
    text = strip_controls(mask_secrets(text, known))
    text = mask_secrets(text, [strip_controls(s) for s in known])
    text = _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group('head')}{MASK}", text)


# The controls JSON encoders leave raw (they escape only U+0000-U+001F): DEL, C1, bidi. In JSON
# text they can only stand inside strings, so escaping them keeps the document and its data.
_RAW_IN_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# The same characters UTF-8 encoded (each lead byte here is never a continuation byte).
_RAW_IN_JSON_BYTES = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)


_LEAD_BYTES = (b"\xc2", b"\xd8", b"\xe2")


def escape_json_text(text: str) -> str:
    """JSON text with DEL, C1 and bidi controls as \\u escapes (the same data once decoded)."""
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def escape_json_bytes(data: bytes) -> bytes:
    """escape_json_text for UTF-8 encoded JSON (msgspec's output)."""
    # Every byte sequence to escape starts with DEL or a lead byte C2, D8 or E2: output without them
    # (ASCII, the usual case) is cleared by memchr-speed scans, where the pattern costs ~6 ns per byte
    if b"\x7f" not in data and (data.isascii() or not any(lead in data for lead in _LEAD_BYTES)):
        return data
    if not _RAW_IN_JSON_BYTES.search(data):
        return data
    return _RAW_IN_JSON_BYTES.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), data)
