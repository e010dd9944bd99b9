"""Failure texts and cached limits of the extended checks, shared by the check registry (ext_checks.py)
and the fused fast path (fast.py) so both paths say and compute the same."""

from __future__ import annotations

from cdbctl.risk.formulas import fixed
from cdbctl.risk.instruments import Instrument, RiskTier, nearest_tick


def note_unknown(symbol: str) -> str:
    """Detail for `unknown_instrument`."""
    return f"{symbol}: not in the instrument rules"


def note_tick(inst: Instrument, price: float) -> str:
    """Detail for `price_off_tick`."""
    near = nearest_tick(inst, price)
    # 12 significant digits: `:g` (6) printed 50000.05 as 50000.1, a multiple of the tick 0.1
    return f"price {price:.12g} is not a multiple of the tick {inst.tick_size:.12g} (nearest {near:.12g})"


def min_notional_of(inst: Instrument, price: float) -> float:
    """The smallest order value at this price: the larger of min_notional and min_quantity contracts."""
    return max(inst.min_notional, inst.min_quantity * inst.contract_size * price)


def note_min(notional: float, contracts: float, floor: float) -> str:
    """Detail for `below_min_notional`."""
    return f"{notional:g} USDT ({contracts:g} contracts) is below the minimum {floor:g} USDT"


def note_tier_limit(contracts: float, limit: float) -> str:
    """Detail for `risk_limit_exceeded`."""
    return f"{contracts:g} contracts exceed the last risk-limit tier ({limit:g})"


def note_tier_leverage(lev: int, tier: RiskTier) -> str:
    """Detail for `leverage_exceeds_max` from a risk-limit tier."""
    return f"leverage {lev} > {tier.max_leverage}, the max of risk-limit tier {tier.level}"


_TIER_NOTES: dict[tuple[float, int, float, int], str] = {}


def note_tier(tier: RiskTier) -> str:
    """The risk_tier trace note (memoised: formatting on every signal would cost more than the check)."""
    key = (tier.max_contracts, tier.level, tier.maintenance_margin_rate, tier.max_leverage)
    note = _TIER_NOTES.get(key)
    if note is None:
        if len(_TIER_NOTES) > 4096:
            _TIER_NOTES.clear()
        note = _TIER_NOTES[key] = (
            f"tier {tier.level}: MMR {tier.maintenance_margin_rate:g}, max leverage {tier.max_leverage}"
        )
    return note


_SAFE: dict[tuple[float, float, int], int] = {}


def safe_leverage_at_entry(mmr: float, min_dist: float, cap: int) -> int:
    """Highest leverage <= cap with 1/L - MMR >= min_dist (the liquidation check's own test), cached."""
    key = (mmr, min_dist, cap)
    found = _SAFE.get(key)
    if found is None:
        guess = cap if min_dist + mmr <= 0 else min(cap, max(1, int(1.0 / (min_dist + mmr))))
        while guess < cap and 1.0 / (guess + 1) - mmr >= min_dist:  # settle float boundaries exactly
            guess += 1
        while guess >= 1 and 1.0 / guess - mmr < min_dist:
            guess -= 1
        if len(_SAFE) > 4096:
            _SAFE.clear()
        found = _SAFE[key] = guess
    return found


def note_trading_state(reason: str) -> str:
    """Detail for `trading_halted` / `reduce_only`."""
    if reason == "trading_halted":
        return "trading is halted"
    return "REDUCING: only orders that reduce an open position pass"


def note_cooldown(reason: str, remaining_sec: float) -> str:
    """Detail for `cooldown_active`."""
    return f"cooldown after {reason}: {fixed(remaining_sec, 0)}s left"


def note_order_rate(count: int, retry_after: float) -> str:
    """Detail for `order_rate_exceeded`."""
    return f"{count} orders in the last 60s; room again in {retry_after:.3g}s"


def note_open_positions(count: int, limit: int) -> str:
    """Detail for `max_open_positions_reached`."""
    return f"{count} positions open, max {limit}"


def note_max_quantity(contracts: float, limit: float) -> str:
    """Detail for `above_max_quantity`."""
    return f"{contracts:g} contracts exceed the order maximum of {limit:g}"


def note_symbol_limit(symbol: str, after: float, limit: float) -> str:
    """Detail for `symbol_limit_exceeded`."""
    return f"{symbol} exposure after the order {after:g} > {limit:g}"


def note_margin(required: float, margin: float, fees: float, available: float) -> str:
    """Detail for `insufficient_margin`."""
    m = fixed
    return f"needs {m(required, 2)} (margin {m(margin, 2)} + fees {m(fees, 2)}) > available {m(available, 2)}"
