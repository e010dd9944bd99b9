"""Attacks on the risk engine that once broke it, each reproduced: short writes, disguised numbers in
the environment, sub-normal prices, single huge JSONL lines. A new defect found gets its attack added
here; those on the command layer (stdout, YAML files) are in tests/commands/risk/."""

from __future__ import annotations

import io
import json
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdbctl.errors import EnvironmentProblem, InputError
from cdbctl.risk import Engine, evaluate_json, load_market, load_state, resolve_now
from cdbctl.risk.config import RiskConfig, env_layer, resolve
from cdbctl.risk.formulas import RESULT_FIELDS
from cdbctl.risk.io import read_chunks, record_from_object
from cdbctl.risk.model import Signal
from cdbctl.risk.sink import JsonStream, write_all

from .helpers import NOW, cli, decide, signal

pytestmark = pytest.mark.unit


class ShortWriter:
    """A sink that takes at most `step` bytes per call (and nothing every third call)."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.calls = 0
        self.data = bytearray()

    def write(self, view: memoryview) -> int | None:
        self.calls += 1
        if self.calls % 3 == 0:
            return None if self.calls % 2 else 0  # a non-blocking sink that took nothing this time
        n = min(self.step, len(view))
        self.data += view[:n]
        return n


# --- item 2: every write checked, json output streamed ---------------------------------------------


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_write_all_resumes_short_writes(step: int) -> None:
    data = bytes(range(256)) * 40
    sink = ShortWriter(step)
    write_all(sink.write, data)
    assert bytes(sink.data) == data


def test_write_all_gives_up_on_a_sink_that_takes_nothing() -> None:
    with pytest.raises(EnvironmentProblem, match="cannot write to stdout: no byte taken"):
        write_all(lambda _view: 0, b"x")


def test_write_all_refuses_an_impossible_count() -> None:
    with pytest.raises(EnvironmentProblem, match="reported 5 bytes written of 1"):
        write_all(lambda _view: 5, b"x")


def _decisions(n: int) -> list[Any]:
    engine = Engine(RiskConfig(), trace=True, now=resolve_now(NOW))
    out = []
    for i in range(n):
        record = record_from_object(signal(signal_id=i, leverage=1 + i % 20))
        assert isinstance(record, Signal)
        out.append(engine.evaluate(record))
    return out


@pytest.mark.parametrize(("n", "single"), [(1, True), (1, False), (2, True), (5, False)])
def test_json_stream_is_byte_identical_to_one_formatted_document(n: int, single: bool) -> None:
    decisions = _decisions(n)
    sink = ShortWriter(13)
    stream = JsonStream(lambda data: write_all(sink.write, data))
    for d in decisions:  # one decision per chunk, as a stream delivers them
        stream.add([d])
    stream.close(single=single)
    body: object = decisions[0] if single and n == 1 else decisions
    assert bytes(sink.data) == msgspec.json.format(msgspec.json.encode(body), indent=2) + b"\n"


def test_json_stream_writes_as_it_goes() -> None:
    """Only the first decision is held back (object or array is unknown until the second)."""
    written: list[bytes] = []
    stream = JsonStream(written.append)
    stream.add(_decisions(1))
    assert written == []
    stream.add(_decisions(2))
    assert len(written) == 3 and written[0].startswith(b"[\n  {")


# --- item 10 and 16: YAML --config and the environment --------------------------------------------


@pytest.mark.parametrize("value", ["8_0", "１０", "0x10", "1e1", "8.0"])
def test_environment_integer_must_be_plain_digits(capsys, monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAX_LEVERAGE", value)
    r = cli(capsys, monkeypatch, "risk", "config", "--format", "json")
    assert (r.code, r.out) == (2, "")
    assert f"MAX_LEVERAGE from environment variable MAX_LEVERAGE: {value!r} is not an integer" in r.err


@pytest.mark.parametrize("value", ["0_05", "inf", "nan", "Infinity", "0x1p-3", "５"])
def test_set_float_must_be_a_plain_decimal(capsys, monkeypatch, value: str) -> None:  # type: ignore[no-untyped-def]
    r = cli(capsys, monkeypatch, "risk", "config", "--set", f"STOP_LOSS_PCT={value}", "--format", "json")
    assert r.code == 2
    assert f"STOP_LOSS_PCT from --set: {value!r} is not a plain decimal number" in r.err


@pytest.mark.parametrize(("value", "expected"), [(" 8 ", 8), ("+8", 8), ("008", 8)])
def test_plain_integers_with_spaces_or_sign_are_accepted(value: str, expected: int) -> None:
    assert expected == resolve([("environment", {"MAX_LEVERAGE": value}, False)]).config.MAX_LEVERAGE


@pytest.mark.parametrize(("value", "expected"), [("0.05", 0.05), (".05", 0.05), ("5e-2", 0.05), ("1.", 1.0)])
def test_plain_decimals_are_accepted(value: str, expected: float) -> None:
    assert expected == resolve([("environment", {"STOP_LOSS_PCT": value}, False)]).config.STOP_LOSS_PCT


# --- item 12: no approval carries a number outside the float range --------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price": 2.2250738585072014e-308}, "position_size"),
        ({"price": 1e-320}, "position_size"),
        ({"side": "short", "price": 1.7e308, "stop_price": 1.75e308}, "liquidation_price"),
    ],
)  # fmt: skip
def test_subnormal_and_huge_prices_are_rejected_not_approved_with_null(
    fields: dict[str, Any], field: str
) -> None:
    d = decide(signal(**fields))  # both engine paths, identical
    assert d["approved"] is False and d["reason"] == "numeric_overflow"
    assert d["detail"].startswith(field) and "not a finite number" in d["detail"]
    assert d["position_size"] == 0.0 and d["position_size_usd"] == 0.0


def test_a_cross_short_too_small_for_its_wallet_is_not_approved() -> None:
    """wallet / quantity overflows: no finite liquidation price, so no approval (formerly null, approved)."""
    d = decide(signal(side="short", margin_mode="cross", target_position_usd=1e-310, price=100.0))
    assert d["approved"] is False


def test_a_quantity_that_underflows_to_zero_is_not_approved() -> None:
    d = decide(signal(price=1e300, target_position_usd=1e-30))
    assert (d["approved"], d["reason"]) == (False, "numeric_overflow")
    assert d["detail"].startswith("position_size: 1e-30 USDT at price 1e+300 is below the smallest quantity")


def test_cli_exit_1_and_valid_json_for_a_subnormal_price(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps(signal(price=1e-320)).encode()
    r = cli(capsys, monkeypatch, "risk", "evaluate", "-", "--now", NOW, "--format", "json", stdin=body)
    assert r.code == 1
    assert r.json()["reason"] == "numeric_overflow"


extreme = st.one_of(
    st.floats(min_value=5e-324, max_value=1e-300),
    st.floats(min_value=1e300, max_value=1.7976931348623157e308),
    st.floats(min_value=1e-12, max_value=1e12),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    price=extreme, target=st.one_of(st.none(), extreme), equity=extreme, depth=st.one_of(st.none(), extreme),
    side=st.sampled_from(["long", "short"]), mode=st.sampled_from(["isolated", "cross"]),
    stop=st.one_of(st.none(), st.floats(min_value=0.5, max_value=2.0)),
    mark=st.one_of(st.none(), st.floats(min_value=0.5, max_value=2.0)),
)  # fmt: skip
def test_every_approval_is_finite(  # noqa: PLR0917
    price: float, target: float | None, equity: float, depth: float | None, side: str, mode: str,
    stop: float | None, mark: float | None,
) -> None:  # fmt: skip
    sig = signal(price=price, side=side, margin_mode=mode, target_position_usd=target, timestamp=None)
    if stop is not None and (stop < 1.0) == (side == "long") and 0 < price * stop < 1.7e308:
        sig["stop_price"] = price * stop
    if mark is not None and 0 < price * mark < 1.7e308:
        sig["mark_price"] = price * mark
    if depth is not None:
        sig["market"] = {"order_book_depth": depth}
    state = {"equity": equity}
    traced = evaluate_json(sig, state=state, now=NOW)
    assert isinstance(traced, dict)
    record = record_from_object(sig)
    assert isinstance(record, Signal)
    fast = Engine(RiskConfig(), load_state(state), load_market(None), now=resolve_now(NOW)).evaluate(record)
    assert msgspec.json.decode(msgspec.json.encode(fast)) == {
        k: v for k, v in traced.items() if k != "checks"
    }
    if traced["approved"]:
        for name in RESULT_FIELDS:
            value = traced[name]
            assert value is None or (isinstance(value, float) and abs(value) < float("inf")), name
        assert traced["position_size"] > 0
    json.loads(json.dumps(traced, allow_nan=False))  # the decision is valid JSON, no NaN/inf


# --- item 18: linear reading, capped lines ----------------------------------------------------------


def _reader(data: bytes, size: int) -> Any:
    stream = io.BytesIO(data)
    return lambda _n: stream.read(size)


def test_a_huge_first_line_is_an_input_error_naming_it() -> None:
    line = b'{"symbol":"BTCUSDT","side":"long","price":1,"x":"' + b"a" * 5000 + b'"}\n'
    with pytest.raises(InputError, match=r"line 2 is longer than 0 MiB") as err:
        list(read_chunks(_reader(b"\n" + line, 7), "in.jsonl", max_line=4096))
    assert err.value.where == "in.jsonl"


def test_a_huge_later_line_is_an_input_error_naming_it() -> None:
    ok = json.dumps(signal()).encode() + b"\n"
    data = ok * 3 + b'{"x":"' + b"a" * 10000 + b'"}\n' + ok
    with pytest.raises(InputError, match=r"line 4 is longer than"):
        list(read_chunks(_reader(data, 100), "in.jsonl", max_line=4096))


def test_long_lines_under_the_cap_read_in_tiny_pieces_decode_exactly() -> None:
    lines = [json.dumps(signal(signal_id=i, pad="p" * (i * 300))).encode() for i in range(12)]
    data = b"\n".join(lines) + b"\n"
    chunks = list(read_chunks(_reader(data, 5), "in.jsonl", size=5, max_line=4096))
    records = [r for c in chunks for r in c.records]
    assert [r.signal_id for r in records] == list(range(12))  # type: ignore[union-attr]


def test_a_document_over_the_cap_is_an_input_error() -> None:
    data = b"[" + b",".join(json.dumps(signal()).encode() for _ in range(100)) + b"]"
    with pytest.raises(InputError, match=r"JSON document \(or first line\) larger than 0 MiB") as err:
        list(read_chunks(_reader(data, 64), "in.json", max_document=2000))
    assert err.value.hint and "JSONL" in err.value.hint


def test_a_500_mb_style_line_through_the_cli_stops_at_the_cap(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The default cap (64 MiB) ends a single huge line with exit 2 instead of minutes of copying."""
    big = b'{"symbol":"BTCUSDT","side":"long","price":1}\n{"x":"' + b"a" * (65 << 20)
    r = cli(capsys, monkeypatch, "risk", "evaluate", "-", "--format", "jsonl", "--now", NOW, stdin=big)
    assert r.code == 2
    assert r.err.startswith("cdbctl: error: line 2 is longer than 64 MiB (the longest JSONL line accepted)")


def test_env_layer_is_the_same_for_the_service_api() -> None:
    with pytest.raises(InputError, match="'8_0' is not an integer"):
        resolve([env_layer({"MAX_LEVERAGE": "8_0"})])
