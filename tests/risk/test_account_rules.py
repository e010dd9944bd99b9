"""Trading state, open-position limits, cooldowns (StoplossGuard/CooldownPeriod) and the order rate."""

from __future__ import annotations

import pytest

from cdbctl.errors import InputError
from cdbctl.risk.account_rules import (
    OrderRateLimiter,
    TradingState,
    active_lock,
    opens_new_position,
    parse_trading_state,
    position_on,
    reducible_quantity,
    symbol_exposure_after,
    trading_state_reason,
)
from cdbctl.risk.positions import LONG, SHORT, ClosedTrade, Position

pytestmark = pytest.mark.unit

BTC_LONG = Position(symbol="BTC_USDT", side=LONG, quantity=0.5, entry_price=40_000, mark_price=42_000)
ETH_SHORT = Position(symbol="ETHUSDT", side=SHORT, quantity=10, entry_price=2_000)
POSITIONS = (BTC_LONG, ETH_SHORT)


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        (None, TradingState.ACTIVE),
        ("active", TradingState.ACTIVE),
        ("Reducing", TradingState.REDUCING),
        (" HALTED ", TradingState.HALTED),
    ],
)
def test_parse_trading_state(raw: object, state: TradingState) -> None:
    assert parse_trading_state(raw) is state


@pytest.mark.parametrize("raw", ["paused", "", 1, True, ["ACTIVE"]])
def test_parse_trading_state_rejects_junk(raw: object) -> None:
    with pytest.raises(InputError, match=r"state.trading_state: must be ACTIVE, REDUCING or HALTED"):
        parse_trading_state(raw)


@pytest.mark.parametrize(
    ("state", "reduces", "reason"),
    [
        (TradingState.ACTIVE, False, None),
        (TradingState.ACTIVE, True, None),
        (TradingState.REDUCING, True, None),
        (TradingState.REDUCING, False, "reduce_only"),
        (TradingState.HALTED, True, "trading_halted"),
        (TradingState.HALTED, False, "trading_halted"),
    ],
)
def test_trading_state_reason(state: TradingState, reduces: bool, reason: str | None) -> None:
    assert trading_state_reason(state, reduces) == reason


def test_reducible_quantity_only_against_an_opposite_position() -> None:
    assert reducible_quantity("BTCUSDT", SHORT, POSITIONS) == 0.5  # sells into the BTC long
    assert reducible_quantity("BTC/USDT:USDT", LONG, POSITIONS) == 0.0  # adds to it
    assert reducible_quantity("ETH_USDT", LONG, POSITIONS) == 10  # buys back the ETH short
    assert reducible_quantity("SOLUSDT", SHORT, POSITIONS) == 0.0  # nothing open


def test_position_lookup_and_new_position() -> None:
    assert position_on("btc_usdt", POSITIONS) is BTC_LONG
    assert opens_new_position("SOL_USDT", POSITIONS)
    assert not opens_new_position("ETH_USDT", POSITIONS)
    assert opens_new_position("ETH_USDT", ())


def test_symbol_exposure_after_nets_opposite_orders() -> None:
    # BTC long worth 0.5 x 42,000 (mark) = 21,000
    assert symbol_exposure_after("BTCUSDT", LONG, 4_000, POSITIONS) == pytest.approx(25_000)
    assert symbol_exposure_after("BTCUSDT", SHORT, 4_000, POSITIONS) == pytest.approx(17_000)
    assert symbol_exposure_after("BTCUSDT", SHORT, 30_000, POSITIONS) == pytest.approx(9_000)  # flips
    assert symbol_exposure_after("SOLUSDT", SHORT, 1_000, POSITIONS) == 1_000


# --- cooldowns ----------------------------------------------------------------------------------

NOW = 1_700_000_000.0
RULES = dict(
    cooldown_sec=600, stoploss_guard_trades=3, stoploss_guard_lookback_sec=3_600, max_consecutive_losses=4
)


def trade(symbol: str, ago: float, pnl: float, reason: str = "exit_signal") -> ClosedTrade:
    return ClosedTrade(symbol=symbol, closed_at=NOW - ago, pnl=pnl, exit_reason=reason)


def test_stop_loss_locks_its_symbol_for_the_cooldown() -> None:
    trades = (trade("BTC_USDT", 100, -50, "stop_loss"),)
    lock = active_lock("BTCUSDT", trades, NOW, **RULES)
    assert lock is not None
    assert lock.remaining_sec == pytest.approx(500)
    assert "stop-loss on BTC_USDT" in lock.reason
    assert active_lock("ETHUSDT", trades, NOW, **RULES) is None  # other symbols trade on


def test_cooldown_ends_exactly_after_cooldown_sec() -> None:
    assert active_lock("BTCUSDT", (trade("BTC_USDT", 600, -50, "stop_loss"),), NOW, **RULES) is None
    assert active_lock("BTCUSDT", (trade("BTC_USDT", 599, -50, "stop_loss"),), NOW, **RULES) is not None


def test_a_plain_losing_exit_does_not_lock_the_symbol() -> None:
    assert active_lock("BTCUSDT", (trade("BTC_USDT", 10, -50, "roi"),), NOW, **RULES) is None


@pytest.mark.parametrize(
    "reason", ["stop_loss", "stoploss", "trailing_stop_loss", "stop-loss", "liquidation"]
)
def test_stop_loss_spellings(reason: str) -> None:
    assert trade("X", 1, -1, reason).is_stop_loss


def test_stoploss_guard_locks_everything_after_n_stops_in_the_lookback() -> None:
    trades = (
        trade("A", 3_000, -1, "stop_loss"),
        trade("B", 2_000, -1, "stop_loss"),
        trade("C", 300, -1, "stop_loss"),
    )
    lock = active_lock("SOLUSDT", trades, NOW, **RULES)
    assert lock is not None
    assert lock.reason == "3 stop-losses within 3600s"
    assert lock.remaining_sec == pytest.approx(300)  # 600 after the last stop


def test_stoploss_guard_ignores_stops_outside_the_lookback() -> None:
    trades = (
        trade("A", 3_700, -1, "stop_loss"),
        trade("B", 2_000, -1, "stop_loss"),
        trade("C", 300, -1, "stop_loss"),
    )
    assert active_lock("SOLUSDT", trades, NOW, **RULES) is None


def test_losing_run_locks_everything() -> None:
    trades = tuple(trade(sym, ago, -5) for sym, ago in (("A", 900), ("B", 700), ("C", 500), ("D", 100)))
    lock = active_lock("SOLUSDT", trades, NOW, **RULES)
    assert lock is not None
    assert lock.reason == "4 losing trades in a row"
    assert lock.remaining_sec == pytest.approx(500)


def test_a_win_breaks_the_losing_run() -> None:
    trades = (trade("A", 900, -5), trade("B", 700, -5), trade("C", 500, 1), trade("D", 100, -5))
    assert active_lock("SOLUSDT", trades, NOW, **RULES) is None


def test_longest_lock_wins_and_zero_cooldown_disables() -> None:
    trades = (
        trade("A", 3_000, -1, "stop_loss"),
        trade("B", 2_000, -1, "stop_loss"),
        trade("SOL_USDT", 50, -1, "stop_loss"),
    )
    lock = active_lock("SOLUSDT", trades, NOW, **RULES)
    assert lock is not None
    assert lock.remaining_sec == pytest.approx(550)
    assert active_lock("SOLUSDT", trades, NOW, **{**RULES, "cooldown_sec": 0}) is None


def test_trades_closed_after_now_do_not_count() -> None:
    # A replay evaluates signals at their own time: later exits are the future.
    trades = (trade("BTC_USDT", -100, -50, "stop_loss"),)
    assert active_lock("BTCUSDT", trades, NOW, **RULES) is None


# --- order rate ---------------------------------------------------------------------------------


def test_order_rate_sliding_window() -> None:
    limiter = OrderRateLimiter(3)
    for second in (0.0, 10.0, 20.0):
        assert limiter.allows(second)
        limiter.record(second)
    assert not limiter.allows(59.9)
    assert limiter.retry_after(59.9) == pytest.approx(0.1)
    assert limiter.count(59.9) == 3
    assert limiter.allows(60.0)  # the order at 0 has left the window [0.0, 60.0)
    limiter.record(60.0)
    assert not limiter.allows(60.0)
    assert limiter.retry_after(60.0) == pytest.approx(10.0)


def test_order_rate_same_timestamp_burst() -> None:
    limiter = OrderRateLimiter(2)
    limiter.record(5.0)
    limiter.record(5.0)
    assert not limiter.allows(5.0)
    assert limiter.retry_after(5.0) == pytest.approx(60.0)


def test_order_rate_zero_disables() -> None:
    limiter = OrderRateLimiter(0)
    for _ in range(1_000):
        limiter.record(1.0)
    assert limiter.allows(1.0)
    assert limiter.retry_after(1.0) == 0.0
    assert limiter.limit == 0
