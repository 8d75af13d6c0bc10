/*
 * test_strided.c - fastsoftmax_{softmax,log_softmax,logsumexp}_{f32,f64} over strided (outer, n, inner)
 * views, on every ISA available here, against the long double reference with the header's bounds:
 * last / middle / first axis, negative strides, Fortran order, permuted and padded inputs, strided and
 * reversed outputs, in place; padding around the output must stay untouched and padding inside the
 * input is NaN (a kernel that reads it poisons its slice).  Then thread counts 1, 2 and 0 must give
 * bit-identical results on problems large enough to be split.
 */
#include "capi_test.h"

typedef struct {
    ptrdiff_t outer, n, inner;
} shape;

static const shape shapes[] = {
    {1, 1, 1},  {2, 3, 1},  {3, 17, 1},  {2, 64, 1},   {2, 1000, 1}, {1, 4099, 1}, {3, 5, 3},
    {2, 33, 130}, {2, 7, 129}, {1, 129, 5}, {4, 1, 7},   {5, 16, 2},   {2, 0, 3},    {0, 5, 3},
    {3, 5, 0},  {1, 0, 1},
};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

/* one call and its full check; ylay < 0: in place (y is x with the same strides) */
static void run_case(capi_op op, dtype t, const char *isa, shape sh, int xlay, int ylay, int dist, capi_rng *r,
                     int nthreads) {
    const ptrdiff_t outer = sh.outer, n = sh.n, inner = sh.inner;
    const size_t es = dsize(t);
    capi_set_context("%s %s isa=%s shape=(%td,%td,%td) x=%s y=%s %s nthreads=%d", op_name[op], dtype_name[t], isa,
                     outer, n, inner, lay_name[xlay], ylay < 0 ? "in-place" : lay_name[ylay], dist_name[dist],
                     nthreads);

    capi_view xv = make_view(xlay, outer, n, inner);
    void *xb = capi_alloc((size_t)xv.size * es);
    fill_sentinel(t, xb, xv.size);
    long double *xin = capi_alloc(sizeof(long double) * (size_t)(outer * n * inner + 1));
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t j = 0; j < n; j++)
            for (ptrdiff_t i = 0; i < inner; i++) {
                ptrdiff_t k = (o * n + j) * inner + i;
                ld_set(t, xb, vidx(&xv, o, j, i), draw(r, t, dist));
                xin[k] = ld_get(t, xb, vidx(&xv, o, j, i)); /* the value as stored */
            }

    const ptrdiff_t yn = op == OP_LOGSUMEXP ? 1 : n;
    capi_view yv;
    void *yb;
    if (ylay < 0) {
        yv = xv;
        yb = xb;
    } else {
        yv = make_view(ylay, outer, yn, inner);
        if (op == OP_LOGSUMEXP) yv.s[1] = 12345; /* ignored */
        yb = capi_alloc((size_t)yv.size * es);
        fill_sentinel(t, yb, yv.size);
    }
    unsigned char *ybefore = capi_alloc((size_t)yv.size * es);
    memcpy(ybefore, yb, (size_t)yv.size * es);
    unsigned char *written = calloc((size_t)yv.size, 1);

    CHECK_STATUS(call_strided(op, t, vbase(t, xb, &xv), vbase(t, yb, &yv), outer, n, inner, xv.s, yv.s, nthreads), FASTSOFTMAX_OK);
    if (outer > 0 && inner > 0 && (n > 0 || op == OP_LOGSUMEXP)) CHECK_LAST_ISA(isa);

    long double *v = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    long double *ref = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    int reported = 0;
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            for (ptrdiff_t j = 0; j < n; j++) v[j] = xin[(o * n + j) * inner + i];
            ref_slice(op, v, n, ref);
            for (ptrdiff_t j = 0; j < yn; j++) {
                ptrdiff_t at = op == OP_LOGSUMEXP ? yv.off + o * yv.s[0] + i * yv.s[2] : vidx(&yv, o, j, i);
                written[at] = 1;
                long double got = ld_get(t, yb, at);
                capi_checks++;
                if (!within_bound(op, t, got, ref[j]) && reported++ < 3)
                    capi_fail(__FILE__, __LINE__, "at (%td,%td,%td): got %.21Lg, reference %.21Lg (x=%.17Lg)", o, j,
                              i, got, ref[j], n ? v[j] : 0.0L);
            }
        }
    /* nothing outside the output view (padding, slack, x's padding when in place) may change */
    ptrdiff_t changed = 0, first = -1;
    for (ptrdiff_t k = 0; k < yv.size; k++)
        if (!written[k] && memcmp(ybefore + (size_t)k * es, (unsigned char *)yb + (size_t)k * es, es) != 0) {
            if (first < 0) first = k;
            changed++;
        }
    CHECK(changed == 0, "%td elements outside the output view were written (first at buffer index %td)", changed,
          first);

    free(v);
    free(ref);
    free(written);
    free(ybefore);
    if (yb != xb) free(yb);
    free(xb);
    free(xin);
}

/* thread counts 1, 2 and 0 (the default) give bit-identical outputs */
static void run_threads(capi_op op, dtype t, const char *isa, shape sh, int xlay, int ylay, capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("threads %s %s isa=%s shape=(%td,%td,%td) x=%s y=%s", op_name[op], dtype_name[t], isa, sh.outer,
                     sh.n, sh.inner, lay_name[xlay], lay_name[ylay]);
    capi_view xv = make_view(xlay, sh.outer, sh.n, sh.inner);
    capi_view yv = make_view(ylay, sh.outer, op == OP_LOGSUMEXP ? 1 : sh.n, sh.inner);
    void *xb = capi_alloc((size_t)xv.size * es);
    fill_sentinel(t, xb, xv.size);
    for (ptrdiff_t o = 0; o < sh.outer; o++)
        for (ptrdiff_t j = 0; j < sh.n; j++)
            for (ptrdiff_t i = 0; i < sh.inner; i++) ld_set(t, xb, vidx(&xv, o, j, i), draw(r, t, DIST_NORMAL));
    void *y[3];
    const int nts[3] = {1, 2, 0};
    for (int k = 0; k < 3; k++) {
        y[k] = capi_alloc((size_t)yv.size * es);
        fill_sentinel(t, y[k], yv.size);
        CHECK_STATUS(call_strided(op, t, vbase(t, xb, &xv), vbase(t, y[k], &yv), sh.outer, sh.n, sh.inner, xv.s, yv.s,
                                  nts[k]), FASTSOFTMAX_OK);
        CHECK_LAST_ISA(isa);
    }
    CHECK(memcmp(y[0], y[1], (size_t)yv.size * es) == 0, "nthreads 1 and 2 differ");
    CHECK(memcmp(y[0], y[2], (size_t)yv.size * es) == 0, "nthreads 1 and 0 (default) differ");
    for (int k = 0; k < 3; k++) free(y[k]);
    free(xb);
}

int main(void) {
    capi_rng r = {0x9E3779B97F4A7C15ULL};
    int ran_isas = 0;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        const char *isa = fastsoftmax_isa_name(ii);
        ran_isas++;
        int rot = 0;
        for (int t = 0; t < 2; t++)
            for (int op = 0; op < 3; op++)
                for (int s = 0; s < N_SHAPES; s++)
                    for (int xl = 0; xl < LAY_COUNT; xl++) {
                        /* every x layout against two output layouts (rotating) and in place */
                        for (int k = 0; k < 3; k++) {
                            int yl = k == 2 ? -1 : (xl + 1 + 3 * k + rot) % LAY_COUNT;
                            if (yl < 0 && op == OP_LOGSUMEXP) yl = LAY_C;
                            int dist = (s + xl + k + rot) % DIST_COUNT;
                            run_case((capi_op)op, (dtype)t, isa, shapes[s], xl, yl, dist, &r, (k == 1) ? 2 : 1);
                        }
                        rot++;
                    }
        /* problems big enough to be split over 2 threads, in each driver layout (rows, columns, generic) */
        const shape big[] = {{64, 1000, 1}, {4, 300, 130}, {1, 140000, 1}, {300, 200, 1}, {3, 131073, 1}};
        for (int t = 0; t < 2; t++)
            for (int op = 0; op < 3; op++) {
                run_threads((capi_op)op, (dtype)t, isa, big[0], LAY_C, LAY_C, &r);
                run_threads((capi_op)op, (dtype)t, isa, big[1], LAY_C, LAY_PADROWS, &r);
                run_threads((capi_op)op, (dtype)t, isa, big[1], LAY_F, LAY_NEG, &r);
                run_threads((capi_op)op, (dtype)t, isa, big[2], LAY_C, LAY_C, &r);
                run_threads((capi_op)op, (dtype)t, isa, big[3], LAY_PERM2, LAY_PAD, &r);
                run_threads((capi_op)op, (dtype)t, isa, big[4], LAY_PADROWS, LAY_C, &r); /* long rows, split */
            }
    }
    restore_isa();
    capi_set_context("isa");
    CHECK(ran_isas >= 1, "no ISA ran");
    CHECK(strcmp(fastsoftmax_isa(), best_isa()) == 0, "isa() %s after restore, best %s", fastsoftmax_isa(),
          best_isa());
    printf("ISAs tested: %d (best %s)\n", ran_isas, best_isa());
    return capi_report("test_strided");
}
