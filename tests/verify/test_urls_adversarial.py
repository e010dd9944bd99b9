"""Property: no URL, however malformed, shows its password in an error or a report target."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from cdbctl.errors import UsageError
from cdbctl.sanitize import clean
from cdbctl.verify.urls import parse_endpoint_option

pytestmark = pytest.mark.unit

MARK = "QXJ"  # starts every generated password; it must never be seen
SCHEMES = ["redis", "rediss", "postgresql", "http", "tcp", "", "redis:", "redis:/"]
HOSTS = ["127.0.0.1", "", "[::1", "[zz]", "h:0", "h:x", "h:99999", "h:1/x", "h:6379/db", "h:1:2"]


@given(
    scheme=st.sampled_from(SCHEMES),
    user=st.sampled_from(["", "cdb", "a:b"]),
    rest=st.text(st.characters(blacklist_categories=["Cs"]), max_size=12),
    host=st.sampled_from(HOSTS),
    named=st.booleans(),
)
@example(scheme="redis", user="", rest=" x", host="127.0.0.1", named=True)
@example(scheme="redis", user="", rest="=1", host="127.0.0.1", named=False)
@example(scheme="redis", user="", rest="/x", host="127.0.0.1", named=True)
def test_a_url_never_shows_its_password(scheme: str, user: str, rest: str, host: str, named: bool) -> None:
    sep = "://" if scheme and not scheme.endswith((":", "/")) else ""
    password = MARK + rest
    url = f"{scheme}{sep}{user}:{password}@{host}"
    try:
        spec = parse_endpoint_option(f"db={url}" if named else url)
    except UsageError as exc:
        shown = clean(str(exc)) + clean(exc.hint or "")
    else:
        shown = spec.endpoint.display
    assert MARK not in shown
