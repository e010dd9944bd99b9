/* The risk engine's fast evaluation compiled: the module `cdbctl.risk._native`.
 *
 * Same contract as the generated Python `build_fast` (cdbctl/risk/decide.py): one Decision per
 * decoded Signal, the first failure wins, later details are never formatted. The per-signal code of
 * every rule comes from the rule table (each Rule's `native` snippet, spliced in table order into
 * native_rules.h by `python -m cdbctl.risk.codegen`); this file is the frame around it: reading the
 * Signal's fields, the run's constants, the result and the Decision.
 *
 * Why it exists: a replay decides millions of signals, and the Python function spends about 2 us per
 * signal on interpreter overhead around a few dozen float operations. Details (the text of a
 * failure) are still formatted by the rules' Python note functions, so every message has one source.
 *
 * Exactness: the arithmetic is the Python snippets' in the same order and IEEE double precision
 * (built with -ffp-contract=off, never -ffast-math), so each decision is bit-identical to the Python
 * engine's; property tests compare the two over the whole input space (tests/risk/test_native.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define NONE NAN
#define IS_NONE(v) isnan(v)
#define PTR(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* ---- the run's constants, by kind: d number, n number or None (NaN), i integer, o object, b truth ---- */
typedef double T_d;
typedef double T_n;
typedef PyObject *T_o;
typedef int T_b;
typedef long T_i;

#include "native_rules.h"

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    int traced;    /* every check recorded in the decision */
    Py_ssize_t n_checks; /* traced: the run's rules, one check each */
    PyObject **last;     /* traced: each rule's previous check (add_check) */
    int on_always; /* the owner of the constants every run has */
#define X(kind, name, owner) T_##kind name; PyObject *name##_o; /* its value, and the object itself */
    NATIVE_CONSTS(X)
#undef X
} Engine;

/* ---- module state: types, field offsets, interned strings ---- */
static PyObject *SignalType, *MarketType, *DecisionType, *StateType;
static Py_ssize_t off_signal_id, off_symbol, off_side, off_price, off_target, off_leverage, off_mode,
    off_order_type, off_stop, off_timestamp, off_market, off_mark;
static Py_ssize_t off_vol, off_fund, off_atr, off_depth, off_bid, off_ask;
static Py_ssize_t off_total_exposure, off_daily_pnl;
static PyObject *S_long, *S_short, *S_limit, *S_cross, *S_isolated, *S_lower, *S_panic, *S_stressed,
    *S_normal, *S_lock, *S_allows, *S_count, *S_retry_after, *S_get, *SCHEMA, *KW_RECORD, *KW_SAFE, *F_ZERO;
#define X(reason) static PyObject *R_##reason;
NATIVE_REASONS(X)
#undef X
#define X(name) static PyObject *CK_##name; /* a check's name in the trace */
NATIVE_CHECKS(X)
#undef X

static int offset_of(PyObject *type, const char *field, Py_ssize_t *out) {
    PyObject *descr = PyObject_GetAttrString(type, field);
    if (descr == NULL) return -1;
    if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        Py_DECREF(descr);
        PyErr_Format(PyExc_TypeError, "%s is not a slot of its struct", field);
        return -1;
    }
    *out = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    return 0;
}

/* a float field: NaN for None (the engine runs only on JSON input, where no NaN can occur) */
static inline double num(PyObject *v) {
    if (v == Py_None) return NONE;
    if (PyFloat_CheckExact(v)) return PyFloat_AS_DOUBLE(v);
    return PyFloat_AsDouble(v); /* an int: exact below 2**53, which the decoder's ranges keep */
}

static inline PyObject *box(double v) { return PyFloat_FromDouble(v); }
static inline PyObject *box_opt(double v) {
    if (IS_NONE(v)) Py_RETURN_NONE;
    return PyFloat_FromDouble(v);
}

/* a Python function of boxed arguments (NULL, with the error set, when boxing one failed) */
static PyObject *call_kw(PyObject *fn, PyObject *const *args, size_t n, PyObject *kwnames) {
    size_t all = n + (kwnames ? (size_t)PyTuple_GET_SIZE(kwnames) : 0);
    for (size_t i = 0; i < all; i++)
        if (args[i] == NULL) return NULL;
    return PyObject_Vectorcall(fn, args, n, kwnames);
}

/* a method call, args[0] being the object (NULL with the error set when boxing an argument failed) */
static PyObject *call_method(PyObject *obj, PyObject *name, PyObject *const *args, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (args[i] == NULL) return NULL;
    return PyObject_VectorcallMethod(name, args, n, NULL);
}

/* Check(name, passed, value, limit, detail, reason): None for a NULL; a passed check's detail is
 * its note, a failed one's the failure's detail. Check is frozen, so a check made of the very same
 * objects as the rule's previous one (a constant limit and value: the circuit breaker, a leverage)
 * is that one, shared: ``last`` holds each rule's previous check. */
static PyObject *CheckType;
static Py_ssize_t off_check[6]; /* name, passed, value, limit, detail, reason */
static int add_check(PyObject *checks, Py_ssize_t *n, PyObject **last, PyObject *name, PyObject *r, PyObject *why,
                     PyObject *value, PyObject *limit, PyObject *note) {
#define OR_NONE(v) ((v) ? (v) : Py_None)
    PyObject *fields[6] = {name, r ? Py_False : Py_True, OR_NONE(value), OR_NONE(limit),
                           r ? why : OR_NONE(note), OR_NONE(r)};
#undef OR_NONE
    if (*n >= PyList_GET_SIZE(checks)) { /* more rules ran than the engine counted: a bug */
        PyErr_SetString(PyExc_RuntimeError, "native engine: more checks than rules");
        return -1;
    }
    PyObject *check = last[*n];
    for (int i = 0; check != NULL && i < 6; i++)
        if (PTR(check, off_check[i]) != fields[i]) check = NULL;
    if (check != NULL) {
        Py_INCREF(check);
    } else { /* allocated and filled slot by slot as msgspec's decoder does (gc=False: no tracking) */
        check = ((PyTypeObject *)CheckType)->tp_alloc((PyTypeObject *)CheckType, 0);
        if (check == NULL) return -1;
        for (int i = 0; i < 6; i++) PTR(check, off_check[i]) = Py_NewRef(fields[i]);
        Py_XSETREF(last[*n], Py_NewRef(check));
    }
    PyList_SET_ITEM(checks, (*n)++, check); /* the list was made with one slot per rule of the run */
    return 0;
}

/* Decision(*fields, checks), allocated and filled slot by slot (a gc=False struct: no tracking) */
static PyObject *UNSET;
static Py_ssize_t off_decision[20]; /* the fields in declaration order, checks last */
static PyObject *new_decision(PyObject *const *fields, PyObject *checks) {
    PyObject *d = ((PyTypeObject *)DecisionType)->tp_alloc((PyTypeObject *)DecisionType, 0);
    if (d == NULL) return NULL;
    for (int i = 0; i < 19; i++) PTR(d, off_decision[i]) = Py_NewRef(fields[i]);
    PTR(d, off_decision[19]) = Py_NewRef(checks);
    return d;
}

/* a numeric attribute as a double (NaN and the error set when it fails) */
static double getattr_d(PyObject *obj, const char *name) {
    PyObject *v = PyObject_GetAttrString(obj, name);
    if (v == NULL) return NAN;
    double d = PyFloat_AsDouble(v);
    Py_DECREF(v);
    return d;
}

/* a Python helper returning a float (NaN and an error set when it raised) */
static double call_d(PyObject *fn, PyObject *const *args, size_t n) {
    PyObject *r = call_kw(fn, args, n, NULL);
    if (r == NULL) return NAN;
    double v = PyFloat_AsDouble(r);
    Py_DECREF(r);
    return v;
}

/* ---- timestamps: timeparse's split path in C (the same integers, one correctly rounded division) ---- */
static inline int digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int64_t days_from_civil(int y, int m, int d) { /* H. Hinnant's algorithm: days since 1970-01-01 */
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)` -> epoch seconds; 0 for any other spelling (the
 * caller asks timeparse.to_epoch, which decides it exactly as before) */
static int iso_epoch(PyObject *ts, double *out) {
    if (!PyUnicode_IS_COMPACT_ASCII(ts)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(ts);
    const char *s = (const char *)PyUnicode_DATA(ts);
    int y, mo, d, h, mi, se;
    if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return 0;
    Py_ssize_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        int k = 0;
        for (i++; i < n && k < 7 && s[i] >= '0' && s[i] <= '9'; i++, k++) frac = frac * 10 + (s[i] - '0');
        if (k == 0 || k > 6) return 0;
        for (; k < 6; k++) frac *= 10;
    }
    int64_t offset = 0;
    if (i == n - 1 && s[i] == 'Z') {
        offset = 0;
    } else if (i == n - 6 && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        int oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 || om > 59) return 0;
        offset = ((int64_t)oh * 3600 + om * 60) * 1000000 * (s[i] == '-' ? -1 : 1);
    } else {
        return 0;
    }
    int64_t us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000000) + frac - offset;
    if (us <= -(INT64_C(1) << 53) || us >= (INT64_C(1) << 53)) return 0; /* not exact as a double */
    *out = (double)us / 1000000.0;
    return 1;
}

/* ---- helpers the rules' snippets use ---- */
#define ARGS(...) ((PyObject *const[]){__VA_ARGS__})
#define NARGS(...) (sizeof((PyObject *const[]){__VA_ARGS__}) / sizeof(PyObject *))
/* call a Python note function; the boxed numbers are released by the caller's `tmp` list */
#define CALL(fn, ...) call_kw((fn), ARGS(__VA_ARGS__), NARGS(__VA_ARGS__), NULL)
#define TMP(expr) keep(tmp, &ntmp, (expr))
#define TEMPS_MAX 128

/* a new reference the signal's evaluation holds until its decision is built (released at `done`) */
static inline PyObject *keep(PyObject **tmp, int *n, PyObject *obj) {
    if (obj == NULL) return NULL;
    if (*n >= TEMPS_MAX) { /* cannot happen with the table's rules: a bug, rejected as an internal error */
        Py_DECREF(obj);
        PyErr_SetString(PyExc_RuntimeError, "native engine: too many temporaries for one signal");
        return NULL;
    }
    tmp[(*n)++] = obj;
    return obj;
}
/* A rule's failure. Fast: the first failure wins and later details are never formatted. Traced:
 * every rule's failure is recorded in its check (r, why), and the first is the decision's. */
#define FAIL(R, DETAIL) FAIL_AS(R_##R, DETAIL)
#define FAIL_AS(R, DETAIL)                              \
    do {                                                \
        if (TRACED) {                                   \
            Py_CLEAR(why);                              \
            r = (R);                                    \
            if ((why = (DETAIL)) == NULL) goto error;   \
        } else if (reason == NULL) {                    \
            reason = (R);                               \
            if ((detail = (DETAIL)) == NULL) goto error; \
        }                                               \
    } while (0)
/* whether a failure's detail is formatted (a rule can skip the work of one that is not) */
#define WANT_DETAIL (TRACED || reason == NULL)
/* traced: a rule starts with no failure and no trace values */
#define RULE_BEGIN()     \
    do {                 \
        r = NULL;        \
        Py_CLEAR(why);   \
        Py_CLEAR(value); \
        Py_CLEAR(limit); \
        Py_CLEAR(note);  \
    } while (0)
/* traced: the rule's check appended (value, limit, note as its trace bound them), its failure the
 * decision's when it is the first */
#define RULE_END(NAME)                                                                  \
    do {                                                                                \
        if (PyErr_Occurred() || add_check(checks, &n_checks, e->last, (NAME), r, why, value, limit, note) < 0) goto error; \
        if (r != NULL && reason == NULL) {                                              \
            reason = r;                                                                 \
            detail = Py_NewRef(why);                                                    \
        }                                                                               \
    } while (0)
/* the signal itself is invalid: its decision says why and nothing else runs */
#define REJECT(DETAIL)                                       \
    do {                                                     \
        PyObject *why_ = (DETAIL);                           \
        if (why_ == NULL) goto error;                        \
        result = CALL(reject, why_, sig);                    \
        Py_DECREF(why_);                                     \
        goto done;                                           \
    } while (0)
/* the signal cannot be judged any further (codegen's invalid()): this check fails with R and the
 * decision is the invalid one; traced, its trace is the checks so far, the later ones skipped */
#define INVALID(R, DETAIL)                                                                      \
    do {                                                                                        \
        PyObject *why_ = (DETAIL);                                                              \
        if (why_ == NULL) goto error;                                                           \
        PyObject *so_far_ = NULL;                                                               \
        if (TRACED) {                                                                           \
            if (add_check(checks, &n_checks, e->last, CURRENT_CHECK, R_##R, why_, NULL, NULL, NULL) < 0 || \
                (so_far_ = PyList_GetSlice(checks, 0, n_checks)) == NULL) {                     \
                Py_DECREF(why_);                                                                \
                goto error;                                                                     \
            }                                                                                   \
        }                                                                                       \
        result = TRACED ? CALL(reject, why_, sig, R_##R, so_far_) : CALL(reject, why_, sig, R_##R); \
        Py_DECREF(why_);                                                                        \
        Py_XDECREF(so_far_);                                                                    \
        goto done;                                                                              \
    } while (0)
#define BOOL(v) ((v) ? Py_True : Py_False)
#define ROUNDER 6755399441055744.0
#define EXACT_BELOW 2251799813685248.0 /* formulas.EXACT_BELOW: 2**51 */
#ifndef NATIVE_SOURCE_HASH
#define NATIVE_SOURCE_HASH "" /* the build stamps the sha256 of the sources (hatch_build.py) */
#endif

/* the evaluation function, twice: fast (the first failure wins) and traced (every check recorded) */
#define TRACED 0
#define DECIDE decide_fast
#include "native_decide.h"
#undef DECIDE
#undef TRACED
#define TRACED 1
#define DECIDE decide_traced
#include "native_decide.h"
#undef DECIDE
#undef TRACED

static PyObject *engine_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "decide(signal) takes one Signal");
        return NULL;
    }
    Engine *e = (Engine *)self;
    return e->traced ? decide_traced(e, args[0]) : decide_fast(e, args[0]);
}

/* ---- construction: the run's constants from the namespace of the Python prepare code ---- */
static int load_d(PyObject *ns, const char *name, double *out, int none_ok) {
    PyObject *v = PyDict_GetItemString(ns, name); /* borrowed */
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "native engine: the prepare code bound no %s", name);
        return -1;
    }
    if (v == Py_None && none_ok) {
        *out = NONE;
        return 0;
    }
    if (PyLong_CheckExact(v)) { /* exact as a double only below 2**53: else the Python engine decides */
        int overflow;
        long long i = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (overflow || i > (1LL << 53) || i < -(1LL << 53)) {
            PyErr_Format(PyExc_OverflowError, "native engine: %s is not exact as a double", name);
            return -1;
        }
        *out = (double)i;
        return 0;
    }
    if (!PyFloat_CheckExact(v) || isnan(PyFloat_AS_DOUBLE(v))) {
        PyErr_Format(PyExc_TypeError, "native engine: %s is not a number", name);
        return -1;
    }
    *out = PyFloat_AS_DOUBLE(v);
    return 0;
}

static int load_o(PyObject *ns, const char *name, PyObject **out) {
    PyObject *v = PyDict_GetItemString(ns, name); /* borrowed: name##_o holds the reference */
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "native engine: the prepare code bound no %s", name);
        return -1;
    }
    *out = v;
    return 0;
}

static int load_b(PyObject *ns, const char *name, int *out) {
    PyObject *v = PyDict_GetItemString(ns, name);
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "native engine: the prepare code bound no %s", name);
        return -1;
    }
    int t = PyObject_IsTrue(v);
    if (t < 0) return -1;
    *out = t;
    return 0;
}

static int load_i(PyObject *ns, const char *name, long *out) {
    PyObject *v = PyDict_GetItemString(ns, name);
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "native engine: the prepare code bound no %s", name);
        return -1;
    }
    if (!PyLong_CheckExact(v)) {
        PyErr_Format(PyExc_TypeError, "native engine: %s is not an integer", name);
        return -1;
    }
    *out = PyLong_AsLong(v);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

static void engine_dealloc(Engine *self) {
    if (self->last != NULL) {
        for (Py_ssize_t i = 0; i < self->n_checks; i++) Py_XDECREF(self->last[i]);
        PyMem_Free(self->last);
    }
#define X(kind, name, owner) Py_XDECREF(self->name##_o);
    NATIVE_CONSTS(X)
#undef X
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject EngineType;

/* Engine(namespace): the constants of one run, read once (ValueError-free: a missing or odd value is a
 * KeyError/TypeError/OverflowError, and the caller keeps the Python engine) */
static PyObject *engine_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *ns;
    int traced = 0;
    Py_ssize_t n_checks = 0;
    if (!PyArg_ParseTuple(args, "O!|pn:Engine", &PyDict_Type, &ns, &traced, &n_checks)) return NULL;
    Engine *self = (Engine *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = engine_vectorcall;
    self->on_always = 1;
    self->traced = traced;
    self->n_checks = n_checks;
    if (n_checks < 0 || (self->last = PyMem_Calloc(n_checks + 1, sizeof(PyObject *))) == NULL) {
        Py_DECREF(self);
        return n_checks < 0 ? (PyErr_SetString(PyExc_ValueError, "n_checks < 0"), NULL) : PyErr_NoMemory();
    }
#define LOAD_d(name) if (load_d(ns, #name, &self->name, 0) < 0) goto fail;
#define LOAD_n(name) if (load_d(ns, #name, &self->name, 1) < 0) goto fail;
#define LOAD_o(name) if (load_o(ns, #name, &self->name) < 0) goto fail;
#define LOAD_b(name) if (load_b(ns, #name, &self->name) < 0) goto fail;
#define LOAD_i(name) if (load_i(ns, #name, &self->name) < 0) goto fail;
#define X(kind, name, owner) \
    if (self->on_##owner) { LOAD_##kind(name) self->name##_o = Py_NewRef(PyDict_GetItemString(ns, #name)); }
    NATIVE_CONSTS(X)
#undef X
    return (PyObject *)self;
fail:
    Py_DECREF(self);
    return NULL;
}

static PyTypeObject EngineType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cdbctl.risk._native.Engine",
    .tp_basicsize = sizeof(Engine),
    .tp_dealloc = (destructor)engine_dealloc,
    .tp_vectorcall_offset = offsetof(Engine, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "The compiled fast evaluation of one run: Engine(namespace)(signal) -> Decision.",
    .tp_new = engine_new,
};

static PyObject *intern(const char *s) { return PyUnicode_InternFromString(s); }

static int init_types(PyObject *model) {
    SignalType = PyObject_GetAttrString(model, "Signal");
    MarketType = PyObject_GetAttrString(model, "MarketData");
    DecisionType = PyObject_GetAttrString(model, "Decision");
    StateType = PyObject_GetAttrString(model, "RiskState");
    CheckType = PyObject_GetAttrString(model, "Check");
    if (!SignalType || !MarketType || !DecisionType || !StateType || !CheckType) return -1;
    PyObject *frozen = PyObject_GetAttrString(CheckType, "__struct_config__");
    PyObject *is_frozen = frozen ? PyObject_GetAttrString(frozen, "frozen") : NULL;
    Py_XDECREF(frozen);
    if (is_frozen == NULL) return -1;
    int shareable = is_frozen == Py_True;
    Py_DECREF(is_frozen);
    /* add_check fills it unseen and shares equal ones */
    if (PyType_HasFeature((PyTypeObject *)CheckType, Py_TPFLAGS_HAVE_GC) || !shareable) {
        PyErr_SetString(PyExc_ImportError, "the native engine needs Check to be a frozen gc=False struct");
        return -1;
    }
    struct { PyObject *type; const char *name; Py_ssize_t *off; } fields[] = {
        {SignalType, "signal_id", &off_signal_id}, {SignalType, "symbol", &off_symbol},
        {SignalType, "side", &off_side}, {SignalType, "price", &off_price},
        {SignalType, "target_position_usd", &off_target}, {SignalType, "leverage", &off_leverage},
        {SignalType, "margin_mode", &off_mode}, {SignalType, "order_type", &off_order_type},
        {SignalType, "stop_price", &off_stop}, {SignalType, "timestamp", &off_timestamp},
        {SignalType, "market", &off_market}, {SignalType, "mark_price", &off_mark},
        {MarketType, "volatility", &off_vol}, {MarketType, "funding_rate", &off_fund},
        {MarketType, "atr", &off_atr}, {MarketType, "order_book_depth", &off_depth},
        {MarketType, "bid", &off_bid}, {MarketType, "ask", &off_ask},
        {StateType, "total_exposure_pct", &off_total_exposure}, {StateType, "daily_pnl", &off_daily_pnl},
        {CheckType, "name", &off_check[0]}, {CheckType, "passed", &off_check[1]}, {CheckType, "value", &off_check[2]},
        {CheckType, "limit", &off_check[3]}, {CheckType, "detail", &off_check[4]}, {CheckType, "reason", &off_check[5]},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (offset_of(fields[i].type, fields[i].name, fields[i].off) < 0) return -1;
    
    if (PyType_HasFeature((PyTypeObject *)DecisionType, Py_TPFLAGS_HAVE_GC)) { /* new_decision fills it unseen */
        PyErr_SetString(PyExc_ImportError, "the native engine needs Decision to be a gc=False struct");
        return -1;
    }
    PyObject *names = PyObject_GetAttrString(DecisionType, "__struct_fields__");
    if (names == NULL) return -1;
    if (!PyTuple_Check(names) || PyTuple_GET_SIZE(names) != 20) {
        Py_DECREF(names);
        PyErr_SetString(PyExc_ImportError, "the native engine knows Decision with 20 fields");
        return -1;
    }
    for (Py_ssize_t i = 0; i < 20; i++) {
        const char *field = PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, i));
        if (field == NULL || offset_of(DecisionType, field, &off_decision[i]) < 0) {
            Py_DECREF(names);
            return -1;
        }
    }
    Py_DECREF(names);
    PyObject *msgspec = PyImport_ImportModule("msgspec");
    if (msgspec == NULL) return -1;
    UNSET = PyObject_GetAttrString(msgspec, "UNSET");
    Py_DECREF(msgspec);
    if (UNSET == NULL) return -1;
    PyObject *schema = PyObject_GetAttrString(model, "SCHEMA_VERSION");
    if (schema == NULL) return -1;
    SCHEMA = schema;
    return 0;
}

/* epoch(ts): the C timestamp parser alone (None: not its shape, timeparse decides), for the tests */
static PyObject *py_epoch(PyObject *self, PyObject *ts) {
    double t;
    if (!PyUnicode_CheckExact(ts) || !iso_epoch(ts, &t)) Py_RETURN_NONE;
    return PyFloat_FromDouble(t);
}

static PyMethodDef methods[] = {
    {"epoch", py_epoch, METH_O, "Epoch seconds of the ISO-8601 shape the engine parses in C, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native", "The risk engine's compiled fast evaluation (see native.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    PyObject *model = PyImport_ImportModule("cdbctl.risk.model");
    if (model == NULL || init_types(model) < 0) goto fail;
    Py_DECREF(model);
    model = NULL;
    if (!(S_long = intern("long")) || !(S_short = intern("short")) || !(S_limit = intern("limit")) ||
        !(S_cross = intern("cross")) || !(S_isolated = intern("isolated")) || !(S_lower = intern("lower")) ||
        !(S_panic = intern("panic")) || !(S_stressed = intern("stressed")) || !(S_normal = intern("normal")) ||
        !(S_lock = intern("lock")) || !(S_allows = intern("allows")) || !(S_count = intern("count")) ||
        !(S_retry_after = intern("retry_after")) || !(S_get = intern("get")) ||
        !(F_ZERO = PyFloat_FromDouble(0.0)))
        goto fail;
    KW_RECORD = Py_BuildValue("(sss)", "leverage", "ts", "margin_mode");
    KW_SAFE = Py_BuildValue("(ss)", "reference", "cap");
    if (!KW_RECORD || !KW_SAFE) goto fail;
#define X(reason) if (!(R_##reason = intern(#reason))) goto fail;
    NATIVE_REASONS(X)
#undef X
#define X(name) if (!(CK_##name = intern(#name))) goto fail;
    NATIVE_CHECKS(X)
#undef X
    if (PyType_Ready(&EngineType) < 0) goto fail;
    Py_INCREF(&EngineType);
    if (PyModule_AddObject(m, "Engine", (PyObject *)&EngineType) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "RULES", NATIVE_RULE_NAMES) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "TRACED_RULES", NATIVE_TRACED_RULE_NAMES) < 0) goto fail;
    if (PyModule_AddStringConstant(m, "SOURCE_HASH", NATIVE_SOURCE_HASH) < 0) goto fail;
    return m;
fail:
    Py_XDECREF(model);
    Py_DECREF(m);
    return NULL;
}
