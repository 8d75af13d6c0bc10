/*
 * test_rows.c - the contiguous-rows forms fastsoftmax_{softmax,log_softmax,logsumexp}_rows_{f32,f64}:
 * on every ISA available here, against the long double reference, bit-identical to the strided form
 * with C-contiguous strides, in place, thread counts 1 / 2 / 0 bit-identical, and the slack after the
 * output untouched.
 */
#include "capi_test.h"

static int call_rows(capi_op op, dtype t, const void *x, void *y, ptrdiff_t rows, ptrdiff_t n, int nthreads) {
    if (t == F32) {
        const float *xf = (const float *)x;
        float *yf = (float *)y;
        switch (op) {
        case OP_SOFTMAX: return fastsoftmax_softmax_rows_f32(xf, yf, rows, n, nthreads);
        case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_rows_f32(xf, yf, rows, n, nthreads);
        default: return fastsoftmax_logsumexp_rows_f32(xf, yf, rows, n, nthreads);
        }
    }
    const double *xd = (const double *)x;
    double *yd = (double *)y;
    switch (op) {
    case OP_SOFTMAX: return fastsoftmax_softmax_rows_f64(xd, yd, rows, n, nthreads);
    case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_rows_f64(xd, yd, rows, n, nthreads);
    default: return fastsoftmax_logsumexp_rows_f64(xd, yd, rows, n, nthreads);
    }
}

static void run_rows(capi_op op, dtype t, const char *isa, ptrdiff_t rows, ptrdiff_t n, int dist, capi_rng *r) {
    const size_t es = dsize(t);
    const ptrdiff_t total = rows * n, ytotal = op == OP_LOGSUMEXP ? rows : rows * n;
    const ptrdiff_t slack = 8;
    capi_set_context("%s_rows %s isa=%s rows=%td n=%td %s", op_name[op], dtype_name[t], isa, rows, n, dist_name[dist]);
    void *x = capi_alloc((size_t)(total + 1) * es);
    for (ptrdiff_t k = 0; k < total; k++) ld_set(t, x, k, draw(r, t, dist));
    void *y[4];
    for (int k = 0; k < 4; k++) {
        y[k] = capi_alloc((size_t)(ytotal + slack) * es);
        fill_sentinel(t, y[k], ytotal + slack);
    }
    const int nts[3] = {1, 2, 0};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(call_rows(op, t, x, y[k], rows, n, nts[k]), FASTSOFTMAX_OK);
        if (rows > 0 && (n > 0 || op == OP_LOGSUMEXP)) CHECK_LAST_ISA(isa);
    }
    const ptrdiff_t xs[3] = {n, 1, 1}, ys[3] = {op == OP_LOGSUMEXP ? 1 : n, 1, 1};
    CHECK_STATUS(call_strided(op, t, x, y[3], rows, n, 1, xs, ys, 1), FASTSOFTMAX_OK);
    const size_t bytes = (size_t)(ytotal + slack) * es;
    CHECK(memcmp(y[0], y[1], bytes) == 0, "nthreads 1 and 2 differ");
    CHECK(memcmp(y[0], y[2], bytes) == 0, "nthreads 1 and 0 differ");
    CHECK(memcmp(y[0], y[3], bytes) == 0, "rows form differs from the strided form");

    /* in place (softmax, log_softmax): a copy of x overwritten by its result */
    void *xi = capi_alloc((size_t)(total + 1) * es);
    memcpy(xi, x, (size_t)total * es);
    if (op != OP_LOGSUMEXP) CHECK_STATUS(call_rows(op, t, xi, xi, rows, n, 2), FASTSOFTMAX_OK);

    long double *v = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    long double *ref = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    int bad = 0;
    for (ptrdiff_t o = 0; o < rows; o++) {
        for (ptrdiff_t j = 0; j < n; j++) v[j] = ld_get(t, x, o * n + j);
        ref_slice(op, v, n, ref);
        for (ptrdiff_t j = 0; j < (op == OP_LOGSUMEXP ? 1 : n); j++) {
            long double got = ld_get(t, y[0], op == OP_LOGSUMEXP ? o : o * n + j);
            capi_checks++;
            if (!within_bound(op, t, got, ref[j]) && bad++ < 3)
                capi_fail(__FILE__, __LINE__, "row %td col %td: got %.21Lg, reference %.21Lg", o, j, got, ref[j]);
            if (op != OP_LOGSUMEXP) {
                got = ld_get(t, xi, o * n + j);
                capi_checks++;
                if (!within_bound(op, t, got, ref[j]) && bad++ < 3)
                    capi_fail(__FILE__, __LINE__, "in place: row %td col %td: got %.21Lg, reference %.21Lg", o, j,
                              got, ref[j]);
            }
        }
    }
    /* slack after the output untouched */
    void *s = capi_alloc((size_t)slack * es);
    fill_sentinel(t, s, slack);
    CHECK(memcmp((char *)y[0] + (size_t)ytotal * es, s, (size_t)slack * es) == 0, "slack after the output written");
    free(s);
    free(xi);
    free(v);
    free(ref);
    for (int k = 0; k < 4; k++) free(y[k]);
    free(x);
}

int main(void) {
    capi_rng r = {0xD1B54A32D192ED03ULL};
    static const ptrdiff_t sizes[][2] = {{1, 1},   {1, 7},   {3, 8},    {5, 31},  {4, 64},   {2, 65},  {7, 100},
                                         {3, 257}, {2, 1000}, {1, 4099}, {0, 5},   {4, 0},    {80, 1000}, {40000, 3},
                                         {1, 140000}, {2, 131072}};
    const int nsizes = (int)(sizeof sizes / sizeof sizes[0]);
    int ran = 0;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        ran++;
        for (int t = 0; t < 2; t++)
            for (int op = 0; op < 3; op++)
                for (int s = 0; s < nsizes; s++)
                    run_rows((capi_op)op, (dtype)t, fastsoftmax_isa_name(ii), sizes[s][0], sizes[s][1],
                             (s + op) % DIST_COUNT, &r);
    }
    restore_isa();
    capi_set_context("isa");
    CHECK(ran >= 1, "no ISA ran");
    return capi_report("test_rows");
}
