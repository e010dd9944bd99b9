"""Typed records of the risk engine: signal, market, state, check and decision.

msgspec Structs so a JSONL line decodes straight into a validated record (no dict in between);
``gc=False`` because none of them can take part in a reference cycle.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

SCHEMA_VERSION = 1

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Leverage = Annotated[int, msgspec.Meta(ge=1, le=125)]


class MarketData(msgspec.Struct, gc=False, omit_defaults=True):
    """Market conditions: defaults from --market, overridden field by field by a signal's `market`."""

    volatility: NonNegative | None = None  # annualised, e.g. 0.6 = 60 %
    funding_rate: float | None = None  # per settlement
    atr: NonNegative | None = None  # average true range, quote currency
    order_book_depth: Positive | None = None  # quote currency
    bid: Positive | None = None
    ask: Positive | None = None


class Signal(msgspec.Struct, gc=False, kw_only=True):
    """A trade signal as the CDB signal service emits it (fields in the order it writes them,
    which is the order msgspec decodes fastest)."""

    signal_id: str | int | None = None
    symbol: Annotated[str, msgspec.Meta(min_length=1)]
    side: str
    price: Positive
    target_position_usd: NonNegative | None = None
    leverage: Leverage | None = None
    margin_mode: str | None = None
    order_type: str | None = None
    stop_price: Positive | None = None
    timestamp: str | int | float | None = None
    market: MarketData | None = None
    mark_price: Positive | None = None  # MEXC fair price: liquidation distance and funding use it


class RiskState(msgspec.Struct, gc=False):
    """Portfolio state the checks need (``--state``)."""

    equity: Positive | None = None
    daily_pnl: float = 0.0
    total_exposure_pct: NonNegative = 0.0
    peak_equity: Positive | None = None
    win_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    avg_win: NonNegative | None = None
    avg_loss: NonNegative | None = None
    # account rules (rules/account.py, rules/margin.py); positions and trades are validated by positions.py
    available_balance: float | None = None  # else equity - used_margin
    used_margin: NonNegative | None = None  # else the sum over `positions`
    wallet_balance: float | None = None  # cross margin; else equity - unrealised PnL of `positions`
    trading_state: str | None = None  # ACTIVE | REDUCING | HALTED
    positions: list[dict[str, Any]] | dict[str, Any] | None = None
    recent_trades: list[dict[str, Any]] | None = None


CheckValue = float | int | str | None


class Check(msgspec.Struct, gc=False, omit_defaults=True, frozen=True):
    """One check's outcome in a decision's trace (``reason``: the code it failed with, absent if passed).
    Frozen: a compiled engine's decisions share equal checks (cdbctl/risk/native.c)."""

    name: str
    passed: bool
    value: CheckValue
    limit: CheckValue
    detail: str | None
    # a rule's trace values can change unit with the reason (instrument: contracts for above_max_quantity)
    reason: str | None = None


class Decision(msgspec.Struct, gc=False):
    """The engine's answer for one input record."""

    schema_version: int
    signal_id: str | int | None
    symbol: str | None
    side: str | None
    approved: bool
    reason: str | None
    detail: str | None
    position_size: float
    position_size_usd: float
    leverage: int | None
    stop_price: float | None
    liquidation_price: float | None
    liquidation_distance: float | None
    max_safe_leverage: int
    regime: str | None
    funding_fee_daily: float | None
    funding_alert: bool
    expected_slippage_bps: float | None
    fees_usd: float | None
    checks: list[Check] | msgspec.UnsetType = msgspec.UNSET
