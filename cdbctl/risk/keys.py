"""The risk configuration table: one field per key of ``RiskConfig``, with its default and, in its
``Key`` annotation, its meaning, aliases and accepted range.

Everything else about the keys is derived from this one class: ``KEYS`` (the parser's specs, the
`risk config` rows and the generated reference table), the defaults and the key order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, get_args, get_origin, get_type_hints

import msgspec

SIZING_METHODS = ("fixed_fractional", "vol_target", "kelly", "atr")
# CDB's services/position_sizing.py names for the same formulas
SIZING_ALIASES = (("volatility_targeting", "vol_target"), ("kelly_criterion", "kelly"), ("atr_based", "atr"))
MARGIN_MODES = ("isolated", "cross")


@dataclass(frozen=True, slots=True)
class Key:
    """A key's documentation and accepted values (the annotation of its ``RiskConfig`` field)."""

    help: str
    low: float | None = None  # inclusive lower bound (exclusive with low_open)
    high: float | None = None  # inclusive upper bound
    low_open: bool = False
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    choice_aliases: tuple[tuple[str, str], ...] = ()  # (other name, choice): CDB's sizing names


def _fraction(help_: str, *, open_low: bool = True, aliases: tuple[str, ...] = ()) -> Key:
    return Key(help_, 0, 1, low_open=open_low, aliases=aliases)


class RiskConfig(msgspec.Struct, frozen=True, gc=False, cache_hash=True):
    """The effective risk configuration (one attribute per key; the key table of the manual)."""

    ACCOUNT_EQUITY: Annotated[float, Key("equity (USDT) when the state has none", 0, low_open=True)] = (
        100000.0
    )
    MAX_POSITION_PCT: Annotated[float, _fraction("cap on one position's notional, fraction of equity")] = 0.10
    MAX_DAILY_DRAWDOWN_PCT: Annotated[
        float, _fraction("reject when daily_pnl <= -equity x this", aliases=("MAX_DRAWDOWN_PCT",))
    ] = 0.05
    CIRCUIT_BREAKER_THRESHOLD_PCT: Annotated[
        float, _fraction("halt when the day's loss or the drawdown from peak_equity >= this fraction")
    ] = 0.10
    MAX_TOTAL_EXPOSURE_PCT: Annotated[
        float, _fraction("cap on total notional / equity after the trade", aliases=("MAX_EXPOSURE_PCT",))
    ] = 0.50
    DATA_STALE_TIMEOUT_SEC: Annotated[
        float, Key("reject signals older than this (seconds)", 0, low_open=True)
    ] = 60.0
    MAX_FUTURE_SKEW_SEC: Annotated[
        float, Key("tolerated clock skew for timestamps in the future (seconds)", 0)
    ] = 5.0
    REQUIRE_TIMESTAMP: Annotated[bool, Key("reject signals without a timestamp")] = False
    STOP_LOSS_PCT: Annotated[float, _fraction("stop distance from entry, fraction of price")] = 0.02
    MAX_SPREAD_BPS: Annotated[float, Key("reject when (ask-bid)/mid in bps exceeds this", 0)] = 50.0
    MAX_SLIPPAGE_BPS: Annotated[float, Key("reject when the expected slippage in bps exceeds this", 0)] = (
        100.0
    )
    MARGIN_MODE: Annotated[str, Key("margin mode when the signal has none", choices=MARGIN_MODES)] = (
        "isolated"
    )
    DEFAULT_LEVERAGE: Annotated[int, Key("leverage when the signal has none", 1, 125)] = 5
    MAX_LEVERAGE: Annotated[int, Key("reject leverage above this", 1, 125)] = 10
    MIN_LIQUIDATION_DISTANCE: Annotated[
        float, _fraction("reject when |LP-entry|/entry is below this", open_low=False)
    ] = 0.15
    MAINTENANCE_MARGIN_RATE: Annotated[
        float, _fraction("MEXC maintenance margin rate (MMR)", open_low=False)
    ] = 0.005
    FUNDING_RATE: Annotated[float, Key("funding rate per settlement when the market has none", -1, 1)] = (
        0.0001
    )
    FUNDING_SETTLEMENT_HOURS: Annotated[
        float, Key("hours between funding settlements", 0, 24, low_open=True)
    ] = 8.0
    MAX_DAILY_FUNDING_FEE_PCT: Annotated[
        float, _fraction("reject when daily funding fee / value exceeds this", open_low=False)
    ] = 0.001
    FUNDING_ALERT_PCT: Annotated[
        float, _fraction("set funding_alert when daily fee / value exceeds this", open_low=False)
    ] = 0.0005
    DEFAULT_VOLATILITY: Annotated[float, Key("annualised volatility when the market has none", 0)] = 0.30
    REGIME_STRESSED_VOLATILITY: Annotated[float, Key("volatility above this is the stressed regime", 0)] = (
        0.60
    )
    REGIME_PANIC_VOLATILITY: Annotated[
        float, Key("volatility above this is the panic regime (reject)", 0)
    ] = 1.00
    REGIME_STRESSED_SIZE_MULTIPLIER: Annotated[
        float, _fraction("size multiplier in the stressed regime", open_low=False)
    ] = 0.5
    SIZING_METHOD: Annotated[
        str, Key("position sizing formula", choices=SIZING_METHODS, choice_aliases=SIZING_ALIASES)
    ] = "fixed_fractional"
    RISK_PER_TRADE_PCT: Annotated[
        float,
        _fraction(
            "equity fraction risked per trade (fixed_fractional, atr)",
            open_low=False,
            aliases=("RISK_PER_TRADE",),
        ),
    ] = 0.01
    TARGET_VOLATILITY: Annotated[
        float, Key("annualised volatility budget per position (vol_target)", 0, aliases=("TARGET_VOL",))
    ] = 0.05
    KELLY_FRACTION: Annotated[float, _fraction("fraction of the full Kelly bet (kelly)", open_low=False)] = (
        0.5
    )
    ATR_STOP_MULTIPLIER: Annotated[
        float, Key("stop distance in ATRs (atr)", 0, low_open=True, aliases=("ATR_MULTIPLIER",))
    ] = 2.0
    SLIPPAGE_IMPACT_COEFFICIENT: Annotated[float, Key("Y in the square-root impact law", 0)] = 1.0
    MAX_OPEN_POSITIONS: Annotated[
        int, Key("reject a new symbol beyond this many open positions (0: off)", 0)
    ] = 10
    MAX_SYMBOL_EXPOSURE_PCT: Annotated[
        float, _fraction("cap on one symbol's notional / equity after the order (0: off)", open_low=False)
    ] = 0.0
    COOLDOWN_SEC: Annotated[
        float, Key("lock after a stop-loss, StoplossGuard or losing run (s, 0: off)", 0)
    ] = 900.0
    STOPLOSS_GUARD_TRADES: Annotated[
        int, Key("stop-losses in the lookback that lock trading (0: off)", 0)
    ] = 3
    STOPLOSS_GUARD_LOOKBACK_SEC: Annotated[
        float, Key("StoplossGuard lookback window (seconds)", 0, low_open=True)
    ] = 3600.0
    MAX_CONSECUTIVE_LOSSES: Annotated[int, Key("losing trades in a row that lock trading (0: off)", 0)] = 5
    MAX_ORDERS_PER_MINUTE: Annotated[
        int, Key("approved orders per 60 s in --stateful replays (0: off)", 0)
    ] = 6000
    TAKER_FEE: Annotated[float, Key("taker fee rate (market orders, exits)", 0, 0.1)] = 0.0006
    MAKER_FEE: Annotated[float, Key("maker fee rate (limit entries; negative is a rebate)", -0.1, 0.1)] = (
        0.0002
    )


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One configuration key: its type, default, aliases, accepted range and meaning."""

    name: str
    kind: str  # "float" | "int" | "bool" | "choice"
    default: float | int | bool | str
    help: str
    aliases: tuple[str, ...] = ()
    low: float | None = None  # inclusive lower bound
    high: float | None = None  # inclusive upper bound
    low_open: bool = False  # lower bound exclusive
    choices: tuple[str, ...] = ()
    choice_aliases: tuple[tuple[str, str], ...] = ()


_KINDS = {float: "float", int: "int", bool: "bool", str: "choice"}


def _specs() -> tuple[KeySpec, ...]:
    hints = get_type_hints(RiskConfig, include_extras=True)
    defaults = RiskConfig()
    specs = []
    for name in RiskConfig.__struct_fields__:
        hint = hints[name]
        if get_origin(hint) is not Annotated:
            raise TypeError(f"RiskConfig.{name}: no Key annotation")  # a key without documentation
        base, key = get_args(hint)[:2]
        kind, default = _KINDS[base], getattr(defaults, name)
        specs.append(KeySpec(name, kind, default, key.help, key.aliases, key.low, key.high, key.low_open,
                             key.choices, key.choice_aliases))  # fmt: skip
    return tuple(specs)


KEYS: tuple[KeySpec, ...] = _specs()
KEY_BY_NAME: dict[str, KeySpec] = {k.name: k for k in KEYS}
ALIASES: dict[str, str] = {a: k.name for k in KEYS for a in k.aliases}
