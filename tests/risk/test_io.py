"""Bad and unusual input through the real CLI: exit codes, stdout decisions and stderr locations."""

from __future__ import annotations

import pytest

from .helpers import DATA, NOW, cli

pytestmark = pytest.mark.unit


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str, *extra: str):  # type: ignore[no-untyped-def]
    return cli(
        capsys, monkeypatch, "risk", "evaluate", str(DATA / name), "--now", NOW, "--format", "jsonl", *extra
    )


def test_mixed_batch_goes_on_and_reports_each_invalid_record(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "mixed.jsonl")
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
    r = run(capsys, monkeypatch, name)
    assert r.code == 2
    assert r.out == ""
    assert r.err == f"cdbctl: error: no signals, {DATA / name}\n"


def test_binary_file(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "binary.bin")
    assert r.code == 2 and r.out == ""
    assert r.err == f"cdbctl: error: binary data, not JSON or JSONL, {DATA / 'binary.bin'}\n"


def test_invalid_utf8_line_is_an_invalid_record(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "latin.jsonl")
    assert r.code == 2
    (d,) = r.jsonl()
    assert d["reason"] == "invalid_signal" and d["detail"].startswith("line 1: json: ")
    assert r.err.startswith(f"{DATA / 'latin.jsonl'}:1: json: ")


def test_nan_literal_is_malformed_json_and_the_run_goes_on(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "nan.jsonl")
    assert r.code == 2
    first, second = r.jsonl()
    assert first["reason"] == "invalid_signal" and "malformed" in first["detail"]
    assert second["signal_id"] == "ok" and second["approved"] is True


def test_deep_nesting(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "deep_field.jsonl")
    assert r.code == 2
    first, second = r.jsonl()
    assert first["detail"] == "line 1: json: nested too deeply"
    assert second["approved"] is True
    r = run(capsys, monkeypatch, "deep_array.json")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: malformed JSON array: json: nested too deeply")


def test_scalars_are_invalid_records(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "scalars.jsonl")
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
    # file:line as the issue asks (the item sits on line 3), then the item number the decision names
    assert r.err == f"{DATA / 'array.json'}:3: item 2: price: missing required field\n"


def test_broken_array_is_an_input_error(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "broken_array.json")
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: malformed JSON array: json: ")
    assert r.err.rstrip().endswith(str(DATA / "broken_array.json"))


@pytest.mark.parametrize(("name", "ids"), [("crlf.jsonl", ["a", "b"]), ("bom.jsonl", ["bom"]),
                                           ("no_final_newline.jsonl", ["last"]), ("pretty.json", ["pretty"])])  # fmt: skip
def test_text_variants(capsys, monkeypatch, name: str, ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, name)
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
    r = run(capsys, monkeypatch, "crlf.jsonl", *extra)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith("cdbctl: error: ")
    assert message in r.err
    assert str(DATA / name) in r.err


def test_malformed_json_message_keeps_the_acronym(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "nan.jsonl")
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
    r = run(capsys, monkeypatch, "pretty_trailing_comma.json")
    assert r.code == 2
    (d,) = r.jsonl()
    assert d["reason"] == "invalid_signal"
    assert d["detail"] == "line 6: json: JSON is malformed: trailing comma in object (byte 86)"
    path = DATA / "pretty_trailing_comma.json"
    assert r.err == f"{path}:6: json: JSON is malformed: trailing comma in object (byte 86)\n"


def test_jsonl_with_a_broken_first_line_still_goes_line_by_line(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = run(capsys, monkeypatch, "first_line_broken.jsonl")
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
