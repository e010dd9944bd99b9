"""Sizing formulas and failure details shared by the check registry and the fused fast path."""

from __future__ import annotations

import math
from functools import lru_cache

from cdbctl.risk.config import RiskConfig

INF = math.inf


def fixed_fractional_usd(equity: float, c: RiskConfig) -> float:
    """Risk RISK_PER_TRADE_PCT of equity over a stop STOP_LOSS_PCT away: equity x r / stop."""
    return equity * c.RISK_PER_TRADE_PCT / c.STOP_LOSS_PCT


def vol_target_usd(equity: float, vol: float, c: RiskConfig) -> float:
    """Position whose annualised volatility is TARGET_VOLATILITY of equity: equity x target / vol."""
    return equity * c.TARGET_VOLATILITY / vol if vol > 0 else INF


def kelly_usd(
    equity: float, win_rate: float | None, avg_win: float | None, avg_loss: float | None, c: RiskConfig
) -> float:
    """Fractional Kelly (Kelly 1956): f* = W - (1 - W) / R with R = avg_win / avg_loss; 0 without stats."""
    if win_rate is None or not avg_win or not avg_loss:
        return 0.0  # no track record or no edge: Kelly cannot size, fail closed
    f = win_rate - (1.0 - win_rate) * avg_loss / avg_win
    return equity * f * c.KELLY_FRACTION if f > 0 else 0.0


def atr_usd(equity: float, atr: float | None, price: float, c: RiskConfig) -> float:
    """Risk RISK_PER_TRADE_PCT of equity over a stop ATR_STOP_MULTIPLIER x ATR away (units x price)."""
    if not atr:
        return 0.0
    return equity * c.RISK_PER_TRADE_PCT / (c.ATR_STOP_MULTIPLIER * atr) * price


# Adding and subtracting 1.5 x 2**52 rounds a double below 2**51 to the nearest integer (half to
# even, as round()) in two float operations, without round()'s call and int allocation.
ROUNDER = 6755399441055744.0


def money(usd: float) -> float:
    """An estimated cost rounded to 1e-8 USDT, so 3.0000000000000004 reads 3.0 (fast.py inlines this).

    n / 1e8 with an exact integer n is the double nearest the 8-decimal value; beyond 1e7 USDT
    ``usd * 1e8`` leaves the exact-integer range and the value is kept as computed.
    """
    return (usd * 1e8 + ROUNDER - ROUNDER) / 1e8 if -1e7 < usd < 1e7 else usd


def fixed(x: float, digits: int) -> str:
    """`x` with `digits` decimals, or 6 significant digits when that would print dozens of digits."""
    return f"{x:.{digits}f}" if -1e12 < x < 1e12 else f"{x:.6g}"


def percent(x: float) -> str:
    """`x` as a percentage with 4 decimals (0.0003 -> 0.0300%), short for absurd values too."""
    return f"{x:.4%}" if -1e10 < x < 1e10 else f"{x * 100:.6g}%"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_stale(age: float, c: RiskConfig) -> str:
    """Detail of stale_data."""
    return f"age={age:g}s > {c.DATA_STALE_TIMEOUT_SEC:g}s"


def circuit_fraction(equity: float, daily_pnl: float, peak: float | None) -> float:
    """The circuit breaker's measure: the larger of the day's loss / equity (CDB's rule, from the
    daily_pnl its state carries) and the drawdown (peak_equity - equity) / peak_equity."""
    loss = -daily_pnl / equity if daily_pnl < 0 else 0.0
    dd = (peak - equity) / peak if peak is not None else 0.0
    return dd if dd > loss else loss


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_circuit(equity: float, daily_pnl: float, peak: float | None, c: RiskConfig) -> str:
    """Detail of circuit_breaker_triggered: the rule that fired (the day's loss first, as CDB)."""
    limit = c.CIRCUIT_BREAKER_THRESHOLD_PCT
    loss = -daily_pnl / equity if daily_pnl < 0 else 0.0
    if loss >= limit:
        return f"daily loss {loss:.4%} of equity {equity:g} >= {limit:.4%}"
    dd = (peak - equity) / peak if peak is not None else 0.0
    return f"drawdown {dd:.4%} from peak {peak:g} >= {limit:.4%}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_daily(pnl: float, limit: float) -> str:
    """Detail of max_daily_drawdown_exceeded."""
    return f"daily_pnl {pnl:g} <= {limit:g}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_panic(vol: float, c: RiskConfig) -> str:
    """Detail of market_regime_panic."""
    return f"volatility {vol:g} > {c.REGIME_PANIC_VOLATILITY:g}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_zero(mult: float, regime: str | None, target: float | None, c: RiskConfig) -> str:
    """Detail of position_size_zero_after_sizing."""
    if mult == 0:
        return f"{regime} regime"
    if target is not None and target <= 0:
        return "target_position_usd is 0"
    if c.SIZING_METHOD == "kelly":
        return "kelly: needs win_rate, avg_win, avg_loss in the state and a positive edge"
    if c.SIZING_METHOD == "atr":
        return "atr: needs market.atr > 0"
    return f"{c.SIZING_METHOD} gives 0"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_leverage(lev: int, c: RiskConfig) -> str:
    """Detail of leverage_exceeds_max."""
    return f"leverage {lev} > {c.MAX_LEVERAGE}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_exposure(after: float, c: RiskConfig) -> str:
    """Detail of max_exposure_reached."""
    return f"exposure after trade {fixed(after, 4)} > {c.MAX_TOTAL_EXPOSURE_PCT:g}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_spread(bps: float, c: RiskConfig) -> str:
    """Detail of excessive_spread."""
    return f"spread {bps:.2f}bps > {c.MAX_SPREAD_BPS:g}bps"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_liq_distance(d: float, c: RiskConfig) -> str:
    """Detail of liquidation_risk_too_high (distance)."""
    return f"liquidation distance {d:.4f} < {c.MIN_LIQUIDATION_DISTANCE:g}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_stop(stop: float, lp: float) -> str:
    """Detail of liquidation_risk_too_high (stop beyond the liquidation price)."""
    return f"stop {stop:g} is beyond the liquidation price {lp:g}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_funding(rate: float, c: RiskConfig) -> str:
    """Detail of excessive_funding_fees."""
    return f"daily funding {percent(rate)} of value > {c.MAX_DAILY_FUNDING_FEE_PCT:.4%}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_slippage(slip: float, c: RiskConfig) -> str:
    """Detail of excessive_slippage."""
    return f"expected slippage {fixed(slip, 2)}bps > {c.MAX_SLIPPAGE_BPS:g}bps"


RESULT_FIELDS = (
    "position_size", "position_size_usd", "stop_price", "liquidation_price", "liquidation_distance",
    "funding_fee_daily", "expected_slippage_bps", "fees_usd",
)  # fmt: skip


def overflow_note(price: float, *values: float | None) -> str | None:
    """None when the numbers of an approval (``RESULT_FIELDS`` order) are finite and the quantity is
    positive, else the detail of ``numeric_overflow``: which field left the float range.

    A price such as 1e-320 gives size / price = inf (JSON null); no approval may carry such a number.
    """
    bad = [
        name for name, v in zip(RESULT_FIELDS, values, strict=True) if v is not None and not -INF < v < INF
    ]
    if bad:
        return f"{', '.join(bad)}: not a finite number at price {price!r} (beyond the float range)"
    qty = values[0]
    if qty is not None and not qty > 0:
        return f"position_size: {values[1]:g} USDT at price {price!r} is below the smallest quantity"
    return None
