"""State `positions` and `recent_trades`: parsing, validation and per-position arithmetic."""

from __future__ import annotations

import pytest

from cdbctl.errors import InputError
from cdbctl.risk.positions import LONG, SHORT, parse_epoch, parse_positions, parse_recent_trades, parse_side

pytestmark = pytest.mark.unit


def test_parse_positions_list_and_arithmetic() -> None:
    (btc, eth) = parse_positions(
        [
            {
                "symbol": "BTC_USDT",
                "side": "long",
                "quantity": 0.5,
                "entry_price": 40_000,
                "mark_price": 42_000,
                "leverage": 5,
            },
            {
                "symbol": "ETHUSDT",
                "side": "SELL",
                "size": 10,
                "entry_price": 2_000,
                "margin_mode": "cross",
                "maintenance_margin_rate": 0.01,
                "maintenance_amount": 5,
            },
        ]
    )
    assert (btc.side, btc.quantity, btc.price, btc.notional) == (LONG, 0.5, 42_000, 21_000)
    assert btc.unrealized_pnl() == pytest.approx(1_000)
    assert btc.used_margin() == pytest.approx(4_000)
    assert btc.maintenance_margin(0.005) == pytest.approx(105)
    assert (eth.side, eth.quantity, eth.price, eth.margin_mode) == (SHORT, 10, 2_000, "cross")
    assert eth.unrealized_pnl() == 0.0
    assert eth.maintenance_margin(0.005) == pytest.approx(195)  # 20,000 x 1% - 5


def test_parse_positions_keyed_by_symbol() -> None:
    (pos,) = parse_positions({"SOLUSDT": {"side": "short", "quantity": 3, "entry_price": 100}})
    assert (pos.symbol, pos.side) == ("SOLUSDT", SHORT)
    assert parse_positions(None) == ()
    assert parse_positions([]) == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "state.positions: must be a list of positions, got str"),
        ([1], "state.positions[0]: must be an object"),
        (
            [{"side": "long", "quantity": 1, "entry_price": 1}],
            "state.positions[0]: symbol: must be a non-empty",
        ),
        (
            [{"symbol": "A", "side": "up", "quantity": 1, "entry_price": 1}],
            "state.positions[0]: side: must be",
        ),
        (
            [{"symbol": "A", "side": "long", "entry_price": 1}],
            "state.positions[0]: quantity: must be a finite",
        ),
        ([{"symbol": "A", "side": "long", "quantity": -1, "entry_price": 1}], "quantity: must be > 0"),
        (
            [{"symbol": "A", "side": "long", "quantity": 1, "entry_price": float("nan")}],
            "entry_price: must be a",
        ),
        (
            [{"symbol": "A", "side": "long", "quantity": 1, "entry_price": "5"}],
            "entry_price: must be a finite",
        ),
        (
            [{"symbol": "A", "side": "long", "quantity": 1, "entry_price": 1, "margin_mode": "x"}],
            "margin_mode",
        ),
        ([{"symbol": "A", "side": "long", "quantity": True, "entry_price": 1}], "quantity: must be a finite"),
    ],
)
def test_parse_positions_errors(raw: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_positions(raw)
    assert message in caught.value.message


def test_parse_recent_trades_sorted_by_close() -> None:
    trades = parse_recent_trades(
        [
            {"symbol": "B", "closed_at": "2026-11-29T10:00:00Z", "pnl": 5, "exit_reason": "ROI"},
            {"symbol": "A", "closed_at": 1_764_400_000_000, "pnl": -3, "exit_reason": "Stop_Loss"},
        ]
    )
    assert [t.symbol for t in trades] == ["A", "B"]
    assert trades[0].closed_at == 1_764_400_000.0  # milliseconds
    assert trades[0].is_stop_loss
    assert trades[1].exit_reason == "roi"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"a": 1}, "state.recent_trades: must be a list"),
        ([{"symbol": "A", "pnl": 1}], "state.recent_trades[0]: closed_at: missing"),
        ([{"symbol": "A", "closed_at": "yesterday", "pnl": 1}], "closed_at: not an ISO-8601 or epoch"),
        ([{"symbol": "A", "closed_at": "2026-11-29T10:00:00", "pnl": 1}], "needs `Z` or a UTC offset"),
        ([{"symbol": "A", "closed_at": 1, "pnl": "x"}], "pnl: must be a finite number"),
        ([{"symbol": "A", "closed_at": 1, "pnl": 1, "exit_reason": 3}], "exit_reason: must be a string"),
        (["A"], "state.recent_trades[0]: must be an object"),
    ],
)
def test_parse_recent_trades_errors(raw: object, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_recent_trades(raw)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("raw", "epoch"),
    [
        (1_700_000_000, 1_700_000_000.0),
        (1_700_000_000_500, 1_700_000_000.5),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-15T00:13:20+02:00", 1_700_000_000.0),
    ],
)
def test_parse_epoch(raw: object, epoch: float) -> None:
    assert parse_epoch(raw, "t") == epoch


@pytest.mark.parametrize("raw", [True, None, float("nan"), "", [1]])
def test_parse_epoch_rejects(raw: object) -> None:
    with pytest.raises(InputError):
        parse_epoch(raw, "t")


def test_parse_side() -> None:
    assert parse_side("Buy", "s") == LONG
    assert parse_side("short", "s") == SHORT
    with pytest.raises(InputError, match="s: side: must be long, short, buy or sell, got 1"):
        parse_side(1, "s")
