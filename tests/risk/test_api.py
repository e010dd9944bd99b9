"""The library API the CDB services call: evaluate_json (== CLI json), effective_config (CDB's own API: test_cdb_api.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from cdbctl.errors import InputError
from cdbctl.risk import evaluate_json

from .helpers import DATA, NOW, cli, signal

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("name", ["array.json", "pretty.json"])
def test_evaluate_json_matches_cli_json_exactly(capsys, monkeypatch, name: str) -> None:  # type: ignore[no-untyped-def]
    payload = (DATA / name).read_bytes()
    state = json.loads((DATA / "state.json").read_text())
    args = [
        "risk",
        "evaluate",
        str(DATA / name),
        "--now",
        NOW,
        "--format",
        "json",
        "--state",
        str(DATA / "state.json"),
    ]
    r = cli(capsys, monkeypatch, *args)
    assert evaluate_json(payload, state=state, now=NOW) == r.json()
    assert evaluate_json(payload.decode(), state=state, now=NOW) == r.json()
    assert evaluate_json(json.loads(payload), state=state, now=NOW) == r.json()


def test_payload_shapes_and_env() -> None:
    one = evaluate_json(signal(), now=NOW)
    assert isinstance(one, dict) and one["approved"] is True
    many = evaluate_json([signal(), signal(side="hold")], now=NOW, env={"MAX_POSITION_PCT": "0.05"})
    assert isinstance(many, list) and many[0]["position_size_usd"] == 5000.0
    assert many[1]["detail"] == "item 2: side: 'hold' is not long, short, buy or sell"
    assert evaluate_json([], now=NOW) == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "malformed JSON payload: json: "),
        ("42", "expected a JSON object or array of signals, got int"),
        (b"\xff\xfe", "malformed JSON payload: json: "),
        ("[" * 100000, "malformed JSON payload: json: "),
    ],
)
def test_malformed_payload_raises_input_error(payload: bytes | str, message: str) -> None:
    with pytest.raises(InputError) as info:
        evaluate_json(payload)
    assert str(info.value).startswith(message)


def test_now_forms_and_bad_inputs() -> None:
    at = datetime(2026, 1, 1, 12, 0, 5, tzinfo=UTC)
    for now in (at, at.timestamp(), NOW):
        d = evaluate_json(signal(), now=now)
        assert d["checks"][1]["value"] == 5.0  # type: ignore[call-overload, index]
    live = evaluate_json(signal(timestamp=None))
    assert live["approved"] is True  # type: ignore[call-overload]
    with pytest.raises(InputError, match=re.escape("now: 'soon'")):
        evaluate_json(signal(), now="soon")
    with pytest.raises(InputError, match=re.escape("state: equity: expected float > 0.0")):
        evaluate_json(signal(), state={"equity": -1})
    with pytest.raises(InputError, match=re.escape("market: bid: expected float | null, got str")):
        evaluate_json(signal(), market={"bid": "x"})
