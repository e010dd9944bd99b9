"""The extended account checks for the fused fast path (fast.py), over plain values.

The same tests, order and texts as the registry's ext_checks.py: trading state, cooldown, order rate
and open positions before the instrument rules (``pre``), then the per-symbol limit and the margin
(``post``). Built once per engine; None when no account input applies. A cross-margin signal with
open positions is left to the registry (the fast path returns None for it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cdbctl.risk.account_rules import TradingState, trading_state_reason
from cdbctl.risk.ext_formulas import (
    note_cooldown,
    note_margin,
    note_open_positions,
    note_order_rate,
    note_symbol_limit,
    note_trading_state,
    safe_leverage_at_entry,
)
from cdbctl.risk.extras import EXTENDED
from cdbctl.risk.positions import LONG, Position

if TYPE_CHECKING:
    from cdbctl.risk.config import RiskConfig
    from cdbctl.risk.extras import Extras
    from cdbctl.risk.instruments import Instrument, InstrumentBook

# pre(symbol, long, size, price, clock, cooldown clock) -> (reason, detail, size, held, reducible quantity)
Pre = Callable[
    [str, bool, float, float, float, float], tuple[str | None, str | None, float, Position | None, float]
]
# post(symbol, long, size, price, leverage, entry fee, held, reducible, instrument) -> (reason, detail)
Post = Callable[
    [str, bool, float, float, int, float, "Position | None", float, "Instrument | None"],
    tuple[str | None, str | None],
]


def prepare_instruments(book: InstrumentBook, min_dist: float, max_lev: int) -> dict[str, tuple[Any, ...]]:
    """Instrument rules per spelling as one tuple of locals for the fused path (attribute loads cost there).

    Per instrument: (instrument, base step, step num/den, base num/den, tick, min quantity, min notional,
    funding settlements per day, tier bounds, tier count, first bound, per-tier values, max quantity);
    per tier: (tier, max leverage, MMR, safe leverage at entry, leverage cap).
    """
    prepared: dict[str, tuple[Any, ...]] = {}
    for spelling, ins in book.spellings.items():
        tiers = tuple(
            (t, t.max_leverage, t.maintenance_margin_rate,
             safe_leverage_at_entry(t.maintenance_margin_rate, min_dist, min(t.max_leverage, max_lev)),
             min(t.max_leverage, max_lev))
            for t in ins.tiers
        )  # fmt: skip
        prepared[spelling] = (
            ins, ins.base_step, ins.step_num, ins.step_den, ins.base_num, ins.base_den, ins.tick_size,
            ins.min_quantity, ins.min_notional, 24.0 / ins.funding_interval_hours, ins.tier_bounds,
            len(ins.tier_bounds), ins.tier_bounds[0], tiers, ins.max_quantity,
        )  # fmt: skip
    return prepared


def build_account(c: RiskConfig, x: Extras, equity: float) -> tuple[Pre, Post] | None:
    """The account steps for this run, or None when none of their checks applies."""
    on = {name for name in EXTENDED if x.applies(name, c)} - {"instrument", "risk_tier"}
    if not on:
        return None
    state_on, cool_on, rate_on = "trading_state" in on, "cooldown" in on, "order_rate" in on
    positions_on, symbol_on, margin_on = "open_positions" in on, "symbol_limit" in on, "margin" in on
    max_open, taker = c.MAX_OPEN_POSITIONS, c.TAKER_FEE
    symbol_cap = equity * c.MAX_SYMBOL_EXPOSURE_PCT if c.MAX_SYMBOL_EXPOSURE_PCT > 0 else math.inf
    limiter, held_of, positions = x.limiter, x.held, x.positions
    reducing = x.trading_state is TradingState.REDUCING

    def pre(  # noqa: PLR0917  # a hot-path closure: positional arguments are the cheapest call
        symbol: str, long: bool, size: float, price: float, now: float, lock_now: float
    ) -> tuple[str | None, str | None, float, Position | None, float]:
        reason = detail = None
        held = held_of(symbol)
        reduce_qty = held.quantity if held is not None and (held.side == LONG) != long else 0.0
        if state_on:
            reason = trading_state_reason(x.trading_state, reduce_qty > 0)
            if reason is not None:
                detail = note_trading_state(reason)
        if cool_on:
            lock = x.lock(symbol, lock_now, c)  # judged at the evaluation time (ext_checks.cooldown_clock)
            if lock is not None and reason is None:
                reason, detail = "cooldown_active", note_cooldown(lock.reason, lock.remaining_sec)
        if rate_on and not limiter.allows(now) and reason is None:
            reason, detail = (
                "order_rate_exceeded",
                note_order_rate(limiter.count(now), limiter.retry_after(now)),
            )
        if positions_on:
            if reduce_qty and reducing:
                size = min(size, reduce_qty * price)
            count = len(positions)
            if held is None and 0 < max_open <= count and reason is None:
                reason, detail = "max_open_positions_reached", note_open_positions(count, max_open)
        return reason, detail, size, held, reduce_qty

    def post(  # noqa: PLR0917  # a hot-path closure: positional arguments are the cheapest call
        symbol: str, long: bool, size: float, price: float, lev: int, entry_fee: float,
        held: Position | None, reduce_qty: float, inst: Instrument | None,
    ) -> tuple[str | None, str | None]:  # fmt: skip
        if symbol_on:
            after = size if held is None else abs(held.side * held.notional + (1 if long else -1) * size)
            limit = symbol_cap
            if inst is not None and inst.max_position_usd < limit:
                limit = inst.max_position_usd
            if after > limit and (held is None or after >= held.notional):
                return "symbol_limit_exceeded", note_symbol_limit(symbol, after, limit)
        if margin_on:
            available = x.available if x.available is not None else equity - x.used_margin
            fee = (entry_fee + taker) / 2.0  # as margin.check_margin: the same operations, the same floats
            margin = size / lev
            fees = 2.0 * size * fee
            required = margin + fees
            if not required <= available + 1e-9 + abs(available) * 1e-12 and not (
                reduce_qty and size <= reduce_qty * price * (1 + 1e-12)
            ):
                return "insufficient_margin", note_margin(required, margin, fees, available)
        return None, None

    return pre, post
