/*
 * test_special.c - the header's special-value table for softmax, log_softmax and logsumexp, on every
 * ISA available here, in each driver layout (rows: inner == 1; columns: unit inner stride, one pattern
 * per lane; generic: Fortran order; in place), for both dtypes:
 *   any NaN -> NaN (logsumexp NaN); all -inf -> NaN (logsumexp -inf); k entries +inf (no NaN) ->
 *   softmax 1/k there and exactly 0 elsewhere, log_softmax -log(k) / -inf, logsumexp +inf; -inf among
 *   finite values -> exactly 0 / -inf; finite inputs up to the largest finite value never overflow.
 * Also a long row (split over threads) with each special pattern, and thread counts 1 / 2 agreeing.
 */
#include "capi_test.h"

#define N_PATTERNS 16

/* fill slice values v[0..n) with pattern p (positions spread so that vector tails are hit) */
static void pattern(dtype t, int p, long double *v, ptrdiff_t n, capi_rng *r) {
    const long double H = dhuge(t);
    for (ptrdiff_t j = 0; j < n; j++) v[j] = (long double)(4.0 * capi_normal(r));
    ptrdiff_t a = n > 1 ? (ptrdiff_t)(capi_next(r) % (uint64_t)n) : 0;
    ptrdiff_t b = n > 1 ? (a + 1 + (ptrdiff_t)(capi_next(r) % (uint64_t)(n - 1))) % n : 0;
    switch (p) {
    case 1: v[a] = NAN; break;
    case 2: v[a] = INFINITY; break;
    case 3: v[a] = INFINITY, v[b] = INFINITY; break;
    case 4: for (ptrdiff_t j = 0; j < n; j++) v[j] = -INFINITY; break;
    case 5: v[a] = -INFINITY; break;
    case 6: v[a] = INFINITY, v[b] = NAN; break;
    case 7: v[a] = INFINITY, v[b] = -INFINITY; break;
    case 8: for (ptrdiff_t j = 0; j < n; j++) v[j] = INFINITY; break;
    case 9: v[a] = -INFINITY, v[b] = NAN; break;
    case 10: /* huge finite values of both signs: no overflow */
        for (ptrdiff_t j = 0; j < n; j++) v[j] = (j % 3 == 0) ? H : (j % 3 == 1 ? H * 0.5L : -H);
        break;
    case 11: for (ptrdiff_t j = 0; j < n; j++) v[j] = 1.25L; break; /* all equal */
    case 12: v[n - 1] = NAN; break;                                 /* in the tail */
    case 13: v[n - 1] = INFINITY; break;
    case 14: /* one finite value among -inf: softmax exactly 1 there */
        for (ptrdiff_t j = 0; j < n; j++) v[j] = j == a ? 3.0L : -INFINITY;
        break;
    case 15: for (ptrdiff_t j = 0; j < n; j++) v[j] = H; break; /* all the largest finite value */
    default: break;
    }
}

/* layout: 0 rows (outer, n, 1) C; 1 columns (outer, n, inner) C; 2 generic (Fortran); 3 in place C */
static void run(capi_op op, dtype t, const char *isa, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int layout,
                int nthreads, capi_rng *r) {
    const size_t es = dsize(t);
    static const char *const lname[4] = {"rows", "columns", "generic", "in-place"};
    capi_set_context("special %s %s isa=%s shape=(%td,%td,%td) %s nthreads=%d", op_name[op], dtype_name[t], isa, outer,
                     n, inner, lname[layout], nthreads);
    const int xl = layout == 2 ? LAY_F : LAY_C;
    capi_view xv = make_view(xl, outer, n, inner);
    const ptrdiff_t yn = op == OP_LOGSUMEXP ? 1 : n;
    capi_view yv = make_view(layout == 2 ? LAY_NEG : LAY_C, outer, yn, inner);
    if (layout == 3) yv = xv;
    void *xb = capi_alloc((size_t)xv.size * es);
    fill_sentinel(t, xb, xv.size);
    void *yb = layout == 3 ? xb : capi_alloc((size_t)yv.size * es);
    if (layout != 3) fill_sentinel(t, yb, yv.size);
    long double *all = capi_alloc(sizeof(long double) * (size_t)(outer * n * inner + 1));
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            long double *v = all + (o * inner + i) * n;
            pattern(t, (int)((o * inner + i) % N_PATTERNS), v, n, r);
            for (ptrdiff_t j = 0; j < n; j++) {
                ld_set(t, xb, vidx(&xv, o, j, i), v[j]);
                v[j] = ld_get(t, xb, vidx(&xv, o, j, i));
            }
        }
    CHECK_STATUS(call_strided(op, t, vbase(t, xb, &xv), vbase(t, yb, &yv), outer, n, inner, xv.s, yv.s, nthreads), FASTSOFTMAX_OK);
    CHECK_LAST_ISA(isa);
    long double *ref = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    int bad = 0;
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            const long double *v = all + (o * inner + i) * n;
            ref_slice(op, v, n, ref);
            for (ptrdiff_t j = 0; j < yn; j++) {
                ptrdiff_t at = op == OP_LOGSUMEXP ? yv.off + o * yv.s[0] + i * yv.s[2] : vidx(&yv, o, j, i);
                long double got = ld_get(t, yb, at);
                capi_checks++;
                if (!within_bound(op, t, got, ref[j]) && bad++ < 4)
                    capi_fail(__FILE__, __LINE__, "pattern %d at (%td,%td,%td): x=%Lg got %.21Lg, reference %.21Lg",
                              (int)((o * inner + i) % N_PATTERNS), o, j, i, n ? v[j] : 0.0L, got, ref[j]);
            }
        }
    free(ref);
    free(all);
    if (yb != xb) free(yb);
    free(xb);
}

/* one long row per pattern, 1 and 2 threads: same bits, and the table */
static void run_long(capi_op op, dtype t, const char *isa, ptrdiff_t n, capi_rng *r) {
    const size_t es = dsize(t);
    long double *v = capi_alloc(sizeof(long double) * (size_t)n);
    long double *ref = capi_alloc(sizeof(long double) * (size_t)n);
    void *x = capi_alloc((size_t)n * es);
    void *y1 = capi_alloc((size_t)n * es), *y2 = capi_alloc((size_t)n * es);
    for (int p = 0; p < N_PATTERNS; p++) {
        capi_set_context("special long row %s %s isa=%s n=%td pattern %d", op_name[op], dtype_name[t], isa, n, p);
        pattern(t, p, v, n, r);
        for (ptrdiff_t j = 0; j < n; j++) {
            ld_set(t, x, j, v[j]);
            v[j] = ld_get(t, x, j);
        }
        fill_sentinel(t, y1, n);
        fill_sentinel(t, y2, n);
        const ptrdiff_t s[3] = {n, 1, 1};
        CHECK_STATUS(call_strided(op, t, x, y1, 1, n, 1, s, s, 1), FASTSOFTMAX_OK);
        CHECK_STATUS(call_strided(op, t, x, y2, 1, n, 1, s, s, 2), FASTSOFTMAX_OK);
        CHECK_LAST_ISA(isa);
        CHECK(memcmp(y1, y2, (size_t)n * es) == 0, "nthreads 1 and 2 differ");
        ref_slice(op, v, n, ref);
        int bad = 0;
        for (ptrdiff_t j = 0; j < (op == OP_LOGSUMEXP ? 1 : n); j++) {
            long double got = ld_get(t, y2, j);
            capi_checks++;
            if (!within_bound(op, t, got, ref[j]) && bad++ < 3)
                capi_fail(__FILE__, __LINE__, "at %td: x=%Lg got %.21Lg, reference %.21Lg", j, v[j], got, ref[j]);
        }
    }
    free(v);
    free(ref);
    free(x);
    free(y1);
    free(y2);
}

int main(void) {
    capi_rng r = {0x243F6A8885A308D3ULL};
    static const ptrdiff_t ns[] = {1, 2, 3, 7, 8, 9, 16, 17, 33, 100, 257};
    int ran = 0;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        const char *isa = fastsoftmax_isa_name(ii);
        ran++;
        for (int t = 0; t < 2; t++)
            for (int op = 0; op < 3; op++) {
                for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
                    run((capi_op)op, (dtype)t, isa, 2 * N_PATTERNS, ns[k], 1, 0, 1, &r);      /* rows */
                    run((capi_op)op, (dtype)t, isa, 2, ns[k], 2 * N_PATTERNS + 3, 1, 1, &r);  /* columns */
                    run((capi_op)op, (dtype)t, isa, 1, ns[k], 130, 1, 1, &r);                 /* 2 column blocks */
                    run((capi_op)op, (dtype)t, isa, 3, ns[k], N_PATTERNS + 1, 2, 1, &r);      /* generic */
                    if (op != OP_LOGSUMEXP) run((capi_op)op, (dtype)t, isa, N_PATTERNS, ns[k], 2, 3, 1, &r);
                }
                run((capi_op)op, (dtype)t, isa, 2 * N_PATTERNS, 2000, 1, 0, 2, &r);
                run((capi_op)op, (dtype)t, isa, 2, 600, 2 * N_PATTERNS, 1, 2, &r);
                run_long((capi_op)op, (dtype)t, isa, 140000, &r); /* >= 2^17: split into chunks */
            }
    }
    restore_isa();
    capi_set_context("isa");
    CHECK(ran >= 1, "no ISA ran");
    return capi_report("test_special");
}
