"""Rules from the contract's own trading rules (``--instruments``): tick, step, minimum and maximum
order, and the MEXC risk-limit tier of the position after the order."""

from __future__ import annotations

from typing import Any

from cdbctl.risk.instruments import Instrument, InstrumentBook, RiskTier, nearest_tick
from cdbctl.risk.margin import safe_leverage_at_entry
from cdbctl.risk.rules.base import Rule, Setup


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


def note_max_quantity(contracts: float, limit: float) -> str:
    """Detail for `above_max_quantity`."""
    return f"{contracts:g} contracts exceed the order maximum of {limit:g}"


def note_tier_limit(contracts: float, limit: float) -> str:
    """Detail for `risk_limit_exceeded`."""
    return f"{contracts:g} contracts exceed the last risk-limit tier ({limit:g})"


def note_tier_leverage(lev: int, tier: RiskTier) -> str:
    """Detail for `leverage_exceeds_max` from a risk-limit tier."""
    return f"leverage {lev} > {tier.max_leverage}, the max of risk-limit tier {tier.level}"


def note_tier(tier: RiskTier) -> str:
    """The risk_tier trace note when the tier allows the leverage."""
    return f"tier {tier.level}: MMR {tier.maintenance_margin_rate:g}, max leverage {tier.max_leverage}"


def prepare_instruments(book: InstrumentBook, min_dist: float, max_lev: int) -> dict[str, tuple[Any, ...]]:
    """Instrument rules per spelling as one tuple of locals (attribute loads cost on the hot path).

    Per instrument: (instrument, base step, step num/den, base num/den, tick, min quantity, min notional,
    funding settlements per day, tier bounds, tier count, first bound, per-tier values, max quantity);
    per tier: (tier, max leverage, MMR, safe leverage at entry, leverage cap, its trace note).
    """
    prepared: dict[str, tuple[Any, ...]] = {}
    for spelling, ins in book.spellings.items():
        tiers = tuple(
            (t, t.max_leverage, t.maintenance_margin_rate,
             safe_leverage_at_entry(t.maintenance_margin_rate, min_dist, min(t.max_leverage, max_lev)),
             min(t.max_leverage, max_lev), note_tier(t))
            for t in ins.tiers
        )  # fmt: skip
        prepared[spelling] = (
            ins, ins.base_step, ins.step_num, ins.step_den, ins.base_num, ins.base_den, ins.tick_size,
            ins.min_quantity, ins.min_notional, 24.0 / ins.funding_interval_hours, ins.tier_bounds,
            len(ins.tier_bounds), ins.tier_bounds[0], tiers, ins.max_quantity,
        )  # fmt: skip
    return prepared


NO_INSTRUMENT = "no instrument rules for the symbol"


def has_instruments(s: Setup) -> bool:
    """Instrument rules were loaded (--instruments)."""
    return s.instruments is not None


INSTRUMENT = Rule(
    name="instrument",
    stage=130,
    reasons=("unknown_instrument", "price_off_tick", "below_min_notional", "above_max_quantity"),
    rule="Price on the tick; size floored to the contract step; below min quantity or notional fails.",
    uses=(
        "prepare_instruments",
        "note_unknown",
        "note_tick",
        "note_min",
        "note_max_quantity",
        "min_notional_of",
        "cdbctl.risk.instruments:fit_notional",
        "cdbctl.risk.instruments:Instrument",
        "cdbctl.risk.formulas:ROUNDER",
        "cdbctl.risk.formulas:EXACT_BELOW",
    ),
    applies=has_instruments,
    headroom=-1,
    unit="USDT",  # price_off_tick: the limit is the tick, a price
    units=(("above_max_quantity", "contracts"),),
    prepare="""
prepared = prepare_instruments(book, c.MIN_LIQUIDATION_DISTANCE, c.MAX_LEVERAGE) if book is not None else {}
prepared_get = prepared.get
""",
    check="""
qty = size / price
contracts = 0.0
inst: Instrument | None = None
per_day = settlements  # funding settlements a day: the contract's own interval once it is known
prep = prepared_get(symbol)
if prep is None and book is not None:
    found_inst = book.get(symbol)  # another spelling (BTC/USDT:USDT): the normalised lookup
    prep = prepared[found_inst.symbol] if found_inst is not None else None
if prep is None:
    fail("unknown_instrument", note_unknown(symbol))
else:
    (inst, base_step, step_num, step_den, base_num, base_den, tick, min_q, min_n, per_day,
     bounds, n_tiers, first_bound, tier_rows, max_q) = prep  # fmt: skip
    steps = qty / base_step + 1e-9  # instruments.floor_quantity, inlined: floored to the step
    if qty > 0 and steps < inf:
        steps = floor(steps)
        qty = steps * base_num / base_den
        contracts = steps * step_num / step_den
    else:
        steps = contracts = qty = 0.0  # a price near 0 makes it infinite: nothing to trade
    capped = size
    size = qty * price
    if size > capped:  # the flooring tolerance rounded up: never past the cap or target
        contracts, qty, size = fit_notional(inst, steps, price, capped)
    ticks = price / tick  # instruments.on_tick, inlined (with nearest_integer)
    off = ticks - (ticks + ROUNDER - ROUNDER) if ticks < EXACT_BELOW else 0.0
    if ticks < 0.5 or not -1e-6 <= off <= 1e-6:
        fail("price_off_tick", note_tick(inst, price))
    elif contracts < min_q or size < min_n:
        fail("below_min_notional", note_min(size, contracts, min_notional_of(inst, price)))
    elif contracts > max_q:
        fail("above_max_quantity", note_max_quantity(contracts, max_q))
""",
    otherwise="""
qty = size / price
inst = None
per_day = settlements
""",
    native_decl="""
double qty, per_day, contracts = 0.0, first_bound = 0.0;
PyObject *inst = NULL, *bounds = NULL, *tier_rows = NULL, *max_q_obj = NULL;  /* the prepared tuple's */
Py_ssize_t n_tiers = 0;
""",
    native_uses=(
        "o:prepared",
        "o:book",
        "o:fit_notional",
        "o:note_unknown",
        "o:note_tick",
        "o:note_min",
        "o:note_max_quantity",
        "o:min_notional_of",
    ),
    native="""
qty = size / price;
per_day = settlements;
PyObject *prep = PyDict_GetItemWithError(prepared, symbol);
if (prep == NULL && PyErr_Occurred()) goto error;
if (prep == NULL && book != Py_None) {  /* another spelling (BTC/USDT:USDT): the normalised lookup */
    PyObject *found_inst = TMP(call_method(book, S_get, ARGS(book, symbol), 2));
    if (found_inst == NULL) goto error;
    if (found_inst != Py_None) {
        PyObject *key = TMP(ATTR(found_inst, symbol));
        if (key == NULL) goto error;
        prep = PyDict_GetItemWithError(prepared, key);  /* KeyError in Python: prepared has every spelling */
        if (prep == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
            goto error;
        }
    }
}
if (prep == NULL) {
    FAIL(unknown_instrument, CALL(note_unknown, symbol));
} else {
    PyObject **p = &PyTuple_GET_ITEM(prep, 0);
    inst = p[0];
    double base_step = num(p[1]), step_num = num(p[2]), step_den = num(p[3]), base_num = num(p[4]);
    double base_den = num(p[5]), tick = num(p[6]), min_q = num(p[7]), min_n = num(p[8]);
    per_day = num(p[9]);
    bounds = p[10];
    n_tiers = PyLong_AsSsize_t(p[11]);
    first_bound = num(p[12]);
    tier_rows = p[13];
    double max_q = num(max_q_obj = p[14]);
    if (PyErr_Occurred()) goto error;
    double steps = qty / base_step + 1e-9;  /* instruments.floor_quantity: floored to the step */
    if (qty > 0 && steps < INFINITY) {
        steps = floor(steps);
        qty = steps * base_num / base_den;
        contracts = steps * step_num / step_den;
    } else {
        steps = contracts = qty = 0.0;
    }
    double capped = size;
    size = qty * price;
    if (size > capped) {  /* the flooring tolerance rounded up: never past the cap or target */
        PyObject *whole = TMP(PyLong_FromDouble(steps));  /* math.floor's int, as Python passes it */
        PyObject *fit = TMP(CALL(fit_notional, inst, whole, TMP(box(price)), TMP(box(capped))));
        if (fit == NULL) goto error;
        contracts = num(PyTuple_GET_ITEM(fit, 0));
        qty = num(PyTuple_GET_ITEM(fit, 1));
        size = num(PyTuple_GET_ITEM(fit, 2));
        if (PyErr_Occurred()) goto error;
    }
    double ticks = price / tick;
    double off = ticks < EXACT_BELOW ? ticks - (ticks + ROUNDER - ROUNDER) : 0.0;
    if (ticks < 0.5 || !(-1e-6 <= off && off <= 1e-6)) {
        FAIL(price_off_tick, CALL(note_tick, inst, TMP(box(price))));
    } else if (contracts < min_q || size < min_n) {
        if (WANT_DETAIL) {
            PyObject *least = TMP(CALL(min_notional_of, inst, TMP(box(price))));
            FAIL(below_min_notional, CALL(note_min, TMP(box(size)), TMP(box(contracts)), least));
        }
    } else if (contracts > max_q) {
        FAIL(above_max_quantity, CALL(note_max_quantity, TMP(box(contracts)), p[14]));
    }
}
""",
    native_trace="""
if (inst == NULL) {
    value = box(size);
} else if (r == R_price_off_tick) {
    limit = ATTR(inst, tick_size);
} else if (r == R_above_max_quantity) {
    value = box(contracts), limit = Py_NewRef(max_q_obj);
} else {
    value = box(size), limit = CALL(min_notional_of, inst, TMP(box(price)));
}
""",
    native_otherwise="""
qty = size / price;
per_day = settlements;
""",
    # a price is no amount of the tick (no headroom to show); the maximum is in contracts
    trace="""
if inst is None:
    value, limit = size, None
elif r == "price_off_tick":
    value, limit = None, inst.tick_size
elif r == "above_max_quantity":
    value, limit = contracts, max_q
else:
    value, limit = size, min_notional_of(inst, price)
""",
)

RISK_TIER = Rule(
    name="risk_tier",
    stage=140,
    reasons=("risk_limit_exceeded", "leverage_exceeds_max"),
    rule="MEXC risk-limit tier of the position after the order: its MMR, and its max leverage.",
    uses=("note_tier_limit", "note_tier_leverage", "NO_INSTRUMENT"),
    applies=has_instruments,
    headroom=1,
    unit="x",
    units=(("risk_limit_exceeded", "contracts"),),
    check="""
# the position's maintenance rate, max safe leverage and leverage cap: its tier's, once it is known
mmr, safe, lev_cap = default_mmr, max_safe, max_lev
tier_contracts = contracts
tier_limit = 0.0
if inst is not None:
    if held is not None and (held.side == 1) == long:  # the position after the order counts
        tier_contracts += held.quantity / inst.contract_size
    low = tier_contracts - 1e-9  # instruments.tier_for, inlined; most positions sit in tier 0
    level = 0 if low <= first_bound else bisect_left(bounds, low)
    if level < n_tiers:
        tier, tier_limit, mmr, safe, lev_cap, _ = tier_rows[level]
        if lev > tier_limit:
            fail("leverage_exceeds_max", note_tier_leverage(lev, tier))
    else:
        tier_limit = bounds[-1]
        fail("risk_limit_exceeded", note_tier_limit(tier_contracts, tier_limit))
""",
    otherwise="mmr, safe, lev_cap = default_mmr, max_safe, max_lev",
    native_decl="double mmr;\nlong safe, lev_cap;",
    native_uses=("o:note_tier_limit", "o:note_tier_leverage", "o:bisect_left", "o:NO_INSTRUMENT"),
    native_trace="""
if (inst == NULL) {
    note = Py_NewRef(NO_INSTRUMENT);
} else if (level >= n_tiers) {
    value = box(tier_contracts), limit = Py_NewRef(last_bound);
} else {
    value = Py_NewRef(lev_obj), limit = Py_NewRef(PyTuple_GET_ITEM(row, 1));
    note = Py_NewRef(PyTuple_GET_ITEM(row, 5));
}
""",
    native="""
mmr = default_mmr, safe = max_safe, lev_cap = max_lev;
double tier_contracts = contracts;
Py_ssize_t level = 0;
PyObject *row = NULL, *last_bound = NULL;
if (inst != NULL) {
    if (held != NULL && (held_side == 1) == is_long) {  /* the position after the order counts */
        double size_of = ATTR_D(inst, contract_size);
        if (PyErr_Occurred()) goto error;
        tier_contracts += held_quantity / size_of;
    }
    double low = tier_contracts - 1e-9;  /* instruments.tier_for; most positions sit in tier 0 */
    if (!(low <= first_bound)) {
        PyObject *at = TMP(CALL(bisect_left, bounds, TMP(box(low))));
        if (at == NULL) goto error;
        level = PyLong_AsSsize_t(at);
        if (PyErr_Occurred()) goto error;
    }
    if (level < n_tiers) {
        row = PyTuple_GET_ITEM(tier_rows, level);
        double tier_limit = num(PyTuple_GET_ITEM(row, 1));
        mmr = num(PyTuple_GET_ITEM(row, 2));
        safe = PyLong_AsLong(PyTuple_GET_ITEM(row, 3));
        lev_cap = PyLong_AsLong(PyTuple_GET_ITEM(row, 4));
        if (PyErr_Occurred()) goto error;
        if (lev > tier_limit)
            FAIL(leverage_exceeds_max, CALL(note_tier_leverage, lev_obj, PyTuple_GET_ITEM(row, 0)));
    } else {
        last_bound = TMP(PySequence_GetItem(bounds, PySequence_Size(bounds) - 1));
        if (last_bound == NULL) goto error;
        FAIL(risk_limit_exceeded, CALL(note_tier_limit, TMP(box(tier_contracts)), last_bound));
    }
}
""",
    native_otherwise="mmr = default_mmr, safe = max_safe, lev_cap = max_lev;",
    trace="""
if inst is None:
    value = limit = None
    note = NO_INSTRUMENT
elif level >= n_tiers:
    value, limit = tier_contracts, tier_limit
else:
    value, limit, note = lev, tier_limit, tier_rows[level][5]  # the tier's note
""",
)
