"""The risk engine: a pure function of (signal, state, config, now) -> Decision, fail closed."""

from __future__ import annotations

import math

import msgspec

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.ext_checks import quantity, signal_clock
from cdbctl.risk.extras import Extras
from cdbctl.risk.fast import FastPath, build_fast
from cdbctl.risk.formulas import money, overflow_note
from cdbctl.risk.instruments import InstrumentBook
from cdbctl.risk.model import SCHEMA_VERSION, Check, Decision, MarketData, RiskState, Signal
from cdbctl.risk.registry import REGISTRY
from cdbctl.risk.scratch import Eval

_NO_MARKET = MarketData()
_SKIPPED = "skipped: the signal is invalid"
_VALIDITY = REGISTRY[0][1]
_REST = REGISTRY[1:]  # core checks with the extended ones spliced in (registry.py)


def max_safe_leverage(c: RiskConfig) -> int:
    """Highest integer leverage <= MAX_LEVERAGE whose isolated liquidation distance passes (0 if none)."""
    mmr, need = c.MAINTENANCE_MARGIN_RATE, c.MIN_LIQUIDATION_DISTANCE
    top = min(c.MAX_LEVERAGE, 125)
    guess = top if need + mmr <= 0 else min(top, max(1, math.floor(1.0 / (need + mmr))))
    # the float floor can be one off at exact boundaries: settle with the check's own formula
    while guess < top and 1.0 / (guess + 1) - mmr >= need:
        guess += 1
    while guess >= 1 and 1.0 / guess - mmr < need:
        guess -= 1
    return guess


class Engine:
    """Evaluates signals against one config, state and default market (reused across a batch)."""

    __slots__ = (
        "_e",
        "config",
        "extras",
        "fast",
        "market",
        "max_safe",
        "now",
        "rest",
        "state",
        "stateful",
        "trace",
    )

    def __init__(
        self,
        config: RiskConfig,
        state: RiskState | None = None,
        market: MarketData | None = None,
        *,
        now: float | None = None,
        trace: bool = False,
        stateful: bool = False,
        finite_inputs: bool = False,
        instruments: InstrumentBook | None = None,
    ) -> None:
        self.config = config
        self.state = state if state is not None else RiskState()
        self.market = market if market is not None else _NO_MARKET
        self.now = now
        self.trace = trace
        self.stateful = stateful
        self.max_safe = max_safe_leverage(config)
        self._e = Eval()
        # positions, recent trades, trading state and instrument rules, parsed once (InputError if bad)
        self.extras = self._e.x = Extras(config, self.state, instruments, stateful=stateful)
        self.rest = self.extras.select(_REST, config)  # the extended checks that apply to this run
        # without a trace the fused path decides; it defers to the registry for anything unusual
        self.fast: FastPath | None = (
            None
            if trace
            else build_fast(
                config,
                self.state,
                self.market,
                now,
                self.max_safe,
                stateful,
                finite_inputs=finite_inputs,
                instruments=instruments,
                extras=self.extras,
            )
        )

    def evaluate(self, sig: Signal) -> Decision:
        """One decision for one decoded signal; any unexpected error rejects (fail closed)."""
        if self.fast is not None:
            try:
                decided = self.fast(sig)
            except Exception:  # the registry path below re-evaluates and fails closed
                decided = None
            if decided is not None:
                return decided
        try:
            return self._evaluate(sig)
        except Exception as exc:  # fail closed: a bug must never approve
            return self.invalid(
                f"internal error: {type(exc).__name__}: {exc}", sig.signal_id, sig.symbol, sig.side,
                reason="internal_error",
            )  # fmt: skip

    def _evaluate(self, sig: Signal) -> Decision:
        c, st, e = self.config, self.state, self._e
        mk = sig.market
        dm = self.market
        if mk is None:
            mk = dm
        e.side_raw = sig.side
        e.symbol = sig.symbol
        e.mark = sig.mark_price
        e.entry_fee = entry_fee = c.MAKER_FEE if sig.order_type == "limit" else c.TAKER_FEE
        e.inst = e.mmr = e.max_safe = None
        e.reduce_qty = 0.0
        e.price = price = sig.price
        e.lev = lev = sig.leverage if sig.leverage is not None else c.DEFAULT_LEVERAGE
        e.margin_mode = sig.margin_mode.lower() if sig.margin_mode is not None else c.MARGIN_MODE
        e.target = sig.target_position_usd
        e.stop_in = sig.stop_price
        e.timestamp = sig.timestamp
        e.now = self.now
        e.equity = st.equity if st.equity is not None else c.ACCOUNT_EQUITY
        e.daily_pnl = st.daily_pnl
        e.exposure = st.total_exposure_pct
        e.peak = st.peak_equity
        e.win_rate, e.avg_win, e.avg_loss = st.win_rate, st.avg_win, st.avg_loss
        v = mk.volatility
        e.vol = v if v is not None else (dm.volatility if dm.volatility is not None else c.DEFAULT_VOLATILITY)
        v = mk.funding_rate
        e.funding = (
            v if v is not None else (dm.funding_rate if dm.funding_rate is not None else c.FUNDING_RATE)
        )
        e.atr = mk.atr if mk.atr is not None else dm.atr
        e.depth = mk.order_book_depth if mk.order_book_depth is not None else dm.order_book_depth
        e.bid = mk.bid if mk.bid is not None else dm.bid
        e.ask = mk.ask if mk.ask is not None else dm.ask
        checks: list[Check] | None = [] if self.trace else None
        reason = _VALIDITY(e, c)
        if checks is not None:
            checks.append(Check("validity", reason is None, None, None, e.note))
        if reason is not None:
            return self._invalid_with(checks, e.note, sig)
        detail = None
        for name, fn in self.rest:
            r = fn(e, c)
            if checks is not None:
                checks.append(Check(name, r is None, e.value, e.limit, e.note))
            if r is not None and reason is None:
                reason, detail = r, e.note
        size_usd = e.size_usd
        fee_daily = None if e.fee_daily is None else money(e.fee_daily)
        fees = money(size_usd * (entry_fee + c.TAKER_FEE))
        qty = quantity(e)
        if reason is None:  # every number of an approval must be finite (formulas.overflow_note)
            detail = overflow_note(price, qty, size_usd, e.stop, e.lp, e.dist, fee_daily, e.slip_bps, fees)
            if detail is not None:
                reason = "numeric_overflow"
        approved = reason is None
        if approved and self.stateful:
            st.total_exposure_pct = st.total_exposure_pct + size_usd / e.equity
            self.extras.record_fill(e.symbol, e.long, qty, price, leverage=lev, ts=signal_clock(e))
        max_safe = e.max_safe
        return Decision(
            SCHEMA_VERSION,
            sig.signal_id,
            sig.symbol,
            "long" if e.long else "short",
            approved,
            reason,
            detail,
            qty if approved else 0.0,  # floored to the contract step with instrument rules
            size_usd if approved else 0.0,
            lev,
            e.stop,
            e.lp,
            e.dist,
            self.max_safe if max_safe is None else max_safe,  # per signal with tiers or a mark price
            e.regime,
            fee_daily,
            e.alert if approved else False,
            e.slip_bps,
            fees,
            checks if checks is not None else msgspec.UNSET,
        )

    def _invalid_with(self, checks: list[Check] | None, detail: str | None, sig: Signal) -> Decision:
        d = self.invalid(detail or "invalid signal", sig.signal_id, sig.symbol, sig.side)
        if checks is not None:
            checks.extend(Check(n, False, None, None, _SKIPPED) for n, _ in self.rest)
            d.checks = checks
        return d

    def invalid(
        self,
        detail: str,
        signal_id: object = None,
        symbol: object = None,
        side: object = None,
        *,
        reason: str = "invalid_signal",
    ) -> Decision:
        """The rejection for a record that could not be evaluated (bad field, malformed JSON, bug)."""
        d = Decision(
            SCHEMA_VERSION,
            signal_id if isinstance(signal_id, str | int) and not isinstance(signal_id, bool) else None,
            symbol if isinstance(symbol, str) else None,
            side if isinstance(side, str) else None,
            False,
            reason,
            detail,
            0.0,
            0.0,
            None,
            None,
            None,
            None,
            self.max_safe,
            None,
            None,
            False,
            None,
            None,
        )
        if self.trace:
            d.checks = [Check("validity", False, None, None, detail)] + [
                Check(n, False, None, None, _SKIPPED) for n, _ in self.rest
            ]
        return d
