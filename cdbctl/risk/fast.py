"""The fused hot path: every check of ``checks.CHECKS`` inlined over local variables.

Replays without ``--trace`` need only the decision, not the per-check trace, so this closure
computes the same numbers with locals instead of the registry's scratch object and 12 calls
(about 3x less work per signal). It shares the sizing formulas and failure texts with the registry
(``formulas``), hands anything unusual (an invalid field, an unparseable or future timestamp, odd
casing) back to the registry by returning None, and is kept identical to it by a differential
property test (tests/risk/test_properties.py). A new check goes into ``checks.CHECKS`` and here.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Callable

from cdbctl.risk import ext_formulas as x
from cdbctl.risk import formulas as f
from cdbctl.risk.config import RiskConfig
from cdbctl.risk.ext_fast import build_account, prepare_instruments
from cdbctl.risk.extras import Extras
from cdbctl.risk.instruments import InstrumentBook, fit_notional
from cdbctl.risk.margin import cross_liquidation_price, liquidation_distance, max_leverage_for_distance
from cdbctl.risk.model import SCHEMA_VERSION, Decision, MarketData, RiskState, Signal
from cdbctl.risk.timeparse import TS_CACHE as timeparse_cache
from cdbctl.risk.timeparse import to_epoch

_SIDES = {"long": True, "buy": True, "short": False, "sell": False}
_SIDES.update({k.upper(): v for k, v in list(_SIDES.items())})
_SQRT_YEAR = math.sqrt(365.0)
_ROUNDER = f.ROUNDER
_EXACT_BELOW = 2251799813685248.0  # 2**51, as instruments.nearest_integer

FastPath = Callable[[Signal], "Decision | None"]


def build_fast(  # noqa: PLR0917  # one closure on purpose: locals are the speed
    c: RiskConfig,
    st: RiskState,
    dm: MarketData,
    now: float | None,
    max_safe: int,
    stateful: bool,
    *,
    finite_inputs: bool = False,
    instruments: InstrumentBook | None = None,
    extras: Extras | None = None,
) -> FastPath:
    """A closure deciding one signal, or returning None to defer to the registry path.

    ``finite_inputs``: records come from JSON text, which cannot hold NaN or infinity (msgspec
    rejects out-of-range numbers), so the finiteness test can be skipped.
    """
    equity = st.equity if st.equity is not None else c.ACCOUNT_EQUITY
    cap = equity * c.MAX_POSITION_PCT
    method = c.SIZING_METHOD
    const_raw: float | None = None
    if method == "fixed_fractional":
        const_raw = f.fixed_fractional_usd(equity, c)
    elif method == "kelly":
        const_raw = f.kelly_usd(equity, st.win_rate, st.avg_win, st.avg_loss, c)
    dd = f.circuit_fraction(equity, st.daily_pnl, st.peak_equity)
    daily_limit = -equity * c.MAX_DAILY_DRAWDOWN_PCT
    pre_reason: str | None = None
    pre_detail: str | None = None
    if dd >= c.CIRCUIT_BREAKER_THRESHOLD_PCT:
        pre_reason = "circuit_breaker_triggered"
        pre_detail = f.note_circuit(equity, st.daily_pnl, st.peak_equity, c)
    elif st.daily_pnl <= daily_limit:
        pre_reason, pre_detail = "max_daily_drawdown_exceeded", f.note_daily(st.daily_pnl, daily_limit)
    d_vol = dm.volatility if dm.volatility is not None else c.DEFAULT_VOLATILITY
    d_fund = dm.funding_rate if dm.funding_rate is not None else c.FUNDING_RATE
    d_atr, d_depth, d_bid, d_ask = dm.atr, dm.order_book_depth, dm.bid, dm.ask
    default_cross = c.MARGIN_MODE == "cross"
    default_lev = c.DEFAULT_LEVERAGE
    stale, skew, require_ts = c.DATA_STALE_TIMEOUT_SEC, c.MAX_FUTURE_SKEW_SEC, c.REQUIRE_TIMESTAMP
    panic, stressed = c.REGIME_PANIC_VOLATILITY, c.REGIME_STRESSED_VOLATILITY
    stressed_mult = c.REGIME_STRESSED_SIZE_MULTIPLIER
    max_lev, max_exp, max_spread = c.MAX_LEVERAGE, c.MAX_TOTAL_EXPOSURE_PCT, c.MAX_SPREAD_BPS
    mmr, min_dist, stop_pct = c.MAINTENANCE_MARGIN_RATE, c.MIN_LIQUIDATION_DISTANCE, c.STOP_LOSS_PCT
    stop_long, stop_short = 1.0 - stop_pct, 1.0 + stop_pct  # the same floats checks.py computes per signal
    periods = 24.0 / c.FUNDING_SETTLEMENT_HOURS
    max_fund, alert_fund = c.MAX_DAILY_FUNDING_FEE_PCT, c.FUNDING_ALERT_PCT
    impact = c.SLIPPAGE_IMPACT_COEFFICIENT / _SQRT_YEAR * 1e4
    max_slip, taker, maker = c.MAX_SLIPPAGE_BPS, c.TAKER_FEE, c.MAKER_FEE
    fee_market, fee_limit = taker + taker, maker + taker  # round trip: entry plus a taker exit
    sides, epoch, clock, sqrt, inf = _SIDES, to_epoch, time.time, math.sqrt, math.inf
    ts_cache = timeparse_cache
    check_finite = not finite_inputs
    prepared = prepare_instruments(instruments, min_dist, max_lev) if instruments is not None else {}
    prepared_get = prepared.get if instruments is not None else None
    book_get = instruments.get if instruments is not None else None
    floor, bisect = math.floor, bisect_left
    # account inputs (trading state, trades, positions, balances, --stateful): ext_fast, as ext_checks
    account = build_account(c, extras, equity) if extras is not None else None
    acc_pre, acc_post = account if account is not None else (None, None)
    open_legs = extras.positions if extras is not None else []
    # cross margin: the wallet backs the position (ext_checks.cross_liquidation: no legs, no PnL to take off)
    wallet = extras.wallet if extras is not None and extras.wallet is not None else equity
    record = extras.record_fill if extras is not None and stateful else None

    def fast(sig: Signal) -> Decision | None:
        long = sides.get(sig.side)
        if long is None:
            return None
        mode = sig.margin_mode
        if mode is None:
            cross = default_cross
        elif mode == "isolated":
            cross = False
        elif mode == "cross":
            cross = True
        else:
            return None
        if cross and open_legs:
            return None  # cross margin over other legs: the registry's Binance-style formula
        price = sig.price
        mk = sig.market
        if mk is None:
            vol, fund, atr, depth, bid, ask = d_vol, d_fund, d_atr, d_depth, d_bid, d_ask
        else:
            v = mk.volatility  # one load each: no tuple built and unpacked per signal
            vol = d_vol if v is None else v
            fr = mk.funding_rate
            fund = d_fund if fr is None else fr
            atr = mk.atr
            depth = mk.order_book_depth
            bid = mk.bid
            ask = mk.ask
            if atr is None:
                atr = d_atr
            if depth is None:
                depth = d_depth
            if bid is None:
                bid = d_bid
            if ask is None:
                ask = d_ask
        target = sig.target_position_usd
        stop = sig.stop_price
        if bid is not None and ask is not None and bid > ask:
            return None
        if stop is not None and ((stop >= price) if long else (stop <= price)):
            return None  # a stop on the wrong side of the entry: the registry's validity check names it
        if check_finite:
            # NaN or inf anywhere makes this sum non-finite: the registry's validity check names it
            total = price + vol + fund + (target or 0.0) + (stop or 0.0) + (atr or 0.0) + (depth or 0.0)
            if not -inf < total + (bid or 0.0) + (ask or 0.0) < inf:
                return None
        lev = sig.leverage or default_lev
        reason = detail = None
        ts = sig.timestamp
        if ts is not None:
            t = ts_cache.get(ts)
            if t is None:
                t = epoch(ts)
            if t is None:
                return None
            age = (now if now is not None else clock()) - t
            if age > stale:
                reason, detail = "stale_data", f.note_stale(age, c)
            elif -age > skew:
                return None
        elif require_ts:
            return None
        if reason is None and pre_reason is not None:
            reason, detail = pre_reason, pre_detail
        # regime and sizing
        if vol > panic:
            regime, mult = "panic", 0.0
            if reason is None:
                reason, detail = "market_regime_panic", f.note_panic(vol, c)
        elif vol > stressed:
            regime, mult = "stressed", stressed_mult
        else:
            regime, mult = "normal", 1.0
        if const_raw is not None:
            size = const_raw
        elif method == "vol_target":
            size = f.vol_target_usd(equity, vol, c)
        else:
            size = f.atr_usd(equity, atr, price, c)
        if size > cap:  # noqa: PLR1730  # a compare is cheaper than a min() call here
            size = cap
        if target is not None and size > target:
            size = target
        size *= mult
        if not size > 0:
            size = 0.0
            if reason is None:
                reason, detail = "position_size_zero_after_sizing", f.note_zero(mult, regime, target, c)
        if reason is None and lev > max_lev:
            reason, detail = "leverage_exceeds_max", f.note_leverage(lev, c)
        exposure = st.total_exposure_pct
        if reason is None and exposure + size / equity > max_exp:
            reason, detail = "max_exposure_reached", f.note_exposure(exposure + size / equity, c)
        held = None
        if acc_pre is not None:  # (it sets now_s, reduce_qty and inst for acc_post and record)
            inst = None
            # the signal's own time in a replay, else the clock (ext_checks.signal_clock)
            evaluated = now if now is not None else clock()
            now_s = t if ts is not None and t is not None else evaluated
            lock_now = now_s if now_s > evaluated else evaluated  # ext_checks.cooldown_clock
            r, r_detail, size, held, reduce_qty = acc_pre(sig.symbol, long, size, price, now_s, lock_now)
            if reason is None and r is not None:
                reason, detail = r, r_detail
        qty = size / price
        mmr_s = mmr
        periods_s = periods
        safe = max_safe
        cap_s = max_lev
        if prepared_get is not None:  # instrument rules and risk-limit tiers, inlined from ext_checks
            prep = prepared_get(sig.symbol)
            if prep is None and book_get is not None:
                found = book_get(sig.symbol)  # another spelling (BTC/USDT:USDT): normalised lookup
                prep = prepared[found.symbol] if found is not None else None
            if prep is None:
                if reason is None:
                    reason, detail = "unknown_instrument", x.note_unknown(sig.symbol)
            else:
                (
                    inst,
                    base,
                    s_num,
                    s_den,
                    b_num,
                    b_den,
                    tick,
                    min_q,
                    min_n,
                    periods_s,
                    bounds,
                    n,
                    first,
                    safes,
                    max_q,
                ) = prep
                steps = qty / base + 1e-9  # instruments.floor_quantity, inlined
                if qty > 0 and steps < inf:
                    steps = floor(steps)
                    contracts = steps * s_num / s_den
                    qty = steps * b_num / b_den
                else:
                    steps = contracts = qty = 0.0
                capped = size
                size = qty * price
                if size > capped:  # the tolerance rounded up past the cap or target: instruments.fit_notional
                    contracts, qty, size = fit_notional(inst, steps, price, capped)
                if reason is None:
                    ticks = price / tick  # instruments.on_tick, inlined (with nearest_integer)
                    off = ticks - (ticks + _ROUNDER - _ROUNDER) if ticks < _EXACT_BELOW else 0.0
                    if ticks < 0.5 or not -1e-6 <= off <= 1e-6:
                        reason, detail = "price_off_tick", x.note_tick(inst, price)
                    elif contracts < min_q or size < min_n:
                        lowest = x.min_notional_of(inst, price)
                        reason, detail = "below_min_notional", x.note_min(size, contracts, lowest)
                    elif contracts > max_q:
                        reason, detail = "above_max_quantity", x.note_max_quantity(contracts, max_q)
                total = contracts  # the position after the order: a same-side open position counts
                if held is not None and (held.side == 1) == long:
                    total += held.quantity / inst.contract_size
                low = total - 1e-9  # instruments.tier_for, inlined; most positions sit in tier 0
                level = 0 if low <= first else bisect(bounds, low)
                if level < n:
                    tier, tier_lev, mmr_s, safe, cap_s = safes[level]
                    if reason is None and lev > tier_lev:
                        reason, detail = "leverage_exceeds_max", x.note_tier_leverage(lev, tier)
                elif reason is None:
                    reason, detail = "risk_limit_exceeded", x.note_tier_limit(total, bounds[-1])
        if acc_post is not None:
            entry_fee = maker if sig.order_type == "limit" else taker
            r, r_detail = acc_post(sig.symbol, long, size, price, lev, entry_fee, held, reduce_qty, inst)
            if reason is None and r is not None:
                reason, detail = r, r_detail
        if bid is not None and ask is not None:
            spread = (ask - bid) / (ask + bid) * 20000.0
            slip = spread * 0.5
            if reason is None and spread > max_spread:
                reason, detail = "excessive_spread", f.note_spread(spread, c)
        else:
            slip = 0.0
        # liquidation (MEXC), see checks.check_liquidation
        d = 1.0 / lev - mmr_s
        if d < 0.0:  # noqa: PLR1730  # a compare is cheaper than a max() call here
            d = 0.0
        if long:
            if d > 1.0:  # noqa: PLR1730  # a long cannot be liquidated below zero; no min() call
                d = 1.0
            lp = price * (1.0 - d)
            if stop is None:
                stop = price * stop_long
        else:
            lp = price * (1.0 + d)
            if stop is None:
                stop = price * stop_short
        mark = sig.mark_price
        if cross and size > 0:  # margin.cross_liquidation_price with no other legs (they defer above)
            side = 1 if long else -1
            lp = cross_liquidation_price(side, qty, price, wallet, mmr_s)
            ref = price if mark is None else mark
            d = 1.0 if long and lp <= 0 else liquidation_distance(side, lp, ref)
        if mark is not None:  # MEXC liquidates on the fair price: ext_checks.mark_distance
            side = 1 if long else -1
            safe = max_leverage_for_distance(side, price, mmr_s, min_dist, reference=mark, cap=cap_s)
            d = 1.0 if long and lp <= 0 else liquidation_distance(side, lp, mark)
        if reason is None:
            if d < min_dist:
                reason, detail = "liquidation_risk_too_high", f.note_liq_distance(d, c)
            elif (stop <= lp) if long else (stop >= lp):
                reason, detail = "liquidation_risk_too_high", f.note_stop(stop, lp)
        rate = fund * periods_s if long else -fund * periods_s
        if reason is None and rate > max_fund:
            reason, detail = "excessive_funding_fees", f.note_funding(rate, c)
        if depth is not None:
            slip += impact * vol * sqrt(size / depth)
        if reason is None and slip > max_slip:
            reason, detail = "excessive_slippage", f.note_slippage(slip, c)
        # estimated costs to 1e-8 USDT (formulas.money, inlined): no float noise such as 3.0000000000000004
        fee_daily = (size if mark is None else size / price * mark) * rate  # funding on the fair price
        if -1e7 < fee_daily < 1e7:
            fee_daily = (fee_daily * 1e8 + _ROUNDER - _ROUNDER) / 1e8
        fees = size * (fee_limit if sig.order_type == "limit" else fee_market)
        if -1e7 < fees < 1e7:
            fees = (fees * 1e8 + _ROUNDER - _ROUNDER) / 1e8
        if reason is None and not (
            -inf < qty + size + stop + lp + d + fee_daily + slip + fees < inf and qty > 0
        ):
            # a number out of the float range (price 1e-320: size / price = inf): never approve it
            detail = f.overflow_note(price, qty, size, stop, lp, d, fee_daily, slip, fees)
            if detail is not None:  # (a sum of finite numbers can overflow: the note decides)
                reason = "numeric_overflow"
        approved = reason is None
        if approved and stateful:
            st.total_exposure_pct = exposure + size / equity
            if record is not None:
                record(sig.symbol, long, qty, price, leverage=lev, ts=now_s)
        return Decision(
            SCHEMA_VERSION,
            sig.signal_id,
            sig.symbol,
            "long" if long else "short",
            approved,
            reason,
            detail,
            qty if approved else 0.0,
            size if approved else 0.0,
            lev,
            stop,
            lp,
            d,
            safe,
            regime,
            fee_daily,
            approved and rate > alert_fund,
            slip,
            fees,
        )

    return fast
