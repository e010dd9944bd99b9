"""Parsing and validating `--endpoint NAME=URL` values into Endpoint records."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from cdbctl.errors import UsageError
from cdbctl.sanitize import mask_secrets, mask_url
from cdbctl.verify.model import Endpoint, ProbeSpec

# Scheme aliases accepted on the command line, mapped to the probe registry key.
SCHEMES: dict[str, str] = {
    "http": "http",
    "https": "https",
    "tcp": "tcp",
    "redis": "redis",
    "rediss": "redis",  # Redis over TLS
    "postgres": "postgres",
    "postgresql": "postgres",
}
DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443, "redis": 6379, "postgres": 5432}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]*")
_HINT = (
    "use NAME=URL with a scheme of http, https, tcp, redis, rediss or postgresql, "
    "e.g. api=http://127.0.0.1:8001/health"
)


def parse_url(url: str, *, where: str = "--endpoint") -> Endpoint:
    """Parse one endpoint URL; raise UsageError naming what is wrong (never showing its password)."""
    shown = mask_url(url)
    if not url or any(ch.isspace() for ch in url):
        raise UsageError(f"malformed URL {shown!r} (empty or contains whitespace)", where=where, hint=_HINT)
    try:
        parts = urlsplit(url)
        host = parts.hostname  # validates a bracketed IPv6 literal
    except ValueError as exc:  # "Invalid IPv6 URL", "'zz' does not appear to be an IPv4 or IPv6 address"
        cause = mask_secrets(str(exc), _userinfo_secrets(url))
        raise UsageError(f"malformed URL {shown!r} ({cause})", where=where, hint=_HINT) from None
    raw_scheme = parts.scheme.lower()
    if "://" not in url or not raw_scheme:
        raise UsageError(f"malformed URL {shown!r} (no scheme://)", where=where, hint=_HINT)
    scheme = SCHEMES.get(raw_scheme)
    if scheme is None:
        raise UsageError(f"unsupported URL scheme {parts.scheme!r} in {shown!r}", where=where, hint=_HINT)
    if not host:
        raise UsageError(f"malformed URL {shown!r} (no host)", where=where, hint=_HINT)
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"malformed URL {shown!r} (bad port)", where=where, hint=_HINT) from None
    if port is None:
        if scheme == "tcp":
            raise UsageError(f"malformed URL {shown!r} (tcp needs a port)", where=where, hint=_HINT)
        port = DEFAULT_PORTS[scheme]
    if port == 0:
        raise UsageError(f"malformed URL {shown!r} (port 0)", where=where, hint=_HINT)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    database: str | None = None
    if scheme == "redis":
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise UsageError(f"malformed URL {shown!r} (redis database must be a number)", where=where)
        database = db or None
    elif scheme == "postgres":
        database = unquote(parts.path.lstrip("/")) or None
    elif scheme == "tcp" and parts.path not in ("", "/"):
        raise UsageError(f"malformed URL {shown!r} (tcp takes no path)", where=where, hint=_HINT)
    return Endpoint(scheme, host, port, path, username, password, database, tls=raw_scheme == "rediss")


def _userinfo_secrets(url: str) -> list[str]:
    """What may be a password in a URL that urlsplit rejected: all after the first ':' of the userinfo."""
    userinfo = url.partition("://")[2].rpartition("@")[0]
    secret = userinfo.partition(":")[2]
    return [secret, unquote(secret)] if secret else []


def parse_endpoint_option(value: str) -> ProbeSpec:
    """Parse `NAME=URL` from the command line into a probe spec."""
    name, sep, url = value.partition("=")
    name = name.strip()
    if not sep or not name or "://" in name:  # 'redis://:pw=x@h' without NAME= splits inside the URL
        raise UsageError(
            f"bad --endpoint {mask_url(value)!r} (expected NAME=URL)", where="--endpoint", hint=_HINT
        )
    if not _NAME.fullmatch(name):
        # Not the name alone: a URL without NAME= may split inside its userinfo (':pw=x@h').
        raise UsageError(
            f"bad endpoint name in {mask_url(value)!r} (letters, digits and _.:@- only)",
            where="--endpoint",
        )
    # 'cdb:pw=@h' (a password before a stray '=') parses as the name 'cdb:pw': name it only when
    # the masked value still shows it whole.
    where = f"--endpoint {name}" if mask_url(value).startswith(f"{name}=") else "--endpoint"
    return ProbeSpec(name=name, service=name, endpoint=parse_url(url.strip(), where=where))
