"""Account-level pre-trade rules: trading state, position counts and limits, cooldowns, order rate.

Semantics follow the engines traders already trust:

* Trading state (NautilusTrader `TradingState`): ACTIVE allows everything, REDUCING only orders
  that reduce an open position, HALTED nothing.
* Max open positions (freqtrade `max_open_trades`): a signal that would open a position on a
  new symbol is refused once that many positions are open; adding to or reducing an open
  position is not a new position.
* Cooldowns (freqtrade protections): `CooldownPeriod` locks a symbol for a while after its trade
  closed (here: closed by a stop-loss); `StoplossGuard` locks all trading after `trade_limit`
  stop-loss exits within `lookback_period`; a run of losing trades locks all trading too
  (`LowProfitPairs`/`MaxDrawdown` in spirit). Each lock lasts COOLDOWN_SEC after the trade that
  triggered it.
* Order rate (NautilusTrader `max_order_submit_rate`, default 100/second): at most
  MAX_ORDERS_PER_MINUTE approved orders in any sliding 60-second window of a stateful replay.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from enum import StrEnum

import msgspec

from cdbctl.errors import InputError
from cdbctl.risk.instruments import normalize_symbol
from cdbctl.risk.positions import ClosedTrade, Position

WINDOW_SEC = 60.0


class TradingState(StrEnum):
    """NautilusTrader's trading states."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class Lock(msgspec.Struct, frozen=True):
    """An active cooldown: why, and how many seconds are left."""

    reason: str
    remaining_sec: float
    until: float


def parse_trading_state(value: object, where: str = "state.trading_state") -> TradingState:
    """`active`/`reducing`/`halted` in any case (missing -> ACTIVE)."""
    if value is None:
        return TradingState.ACTIVE
    if isinstance(value, str):
        try:
            return TradingState(value.strip().upper())
        except ValueError:
            pass
    raise InputError(f"{where}: must be ACTIVE, REDUCING or HALTED, got {value!r}")


def position_on(symbol: str, positions: Sequence[Position]) -> Position | None:
    """The open position on `symbol` (any common spelling), or None."""
    key = normalize_symbol(symbol)
    for position in positions:
        if position.symbol == symbol or normalize_symbol(position.symbol) == key:
            return position
    return None


def reducible_quantity(symbol: str, side: int, positions: Sequence[Position]) -> float:
    """Base quantity a signal on `side` can close without flipping (0 if it would not reduce)."""
    position = position_on(symbol, positions)
    if position is None or position.side == side:
        return 0.0
    return position.quantity


def trading_state_reason(state: TradingState, reduces: bool) -> str | None:
    """`trading_halted`, `reduce_only` or None (passes)."""
    if state is TradingState.HALTED:
        return "trading_halted"
    if state is TradingState.REDUCING and not reduces:
        return "reduce_only"
    return None


def opens_new_position(symbol: str, positions: Sequence[Position]) -> bool:
    """True when no position is open on the symbol (the signal would add one to the count)."""
    return position_on(symbol, positions) is None


def symbol_exposure_after(symbol: str, side: int, notional: float, positions: Sequence[Position]) -> float:
    """Absolute notional on `symbol` after the order (same side adds, opposite side nets)."""
    position = position_on(symbol, positions)
    if position is None:
        return notional
    return abs(position.side * position.notional + side * notional)


def active_lock(
    symbol: str,
    trades: Sequence[ClosedTrade],
    now: float,
    *,
    cooldown_sec: float,
    stoploss_guard_trades: int,
    stoploss_guard_lookback_sec: float,
    max_consecutive_losses: int,
) -> Lock | None:
    """The longest-running lock at `now`, or None; `trades` sorted oldest close first."""
    if cooldown_sec <= 0 or not trades:
        return None
    locks: list[Lock] = []
    key = normalize_symbol(symbol)
    for trade in reversed(trades):
        if trade.closed_at > now:
            continue  # closed after the signal's time (a replay): not known yet
        if trade.closed_at <= now - cooldown_sec:
            break  # older exits have cooled down already
        if trade.is_stop_loss and normalize_symbol(trade.symbol) == key:
            locks.append(_lock(f"stop-loss on {trade.symbol}", trade.closed_at + cooldown_sec, now))
            break
    if stoploss_guard_trades > 0:
        stops = [
            t for t in trades if t.is_stop_loss and now - stoploss_guard_lookback_sec < t.closed_at <= now
        ]
        if len(stops) >= stoploss_guard_trades:
            reason = f"{len(stops)} stop-losses within {stoploss_guard_lookback_sec:g}s"
            locks.append(_lock(reason, stops[-1].closed_at + cooldown_sec, now))
    if max_consecutive_losses > 0:
        closed = [t for t in trades if t.closed_at <= now]
        run = closed[-max_consecutive_losses:]
        if len(run) == max_consecutive_losses and all(t.pnl < 0 for t in run):
            reason = f"{max_consecutive_losses} losing trades in a row"
            locks.append(_lock(reason, run[-1].closed_at + cooldown_sec, now))
    live = [lock for lock in locks if lock.remaining_sec > 0]
    return max(live, key=lambda lock: lock.until) if live else None


def _lock(reason: str, until: float, now: float) -> Lock:
    return Lock(reason=reason, remaining_sec=until - now, until=until)


class OrderRateLimiter:
    """Sliding-window order counter for stateful replays (approved orders only are recorded)."""

    __slots__ = ("_limit", "times")

    def __init__(self, max_per_minute: int) -> None:
        self._limit = max_per_minute
        self.times: deque[float] = deque()  # approved orders, oldest first (the window drops old ones)

    @property
    def limit(self) -> int:
        """Orders allowed per 60-second window (0 disables the limit)."""
        return self._limit

    def count(self, now: float) -> int:
        """Orders recorded in the 60 seconds up to `now`."""
        times = self.times
        while times and times[0] <= now - WINDOW_SEC:
            times.popleft()
        return len(times)

    def allows(self, now: float) -> bool:
        """True when one more order at `now` stays within the limit."""
        return self._limit <= 0 or self.count(now) < self._limit

    def retry_after(self, now: float) -> float:
        """Seconds until the window has room again (0 when it has room now)."""
        if self.allows(now):
            return 0.0
        return self.times[len(self.times) - self._limit] + WINDOW_SEC - now

    def record(self, now: float) -> None:
        """Count an approved order at `now` (timestamps may repeat; they must not go back)."""
        if self._limit > 0:
            self.times.append(now)
