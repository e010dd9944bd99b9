"""What the risk commands read, bad and unusual: signal inputs, state, market, instruments and config
files. Exit codes, stdout decisions and one-line stderr errors naming the file, line and field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.risk.helpers import DATA, EXAMPLES, NOW, ROOT, cli, run, signal, write_jsonl

pytestmark = pytest.mark.unit


def run_file(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        capsys, monkeypatch, "risk", "evaluate", str(DATA / name), "--now", NOW, "--format", "jsonl", *extra
    )


def test_mixed_batch_goes_on_and_reports_each_invalid_record(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "mixed.jsonl")
    assert r.code == 2
    decisions = r.jsonl()
    assert [d["signal_id"] for d in decisions] == ["ok-1", "bad-price", None, "bad-side", "ok-2"]
    assert [d["reason"] for d in decisions] == [
        None,
        "invalid_signal",
        "invalid_signal",
        "invalid_signal",
        None,
    ]
    assert decisions[1]["detail"] == "line 3: price: expected float, got str"
    assert decisions[2]["detail"].startswith("line 4: json: ")
    assert decisions[3]["detail"] == "line 5: side: 'hold' is not long, short, buy or sell"
    path = DATA / "mixed.jsonl"
    lines = r.err.splitlines()
    assert lines[0] == f"{path}:3: price: expected float, got str"
    assert lines[1].startswith(f"{path}:4: json: ")
    assert lines[2] == f"{path}:5: side: 'hold' is not long, short, buy or sell"
    assert len(lines) == 3
    assert "Traceback" not in r.err


@pytest.mark.parametrize("name", ["empty.jsonl", "blank.jsonl"])
def test_no_signals_is_an_input_error(capsys, monkeypatch, name: str) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, name)
    assert r.code == 2
    assert r.out == ""
    assert r.err == f"cdbctl: error: no signals, {DATA / name}\n"


def test_binary_file(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "binary.bin")
    assert r.code == 2 and r.out == ""
    assert r.err == f"cdbctl: error: binary data, not JSON or JSONL, {DATA / 'binary.bin'}\n"


def test_invalid_utf8_line_is_an_invalid_record(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "latin.jsonl")
    assert r.code == 2
    (d,) = r.jsonl()
    assert d["reason"] == "invalid_signal" and d["detail"].startswith("line 1: json: ")
    assert r.err.startswith(f"{DATA / 'latin.jsonl'}:1: json: ")


def test_nan_literal_is_malformed_json_and_the_run_goes_on(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "nan.jsonl")
    assert r.code == 2
    first, second = r.jsonl()
    assert first["reason"] == "invalid_signal" and "malformed" in first["detail"]
    assert second["signal_id"] == "ok" and second["approved"] is True


def test_deep_nesting(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "deep_field.jsonl")
    assert r.code == 2
    first, second = r.jsonl()
    assert first["detail"] == "line 1: json: nested too deeply"
    assert second["approved"] is True
    r = run_file(capsys, monkeypatch, "deep_array.json")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: malformed JSON array: json: nested too deeply")


def test_scalars_are_invalid_records(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "scalars.jsonl")
    assert r.code == 2
    details = [d["detail"] for d in r.jsonl()]
    assert details == [
        "line 1: record: expected object, got int",
        "line 2: record: expected object, got str",
        "line 3: record: expected object, got array",
    ]


def test_array_input_locates_items(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = cli(
        capsys, monkeypatch, "risk", "evaluate", str(DATA / "array.json"), "--now", NOW, "--format", "json"
    )
    assert r.code == 2
    out = r.json()
    assert isinstance(out, list) and len(out) == 3
    assert out[1]["detail"] == "item 2: price: missing required field"
    assert out[2]["reason"] == "liquidation_risk_too_high"
    # file:line (the item sits on line 3), then the item number the decision names
    assert r.err == f"{DATA / 'array.json'}:3: item 2: price: missing required field\n"


def test_broken_array_is_an_input_error(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "broken_array.json")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: malformed JSON array: json: ")
    assert r.err.rstrip().endswith(str(DATA / "broken_array.json"))


@pytest.mark.parametrize(("name", "ids"), [("crlf.jsonl", ["a", "b"]), ("bom.jsonl", ["bom"]),
                                           ("no_final_newline.jsonl", ["last"]), ("pretty.json", ["pretty"])])  # fmt: skip
def test_text_variants(capsys, monkeypatch, name: str, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, name)
    assert r.code == 0, r.err
    assert [d["signal_id"] for d in r.jsonl()] == ids
    assert r.err == ""


def test_missing_and_directory_inputs(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(tmp_path / "nope.jsonl"))
    assert r.code == 2 and r.out == ""
    assert (
        r.err == f"cdbctl: error: cannot read input: No such file or directory, {tmp_path / 'nope.jsonl'}\n"
    )
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(tmp_path))
    assert r.code == 2
    assert r.err.startswith("cdbctl: error: cannot read input: Is a directory")


@pytest.mark.parametrize(
    ("option", "name", "message"),
    [
        ("--state", "bad_state.json", "state: equity: expected float | null, got str"),
        ("--state", "broken_state.json", "malformed state JSON"),
        ("--state", "missing.json", "cannot read state file: No such file or directory"),
        ("--market", "bad_market.json", "market: volatility: expected float >= 0.0"),
    ],
)
def test_bad_state_and_market_files(capsys, monkeypatch, option: str, name: str, message: str) -> None:  # type: ignore[no-untyped-def]
    extra = [option, str(DATA / name)]
    r = run_file(capsys, monkeypatch, "crlf.jsonl", *extra)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: ")
    assert message in r.err
    assert str(DATA / name) in r.err


def test_malformed_json_message_keeps_the_acronym(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "nan.jsonl")
    first = r.jsonl()[0]
    # msgspec says "JSON is malformed: ..."; lower-casing its first letter printed "jSON is malformed"
    assert first["detail"].startswith("line 1: json: JSON is malformed: ")
    assert "jSON" not in r.err


def test_semantically_invalid_line_among_decodable_ones_is_located(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Every line decodes (the fast path's chunk), one is invalid only by meaning: still line-located."""
    ok = b'{"signal_id":"ok","symbol":"BTCUSDT","side":"long","price":50000.0}\n'
    stdin = ok + b'{"signal_id":"bad","symbol":"BTCUSDT","side":"hold","price":50000.0}\n' + ok
    r = cli(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "jsonl", stdin=stdin)
    assert r.code == 2
    assert [d["reason"] for d in r.jsonl()] == [None, "invalid_signal", None]
    assert r.jsonl()[1]["detail"] == "line 2: side: 'hold' is not long, short, buy or sell"
    assert r.err == "<stdin>:2: side: 'hold' is not long, short, buy or sell\n"


def test_malformed_pretty_printed_object_is_one_invalid_record(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A typo in a hand-written, pretty-printed signal is one error at its line, not one per line."""
    r = run_file(capsys, monkeypatch, "pretty_trailing_comma.json")
    assert r.code == 2
    (d,) = r.jsonl()
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == "line 6: json: JSON is malformed: trailing comma in object (byte 86)"
    path = DATA / "pretty_trailing_comma.json"
    assert r.err == f"{path}:6: json: JSON is malformed: trailing comma in object (byte 86)\n"


def test_jsonl_with_a_broken_first_line_still_goes_line_by_line(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run_file(capsys, monkeypatch, "first_line_broken.jsonl")
    assert r.code == 2
    assert [(d["reason"], d["signal_id"]) for d in r.jsonl()] == [("invalid_signal", None), (None, "ok")]
    assert r.err.startswith(f"{DATA / 'first_line_broken.jsonl'}:1: json: ")


def test_array_items_located_by_line_on_one_line_and_pretty_printed(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ok = '{"signal_id": "ok", "symbol": "BTCUSDT", "side": "long", "price": 50000.0}'
    bad = '{"signal_id": "x,[", "symbol": "BTCUSDT", "side": "up", "price": 50000.0, "market": {"bid": 1}}'
    one = tmp_path / "one.json"
    one.write_text(f"[{ok}, {bad}]")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(one), "--now", NOW, "--format", "json")
    assert r.code == 2
    assert r.err == f"{one}:1: item 2: side: 'up' is not long, short, buy or sell\n"
    pretty = tmp_path / "pretty.json"
    pretty.write_text(f"[\n  {ok},\n\n  {ok},\n  {bad}\n]\n")
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(pretty), "--now", NOW, "--format", "json")
    assert r.err == f"{pretty}:5: item 3: side: 'up' is not long, short, buy or sell\n"
    assert r.json()[2]["detail"] == "item 3: side: 'up' is not long, short, buy or sell"


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


@pytest.mark.parametrize(
    ("option", "content", "message"),
    [
        ("--state", '{"equity": 1e999}', "cdbctl: error: state: equity: number out of range"),
        ("--state", '{"equity": 1000,\n "daily_pnl": -1e400}', "state: daily_pnl: number out of range"),
        (
            "--state",
            '{"positions": [{"symbol": "BTCUSDT", "side": "long", "size": 1e999}]}',
            "state: positions[0].size: number out of range",
        ),
        ("--market", '{"volatility": -1e999}', "cdbctl: error: market: volatility: number out of range"),
        (
            "--instruments",
            '{"instruments": {"BTCUSDT": {"tick_size": 1e999}}}',
            "instruments: instruments.BTCUSDT.tick_size: number out of range",
        ),
        ("--state", '{"equity": 1000,\n"daily_pnl": 5}\nx', "malformed state JSON: trailing characters"),
        ("--market", '{"volatility":\n', "malformed market JSON: input data was truncated"),
        ("--instruments", '{"BTC_USDT": ', "malformed instruments JSON: input data was truncated"),
    ],
)
def test_state_market_instruments_decode_errors_name_the_field(  # type: ignore[no-untyped-def]
    capsys, monkeypatch, tmp_path, *, option, content, message
) -> None:
    sig = tmp_path / "s.json"
    sig.write_text(json.dumps(signal()))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(sig), "--now", NOW, option, str(bad))
    assert r.code == 2 and r.out == ""
    assert len(r.err.splitlines()) == 1, r.err
    assert message in r.err and str(bad) in r.err
    assert "$[" not in r.err and "`" not in r.err and "(byte" not in r.err


@pytest.mark.parametrize(
    ("content", "line"),
    [('{"equity": 1000,\n"daily_pnl": 5}\nx', 3), ('{"equity": 1000,\n "daily_pnl": 5,\n', 2)],
)
def test_malformed_state_names_the_line(capsys, monkeypatch, tmp_path, content, line) -> None:  # type: ignore[no-untyped-def]
    sig = tmp_path / "s.json"
    sig.write_text(json.dumps(signal()))
    bad = tmp_path / "state.json"
    bad.write_text(content)
    r = cli(capsys, monkeypatch, "risk", "explain", str(sig), "--now", NOW, "--state", str(bad))
    assert r.code == 2 and r.err.rstrip().endswith(f", {bad}:{line}")


@pytest.mark.parametrize("command", ["evaluate", "explain"])
def test_closed_stdin_is_an_environment_error_not_a_bug(command: str) -> None:
    """`cdbctl risk evaluate <&-`: Python starts with sys.stdin None; it was an AttributeError (exit 4)."""
    code = "import os, sys; os.close(0); os.execv(sys.executable, [sys.executable, '-m', 'cdbctl', *sys.argv[1:]])"
    proc = subprocess.run(
        [sys.executable, "-c", code, "risk", command, "--now", NOW, "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (3, "")
    assert proc.stderr == "cdbctl: error: stdin is closed\nhint: pass a file, or pipe signals into -\n"


def test_a_stale_compiled_engine_is_named_and_python_decides(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cdbctl.risk import native

    stale = "stale: /x/_native.so was built from other sources (reinstall cdbctl)"
    monkeypatch.setattr(native, "loaded", lambda: (None, stale))
    path = write_jsonl(tmp_path / "one.jsonl", signal())
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(path), "--format", "jsonl", "--now", NOW)
    assert r.code == 0 and [d["approved"] for d in r.jsonl()] == [True]
    assert r.err == (
        "cdbctl: warning: the compiled risk engine is stale: /x/_native.so was built from other sources"
        " (reinstall cdbctl); the Python engine decides (same decisions, slower)\n"
    )


def test_no_compiled_engine_says_nothing(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cdbctl.risk import native

    monkeypatch.setattr(
        native, "loaded", lambda: (None, "not built (no C compiler when cdbctl was installed)")
    )
    path = write_jsonl(tmp_path / "one.jsonl", signal())
    r = cli(capsys, monkeypatch, "risk", "evaluate", str(path), "--format", "jsonl", "--now", NOW)
    assert r.code == 0 and r.err == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MAX_LEVERAGE: [1, 2]\n", "config file: MAX_LEVERAGE: must be one value, got a list"),
        (
            "risk:\n  MAX_LEVERAGE: {value: 8}\n",
            "config file: MAX_LEVERAGE: must be one value, got a mapping",
        ),
        ("- MAX_LEVERAGE: 8\n", "config file must be a mapping of KEY: value, got a list"),
    ],
)
def test_a_config_file_that_is_not_key_value_names_the_key(
    capsys, monkeypatch, tmp_path, text, message
) -> None:  # type: ignore[no-untyped-def]
    # It said only "config file must be a mapping of KEY: scalar value", whatever key was wrong.
    config = tmp_path / "risk.yaml"
    config.write_text(text)
    r = cli(capsys, monkeypatch, "risk", "config", "--config", str(config))
    assert (r.code, r.out) == (2, "")
    assert r.err == f"cdbctl: error: {message}, {config}\n"
