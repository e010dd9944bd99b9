/* Python objects from C for the compiled engine (included by native.c): fields as doubles, boxing,
 * calls into the rules' Python helpers, and the Check and Decision structs filled slot by slot. */

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

#define ATTR(obj, name) PyObject_GetAttr((obj), N_##name) /* a new reference, NULL on error */
#define ATTR_D(obj, name) getattr_d((obj), N_##name)

/* a numeric attribute as a double (NaN and the error set when it fails) */
static double getattr_d(PyObject *obj, PyObject *name) {
    PyObject *v = PyObject_GetAttr(obj, name);
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

