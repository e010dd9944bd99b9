"""Rules on margin: the balance the order needs, and how far the position sits from liquidation.

The formulas and their sources are in ``cdbctl/risk/margin.py``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from cdbctl.risk.config import RiskConfig
from cdbctl.risk.formulas import fixed
from cdbctl.risk.instruments import normalize_symbol
from cdbctl.risk.margin import cross_price, liquidation_distance
from cdbctl.risk.positions import LONG, SHORT
from cdbctl.risk.rules.account import tracks_positions
from cdbctl.risk.rules.base import Rule, Setup

if TYPE_CHECKING:
    from cdbctl.risk.account import Account


FREES_MARGIN = "reduces an open position: frees margin"


def note_margin(required: float, margin: float, fees: float, available: float) -> str:
    """Detail for `insufficient_margin`."""
    m = fixed
    return f"needs {m(required, 2)} (margin {m(margin, 2)} + fees {m(fees, 2)}) > available {m(available, 2)}"


@lru_cache(maxsize=4096)  # replays repeat the same values: format each once
def note_liq_distance(d: float, c: RiskConfig) -> str:
    """Detail of liquidation_risk_too_high (distance)."""
    return f"liquidation distance {d:.4f} < {c.MIN_LIQUIDATION_DISTANCE:g}"


@lru_cache(maxsize=4096)
def note_stop(stop: float, lp: float) -> str:
    """Detail of liquidation_risk_too_high (stop beyond the liquidation price)."""
    return f"stop {stop:g} is beyond the liquidation price {lp:g}"


def cross_liquidation_of(  # noqa: PLR0917  # the evaluation calls it with its locals
    x: Account,
    symbol: str,
    long: bool,
    qty: float,
    price: float,
    equity: float,
    mark: float | None,
    mmr: float,
) -> tuple[float, float]:
    """Cross liquidation price and distance with the state's other cross legs (margin.py's one formula).

    Wallet balance: the state's `wallet_balance`, else equity minus every leg's unrealised PnL (equity
    is marked to market), less the margin locked in isolated positions. A same-side position on the
    symbol merges with the order (average entry); an opposite one is left out (the order reduces
    it, so the order alone is the conservative case).
    """
    side = LONG if long else SHORT
    upnl, isolated, same, others_tmm, others_upnl = x.cross_terms(normalize_symbol(symbol), side)
    entry = price
    for p in same:
        entry = (p.quantity * p.entry_price + qty * entry) / (p.quantity + qty)
        qty += p.quantity
    wallet = (x.wallet if x.wallet is not None else equity - upnl) - isolated
    lp = cross_price(side, qty, entry, wallet, mmr, others_tmm, others_upnl)
    ref = mark if mark is not None else price
    if side == LONG and lp <= 0:
        return lp, 1.0
    return lp, liquidation_distance(side, lp, ref)


def margin_applies(s: Setup) -> bool:
    """Positions or balances are known, or the position cap plus fees can exceed the equity."""
    c, x = s.config, s.account
    # Without positions or balances, size <= equity x MAX_POSITION_PCT: the margin can only run
    # short when that cap plus fees exceeds the equity.
    fees = max(c.TAKER_FEE, c.MAKER_FEE) + c.TAKER_FEE
    balances = x.available is not None or x.used_margin > 0
    return tracks_positions(s) or balances or c.MAX_POSITION_PCT * (1.0 + fees) > 1.0


MARGIN = Rule(
    name="margin",
    stage=160,
    reasons=("insufficient_margin",),
    rule="Initial margin + opening and closing fees <= available balance (else equity - used margin).",
    uses=("note_margin", "FREES_MARGIN"),
    applies=margin_applies,
    headroom=1,
    unit="USDT",
    prepare="stated_available = x.available",
    check="""
available = stated_available if stated_available is not None else equity - x.used_margin
initial_margin = size / lev
entry_fee = maker if limit_order else taker
round_trip_fees = 2.0 * size * ((entry_fee + taker) / 2.0)  # the entry fee and a taker exit
required = initial_margin + round_trip_fees
margin_ok = required <= available + 1e-9 + abs(available) * 1e-12  # binary rounding at the boundary
if not margin_ok and not (reduce_qty and size <= reduce_qty * price * (1 + 1e-12)):  # reducing frees margin
    fail("insufficient_margin", note_margin(required, initial_margin, round_trip_fees, available))
""",
    native_uses=("n:stated_available", "o:note_margin", "o:FREES_MARGIN"),
    native_trace="""
value = box(required), limit = box(available);
note = margin_ok ? NULL : Py_NewRef(FREES_MARGIN);
""",
    native="""
double available = stated_available;
if (IS_NONE(available)) {
    available = equity - ATTR_D(x, used_margin);
    if (PyErr_Occurred()) goto error;
}
double initial_margin = size / lev;
double entry_fee = limit_order ? maker : taker;
double round_trip_fees = 2.0 * size * ((entry_fee + taker) / 2.0);
double required = initial_margin + round_trip_fees;
int margin_ok = required <= available + 1e-9 + fabs(available) * 1e-12;
if (!margin_ok && !(reduce_qty && size <= reduce_qty * price * (1 + 1e-12)))
    FAIL(insufficient_margin, CALL(note_margin, TMP(box(required)), TMP(box(initial_margin)),
                                   TMP(box(round_trip_fees)), TMP(box(available))));
""",
    trace="""
value, limit = required, available
note = None if margin_ok else FREES_MARGIN
""",
)

LIQUIDATION = Rule(
    name="liquidation",
    stage=180,
    reasons=("liquidation_risk_too_high",),
    rule="MEXC liquidation price; distance below MIN_LIQUIDATION_DISTANCE or a stop beyond LP fails.",
    uses=(
        "note_liq_distance",
        "note_stop",
        "cross_liquidation_of",
        "cdbctl.risk.margin:cross_liquidation_price",
        "cdbctl.risk.margin:liquidation_distance",
        "cdbctl.risk.margin:max_leverage_for_distance",
    ),
    headroom=-1,
    unit="fraction of price",
    prepare="""
default_mmr, min_dist = c.MAINTENANCE_MARGIN_RATE, c.MIN_LIQUIDATION_DISTANCE
stop_long, stop_short = 1.0 - c.STOP_LOSS_PCT, 1.0 + c.STOP_LOSS_PCT
wallet = x.wallet if x.wallet is not None else equity  # cross margin without other legs
legs = x.positions
""",
    check="""
# `mmr`, `safe` and `lev_cap` are the risk-limit tier's (rules/instrument.py), else the config's
# isolated, MEXC: long LP = entry x (1 - 1/L + MMR), short LP = entry x (1 + 1/L - MMR)
dist = 1.0 / lev - mmr
if dist < 0.0:  # noqa: PLR1730  # maintenance margin above the initial margin: liquidated at entry
    dist = 0.0
if long:
    if dist > 1.0:  # noqa: PLR1730  # a long cannot be liquidated below a price of zero
        dist = 1.0
    lp = price * (1.0 - dist)
    stop = price * stop_long if stop_in is None else stop_in  # the signal's stop, else STOP_LOSS_PCT away
else:
    lp = price * (1.0 + dist)
    stop = price * stop_short if stop_in is None else stop_in
if cross and size > 0:
    # cross: one formula whether or not other legs exist (Binance's USD-M formula): the wallet backs
    # the position, maintenance margin counts at the liquidation price
    if legs:
        lp, dist = cross_liquidation_of(x, symbol, long, qty, price, equity, mark, mmr)
    else:
        lp = cross_liquidation_price(1 if long else -1, qty, price, wallet, mmr)
        reference = price if mark is None else mark
        dist = 1.0 if long and lp <= 0 else liquidation_distance(1 if long else -1, lp, reference)
if mark is not None:  # MEXC liquidates on the fair (mark) price
    safe = max_leverage_for_distance(1 if long else -1, price, mmr, min_dist, reference=mark, cap=lev_cap)
    dist = 1.0 if long and lp <= 0 else liquidation_distance(1 if long else -1, lp, mark)
if dist < min_dist:
    fail("liquidation_risk_too_high", note_liq_distance(dist, c))
elif (stop <= lp) if long else (stop >= lp):
    fail("liquidation_risk_too_high", note_stop(stop, lp))
""",
    native_decl="double dist, lp, stop;",
    native_trace="value = box(dist), limit = Py_NewRef(min_dist_o);",
    native_uses=(
        "d:default_mmr",
        "d:min_dist",
        "d:stop_long",
        "d:stop_short",
        "d:wallet",
        "o:legs",
        "o:cross_liquidation_of",
        "o:cross_liquidation_price",
        "o:max_leverage_for_distance",
        "o:note_liq_distance",
        "o:note_stop",
    ),
    native="""
dist = 1.0 / lev - mmr;
if (dist < 0.0) dist = 0.0;
if (is_long) {
    if (dist > 1.0) dist = 1.0;
    lp = price * (1.0 - dist);
    stop = IS_NONE(stop_in) ? price * stop_long : stop_in;
} else {
    lp = price * (1.0 + dist);
    stop = IS_NONE(stop_in) ? price * stop_short : stop_in;
}
if (cross && size > 0) {
    int has_legs = PyObject_IsTrue(legs);
    if (has_legs < 0) goto error;
    if (has_legs) {
        PyObject *pair = CALL(cross_liquidation_of, x, symbol, BOOL(is_long), TMP(box(qty)), TMP(box(price)),
                              TMP(box(equity)), mark_obj, TMP(box(mmr)));
        if (pair == NULL) goto error;
        lp = PyFloat_AsDouble(PyTuple_GET_ITEM(pair, 0));
        dist = PyFloat_AsDouble(PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(pair);
    } else {
        lp = call_d(cross_liquidation_price, ARGS(TMP(PyLong_FromLong(is_long ? 1 : -1)), TMP(box(qty)),
                    TMP(box(price)), TMP(box(wallet)), TMP(box(mmr))), 5);
        double reference = IS_NONE(mark) ? price : mark;
        dist = is_long && lp <= 0 ? 1.0
             : is_long ? (reference - lp) / reference : (lp - reference) / reference;
    }
    if (PyErr_Occurred()) goto error;
}
if (!IS_NONE(mark)) {  /* MEXC liquidates on the fair (mark) price */
    PyObject *best = call_kw(max_leverage_for_distance,
        ARGS(TMP(PyLong_FromLong(is_long ? 1 : -1)), TMP(box(price)), TMP(box(mmr)), TMP(box(min_dist)),
             mark_obj, TMP(PyLong_FromLong(lev_cap))), 4, KW_SAFE);
    if (best == NULL) goto error;
    safe = PyLong_AsLong(best);
    Py_DECREF(best);
    if (PyErr_Occurred()) goto error;
    dist = is_long && lp <= 0 ? 1.0 : is_long ? (mark - lp) / mark : (lp - mark) / mark;
}
if (dist < min_dist) FAIL(liquidation_risk_too_high, CALL(note_liq_distance, TMP(box(dist)), c));
else if (is_long ? stop <= lp : stop >= lp)
    FAIL(liquidation_risk_too_high, CALL(note_stop, TMP(box(stop)), TMP(box(lp))));
""",
    trace="value, limit = dist, min_dist",
)
