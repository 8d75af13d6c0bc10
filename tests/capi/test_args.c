/*
 * test_args.c - every rejected argument of every computing function returns FASTSOFTMAX_EINVAL and
 * writes nothing (output, input and bad_sample buffers compared byte for byte):
 *   null pointers with data to touch, negative sizes, negative nthreads, zero output strides,
 *   self-overlapping output strides, x / y ranges that intersect without being the same view;
 * and the near misses that must be accepted: empty problems with null data, zero strides on extent-1
 * axes, logsumexp's ignored ystride[1], broadcast (zero-stride) inputs, adjacent buffers, in place.
 * Also unknown ISA names, set_num_threads(0) and negative, and the exp diagnostics' checks.
 */
#include "capi_test.h"

#define BUF 4096

typedef struct {
    unsigned char x[BUF * 8], y[BUF * 8];
    int64_t tg[BUF];
    ptrdiff_t bad;
} arena;

static arena A, SAVED;

/* inputs: small finite values; outputs: the sentinel; targets valid (class 0) */
static void arena_reset(dtype t) {
    capi_rng r = {7};
    for (ptrdiff_t k = 0; k < BUF; k++) ld_set(t, A.x, k, (long double)capi_normal(&r));
    fill_sentinel(t, A.y, BUF);
    for (ptrdiff_t k = 0; k < BUF; k++) A.tg[k] = 0;
    A.bad = -7;
    SAVED = A;
}
static int arena_unchanged(void) { return memcmp(&A, &SAVED, sizeof A) == 0; }

/* expect status `want`; on EINVAL nothing at all may have changed */
#define EXPECT(want, expr, what)                                                                        \
    do {                                                                                                \
        int st_ = (expr);                                                                               \
        capi_checks++;                                                                                  \
        if (st_ != (want)) capi_fail(__FILE__, __LINE__, "%s: status %d, expected %d", what, st_, (want)); \
        if ((want) == FASTSOFTMAX_EINVAL) CHECK(arena_unchanged(), "%s: memory written although rejected", what); \
    } while (0)

static void strided_cases(capi_op op, dtype t) {
    const size_t es = dsize(t);
    void *x = A.x, *y = A.y;
    const int lse = op == OP_LOGSUMEXP;
    capi_set_context("args %s %s", op_name[op], dtype_name[t]);
    /* (outer, n, inner) = (3, 5, 4), C order; the output of logsumexp is (3, 4) */
    const ptrdiff_t xs[3] = {20, 4, 1};
    const ptrdiff_t ys[3] = {lse ? 4 : 20, lse ? 0 : 4, 1};
#define S(xp, yp, o, n, i, xsp, ysp, nt) call_strided(op, t, xp, yp, o, n, i, xsp, ysp, nt)
    arena_reset(t);
    EXPECT(FASTSOFTMAX_EINVAL, S(NULL, y, 3, 5, 4, xs, ys, 1), "x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, NULL, 3, 5, 4, xs, ys, 1), "y NULL");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, NULL, ys, 1), "xstride NULL");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, NULL, 1), "ystride NULL");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, -1, 5, 4, xs, ys, 1), "outer < 0");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, -1, 4, xs, ys, 1), "n < 0");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, -1, xs, ys, 1), "inner < 0");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 0, -1, 4, xs, ys, 1), "n < 0 with outer == 0");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, -5, 0, 0, xs, ys, 1), "outer < 0, rest empty");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, ys, -1), "nthreads < 0");
    EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 0, 5, 4, xs, ys, -2), "nthreads < 0, empty");
    {
        ptrdiff_t z[3] = {0, ys[1], 1};
        EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, z, 1), "ystride[0] == 0");
        ptrdiff_t z2[3] = {ys[0], ys[1], 0};
        EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, z2, 1), "ystride[2] == 0");
        ptrdiff_t z3[3] = {0, 0, 0};
        EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, z3, 1), "ystride all 0");
        if (!lse) {
            ptrdiff_t z4[3] = {20, 0, 1};
            EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, z4, 1), "ystride[1] == 0");
            /* rows overlapping: (o, j, i) at 4o + 4j + i */
            ptrdiff_t ov[3] = {4, 4, 1};
            EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, ov, 1), "self-overlapping ystride (rows)");
            ptrdiff_t ov2[3] = {20, 1, 1}; /* (j=1,i=0) == (j=0,i=1) */
            EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, ov2, 1), "self-overlapping ystride (inner)");
            ptrdiff_t ov3[3] = {-4, 4, 1};
            EXPECT(FASTSOFTMAX_EINVAL, S(x, (char *)y + 200 * es, 3, 5, 4, xs, ov3, 1), "self-overlapping negative");
            ptrdiff_t ov4[3] = {12, 3, 1}; /* (o,j,i) at 12o+3j+i: (0,1,0) == (0,0,3) */
            EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, ov4, 1), "self-overlapping (3 vs extent 3)");
        } else {
            ptrdiff_t ov[3] = {1, 0, 1}; /* (o,i) at o + i */
            EXPECT(FASTSOFTMAX_EINVAL, S(x, y, 3, 5, 4, xs, ov, 1), "self-overlapping logsumexp output");
            ptrdiff_t ov2[3] = {3, 0, -1};
            EXPECT(FASTSOFTMAX_EINVAL, S(x, (char *)y + 100 * es, 3, 5, 4, xs, ov2, 1),
                   "self-overlapping logsumexp output (negative)");
        }
        /* x and y intersecting without being the same view (all in the x buffer) */
        char *xb = (char *)A.x;
        EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb + es, 3, 5, 4, xs, ys, 1), "y = x + 1 element");
        EXPECT(FASTSOFTMAX_EINVAL, S(xb + es, xb, 3, 5, 4, xs, ys, 1), "y = x - 1 element");
        EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb + 30 * es, 3, 5, 4, xs, ys, 1), "y overlaps the end of x");
        const ptrdiff_t xi[3] = {40, 8, 2}, yi[3] = {lse ? 8 : 40, 8, 2};
        EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb + es, 3, 5, 4, xi, yi, 1), "interleaved x and y");
        if (!lse) {
            const ptrdiff_t f[3] = {1, 3, 15};
            EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb, 3, 5, 4, xs, f, 1), "same pointer, other strides");
            const ptrdiff_t r[3] = {20, -4, -1};
            EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb + 19 * es, 3, 5, 4, xs, r, 1), "same range reversed");
        } else {
            const ptrdiff_t l2[3] = {4, 0, 1};
            EXPECT(FASTSOFTMAX_EINVAL, S(xb, xb + 10 * es, 3, 5, 4, xs, l2, 1), "logsumexp output inside x");
        }
        EXPECT(FASTSOFTMAX_EINVAL, S(xb + (lse ? 11 : 59) * es, xb, 3, 5, 4, xs, ys, 1), "y's last element is x's first");
    }

    /* accepted */
    arena_reset(t);
    capi_set_context("args accepted %s %s", op_name[op], dtype_name[t]);
    EXPECT(FASTSOFTMAX_OK, S(NULL, NULL, 0, 5, 4, xs, ys, 1), "outer == 0, NULL data");
    EXPECT(FASTSOFTMAX_OK, S(NULL, NULL, 3, 5, 0, xs, ys, 1), "inner == 0, NULL data");
    CHECK(arena_unchanged(), "empty problems wrote memory");
    if (!lse) {
        EXPECT(FASTSOFTMAX_OK, S(NULL, NULL, 3, 0, 4, xs, ys, 1), "n == 0, NULL data");
    } else {
        EXPECT(FASTSOFTMAX_OK, S(NULL, y, 3, 0, 4, xs, ys, 1), "logsumexp n == 0, x NULL");
        int all = 1;
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 4; i++) all &= ld_get(t, y, o * 4 + i) == -INFINITY;
        CHECK(all, "logsumexp of n == 0 is not -inf");
    }
    arena_reset(t);
    {
        /* zero strides on extent-1 axes are not overlaps */
        ptrdiff_t zs[3] = {0, lse ? 0 : 4, 1};
        EXPECT(FASTSOFTMAX_OK, S(x, y, 1, 5, 4, xs, zs, 1), "ystride[0] == 0 with outer == 1");
        ptrdiff_t zs2[3] = {lse ? 1 : 5, 1, 0};
        EXPECT(FASTSOFTMAX_OK, S(x, y, 3, 5, 1, xs, zs2, 1), "ystride[2] == 0 with inner == 1");
        if (!lse) {
            ptrdiff_t zs3[3] = {4, 0, 1};
            EXPECT(FASTSOFTMAX_OK, S(x, y, 3, 1, 4, xs, zs3, 1), "ystride[1] == 0 with n == 1");
        } else {
            ptrdiff_t any[3] = {4, 987654, 1};
            EXPECT(FASTSOFTMAX_OK, S(x, y, 3, 5, 4, xs, any, 1), "logsumexp ignores ystride[1]");
        }
        /* broadcast input: every outer slice reads the same data */
        ptrdiff_t bx[3] = {0, 4, 1};
        EXPECT(FASTSOFTMAX_OK, S(x, y, 3, 5, 4, bx, ys, 1), "zero-stride (broadcast) input");
        int same = memcmp(A.y, A.y + (size_t)ys[0] * es, (size_t)(lse ? 4 : 20) * es) == 0;
        CHECK(same, "broadcast input: outer slices differ");
        /* adjacent, disjoint buffers */
        char *xb = (char *)A.x;
        EXPECT(FASTSOFTMAX_OK, S(xb, xb + 60 * es, 3, 5, 4, xs, ys, 1), "y right after x");
        EXPECT(FASTSOFTMAX_OK, S(xb + (lse ? 12 : 60) * es, xb, 3, 5, 4, xs, ys, 1), "y right before x");
        if (!lse) EXPECT(FASTSOFTMAX_OK, S(xb, xb, 3, 5, 4, xs, xs, 1), "in place");
        if (!lse) {
            const ptrdiff_t r[3] = {-20, -4, -1};
            EXPECT(FASTSOFTMAX_OK, S(xb + 59 * es, xb + 59 * es, 3, 5, 4, r, r, 2), "in place, reversed");
        }
        EXPECT(FASTSOFTMAX_OK, S(x, y, 3, 5, 4, xs, ys, 0), "nthreads 0");
    }
#undef S
}

static int rows_call(capi_op op, dtype t, const void *x, void *y, ptrdiff_t rows, ptrdiff_t n, int nt) {
    if (t == F32) {
        switch (op) {
        case OP_SOFTMAX: return fastsoftmax_softmax_rows_f32(x, y, rows, n, nt);
        case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_rows_f32(x, y, rows, n, nt);
        default: return fastsoftmax_logsumexp_rows_f32(x, y, rows, n, nt);
        }
    }
    switch (op) {
    case OP_SOFTMAX: return fastsoftmax_softmax_rows_f64(x, y, rows, n, nt);
    case OP_LOG_SOFTMAX: return fastsoftmax_log_softmax_rows_f64(x, y, rows, n, nt);
    default: return fastsoftmax_logsumexp_rows_f64(x, y, rows, n, nt);
    }
}

static void rows_cases(capi_op op, dtype t) {
    const size_t es = dsize(t);
    const int lse = op == OP_LOGSUMEXP;
    capi_set_context("args %s_rows %s", op_name[op], dtype_name[t]);
    arena_reset(t);
    char *xb = (char *)A.x;
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, NULL, A.y, 4, 6, 1), "x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, A.x, NULL, 4, 6, 1), "y NULL");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, A.x, A.y, -1, 6, 1), "rows < 0");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, A.x, A.y, 4, -1, 1), "n < 0");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, A.x, A.y, 0, -1, 1), "n < 0, rows == 0");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, A.x, A.y, 4, 6, -1), "nthreads < 0");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, xb, xb + es, 4, 6, 1), "y = x + 1");
    EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, xb + es, xb, 4, 6, 1), "y = x - 1");
    if (lse) EXPECT(FASTSOFTMAX_EINVAL, rows_call(op, t, xb, xb, 4, 6, 1), "logsumexp y = x (not a view of x)");
    arena_reset(t);
    EXPECT(FASTSOFTMAX_OK, rows_call(op, t, NULL, NULL, 0, 6, 1), "rows == 0, NULL data");
    if (!lse) EXPECT(FASTSOFTMAX_OK, rows_call(op, t, NULL, NULL, 4, 0, 1), "n == 0, NULL data");
    CHECK(arena_unchanged(), "empty problems wrote memory");
    if (lse) {
        EXPECT(FASTSOFTMAX_OK, rows_call(op, t, NULL, A.y, 4, 0, 1), "logsumexp n == 0, x NULL");
        CHECK(ld_get(t, A.y, 3) == -INFINITY, "logsumexp_rows of n == 0 is not -inf");
    }
    EXPECT(FASTSOFTMAX_OK, rows_call(op, t, xb, xb + 24 * es, 4, 6, 1), "adjacent");
    if (!lse) EXPECT(FASTSOFTMAX_OK, rows_call(op, t, xb, xb, 4, 6, 2), "in place");
}

static int ce_call(dtype t, const void *x, const int64_t *tg, void *loss, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                   const ptrdiff_t *xs, const ptrdiff_t *ts, const ptrdiff_t *ls, int64_t ig, ptrdiff_t *bad, int nt) {
    return t == F32 ? fastsoftmax_cross_entropy_f32(x, tg, loss, outer, n, inner, xs, ts, ls, ig, bad, nt)
                    : fastsoftmax_cross_entropy_f64(x, tg, loss, outer, n, inner, xs, ts, ls, ig, bad, nt);
}
static int ce_rows_call(dtype t, const void *x, const int64_t *tg, void *loss, ptrdiff_t rows, ptrdiff_t n, int64_t ig,
                        ptrdiff_t *bad, int nt) {
    return t == F32 ? fastsoftmax_cross_entropy_rows_f32(x, tg, loss, rows, n, ig, bad, nt)
                    : fastsoftmax_cross_entropy_rows_f64(x, tg, loss, rows, n, ig, bad, nt);
}

static void ce_cases(dtype t) {
    const size_t es = dsize(t);
    capi_set_context("args cross_entropy %s", dtype_name[t]);
    arena_reset(t);
    void *x = A.x, *l = A.y;
    int64_t *tg = A.tg;
    ptrdiff_t *bad = &A.bad;
    const ptrdiff_t xs[3] = {20, 4, 1}, ts[2] = {4, 1}, ls[2] = {4, 1};
#define C(xp, tp, lp, o, n, i, xsp, tsp, lsp, nt) ce_call(t, xp, tp, lp, o, n, i, xsp, tsp, lsp, -100, bad, nt)
    EXPECT(FASTSOFTMAX_EINVAL, C(NULL, tg, l, 3, 5, 4, xs, ts, ls, 1), "x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, NULL, l, 3, 5, 4, xs, ts, ls, 1), "target NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, NULL, 3, 5, 4, xs, ts, ls, 1), "loss NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, NULL, ts, ls, 1), "xstride NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, NULL, ls, 1), "tstride NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, NULL, 1), "lstride NULL");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, -1, 5, 4, xs, ts, ls, 1), "outer < 0");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, -1, 4, xs, ts, ls, 1), "n < 0");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, -1, xs, ts, ls, 1), "inner < 0");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, ls, -1), "nthreads < 0");
    const ptrdiff_t z0[2] = {0, 1}, z1[2] = {4, 0}, ov[2] = {1, 1}, ov2[2] = {2, 1};
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, z0, 1), "lstride[0] == 0");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, z1, 1), "lstride[1] == 0");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, ov, 1), "self-overlapping lstride");
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, l, 3, 5, 4, xs, ts, ov2, 1), "self-overlapping lstride (2, 1)");
    /* a loss view inside the logits */
    EXPECT(FASTSOFTMAX_EINVAL, C(x, tg, (char *)x + 3 * es, 3, 5, 4, xs, ts, ls, 1), "loss inside x");
    CHECK(A.bad == -7, "bad_sample written on EINVAL");
    /* accepted */
    arena_reset(t);
    EXPECT(FASTSOFTMAX_OK, C(NULL, NULL, NULL, 0, 5, 4, xs, ts, ls, 1), "outer == 0, NULL data");
    EXPECT(FASTSOFTMAX_OK, C(NULL, NULL, NULL, 3, 5, 0, xs, ts, ls, 1), "inner == 0, NULL data");
    CHECK(arena_unchanged(), "empty problems wrote memory");
    const ptrdiff_t tb[2] = {0, 0}; /* one target for all */
    EXPECT(FASTSOFTMAX_OK, C(x, tg, l, 3, 5, 4, xs, tb, ls, 1), "broadcast target");
    const ptrdiff_t l1[2] = {0, 1};
    EXPECT(FASTSOFTMAX_OK, C(x, tg, l, 1, 5, 4, xs, ts, l1, 1), "lstride[0] == 0 with outer == 1");
    EXPECT(FASTSOFTMAX_OK, C(x, tg, l, 3, 5, 4, xs, ts, ls, 0), "nthreads 0");
    CHECK(A.bad == -7, "bad_sample written on success");
#undef C
    capi_set_context("args cross_entropy_rows %s", dtype_name[t]);
    arena_reset(t);
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, NULL, tg, l, 4, 6, -100, bad, 1), "x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, NULL, l, 4, 6, -100, bad, 1), "target NULL");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, tg, NULL, 4, 6, -100, bad, 1), "loss NULL");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, tg, l, -1, 6, -100, bad, 1), "rows < 0");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, tg, l, 4, -6, -100, bad, 1), "n < 0");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, tg, l, 4, 6, -100, bad, -3), "nthreads < 0");
    EXPECT(FASTSOFTMAX_EINVAL, ce_rows_call(t, x, tg, (char *)x + es, 4, 6, -100, bad, 1), "loss inside x");
    arena_reset(t);
    EXPECT(FASTSOFTMAX_OK, ce_rows_call(t, NULL, NULL, NULL, 0, 6, -100, bad, 1), "rows == 0, NULL data");
    CHECK(arena_unchanged(), "empty problem wrote memory");
    EXPECT(FASTSOFTMAX_OK, ce_rows_call(t, x, tg, l, 4, 6, -100, NULL, 1), "bad_sample NULL");
}

static void exp_cases(void) {
    capi_set_context("args exp");
    arena_reset(F32);
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f32(NULL, (float *)A.y, 4), "exp_f32 x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f32((float *)A.x, NULL, 4), "exp_f32 y NULL");
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f32((float *)A.x, (float *)A.y, -1), "exp_f32 n < 0");
    EXPECT(FASTSOFTMAX_OK, fastsoftmax_exp_f32(NULL, NULL, 0), "exp_f32 n == 0");
    arena_reset(F64);
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f64(NULL, (double *)A.y, 4), "exp_f64 x NULL");
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f64((double *)A.x, NULL, 4), "exp_f64 y NULL");
    EXPECT(FASTSOFTMAX_EINVAL, fastsoftmax_exp_f64((double *)A.x, (double *)A.y, -1), "exp_f64 n < 0");
    EXPECT(FASTSOFTMAX_OK, fastsoftmax_exp_f64(NULL, NULL, 0), "exp_f64 n == 0");
}

static void settings_cases(void) {
    capi_set_context("args settings");
    const char *before = fastsoftmax_isa();
    static const char *const bogus[] = {"bogus", "", "sse", "avx", "avx512f", "scalar ", "neon2"};
    for (size_t k = 0; k < sizeof bogus / sizeof bogus[0]; k++) {
        CHECK_STATUS(fastsoftmax_set_max_isa(bogus[k]), FASTSOFTMAX_EINVAL);
        CHECK_STATUS(fastsoftmax_set_isa(bogus[k]), FASTSOFTMAX_EINVAL);
        CHECK(fastsoftmax_isa_available(bogus[k]) == 0, "isa_available(\"%s\")", bogus[k]);
        CHECK(fastsoftmax_isa_compiled(bogus[k]) == 0, "isa_compiled(\"%s\")", bogus[k]);
    }
    CHECK_STATUS(fastsoftmax_set_max_isa(NULL), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(fastsoftmax_set_isa(NULL), FASTSOFTMAX_EINVAL);
    CHECK(fastsoftmax_isa_available(NULL) == 0, "isa_available(NULL)");
    CHECK(fastsoftmax_isa_compiled(NULL) == 0, "isa_compiled(NULL)");
    CHECK(strcmp(fastsoftmax_isa(), before) == 0, "rejected names changed the ISA to %s", fastsoftmax_isa());
    /* ISAs of this architecture that are not usable here */
    for (int i = 0; fastsoftmax_isa_name(i); i++)
        if (!fastsoftmax_isa_available(fastsoftmax_isa_name(i))) {
            CHECK_STATUS(fastsoftmax_set_isa(fastsoftmax_isa_name(i)), FASTSOFTMAX_EINVAL);
            CHECK(strcmp(fastsoftmax_isa(), before) == 0, "set_isa(%s) refused but changed the ISA",
                  fastsoftmax_isa_name(i));
        }
    int nt = fastsoftmax_get_num_threads();
    CHECK_STATUS(fastsoftmax_set_num_threads(0), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(fastsoftmax_set_num_threads(-1), FASTSOFTMAX_EINVAL);
    CHECK_STATUS(fastsoftmax_set_num_threads(-2147483647 - 1), FASTSOFTMAX_EINVAL);
    CHECK(fastsoftmax_get_num_threads() == nt, "rejected thread counts changed the default");
}

int main(void) {
    for (int t = 0; t < 2; t++)
        for (int op = 0; op < 3; op++) {
            strided_cases((capi_op)op, (dtype)t);
            rows_cases((capi_op)op, (dtype)t);
        }
    for (int t = 0; t < 2; t++) ce_cases((dtype)t);
    exp_cases();
    settings_cases();
    return capi_report("test_args");
}
