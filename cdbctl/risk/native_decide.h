/* The evaluation function's frame, included twice by native.c: TRACED 0 (decide_fast) and 1
 * (decide_traced), around the rules' code (native_body.h, generated from the rule table). */
static PyObject *DECIDE(Engine *e, PyObject *sig) {
#define X(kind, name, owner) const T_##kind name = e->name; PyObject *const name##_o = e->name##_o;
    NATIVE_CONSTS(X)
#undef X
    PyObject *tmp[TEMPS_MAX];
    int ntmp = 0;
    PyObject *result = NULL, *reason = NULL, *detail = NULL;
    /* the current rule's failure, and its trace (traced: every rule's; owned references) */
    PyObject *r = NULL, *why = NULL, *value = NULL, *limit = NULL, *note = NULL, *checks = NULL;
    Py_ssize_t n_checks = 0; /* traced: the run's rules each record one check, in table order */
#if TRACED
    if ((checks = PyList_New(e->n_checks)) == NULL) return NULL;
    PyObject_GC_UnTrack(checks); /* Checks only (gc=False structs): no cycle can pass through it */
#endif
    if (!Py_IS_TYPE(sig, (PyTypeObject *)SignalType)) {
        PyErr_SetString(PyExc_TypeError, "the native engine decides Signal records only");
        return NULL;
    }
    PyObject *symbol = PTR(sig, off_symbol), *side = PTR(sig, off_side), *mode = PTR(sig, off_mode);
    PyObject *ts = PTR(sig, off_timestamp), *lev_obj = PTR(sig, off_leverage);
    PyObject *target_obj = PTR(sig, off_target), *mark_obj = PTR(sig, off_mark);
    double price = num(PTR(sig, off_price)), target = num(target_obj), stop_in = num(PTR(sig, off_stop));
    double mark = num(mark_obj);
    if (lev_obj == Py_None) lev_obj = e->default_lev;
    long lev = PyLong_AsLong(lev_obj);
    if (lev == -1 && PyErr_Occurred()) return NULL;
    PyObject *order_type = PTR(sig, off_order_type);
    int limit_order = order_type != Py_None && PyUnicode_Compare(order_type, S_limit) == 0;
    PyObject *mk = PTR(sig, off_market);
    double vol = d_vol, fund = d_fund, atr = d_atr, depth = d_depth, bid = d_bid, ask = d_ask;
    if (mk != Py_None) { /* the signal's market, field by field over the run's default */
        double v;
        if (!IS_NONE(v = num(PTR(mk, off_vol)))) vol = v;
        if (!IS_NONE(v = num(PTR(mk, off_fund)))) fund = v;
        if (!IS_NONE(v = num(PTR(mk, off_atr)))) atr = v;
        if (!IS_NONE(v = num(PTR(mk, off_depth)))) depth = v;
        if (!IS_NONE(v = num(PTR(mk, off_bid)))) bid = v;
        if (!IS_NONE(v = num(PTR(mk, off_ask)))) ask = v;
    }
    if (PyErr_Occurred()) return NULL;
    double evaluated = now;
    if (IS_NONE(evaluated)) {
        evaluated = call_d(clock, NULL, 0);
        if (PyErr_Occurred()) return NULL;
    }

#include "native_body.h"

    /* estimated costs to 1e-8 USDT (formulas.money): no float noise such as 3.0000000000000004 */
    if (-1e7 < fee_daily && fee_daily < 1e7) fee_daily = (fee_daily * 1e8 + ROUNDER - ROUNDER) / 1e8;
    double fees = size * (limit_order ? fee_limit : fee_market);
    if (-1e7 < fees && fees < 1e7) fees = (fees * 1e8 + ROUNDER - ROUNDER) / 1e8;
    double sum = qty + size + stop + lp + dist + fee_daily + slip + fees;
    if (reason == NULL && !(-INFINITY < sum && sum < INFINITY && qty > 0)) {
        /* a number out of the float range (price 1e-320: size / price = inf): never approve it */
        PyObject *note = CALL(overflow_note, TMP(box(price)), TMP(box(qty)), TMP(box(size)), TMP(box(stop)),
                              TMP(box(lp)), TMP(box(dist)), TMP(box(fee_daily)), TMP(box(slip)), TMP(box(fees)));
        if (note == NULL) goto error;
        if (note == Py_None) {
            Py_DECREF(note);
        } else {
            reason = R_numeric_overflow;
            detail = note;
        }
    }
    int approved = reason == NULL;
    if (approved && stateful) {
        double exposure = num(PTR(st, off_total_exposure)) + size / equity;
        PyObject *boxed = box(exposure);
        if (boxed == NULL || PyObject_SetAttr(st, N_total_exposure_pct, boxed) < 0) {
            Py_XDECREF(boxed);
            goto error;
        }
        Py_DECREF(boxed);
        if (record != Py_None) {
            PyObject *done_ = call_kw(record, ARGS(symbol, BOOL(is_long), TMP(box(qty)), TMP(box(price)), lev_obj,
                                                   TMP(box(now_s)), cross ? S_cross : S_isolated), 4, KW_RECORD);
            if (done_ == NULL) goto error;
            Py_DECREF(done_);
        }
    }
#if TRACED
    if (n_checks != PyList_GET_SIZE(checks)) { /* a slot left empty would crash the encoder: a bug */
        PyErr_SetString(PyExc_RuntimeError, "native engine: fewer checks than rules");
        goto error;
    }
#endif
    PyObject *safe_obj = PyLong_FromLong(safe);
    PyObject *fields[20] = {
        SCHEMA, PTR(sig, off_signal_id), symbol, is_long ? S_long : S_short, BOOL(approved),
        reason ? reason : Py_None, detail ? detail : Py_None,
        approved ? box(qty) : (Py_INCREF(F_ZERO), F_ZERO), approved ? box(size) : (Py_INCREF(F_ZERO), F_ZERO),
        lev_obj, box(stop), box(lp), box(dist), safe_obj, regime, box(fee_daily),
        BOOL(approved && rate > funding_alert), box(slip), box(fees), checks,
    };
    static const int owned[] = {7, 8, 10, 11, 12, 13, 15, 17, 18};
    int ok = 1;
    for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++) ok &= fields[owned[k]] != NULL;
    if (ok) result = new_decision(fields, TRACED ? checks : UNSET);
    for (size_t k = 0; k < sizeof(owned) / sizeof(owned[0]); k++) Py_XDECREF(fields[owned[k]]);
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(detail);
    Py_XDECREF(why);
    Py_XDECREF(value);
    Py_XDECREF(limit);
    Py_XDECREF(note);
    Py_XDECREF(checks);
    for (int k = 0; k < ntmp; k++) Py_XDECREF(tmp[k]);
    return result;
}

