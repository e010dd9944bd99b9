"""CDB's services/risk_engine.py API on cdbctl's engine: the same names, signatures and decisions.

A CDB service switches with one import (``from cdbctl.risk import evaluate_signal_v2, ...``).
Where CDB's code could approve what a hard limit forbids, raise, or return an infinite size, this
API rejects instead (fail closed); docs/risk-compat.md lists every difference and why.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cdbctl.errors import CdbctlError, ConfigError
from cdbctl.risk.cdb_config import CDB_DEFAULTS, cdb_config
from cdbctl.risk.config import KeySpec, RiskConfig, canonical_key, parse_value
from cdbctl.risk.engine import Engine
from cdbctl.risk.formulas import circuit_fraction, money
from cdbctl.risk.io import load_market, load_state, record_from_object
from cdbctl.risk.model import Check, Decision, Signal
from cdbctl.risk.rules.signal import SIDES
from cdbctl.risk.timeparse import parse_now

_KELLY_INPUTS = {"win_rate": 0.50, "avg_win": 0.02, "avg_loss": 0.01}  # CDB's position_sizing defaults


@dataclass
class RiskDecision:
    """CDB's decision: approved, reason (a code, None when approved), position_size (base units), stop."""

    approved: bool
    reason: str | None
    position_size: float
    stop_price: float | None
    # cdbctl: what failed, with the numbers (keyword-only: CDB's positional order stays as it was)
    detail: str | None = field(default=None, kw_only=True)


@dataclass
class EnhancedRiskDecision(RiskDecision):
    """evaluate_signal_v2's decision: CDB's perpetuals metadata, then cdbctl's own fields."""

    liquidation_price: float | None = None
    liquidation_distance: float | None = None
    leverage: int | None = None
    expected_slippage_bps: float | None = None
    execution_fees: float | None = None  # entry fee of the order (USDT), as CDB's simulator
    sizing_method: str | None = None  # the method's name as configured (CDB's or cdbctl's)
    funding_fee_estimate: float | None = None  # per funding settlement (USDT; positive: paid)
    # cdbctl's decision, for callers that want more than CDB gave (keyword-only)
    position_size_usd: float = field(default=0.0, kw_only=True)
    regime: str | None = field(default=None, kw_only=True)
    funding_fee_daily: float | None = field(default=None, kw_only=True)
    funding_alert: bool = field(default=False, kw_only=True)
    fees_usd: float | None = field(default=None, kw_only=True)  # round trip: entry plus a taker exit
    max_safe_leverage: int | None = field(default=None, kw_only=True)
    checks: list[Check] = field(default_factory=list, kw_only=True)


def _finite(value: float | None) -> float | None:
    return value if value is None or -math.inf < value < math.inf else None


def _decimal(value: Any, name: str) -> float:
    """A number as the CLI reads one (a number, or text that is a plain decimal); NaN for anything else.

    Python's float() also reads True (1.0), '8_0' (80) and ' 1e3 ': CDB did, so a typo in a limit or a
    flag in place of a size became a number nobody meant.
    """
    if isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool):
        return float(value)  # int, float, Decimal, numpy scalars
    try:
        return float(parse_value(KeySpec(name, "float", 0.0, ""), value, "the dict"))
    except ConfigError:
        return math.nan


def _number(risk_config: Mapping[str, Any], name: str) -> float:
    """A value of the dict by CDB's or cdbctl's name (any case, any alias), else CDB's default; NaN if bad."""
    want = canonical_key(name) or name
    for key, value in risk_config.items():
        if (canonical_key(str(key)) or str(key).upper()) == want:
            return _decimal(value, name)
    return float(CDB_DEFAULTS[name])


def _price(signal_event: Mapping[str, Any], key: str = "price") -> float:
    """A price, size or notional of the signal as CDB read it (`float(x or 0.0)`); 0 when it is no number."""
    raw = signal_event.get(key)
    if raw is None or raw == "" or (not isinstance(raw, bool) and raw == 0):
        return 0.0  # CDB's `float(x or 0.0)`: absent, empty or zero
    value = _decimal(raw, key)
    return value if math.isfinite(value) else 0.0


def limit_position_size(
    signal_event: Mapping[str, Any], risk_config: Mapping[str, Any], equity: float | None = None
) -> float:
    """min(requested ``size``, equity x MAX_POSITION_PCT / price) in base units; 0 when anything is off."""
    price = _price(signal_event)
    requested = _price(signal_event, "size")
    base = equity if equity else _number(risk_config, "ACCOUNT_EQUITY")
    cap = base * _number(risk_config, "MAX_POSITION_PCT")
    if not (price > 0 and requested > 0 and cap > 0 and cap < math.inf):  # NaN fails every compare
        return 0.0
    return min(requested, cap / price)


def _calculate_signal_notional(signal_event: Mapping[str, Any], size: float) -> float:
    """The signal's ``notional`` when given (> 0), else price x size (CDB's exposure input)."""
    notional = _price(signal_event, "notional")
    return notional if notional > 0 else _price(signal_event) * size


def generate_stop_loss(signal_event: Mapping[str, Any], risk_config: Mapping[str, Any]) -> dict[str, Any]:
    """{"stop_price", "side"}: STOP_LOSS_PCT below the entry for a long, above for a short (sell/short)."""
    price = _price(signal_event)
    pct = _number(risk_config, "STOP_LOSS_PCT")
    side = str(signal_event.get("side") or "buy").lower()
    if not (price > 0 and 0 <= pct < 1):
        return {"stop_price": 0.0, "side": side}
    long = SIDES.get(side, True)  # CDB: anything but "sell" is a long; "short" is a short here too
    stop = price * (1 - pct) if long else price * (1 + pct)
    return {"stop_price": stop if stop < math.inf else 0.0, "side": side}


def _reject(reason: str, detail: str | None) -> RiskDecision:
    return RiskDecision(False, reason, 0.0, None, detail=detail)


def evaluate_signal(
    signal_event: Mapping[str, Any],
    risk_state: Mapping[str, Any],
    risk_config: Mapping[str, Any],
    *,
    strict: bool = False,
) -> RiskDecision:
    """CDB's basic check: circuit breaker, daily drawdown, position cap, exposure, stop (never raises)."""
    try:
        config = cdb_config(risk_config, strict=strict)
    except CdbctlError as err:
        return _reject("config_error", str(err))
    try:
        state = load_state({k: v for k, v in dict(risk_state or {}).items() if v is not None})
    except CdbctlError as err:
        return _reject("invalid_signal", str(err))
    equity = state.equity if state.equity is not None else config.ACCOUNT_EQUITY
    if circuit_fraction(equity, state.daily_pnl, state.peak_equity) >= config.CIRCUIT_BREAKER_THRESHOLD_PCT:
        return _reject("circuit_breaker_triggered", "the day's loss or the drawdown reached the threshold")
    if state.daily_pnl <= -equity * config.MAX_DAILY_DRAWDOWN_PCT:
        return _reject("max_daily_drawdown_exceeded", f"daily_pnl {state.daily_pnl:g}")
    size = limit_position_size(signal_event, risk_config, equity)
    if not size > 0:
        return _reject("position_size_zero_after_sizing", "needs price > 0 and a requested size > 0")
    exposure = state.total_exposure_pct + _calculate_signal_notional(signal_event, size) / equity
    if not exposure <= config.MAX_TOTAL_EXPOSURE_PCT:
        return _reject("max_exposure_reached", f"exposure after trade {exposure:.4f}")
    stop = generate_stop_loss(signal_event, {"STOP_LOSS_PCT": config.STOP_LOSS_PCT})["stop_price"]
    return RiskDecision(True, None, size, stop)


def evaluate_signal_v2(
    signal_event: Mapping[str, Any],
    risk_state: Mapping[str, Any] | None,
    risk_config: Mapping[str, Any] | RiskConfig | None,
    market_conditions: Mapping[str, Any] | None,
    *,
    now: datetime | float | str | None = None,
    strict: bool = False,
) -> EnhancedRiskDecision:
    """The full cdbctl engine on CDB's dicts; a bad value or input is a rejection, never an exception."""
    try:
        return _evaluate_v2(signal_event, risk_state, risk_config, market_conditions, now, strict)
    except Exception as exc:  # fail closed: a bug must never approve nor take the service down
        return EnhancedRiskDecision(False, "internal_error", 0.0, None, detail=f"{type(exc).__name__}: {exc}")


def _evaluate_v2(  # noqa: PLR0917
    signal_event: Mapping[str, Any],
    risk_state: Mapping[str, Any] | None,
    risk_config: Mapping[str, Any] | RiskConfig | None,
    market_conditions: Mapping[str, Any] | None,
    now: datetime | float | str | None,
    strict: bool,
) -> EnhancedRiskDecision:
    given = risk_config if isinstance(risk_config, Mapping) else {}
    try:
        config = (
            risk_config if isinstance(risk_config, RiskConfig) else cdb_config(given, strict=strict, v2=True)
        )
    except CdbctlError as err:
        return EnhancedRiskDecision(False, "config_error", 0.0, None, detail=str(err))
    epoch = parse_now(now)
    if now is not None and epoch is None:
        return EnhancedRiskDecision(False, "invalid_signal", 0.0, None, detail=f"now: {now!r} is not a time")
    market = dict(market_conditions or {})
    state = {k: v for k, v in dict(risk_state or {}).items() if v is not None}
    for name, default in _KELLY_INPUTS.items():  # CDB passes the Kelly inputs with the market
        state[name] = market.get(name, state.get(name, default))
    try:
        engine = Engine(config, load_state(state), load_market(market), now=epoch, trace=True)
    except CdbctlError as err:
        return _enhanced(Engine(config, trace=True).invalid(err.message), config, given)
    if not isinstance(signal_event, Mapping):
        return _enhanced(engine.invalid("signal: expected a dict"), config, given)
    record = record_from_object(dict(signal_event))
    if isinstance(record, Signal):
        return _enhanced(engine.evaluate(record), config, given)
    return _enhanced(
        engine.invalid(record.problem, record.signal_id, record.symbol, record.side), config, given
    )


def _enhanced(d: Decision, config: RiskConfig, given: Mapping[str, Any]) -> EnhancedRiskDecision:
    """CDB's decision shape: metadata on an approval, the failing number on its rejection."""
    ok = d.approved
    method = next((str(v) for k, v in given.items() if canonical_key(str(k)) == "SIZING_METHOD"), None)
    entry_fee = config.TAKER_FEE  # CDB simulates a market order: the taker fee on the entry
    per_settlement = config.FUNDING_SETTLEMENT_HOURS / 24.0
    fee_daily = _finite(d.funding_fee_daily)
    return EnhancedRiskDecision(
        approved=ok,
        reason=d.reason,
        position_size=d.position_size,
        stop_price=_finite(d.stop_price) if ok else None,
        detail=d.detail,
        liquidation_price=_finite(d.liquidation_price) if ok else None,
        liquidation_distance=_finite(d.liquidation_distance)
        if ok or d.reason == "liquidation_risk_too_high"
        else None,
        leverage=d.leverage if ok else None,
        expected_slippage_bps=_finite(d.expected_slippage_bps)
        if ok or d.reason == "excessive_slippage"
        else None,
        execution_fees=money(d.position_size_usd * entry_fee) if ok else None,
        sizing_method=(method or config.SIZING_METHOD) if ok else None,
        funding_fee_estimate=fee_daily * per_settlement if ok and fee_daily is not None else None,
        position_size_usd=d.position_size_usd,
        regime=d.regime,
        funding_fee_daily=fee_daily,
        funding_alert=d.funding_alert,
        fees_usd=_finite(d.fees_usd),
        max_safe_leverage=d.max_safe_leverage,
        checks=list(d.checks or []),
    )
