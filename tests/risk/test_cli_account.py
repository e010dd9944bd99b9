"""`cdbctl risk evaluate --instruments`, `cdbctl risk explain` and the new config keys, via cli.main."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import msgspec
import pytest

from cdbctl.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = "2026-01-01T12:00:05Z"
SIGNAL = {"signal_id": "s1", "symbol": "BTC_USDT", "side": "long", "price": 50000.0,
          "timestamp": "2026-01-01T12:00:00Z"}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
        stdin: bytes | None = None) -> tuple[int, str, str]:  # fmt: skip
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(stdin))))
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def signal_file(tmp_path: Path) -> Path:
    path = tmp_path / "signal.json"
    path.write_text(json.dumps(SIGNAL))
    return path


@pytest.mark.parametrize("name", ["instruments.yaml", "instruments.json"])
def test_evaluate_with_bundled_instruments(capsys, monkeypatch, signal_file: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--now", NOW, "--format",
                         "json", "--instruments", str(EXAMPLES / name))  # fmt: skip
    assert (code, err) == (0, "")
    d = json.loads(out)
    assert d["approved"] is True and d["position_size"] == 0.2
    assert [c["name"] for c in d["checks"]][8:10] == ["instrument", "risk_tier"]


def test_evaluate_jsonl_with_instruments_rejects_off_tick(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lines = b"".join(json.dumps(SIGNAL | {"signal_id": str(i), "price": p}).encode() + b"\n"
                     for i, p in enumerate((50000.0, 50000.05)))  # fmt: skip
    code, out, _ = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "jsonl",
                       "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=lines)  # fmt: skip
    assert code == 1
    assert [json.loads(line)["reason"] for line in out.splitlines()] == [None, "price_off_tick"]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("instruments:\n  BTC_USDT:\n    tick_sise: 0.1\n", ".yaml", "BTC_USDT: unknown field 'tick_sise'"),
        ("instruments: [\n", ".yaml", "malformed instruments YAML"),
        ('{"BTC_USDT": {"tick_size": 0}}', ".json", "BTC_USDT: max_leverage: missing (required)"),
        ('{"BTC_USDT": ', ".json", "malformed instruments JSON"),
        ("", ".yaml", "expected a mapping of symbols to instrument rules"),
        ("[" * 5000 + "]" * 5000, ".yaml", "malformed instruments YAML: nested too deeply"),
        ("[" * 5000 + "]" * 5000, ".json", "malformed instruments JSON"),
    ],
)
def test_bad_instruments_file_exit_2(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, tmp_path: Path, signal_file: Path, *, content: str, suffix: str, message: str
) -> None:  # fmt: skip
    bad = tmp_path / f"inst{suffix}"
    bad.write_text(content)
    code, out, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--now", NOW,
                         "--instruments", str(bad))  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("cdbctl: error: ") and message in err and str(bad) in err
    assert "Traceback" not in err


def test_binary_instruments_file(capsys, monkeypatch, tmp_path: Path, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "inst.yml"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    code, out, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--instruments", str(bad))
    assert (code, out) == (2, "") and "cannot read instruments file" in err and "Traceback" not in err


def test_missing_instruments_file(capsys, monkeypatch, tmp_path: Path, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--instruments",
                       str(tmp_path / "nope.yaml"))  # fmt: skip
    assert code == 2 and "cannot read instruments file" in err


def test_bad_state_positions_exit_2(capsys, monkeypatch, tmp_path: Path, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"positions": [{"symbol": "BTCUSDT", "side": "long", "quantity": -1,
                                                "entry_price": 1}]}))  # fmt: skip
    code, _, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--state", str(state))
    assert code == 2 and "state.positions[0]: quantity: must be > 0" in err


def test_explain_table_for_an_approved_signal(capsys, monkeypatch, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "explain", "--format", "table", str(signal_file), "--now", NOW,
                         "--instruments", str(EXAMPLES / "instruments.yaml"))  # fmt: skip
    assert (code, err) == (0, "")
    assert "APPROVED" in out and "headroom" in out and "risk_tier" in out
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


def test_explain_invalid_record_exit_2(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps(SIGNAL | {"price": "cheap"}).encode()
    code, out, err = run(capsys, monkeypatch, "risk", "explain", "-", "--format", "json", stdin=stdin)
    assert code == 2
    assert "price: expected float, got str" in err
    assert json.loads(out)["suggestions"][0].startswith("fix the signal first")


def test_explain_usage_errors(capsys, monkeypatch, signal_file: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, monkeypatch, "risk", "explain", str(signal_file), "--format", "xml")
    assert code == 2 and out == "" and "--format 'xml'" in err
    code, _, err = run(capsys, monkeypatch, "risk", "explain", "-", stdin=b"")
    assert code == 2 and "no signals" in err


def test_config_lists_the_new_keys_with_defaults(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, monkeypatch, "risk", "config", "--format", "json", "--set", "COOLDOWN_SEC=60")
    assert code == 0
    rows = {r["key"]: r for r in json.loads(out)["keys"]}
    assert rows["MAX_OPEN_POSITIONS"]["value"] == 10
    assert rows["MAX_ORDERS_PER_MINUTE"]["value"] == 6000
    assert rows["MAX_SYMBOL_EXPOSURE_PCT"]["value"] == 0.0
    assert (rows["COOLDOWN_SEC"]["value"], rows["COOLDOWN_SEC"]["source"]) == (60.0, "--set")


def test_bad_new_key_value(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, monkeypatch, "risk", "config", "--set", "MAX_OPEN_POSITIONS=-1")
    assert code == 2 and "MAX_OPEN_POSITIONS" in err


def test_explain_title_names_the_symbol_once_without_a_signal_id(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps({"symbol": "BTC_USDT", "side": "long", "price": 50000.0}).encode()
    code, out, _ = run(
        capsys, monkeypatch, "risk", "explain", "--format", "table", "-", "--now", NOW, stdin=stdin
    )
    assert code == 0
    assert "BTC_USDT long: APPROVED" in out and "BTC_USDT BTC_USDT" not in out


def test_off_tick_detail_shows_the_price_as_given(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    stdin = json.dumps(SIGNAL | {"price": 50000.05}).encode()
    code, out, _ = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "json",
                       "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=stdin)  # fmt: skip
    assert code == 1
    d = json.loads(out)
    assert d["reason"] == "price_off_tick"
    # `:g` printed "price 50000.1 is not a multiple of the tick 0.1": a contradiction to the reader
    assert d["detail"] == "price 50000.05 is not a multiple of the tick 0.1 (nearest 50000)"


@pytest.mark.parametrize("command", ["evaluate", "explain"])
@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (
            {"trading_state": "PAUSED"},
            "state.trading_state: must be ACTIVE, REDUCING or HALTED, got 'PAUSED'",
        ),
        (
            {"positions": [{"symbol": "BTC_USDT"}]},
            "state.positions[0]: side: must be long, short, buy or sell",
        ),
    ],
)
def test_state_errors_found_by_the_engine_name_the_state_file(  # type: ignore[no-untyped-def]
    capsys,
    monkeypatch,
    tmp_path: Path,
    signal_file: Path,
    *,
    command: str,
    state: dict[str, object],
    problem: str,
) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    code, out, err = run(capsys, monkeypatch, "risk", command, str(signal_file), "--state", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"cdbctl: error: {problem}") and err.rstrip("\n").endswith(f", {path}")


@pytest.mark.parametrize("price", [5e-324, 1e-300, 0.04])
def test_price_below_one_tick_is_off_tick_not_an_internal_error(capsys, monkeypatch, price: float) -> None:  # type: ignore[no-untyped-def]
    """A positive price under one tick (XRP_USDT tick 0.0001... BTC_USDT 0.1) is no valid price:
    5e-324 made the quantity infinite (OverflowError, exit 4) and 1e-300 passed the tick test."""
    for fmt in ("json", "jsonl"):  # traced registry path and fused path
        stdin = json.dumps(SIGNAL | {"price": price}).encode()
        code, out, err = run(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", fmt,
                             "--instruments", str(EXAMPLES / "instruments.yaml"), stdin=stdin)  # fmt: skip
        assert (code, err) == (1, "")
        d = json.loads(out)
        assert (d["approved"], d["reason"]) == (False, "price_off_tick")
        assert d["detail"].endswith("is not a multiple of the tick 0.1 (nearest 0)")


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


def test_utf8_bom_is_accepted_in_every_input_file(
    capsys, monkeypatch, tmp_path: Path, signal_file: Path
) -> None:  # type: ignore[no-untyped-def]
    """Signals already accept a BOM (Windows editors write one); state, market, config and instruments too."""
    bom = b"\xef\xbb\xbf"
    state, market = tmp_path / "state.json", tmp_path / "market.json"
    state.write_bytes(bom + b'{"equity": 50000.0}')
    market.write_bytes(bom + b'{"volatility": 0.2}')
    toml = tmp_path / "risk.toml"
    toml.write_bytes(bom + b"MAX_LEVERAGE = 7\n")
    inst = tmp_path / "instruments.json"
    inst.write_bytes(bom + (EXAMPLES / "instruments.json").read_bytes())
    code, out, err = run(capsys, monkeypatch, "risk", "evaluate", str(signal_file), "--now", NOW, "--format", "json",
                         "--state", str(state), "--market", str(market), "--config", str(toml),
                         "--instruments", str(inst))  # fmt: skip
    assert (code, err) == (0, "")
    d = json.loads(out)
    assert d["position_size_usd"] == 5000.0  # 10% of the state's 50,000 equity
    assert next(c for c in d["checks"] if c["name"] == "leverage")["limit"] == 7


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
