/* materials_pipeline._fastfloat: whitespace-separated decimal floats from a byte buffer.
 *
 * parse_into(buf, offset, out, nthreads=1) -> (n, end, status)
 *     Parses len(out) tokens from the readable buffer `buf` (bytes, mmap, memoryview ...)
 *     starting at byte `offset` into the writable C-contiguous float64 buffer `out`.
 *     status 0: all parsed, `end` is the offset just after the last token.
 *     status 1: the buffer ended after `n` tokens (truncated data); `end` = len(buf).
 *     status 2: token number `n` (0-based) is not a number; it starts at byte `end`.
 *     status 3: token number `n` is NaN or infinite; it starts at byte `end`.
 *     nthreads > 1 splits long runs of fixed-layout lines (the layout VASP and every Fortran
 *     writer produce) between threads; any irregularity falls back to one thread.
 * skip(buf, offset, n) -> (n_skipped, end)
 *     Skips n tokens without converting them (n_skipped < n: the buffer ended).
 * parse_grid(buf, offset, out, n0, n1, n2, divisor, nthreads=1) -> (n, end, status)
 *     Parses n0*n1*n2 values stored x fastest (Fortran order) straight into the C-ordered
 *     out[i, j, k] / divisor (one IEEE division per value; divisor 1.0 copies exactly),
 *     a few k-planes at a time through a cache-sized slab; statuses as parse_into (n counts
 *     tokens in file order).
 * f2c(src, dst, n0, n1, n2, divisor)
 *     dst[i, j, k] = src[i + n0*(j + n1*k)] / divisor (Fortran order -> C order), blocked
 *     for the cache; divisor 1.0 copies exactly.
 *
 * Tokens: [+-]digits[.digits][(e|E|d|D)[+-]digits] and Fortran's exponent without a letter
 * when it has three digits (0.12345678901-100). Values equal Python's float(token) bit for
 * bit: up to 19 significant digits with a decimal exponent whose power of ten is exact in a
 * double (|e| <= 22, and the mantissa below 2**53) take Clinger's fast path (one correctly
 * rounded multiplication or division of exact operands); every other token goes through the
 * C library's strtod (correctly rounded in glibc). The GIL is released while parsing.
 * No numpy headers: the buffers come in through the buffer protocol.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define FF_THREADS 1
#endif

enum { ST_OK = 0, ST_EOF = 1, ST_BAD = 2, ST_NONFINITE = 3 };

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ASCII whitespace as bytes.split() sees it: space, \t \n \v \f \r */
static const unsigned char SPACE[256] = {
    [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\v'] = 1, ['\f'] = 1, ['\r'] = 1,
};

static inline int is_space(unsigned char c) { return SPACE[c]; }

static inline int is_digit(unsigned char c) { return (unsigned char)(c - '0') < 10; }

/* SWAR: 8 ASCII digits at once (the technique of fast_float / simdjson). */
static inline uint64_t load8(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline int all8_digits(uint64_t v)
{
    return (((v & 0xF0F0F0F0F0F0F0F0ULL) |
             (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ==
            0x3333333333333333ULL);
}

static inline uint32_t parse8(uint64_t v) /* little-endian: first char in the lowest byte */
{
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 0x000F424000000064ULL; /* 100 + (1000000ULL << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000ULL << 32) */
    v -= 0x3030303030303030ULL;
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * mul1) + (((v >> 16) & mask) * mul2)) >> 32;
    return (uint32_t)v;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FF_SWAR 1
#else
#define FF_SWAR 0
#endif

/* The slow, always-correct conversion: normalise the token for strtod (D -> e, the
 * letterless Fortran exponent gets its 'e') and require strtod to consume all of it. */
static int slow_token(const unsigned char *s, size_t len, double *out)
{
    char small[128];
    char *tmp = small;
    if (len == 0)
        return ST_BAD;
    if (len > sizeof small - 2) { /* "%f" of 1e300 is 300 digits long: still a number */
        tmp = (char *)malloc(len + 2);
        if (!tmp)
            return ST_BAD;
    }
    int st = ST_BAD;
    size_t k = 0;
    int seen_mant = 0, seen_exp = 0;
    for (size_t q = 0; q < len; ++q) {
        unsigned char c = s[q];
        if (c == 'd' || c == 'D' || c == 'e' || c == 'E') {
            if (seen_exp)
                goto done;
            seen_exp = 1;
            tmp[k++] = 'e';
        } else if ((c == '+' || c == '-') && q > 0 && !seen_exp && seen_mant) {
            seen_exp = 1; /* 0.123-100: Fortran drops the letter for 3-digit exponents */
            tmp[k++] = 'e';
            tmp[k++] = (char)c;
        } else if (is_digit(c) || c == '.' || c == '+' || c == '-') {
            if (is_digit(c))
                seen_mant = 1;
            tmp[k++] = (char)c;
        } else {
            goto done;
        }
    }
    tmp[k] = '\0';
    {
        char *endp;
        errno = 0;
        double v = strtod(tmp, &endp);
        if (endp == tmp + k && seen_mant) {
            *out = v;
            st = isfinite(v) ? ST_OK : ST_NONFINITE;
        }
    }
done:
    if (tmp != small)
        free(tmp);
    return st;
}

static int is_nonfinite_word(const unsigned char *s, size_t len)
{
    if (len && (*s == '+' || *s == '-'))
        ++s, --len;
    char w[9];
    if (len == 0 || len > 8)
        return 0;
    for (size_t q = 0; q < len; ++q)
        w[q] = (char)(s[q] | 0x20);
    w[len] = '\0';
    return !strcmp(w, "nan") || !strcmp(w, "inf") || !strcmp(w, "infinity");
}

/* Parse one token at p (not whitespace, p < end). On success stores the value, sets *next
 * just after the token and returns ST_OK. */
static inline int parse_token(const unsigned char *p, const unsigned char *end,
                              const unsigned char **next, double *out)
{
    const unsigned char *start = p;
    int neg = 0;
    if (*p == '-' || *p == '+') {
        neg = (*p == '-');
        ++p;
    }
    uint64_t mant = 0;
    int ndig = 0;   /* significant digits kept in mant */
    int dexp = 0;   /* decimal exponent from the position of the point */
    int any = 0;    /* saw at least one mantissa digit */
    int exact = 1;  /* mant holds every significant digit */
    while (p < end && *p == '0') {
        ++p;
        any = 1;
    }
    while (p < end && is_digit(*p)) {
        if (ndig < 19) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            ++ndig;
        } else {
            exact = 0;
        }
        ++p;
        any = 1;
    }
    if (!exact)
        goto slow;
    if (p < end && *p == '.') {
        ++p;
        if (mant == 0)
            while (p < end && *p == '0') {
                ++p;
                --dexp;
                any = 1;
            }
#if FF_SWAR
        while (ndig <= 11 && end - p >= 8) {
            uint64_t v = load8(p);
            if (!all8_digits(v))
                break;
            mant = mant * 100000000ULL + parse8(v);
            ndig += 8;
            dexp -= 8;
            p += 8;
            any = 1;
        }
#endif
        while (p < end && is_digit(*p)) {
            if (ndig < 19) {
                mant = mant * 10 + (uint64_t)(*p - '0');
                ++ndig;
                --dexp;
            } else {
                exact = 0;
            }
            ++p;
            any = 1;
        }
        if (!exact)
            goto slow;
    }
    if (!any)
        goto slow;
    if (p < end && !is_space(*p)) {
        unsigned char c = *p;
        int eneg = 0, e = 0, nd = 0;
        if (c == 'e' || c == 'E' || c == 'd' || c == 'D') {
            ++p;
            if (p < end && (*p == '+' || *p == '-'))
                eneg = (*p++ == '-');
        } else if (c == '+' || c == '-') {
            eneg = (c == '-');
            ++p;
        } else {
            goto slow;
        }
        while (p < end && is_digit(*p)) {
            if (e < 100000)
                e = e * 10 + (*p - '0');
            ++p;
            ++nd;
        }
        if (!nd)
            goto slow;
        dexp += eneg ? -e : e;
    }
    if (p < end && !is_space(*p))
        goto slow;
    *next = p;
    {
        double v;
        if (mant == 0) {
            v = 0.0;
        } else if (mant <= (1ULL << 53) && dexp >= -22 && dexp <= 22) {
            v = (double)mant;
            v = dexp < 0 ? v / POW10[-dexp] : v * POW10[dexp];
        } else {
            goto slow;
        }
        *out = neg ? -v : v;
        return ST_OK;
    }
slow:
    p = start;
    while (p < end && !is_space(*p))
        ++p;
    *next = p;
    {
        size_t len = (size_t)(p - start);
        if (is_nonfinite_word(start, len))
            return ST_NONFINITE;
        return slow_token(start, len, out);
    }
}

/* The common case without bounds checks: the caller guarantees 64 readable bytes from p.
 * Every loop is bounded (at most 19 + 1 + 19 + 2 + 5 bytes), anything unusual returns -1 and
 * the caller takes parse_token (bounds-checked, general). */
static inline int fast_token(const unsigned char *p, const unsigned char **next, double *out)
{
    int neg = 0;
    if (*p == '-' || *p == '+')
        neg = (*p++ == '-');
    uint64_t mant = 0;
    int ndig = 0, dexp = 0, any = 0;
    for (int z = 0; z < 8 && *p == '0'; ++z, ++p)
        any = 1;
    if (*p == '0')
        return -1; /* a long run of leading zeros: the general path counts them */
    for (int q = 0; q < 19 && is_digit(*p); ++q, ++p) {
        mant = mant * 10 + (uint64_t)(*p - '0');
        ++ndig;
        any = 1;
    }
    if (is_digit(*p))
        return -1;
    if (*p == '.') {
        ++p;
        if (mant == 0) {
            int z = 0;
            while (*p == '0' && z < 19) {
                ++p;
                ++z;
                any = 1;
            }
            if (*p == '0')
                return -1;
            dexp -= z;
        }
#if FF_SWAR
        if (ndig <= 11) {
            uint64_t v = load8(p);
            if (all8_digits(v)) {
                mant = mant * 100000000ULL + parse8(v);
                ndig += 8;
                dexp -= 8;
                p += 8;
                any = 1;
            }
        }
#endif
        while (ndig < 19 && is_digit(*p)) {
            mant = mant * 10 + (uint64_t)(*p - '0');
            ++ndig;
            --dexp;
            ++p;
            any = 1;
        }
        if (is_digit(*p))
            return -1;
    }
    if (!any)
        return -1;
    if (!is_space(*p)) {
        unsigned char c = *p;
        int eneg = 0, e = 0, nd = 0;
        if (c == 'e' || c == 'E' || c == 'd' || c == 'D') {
            ++p;
            if (*p == '+' || *p == '-')
                eneg = (*p++ == '-');
        } else if (c == '+' || c == '-') {
            eneg = (c == '-');
            ++p;
        } else {
            return -1;
        }
        for (; nd < 5 && is_digit(*p); ++nd, ++p)
            e = e * 10 + (*p - '0');
        if (!nd || !is_space(*p))
            return -1;
        dexp += eneg ? -e : e;
    }
    double v;
    if (mant == 0)
        v = 0.0;
    else if (mant <= (1ULL << 53) && dexp >= -22 && dexp <= 22)
        v = dexp < 0 ? (double)mant / POW10[-dexp] : (double)mant * POW10[dexp];
    else
        return -1;
    *out = neg ? -v : v;
    *next = p;
    return 0;
}

/* VASP's own layout, E17.11 (and pymatgen's copy of it): 0.12345678901E+01, -.12345678901E-03
 * or -0.12345678901E+00: straight-line code, 64 readable bytes guaranteed by the caller.
 * Returns -1 for anything else (fast_token then tries). */
static inline int vasp_token(const unsigned char *p, const unsigned char **next, double *out)
{
    int neg = 0;
    if (p[0] == '-') {
        neg = 1;
        ++p;
    }
    if (p[0] == '0')
        ++p;
    if (p[0] != '.')
        return -1;
    uint64_t v = load8(p + 1);
    if (!all8_digits(v) || !is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11]) ||
        (p[12] | 0x20) != 'e' || (p[13] != '+' && p[13] != '-') || !is_digit(p[14]) ||
        !is_digit(p[15]) || !is_space(p[16]))
        return -1;
    uint64_t mant = (uint64_t)parse8(v) * 1000 + (uint64_t)(p[9] - '0') * 100 +
                    (uint64_t)(p[10] - '0') * 10 + (uint64_t)(p[11] - '0');
    int e = (p[14] - '0') * 10 + (p[15] - '0');
    int dexp = (p[13] == '-' ? -e : e) - 11;
    double d;
    if (mant == 0)
        d = 0.0;
    else if (dexp >= -22 && dexp <= 22)
        d = dexp < 0 ? (double)mant / POW10[-dexp] : (double)mant * POW10[dexp];
    else
        return -1;
    *out = neg ? -d : d;
    *next = p + 16;
    return 0;
}

typedef struct {
    const unsigned char *base, *p, *end;
    double *out;
    Py_ssize_t n, done;
    int status;
    const unsigned char *stop; /* where it stopped (token start on error, after last token) */
} Job;

static void run_job(Job *j)
{
    const unsigned char *p = j->p, *end = j->end;
    double *out = j->out;
    Py_ssize_t i = 0, n = j->n;
    int st = ST_OK;
    while (i < n) {
        while (p < end && is_space(*p))
            ++p;
        if (p >= end) {
            st = ST_EOF;
            break;
        }
        const unsigned char *nx;
        if (end - p >= 64 &&
            (vasp_token(p, &nx, &out[i]) == 0 || fast_token(p, &nx, &out[i]) == 0)) {
            p = nx;
            ++i;
            continue;
        }
        int r = parse_token(p, end, &nx, &out[i]);
        if (r != ST_OK) {
            st = r;
            break;
        }
        p = nx;
        ++i;
    }
    j->done = i;
    j->status = st;
    j->stop = p;
}

#ifdef FF_THREADS
static void *job_thread(void *arg)
{
    run_job((Job *)arg);
    return NULL;
}
#endif

/* Fixed layout: the first line after `p` has m tokens and length L (newline included), and
 * every full line of the run looks the same. Returns m (0 if the line is not usable). */
static Py_ssize_t line_layout(const unsigned char *p, const unsigned char *end, Py_ssize_t *L)
{
    const unsigned char *q = p;
    Py_ssize_t m = 0;
    while (q < end && *q != '\n') {
        while (q < end && (*q == ' ' || *q == '\t'))
            ++q;
        if (q >= end || *q == '\n' || *q == '\r')
            break;
        ++m;
        while (q < end && !is_space(*q))
            ++q;
    }
    while (q < end && *q == '\r')
        ++q;
    if (q >= end || *q != '\n')
        return 0;
    *L = (Py_ssize_t)(q + 1 - p);
    return m;
}

static int parse_threaded(const unsigned char *base, const unsigned char *p,
                          const unsigned char *end, double *out, Py_ssize_t n, int nthreads,
                          Job *result)
{
#ifdef FF_THREADS
    /* p must be at the start of a line (after the previous line's newline) */
    Py_ssize_t L = 0, m = line_layout(p, end, &L);
    if (m <= 0 || nthreads < 2 || n < (Py_ssize_t)1 << 20)
        return 0;
    Py_ssize_t nlines = n / m; /* full lines */
    if (nthreads > 16)
        nthreads = 16;
    Job jobs[16];
    pthread_t th[16];
    Py_ssize_t per = nlines / nthreads;
    for (int t = 0; t < nthreads; ++t) {
        Py_ssize_t l0 = per * t, l1 = (t == nthreads - 1) ? -1 : per * (t + 1);
        Job *j = &jobs[t];
        j->base = base;
        j->p = p + l0 * L;
        j->out = out + l0 * m;
        if (j->p > end)
            return 0;
        if (l1 < 0) {
            j->end = end;
            j->n = n - l0 * m;
        } else {
            j->end = p + l1 * L;
            j->n = (l1 - l0) * m;
            if (j->end > end)
                return 0;
            /* a chunk boundary must fall on a line start: the byte before is a newline */
            if (j->end[-1] != '\n')
                return 0;
        }
        if (t > 0 && j->p[-1] != '\n')
            return 0;
    }
    int started = 0;
    for (int t = 1; t < nthreads; ++t) {
        if (pthread_create(&th[t], NULL, job_thread, &jobs[t]) != 0)
            break;
        started = t;
    }
    run_job(&jobs[0]);
    for (int t = 1; t <= started; ++t)
        pthread_join(th[t], NULL);
    for (int t = started + 1; t < nthreads; ++t)
        run_job(&jobs[t]);
    /* every chunk but the last must have ended exactly at its boundary with all its tokens
     * parsed; otherwise the layout was not regular: the caller reparses on one thread */
    for (int t = 0; t < nthreads - 1; ++t) {
        Job *j = &jobs[t];
        if (j->status == ST_OK && j->done == j->n) {
            const unsigned char *q = j->stop;
            while (q < j->end && is_space(*q))
                ++q;
            if (q == j->end)
                continue;
        }
        return 0;
    }
    Job *last = &jobs[nthreads - 1];
    if (last->status != ST_OK)
        return 0; /* let the sequential pass report the error with its exact position */
    *result = *last;
    result->done = n;
    return 1;
#else
    (void)base, (void)p, (void)end, (void)out, (void)n, (void)nthreads, (void)result;
    return 0;
#endif
}

static int get_out(PyObject *obj, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    const char *f = view->format ? view->format : "B";
    if (*f == '@' || *f == '=' || *f == '<')
        ++f;
    if (!(f[0] == 'd' && f[1] == '\0') || view->itemsize != 8) {
        PyErr_Format(PyExc_TypeError, "out: expected a C-contiguous float64 buffer, got %s",
                     view->format ? view->format : "?");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *py_parse_into(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bufobj, *outobj;
    Py_ssize_t offset;
    int nthreads = 1;
    if (!PyArg_ParseTuple(args, "OnO|i:parse_into", &bufobj, &offset, &outobj, &nthreads))
        return NULL;
    Py_buffer in, out;
    if (PyObject_GetBuffer(bufobj, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    if (get_out(outobj, &out) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    if (offset < 0 || offset > in.len) {
        PyErr_Format(PyExc_ValueError, "parse_into: offset %zd outside the buffer (0..%zd)",
                     offset, in.len);
        PyBuffer_Release(&out);
        PyBuffer_Release(&in);
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)in.buf;
    Job j;
    j.base = base;
    j.p = base + offset;
    j.end = base + in.len;
    j.out = (double *)out.buf;
    j.n = out.len / 8;
    Py_BEGIN_ALLOW_THREADS
    {
        int ok = 0;
        if (nthreads > 1) {
            /* start at a line start: parse the rest of the current line first */
            const unsigned char *q = j.p;
            Py_ssize_t pre = 0;
            while (q < j.end && *q != '\n')
                ++q;
            if (q < j.end) {
                /* count the tokens on the remainder of this line */
                const unsigned char *r = j.p;
                while (r < q) {
                    while (r < q && is_space(*r))
                        ++r;
                    if (r < q) {
                        ++pre;
                        while (r < q && !is_space(*r))
                            ++r;
                    }
                }
                if (pre <= j.n) {
                    Job head = j;
                    head.n = pre;
                    head.end = q;
                    run_job(&head);
                    if (head.status == ST_OK && head.done == pre) {
                        Job rest;
                        ok = parse_threaded(base, q + 1, j.end, j.out + pre, j.n - pre,
                                            nthreads, &rest);
                        if (ok) {
                            j.done = j.n;
                            j.status = ST_OK;
                            j.stop = rest.stop;
                        }
                    }
                }
            }
        }
        if (!ok)
            run_job(&j);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    PyBuffer_Release(&in);
    return Py_BuildValue("(nni)", j.done, (Py_ssize_t)(j.stop - base), j.status);
}

/* --- parse_grid: parse a Fortran-ordered grid straight into C order ------------------------
 *
 * The values come x fastest: token t is sample (i, j, k) = (t % n0, t / n0 % n1, t / n0 / n1).
 * Each job parses S k-planes at a time into a small scratch slab (it stays in the cache) and
 * writes them transposed into out[i][j][k] / divisor: no full-size temporary, one pass over
 * the output. Threads take ranges of planes that start on a line start (fixed-layout lines). */

enum { SLAB = 8 };

typedef struct {
    const unsigned char *p, *end; /* bytes of this job */
    double *out, *scratch;
    Py_ssize_t n0, n1, n2, k0, k1; /* planes [k0, k1) */
    double div;
    Py_ssize_t done; /* tokens parsed by this job */
    int status;
    const unsigned char *stop;
} GridJob;

static void transpose_slab(const double *sc, double *out, Py_ssize_t n0, Py_ssize_t n1,
                           Py_ssize_t n2, Py_ssize_t k, Py_ssize_t kk, double div)
{
    const Py_ssize_t n01 = n0 * n1, B = 16;
    for (Py_ssize_t j = 0; j < n1; ++j)
        for (Py_ssize_t i0 = 0; i0 < n0; i0 += B) {
            Py_ssize_t i1 = i0 + B < n0 ? i0 + B : n0;
            for (Py_ssize_t i = i0; i < i1; ++i) {
                const double *sp = sc + i + n0 * j;
                double *dp = out + (i * n1 + j) * n2 + k;
                if (div == 1.0)
                    for (Py_ssize_t q = 0; q < kk; ++q)
                        dp[q] = sp[q * n01];
                else
                    for (Py_ssize_t q = 0; q < kk; ++q)
                        dp[q] = sp[q * n01] / div;
            }
        }
}

static void run_grid_job(GridJob *g)
{
    const Py_ssize_t n01 = g->n0 * g->n1;
    const unsigned char *cur = g->p;
    g->done = 0;
    for (Py_ssize_t k = g->k0; k < g->k1; k += SLAB) {
        Py_ssize_t kk = g->k1 - k < SLAB ? g->k1 - k : SLAB;
        Job sub;
        sub.base = NULL;
        sub.p = cur;
        sub.end = g->end;
        sub.out = g->scratch;
        sub.n = kk * n01;
        run_job(&sub);
        g->done += sub.done;
        cur = sub.stop;
        if (sub.status != ST_OK) {
            g->status = sub.status;
            g->stop = cur;
            return;
        }
        transpose_slab(g->scratch, g->out, g->n0, g->n1, g->n2, k, kk, g->div);
    }
    g->status = ST_OK;
    g->stop = cur;
}

#ifdef FF_THREADS
static void *grid_thread(void *arg)
{
    run_grid_job((GridJob *)arg);
    return NULL;
}
#endif

static Py_ssize_t gcd_ss(Py_ssize_t a, Py_ssize_t b)
{
    while (b) {
        Py_ssize_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Split into up to nthreads jobs on line starts; 0 if the layout does not allow it. */
static int plan_grid_jobs(GridJob *jobs, int nthreads, const unsigned char *base,
                          const unsigned char *p, const unsigned char *end)
{
    GridJob *g0 = &jobs[0];
    const Py_ssize_t n01 = g0->n0 * g0->n1;
    if (nthreads < 2 || n01 * g0->n2 < ((Py_ssize_t)1 << 20) || p == base || p[-1] != '\n')
        return 1;
    Py_ssize_t L = 0, m = line_layout(p, end, &L);
    if (m <= 0)
        return 1;
    /* a boundary at plane k is a line start when k*n01 is a multiple of m */
    Py_ssize_t q = m / gcd_ss(n01 % m ? n01 % m : m, m);
    if (n01 % m == 0)
        q = 1;
    Py_ssize_t G = SLAB * q / gcd_ss(SLAB, q); /* lcm(SLAB, q) */
    int nj = 0;
    Py_ssize_t prev = 0;
    for (int t = 0; t < nthreads; ++t) {
        Py_ssize_t kb = (t == nthreads - 1) ? g0->n2 : (g0->n2 * (t + 1) / nthreads) / G * G;
        if (kb <= prev)
            continue;
        GridJob *g = &jobs[nj];
        *g = *g0;
        g->k0 = prev;
        g->k1 = kb;
        g->p = p + (prev * n01 / m) * L;
        if (g->p > end)
            return 1;
        if (kb < g0->n2) {
            g->end = p + (kb * n01 / m) * L;
            if (g->end > end || g->end[-1] != '\n')
                return 1;
        } else {
            g->end = end;
        }
        if (g->p != p && g->p[-1] != '\n')
            return 1;
        prev = kb;
        ++nj;
    }
    return nj;
}

static PyObject *py_parse_grid(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bufobj, *outobj;
    Py_ssize_t offset, n0, n1, n2;
    double div;
    int nthreads = 1;
    if (!PyArg_ParseTuple(args, "OnOnnnd|i:parse_grid", &bufobj, &offset, &outobj, &n0, &n1,
                          &n2, &div, &nthreads))
        return NULL;
    Py_buffer in, out;
    if (PyObject_GetBuffer(bufobj, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    if (get_out(outobj, &out) < 0) {
        PyBuffer_Release(&in);
        return NULL;
    }
    if (offset < 0 || offset > in.len || n0 <= 0 || n1 <= 0 || n2 <= 0 ||
        out.len / 8 < n0 * n1 * n2) {
        PyErr_SetString(PyExc_ValueError, "parse_grid: bad offset, shape or output size");
        PyBuffer_Release(&out);
        PyBuffer_Release(&in);
        return NULL;
    }
    if (nthreads > 16)
        nthreads = 16;
    if (nthreads < 1)
        nthreads = 1;
    const unsigned char *base = (const unsigned char *)in.buf;
    const unsigned char *p = base + offset, *end = base + in.len;
    Py_ssize_t n01 = n0 * n1;
    Py_ssize_t slab = (n2 < SLAB ? n2 : SLAB) * n01;
    GridJob jobs[16];
    GridJob *g0 = &jobs[0];
    g0->p = p;
    g0->end = end;
    g0->out = (double *)out.buf;
    g0->scratch = NULL;
    g0->n0 = n0, g0->n1 = n1, g0->n2 = n2, g0->k0 = 0, g0->k1 = n2;
    g0->div = div;
    Py_ssize_t done = 0;
    int status = ST_OK, nomem = 0;
    const unsigned char *stop = p;
    Py_BEGIN_ALLOW_THREADS
    {
        int nj = plan_grid_jobs(jobs, nthreads, base, p, end);
        int ok = 0;
        if (nj > 1) {
            int alloc_ok = 1;
            for (int t = 0; t < nj; ++t) {
                jobs[t].scratch = (double *)malloc((size_t)slab * sizeof(double));
                alloc_ok &= jobs[t].scratch != NULL;
            }
#ifdef FF_THREADS
            if (alloc_ok) {
                pthread_t th[16];
                int started = 0;
                for (int t = 1; t < nj; ++t) {
                    if (pthread_create(&th[t], NULL, grid_thread, &jobs[t]) != 0)
                        break;
                    started = t;
                }
                run_grid_job(&jobs[0]);
                for (int t = 1; t <= started; ++t)
                    pthread_join(th[t], NULL);
                for (int t = started + 1; t < nj; ++t)
                    run_grid_job(&jobs[t]);
                ok = 1;
                for (int t = 0; t < nj && ok; ++t) {
                    GridJob *g = &jobs[t];
                    if (g->status != ST_OK) {
                        ok = 0;
                    } else if (t < nj - 1) {
                        const unsigned char *r = g->stop;
                        while (r < g->end && is_space(*r))
                            ++r;
                        ok = (r == g->end);
                    }
                }
                if (ok) {
                    done = n0 * n1 * n2;
                    stop = jobs[nj - 1].stop;
                }
            }
#endif
            for (int t = 0; t < nj; ++t)
                free(jobs[t].scratch);
        }
        if (!ok) { /* one job over everything: also reports errors at their exact place */
            g0->p = p;
            g0->end = end;
            g0->k0 = 0;
            g0->k1 = n2;
            g0->scratch = (double *)malloc((size_t)slab * sizeof(double));
            if (!g0->scratch) {
                nomem = 1;
            } else {
                run_grid_job(g0);
                free(g0->scratch);
                done = g0->done;
                status = g0->status;
                stop = g0->stop;
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&out);
    PyBuffer_Release(&in);
    if (nomem)
        return PyErr_NoMemory();
    return Py_BuildValue("(nni)", done, (Py_ssize_t)(stop - base), status);
}

static PyObject *py_skip(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *bufobj;
    Py_ssize_t offset, n;
    if (!PyArg_ParseTuple(args, "Onn:skip", &bufobj, &offset, &n))
        return NULL;
    Py_buffer in;
    if (PyObject_GetBuffer(bufobj, &in, PyBUF_SIMPLE) < 0)
        return NULL;
    if (offset < 0 || offset > in.len) {
        PyBuffer_Release(&in);
        PyErr_Format(PyExc_ValueError, "skip: offset %zd outside the buffer", offset);
        return NULL;
    }
    const unsigned char *p = (const unsigned char *)in.buf + offset;
    const unsigned char *end = (const unsigned char *)in.buf + in.len;
    Py_ssize_t i = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; i < n; ++i) {
        while (p < end && is_space(*p))
            ++p;
        if (p >= end)
            break;
        while (p < end && !is_space(*p))
            ++p;
    }
    Py_END_ALLOW_THREADS
    Py_ssize_t stop = (Py_ssize_t)(p - (const unsigned char *)in.buf);
    PyBuffer_Release(&in);
    return Py_BuildValue("(nn)", i, stop);
}

static PyObject *py_f2c(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *srcobj, *dstobj;
    Py_ssize_t n0, n1, n2;
    double div;
    if (!PyArg_ParseTuple(args, "OOnnnd:f2c", &srcobj, &dstobj, &n0, &n1, &n2, &div))
        return NULL;
    Py_buffer src, dst;
    if (PyObject_GetBuffer(srcobj, &src, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (get_out(dstobj, &dst) < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    if (n0 < 0 || n1 < 0 || n2 < 0 || src.len < n0 * n1 * n2 * 8 || dst.len < n0 * n1 * n2 * 8) {
        PyBuffer_Release(&src);
        PyBuffer_Release(&dst);
        PyErr_SetString(PyExc_ValueError, "f2c: buffers smaller than n0*n1*n2 float64");
        return NULL;
    }
    const double *s = (const double *)src.buf;
    double *d = (double *)dst.buf;
    Py_BEGIN_ALLOW_THREADS
    {
        /* for each k-plane: s[i + n0*j + n0*n1*k] -> d[(i*n1 + j)*n2 + k]; tile over (i, k)
         * with j in the middle so that both sides touch few cache lines per tile */
        const Py_ssize_t B = 16, n01 = n0 * n1;
        for (Py_ssize_t k0 = 0; k0 < n2; k0 += B) {
            Py_ssize_t k1 = k0 + B < n2 ? k0 + B : n2;
            for (Py_ssize_t j = 0; j < n1; ++j) {
                for (Py_ssize_t i0 = 0; i0 < n0; i0 += B) {
                    Py_ssize_t i1 = i0 + B < n0 ? i0 + B : n0;
                    if (div == 1.0) {
                        for (Py_ssize_t i = i0; i < i1; ++i) {
                            const double *sp = s + i + n0 * j;
                            double *dp = d + (i * n1 + j) * n2;
                            for (Py_ssize_t k = k0; k < k1; ++k)
                                dp[k] = sp[n01 * k];
                        }
                    } else {
                        for (Py_ssize_t i = i0; i < i1; ++i) {
                            const double *sp = s + i + n0 * j;
                            double *dp = d + (i * n1 + j) * n2;
                            for (Py_ssize_t k = k0; k < k1; ++k)
                                dp[k] = sp[n01 * k] / div;
                        }
                    }
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"parse_into", py_parse_into, METH_VARARGS,
     "parse_into(buf, offset, out, nthreads=1) -> (n_parsed, end_offset, status)"},
    {"parse_grid", py_parse_grid, METH_VARARGS,
     "parse_grid(buf, offset, out, n0, n1, n2, divisor, nthreads=1) -> (n_parsed, end, status)"},
    {"skip", py_skip, METH_VARARGS, "skip(buf, offset, n) -> (n_skipped, end_offset)"},
    {"f2c", py_f2c, METH_VARARGS,
     "f2c(src, dst, n0, n1, n2, divisor): Fortran-ordered src -> C-ordered dst / divisor"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_fastfloat",
    .m_doc = "Exact, fast parsing of whitespace-separated decimal floats (Fortran style too).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__fastfloat(void) { return PyModule_Create(&moduledef); }
