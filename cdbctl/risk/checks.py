"""The pre-trade checks: one pure function each, in the ordered registry ``CHECKS``.

Each check reads the evaluation scratch ``Eval`` and the config, may set derived values on the
scratch (size, liquidation price, ...), records ``value``/``limit``/``note`` for the trace and
returns ``None`` when it passes or its reason code when it fails. ``Eval`` is one reused object per
engine, so the hot path allocates nothing per check.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.ext_checks import cross_liquidation, mark_distance
from cdbctl.risk.formulas import (
    atr_usd,
    circuit_fraction,
    fixed_fractional_usd,
    kelly_usd,
    note_circuit,
    note_daily,
    note_exposure,
    note_funding,
    note_leverage,
    note_liq_distance,
    note_panic,
    note_slippage,
    note_spread,
    note_stale,
    note_stop,
    note_zero,
    vol_target_usd,
)
from cdbctl.risk.scratch import Eval
from cdbctl.risk.timeparse import to_epoch

__all__ = ["CHECKS", "SIDES", "CheckFn", "Eval"]

INF = math.inf
_SQRT_YEAR = math.sqrt(365.0)  # crypto trades every day: annualised vol / sqrt(365) = daily vol
SIDES = {"long": True, "buy": True, "short": False, "sell": False}
_MODES = frozenset(("isolated", "cross"))


def check_validity(e: Eval, c: RiskConfig) -> str | None:
    """Semantics the typed decoder cannot express: side, margin mode, finite numbers, a sane book."""
    e.value = e.limit = e.note = None
    long = SIDES.get(e.side_raw)
    if long is None:
        long = SIDES.get(e.side_raw.lower())
        if long is None:
            e.note = f"side: {e.side_raw!r} is not long, short, buy or sell"
            return "invalid_signal"
    e.long = long
    mode = e.margin_mode
    if mode not in _MODES:
        e.note = f"margin_mode: {mode!r} is not isolated or cross"
        return "invalid_signal"
    e.cross = mode == "cross"
    if not e.price < INF:
        e.note = "price: must be a finite number > 0"
        return "invalid_signal"
    for field in ("vol", "funding", "atr", "depth", "bid", "ask", "target", "stop_in"):
        v = getattr(e, field)
        if v is not None and not -INF < v < INF:
            e.note = f"{_FIELD_NAMES[field]}: must be a finite number"
            return "invalid_signal"
    stop = e.stop_in
    if stop is not None and ((stop >= e.price) if long else (stop <= e.price)):
        # a long's stop at or above its entry fires at once (a short's below: the same), no protection
        where, side = ("below", "long") if long else ("above", "short")
        e.note = f"stop_price: {stop:.12g} is not {where} the entry price {e.price:.12g} for a {side}"
        return "invalid_signal"
    if e.bid is not None and e.ask is not None and e.bid > e.ask:
        e.note = f"market.bid: {e.bid:g} is above market.ask {e.ask:g} (crossed book)"
        return "invalid_signal"
    return None


_FIELD_NAMES = {
    "vol": "market.volatility", "funding": "market.funding_rate", "atr": "market.atr",
    "depth": "market.order_book_depth", "bid": "market.bid", "ask": "market.ask",
    "target": "target_position_usd", "stop_in": "stop_price",
}  # fmt: skip


def check_staleness(e: Eval, c: RiskConfig) -> str | None:
    """Age of the signal against DATA_STALE_TIMEOUT_SEC; unparseable or future timestamps fail."""
    raw = e.timestamp
    e.limit = c.DATA_STALE_TIMEOUT_SEC
    if raw is None:
        e.value = None
        if c.REQUIRE_TIMESTAMP:
            e.note = "timestamp: missing (REQUIRE_TIMESTAMP is true)"
            return "invalid_signal"
        e.note = "no timestamp"
        return None
    ts = to_epoch(raw)
    if ts is None:
        e.value = None
        e.note = f"timestamp: {raw!r} is not ISO-8601 with Z/offset nor epoch s/ms"
        return "invalid_timestamp_format"
    now = e.now if e.now is not None else time.time()
    age = now - ts
    e.value = age
    e.note = None
    if age > c.DATA_STALE_TIMEOUT_SEC:
        e.note = note_stale(age, c)
        return "stale_data"
    if -age > c.MAX_FUTURE_SKEW_SEC:
        e.note = f"timestamp: {-age:g}s in the future (max skew {c.MAX_FUTURE_SKEW_SEC:g}s)"
        return "invalid_signal"
    return None


def check_circuit_breaker(e: Eval, c: RiskConfig) -> str | None:
    """Halt on either rule: the day's loss (CDB's breaker) or the drawdown from peak_equity reaching
    CIRCUIT_BREAKER_THRESHOLD_PCT of equity; the value is the larger of the two fractions."""
    e.limit = c.CIRCUIT_BREAKER_THRESHOLD_PCT
    e.note = None
    dd = circuit_fraction(e.equity, e.daily_pnl, e.peak)
    e.value = dd
    if dd >= c.CIRCUIT_BREAKER_THRESHOLD_PCT:
        e.note = note_circuit(e.equity, e.daily_pnl, e.peak, c)
        return "circuit_breaker_triggered"
    return None


def check_daily_drawdown(e: Eval, c: RiskConfig) -> str | None:
    """daily_pnl <= -equity x MAX_DAILY_DRAWDOWN_PCT stops new risk for the day."""
    limit = -e.equity * c.MAX_DAILY_DRAWDOWN_PCT
    e.value = e.daily_pnl
    e.limit = limit
    e.note = None
    if e.daily_pnl <= limit:
        e.note = note_daily(e.daily_pnl, limit)
        return "max_daily_drawdown_exceeded"
    return None


def check_regime(e: Eval, c: RiskConfig) -> str | None:
    """Volatility regime: > panic threshold rejects, > stressed threshold scales the size down."""
    vol = e.vol
    e.value = vol
    e.note = None
    if vol > c.REGIME_PANIC_VOLATILITY:
        e.regime = "panic"
        e.mult = 0.0
        e.limit = c.REGIME_PANIC_VOLATILITY
        e.note = note_panic(vol, c)
        return "market_regime_panic"
    e.limit = c.REGIME_STRESSED_VOLATILITY
    if vol > c.REGIME_STRESSED_VOLATILITY:
        e.regime = "stressed"
        e.mult = c.REGIME_STRESSED_SIZE_MULTIPLIER
        e.note = f"size x {e.mult:g}"
    else:
        e.regime = "normal"
        e.mult = 1.0
    return None


def raw_size_usd(e: Eval, c: RiskConfig) -> float:
    """Uncapped notional (USDT) for SIZING_METHOD; formulas in README `risk` section."""
    method = c.SIZING_METHOD
    if method == "fixed_fractional":
        return fixed_fractional_usd(e.equity, c)
    if method == "vol_target":
        return vol_target_usd(e.equity, e.vol, c)
    if method == "kelly":
        return kelly_usd(e.equity, e.win_rate, e.avg_win, e.avg_loss, c)
    return atr_usd(e.equity, e.atr, e.price, c)


def check_sizing(e: Eval, c: RiskConfig) -> str | None:
    """min(method size, target_position_usd, equity x MAX_POSITION_PCT) x regime multiplier."""
    size = raw_size_usd(e, c)
    cap = e.equity * c.MAX_POSITION_PCT
    size = min(size, cap)
    target = e.target
    if target is not None and size > target:
        size = target
    size *= e.mult
    e.size_usd = size
    e.value = size
    e.limit = cap
    e.note = None
    if size > 0:
        return None
    e.size_usd = 0.0
    e.note = note_zero(e.mult, e.regime, e.target, c)
    return "position_size_zero_after_sizing"


def check_leverage(e: Eval, c: RiskConfig) -> str | None:
    """Leverage above MAX_LEVERAGE is rejected."""
    e.value = e.lev
    e.limit = c.MAX_LEVERAGE
    e.note = None
    if e.lev > c.MAX_LEVERAGE:
        e.note = note_leverage(e.lev, c)
        return "leverage_exceeds_max"
    return None


def check_exposure(e: Eval, c: RiskConfig) -> str | None:
    """total_exposure_pct + notional / equity must stay <= MAX_TOTAL_EXPOSURE_PCT."""
    after = e.exposure + e.size_usd / e.equity
    e.value = after
    e.limit = c.MAX_TOTAL_EXPOSURE_PCT
    e.note = None
    if after > c.MAX_TOTAL_EXPOSURE_PCT:
        e.note = note_exposure(after, c)
        return "max_exposure_reached"
    return None


def check_spread(e: Eval, c: RiskConfig) -> str | None:
    """(ask - bid) / mid in basis points must stay <= MAX_SPREAD_BPS."""
    bid, ask = e.bid, e.ask
    e.limit = c.MAX_SPREAD_BPS
    if bid is None or ask is None:
        e.spread_bps = e.value = None
        e.note = "no bid/ask"
        return None
    bps = (ask - bid) / (ask + bid) * 20000.0  # (ask - bid) / ((ask + bid) / 2) * 1e4
    e.spread_bps = e.value = bps
    e.note = None
    if bps > c.MAX_SPREAD_BPS:
        e.note = note_spread(bps, c)
        return "excessive_spread"
    return None


def check_liquidation(e: Eval, c: RiskConfig) -> str | None:
    """MEXC liquidation price; distance below MIN_LIQUIDATION_DISTANCE or a stop beyond LP fails."""
    mmr = c.MAINTENANCE_MARGIN_RATE if e.mmr is None else e.mmr  # the risk-limit tier's rate (ext_checks)
    d = 1.0 / e.lev - mmr  # isolated, MEXC: long LP = entry x (1 - 1/L + MMR), short entry x (1 + 1/L - MMR)
    d = max(d, 0.0)  # maintenance margin above the initial margin: liquidated at entry
    price = e.price
    if e.long:
        d = min(d, 1.0)  # a long cannot be liquidated below a price of zero
        lp = price * (1.0 - d)
    else:
        lp = price * (1.0 + d)
    if e.cross and e.size_usd > 0:
        # cross: one formula whether or not other legs exist (margin.cross_liquidation_price, Binance's
        # USD-M formula): the wallet backs the position, maintenance margin counts at the liquidation price
        lp, d = cross_liquidation(e, c, mmr)
    if e.mark is not None or e.mmr is not None:
        d = mark_distance(e, c, lp, mmr, d)  # tier cap and MMR; MEXC liquidates on the fair (mark) price
    e.lp = lp
    # the stop: the signal's own, else STOP_LOSS_PCT from entry (long below, short above)
    stop = e.stop_in
    if stop is None:
        stop = price * (1.0 - c.STOP_LOSS_PCT) if e.long else price * (1.0 + c.STOP_LOSS_PCT)
    e.stop = stop
    e.dist = e.value = d
    e.limit = c.MIN_LIQUIDATION_DISTANCE
    e.note = None
    if d < c.MIN_LIQUIDATION_DISTANCE:
        e.note = note_liq_distance(d, c)
        return "liquidation_risk_too_high"
    if (stop <= lp) if e.long else (stop >= lp):
        e.note = note_stop(stop, lp)
        return "liquidation_risk_too_high"
    return None


def check_funding(e: Eval, c: RiskConfig) -> str | None:
    """Daily funding fee = value x rate x 24 / FUNDING_SETTLEMENT_HOURS; longs pay a positive rate."""
    inst = e.inst  # the contract's own funding interval when instrument rules are loaded
    rate = e.funding * (24.0 / (c.FUNDING_SETTLEMENT_HOURS if inst is None else inst.funding_interval_hours))
    if not e.long:
        rate = -rate
    mark = e.mark  # MEXC settles funding on the fair price
    e.fee_daily = (e.size_usd if mark is None else e.size_usd / e.price * mark) * rate
    e.value = rate
    e.limit = c.MAX_DAILY_FUNDING_FEE_PCT
    e.note = None
    e.alert = rate > c.FUNDING_ALERT_PCT
    if rate > c.MAX_DAILY_FUNDING_FEE_PCT:
        e.note = note_funding(rate, c)
        return "excessive_funding_fees"
    if e.alert:
        e.note = f"funding alert: {rate:.4%} of value per day > {c.FUNDING_ALERT_PCT:.4%}"
    return None


def check_slippage(e: Eval, c: RiskConfig) -> str | None:
    """Half spread + square-root impact Y x sigma_daily x sqrt(notional / depth), in bps."""
    spread = e.spread_bps
    slip = spread * 0.5 if spread is not None else 0.0
    depth = e.depth
    if depth is not None:
        # square-root impact law (Almgren et al. 2005; Toth et al. 2011): Y x sigma_daily x sqrt(Q / depth)
        slip += c.SLIPPAGE_IMPACT_COEFFICIENT / _SQRT_YEAR * 1e4 * e.vol * math.sqrt(e.size_usd / depth)
        e.note = None
    else:
        e.note = "no order_book_depth: impact not estimated"
    e.slip_bps = e.value = slip
    e.limit = c.MAX_SLIPPAGE_BPS
    if slip > c.MAX_SLIPPAGE_BPS:
        e.note = note_slippage(slip, c)
        return "excessive_slippage"
    return None


CheckFn = Callable[[Eval, RiskConfig], "str | None"]

CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("validity", check_validity),
    ("staleness", check_staleness),
    ("circuit_breaker", check_circuit_breaker),
    ("daily_drawdown", check_daily_drawdown),
    ("market_regime", check_regime),
    ("sizing", check_sizing),
    ("leverage", check_leverage),
    ("exposure", check_exposure),
    ("spread", check_spread),
    ("liquidation", check_liquidation),
    ("funding", check_funding),
    ("slippage", check_slippage),
)
