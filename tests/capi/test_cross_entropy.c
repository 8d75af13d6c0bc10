/*
 * test_cross_entropy.c - fastsoftmax_cross_entropy_{f32,f64} and the _rows_ forms, on every ISA available
 * here: against -log_softmax[t] in long double (the log_softmax bound), strided logits / targets /
 * losses (reversed, padded, Fortran, broadcast targets), ignore_index (outside and inside [0, n)),
 * FASTSOFTMAX_NO_IGNORE, EINDEX with bad_sample (the first bad flat index, also with 2 threads, and no
 * loss written), n == 0, special values, and thread counts 1 / 2 / 0 bit-identical.
 */
#include "capi_test.h"

static int call_ce(dtype t, const void *x, const int64_t *tg, void *loss, ptrdiff_t outer, ptrdiff_t n,
                   ptrdiff_t inner, const ptrdiff_t *xs, const ptrdiff_t *ts, const ptrdiff_t *ls, int64_t ignore,
                   ptrdiff_t *bad, int nthreads) {
    if (t == F32)
        return fastsoftmax_cross_entropy_f32((const float *)x, tg, (float *)loss, outer, n, inner, xs, ts, ls, ignore,
                                             bad, nthreads);
    return fastsoftmax_cross_entropy_f64((const double *)x, tg, (double *)loss, outer, n, inner, xs, ts, ls, ignore,
                                         bad, nthreads);
}

static int call_ce_rows(dtype t, const void *x, const int64_t *tg, void *loss, ptrdiff_t rows, ptrdiff_t n,
                        int64_t ignore, ptrdiff_t *bad, int nthreads) {
    if (t == F32)
        return fastsoftmax_cross_entropy_rows_f32((const float *)x, tg, (float *)loss, rows, n, ignore, bad, nthreads);
    return fastsoftmax_cross_entropy_rows_f64((const double *)x, tg, (double *)loss, rows, n, ignore, bad, nthreads);
}

/* 2-D (outer, inner) views for targets and losses */
typedef struct {
    ptrdiff_t off, size, s[2];
} view2;
enum { V2_C, V2_F, V2_NEG, V2_PAD, V2_BCAST, V2_COUNT };
static const char *const v2_name[V2_COUNT] = {"C", "F", "neg", "pad3", "bcast"};
static view2 make_view2(int lay, ptrdiff_t d0, ptrdiff_t d1) {
    view2 v;
    switch (lay) {
    case V2_F: v.s[0] = 1, v.s[1] = d0; break;
    case V2_NEG: v.s[0] = -d1, v.s[1] = -1; break;
    case V2_PAD: v.s[0] = 3 * d1 + 1, v.s[1] = 3; break;
    case V2_BCAST: v.s[0] = 0, v.s[1] = 0; break; /* targets only */
    default: v.s[0] = d1, v.s[1] = 1; break;
    }
    ptrdiff_t lo = 0, hi = 0;
    for (int k = 0; k < 2; k++) {
        ptrdiff_t d = k ? d1 : d0;
        if (d > 0 && v.s[k] < 0) lo += (d - 1) * v.s[k];
        else if (d > 0) hi += (d - 1) * v.s[k];
    }
    v.off = -lo;
    v.size = hi - lo + 3;
    return v;
}
static ptrdiff_t v2idx(const view2 *v, ptrdiff_t a, ptrdiff_t b) { return v->off + a * v->s[0] + b * v->s[1]; }

/* the reference loss of one slice: 0 when ignored, else -log_softmax[t] */
static long double ref_loss(const long double *v, ptrdiff_t n, int64_t tg, int64_t ignore, long double *work) {
    if (ignore != FASTSOFTMAX_NO_IGNORE && tg == ignore) return 0.0L;
    ref_slice(OP_LOG_SOFTMAX, v, n, work);
    return -work[tg];
}

typedef struct {
    ptrdiff_t outer, n, inner;
} shape;

/* A full strided case: random targets (some ignored), checked against the reference; loss padding kept. */
static void run_case(dtype t, const char *isa, shape sh, int xlay, int tlay, int llay, int64_t ignore, int dist,
                     int special, capi_rng *r, int nthreads) {
    const ptrdiff_t outer = sh.outer, n = sh.n, inner = sh.inner;
    const size_t es = dsize(t);
    capi_set_context("cross_entropy %s isa=%s shape=(%td,%td,%td) x=%s t=%s loss=%s ignore=%lld %s special=%d "
                     "nthreads=%d",
                     dtype_name[t], isa, outer, n, inner, lay_name[xlay], v2_name[tlay], v2_name[llay],
                     (long long)ignore, dist_name[dist], special, nthreads);
    capi_view xv = make_view(xlay, outer, n, inner);
    view2 tv = make_view2(tlay, outer, inner), lv = make_view2(llay, outer, inner);
    void *xb = capi_alloc((size_t)xv.size * es);
    fill_sentinel(t, xb, xv.size);
    int64_t *tb = capi_alloc(sizeof(int64_t) * (size_t)tv.size);
    for (ptrdiff_t k = 0; k < tv.size; k++) tb[k] = 0x7eadbeef; /* padding: an out-of-range class */
    void *lb = capi_alloc((size_t)lv.size * es);
    fill_sentinel(t, lb, lv.size);
    unsigned char *lbefore = capi_alloc((size_t)lv.size * es);
    memcpy(lbefore, lb, (size_t)lv.size * es);

    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            int64_t tg = n ? (int64_t)(capi_next(r) % (uint64_t)n) : ignore; /* n == 0: all ignored */
            if (ignore != FASTSOFTMAX_NO_IGNORE && capi_next(r) % 5 == 0) tg = ignore;
            if (tlay != V2_BCAST || (o == 0 && i == 0)) tb[v2idx(&tv, o, i)] = tg;
            for (ptrdiff_t j = 0; j < n; j++) {
                long double val = draw(r, t, dist);
                if (special) { /* special slices: per sample pattern */
                    ptrdiff_t tt = tb[v2idx(&tv, o, i)];
                    switch ((o * inner + i) % 7) {
                    case 1: if (j == n / 2) val = NAN; break;
                    case 2: val = -INFINITY; break;
                    case 3: if (j == tt || j == 0) val = INFINITY; break;     /* t among the +inf */
                    case 4: if (j != tt && j == (tt + 1) % n) val = INFINITY; break; /* t not among them */
                    case 5: if (j == tt) val = -INFINITY; break;               /* x[t] = -inf */
                    case 6: if (j != tt) val = -INFINITY; break;               /* only x[t] finite: loss 0 */
                    default: break;
                    }
                }
                ld_set(t, xb, vidx(&xv, o, j, i), val);
            }
        }

    ptrdiff_t bad = -7;
    CHECK_STATUS(call_ce(t, vbase(t, xb, &xv), tb + tv.off, (char *)lb + lv.off * (ptrdiff_t)es, outer, n, inner, xv.s,
                         tv.s, lv.s, ignore, &bad, nthreads), FASTSOFTMAX_OK);
    CHECK(bad == -7, "bad_sample written (%td) on success", bad);
    if (outer > 0 && inner > 0 && n > 0) CHECK_LAST_ISA(isa);

    unsigned char *written = calloc((size_t)lv.size, 1);
    long double *v = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    long double *work = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    int nbad = 0;
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            for (ptrdiff_t j = 0; j < n; j++) v[j] = ld_get(t, xb, vidx(&xv, o, j, i));
            int64_t tg = tb[v2idx(&tv, o, i)];
            long double ref = ref_loss(v, n, tg, ignore, work);
            ptrdiff_t at = v2idx(&lv, o, i);
            written[at] = 1;
            long double got = ld_get(t, lb, at);
            capi_checks++;
            /* an ignored sample is exactly 0; otherwise the log_softmax bound */
            int ok = ref == 0.0L && ignore != FASTSOFTMAX_NO_IGNORE && tg == ignore ? got == 0.0L
                                                                                    : within_bound(OP_LOG_SOFTMAX, t, got, ref);
            if (!ok && nbad++ < 3)
                capi_fail(__FILE__, __LINE__, "sample (%td,%td) target %lld: got %.21Lg, reference %.21Lg", o, i,
                          (long long)tg, got, ref);
        }
    ptrdiff_t changed = 0;
    for (ptrdiff_t k = 0; k < lv.size; k++)
        if (!written[k] && memcmp(lbefore + (size_t)k * es, (unsigned char *)lb + (size_t)k * es, es) != 0) changed++;
    CHECK(changed == 0, "%td elements outside the loss view were written", changed);
    free(written);
    free(v);
    free(work);
    free(lbefore);
    free(lb);
    free(tb);
    free(xb);
}

/* EINDEX: the first bad sample (flat o * inner + i) is reported and no loss is written */
static void run_bad(dtype t, const char *isa, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t *bads,
                    int nb, int64_t badval, int64_t ignore, int nthreads, int rows_form) {
    const size_t es = dsize(t);
    capi_set_context("cross_entropy EINDEX %s%s isa=%s shape=(%td,%td,%td) bad=%lld ignore=%lld nthreads=%d",
                     rows_form ? "rows " : "", dtype_name[t], isa, outer, n, inner, (long long)badval,
                     (long long)ignore, nthreads);
    const ptrdiff_t ns = outer * inner;
    void *x = capi_alloc((size_t)(outer * n * inner + 1) * es);
    capi_rng r = {42};
    for (ptrdiff_t k = 0; k < outer * n * inner; k++) ld_set(t, x, k, draw(&r, t, DIST_NORMAL));
    int64_t *tg = capi_alloc(sizeof(int64_t) * (size_t)(ns + 1));
    for (ptrdiff_t k = 0; k < ns; k++) tg[k] = n ? (int64_t)(k % n) : ignore;
    ptrdiff_t first = -1;
    for (int b = 0; b < nb; b++) {
        tg[bads[b]] = badval;
        if (first < 0 || bads[b] < first) first = bads[b];
    }
    void *loss = capi_alloc((size_t)(ns + 4) * es);
    fill_sentinel(t, loss, ns + 4);
    void *before = capi_alloc((size_t)(ns + 4) * es);
    memcpy(before, loss, (size_t)(ns + 4) * es);
    const ptrdiff_t xs[3] = {n * inner, inner, 1}, ts[2] = {inner, 1}, ls[2] = {inner, 1};
    ptrdiff_t bad = -7;
    int st = rows_form ? call_ce_rows(t, x, tg, loss, outer, n, ignore, &bad, nthreads)
                       : call_ce(t, x, tg, loss, outer, n, inner, xs, ts, ls, ignore, &bad, nthreads);
    CHECK(st == FASTSOFTMAX_EINDEX, "status %d, expected EINDEX", st);
    CHECK(bad == first, "bad_sample %td, expected %td", bad, first);
    CHECK(memcmp(loss, before, (size_t)(ns + 4) * es) == 0, "loss written despite EINDEX");
    /* bad_sample may be NULL */
    st = rows_form ? call_ce_rows(t, x, tg, loss, outer, n, ignore, NULL, nthreads)
                   : call_ce(t, x, tg, loss, outer, n, inner, xs, ts, ls, ignore, NULL, nthreads);
    CHECK(st == FASTSOFTMAX_EINDEX, "status %d with bad_sample NULL, expected EINDEX", st);
    CHECK(memcmp(loss, before, (size_t)(ns + 4) * es) == 0, "loss written despite EINDEX (bad_sample NULL)");
    free(before);
    free(loss);
    free(tg);
    free(x);
}

/* rows form == strided form with C strides (bitwise), thread counts bit-identical, reference */
static void run_rows(dtype t, const char *isa, ptrdiff_t rows, ptrdiff_t n, int64_t ignore, int dist, capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("cross_entropy_rows %s isa=%s rows=%td n=%td ignore=%lld %s", dtype_name[t], isa, rows, n,
                     (long long)ignore, dist_name[dist]);
    void *x = capi_alloc((size_t)(rows * n + 1) * es);
    for (ptrdiff_t k = 0; k < rows * n; k++) ld_set(t, x, k, draw(r, t, dist));
    int64_t *tg = capi_alloc(sizeof(int64_t) * (size_t)(rows + 1));
    for (ptrdiff_t k = 0; k < rows; k++) {
        tg[k] = n ? (int64_t)(capi_next(r) % (uint64_t)n) : ignore;
        if (ignore != FASTSOFTMAX_NO_IGNORE && k % 7 == 3) tg[k] = ignore;
    }
    void *l[4];
    const int nts[3] = {1, 2, 0};
    for (int k = 0; k < 4; k++) {
        l[k] = capi_alloc((size_t)(rows + 4) * es);
        fill_sentinel(t, l[k], rows + 4);
    }
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(call_ce_rows(t, x, tg, l[k], rows, n, ignore, NULL, nts[k]), FASTSOFTMAX_OK);
        if (rows > 0 && n > 0) CHECK_LAST_ISA(isa);
    }
    const ptrdiff_t xs[3] = {n, 1, 1}, ts[2] = {1, 1}, ls[2] = {1, 1};
    CHECK_STATUS(call_ce(t, x, tg, l[3], rows, n, 1, xs, ts, ls, ignore, NULL, 1), FASTSOFTMAX_OK);
    const size_t bytes = (size_t)(rows + 4) * es;
    CHECK(memcmp(l[0], l[1], bytes) == 0, "nthreads 1 and 2 differ");
    CHECK(memcmp(l[0], l[2], bytes) == 0, "nthreads 1 and 0 differ");
    CHECK(memcmp(l[0], l[3], bytes) == 0, "rows form differs from the strided form");
    long double *v = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    long double *work = capi_alloc(sizeof(long double) * (size_t)(n + 1));
    int nbad = 0;
    for (ptrdiff_t o = 0; o < rows; o++) {
        for (ptrdiff_t j = 0; j < n; j++) v[j] = ld_get(t, x, o * n + j);
        long double ref = ref_loss(v, n, tg[o], ignore, work), got = ld_get(t, l[0], o);
        capi_checks++;
        if (!within_bound(OP_LOG_SOFTMAX, t, got, ref) && nbad++ < 3)
            capi_fail(__FILE__, __LINE__, "row %td target %lld: got %.21Lg, reference %.21Lg", o, (long long)tg[o], got,
                      ref);
    }
    free(v);
    free(work);
    for (int k = 0; k < 4; k++) free(l[k]);
    free(tg);
    free(x);
}

/* strided problems large enough for 2 threads: 1, 2 and 0 threads bit-identical */
static void run_threads(dtype t, const char *isa, shape sh, int xlay, capi_rng *r) {
    const size_t es = dsize(t);
    capi_set_context("cross_entropy threads %s isa=%s shape=(%td,%td,%td) x=%s", dtype_name[t], isa, sh.outer, sh.n,
                     sh.inner, lay_name[xlay]);
    capi_view xv = make_view(xlay, sh.outer, sh.n, sh.inner);
    view2 tv = make_view2(V2_C, sh.outer, sh.inner), lv = make_view2(V2_PAD, sh.outer, sh.inner);
    void *xb = capi_alloc((size_t)xv.size * es);
    fill_sentinel(t, xb, xv.size);
    for (ptrdiff_t o = 0; o < sh.outer; o++)
        for (ptrdiff_t j = 0; j < sh.n; j++)
            for (ptrdiff_t i = 0; i < sh.inner; i++) ld_set(t, xb, vidx(&xv, o, j, i), draw(r, t, DIST_NORMAL));
    int64_t *tb = capi_alloc(sizeof(int64_t) * (size_t)tv.size);
    for (ptrdiff_t k = 0; k < tv.size; k++) tb[k] = (int64_t)(capi_next(r) % (uint64_t)sh.n);
    void *l[3];
    const int nts[3] = {1, 2, 0};
    for (int k = 0; k < 3; k++) {
        l[k] = capi_alloc((size_t)lv.size * es);
        fill_sentinel(t, l[k], lv.size);
        CHECK_STATUS(call_ce(t, vbase(t, xb, &xv), tb + tv.off, (char *)l[k] + lv.off * (ptrdiff_t)es, sh.outer, sh.n,
                             sh.inner, xv.s, tv.s, lv.s, -100, NULL, nts[k]),
                     FASTSOFTMAX_OK);
    }
    CHECK(memcmp(l[0], l[1], (size_t)lv.size * es) == 0, "nthreads 1 and 2 differ");
    CHECK(memcmp(l[0], l[2], (size_t)lv.size * es) == 0, "nthreads 1 and 0 differ");
    for (int k = 0; k < 3; k++) free(l[k]);
    free(tb);
    free(xb);
}

int main(void) {
    capi_rng r = {0xA0761D6478BD642FULL};
    static const shape shapes[] = {{1, 1, 1}, {5, 3, 1}, {7, 17, 1}, {3, 100, 1}, {2, 1000, 1},
                                   {3, 5, 3}, {2, 33, 130}, {2, 9, 4}, {1, 4099, 2}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    static const int64_t ignores[] = {-100, FASTSOFTMAX_NO_IGNORE, 2, -1};
    int ran = 0;
    for (int ii = 0; ii < isa_count(); ii++) {
        if (!force_isa(ii)) continue;
        const char *isa = fastsoftmax_isa_name(ii);
        ran++;
        int rot = 0;
        for (int t = 0; t < 2; t++) {
            for (int s = 0; s < nshapes; s++)
                for (int xl = 0; xl < LAY_COUNT; xl++, rot++) {
                    int tl = rot % V2_COUNT, ll = (rot / V2_COUNT) % (V2_COUNT - 1); /* no broadcast losses */
                    int64_t ign = ignores[rot % 4];
                    run_case((dtype)t, isa, shapes[s], xl, tl, ll, ign, rot % DIST_COUNT, 0, &r, rot % 2 ? 2 : 1);
                    if (shapes[s].n >= 2 && tl != V2_BCAST)
                        run_case((dtype)t, isa, shapes[s], xl, tl, ll, ign, DIST_NORMAL, 1, &r, 1);
                }
            /* n == 0: fine when every sample is ignored */
            run_case((dtype)t, isa, (shape){3, 0, 2}, LAY_C, V2_C, V2_C, -100, DIST_NORMAL, 0, &r, 1);

            /* rows form */
            static const ptrdiff_t rs[][2] = {{1, 1}, {9, 10}, {33, 64}, {4, 1000}, {5000, 20}, {0, 5}};
            for (int k = 0; k < 6; k++)
                for (int g = 0; g < 4; g++) run_rows((dtype)t, isa, rs[k][0], rs[k][1], ignores[g], (k + g) % 3, &r);

            /* thread counts on split problems */
            run_threads((dtype)t, isa, (shape){4, 300, 130}, LAY_C, &r);
            run_threads((dtype)t, isa, (shape){4, 300, 130}, LAY_F, &r);
            run_threads((dtype)t, isa, (shape){3000, 30, 1}, LAY_PAD, &r);

            /* EINDEX */
            const ptrdiff_t b1[] = {3}, b2[] = {4000, 2600}, b3[] = {100, 4000}, b4[] = {0};
            for (int rf = 0; rf < 2; rf++) {
                run_bad((dtype)t, isa, 10, 5, 1, b1, 1, 5, -100, 1, rf);                 /* target == n */
                run_bad((dtype)t, isa, 10, 5, 1, b1, 1, -1, -100, 1, rf);                /* negative */
                run_bad((dtype)t, isa, 10, 5, 1, b1, 1, INT64_MAX, -100, 1, rf);         /* huge */
                run_bad((dtype)t, isa, 10, 5, 1, b1, 1, -100, FASTSOFTMAX_NO_IGNORE, 1, rf); /* -100 not ignored */
                run_bad((dtype)t, isa, 10, 5, 1, b1, 1, INT64_MIN, FASTSOFTMAX_NO_IGNORE, 1, rf);
                run_bad((dtype)t, isa, 5000, 20, 1, b2, 2, 20, -100, 2, rf);  /* both halves of 2 threads */
                run_bad((dtype)t, isa, 5000, 20, 1, b3, 2, -2, -100, 2, rf);
                run_bad((dtype)t, isa, 5000, 20, 1, b2, 2, 21, -100, 0, rf);
                run_bad((dtype)t, isa, 4, 0, 1, b4, 1, 0, -100, 1, rf); /* n == 0, a sample not ignored */
            }
            const ptrdiff_t b5[] = {7, 5}; /* strided (outer, n, inner): flat o * inner + i */
            run_bad((dtype)t, isa, 3, 6, 4, b5, 2, 6, -100, 1, 0);
            run_bad((dtype)t, isa, 3, 0, 4, b5, 2, 0, -100, 1, 0);
        }
    }
    restore_isa();
    capi_set_context("isa");
    CHECK(ran >= 1, "no ISA ran");
    return capi_report("test_cross_entropy");
}
