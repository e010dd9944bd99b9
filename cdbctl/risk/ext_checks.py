"""The extended pre-trade checks (issue 7), in the shape of ``checks.py``: one pure function each.

Each reads the scratch ``Eval`` (``e.x`` holds the run's ``Extras``) and the config, records
``value``/``limit``/``note`` for the trace and returns None or its reason code. Which of them run is
decided once per engine (``Extras.select``); the formulas live in margin.py, instruments.py and
account_rules.py.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cdbctl.risk.account_rules import (
    TradingState,
    trading_state_reason,
)
from cdbctl.risk.config import RiskConfig
from cdbctl.risk.ext_formulas import (
    min_notional_of,
    note_cooldown,
    note_margin,
    note_max_quantity,
    note_min,
    note_open_positions,
    note_order_rate,
    note_symbol_limit,
    note_tick,
    note_tier,
    note_tier_leverage,
    note_tier_limit,
    note_trading_state,
    note_unknown,
    safe_leverage_at_entry,
)
from cdbctl.risk.instruments import (
    fit_notional,
    floor_quantity,
    normalize_symbol,
    on_tick,
    tier_for,
)
from cdbctl.risk.margin import (
    check_margin,
    cross_liquidation_price,
    liquidation_distance,
    max_leverage_for_distance,
)
from cdbctl.risk.positions import LONG, SHORT, Position
from cdbctl.risk.timeparse import to_epoch

if TYPE_CHECKING:
    from cdbctl.risk.scratch import Eval


def signal_clock(e: Eval) -> float:
    """The signal's own time (replays), else the evaluation clock."""
    ts = to_epoch(e.timestamp) if e.timestamp is not None else None
    if ts is not None:
        return ts
    return e.now if e.now is not None else time.time()


def cooldown_clock(e: Eval) -> float:
    """When a cooldown is judged: the evaluation time (--now, else the clock), or the signal's own time
    when that is later. A stop-loss closed after the signal was emitted but before it is evaluated
    blocks the re-entry exactly as it does for a signal without a timestamp (issue 11, 5a)."""
    evaluated = e.now if e.now is not None else time.time()
    ts = to_epoch(e.timestamp) if e.timestamp is not None else None
    return ts if ts is not None and ts > evaluated else evaluated


def quantity(e: Eval) -> float:
    """Base quantity of the order: floored to the step with instrument rules, else size / price."""
    return e.qty if e.inst is not None else e.size_usd / e.price


def _reducible(e: Eval) -> float:
    held = e.x.held(e.symbol)
    return held.quantity if held is not None and (held.side == LONG) != e.long else 0.0


def check_trading_state(e: Eval, c: RiskConfig) -> str | None:
    """HALTED rejects everything; REDUCING passes only signals that reduce an open position."""
    state = e.x.trading_state
    e.reduce_qty = _reducible(e)
    e.value = state.value
    e.limit = None
    e.note = None
    reason = trading_state_reason(state, e.reduce_qty > 0)
    if reason is not None:
        e.note = note_trading_state(reason)
    return reason


def check_cooldown(e: Eval, c: RiskConfig) -> str | None:
    """Cooldown after a stop-loss on the symbol, StoplossGuard, or a run of losing trades."""
    e.limit = c.COOLDOWN_SEC
    e.value = 0.0
    e.note = None
    lock = e.x.lock(e.symbol, cooldown_clock(e), c)
    if lock is None:
        return None
    e.value = lock.remaining_sec
    e.note = note_cooldown(lock.reason, lock.remaining_sec)
    return "cooldown_active"


def check_order_rate(e: Eval, c: RiskConfig) -> str | None:
    """At most MAX_ORDERS_PER_MINUTE approved orders in any 60 s window of a stateful replay."""
    limiter = e.x.limiter
    e.limit = limiter.limit
    e.note = None
    now = signal_clock(e)
    e.value = limiter.count(now)
    if limiter.allows(now):
        return None
    e.note = note_order_rate(e.value, limiter.retry_after(now))
    return "order_rate_exceeded"


def check_open_positions(e: Eval, c: RiskConfig) -> str | None:
    """A new symbol must not push the open positions above MAX_OPEN_POSITIONS; reducing never flips."""
    x = e.x
    positions = x.positions
    if not e.reduce_qty:
        e.reduce_qty = _reducible(e)
    if e.reduce_qty and x.trading_state is TradingState.REDUCING:
        # REDUCING: close at most the open position, never flip it
        e.size_usd = min(e.size_usd, e.reduce_qty * e.price)
    count = len(positions)
    new = x.held(e.symbol) is None
    e.value = count + 1 if new else count
    e.limit = c.MAX_OPEN_POSITIONS
    e.note = None
    if new and 0 < c.MAX_OPEN_POSITIONS <= count:
        e.note = note_open_positions(count, c.MAX_OPEN_POSITIONS)
        return "max_open_positions_reached"
    return None


def check_instrument(e: Eval, c: RiskConfig) -> str | None:
    """Price on the tick; size floored to the contract step; below min quantity or notional fails."""
    price = e.price
    e.value = e.size_usd
    e.note = None
    book = e.x.instruments
    inst = book.get(e.symbol) if book is not None else None
    if inst is None:
        e.limit = None
        e.note = note_unknown(e.symbol)
        return "unknown_instrument"
    e.inst = inst
    capped = e.size_usd
    contracts, qty = floor_quantity(inst, capped / price)
    notional = qty * price
    if notional > capped:  # the flooring tolerance rounded up: never past the cap or target
        contracts, qty, notional = fit_notional(
            inst, round(qty * inst.base_den / inst.base_num), price, capped
        )
    e.contracts = contracts
    e.qty = qty
    e.size_usd = e.value = notional
    if not on_tick(inst, price):
        e.value = None  # a price is no amount of the tick: no headroom to show (explain)
        e.limit = inst.tick_size
        e.note = note_tick(inst, price)
        return "price_off_tick"
    e.limit = floor = min_notional_of(inst, price)
    if contracts < inst.min_quantity or notional < inst.min_notional:
        e.note = note_min(notional, contracts, floor)
        return "below_min_notional"
    if contracts > inst.max_quantity:
        e.value = contracts  # compared with a limit in contracts, in the same unit
        e.limit = inst.max_quantity
        e.note = note_max_quantity(contracts, inst.max_quantity)
        return "above_max_quantity"
    return None


def check_risk_tier(e: Eval, c: RiskConfig) -> str | None:
    """MEXC risk-limit tier of the position after the order: its MMR, and its max leverage."""
    inst = e.inst
    e.note = None
    if inst is None:
        e.value = e.limit = None
        e.note = "no instrument rules for the symbol"
        return None
    held = e.x.held(e.symbol)
    contracts = e.contracts
    if held is not None and (held.side == LONG) == e.long:
        contracts += held.quantity / inst.contract_size
    tier = tier_for(inst, contracts)
    if tier is None:
        e.value, e.limit = contracts, inst.tier_bounds[-1]
        e.note = note_tier_limit(contracts, e.limit)
        return "risk_limit_exceeded"
    e.mmr = tier.maintenance_margin_rate
    e.tier = tier
    e.value, e.limit = e.lev, tier.max_leverage
    e.note = note_tier(tier)
    if e.lev > tier.max_leverage:
        e.note = note_tier_leverage(e.lev, tier)
        return "leverage_exceeds_max"
    return None


def check_symbol_limit(e: Eval, c: RiskConfig) -> str | None:
    """Notional on the symbol after the order <= equity x MAX_SYMBOL_EXPOSURE_PCT and the instrument cap."""
    x = e.x
    size = e.size_usd
    side = LONG if e.long else SHORT
    held = x.held(e.symbol)
    after = size if held is None else abs(held.side * held.notional + side * size)  # opposite orders net
    limit = e.equity * c.MAX_SYMBOL_EXPOSURE_PCT if c.MAX_SYMBOL_EXPOSURE_PCT > 0 else float("inf")
    inst = e.inst
    if inst is not None and inst.max_position_usd < limit:
        limit = inst.max_position_usd
    e.value = after
    e.limit = limit
    e.note = None
    if after > limit and (held is None or after >= held.notional):  # lowering the exposure always passes
        e.note = note_symbol_limit(e.symbol, after, limit)
        return "symbol_limit_exceeded"
    return None


def check_margin_available(e: Eval, c: RiskConfig) -> str | None:
    """Initial margin + opening and closing fees <= available balance (else equity - used margin)."""
    x = e.x
    available = x.available if x.available is not None else e.equity - x.used_margin
    fee = (e.entry_fee + c.TAKER_FEE) / 2.0  # check_margin charges the rate twice (open + close)
    result = check_margin(e.size_usd, e.lev, fee, available)
    e.value = result.required
    e.limit = available
    e.note = None
    if result.passed:
        return None
    if e.reduce_qty and e.size_usd <= e.reduce_qty * e.price * (1 + 1e-12):
        e.note = "reduces an open position: frees margin"
        return None
    e.note = note_margin(result.required, result.initial_margin, result.fees, available)
    return "insufficient_margin"


def cross_liquidation(e: Eval, c: RiskConfig, mmr: float) -> tuple[float, float]:
    """Cross liquidation price and distance with the state's other cross legs (Binance-style formula).

    Wallet balance: the state's `wallet_balance`, else equity minus every leg's unrealised PnL (equity
    is marked to market), less the margin locked in isolated positions. A same-side position on the
    symbol merges with the order (average entry); an opposite one is left out (the order reduces
    it, so the order alone is the conservative case).
    """
    x = e.x
    side = LONG if e.long else SHORT
    qty = quantity(e)
    entry = e.price
    key = normalize_symbol(e.symbol)
    others: list[Position] = []
    upnl = isolated = 0.0
    for p in x.positions:
        upnl += p.unrealized_pnl()
        if p.margin_mode != "cross":
            isolated += p.used_margin()
        elif normalize_symbol(p.symbol) != key:
            others.append(p)
        elif p.side == side:
            entry = (p.quantity * p.entry_price + qty * entry) / (p.quantity + qty)
            qty += p.quantity
    wallet = (x.wallet if x.wallet is not None else e.equity - upnl) - isolated
    lp = cross_liquidation_price(
        side, qty, entry, wallet, mmr, others=others, default_mmr=c.MAINTENANCE_MARGIN_RATE
    )
    ref = e.mark if e.mark is not None else e.price
    if side == LONG and lp <= 0:
        return lp, 1.0
    return lp, liquidation_distance(side, lp, ref)


def mark_distance(e: Eval, c: RiskConfig, lp: float, mmr: float, d: float) -> float:
    """Isolated: the signal's max safe leverage (tier MMR and cap) and, with a mark price, the distance
    from it; without one the check's own distance `d` stands."""
    cap = c.MAX_LEVERAGE
    tier = e.tier if e.mmr is not None else None  # the risk_tier check's tier (the whole position)
    if tier is not None and tier.max_leverage < cap:
        cap = tier.max_leverage
    mark = e.mark
    if mark is None:
        e.max_safe = safe_leverage_at_entry(mmr, c.MIN_LIQUIDATION_DISTANCE, cap)
        return d
    side = LONG if e.long else SHORT
    e.max_safe = max_leverage_for_distance(
        side, e.price, mmr, c.MIN_LIQUIDATION_DISTANCE, reference=mark, cap=cap
    )
    if side == LONG and lp <= 0:
        return 1.0
    return liquidation_distance(side, lp, mark)
