"""`cdbctl risk explain`: the checks' headroom, what would pass, and exit codes as for evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from tests.risk.helpers import EXAMPLES, NOW, SIGNAL, run

pytestmark = pytest.mark.unit


def test_explain_table_for_an_approved_signal(capsys, monkeypatch, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "explain", "--format", "table", str(signal_file), "--now", NOW,
                         "--instruments", str(EXAMPLES / "instruments.yaml"))  # fmt: skip
    assert (code, err) == (0, "")
    assert "APPROVED" in out and "headroom" in out and "risk_tier" in out
    header = next(line for line in out.splitlines() if "headroom" in line)
    assert header.index("headroom") < header.index("unit") < header.index("detail")
    exposure = next(line for line in out.splitlines() if " exposure " in line)
    assert "fraction of" in exposure  # the unit column (may fold: "fraction of equity")
    assert "highest leverage that passes: 6" in out


def test_explain_json_for_a_rejected_signal(capsys, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SIGNAL | {"leverage": 10}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"total_exposure_pct": 0.45}))
    code, out, _ = run(capsys, monkeypatch, "risk", "explain", str(path), "--now", NOW, "--state", str(state),
                       "--format", "json")  # fmt: skip
    assert code == 1
    x = msgspec.json.decode(out)
    assert x["schema_version"] == 1 and x["approved"] is False
    assert (x["largest_size_usd"], x["highest_leverage"]) == (pytest.approx(5000.0), 6)
    assert x["suggestions"] == ["leverage 6 with a size of at most 5,000.00 USDT passes"]
    exposure = next(c for c in x["checks"] if c["name"] == "exposure")
    assert exposure["headroom"] == pytest.approx(-0.05)
    assert (exposure["unit"], exposure["reason"]) == ("fraction of equity", "max_exposure_reached")
    sizing = next(c for c in x["checks"] if c["name"] == "sizing")
    assert (sizing["unit"], sizing["reason"]) == ("USDT", None)


def test_explain_invalid_record_exit_2(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps(SIGNAL | {"price": "cheap"}).encode()
    code, out, err = run(capsys, monkeypatch, "risk", "explain", "-", "--format", "json", stdin=stdin)
    assert code == 2
    assert "price: expected float, got str" in err
    assert json.loads(out)["suggestions"][0].startswith("fix the signal first")


def test_explain_usage_errors(capsys, monkeypatch, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "explain", str(signal_file), "--format", "xml")
    assert code == 2 and out == "" and "'xml' is not one of 'table', 'json'." in err
    code, _, err = run(capsys, monkeypatch, "risk", "explain", "-", stdin=b"")
    assert code == 2 and "no signals" in err


def test_explain_title_names_the_symbol_once_without_a_signal_id(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps({"symbol": "BTC_USDT", "side": "long", "price": 50000.0}).encode()
    code, out, _ = run(
        capsys, monkeypatch, "risk", "explain", "--format", "table", "-", "--now", NOW, stdin=stdin
    )
    assert code == 0
    assert "BTC_USDT long: APPROVED" in out and "BTC_USDT BTC_USDT" not in out


def test_explain_table_says_at_which_leverage_the_largest_size_passes(
    capsys, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """When only size and leverage together pass, the size line must not read as valid at the signal's leverage."""
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SIGNAL | {"leverage": 10}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"total_exposure_pct": 0.45}))
    code, out, _ = run(
        capsys,
        monkeypatch,
        "risk",
        "explain",
        "--format",
        "table",
        str(path),
        "--now",
        NOW,
        "--state",
        str(state),
    )
    assert code == 1
    assert "largest size that passes at leverage 6: 5,000.00 USDT" in out


def test_explain_of_a_semantically_invalid_signal_exits_2_and_reports_it(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """As `evaluate`: an invalid record is an input error (exit 2) with `file:line: field: problem` on stderr."""
    stdin = b"".join(json.dumps(SIGNAL | change).encode() + b"\n" for change in ({}, {"side": "up"}))
    code, out, err = run(
        capsys, monkeypatch, "risk", "explain", "-", "--now", NOW, "--format", "json", stdin=stdin
    )
    assert code == 2
    assert err == "<stdin>:2: side: 'up' is not long, short, buy or sell\n"
    assert [x["reason"] for x in json.loads(out)] == [None, "invalid_signal"]


def test_explain_locates_array_items_by_line(capsys, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "a.json"
    path.write_text("[\n" + json.dumps(SIGNAL) + ",\n" + json.dumps(SIGNAL | {"price": "x"}) + "\n]\n")
    code, _, err = run(capsys, monkeypatch, "risk", "explain", str(path), "--now", NOW, "--format", "json")
    assert code == 2
    assert err == f"{path}:3: item 2: price: expected float, got str\n"
