"""Review findings on the landed risk engine: each one pinned by a test."""

from __future__ import annotations

import json

import pytest

from tests.risk.helpers import NOW, cli, signal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_stdin_dash_twice_is_a_usage_error(capsys, monkeypatch, tmp_path, command) -> None:  # type: ignore[no-untyped-def]
    """Stdin can be read once: a second '-' would silently read nothing, so it is refused up front."""
    one = tmp_path / "one.json"
    one.write_text(json.dumps(signal()))
    stdin = (json.dumps(signal(signal_id="in")) + "\n").encode()
    r = cli(capsys, monkeypatch, "risk", command, "-", str(one), "-", "--now", NOW, stdin=stdin)
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1
    assert "'-' (stdin) given 2 times" in r.err
