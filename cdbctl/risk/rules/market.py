"""Rules on market conditions: the volatility regime, the spread, funding and expected slippage."""

from __future__ import annotations

import math
from functools import lru_cache

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.formulas import fixed, percent
from cdbctl.risk.rules.base import Rule

SQRT_YEAR = math.sqrt(365.0)  # crypto trades every day: annualised vol / sqrt(365) = daily vol
NO_BID_ASK = "no bid/ask"
NO_DEPTH = "no order_book_depth: impact not estimated"


def note_stressed(mult: float) -> str:
    """Trace note of market_regime in a stressed regime."""
    return f"size x {mult:g}"


def note_funding_alert(rate: float, alert: float) -> str:
    """Trace note of funding above FUNDING_ALERT_PCT."""
    return f"funding alert: {rate:.4%} of value per day > {alert:.4%}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_panic(vol: float, c: RiskConfig) -> str:
    """Detail of market_regime_panic."""
    return f"volatility {vol:g} > {c.REGIME_PANIC_VOLATILITY:g}"


@lru_cache(maxsize=4096)
def note_spread(bps: float, c: RiskConfig) -> str:
    """Detail of excessive_spread."""
    return f"spread {bps:.2f}bps > {c.MAX_SPREAD_BPS:g}bps"


@lru_cache(maxsize=4096)
def note_funding(rate: float, c: RiskConfig) -> str:
    """Detail of excessive_funding_fees."""
    return f"daily funding {percent(rate)} of value > {c.MAX_DAILY_FUNDING_FEE_PCT:.4%}"


@lru_cache(maxsize=4096)
def note_slippage(slip: float, c: RiskConfig) -> str:
    """Detail of excessive_slippage."""
    return f"expected slippage {fixed(slip, 2)}bps > {c.MAX_SLIPPAGE_BPS:g}bps"


MARKET_REGIME = Rule(
    name="market_regime",
    stage=50,
    reasons=("market_regime_panic",),
    rule="Volatility regime: > panic threshold rejects, > stressed threshold scales the size down.",
    uses=("note_panic", "note_stressed"),
    headroom=1,
    unit="annualised volatility",
    prepare="""
panic, stressed = c.REGIME_PANIC_VOLATILITY, c.REGIME_STRESSED_VOLATILITY
stressed_mult = c.REGIME_STRESSED_SIZE_MULTIPLIER
""",
    check="""
if vol > panic:
    regime, mult = "panic", 0.0
    fail("market_regime_panic", note_panic(vol, c))
elif vol > stressed:
    regime, mult = "stressed", stressed_mult
else:
    regime, mult = "normal", 1.0
""",
    native_decl="PyObject *regime;\ndouble mult;",
    native_uses=("d:panic", "d:stressed", "d:stressed_mult", "o:note_panic", "o:note_stressed"),
    native_trace="""
value = box(vol), limit = Py_NewRef(regime == S_panic ? panic_o : stressed_o);
note = regime == S_stressed ? CALL(note_stressed, TMP(box(mult))) : NULL;
""",
    native="""
if (vol > panic) {
    regime = S_panic, mult = 0.0;
    FAIL(market_regime_panic, CALL(note_panic, TMP(box(vol)), c));
} else if (vol > stressed) {
    regime = S_stressed, mult = stressed_mult;
} else {
    regime = S_normal, mult = 1.0;
}
""",
    trace="""
value, limit = vol, panic if regime == "panic" else stressed
note = note_stressed(mult) if regime == "stressed" else None
""",
)

SPREAD = Rule(
    name="spread",
    stage=170,
    reasons=("excessive_spread",),
    rule="(ask - bid) / mid in basis points must stay <= MAX_SPREAD_BPS.",
    uses=("note_spread", "NO_BID_ASK"),
    headroom=1,
    unit="bps",
    prepare="max_spread = c.MAX_SPREAD_BPS",
    check="""
spread: float | None = None
if bid is not None and ask is not None:
    spread = (ask - bid) / (ask + bid) * 20000.0  # (ask - bid) / ((ask + bid) / 2) * 1e4
    if spread > max_spread:
        fail("excessive_spread", note_spread(spread, c))
""",
    native_decl="double spread = NONE;  /* None: no bid/ask */",
    native_uses=("d:max_spread", "o:note_spread", "o:NO_BID_ASK"),
    native_trace="""
value = IS_NONE(spread) ? NULL : box(spread), limit = Py_NewRef(max_spread_o);
note = IS_NONE(spread) ? Py_NewRef(NO_BID_ASK) : NULL;
""",
    native="""
if (!IS_NONE(bid) && !IS_NONE(ask)) {
    spread = (ask - bid) / (ask + bid) * 20000.0;
    if (spread > max_spread) FAIL(excessive_spread, CALL(note_spread, TMP(box(spread)), c));
}
""",
    trace="""
value, limit = spread, max_spread
note = NO_BID_ASK if spread is None else None
""",
)

FUNDING = Rule(
    name="funding",
    stage=190,
    reasons=("excessive_funding_fees",),
    rule="Daily funding fee = value x rate x 24 / FUNDING_SETTLEMENT_HOURS; longs pay a positive rate.",
    uses=("note_funding", "note_funding_alert"),
    headroom=1,
    unit="fraction of value per day",
    prepare="""
settlements = 24.0 / c.FUNDING_SETTLEMENT_HOURS
max_funding, funding_alert = c.MAX_DAILY_FUNDING_FEE_PCT, c.FUNDING_ALERT_PCT
""",
    check="""
rate = fund * per_day  # the contract's own funding interval with instrument rules (rules/instrument.py)
if not long:
    rate = -rate
fee_daily = (size if mark is None else size / price * mark) * rate  # MEXC settles on the fair price
if rate > max_funding:
    fail("excessive_funding_fees", note_funding(rate, c))
""",
    native_decl="double rate, fee_daily;",
    native_uses=(
        "d:settlements",
        "d:max_funding",
        "d:funding_alert",
        "o:note_funding",
        "o:note_funding_alert",
    ),
    native_trace="""
value = box(rate), limit = Py_NewRef(max_funding_o);
note = rate > funding_alert ? CALL(note_funding_alert, TMP(box(rate)), funding_alert_o) : NULL;
""",
    native="""
rate = fund * per_day;
if (!is_long) rate = -rate;
fee_daily = (IS_NONE(mark) ? size : size / price * mark) * rate;
if (rate > max_funding) FAIL(excessive_funding_fees, CALL(note_funding, TMP(box(rate)), c));
""",
    trace="""
value, limit = rate, max_funding
note = note_funding_alert(rate, funding_alert) if rate > funding_alert else None
""",
)

SLIPPAGE = Rule(
    name="slippage",
    stage=200,
    reasons=("excessive_slippage",),
    rule="Half spread + square-root impact Y x sigma_daily x sqrt(notional / depth), in bps.",
    uses=("note_slippage", "SQRT_YEAR", "NO_DEPTH"),
    headroom=1,
    unit="bps",
    prepare="""
impact = c.SLIPPAGE_IMPACT_COEFFICIENT / SQRT_YEAR * 1e4
max_slip = c.MAX_SLIPPAGE_BPS
""",
    check="""
slip = 0.0 if spread is None else spread * 0.5
if depth is not None:
    # square-root impact law (Almgren et al. 2005; Toth et al. 2011): Y x sigma_daily x sqrt(Q / depth)
    slip += impact * vol * sqrt(size / depth)
if slip > max_slip:
    fail("excessive_slippage", note_slippage(slip, c))
""",
    native_decl="double slip;",
    native_uses=("d:impact", "d:max_slip", "o:note_slippage", "o:NO_DEPTH"),
    native_trace="""
value = box(slip), limit = Py_NewRef(max_slip_o);
note = IS_NONE(depth) ? Py_NewRef(NO_DEPTH) : NULL;
""",
    native="""
slip = IS_NONE(spread) ? 0.0 : spread * 0.5;
if (!IS_NONE(depth)) slip += impact * vol * sqrt(size / depth);
if (slip > max_slip) FAIL(excessive_slippage, CALL(note_slippage, TMP(box(slip)), c));
""",
    trace="""
value, limit = slip, max_slip
note = NO_DEPTH if depth is None else None
""",
)
