"""Open positions and closed trades from the risk state (`positions`, `recent_trades`).

Pure parsing and arithmetic: plain decoded JSON in, typed msgspec Structs out, `InputError`
naming the record and field on bad data. Used by the margin and account-rule checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import msgspec

from cdbctl.errors import InputError

LONG = 1
SHORT = -1

_SIDES = {"long": LONG, "buy": LONG, "short": SHORT, "sell": SHORT}


class Position(msgspec.Struct, frozen=True):
    """One open position: `side` is +1 (long) or -1 (short), `quantity` in base units (> 0)."""

    symbol: str
    side: int
    quantity: float
    entry_price: float
    mark_price: float | None = None
    leverage: float = 1.0
    margin_mode: str = "isolated"
    maintenance_margin_rate: float | None = None
    maintenance_amount: float = 0.0

    @property
    def price(self) -> float:
        """The fair (mark) price when known, else the entry price."""
        return self.entry_price if self.mark_price is None else self.mark_price

    @property
    def notional(self) -> float:
        """Position value at the fair price."""
        return self.quantity * self.price

    def unrealized_pnl(self) -> float:
        """Unrealised PnL at the fair price; signed by side, so a short gains when the price falls."""
        return self.side * self.quantity * (self.price - self.entry_price)

    def maintenance_margin(self, default_rate: float) -> float:
        """Maintenance margin at the fair price (Binance: notional x MMR - maintenance amount)."""
        rate = default_rate if self.maintenance_margin_rate is None else self.maintenance_margin_rate
        return self.notional * rate - self.maintenance_amount

    def used_margin(self) -> float:
        """Initial margin the position ties up (entry notional / leverage)."""
        return self.quantity * self.entry_price / self.leverage


class ClosedTrade(msgspec.Struct, frozen=True):
    """One closed trade: close time in epoch seconds, realised PnL, exit reason (lower case)."""

    symbol: str
    closed_at: float
    pnl: float
    exit_reason: str = ""

    @property
    def is_stop_loss(self) -> bool:
        """True when the trade was closed by a stop (stop_loss, stoploss, trailing_stop_loss, ...)."""
        reason = self.exit_reason.replace("-", "_")
        return "stop_loss" in reason or "stoploss" in reason or reason == "liquidation"


def parse_side(value: object, where: str) -> int:
    """`long`/`buy` -> +1, `short`/`sell` -> -1 (any case); anything else is an InputError."""
    if isinstance(value, str):
        side = _SIDES.get(value.strip().lower())
        if side is not None:
            return side
    raise InputError(f"{where}: side: must be long, short, buy or sell, got {value!r}")


def _number(raw: Mapping[str, object], key: str, where: str, *, positive: bool = True) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {key}: must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise InputError(f"{where}: {key}: must be > 0, got {value!r}")
    return float(value)


def _optional(raw: Mapping[str, object], key: str, where: str) -> float | None:
    return None if raw.get(key) is None else _number(raw, key, where)


def parse_epoch(value: object, where: str) -> float:
    """ISO-8601 (with `Z` or an offset) or epoch seconds/milliseconds -> epoch seconds."""
    if isinstance(value, bool):
        raise InputError(f"{where}: not a timestamp: {value!r}")
    if isinstance(value, int | float) and math.isfinite(value):
        # Epoch milliseconds are 13 digits today; seconds stay below 1e11 until the year 5138.
        return float(value) / 1000.0 if abs(value) >= 1e11 else float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if moment.tzinfo is not None:
                return moment.timestamp()
            raise InputError(f"{where}: timestamp needs `Z` or a UTC offset: {value!r}")
    raise InputError(f"{where}: not an ISO-8601 or epoch timestamp: {value!r}")


def parse_positions(raw: object, where: str = "state.positions") -> tuple[Position, ...]:
    """Validate the state's `positions` list (or a symbol-keyed mapping) into Positions."""
    if raw is None:
        return ()
    items: list[tuple[str, object]] = []
    if isinstance(raw, Mapping):
        # {"BTCUSDT": {...}}: the key is the symbol unless the record names one itself.
        for key, value in raw.items():
            record = {"symbol": key, **value} if isinstance(value, Mapping) else value
            items.append((f"{where}.{key}", record))
    elif isinstance(raw, Sequence) and not isinstance(raw, str | bytes):
        items = [(f"{where}[{index}]", value) for index, value in enumerate(raw)]
    else:
        raise InputError(f"{where}: must be a list of positions, got {type(raw).__name__}")
    positions = []
    for here, item in items:
        if isinstance(raw, Mapping) and isinstance(item, int | float) and not isinstance(item, bool):
            # CDB's risk service keeps {symbol: signed quantity}: no entry price, so no margin to compute
            raise InputError(
                f"{here}: a bare quantity ({item!r}, CDB's risk-service form) has no side or entry_price; "
                "give the position as an object: symbol, side, quantity, entry_price"
            )
        if not isinstance(item, Mapping):
            raise InputError(f"{here}: must be an object, got {type(item).__name__}")
        symbol = item.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError(f"{here}: symbol: must be a non-empty string, got {symbol!r}")
        # `quantity` (base units) is the documented name; `size` is accepted as the services' alias.
        size_key = "size" if "quantity" not in item and "size" in item else "quantity"
        mode = item.get("margin_mode", "isolated")
        if mode not in ("isolated", "cross"):
            raise InputError(f"{here}: margin_mode: must be isolated or cross, got {mode!r}")
        amount = {"maintenance_amount": item.get("maintenance_amount", 0.0)}
        positions.append(
            Position(
                symbol=symbol.strip(),
                side=parse_side(item.get("side"), here),
                quantity=_number(item, size_key, here),
                entry_price=_number(item, "entry_price", here),
                mark_price=_optional(item, "mark_price", here),
                leverage=_optional(item, "leverage", here) or 1.0,
                margin_mode=str(mode),
                maintenance_margin_rate=_optional(item, "maintenance_margin_rate", here),
                maintenance_amount=_number(amount, "maintenance_amount", here, positive=False),
            )
        )
    return tuple(positions)


def parse_recent_trades(raw: object, where: str = "state.recent_trades") -> tuple[ClosedTrade, ...]:
    """Validate the state's `recent_trades` list into ClosedTrades, oldest close first."""
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise InputError(f"{where}: must be a list of trades, got {type(raw).__name__}")
    trades = []
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise InputError(f"{here}: must be an object, got {type(item).__name__}")
        symbol = item.get("symbol")
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError(f"{here}: symbol: must be a non-empty string, got {symbol!r}")
        if "closed_at" not in item:
            raise InputError(f"{here}: closed_at: missing (ISO-8601 or epoch seconds)")
        reason = item.get("exit_reason", "")
        if not isinstance(reason, str):
            raise InputError(f"{here}: exit_reason: must be a string, got {reason!r}")
        trades.append(
            ClosedTrade(
                symbol=symbol.strip(),
                closed_at=parse_epoch(item["closed_at"], f"{here}: closed_at"),
                pnl=_number(item, "pnl", here, positive=False),
                exit_reason=reason.strip().lower(),
            )
        )
    trades.sort(key=lambda trade: trade.closed_at)
    return tuple(trades)
