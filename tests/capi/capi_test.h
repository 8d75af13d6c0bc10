/*
 * capi_test.h - shared machinery of the C API tests (tests/capi/test_*.c): check counters, a
 * deterministic generator, dtype-generic buffer access, strided views with padding, the long double
 * reference (with the header's special-value table) and the documented error bounds.
 *
 * Every test program prints its failures (the first ones in full) and a summary line, and exits 0 only
 * if every check passed.
 */
#ifndef CAPI_TEST_H
#define CAPI_TEST_H

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastsoftmax.h"

/* ------------------------------------------------------------------------------------------------ */
/* Checks */

static long capi_checks = 0, capi_failures = 0;
static char capi_context[512] = "";

static void capi_set_context(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(capi_context, sizeof capi_context, fmt, ap);
    va_end(ap);
}

static void capi_fail(const char *file, int line, const char *fmt, ...) {
    capi_failures++;
    if (capi_failures > 40) return;
    fprintf(stderr, "%s:%d: FAIL [%s]: ", file, line, capi_context);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        capi_checks++;                                                          \
        if (!(cond)) capi_fail(__FILE__, __LINE__, "(" #cond ") " __VA_ARGS__); \
    } while (0)

/* a status-returning call */
#define CHECK_STATUS(expr, want)                                                                  \
    do {                                                                                          \
        int capi_st_ = (expr);                                                                    \
        capi_checks++;                                                                            \
        if (capi_st_ != (want))                                                                   \
            capi_fail(__FILE__, __LINE__, "%s returned %d, expected %d", #expr, capi_st_, (want)); \
    } while (0)

static int capi_report(const char *name) {
    if (capi_failures > 40) fprintf(stderr, "... %ld failures in all\n", capi_failures);
    printf("%s: %ld checks, %ld failures [%s, openmp %d, %s]\n", name, capi_checks, capi_failures,
           fastsoftmax_version(), fastsoftmax_has_openmp(), fastsoftmax_compiler());
    if (capi_checks == 0) {
        printf("%s: no checks ran\n", name);
        return 1;
    }
    printf("%s\n", capi_failures ? "FAILED" : "PASSED");
    return capi_failures ? 1 : 0;
}

static void *capi_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ------------------------------------------------------------------------------------------------ */
/* Generator: xorshift64*, fixed seeds, no libc rand. */

typedef struct {
    uint64_t s;
} capi_rng;

static uint64_t capi_next(capi_rng *r) {
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}
static double capi_uniform(capi_rng *r) { return (double)(capi_next(r) >> 11) * (1.0 / 9007199254740992.0); }
static double capi_normal(capi_rng *r) {
    double u = capi_uniform(r), v = capi_uniform(r);
    if (u < 1e-300) u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ------------------------------------------------------------------------------------------------ */
/* dtypes */

typedef enum { F32 = 0, F64 = 1 } dtype;
static const char *const dtype_name[2] = {"f32", "f64"};
static size_t dsize(dtype t) { return t == F32 ? sizeof(float) : sizeof(double); }
static long double ld_get(dtype t, const void *b, ptrdiff_t i) {
    return t == F32 ? (long double)((const float *)b)[i] : (long double)((const double *)b)[i];
}
static void ld_set(dtype t, void *b, ptrdiff_t i, long double v) {
    if (t == F32) ((float *)b)[i] = (float)v;
    else ((double *)b)[i] = (double)v;
}
/* epsilon of the bounds (2^-23 / 2^-52) and the normal threshold (2^-126 / 2^-1022) */
static long double deps(dtype t) { return t == F32 ? ldexpl(1.0L, -23) : ldexpl(1.0L, -52); }
static long double dtiny(dtype t) { return t == F32 ? ldexpl(1.0L, -126) : ldexpl(1.0L, -1022); }
static long double dhuge(dtype t) { return t == F32 ? (long double)FLT_MAX : (long double)DBL_MAX; }

/* ------------------------------------------------------------------------------------------------ */
/* Operations */

typedef enum { OP_SOFTMAX = 0, OP_LOG_SOFTMAX = 1, OP_LOGSUMEXP = 2 } capi_op;
static const char *const op_name[3] = {"softmax", "log_softmax", "logsumexp"};

static int call_strided(capi_op op, dtype t, const void *x, void *y, ptrdiff_t outer, ptrdiff_t n,
                        ptrdiff_t inner, const ptrdiff_t *xs, const ptrdiff_t *ys, int nthreads) {
    if (t == F32) {
        const float *xf = (const float *)x;
        float *yf = (float *)y;
        switch (op) {
        case OP_SOFTMAX: return fastsoftmax_softmax_f32(xf, yf, outer, n, inner, xs, ys, nthreads);
        case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_f32(xf, yf, outer, n, inner, xs, ys, nthreads);
        default: return fastsoftmax_logsumexp_f32(xf, yf, outer, n, inner, xs, ys, nthreads);
        }
    }
    const double *xd = (const double *)x;
    double *yd = (double *)y;
    switch (op) {
    case OP_SOFTMAX: return fastsoftmax_softmax_f64(xd, yd, outer, n, inner, xs, ys, nthreads);
    case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_f64(xd, yd, outer, n, inner, xs, ys, nthreads);
    default: return fastsoftmax_logsumexp_f64(xd, yd, outer, n, inner, xs, ys, nthreads);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Reference: one slice in long double, following the header's special-value table. */

static void ref_slice(capi_op op, const long double *v, ptrdiff_t n, long double *out) {
    if (n == 0) {
        if (op == OP_LOGSUMEXP) out[0] = -INFINITY;
        return;
    }
    int has_nan = 0;
    ptrdiff_t k = 0;
    long double m = -INFINITY;
    for (ptrdiff_t j = 0; j < n; j++) {
        if (isnan(v[j])) has_nan = 1;
        else if (v[j] > m) m = v[j];
        if (v[j] == INFINITY) k++;
    }
    if (has_nan) {
        for (ptrdiff_t j = 0; j < (op == OP_LOGSUMEXP ? 1 : n); j++) out[j] = NAN;
        return;
    }
    if (m == -INFINITY) { /* all -inf */
        if (op == OP_LOGSUMEXP) out[0] = -INFINITY;
        else
            for (ptrdiff_t j = 0; j < n; j++) out[j] = NAN;
        return;
    }
    if (m == INFINITY) {
        if (op == OP_LOGSUMEXP) out[0] = INFINITY;
        else
            for (ptrdiff_t j = 0; j < n; j++) {
                if (op == OP_SOFTMAX) out[j] = v[j] == INFINITY ? 1.0L / (long double)k : 0.0L;
                else out[j] = v[j] == INFINITY ? -logl((long double)k) : -INFINITY;
            }
        return;
    }
    long double s = 0.0L;
    for (ptrdiff_t j = 0; j < n; j++) s += expl(v[j] - m);
    long double ls = logl(s);
    if (op == OP_LOGSUMEXP) out[0] = m + ls;
    else
        for (ptrdiff_t j = 0; j < n; j++) out[j] = op == OP_SOFTMAX ? expl(v[j] - m) / s : (v[j] - m) - ls;
}

/* The documented bound: 1 if got is acceptable for ref.  kind: OP_SOFTMAX (relative, absolute below
 * the normal threshold) or anything else (absolute, scaled by max(1, |ref|)).  NaN must match NaN,
 * infinities and exact zeros (softmax of -inf among finite values) must match exactly. */
static int within_bound(capi_op kind, dtype t, long double got, long double ref) {
    if (isnan(ref)) return isnan(got);
    if (isnan(got)) return 0;
    if (isinf(ref)) return got == ref;
    /* beyond the largest finite value (log_softmax of -max next to +max): +-inf is the rounded result */
    if (isinf(got)) return fabsl(ref) > dhuge(t) && (got > 0) == (ref > 0);
    if (kind == OP_SOFTMAX && ref == 0.0L) return got == 0.0L;
    long double err = fabsl(got - ref), e = 4.0L * deps(t);
    if (kind == OP_SOFTMAX) return ref >= dtiny(t) ? err <= e * ref : err <= dtiny(t);
    return err <= e * (fabsl(ref) > 1.0L ? fabsl(ref) : 1.0L);
}

/* ------------------------------------------------------------------------------------------------ */
/* Views: a (d0, d1, d2) strided view into a buffer of `size` elements starting at `off`. */

typedef struct {
    ptrdiff_t off, size;
    ptrdiff_t s[3];
} capi_view;

enum {
    LAY_C,       /* C-contiguous (outer, n, inner) */
    LAY_F,       /* Fortran order */
    LAY_NEG,     /* C order, n and inner reversed */
    LAY_NEGALL,  /* C order, every axis reversed */
    LAY_PAD,     /* every other element (a [..., ::2] view) */
    LAY_PADROWS, /* C order with padded rows (unit inner stride kept) */
    LAY_PERM1,   /* memory order (n, outer, inner) */
    LAY_PERM2,   /* memory order (n, inner, outer) */
    LAY_COUNT
};
static const char *const lay_name[LAY_COUNT] = {"C", "F", "neg", "negall", "pad2", "padrows", "perm-n-o-i",
                                                "perm-n-i-o"};

static capi_view make_view(int lay, ptrdiff_t d0, ptrdiff_t d1, ptrdiff_t d2) {
    capi_view v;
    ptrdiff_t *s = v.s;
    switch (lay) {
    case LAY_F: s[0] = 1, s[1] = d0, s[2] = d0 * d1; break;
    case LAY_NEG: s[0] = d1 * d2, s[1] = -d2, s[2] = -1; break;
    case LAY_NEGALL: s[0] = -d1 * d2, s[1] = -d2, s[2] = -1; break;
    case LAY_PAD: s[0] = 2 * d1 * d2 + 3, s[1] = 2 * d2, s[2] = 2; break;
    case LAY_PADROWS: s[0] = d1 * d2 + 5, s[1] = d2, s[2] = 1; break;
    case LAY_PERM1: s[0] = d2, s[1] = d0 * d2, s[2] = 1; break;
    case LAY_PERM2: s[0] = 1, s[1] = d0 * d2, s[2] = d0; break;
    default: s[0] = d1 * d2, s[1] = d2, s[2] = 1; break;
    }
    /* strides of extent-1 axes still count (they are what a caller would pass) */
    for (int k = 0; k < 3; k++)
        if (s[k] == 0) s[k] = 1;
    const ptrdiff_t d[3] = {d0, d1, d2};
    ptrdiff_t lo = 0, hi = 0;
    int empty = 0;
    for (int k = 0; k < 3; k++) {
        if (d[k] == 0) empty = 1;
        else if (s[k] < 0) lo += (d[k] - 1) * s[k];
        else hi += (d[k] - 1) * s[k];
    }
    v.off = empty ? 0 : -lo;
    v.size = empty ? 1 : hi - lo + 1 + 2; /* and 2 elements of slack after the end */
    return v;
}

static ptrdiff_t vidx(const capi_view *v, ptrdiff_t a, ptrdiff_t b, ptrdiff_t c) {
    return v->off + a * v->s[0] + b * v->s[1] + c * v->s[2];
}

/* the address of element (0, 0, 0) of a view in buffer b: what the library is given */
static void *vbase(dtype t, void *b, const capi_view *v) { return (char *)b + v->off * (ptrdiff_t)dsize(t); }

/* the byte pattern written around and under outputs: a NaN with a payload nobody computes */
static void fill_sentinel(dtype t, void *b, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i++) {
        if (t == F32) {
            uint32_t u = 0x7fa5a5a5u;
            memcpy((float *)b + i, &u, 4);
        } else {
            uint64_t u = 0x7ff5a5a5a5a5a5a5ULL;
            memcpy((double *)b + i, &u, 8);
        }
    }
}

/* Input distributions, chosen so that every kernel path sees ordinary, wide (underflowing exps and
 * subnormal softmax values) and offset (large common offset) slices. */
enum { DIST_NORMAL, DIST_WIDE, DIST_OFFSET, DIST_TIES, DIST_COUNT };
static const char *const dist_name[DIST_COUNT] = {"normal", "wide", "offset", "ties"};

static long double draw(capi_rng *r, dtype t, int dist) {
    switch (dist) {
    case DIST_WIDE: return (long double)((t == F32 ? -110.0 : -760.0) * capi_uniform(r));
    case DIST_OFFSET: return (long double)((t == F32 ? 3000.0 : -1.0e6) + 2.0 * capi_normal(r));
    case DIST_TIES: return (long double)(int)(4.0 * capi_uniform(r)); /* many equal maxima */
    default: return (long double)(3.0 * capi_normal(r));
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* ISAs */

static int isa_count(void) {
    int i = 0;
    while (fastsoftmax_isa_name(i)) i++;
    return i;
}

/* the best available ISA, restored after a test has forced others */
static const char *best_isa(void) {
    const char *best = "scalar";
    for (int i = 0; fastsoftmax_isa_name(i); i++)
        if (fastsoftmax_isa_available(fastsoftmax_isa_name(i))) best = fastsoftmax_isa_name(i);
    return best;
}

static void restore_isa(void) {
    CHECK_STATUS(fastsoftmax_set_max_isa(fastsoftmax_isa_name(isa_count() - 1)), FASTSOFTMAX_OK);
}

/* force ISA i; 0 if it is not available here (then set_isa must refuse it) */
static int force_isa(int i) {
    const char *name = fastsoftmax_isa_name(i);
    if (!fastsoftmax_isa_available(name)) {
        CHECK_STATUS(fastsoftmax_set_isa(name), FASTSOFTMAX_EINVAL);
        return 0;
    }
    CHECK_STATUS(fastsoftmax_set_isa(name), FASTSOFTMAX_OK);
    CHECK(strcmp(fastsoftmax_isa(), name) == 0, "isa() is %s after set_isa(%s)", fastsoftmax_isa(), name);
    return 1;
}

#define CHECK_LAST_ISA(name)                                                                      \
    CHECK(strcmp(fastsoftmax_last_isa(), (name)) == 0, "last_isa() is %s, expected %s", \
          fastsoftmax_last_isa(), (name))

#endif /* CAPI_TEST_H */
