"""The account a run evaluates against: open positions, closed trades, trading state, balances and
the order-rate window of a stateful replay.

Built once per engine (parsing and validating the state's `positions` and `recent_trades`); a
stateful replay nets each approved order into it (``record_fill``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cdbctl.risk.account_rules import Lock, OrderRateLimiter, TradingState, active_lock, parse_trading_state
from cdbctl.risk.config import RiskConfig
from cdbctl.risk.instruments import InstrumentBook, normalize_symbol
from cdbctl.risk.margin import others_terms
from cdbctl.risk.positions import LONG, SHORT, ClosedTrade, Position, parse_positions, parse_recent_trades

if TYPE_CHECKING:
    from cdbctl.risk.model import RiskState


class Account:
    """Everything the account rules need beyond the signal, built once per engine."""

    __slots__ = (
        "available", "by_key", "cross_memo", "default_mmr", "explicit_state", "instruments", "limiter",
        "locks", "positions", "stateful", "symbol_caps", "trades", "trading_state", "used_margin", "wallet",
    )  # fmt: skip

    def __init__(
        self,
        config: RiskConfig,
        state: RiskState,
        instruments: InstrumentBook | None,
        *,
        stateful: bool = False,
    ) -> None:
        self.instruments = instruments
        books = instruments.by_symbol.values() if instruments is not None else ()
        self.symbol_caps = any(math.isfinite(i.max_position_usd) for i in books)
        self.positions: list[Position] = list(parse_positions(state.positions))
        self.by_key: dict[str, Position] = {}  # normalised symbol -> its (first) open position
        for p in self.positions:
            self.by_key.setdefault(normalize_symbol(p.symbol), p)
        self.locks: dict[tuple[str, float], Lock | None] = {}  # cooldown memo: (symbol, time) -> lock
        self.cross_memo: dict[tuple[str, int], tuple[float, float, tuple[Position, ...], float, float]] = {}
        self.trades: tuple[ClosedTrade, ...] = parse_recent_trades(state.recent_trades)
        self.explicit_state = state.trading_state is not None
        self.trading_state: TradingState = parse_trading_state(state.trading_state)
        self.available: float | None = state.available_balance
        self.wallet: float | None = state.wallet_balance
        used = state.used_margin
        self.used_margin: float = used if used is not None else sum(p.used_margin() for p in self.positions)
        self.limiter = OrderRateLimiter(config.MAX_ORDERS_PER_MINUTE)
        self.stateful = stateful
        self.default_mmr = config.MAINTENANCE_MARGIN_RATE

    def held(self, symbol: str) -> Position | None:
        """The open position on a symbol (any spelling), or None."""
        return self.by_key.get(normalize_symbol(symbol)) if self.by_key else None

    def cross_terms(self, key: str, side: int) -> tuple[float, float, tuple[Position, ...], float, float]:
        """What a cross order on a symbol (normalised ``key``) needs of the open positions, summed in
        position order: (every leg's PnL, isolated margin, same-side legs on the symbol, and the other
        symbols' cross legs' maintenance margin and PnL). Memoised until the positions change."""
        terms = self.cross_memo.get((key, side))
        if terms is None:
            upnl = isolated = 0.0
            same: list[Position] = []
            others: list[Position] = []
            for p in self.positions:
                upnl += p.unrealized_pnl()
                if p.margin_mode != "cross":
                    isolated += p.used_margin()
                elif normalize_symbol(p.symbol) != key:
                    others.append(p)
                elif p.side == side:
                    same.append(p)
            terms = (upnl, isolated, tuple(same), *others_terms(others, self.default_mmr))
            self.cross_memo[(key, side)] = terms
        return terms

    def lock(self, symbol: str, now: float, c: RiskConfig) -> Lock | None:
        """The cooldown lock at `now` (memoised: replays repeat symbols and timestamps; trades are fixed)."""
        key = (normalize_symbol(symbol), now)
        if key in self.locks:
            return self.locks[key]
        found = active_lock(
            symbol,
            self.trades,
            now,
            cooldown_sec=c.COOLDOWN_SEC,
            stoploss_guard_trades=c.STOPLOSS_GUARD_TRADES,
            stoploss_guard_lookback_sec=c.STOPLOSS_GUARD_LOOKBACK_SEC,
            max_consecutive_losses=c.MAX_CONSECUTIVE_LOSSES,
        )
        if len(self.locks) >= 65536:
            self.locks.clear()
        self.locks[key] = found
        return found

    def record_fill(
        self,
        symbol: str,
        long: bool,
        quantity: float,
        price: float,
        *,
        leverage: int,
        ts: float,
        margin_mode: str = "isolated",
    ) -> None:
        """A stateful replay's approved order: count it, and net it into the open positions."""
        self.cross_memo.clear()
        self.limiter.record(ts)
        side = LONG if long else SHORT
        key = normalize_symbol(symbol)
        held = self.by_key.get(key)
        after: Position | None
        if held is None:
            after = Position(symbol, side, quantity, price, leverage=float(leverage), margin_mode=margin_mode)
            self.used_margin += quantity * price / leverage
        else:
            self.positions.remove(held)
            net = held.side * held.quantity + side * quantity
            if held.side == side:  # adding: average entry price, more margin
                entry = (held.quantity * held.entry_price + quantity * price) / (held.quantity + quantity)
                after = Position(
                    held.symbol, side, abs(net), entry, leverage=held.leverage, margin_mode=held.margin_mode
                )
                self.used_margin += quantity * price / leverage
            else:
                freed = min(quantity, held.quantity) / held.quantity * held.used_margin()
                self.used_margin = max(0.0, self.used_margin - freed)
                after = None
                if abs(net) > 1e-12 * max(1.0, held.quantity):  # reduced, or flipped to the other side
                    if net * held.side > 0:
                        after = Position(
                            held.symbol, held.side, abs(net), held.entry_price, leverage=held.leverage,
                            margin_mode=held.margin_mode,
                        )  # fmt: skip
                    else:
                        after = Position(
                            held.symbol,
                            side,
                            abs(net),
                            price,
                            leverage=float(leverage),
                            margin_mode=margin_mode,
                        )
                        self.used_margin += abs(net) * price / leverage
        if after is None:
            del self.by_key[key]
        else:
            self.positions.append(after)
            self.by_key[key] = after
