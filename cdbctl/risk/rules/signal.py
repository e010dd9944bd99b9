"""Rules on the signal itself: is it a well-formed order, and is it fresh."""

from __future__ import annotations

from functools import lru_cache

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.rules.base import Rule

SIDES = {"long": True, "buy": True, "short": False, "sell": False}
# the common spellings ("Long", "SELL") in one lookup; any other case goes through lower()
ANY_CASE_SIDES = {spelling: v for k, v in SIDES.items() for spelling in (k, k.upper(), k.capitalize())}
MODES = frozenset(("isolated", "cross"))
_FIELDS = (
    "price", "market.volatility", "market.funding_rate", "market.atr", "market.order_book_depth",
    "market.bid", "market.ask", "target_position_usd", "stop_price",
)  # fmt: skip


def note_not_finite(*values: float | None) -> str | None:
    """Detail of invalid_signal for a NaN or infinity: the first such field (``_FIELDS`` order)."""
    for name, v in zip(_FIELDS, values, strict=True):
        if v is not None and not -float("inf") < v < float("inf"):
            if name == "price":
                return "price: must be a finite number > 0"
            return f"{name}: must be a finite number"
    return None


def note_stop_side(stop: float, price: float, long: bool) -> str:
    """Detail of invalid_signal for a stop that would fire at once (at or beyond the entry)."""
    where, side = ("below", "long") if long else ("above", "short")
    return f"stop_price: {stop:.12g} is not {where} the entry price {price:.12g} for a {side}"


def note_side(side: str) -> str:
    """Detail of invalid_signal for a side that is none of the four."""
    return f"side: {side!r} is not long, short, buy or sell"


def note_mode(mode: str) -> str:
    """Detail of invalid_signal for an unknown margin mode."""
    return f"margin_mode: {mode!r} is not isolated or cross"


def note_crossed(bid: float, ask: float) -> str:
    """Detail of invalid_signal for a crossed book."""
    return f"market.bid: {bid:g} is above market.ask {ask:g} (crossed book)"


def note_timestamp(ts: object) -> str:
    """Detail of invalid_timestamp_format."""
    return f"timestamp: {ts!r} is not ISO-8601 with Z/offset nor epoch s/ms"


def note_future(ahead: float, skew: float) -> str:
    """Detail of invalid_signal for a timestamp ahead of the clock by more than the skew."""
    return f"timestamp: {ahead:g}s in the future (max skew {skew:g}s)"


NO_TIMESTAMP = "no timestamp"
MISSING_SIGNAL_CLOCK = "timestamp: missing (--now signal judges each signal at its own timestamp)"
MISSING_REQUIRED = "timestamp: missing (REQUIRE_TIMESTAMP is true)"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_stale(age: float, c: RiskConfig) -> str:
    """Detail of stale_data."""
    return f"age={age:g}s > {c.DATA_STALE_TIMEOUT_SEC:g}s"


VALIDITY = Rule(
    name="validity",
    stage=10,
    reasons=("invalid_signal",),
    rule="Semantics the typed decoder cannot express: side, margin mode, finite numbers, a sane book.",
    uses=(
        "ANY_CASE_SIDES",
        "MODES",
        "note_not_finite",
        "note_stop_side",
        "note_side",
        "note_mode",
        "note_crossed",
    ),
    invalidates=True,
    prepare="""
sides = ANY_CASE_SIDES
check_finite = not s.finite_inputs
""",
    check="""
found = sides.get(side)
if found is None:
    found = sides.get(side.lower())
    if found is None:
        fail("invalid_signal", note_side(side))
long = found is True
cross = default_cross
if mode is not None:
    if mode not in MODES:
        mode = mode.lower()
        if mode not in MODES:
            fail("invalid_signal", note_mode(mode))
    cross = mode == "cross"
if (
    check_finite  # NaN or an infinity anywhere makes the sum non-finite (so can a sum that overflows)
    and not -inf < price + vol + fund + (atr or 0.0) + (depth or 0.0) + (bid or 0.0) + (ask or 0.0)
    + (target or 0.0) + (stop_in or 0.0) < inf
    and (bad := note_not_finite(price, vol, fund, atr, depth, bid, ask, target, stop_in)) is not None
):
    fail("invalid_signal", bad)
if stop_in is not None and ((stop_in >= price) if long else (stop_in <= price)):
    # a long's stop at or above its entry fires at once (a short's below: the same), no protection
    fail("invalid_signal", note_stop_side(stop_in, price, long))
if bid is not None and ask is not None and bid > ask:
    fail("invalid_signal", note_crossed(bid, ask))
""",
    native_decl="int is_long, cross;",
    native_uses=(
        "o:sides",
        "b:check_finite",
        "o:note_side",
        "o:note_mode",
        "o:note_stop_side",
        "o:note_crossed",
        "o:MODES",
    ),
    native="""
PyObject *found = PyDict_GetItemWithError(sides, side);
if (found == NULL) {
    if (PyErr_Occurred()) goto error;
    PyObject *lowered = PyObject_CallMethodNoArgs(side, S_lower);
    if (lowered == NULL) goto error;
    found = PyDict_GetItemWithError(sides, lowered);
    Py_DECREF(lowered);
    if (found == NULL) {
        if (PyErr_Occurred()) goto error;
        REJECT(CALL(note_side, side));
    }
}
is_long = found == Py_True;
cross = default_cross;
if (mode != Py_None) {
    int known = PySet_Contains(MODES, mode);
    if (known < 0) goto error;
    if (!known) {
        PyObject *lowered = PyObject_CallMethodNoArgs(mode, S_lower);
        if (lowered == NULL) goto error;
        known = PySet_Contains(MODES, lowered);
        if (known <= 0) {
            if (known == 0) REJECT(CALL(note_mode, TMP(lowered)));
            Py_DECREF(lowered);
            goto error;
        }
        cross = PyUnicode_Compare(lowered, S_cross) == 0;
        Py_DECREF(lowered);
    } else {
        cross = PyUnicode_Compare(mode, S_cross) == 0;
    }
}
if (check_finite) {  /* NaN cannot come from JSON text: the engine is built for decoded JSON only */
    PyErr_SetString(PyExc_RuntimeError, "the native engine decides decoded JSON only");
    goto error;
}
if (!IS_NONE(stop_in) && (is_long ? stop_in >= price : stop_in <= price))
    REJECT(CALL(note_stop_side, TMP(box(stop_in)), TMP(box(price)), BOOL(is_long)));
if (!IS_NONE(bid) && !IS_NONE(ask) && bid > ask) REJECT(CALL(note_crossed, TMP(box(bid)), TMP(box(ask))));
""",
)

STALENESS = Rule(
    name="staleness",
    stage=20,
    reasons=("stale_data", "invalid_timestamp_format", "invalid_signal"),
    rule="Age of the signal against DATA_STALE_TIMEOUT_SEC; unparseable or future timestamps fail.",
    uses=(
        "note_stale",
        "note_timestamp",
        "note_future",
        "MISSING_SIGNAL_CLOCK",
        "MISSING_REQUIRED",
        "NO_TIMESTAMP",
        "cdbctl.risk.timeparse:HEADS",
        "cdbctl.risk.timeparse:TAILS",
        "cdbctl.risk.timeparse:to_epoch",
    ),
    headroom=1,
    unit="s",
    prepare="""
stale, skew, require_ts = c.DATA_STALE_TIMEOUT_SEC, c.MAX_FUTURE_SKEW_SEC, c.REQUIRE_TIMESTAMP
heads_get, tails_get = HEADS.get, TAILS.get
signal_clock = s.signal_clock
""",
    check="""
t: float | None = None
if ts is not None:
    # timeparse.to_epoch with its common cases inlined: the seconds prefix and the tail of an ISO
    # string (two cache hits), epoch milliseconds
    if type(ts) is str:
        head = heads_get(ts[:19])
        if head is not None and (tail := tails_get(ts[19:])) is not None:
            t = (head + tail) / 1000000
        else:
            t = to_epoch(ts)
    elif type(ts) is int and 1e11 < ts < 1e18:
        t = ts / 1000.0
    else:
        t = to_epoch(ts)
    if t is None:
        if signal_clock:  # no time to judge the later checks at (never the wall clock): they are skipped
            invalid("invalid_timestamp_format", note_timestamp(ts))
        fail("invalid_timestamp_format", note_timestamp(ts))
    else:
        if signal_clock:  # the replay's clock: each signal judged when it was emitted, none from the future
            if t - evaluated > skew:
                fail("invalid_signal", note_future(t - evaluated, skew))
            evaluated = t
        age = evaluated - t
        if age > stale:
            fail("stale_data", note_stale(age, c))
        elif -age > skew:
            fail("invalid_signal", note_future(-age, skew))
elif signal_clock:  # as above: the later checks are skipped
    invalid("invalid_signal", MISSING_SIGNAL_CLOCK)
elif require_ts:
    fail("invalid_signal", MISSING_REQUIRED)
now_s = evaluated if t is None else t  # the signal's own time in a replay, else the evaluation clock
""",
    native_decl="double now_s;",
    native_uses=(
        "d:stale",
        "d:skew",
        "b:require_ts",
        "b:signal_clock",
        "o:to_epoch",
        "o:note_stale",
        "o:note_timestamp",
        "o:note_future",
        "o:MISSING_SIGNAL_CLOCK",
        "o:MISSING_REQUIRED",
        "o:NO_TIMESTAMP",
    ),
    native="""
double t = NONE;
if (ts != Py_None) {
    int parsed = 0;
    if (PyUnicode_CheckExact(ts)) {
        parsed = iso_epoch(ts, &t);
    } else if (PyLong_CheckExact(ts)) {  /* epoch ms above 1e11, else seconds (CDB's signals: int seconds) */
        int overflow;
        long long n = PyLong_AsLongLongAndOverflow(ts, &overflow);
        if (!overflow && n > 100000000000LL && n < 1000000000000000000LL) {
            t = (double)n / 1000.0;
            parsed = 1;
        } else if (!overflow && n >= 0 && n <= 100000000000LL) {
            t = (double)n;
            parsed = 1;
        }
    } else if (PyFloat_CheckExact(ts)) {  /* as timeparse's _number: negative or not finite is refused */
        double v = PyFloat_AS_DOUBLE(ts);
        if (0 <= v && v < INFINITY) {
            t = v > 1e11 ? v / 1000.0 : v;
            parsed = 1;
        }
    }
    if (!parsed) {  /* every other spelling: timeparse decides */
        PyObject *epoch = PyObject_CallOneArg(to_epoch, ts);
        if (epoch == NULL) goto error;
        t = epoch == Py_None ? NONE : PyFloat_AsDouble(epoch);
        Py_DECREF(epoch);
        if (PyErr_Occurred()) goto error;
    }
    if (IS_NONE(t)) {
        if (signal_clock) INVALID(invalid_timestamp_format, CALL(note_timestamp, ts));
        FAIL(invalid_timestamp_format, CALL(note_timestamp, ts));
    } else {
        if (signal_clock) {
            if (t - evaluated > skew)
                FAIL(invalid_signal, CALL(note_future, TMP(box(t - evaluated)), TMP(box(skew))));
            evaluated = t;
        }
        double age = evaluated - t;
        if (age > stale) FAIL(stale_data, CALL(note_stale, TMP(box(age)), c));
        else if (-age > skew) FAIL(invalid_signal, CALL(note_future, TMP(box(-age)), TMP(box(skew))));
    }
} else if (signal_clock) {
    INVALID(invalid_signal, Py_NewRef(MISSING_SIGNAL_CLOCK));
} else if (require_ts) {
    FAIL(invalid_signal, Py_NewRef(MISSING_REQUIRED));
}
now_s = IS_NONE(t) ? evaluated : t;
""",
    native_trace="""
value = IS_NONE(t) ? NULL : box(evaluated - t);
limit = Py_NewRef(stale_o);
note = ts == Py_None ? Py_NewRef(NO_TIMESTAMP) : NULL;
""",
    trace="""
value, limit = None if t is None else evaluated - t, stale  # the age
note = NO_TIMESTAMP if ts is None else None
""",
)
