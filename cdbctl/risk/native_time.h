/* Signal timestamps in C (included by native.c): timeparse's split path for the common ISO-8601 shape. */

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

