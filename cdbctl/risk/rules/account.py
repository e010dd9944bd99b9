"""Rules on the account: its losses, its exposure, its trading state and its protections.

Semantics follow engines traders already trust (account_rules.py): NautilusTrader's trading states
and order rate, freqtrade's max_open_trades and protections (cooldown, StoplossGuard).
"""

from __future__ import annotations

from functools import lru_cache

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.formulas import fixed
from cdbctl.risk.rules.base import Rule, Setup

_ACCOUNT = "cdbctl.risk.account_rules"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_circuit(equity: float, daily_pnl: float, peak: float | None, c: RiskConfig) -> str:
    """Detail of circuit_breaker_triggered: the rule that fired (the day's loss first, as CDB)."""
    limit = c.CIRCUIT_BREAKER_THRESHOLD_PCT
    loss = -daily_pnl / equity if daily_pnl < 0 else 0.0
    if loss >= limit:
        return f"daily loss {loss:.4%} of equity {equity:g} >= {limit:.4%}"
    dd = (peak - equity) / peak if peak is not None else 0.0
    return f"drawdown {dd:.4%} from peak {peak:g} >= {limit:.4%}"


@lru_cache(maxsize=4096)
def note_exposure(after: float, c: RiskConfig) -> str:
    """Detail of max_exposure_reached."""
    return f"exposure after trade {fixed(after, 4)} > {c.MAX_TOTAL_EXPOSURE_PCT:g}"


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


def note_symbol_limit(symbol: str, after: float, limit: float) -> str:
    """Detail for `symbol_limit_exceeded`."""
    return f"{symbol} exposure after the order {after:g} > {limit:g}"


def tracks_positions(s: Setup) -> bool:
    """Open positions exist, or a stateful replay opens them."""
    return bool(s.account.positions) or s.stateful


CIRCUIT_BREAKER = Rule(
    name="circuit_breaker",
    stage=30,
    reasons=("circuit_breaker_triggered",),
    rule="Halt when the day's loss or the drawdown from peak_equity reaches CIRCUIT_BREAKER_THRESHOLD_PCT.",
    uses=("note_circuit", "cdbctl.risk.formulas:circuit_fraction"),
    headroom=1,
    unit="fraction of equity",
    prepare="""
breaker = c.CIRCUIT_BREAKER_THRESHOLD_PCT
drawdown = circuit_fraction(equity, st.daily_pnl, st.peak_equity)  # the larger of the two measures
breaker_note = note_circuit(equity, st.daily_pnl, st.peak_equity, c) if drawdown >= breaker else None
""",
    check="""
if breaker_note is not None:  # the state is the run's: decided once
    fail("circuit_breaker_triggered", breaker_note)
""",
    native_uses=("o:breaker_note", "o:drawdown", "o:breaker"),
    native_trace="value = Py_NewRef(drawdown), limit = Py_NewRef(breaker);",
    native="if (breaker_note != Py_None) FAIL(circuit_breaker_triggered, Py_NewRef(breaker_note));",
    trace="value, limit = drawdown, breaker",
)

DAILY_DRAWDOWN = Rule(
    name="daily_drawdown",
    stage=40,
    reasons=("max_daily_drawdown_exceeded",),
    rule="daily_pnl <= -equity x MAX_DAILY_DRAWDOWN_PCT stops new risk for the day.",
    headroom=-1,
    unit="USDT",
    prepare="""
daily_limit = -equity * c.MAX_DAILY_DRAWDOWN_PCT
daily_note = f"daily_pnl {st.daily_pnl:g} <= {daily_limit:g}" if st.daily_pnl <= daily_limit else None
""",
    check="""
if daily_note is not None:  # the state is the run's: decided once
    fail("max_daily_drawdown_exceeded", daily_note)
""",
    native_uses=("o:daily_note", "o:daily_limit"),
    native_trace="value = Py_NewRef(PTR(st, off_daily_pnl)), limit = Py_NewRef(daily_limit);",
    native="if (daily_note != Py_None) FAIL(max_daily_drawdown_exceeded, Py_NewRef(daily_note));",
    trace="value, limit = st.daily_pnl, daily_limit",
)

EXPOSURE = Rule(
    name="exposure",
    stage=80,
    reasons=("max_exposure_reached",),
    rule="total_exposure_pct + notional / equity must stay <= MAX_TOTAL_EXPOSURE_PCT.",
    uses=("note_exposure",),
    headroom=1,
    unit="fraction of equity",
    prepare="max_exposure = c.MAX_TOTAL_EXPOSURE_PCT",
    check="""
exposure_after = st.total_exposure_pct + size / equity
if exposure_after > max_exposure:
    fail("max_exposure_reached", note_exposure(exposure_after, c))
""",
    native_uses=("d:max_exposure", "o:note_exposure"),
    native_trace="value = box(exposure_after), limit = Py_NewRef(max_exposure_o);",
    native="""
double exposure_after = num(PTR(st, off_total_exposure)) + size / equity;
if (exposure_after > max_exposure)
    FAIL(max_exposure_reached, CALL(note_exposure, TMP(box(exposure_after)), c));
""",
    trace="value, limit = exposure_after, max_exposure",
)

TRADING_STATE = Rule(
    name="trading_state",
    stage=90,
    reasons=("trading_halted", "reduce_only"),
    rule="HALTED rejects everything; REDUCING passes only signals that reduce an open position.",
    uses=("note_trading_state", f"{_ACCOUNT}:trading_state_reason"),
    applies=lambda s: s.account.explicit_state,
    prepare="trading_state = x.trading_state",
    check="""
state_reason = trading_state_reason(trading_state, reduce_qty > 0)
if state_reason is not None:
    fail(state_reason, note_trading_state(state_reason))
""",
    native_uses=("o:trading_state", "o:trading_state_reason", "o:note_trading_state"),
    native_trace="value = ATTR(trading_state, value);",
    native="""
PyObject *state_reason = CALL(trading_state_reason, trading_state, BOOL(reduce_qty > 0));
if (state_reason == NULL) goto error;
TMP(state_reason);
if (state_reason != Py_None) FAIL_AS(state_reason, CALL(note_trading_state, state_reason));
""",
    trace="value, limit = trading_state.value, None",
)

COOLDOWN = Rule(
    name="cooldown",
    stage=100,
    reasons=("cooldown_active",),
    rule="Cooldown after a stop-loss on the symbol, StoplossGuard, or a run of losing trades.",
    uses=("note_cooldown",),
    applies=lambda s: bool(s.account.trades),
    headroom=1,
    unit="s",
    # a lock runs from a trade's close for COOLDOWN_SEC: outside [first close, last close + COOLDOWN_SEC)
    # no trade can lock (trades are sorted by close time)
    prepare="""
locks_from = x.trades[0].closed_at if x.trades else inf
locks_until = x.trades[-1].closed_at + c.COOLDOWN_SEC if x.trades and c.COOLDOWN_SEC > 0 else -inf
""",
    check="""
# judged at the evaluation time, or at the signal's own time when that is later: a stop-loss closed
# after the signal was emitted but before it is evaluated blocks the re-entry
lock_at = now_s if now_s > evaluated else evaluated
lock = x.lock(symbol, lock_at, c) if locks_from <= lock_at < locks_until else None
if lock is not None:
    fail("cooldown_active", note_cooldown(lock.reason, lock.remaining_sec))
""",
    native_uses=("d:locks_from", "d:locks_until", "o:note_cooldown"),
    native_trace="""
value = lock == Py_None ? box(0.0) : ATTR(lock, remaining_sec);
limit = ATTR(c, COOLDOWN_SEC);
""",
    native="""
double lock_at = now_s > evaluated ? now_s : evaluated;
PyObject *lock = Py_None;
if (locks_from <= lock_at && lock_at < locks_until) {
    lock = call_method(x, S_lock, ARGS(x, symbol, TMP(box(lock_at)), c), 4);
    if (lock == NULL) goto error;
    TMP(lock);
    if (lock != Py_None) {
        PyObject *locked_by = TMP(ATTR(lock, reason));
        PyObject *left = TMP(ATTR(lock, remaining_sec));
        if (locked_by == NULL || left == NULL) goto error;
        FAIL(cooldown_active, CALL(note_cooldown, locked_by, left));
    }
}
""",
    trace="value, limit = 0.0 if lock is None else lock.remaining_sec, c.COOLDOWN_SEC",
)

ORDER_RATE = Rule(
    name="order_rate",
    stage=110,
    reasons=("order_rate_exceeded",),
    rule="At most MAX_ORDERS_PER_MINUTE approved orders in any 60 s window of a stateful replay.",
    uses=("note_order_rate",),
    applies=lambda s: s.stateful,
    headroom=1,
    unit="orders",
    prepare="""
limiter = x.limiter
rate_limit, approved_times = limiter.limit, limiter.times
""",
    check="""
# fewer orders than the limit recorded in all: no window can be full
if 0 < rate_limit <= len(approved_times) and not limiter.allows(now_s):
    fail("order_rate_exceeded", note_order_rate(limiter.count(now_s), limiter.retry_after(now_s)))
""",
    native_uses=("o:limiter", "d:rate_limit", "o:approved_times", "o:note_order_rate"),
    native_trace="""
value = call_method(limiter, S_count, ARGS(limiter, TMP(box(now_s))), 2);
limit = ATTR(limiter, limit);
""",
    native="""
Py_ssize_t recorded = PyObject_Size(approved_times);
if (recorded < 0) goto error;
if (0 < rate_limit && rate_limit <= recorded) {
    PyObject *when = TMP(box(now_s));
    PyObject *allows = call_method(limiter, S_allows, ARGS(limiter, when), 2);
    if (allows == NULL) goto error;
    int ok = PyObject_IsTrue(allows);
    Py_DECREF(allows);
    if (ok < 0) goto error;
    if (!ok && WANT_DETAIL) {
        PyObject *count = TMP(call_method(limiter, S_count, ARGS(limiter, when), 2));
        PyObject *wait = TMP(call_method(limiter, S_retry_after, ARGS(limiter, when), 2));
        FAIL(order_rate_exceeded, CALL(note_order_rate, count, wait));
    }
}
""",
    trace="value, limit = limiter.count(now_s), limiter.limit",
)

OPEN_POSITIONS = Rule(
    name="open_positions",
    stage=120,
    reasons=("max_open_positions_reached",),
    rule="A new symbol must not push the open positions above MAX_OPEN_POSITIONS; reducing never flips.",
    uses=("note_open_positions", f"{_ACCOUNT}:TradingState"),
    applies=tracks_positions,
    headroom=1,
    unit="positions",
    prepare="""
max_open = c.MAX_OPEN_POSITIONS
reducing = x.trading_state is TradingState.REDUCING
open_legs = x.positions
""",
    check="""
if reduce_qty and reducing:  # REDUCING: close at most the open position, never flip it
    size = min(size, reduce_qty * price)
open_count = len(open_legs)
if held is None and 0 < max_open <= open_count:
    fail("max_open_positions_reached", note_open_positions(open_count, max_open))
""",
    native_uses=("i:max_open", "b:reducing", "o:open_legs", "o:note_open_positions"),
    native_trace="""
value = PyLong_FromSsize_t(held == NULL ? open_count + 1 : open_count), limit = Py_NewRef(max_open_o);
""",
    native="""
if (reduce_qty && reducing && reduce_qty * price < size) size = reduce_qty * price;
Py_ssize_t open_count = PyObject_Size(open_legs);
if (open_count < 0) goto error;
if (held == NULL && 0 < max_open && max_open <= open_count)
    FAIL(max_open_positions_reached,
         CALL(note_open_positions, TMP(PyLong_FromSsize_t(open_count)), TMP(PyLong_FromLong(max_open))));
""",
    trace="value, limit = open_count + 1 if held is None else open_count, max_open",
)

SYMBOL_LIMIT = Rule(
    name="symbol_limit",
    stage=150,
    reasons=("symbol_limit_exceeded",),
    rule="Notional on the symbol after the order <= equity x MAX_SYMBOL_EXPOSURE_PCT and the instrument cap.",
    uses=("note_symbol_limit",),
    applies=lambda s: s.config.MAX_SYMBOL_EXPOSURE_PCT > 0 or s.account.symbol_caps,
    headroom=1,
    unit="USDT",
    prepare="symbol_cap = equity * c.MAX_SYMBOL_EXPOSURE_PCT if c.MAX_SYMBOL_EXPOSURE_PCT > 0 else inf",
    check="""
# opposite orders net against the open position
symbol_after = size if held is None else abs(held.side * held.notional + (1 if long else -1) * size)
symbol_limit = symbol_cap
if inst is not None and inst.max_position_usd < symbol_limit:
    symbol_limit = inst.max_position_usd
if symbol_after > symbol_limit and (held is None or symbol_after >= held.notional):  # lowering always passes
    fail("symbol_limit_exceeded", note_symbol_limit(symbol, symbol_after, symbol_limit))
""",
    native_uses=("d:symbol_cap", "o:note_symbol_limit"),
    native_trace="value = box(symbol_after), limit = box(symbol_limit);",
    native="""
double symbol_after = held == NULL ? size : fabs(held_side * held_notional + (is_long ? 1 : -1) * size);
double symbol_limit = symbol_cap;
if (inst != NULL) {
    double cap = ATTR_D(inst, max_position_usd);
    if (PyErr_Occurred()) goto error;
    if (cap < symbol_limit) symbol_limit = cap;
}
if (symbol_after > symbol_limit && (held == NULL || symbol_after >= held_notional))
    FAIL(symbol_limit_exceeded,
         CALL(note_symbol_limit, symbol, TMP(box(symbol_after)), TMP(box(symbol_limit))));
""",
    trace="value, limit = symbol_after, symbol_limit",
)
