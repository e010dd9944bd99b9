"""Sizing formulas and the number formatting the rules share (money, fixed, percent, overflow)."""

from __future__ import annotations

import math

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
EXACT_BELOW = 2251799813685248.0  # 2**51: the trick's range; every double above 2**52 is an integer


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


def circuit_fraction(equity: float, daily_pnl: float, peak: float | None) -> float:
    """The circuit breaker's measure: the larger of the day's loss / equity (CDB's rule, from the
    daily_pnl its state carries) and the drawdown (peak_equity - equity) / peak_equity."""
    loss = -daily_pnl / equity if daily_pnl < 0 else 0.0
    dd = (peak - equity) / peak if peak is not None else 0.0
    return dd if dd > loss else loss


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
