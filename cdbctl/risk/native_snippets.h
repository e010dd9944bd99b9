/* What the rules' C snippets are written with (included by native.c): calls, temporaries, and how a
 * failure is recorded in the fast (TRACED 0) and the traced (TRACED 1) evaluation. */

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

