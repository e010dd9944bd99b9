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
# What may precede the userinfo in a URL as typed: an `--endpoint` NAME= and a well-formed scheme://.
_URL_PREFIX = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_.:@-]*=)?[A-Za-z][A-Za-z0-9+.-]*://")
# Prefix length from which a cut-off echo of a long secret is still masked (Redis echoes at most
# 128 characters of arguments, so a long password comes back truncated).
_PREFIX = 12


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc" or ch in _BIDI


def strip_controls(text: str) -> str:
    """Replace C0/C1 controls (ESC, BEL, CR, LF, TAB, DEL, CSI, ...) and bidi overrides by a space.

    A space keeps words apart where a line break or tab separated them; the result is one line.
    """
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(" " if _unsafe(ch) else ch for ch in text)


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
    return _URL_USERINFO.sub(lambda m: f"{m.group('head')}:{MASK}@", text)
