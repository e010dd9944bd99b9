"""Property tests: parsers of user input never crash, they return or raise the documented error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdbctl.errors import InputError, UsageError
from cdbctl.verify.discovery import parse_ports
from cdbctl.verify.interpolation import interpolate
from cdbctl.verify.urls import parse_endpoint_option

pytestmark = pytest.mark.unit

url_like = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda name, scheme, rest: f"{name}={scheme}://{rest}",
        st.text(max_size=8),
        st.sampled_from(["http", "https", "tcp", "redis", "postgresql", "postgres", "ftp", ""]),
        st.text(alphabet="abc123.:/@[]%?#-_ ", max_size=40),
    ),
)


@given(url_like)
def test_endpoint_parsing_never_crashes(value: str) -> None:
    try:
        spec = parse_endpoint_option(value)
    except UsageError:
        return
    ep = spec.endpoint
    assert 0 < ep.port <= 65535
    assert ep.host
    assert (
        ep.password is None
        or ep.password not in ep.display.split("@")[0].split(":", 2)[-1]
        or not ep.password
    )


@given(
    st.lists(
        st.one_of(st.text(alphabet="0123456789:.-/[]udptcabc", max_size=30), st.integers(-5, 70000)),
        max_size=4,
    )
)
def test_port_parsing_never_crashes(entries: list[object]) -> None:
    try:
        mappings = parse_ports(entries, "f:1")
    except InputError:
        return
    for m in mappings:
        assert 0 < m.target <= 65535
        assert m.published is None or 0 < m.published <= 65535


@given(
    st.text(alphabet="${}:-?+AB_x ", max_size=30),
    st.dictionaries(st.sampled_from(["A", "B"]), st.text(max_size=3)),
)
def test_interpolation_never_crashes(text: str, env: dict[str, str]) -> None:
    try:
        out = interpolate(text, env, "f")
    except InputError:
        return
    assert isinstance(out, str)
    if "$" not in text:
        assert out == text
