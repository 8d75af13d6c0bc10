/*
 * test_ex.c - the loss-family functions of the C API, on every ISA available here, both dtypes:
 *   fastsoftmax_{softmax,log_softmax,logsumexp}_ex_*: scale and `where` masks (own strides, 0-stride
 *     broadcast over any axis, fully masked slices -> 0 / -inf / -inf, NaN / +inf in masked-out entries
 *     ignored, special values among the kept ones) against a long double reference on the exact
 *     s * (x - max); scale 1 without mask bit-identical to the plain functions; in place;
 *   fastsoftmax_cross_entropy_ex_*: class indices (weights, ignore_index, label smoothing) and
 *     probabilities (weights, smoothing), loss and gradient grad_scale * (A softmax - a) against long
 *     double, ignored samples 0 with a zero gradient row, xlogy (a zero coefficient at a -inf logit),
 *     EINDEX with bad_sample (nothing written), EINVAL for bad arguments and overlaps;
 *   fastsoftmax_{softmax,log_softmax}_backward_*: against long double, strided, in place (dx = dy,
 *     dx = y) bit-identical to out of place, partial overlap rejected;
 *   fastsoftmax_{sigmoid,log_sigmoid}_*: special values and sweeps against long double (relative
 *     4 eps where |ref| >= tiny), in place bit-identical, partial overlap rejected;
 * and thread counts 1 and 2 bit-identical throughout.
 */
#include "capi_test.h"

static long double ld_eps(dtype t) { return deps(t); }

/* ------------------------------------------------------------------------------------------------ */
/* Calls */

static int call_ex(capi_op op, dtype t, const void *x, void *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                   const ptrdiff_t *xs, const ptrdiff_t *ys, const unsigned char *w, const ptrdiff_t *ws,
                   double scale, int nthreads) {
    if (t == F32) {
        const float *a = x;
        float *b = y, s = (float)scale;
        switch (op) {
        case OP_SOFTMAX: return fastsoftmax_softmax_ex_f32(a, b, outer, n, inner, xs, ys, w, ws, s, nthreads);
        case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_ex_f32(a, b, outer, n, inner, xs, ys, w, ws, s, nthreads);
        default: return fastsoftmax_logsumexp_ex_f32(a, b, outer, n, inner, xs, ys, w, ws, s, nthreads);
        }
    }
    const double *a = x;
    double *b = y;
    switch (op) {
    case OP_SOFTMAX: return fastsoftmax_softmax_ex_f64(a, b, outer, n, inner, xs, ys, w, ws, scale, nthreads);
    case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_ex_f64(a, b, outer, n, inner, xs, ys, w, ws, scale, nthreads);
    default: return fastsoftmax_logsumexp_ex_f64(a, b, outer, n, inner, xs, ys, w, ws, scale, nthreads);
    }
}

static int call_ce_ex(dtype t, const void *x, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t *xs,
                      const int64_t *tg, const ptrdiff_t *ts, const void *prob, const ptrdiff_t *ps, const void *wt,
                      int64_t ignore, double eps, void *loss, const ptrdiff_t *ls, void *grad, const ptrdiff_t *gs,
                      double gscale, ptrdiff_t *bad, int nthreads) {
    if (t == F32)
        return fastsoftmax_cross_entropy_ex_f32(x, outer, n, inner, xs, tg, ts, prob, ps, wt, ignore, eps, loss, ls,
                                                grad, gs, gscale, bad, nthreads);
    return fastsoftmax_cross_entropy_ex_f64(x, outer, n, inner, xs, tg, ts, prob, ps, wt, ignore, eps, loss, ls, grad,
                                            gs, gscale, bad, nthreads);
}

static int call_bwd(int log, dtype t, const void *dy, const void *y, void *dx, ptrdiff_t outer, ptrdiff_t n,
                    ptrdiff_t inner, const ptrdiff_t *dys, const ptrdiff_t *ys, const ptrdiff_t *dxs, int nthreads) {
    if (t == F32)
        return log ? fastsoftmax_log_softmax_backward_f32(dy, y, dx, outer, n, inner, dys, ys, dxs, nthreads)
                   : fastsoftmax_softmax_backward_f32(dy, y, dx, outer, n, inner, dys, ys, dxs, nthreads);
    return log ? fastsoftmax_log_softmax_backward_f64(dy, y, dx, outer, n, inner, dys, ys, dxs, nthreads)
               : fastsoftmax_softmax_backward_f64(dy, y, dx, outer, n, inner, dys, ys, dxs, nthreads);
}

static int call_sig(int log, dtype t, const void *x, void *y, ptrdiff_t n, int nthreads) {
    if (t == F32)
        return log ? fastsoftmax_log_sigmoid_f32(x, y, n, nthreads) : fastsoftmax_sigmoid_f32(x, y, n, nthreads);
    return log ? fastsoftmax_log_sigmoid_f64(x, y, n, nthreads) : fastsoftmax_sigmoid_f64(x, y, n, nthreads);
}

/* ------------------------------------------------------------------------------------------------ */
/* Masked, scaled softmax family */

/* Reference of one slice: values v (as stored), keep flags, scale s; out per the header. */
static void ref_ex(capi_op op, const long double *v, const unsigned char *keep, ptrdiff_t n, long double s,
                   long double *out, long double *work) {
    ptrdiff_t nk = 0;
    int finite = 1;
    long double m = -INFINITY;
    for (ptrdiff_t j = 0; j < n; j++) {
        if (!keep[j]) continue;
        work[nk++] = v[j];
        if (isnan(v[j]) || v[j] == INFINITY) finite = 0;
        else if (v[j] > m) m = v[j];
    }
    if (m == -INFINITY) finite = 0;
    long double *kout = work + n;
    if (nk == 0) {
        if (op == OP_LOGSUMEXP) out[0] = -INFINITY;
        else
            for (ptrdiff_t j = 0; j < n; j++) out[j] = op == OP_SOFTMAX ? 0.0L : -INFINITY;
        return;
    }
    if (!finite) { /* the special-value rules on the kept entries; scaling changes nothing there */
        ref_slice(op, work, nk, kout);
    } else {
        long double S = 0;
        for (ptrdiff_t k = 0; k < nk; k++) {
            kout[k] = work[k] == -INFINITY ? -INFINITY : s * (work[k] - m); /* x - m exact for these inputs */
            S += expl(kout[k]);
        }
        long double L = logl(S);
        if (op == OP_LOGSUMEXP) kout[0] = s * m + L;
        else
            for (ptrdiff_t k = 0; k < nk; k++) kout[k] = op == OP_SOFTMAX ? expl(kout[k]) / S : kout[k] - L;
    }
    if (op == OP_LOGSUMEXP) {
        out[0] = kout[0];
        return;
    }
    for (ptrdiff_t j = 0, k = 0; j < n; j++) out[j] = keep[j] ? kout[k++] : (op == OP_SOFTMAX ? 0.0L : -INFINITY);
}

enum { M_NONE, M_FULL, M_BC_OUTER, M_BC_N, M_BC_INNER, M_BC_ALL, M_FLIP, M_COUNT };
static const char *const mask_name[M_COUNT] = {"none", "full", "bcast-outer", "bcast-n", "bcast-inner", "scalar",
                                               "full-reversed"};

/* A mask view over (outer, n, inner): strides and buffer size; nonzero bytes are random (never just 1). */
static void mask_strides(int mk, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, ptrdiff_t ws[3], ptrdiff_t *off,
                         ptrdiff_t *size) {
    ptrdiff_t s0 = n * inner, s1 = inner, s2 = 1;
    *off = 0;
    switch (mk) {
    case M_BC_OUTER: s0 = 0; break;
    case M_BC_N: s0 = inner, s1 = 0; break;
    case M_BC_INNER: s0 = n, s1 = 1, s2 = 0; break;
    case M_BC_ALL: s0 = s1 = s2 = 0; break;
    case M_FLIP: s0 = -n * inner, s1 = -inner, s2 = -1, *off = outer * n * inner - 1; break;
    default: break;
    }
    ws[0] = s0, ws[1] = s1, ws[2] = s2;
    *size = outer * n * inner + 1;
}

static void run_ex_case(capi_op op, dtype t, const char *isa, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int xlay,
                        int mk, double scale, int dist, int inplace, capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("%s_ex %s isa=%s shape=(%td,%td,%td) x=%s mask=%s scale=%g dist=%d%s", op_name[op],
                     dtype_name[t], isa, outer, n, inner, lay_name[xlay], mask_name[mk], scale, dist,
                     inplace ? " in-place" : "");
    const ptrdiff_t yn = op == OP_LOGSUMEXP ? 1 : n;
    capi_view xv = make_view(xlay, outer, n, inner);
    capi_view yv = inplace ? xv : make_view(xlay == LAY_C ? LAY_PADROWS : LAY_C, outer, yn, inner);
    ptrdiff_t ws[3], woff = 0, wsize = 1;
    unsigned char *wb = NULL;
    if (mk != M_NONE) {
        mask_strides(mk, outer, n, inner, ws, &woff, &wsize);
        wb = capi_alloc((size_t)wsize);
        for (ptrdiff_t k = 0; k < wsize; k++) wb[k] = capi_next(r) % 3 ? (unsigned char)(1 + capi_next(r) % 255) : 0;
        /* some slices fully masked (not with a broadcast over n, where a slice is one byte anyway) */
        if (mk == M_FULL)
            for (ptrdiff_t o = 0; o < outer; o++)
                for (ptrdiff_t i = 0; i < inner; i++)
                    if ((o * inner + i) % 4 == 1)
                        for (ptrdiff_t j = 0; j < n; j++) wb[woff + o * ws[0] + j * ws[1] + i * ws[2]] = 0;
        if (mk == M_BC_ALL) wb[0] = 7;
    }
    void *xb = capi_alloc((size_t)xv.size * es), *yb[2];
    fill_sentinel(t, xb, xv.size);
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            int sp = (int)((o * inner + i) % 6);
            for (ptrdiff_t j = 0; j < n; j++) {
                long double v = dist == 1 ? (t == F32 ? 1e4L : 1e4L) + (long double)capi_normal(r)
                                          : (long double)(3.0 * capi_normal(r));
                int kept = !wb || wb[woff + o * ws[0] + j * ws[1] + i * ws[2]];
                if (!kept && capi_next(r) % 2) v = (capi_next(r) % 2) ? NAN : INFINITY; /* must be ignored */
                if (dist == 2 && kept) { /* special values among the kept entries */
                    if (sp == 1 && j == n / 2) v = NAN;
                    if (sp == 2 && j % 3 == 0) v = INFINITY;
                    if (sp == 3) v = -INFINITY;
                    if (sp == 4 && j % 2) v = -INFINITY;
                }
                ld_set(t, xb, vidx(&xv, o, j, i), v);
            }
        }
    /* the input as stored, for the reference (in place overwrites it) */
    long double *vals = capi_alloc(sizeof(long double) * (size_t)(outer * n * inner + 1));
    unsigned char *keep = capi_alloc((size_t)(outer * n * inner + 1));
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++)
            for (ptrdiff_t j = 0; j < n; j++) {
                ptrdiff_t q = (o * inner + i) * n + j;
                vals[q] = ld_get(t, xb, vidx(&xv, o, j, i));
                keep[q] = !wb || wb[woff + o * ws[0] + j * ws[1] + i * ws[2]] != 0;
            }
    void *xcopy = NULL;
    if (inplace) {
        xcopy = capi_alloc((size_t)xv.size * es);
        memcpy(xcopy, xb, (size_t)xv.size * es);
    }
    const int nts[2] = {1, 2};
    for (int k = 0; k < 2; k++) {
        if (inplace) {
            yb[k] = capi_alloc((size_t)xv.size * es);
            memcpy(yb[k], xcopy, (size_t)xv.size * es);
        } else {
            yb[k] = capi_alloc((size_t)yv.size * es);
            fill_sentinel(t, yb[k], yv.size);
        }
        const void *xin = inplace ? yb[k] : xb;
        capi_view xin_v = xv;
        CHECK_STATUS(call_ex(op, t, vbase(t, (void *)xin, &xin_v), vbase(t, yb[k], &yv), outer, n, inner, xv.s, yv.s,
                             wb ? wb + woff : NULL, wb ? ws : NULL, scale, nts[k]),
                     FASTSOFTMAX_OK);
        if (outer * n * inner > 0 && (scale != 1 || wb)) CHECK_LAST_ISA(isa);
    }
    size_t ybytes = (size_t)(inplace ? xv.size : yv.size) * es;
    CHECK(memcmp(yb[0], yb[1], ybytes) == 0, "nthreads 1 and 2 differ");
    if (!inplace)
        for (ptrdiff_t o = 0; o < outer; o++) /* x untouched */
            for (ptrdiff_t i = 0; i < inner; i++)
                for (ptrdiff_t j = 0; j < n; j++) {
                    long double a = vals[(o * inner + i) * n + j], b = ld_get(t, xb, vidx(&xv, o, j, i));
                    if (!(a == b || (isnan(a) && isnan(b)))) {
                        CHECK(0, "x modified at (%td,%td,%td)", o, j, i);
                        o = outer, i = inner, j = n;
                    }
                }
    long double *ref = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    long double *work = capi_alloc(sizeof(long double) * (size_t)(2 * n + 2));
    int nbad = 0;
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            const ptrdiff_t q = (o * inner + i) * n;
            ref_ex(op, vals + q, keep + q, n, (long double)(t == F32 ? (long double)(float)scale : scale), ref, work);
            for (ptrdiff_t j = 0; j < yn; j++) {
                ptrdiff_t at = op == OP_LOGSUMEXP ? yv.off + o * yv.s[0] + i * yv.s[2] : vidx(&yv, o, j, i);
                long double got = ld_get(t, yb[0], at);
                capi_checks++;
                int ok = within_bound(op, t, got, ref[j]);
                if (!ok && nbad++ < 3)
                    capi_fail(__FILE__, __LINE__, "(%td,%td,%td): got %.21Lg, reference %.21Lg (x %.21Lg kept %d)", o,
                              j, i, got, ref[j], vals[q + (op == OP_LOGSUMEXP ? 0 : j)],
                              keep[q + (op == OP_LOGSUMEXP ? 0 : j)]);
            }
        }
    /* scale 1 without mask: the plain function, bit for bit */
    if (scale == 1 && !wb && !inplace) {
        void *p = capi_alloc((size_t)yv.size * es);
        fill_sentinel(t, p, yv.size);
        CHECK_STATUS(call_strided(op, t, vbase(t, xb, &xv), vbase(t, p, &yv), outer, n, inner, xv.s, yv.s, 1),
                     FASTSOFTMAX_OK);
        CHECK(memcmp(p, yb[0], ybytes) == 0, "scale 1 without mask differs from the plain function");
        free(p);
    }
    free(ref);
    free(work);
    free(vals);
    free(keep);
    free(xcopy);
    free(yb[0]);
    free(yb[1]);
    free(xb);
    free(wb);
}

static void ex_args(dtype t) {
    capi_set_context("ex arguments %s", dtype_name[t]);
    const size_t es = dsize(t);
    double xb[24] = {0}, yb[24];
    unsigned char w[12];
    memset(w, 1, sizeof w);
    const ptrdiff_t xs[3] = {4, 1, 1}, ws[3] = {4, 1, 1};
    const double bad_scales[] = {0.0, -1.0, INFINITY, -INFINITY, NAN};
    for (int op = 0; op < 3; op++) {
        for (int k = 0; k < 5; k++) {
            CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 3, 4, 1, xs, xs, NULL, NULL, bad_scales[k], 1),
                         FASTSOFTMAX_EINVAL);
            CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 3, 4, 1, xs, xs, w, ws, bad_scales[k], 1), FASTSOFTMAX_EINVAL);
        }
        CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 3, 4, 1, xs, xs, w, NULL, 2.0, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 3, 4, 1, xs, xs, w, ws, 2.0, -1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, -1, 4, 1, xs, xs, w, ws, 2.0, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_ex((capi_op)op, t, NULL, yb, 3, 4, 1, xs, xs, w, ws, 2.0, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_ex((capi_op)op, t, xb, NULL, 3, 4, 1, xs, xs, w, ws, 2.0, 1), FASTSOFTMAX_EINVAL);
        /* the mask overlapping y */
        CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 3, 4, 1, xs, xs, (unsigned char *)yb + 2, ws, 2.0, 1),
                     FASTSOFTMAX_EINVAL);
        /* x and y partially overlapping */
        CHECK_STATUS(call_ex((capi_op)op, t, xb, (char *)xb + es, 3, 4, 1, xs, xs, w, ws, 2.0, 1), FASTSOFTMAX_EINVAL);
        /* empty problems are fine */
        CHECK_STATUS(call_ex((capi_op)op, t, xb, yb, 0, 4, 1, xs, xs, w, ws, 2.0, 1), FASTSOFTMAX_OK);
    }
    /* n == 0: logsumexp -inf */
    const ptrdiff_t ys[3] = {1, 0, 1};
    double out[3];
    fill_sentinel(t, out, 3);
    CHECK_STATUS(call_ex(OP_LOGSUMEXP, t, xb, out, 3, 0, 1, xs, ys, w, ws, 2.0, 1), FASTSOFTMAX_OK);
    for (int k = 0; k < 3; k++) CHECK(ld_get(t, out, k) == -INFINITY, "logsumexp of nothing is not -inf");
}

/* Range edges: s (x - max) representable although x - max overflows (s < 1); s max beyond the range
 * (logsumexp +inf, not NaN); s x overflowing while s (x - max) does not (softmax still exact). */
static void ex_edges(dtype t, const char *isa) {
    capi_set_context("ex range edges %s isa=%s", dtype_name[t], isa);
    const long double H = dhuge(t);
    double xb[4], yb[4];
    const ptrdiff_t xs[3] = {2, 1, 1}, ys[3] = {1, 1, 1};
    /* {H, -H}, scale 1/8: log_softmax {0, -H/4}, softmax {1, 0}, logsumexp H/8 */
    ld_set(t, xb, 0, H);
    ld_set(t, xb, 1, -H);
    CHECK_STATUS(call_ex(OP_LOG_SOFTMAX, t, xb, yb, 1, 2, 1, xs, xs, NULL, NULL, 0.125, 1), FASTSOFTMAX_OK);
    CHECK_LAST_ISA(isa);
    CHECK(ld_get(t, yb, 0) == 0.0L && within_bound(OP_LOG_SOFTMAX, t, ld_get(t, yb, 1), -H / 4),
          "log_softmax_ex({max, -max}, 1/8) = {%.21Lg, %.21Lg}, expected {0, %.21Lg}", ld_get(t, yb, 0),
          ld_get(t, yb, 1), -H / 4);
    CHECK_STATUS(call_ex(OP_SOFTMAX, t, xb, yb, 1, 2, 1, xs, xs, NULL, NULL, 0.125, 1), FASTSOFTMAX_OK);
    CHECK(ld_get(t, yb, 0) == 1.0L && ld_get(t, yb, 1) == 0.0L, "softmax_ex({max, -max}, 1/8) = {%.21Lg, %.21Lg}",
          ld_get(t, yb, 0), ld_get(t, yb, 1));
    CHECK_STATUS(call_ex(OP_LOGSUMEXP, t, xb, yb, 1, 2, 1, xs, ys, NULL, NULL, 0.125, 1), FASTSOFTMAX_OK);
    CHECK(within_bound(OP_LOGSUMEXP, t, ld_get(t, yb, 0), H / 8), "logsumexp_ex({max, -max}, 1/8) = %.21Lg",
          ld_get(t, yb, 0));
    /* {H/2, H/2 - ulp-ish}, scale 4: s x overflows; softmax {~1/2, ~1/2}, logsumexp +inf */
    ld_set(t, xb, 0, H / 2);
    ld_set(t, xb, 1, H / 2);
    CHECK_STATUS(call_ex(OP_SOFTMAX, t, xb, yb, 1, 2, 1, xs, xs, NULL, NULL, 4.0, 1), FASTSOFTMAX_OK);
    CHECK(ld_get(t, yb, 0) == 0.5L && ld_get(t, yb, 1) == 0.5L, "softmax_ex({max/2, max/2}, 4) = {%.21Lg, %.21Lg}",
          ld_get(t, yb, 0), ld_get(t, yb, 1));
    CHECK_STATUS(call_ex(OP_LOGSUMEXP, t, xb, yb, 1, 2, 1, xs, ys, NULL, NULL, 4.0, 1), FASTSOFTMAX_OK);
    CHECK(ld_get(t, yb, 0) == INFINITY, "logsumexp_ex({max/2, max/2}, 4) = %.21Lg, expected +inf (beyond the range)",
          ld_get(t, yb, 0));
    CHECK_STATUS(call_ex(OP_LOG_SOFTMAX, t, xb, yb, 1, 2, 1, xs, xs, NULL, NULL, 4.0, 1), FASTSOFTMAX_OK);
    CHECK(within_bound(OP_LOG_SOFTMAX, t, ld_get(t, yb, 0), -logl(2.0L)),
          "log_softmax_ex({max/2, max/2}, 4)[0] = %.21Lg", ld_get(t, yb, 0));
}

/* ------------------------------------------------------------------------------------------------ */
/* Cross-entropy, general form */

typedef struct {
    ptrdiff_t outer, n, inner;
} shape3;

/* mode 0: class indices; 1: probabilities */
static void run_ce_case(dtype t, const char *isa, shape3 sh, int mode, int weighted, double eps, int64_t ignore,
                        int with_grad, double gscale, int xlay, int special, capi_rng *r) {
    const size_t es = dsize(t);
    const ptrdiff_t outer = sh.outer, n = sh.n, inner = sh.inner, ns = outer * inner;
    capi_set_context("cross_entropy_ex %s isa=%s shape=(%td,%td,%td) %s weighted=%d eps=%g ignore=%lld grad=%d "
                     "gscale=%g x=%s special=%d",
                     dtype_name[t], isa, outer, n, inner, mode ? "prob" : "index", weighted, eps, (long long)ignore,
                     with_grad, gscale, lay_name[xlay], special);
    capi_view xv = make_view(xlay, outer, n, inner), pv = make_view(xlay == LAY_C ? LAY_F : LAY_C, outer, n, inner);
    capi_view gv = make_view(xlay == LAY_F ? LAY_C : LAY_PAD, outer, n, inner);
    void *xb = capi_alloc((size_t)xv.size * es), *pb = NULL, *wb = NULL;
    fill_sentinel(t, xb, xv.size);
    int64_t *tg = NULL;
    const ptrdiff_t ts[2] = {inner, 1}, ls[2] = {inner * 2, 2};
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t j = 0; j < n; j++)
            for (ptrdiff_t i = 0; i < inner; i++) ld_set(t, xb, vidx(&xv, o, j, i), (long double)(3 * capi_normal(r)));
    if (weighted) {
        wb = capi_alloc((size_t)n * es);
        for (ptrdiff_t c = 0; c < n; c++) ld_set(t, wb, c, (long double)(0.25 + 2 * capi_uniform(r)));
    }
    if (mode == 0) {
        tg = capi_alloc(sizeof(int64_t) * (size_t)(ns + 1));
        for (ptrdiff_t k = 0; k < ns; k++) {
            tg[k] = (int64_t)(capi_next(r) % (uint64_t)n);
            if (ignore != FASTSOFTMAX_NO_IGNORE && k % 5 == 2) tg[k] = ignore;
        }
    } else {
        pb = capi_alloc((size_t)pv.size * es);
        fill_sentinel(t, pb, pv.size);
        for (ptrdiff_t o = 0; o < outer; o++)
            for (ptrdiff_t i = 0; i < inner; i++) {
                long double tot = 0, v[4097];
                for (ptrdiff_t j = 0; j < n; j++) tot += v[j] = capi_next(r) % 4 == 0 ? 0.0L : (long double)capi_uniform(r);
                for (ptrdiff_t j = 0; j < n; j++) ld_set(t, pb, vidx(&pv, o, j, i), tot > 0 ? v[j] / tot : 0.0L);
            }
    }
    if (special) /* xlogy: -inf logits where the coefficient is 0 (prob 0, no smoothing): finite loss */
        for (ptrdiff_t o = 0; o < outer; o++)
            for (ptrdiff_t i = 0; i < inner; i++)
                for (ptrdiff_t j = 0; j < n; j++) {
                    int zero = mode ? ld_get(t, pb, vidx(&pv, o, j, i)) == 0 : (tg[o * inner + i] != j);
                    if (zero && j % 2) ld_set(t, xb, vidx(&xv, o, j, i), -INFINITY);
                }
    void *lb[2], *gb[2];
    const ptrdiff_t lsize = ns * 2 + 2;
    const int nts[2] = {1, 2};
    for (int k = 0; k < 2; k++) {
        lb[k] = capi_alloc((size_t)lsize * es);
        fill_sentinel(t, lb[k], lsize);
        gb[k] = with_grad ? capi_alloc((size_t)gv.size * es) : NULL;
        if (gb[k]) fill_sentinel(t, gb[k], gv.size);
        ptrdiff_t bad = -7;
        CHECK_STATUS(call_ce_ex(t, vbase(t, xb, &xv), outer, n, inner, xv.s, tg, mode ? NULL : ts,
                                mode ? vbase(t, pb, &pv) : NULL, mode ? pv.s : NULL, wb, ignore, eps, lb[k], ls,
                                gb[k] ? vbase(t, gb[k], &gv) : NULL, gb[k] ? gv.s : NULL, gscale, &bad, nts[k]),
                     FASTSOFTMAX_OK);
        CHECK(bad == -7, "bad_sample written on success");
        if (ns * n > 0) CHECK_LAST_ISA(isa);
    }
    CHECK(memcmp(lb[0], lb[1], (size_t)lsize * es) == 0, "loss: nthreads 1 and 2 differ");
    if (with_grad) CHECK(memcmp(gb[0], gb[1], (size_t)gv.size * es) == 0, "grad: nthreads 1 and 2 differ");
    /* loss padding untouched */
    for (ptrdiff_t k = 1; k < lsize; k += 2) {
        unsigned char s[8];
        fill_sentinel(t, s, 1);
        if (memcmp((char *)lb[0] + k * (ptrdiff_t)es, s, es) != 0) {
            CHECK(0, "loss padding at %td written", k);
            break;
        }
    }
    long double *v = capi_alloc(sizeof(long double) * (size_t)n), *ls_ = capi_alloc(sizeof(long double) * (size_t)n);
    long double *sm = capi_alloc(sizeof(long double) * (size_t)n), *a = capi_alloc(sizeof(long double) * (size_t)n);
    const long double E = ld_eps(t), gsc = (long double)gscale;
    int nbad = 0;
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            const ptrdiff_t smp = o * inner + i;
            int ignored = mode == 0 && ignore != FASTSOFTMAX_NO_IGNORE && tg[smp] == ignore;
            for (ptrdiff_t j = 0; j < n; j++) v[j] = ld_get(t, xb, vidx(&xv, o, j, i));
            ref_slice(OP_LOG_SOFTMAX, v, n, ls_);
            ref_slice(OP_SOFTMAX, v, n, sm);
            long double A = 0, loss = 0, mag = 0;
            for (ptrdiff_t c = 0; c < n; c++) {
                long double w = wb ? ld_get(t, wb, c) : 1.0L;
                if (mode == 0)
                    a[c] = (1 - (long double)eps) * (c == tg[smp] ? w : 0.0L) + (long double)eps / (long double)n * w;
                else a[c] = w * ((1 - (long double)eps) * ld_get(t, pb, vidx(&pv, o, c, i)) + (long double)eps / (long double)n);
                if (ignored) a[c] = 0;
                A += a[c];
                if (a[c] != 0) {
                    loss += -a[c] * ls_[c];
                    mag += fabsl(a[c]) * (fabsl(ls_[c]) > 1 ? fabsl(ls_[c]) : 1.0L);
                }
            }
            long double got = ld_get(t, lb[0], smp * 2);
            capi_checks++;
            int ok = ignored ? got == 0.0L
                     : isinf(loss) ? got == loss
                                   : fabsl(got - loss) <= 4 * E * mag + E * fabsl(loss);
            if (!ok && nbad++ < 3)
                capi_fail(__FILE__, __LINE__, "sample (%td,%td)%s: loss %.21Lg, reference %.21Lg", o, i,
                          ignored ? " (ignored)" : "", got, loss);
            if (!with_grad) continue;
            for (ptrdiff_t c = 0; c < n; c++) {
                long double g = ld_get(t, gb[0], vidx(&gv, o, c, i)), want = ignored ? 0.0L : gsc * (A * sm[c] - a[c]);
                long double bound = 4 * E * fabsl(gsc) * (fabsl(A) * sm[c] + fabsl(a[c])) + fabsl(gsc * A) * dtiny(t);
                capi_checks++;
                int gok = ignored ? g == 0.0L : fabsl(g - want) <= bound;
                if (!gok && nbad++ < 3)
                    capi_fail(__FILE__, __LINE__, "sample (%td,%td) class %td%s: grad %.21Lg, reference %.21Lg", o, i, c,
                              ignored ? " (ignored)" : "", g, want);
            }
        }
    free(v);
    free(ls_);
    free(sm);
    free(a);
    for (int k = 0; k < 2; k++) {
        free(lb[k]);
        free(gb[k]);
    }
    free(xb);
    free(pb);
    free(wb);
    free(tg);
}

static void ce_errors(dtype t, const char *isa) {
    capi_set_context("cross_entropy_ex errors %s isa=%s", dtype_name[t], isa);
    const size_t es = dsize(t);
    enum { O = 6, N = 5 };
    double xb[O * N], pb[O * N], wt[N];
    const size_t gbytes = (O * N + 8) * sizeof(double), lbytes = (O + 8) * sizeof(double);
    double *gb = capi_alloc(gbytes), *lb = capi_alloc(lbytes);
    capi_rng r = {99};
    for (int k = 0; k < O * N; k++) {
        ld_set(t, xb, k, (long double)capi_normal(&r));
        ld_set(t, pb, k, 0.2L);
    }
    for (int k = 0; k < N; k++) ld_set(t, wt, k, 1.0L);
    int64_t tg[O] = {0, 1, 2, 3, 4, 0};
    const ptrdiff_t xs[3] = {N, 1, 1}, ts[2] = {1, 1}, ls[2] = {1, 1};
    ptrdiff_t bad = -7;
#define CE(x_, tg_, p_, w_, ign_, eps_, l_, g_, gsc_) \
    call_ce_ex(t, x_, O, N, 1, xs, tg_, ts, p_, xs, w_, ign_, eps_, l_, ls, g_, xs, gsc_, &bad, 1)
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.1, lb, gb, 1.0), FASTSOFTMAX_OK);
    /* label_smoothing outside [0, 1] or NaN; grad_scale not finite */
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, -0.1, lb, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 1.1, lb, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, NAN, lb, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, lb, gb, INFINITY), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, lb, gb, NAN), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 1.0, lb, gb, 1.0), FASTSOFTMAX_OK); /* eps = 1 is allowed */
    /* both targets and probabilities; neither */
    CHECK_STATUS(CE(xb, tg, pb, wt, -100, 0.0, lb, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, NULL, NULL, wt, -100, 0.0, lb, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, NULL, pb, wt, -100, 0.0, lb, gb, 1.0), FASTSOFTMAX_OK);
    /* missing strides, null outputs, negative sizes / threads */
    CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, tg, NULL, NULL, NULL, NULL, -100, 0, lb, ls, NULL, NULL, 1, &bad, 1),
                 FASTSOFTMAX_EINVAL);
    CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, NULL, NULL, pb, NULL, NULL, -100, 0, lb, ls, NULL, NULL, 1, &bad, 1),
                 FASTSOFTMAX_EINVAL);
    CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, tg, ts, NULL, NULL, NULL, -100, 0, lb, ls, gb, NULL, 1, &bad, 1),
                 FASTSOFTMAX_EINVAL);
    CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, tg, ts, NULL, NULL, NULL, -100, 0, NULL, ls, NULL, NULL, 1, &bad, 1),
                 FASTSOFTMAX_EINVAL);
    CHECK_STATUS(call_ce_ex(t, xb, -1, N, 1, xs, tg, ts, NULL, NULL, NULL, -100, 0, lb, ls, NULL, NULL, 1, &bad, 1),
                 FASTSOFTMAX_EINVAL);
    CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, tg, ts, NULL, NULL, NULL, -100, 0, lb, ls, NULL, NULL, 1, &bad, -1),
                 FASTSOFTMAX_EINVAL);
    /* overlapping outputs: grad over loss, loss over x, grad over x, grad over prob, loss over target/prob */
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, gb + 3, gb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, xb + 2, NULL, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, lb, xb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, lb, (char *)xb + 2 * es, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, NULL, pb, wt, -100, 0.0, lb, pb, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, NULL, pb, wt, -100, 0.0, pb + 1, NULL, 1.0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, (void *)tg, NULL, 1.0), FASTSOFTMAX_EINVAL);
    /* grad over the targets (the gradient rows would overwrite later samples' targets), and over the
     * weights */
    {
        int64_t tg2[O * N + 8];
        for (int k = 0; k < O * N + 8; k++) tg2[k] = k % N;
        CHECK_STATUS(CE(xb, tg2, NULL, wt, -100, 0.0, lb, (void *)tg2, 1.0), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, lb, (void *)wt, 1.0), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(CE(xb, tg, NULL, wt, -100, 0.0, (void *)wt, NULL, 1.0), FASTSOFTMAX_EINVAL);
    }

    /* EINDEX: bad_sample is the first bad flat index; nothing written (loss nor grad) */
    unsigned char *lbefore = capi_alloc(lbytes), *gbefore = capi_alloc(gbytes);
    memset(lb, 0xA5, lbytes); /* a byte pattern nobody computes */
    memset(gb, 0xA5, gbytes);
    memcpy(lbefore, lb, lbytes);
    memcpy(gbefore, gb, gbytes);
    const int64_t bads[4] = {N, -1, -100, INT64_MAX};
    for (int k = 0; k < 4; k++) {
        int64_t t2[O] = {0, 1, 2, 3, 4, 0};
        t2[4] = bads[k];
        t2[5] = -3;
        bad = -7;
        int64_t ign = bads[k] == -100 ? FASTSOFTMAX_NO_IGNORE : -100;
        CHECK_STATUS(CE(xb, t2, NULL, wt, ign, 0.2, lb, gb, 1.0), FASTSOFTMAX_EINDEX);
        CHECK(bad == 4, "bad_sample %td, expected 4 (target %lld)", bad, (long long)bads[k]);
        CHECK(memcmp(lb, lbefore, lbytes) == 0 && memcmp(gb, gbefore, gbytes) == 0, "written despite EINDEX");
        CHECK_STATUS(call_ce_ex(t, xb, O, N, 1, xs, t2, ts, NULL, NULL, wt, ign, 0.2, lb, ls, gb, xs, 1, NULL, 2),
                     FASTSOFTMAX_EINDEX); /* bad_sample may be NULL */
    }
    /* the ignore index inside [0, n): that class's samples ignored */
    {
        int64_t t3[O] = {2, 1, 2, 3, 2, 0};
        CHECK_STATUS(CE(xb, t3, NULL, wt, 2, 0.3, lb, gb, 2.0), FASTSOFTMAX_OK);
        for (int s = 0; s < O; s++) {
            if (t3[s] != 2) continue;
            CHECK(ld_get(t, lb, s) == 0.0L, "ignored sample %d: loss not 0", s);
            for (int c = 0; c < N; c++) CHECK(ld_get(t, gb, s * N + c) == 0.0L, "ignored sample %d: grad not 0", s);
        }
    }
#undef CE
    free(lbefore);
    free(gbefore);
    free(lb);
    free(gb);
}

/* ------------------------------------------------------------------------------------------------ */
/* Backward */

static void run_bwd_case(int log, dtype t, const char *isa, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, int lay,
                         capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("%s_backward %s isa=%s shape=(%td,%td,%td) layout=%s", log ? "log_softmax" : "softmax",
                     dtype_name[t], isa, outer, n, inner, lay_name[lay]);
    capi_view v = make_view(lay, outer, n, inner), dv = make_view(lay == LAY_C ? LAY_PAD : LAY_C, outer, n, inner);
    void *dyb = capi_alloc((size_t)v.size * es), *yb = capi_alloc((size_t)v.size * es);
    fill_sentinel(t, dyb, v.size);
    fill_sentinel(t, yb, v.size);
    long double *x = capi_alloc(sizeof(long double) * (size_t)n), *y = capi_alloc(sizeof(long double) * (size_t)n);
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            for (ptrdiff_t j = 0; j < n; j++) x[j] = (long double)(3 * capi_normal(r));
            if (n > 2 && (o + i) % 3 == 1) x[1] = -INFINITY;
            ref_slice(log ? OP_LOG_SOFTMAX : OP_SOFTMAX, x, n, y);
            for (ptrdiff_t j = 0; j < n; j++) {
                ld_set(t, yb, vidx(&v, o, j, i), y[j] > 0 ? 0.0L : y[j]);
                ld_set(t, dyb, vidx(&v, o, j, i), (long double)capi_normal(r));
            }
        }
    void *out[4];
    /* 0, 1: out of place with 1 and 2 threads; 2: dx = dy; 3: dx = y */
    for (int k = 0; k < 4; k++) {
        const int nt = k == 1 ? 2 : 1;
        if (k < 2) {
            out[k] = capi_alloc((size_t)dv.size * es);
            fill_sentinel(t, out[k], dv.size);
            CHECK_STATUS(call_bwd(log, t, vbase(t, dyb, &v), vbase(t, yb, &v), vbase(t, out[k], &dv), outer, n, inner,
                                  v.s, v.s, dv.s, nt),
                         FASTSOFTMAX_OK);
        } else {
            void *dyc = capi_alloc((size_t)v.size * es), *yc = capi_alloc((size_t)v.size * es);
            memcpy(dyc, dyb, (size_t)v.size * es);
            memcpy(yc, yb, (size_t)v.size * es);
            void *dx = k == 2 ? dyc : yc;
            CHECK_STATUS(call_bwd(log, t, vbase(t, dyc, &v), vbase(t, yc, &v), vbase(t, dx, &v), outer, n, inner, v.s,
                                  v.s, v.s, 1),
                         FASTSOFTMAX_OK);
            out[k] = dx;
            free(k == 2 ? yc : dyc);
        }
        if (outer * n * inner > 0) CHECK_LAST_ISA(isa);
    }
    CHECK(memcmp(out[0], out[1], (size_t)dv.size * es) == 0, "nthreads 1 and 2 differ");
    int nbad = 0;
    const long double E = ld_eps(t);
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            long double c = 0, cmag = 0;
            for (ptrdiff_t j = 0; j < n; j++) {
                long double dy = ld_get(t, dyb, vidx(&v, o, j, i)), yy = ld_get(t, yb, vidx(&v, o, j, i));
                c += log ? dy : dy * yy;
                cmag += log ? fabsl(dy) : fabsl(dy * yy);
            }
            for (ptrdiff_t j = 0; j < n; j++) {
                long double dy = ld_get(t, dyb, vidx(&v, o, j, i)), yy = ld_get(t, yb, vidx(&v, o, j, i));
                long double want = log ? dy - expl(yy) * c : yy * (dy - c);
                long double bound = log ? 4 * E * (fabsl(dy) + expl(yy) * cmag) + dtiny(t) * cmag
                                        : 4 * E * fabsl(yy) * (fabsl(dy) + cmag) + dtiny(t);
                long double g = ld_get(t, out[0], vidx(&dv, o, j, i));
                capi_checks++;
                if (!(fabsl(g - want) <= bound) && nbad++ < 3)
                    capi_fail(__FILE__, __LINE__, "(%td,%td,%td): dx %.21Lg, reference %.21Lg (y %.21Lg dy %.21Lg)", o,
                              j, i, g, want, yy, dy);
                /* in place: the same bits as out of place */
                long double g2 = ld_get(t, out[2], vidx(&v, o, j, i)), g3 = ld_get(t, out[3], vidx(&v, o, j, i));
                capi_checks++;
                if (!(g2 == g && g3 == g) && nbad++ < 3)
                    capi_fail(__FILE__, __LINE__, "(%td,%td,%td): in place dx %.21Lg (dx = dy) %.21Lg (dx = y), out of "
                              "place %.21Lg", o, j, i, g2, g3, g);
            }
        }
    for (int k = 0; k < 4; k++) free(out[k]);
    free(dyb);
    free(yb);
    free(x);
    free(y);
}

static void bwd_args(dtype t) {
    capi_set_context("backward arguments %s", dtype_name[t]);
    const size_t es = dsize(t);
    double a[16] = {0}, b[16] = {0}, c[16];
    const ptrdiff_t s[3] = {4, 1, 1};
    for (int log = 0; log < 2; log++) {
        CHECK_STATUS(call_bwd(log, t, a, b, (char *)a + es, 2, 4, 1, s, s, s, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, a, b, (char *)b + es, 2, 4, 1, s, s, s, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, NULL, b, c, 2, 4, 1, s, s, s, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, a, b, c, 2, -4, 1, s, s, s, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, a, b, c, 2, 4, 1, s, s, NULL, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, a, b, c, 2, 4, 1, s, s, s, -1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_bwd(log, t, a, b, c, 0, 4, 1, s, s, s, 1), FASTSOFTMAX_OK);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* sigmoid, log_sigmoid */

static void ref_sig(long double x, long double *sg, long double *lsg) {
    if (isnan(x)) {
        *sg = *lsg = NAN;
        return;
    }
    long double e = isinf(x) ? 0.0L : expl(-fabsl(x));
    *sg = x >= 0 ? 1 / (1 + e) : e / (1 + e);
    *lsg = (x < 0 ? x : 0.0L) - log1pl(e);
}

static int sig_ok(dtype t, long double got, long double ref) {
    if (isnan(ref)) return isnan(got);
    if (isinf(ref) || ref == 0) return got == ref;
    if (!isfinite(got)) return 0;
    long double a = fabsl(ref), err = fabsl(got - ref);
    return a >= dtiny(t) ? err <= 4 * deps(t) * a : err <= dtiny(t);
}

static void run_sig(dtype t, const char *isa, ptrdiff_t n, int sweep, capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("sigmoid %s isa=%s n=%td sweep=%d", dtype_name[t], isa, n, sweep);
    static const long double sp[] = {0.0L, -0.0L, 1, -1, 20, -20, 87.3L, -87.3L, 88.8L, -88.8L, 104.5L, -104.5L,
                                     708.3L, -708.3L, 745.2L, -745.2L, 1000, -1000, 1e30L, -1e30L, 1e300L, -1e300L,
                                     1e-30L, -1e-30L, INFINITY, -INFINITY, NAN};
    const int nsp = (int)(sizeof sp / sizeof sp[0]);
    void *x = capi_alloc((size_t)n * es), *y[3];
    for (ptrdiff_t i = 0; i < n; i++) {
        long double v;
        if (sweep == 0) v = sp[i % nsp];
        else if (sweep == 1) v = (t == F32 ? -110.0L : -760.0L) * (1 - 2 * (long double)i / (long double)(n - 1));
        else v = (capi_next(r) & 1 ? 1 : -1) * ldexpl((long double)capi_uniform(r), (int)(capi_next(r) % 40) - 20);
        ld_set(t, x, i, v);
    }
    if (sweep == 0 && n > 0) ld_set(t, x, n - 1, dhuge(t));
    for (int log = 0; log < 2; log++) {
        /* 1 thread, 2 threads, in place */
        for (int k = 0; k < 3; k++) {
            y[k] = capi_alloc((size_t)n * es + es);
            if (k == 2) memcpy(y[k], x, (size_t)n * es);
            else fill_sentinel(t, y[k], n + 1);
            CHECK_STATUS(call_sig(log, t, k == 2 ? y[k] : x, y[k], n, k == 1 ? 2 : 1), FASTSOFTMAX_OK);
            if (n > 0) CHECK_LAST_ISA(isa);
        }
        CHECK(memcmp(y[0], y[1], (size_t)(n + 1) * es) == 0, "%s: nthreads 1 and 2 differ", log ? "log_sigmoid" : "sigmoid");
        CHECK(memcmp(y[0], y[2], (size_t)n * es) == 0, "%s: in place differs", log ? "log_sigmoid" : "sigmoid");
        int nbad = 0;
        for (ptrdiff_t i = 0; i < n; i++) {
            long double xv = ld_get(t, x, i), sg, lsg;
            ref_sig(xv, &sg, &lsg);
            long double got = ld_get(t, y[0], i), ref = log ? lsg : sg;
            capi_checks++;
            if (!sig_ok(t, got, ref) && nbad++ < 3)
                capi_fail(__FILE__, __LINE__, "%s(%.21Lg) = %.21Lg, reference %.21Lg", log ? "log_sigmoid" : "sigmoid",
                          xv, got, ref);
        }
        for (int k = 0; k < 3; k++) free(y[k]);
    }
    free(x);
}

static void sig_args(dtype t) {
    capi_set_context("sigmoid arguments %s", dtype_name[t]);
    const size_t es = dsize(t);
    double a[16] = {0};
    for (int log = 0; log < 2; log++) {
        CHECK_STATUS(call_sig(log, t, a, (char *)a + es, 8, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_sig(log, t, (char *)a + es, a, 8, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_sig(log, t, NULL, a, 8, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_sig(log, t, a, a, -1, 1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_sig(log, t, a, a, 8, -1), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(call_sig(log, t, NULL, NULL, 0, 1), FASTSOFTMAX_OK);
        CHECK_STATUS(call_sig(log, t, a, (char *)a + 8 * es, 8, 1), FASTSOFTMAX_OK); /* adjacent, not overlapping */
    }
}

/* ------------------------------------------------------------------------------------------------ */

int main(void) {
    capi_rng r = {0x1234ABCD5678EF01ULL};
    static const double scales[] = {1.0, 0.125, 3.7, 1e-3, 1e3};
    static const shape3 shapes[] = {{1, 1, 1}, {3, 7, 1}, {2, 33, 5}, {4, 100, 1}, {2, 9, 130}, {1, 4097, 1}, {8, 1000, 5}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    int ran = 0;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        const char *isa = fastsoftmax_isa_name(ii);
        ran++;
        int rot = 0;
        for (int t = 0; t < 2; t++) {
            const dtype dt = (dtype)t;
            /* masked / scaled */
            for (int s = 0; s < nshapes; s++)
                for (int mk = 0; mk < M_COUNT; mk++)
                    for (int op = 0; op < 3; op++, rot++) {
                        static const int lays[4] = {LAY_C, LAY_F, LAY_NEG, LAY_PAD};
                        int xl = lays[rot % 4], dist = rot % 3;
                        double sc = scales[(rot / 3) % 5];
                        if (shapes[s].outer * shapes[s].n * shapes[s].inner > 20000 && rot % 2) continue;
                        run_ex_case((capi_op)op, dt, isa, shapes[s].outer, shapes[s].n, shapes[s].inner, xl, mk, sc,
                                    dist, 0, &r);
                        if (op != OP_LOGSUMEXP && rot % 3 == 0)
                            run_ex_case((capi_op)op, dt, isa, shapes[s].outer, shapes[s].n, shapes[s].inner, LAY_C, mk,
                                        scales[(rot + 1) % 5], 0, 1, &r);
                    }
            /* every scale with a large offset, where s * x rounded first would fail */
            for (int k = 0; k < 5; k++)
                for (int op = 0; op < 3; op++)
                    run_ex_case((capi_op)op, dt, isa, 3, 70, 1, LAY_C, k % 2 ? M_FULL : M_NONE, scales[k], 1, 0, &r);
            ex_args(dt);
            ex_edges(dt, isa);

            /* cross-entropy */
            static const shape3 ces[] = {{5, 3, 1}, {3, 17, 2}, {40, 10, 1}, {2, 1000, 3}, {300, 120, 1}};
            static const double epss[] = {0.0, 0.1, 1.0};
            static const int64_t igns[] = {-100, FASTSOFTMAX_NO_IGNORE, 1};
            int k = 0;
            for (int s = 0; s < 5; s++)
                for (int mode = 0; mode < 2; mode++)
                    for (int wtd = 0; wtd < 2; wtd++, k++) {
                        static const int lays[3] = {LAY_C, LAY_F, LAY_PERM2};
                        run_ce_case(dt, isa, ces[s], mode, wtd, epss[k % 3], igns[k % 3], k % 4 != 3, k % 2 ? 0.5 : 1.0,
                                    lays[k % 3], 0, &r);
                        if (ces[s].n > 2)
                            run_ce_case(dt, isa, ces[s], mode, wtd, 0.0, -100, 1, 2.0, LAY_C, 1, &r);
                    }
            ce_errors(dt, isa);

            /* backward */
            static const shape3 bws[] = {{1, 1, 1}, {3, 7, 1}, {2, 33, 5}, {4, 1000, 1}, {2, 9, 130}, {40, 1000, 1}};
            for (int s = 0; s < 6; s++)
                for (int log = 0; log < 2; log++) {
                    static const int lays[4] = {LAY_C, LAY_F, LAY_NEG, LAY_PERM1};
                    run_bwd_case(log, dt, isa, bws[s].outer, bws[s].n, bws[s].inner, lays[(s + log) % 4], &r);
                }
            bwd_args(dt);

            /* sigmoid */
            run_sig(dt, isa, 0, 0, &r);
            run_sig(dt, isa, 1, 0, &r);
            run_sig(dt, isa, 61, 0, &r);
            run_sig(dt, isa, 20001, 1, &r);
            run_sig(dt, isa, 100003, 2, &r);
            sig_args(dt);
        }
    }
    restore_isa();
    capi_set_context("isa");
    CHECK(ran >= 1, "no ISA ran");
    return capi_report("test_ex");
}
