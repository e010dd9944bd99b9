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
/* attribute names the rules read per signal, interned once (ATTR, ATTR_D): no string made per call */
#define NATIVE_ATTRS(X)                                                                                  \
    X(value) X(reason) X(remaining_sec) X(COOLDOWN_SEC) X(limit) X(symbol) X(tick_size) X(contract_size) \
    X(max_position_usd) X(used_margin) X(side) X(quantity) X(notional) X(total_exposure_pct)
#define X(name) static PyObject *N_##name;
NATIVE_ATTRS(X)
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

#include "native_objects.h"

#include "native_time.h"

#include "native_snippets.h"

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
/* the value a run's constant is bound to (borrowed), or NULL and KeyError: the prepare code bound none */
static PyObject *bound(PyObject *ns, const char *name) {
    PyObject *v = PyDict_GetItemString(ns, name);
    if (v == NULL) PyErr_Format(PyExc_KeyError, "native engine: the prepare code bound no %s", name);
    return v;
}

static int load_d(PyObject *v, const char *name, double *out, int none_ok) {
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

static int load_b(PyObject *v, int *out) {
    int t = PyObject_IsTrue(v);
    if (t < 0) return -1;
    *out = t;
    return 0;
}

static int load_i(PyObject *v, const char *name, long *out) {
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
#define LOAD_d(name) if (load_d(v, #name, &self->name, 0) < 0) goto fail;
#define LOAD_n(name) if (load_d(v, #name, &self->name, 1) < 0) goto fail;
#define LOAD_o(name) self->name = v; /* borrowed: name##_o holds the reference */
#define LOAD_b(name) if (load_b(v, &self->name) < 0) goto fail;
#define LOAD_i(name) if (load_i(v, #name, &self->name) < 0) goto fail;
#define X(kind, name, owner)                                \
    if (self->on_##owner) {                                 \
        PyObject *v = bound(ns, #name);                     \
        if (v == NULL) goto fail;                           \
        LOAD_##kind(name) self->name##_o = Py_NewRef(v);    \
    }
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
#define X(name) if (!(N_##name = intern(#name))) goto fail;
    NATIVE_ATTRS(X)
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
