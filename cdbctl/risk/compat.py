"""The seed's position helpers (liquidation safety, funding impact, market regimen) on plain dicts."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cdbctl.risk.config import RiskConfig

_DEFAULTS = RiskConfig()
REGIMEN_MULTIPLIERS = {"normal": 1.0, "stressed": 0.5, "panic": 0.0}


def _get(obj: Any, key: str) -> Any:
    """A field of a dict or an attribute of a position object (MexcPerpetualPosition)."""
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def validate_liquidation_safety(position: Any, min_distance: float = 0.15) -> dict[str, Any]:
    """Liquidation distance of a position against min_distance: {approved, reason, distance}."""
    distance = _num(_get(position, "liquidation_distance"))
    if distance is None:
        entry = _num(_get(position, "entry_price"))
        lp = _num(_get(position, "liquidation_price"))
        lev = _num(_get(position, "leverage"))
        mmr = _num(_get(position, "maintenance_margin_rate"))
        if entry and lp is not None:
            distance = abs(lp - entry) / entry
        elif lev and lev > 0:
            distance = 1.0 / lev - (mmr if mmr is not None else _DEFAULTS.MAINTENANCE_MARGIN_RATE)
    if distance is None or not math.isfinite(distance):  # NaN or infinite: no real distance, fail closed
        return {"approved": False, "reason": "liquidation_distance_unknown", "distance": None}
    ok = distance >= min_distance
    return {"approved": ok, "reason": None if ok else "liquidation_risk_too_high", "distance": distance}


def check_funding_fee_impact(
    position: Any,
    market_conditions: Mapping[str, Any],
    *,
    max_daily_fee_pct: float = _DEFAULTS.MAX_DAILY_FUNDING_FEE_PCT,
    alert_pct: float = _DEFAULTS.FUNDING_ALERT_PCT,
    settlement_hours: float = _DEFAULTS.FUNDING_SETTLEMENT_HOURS,
) -> dict[str, Any]:
    """Daily funding fee of a position: {approved, daily_cost, alert, reason}; longs pay a positive rate.

    A rate or value that is no finite number gives no fee to judge: `funding_fee_unknown`, not approved.
    """
    rate = _num(market_conditions.get("funding_rate"))
    rate = _DEFAULTS.FUNDING_RATE if rate is None else rate
    value = _num(_get(position, "position_value"))
    if value is None:
        size, price = _num(_get(position, "size")), _num(_get(position, "entry_price"))
        value = size * price if size is not None and price is not None else 0.0
    side = str(_get(position, "side") or "long").lower()
    sign = -1.0 if side in ("short", "sell") else 1.0
    daily_cost = abs(value) * rate * 24.0 / settlement_hours * sign
    if not math.isfinite(daily_cost):
        # A NaN rate or value compared False everywhere below and approved: fail closed instead.
        return {"approved": False, "daily_cost": None, "alert": True, "reason": "funding_fee_unknown"}
    over = daily_cost > abs(value) * max_daily_fee_pct
    return {
        "approved": not over,
        "daily_cost": daily_cost,
        "alert": daily_cost > abs(value) * alert_pct,
        "reason": "excessive_funding_fees" if over else None,
    }


def detect_market_regimen(
    market_conditions: Mapping[str, Any],
    *,
    stressed: float = _DEFAULTS.REGIME_STRESSED_VOLATILITY,
    panic: float = _DEFAULTS.REGIME_PANIC_VOLATILITY,
) -> str:
    """ "normal" | "stressed" | "panic" from annualised volatility (default 0.30)."""
    vol = _num(market_conditions.get("volatility"))
    vol = _DEFAULTS.DEFAULT_VOLATILITY if vol is None else vol
    if math.isnan(vol) or vol > panic:  # NaN volatility is treated as panic: fail closed
        return "panic"
    return "stressed" if vol > stressed else "normal"


def apply_market_regimen_adjustment(
    position_size: float,
    regimen: str,
    *,
    stressed_multiplier: float = _DEFAULTS.REGIME_STRESSED_SIZE_MULTIPLIER,
) -> float:
    """Position size scaled for the regimen: normal x1, stressed x multiplier, panic x0."""
    if regimen == "stressed":
        return position_size * stressed_multiplier
    return position_size * REGIMEN_MULTIPLIERS.get(regimen, 0.0)
