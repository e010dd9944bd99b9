"""`--endpoint NAME=URL` parsing: accepted forms, defaults, and usage errors for bad URLs."""

from __future__ import annotations

import pytest

from cdbctl.errors import ExitCode, UsageError
from cdbctl.verify.model import Endpoint, Kind
from cdbctl.verify.urls import parse_endpoint_option, parse_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "expected", "kind", "display"),
    [
        ("http://127.0.0.1:8001/health", Endpoint("http", "127.0.0.1", 8001, "/health"), Kind.http,
         "http://127.0.0.1:8001/health"),
        ("http://127.0.0.1", Endpoint("http", "127.0.0.1", 80, "/"), Kind.http, "http://127.0.0.1:80/"),
        ("https://localhost/health?deep=1", Endpoint("https", "localhost", 443, "/health?deep=1"), Kind.http,
         "https://localhost:443/health?deep=1"),
        ("tcp://127.0.0.1:5672", Endpoint("tcp", "127.0.0.1", 5672), Kind.tcp, "tcp://127.0.0.1:5672"),
        ("redis://127.0.0.1", Endpoint("redis", "127.0.0.1", 6379), Kind.redis, "redis://127.0.0.1:6379"),
        ("redis://:s%40cret@127.0.0.1:6380/2",
         Endpoint("redis", "127.0.0.1", 6380, "/2", None, "s@cret", "2"), Kind.redis,
         "redis://:***@127.0.0.1:6380/2"),
        ("redis://app:pw@127.0.0.1:6379", Endpoint("redis", "127.0.0.1", 6379, "/", "app", "pw"), Kind.redis,
         "redis://app:***@127.0.0.1:6379"),
        ("rediss://:pw@127.0.0.1:6390/1", Endpoint("redis", "127.0.0.1", 6390, "/1", None, "pw", "1", tls=True),
         Kind.redis, "rediss://:***@127.0.0.1:6390/1"),
        ("postgresql://cdb:pw@127.0.0.1/claire", Endpoint("postgres", "127.0.0.1", 5432, "/claire", "cdb", "pw",
         "claire"), Kind.postgres, "postgresql://cdb:***@127.0.0.1:5432/claire"),
        ("postgres://cdb@127.0.0.1:5433", Endpoint("postgres", "127.0.0.1", 5433, "/", "cdb"), Kind.postgres,
         "postgresql://cdb@127.0.0.1:5433"),
        ("HTTP://[::1]:8001/h", Endpoint("http", "::1", 8001, "/h"), Kind.http, "http://[::1]:8001/h"),
    ],
)  # fmt: skip
def test_valid_urls(url: str, expected: Endpoint, kind: Kind, display: str) -> None:
    ep = parse_url(url)
    assert ep == expected
    assert ep.kind is kind
    assert ep.display == display
    assert "pw" not in ep.display and "cret" not in ep.display


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("api=ftp://127.0.0.1/x", "unsupported URL scheme 'ftp'"),
        ("api=mysql://127.0.0.1:3306", "unsupported URL scheme 'mysql'"),
        ("api=127.0.0.1:8001", "no scheme://"),
        ("api=http://", "no host"),
        ("api=http://127.0.0.1:99999/", "bad port"),
        ("api=http://127.0.0.1:abc/", "bad port"),
        ("api=tcp://127.0.0.1", "tcp needs a port"),
        ("api=tcp://127.0.0.1:80/path", "tcp takes no path"),
        ("api=redis://127.0.0.1:6379/zero", "redis database must be a number"),
        ("api=http://127.0.0.1:0/", "port 0"),
        ("api=http://exa mple/", "contains whitespace"),
        ("api=", "empty"),
        ("http://127.0.0.1:8001", "expected NAME=URL"),  # NAME missing
        ("=http://127.0.0.1:8001", "expected NAME=URL"),
        ("no-equals-sign", "expected NAME=URL"),
        ("bad name=http://127.0.0.1:1", "bad endpoint name"),
        ("api=http://[::1/health", "malformed URL"),  # urlsplit raises ValueError: Invalid IPv6 URL
        ("api=http://[zz]:8001/", "malformed URL"),  # not an IPv6 literal
        ("api=redis://[::1:6379", "malformed URL"),
    ],
)
def test_bad_endpoints_are_usage_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_endpoint_option(value)
    assert message in str(info.value)
    assert info.value.exit_code == ExitCode.USAGE


def test_endpoint_option_names_the_check() -> None:
    spec = parse_endpoint_option("cdb_core=http://127.0.0.1:8001/health")
    assert (spec.name, spec.service, spec.endpoint.port) == ("cdb_core", "cdb_core", 8001)
