/*
 * check_ext_template.h - the kernels of the loss family, included by check_template.h (once per dtype,
 * with its macros T, R, K, ...):
 *   scaled softmax family: rmax + expsum_s + scale (softmax), rmax + sumexp_s + logsub_s (log_softmax),
 *     s m + log(sumexp_s) (logsumexp, as the driver forms it), on s * x with s * (x - m) exact;
 *   sumexp_s itself (relative to the exact sum) and expsum_s returning the same bits;
 *   dot, sum (relative to sum |a b| / sum |a|), softmax_bwd, log_softmax_bwd (given c);
 *   lsub_dot (cross-entropy's sum(b (m - x)), relative to sum |b (m - x)|, xlogy's zero rule);
 *   keep (the masked gather / scatter: y = w ? x : fill, bit for bit);
 *   sigmoid, log_sigmoid over dense sweeps of the whole range (+-0, subnormals, huge, +-inf, NaN);
 *   rows_ on batches of 37 rows (short rows W at a time, short_lanes; the rest and the blocks with a
 *     non-finite max by the per-row kernels): the reference per row, and the same bits as the row
 *     alone, in pairs, in the batch from row 3, in place, without a special row, and (n <= 4W) as the
 *     column kernels on the transposed rows.
 * Every buffer sits against a guard page with canaries around it (as the softmax checks), in place and
 * out of place.  Bounds, in units of EPS_T (limit 4):
 *   softmax_s: relative above TINY_T, absolute TINY_T below;  log_softmax_s, logsumexp_s: absolute
 *   EPS_T * max(1, |ref|);  sumexp_s: relative;  sigmoid, log_sigmoid, softmax_bwd: relative where
 *   |ref| >= TINY_T, absolute TINY_T below, exact where ref is 0 or infinite;  dot / sum:
 *   |err| <= 4 EPS_T sum |a_i b_i| (sum |a_i|);  log_softmax_bwd: |err| <= 4 EPS_T (|dy| + exp(y) |c|)
 *   + TINY_T |c| (exp(y) may be flushed below TINY_T).
 */

#ifndef CK_NOTE
static const fss_kernels *tb_of_(int t) { return tables[t].k; }
enum { NSDIST = 6, NSCALES = 5 };
static const char *const sdist_name[NSDIST] = {"normal*3", "1e4+normal", "uniform[-50,50]", "-1e6+normal*5",
                                               "normal*3 with -inf", "+-1e30 and normal"};
static const double sscales[NSCALES] = {0.125, 3.7, 1e-3, 1e3, 1.0};

/* Count one check of function f on table t; on a new maximum (--worst) or a failure, format the
 * details (printf-style) only then. */
#define CK_NOTE(t, f, units, ok, variant, ...)                                                      \
    do {                                                                                            \
        stat_t *ck_st_ = &stats[t][DT][f];                                                          \
        double ck_u_ = (units);                                                                     \
        int ck_ok_ = (ok), ck_new_ = ck_u_ > ck_st_->max_units;                                     \
        ck_st_->checks++;                                                                           \
        if (ck_new_) ck_st_->max_units = ck_u_;                                                     \
        if ((ck_new_ && opt_worst) || !ck_ok_) {                                                    \
            char ck_d_[320];                                                                        \
            snprintf(ck_d_, sizeof ck_d_, __VA_ARGS__);                                             \
            if (ck_new_ && opt_worst) snprintf(ck_st_->worst, sizeof ck_st_->worst, "%s: %s", (variant), ck_d_); \
            if (!ck_ok_) {                                                                          \
                ck_st_->fails++;                                                                    \
                if (note_failure(t, DT, f, (variant))) fprintf(stderr, "    %s\n", ck_d_);          \
            }                                                                                       \
        }                                                                                           \
    } while (0)
#endif

#if CK_F32
#define RLOG1P(v) log1p(v)
#define RNEXT(a, b) nextafterf(a, b)
#else
#define RLOG1P(v) log1pl(v)
#define RNEXT(a, b) nextafter(a, b)
#endif

/* Signed relative comparison: |err| <= 4 EPS_T |ref| where |ref| >= TINY_T, <= TINY_T below; a zero
 * or infinite reference must be matched exactly (either sign of 0), NaN by NaN. */
static int K(cmp_rel_)(T got, ref_t ref, double *units) {
    T reft = (T)ref.hi;
    *units = 0;
    if (ref.hi != ref.hi) return got != got;
    if (isinf(reft)) return got == reft;
    if (ref.hi == 0) return got == 0;
    if (!isfinite(got)) {
        *units = INFINITY;
        return 0;
    }
    double a = fabs(ref.hi), err = fabs(((double)got - ref.hi) - ref.lo);
    double bound = a >= TINY_T ? 4 * EPS_T * a : TINY_T;
    *units = 4 * err / bound;
    if (a < TINY_T && err <= bound) *units = 0; /* below tiny: checked, not reported */
    return err <= bound;
}

/* ---------------------------------------------------------------------------------------------- */
/* Scaled softmax family                                                                            */

/* s (x - m) in R as hi + lo (a double-double of the exact value, as far as R's range allows). */
static void K(sarg_)(T x, T m, T s, R *hi, R *lo) {
    *lo = 0;
    if (x == (T)-INFINITY) {
        *hi = -INFINITY;
        return;
    }
#if CK_F32
    double d = (double)x - (double)m; /* exact unless x is negligible next to m */
    double p = (double)s * d;
    *hi = p;
    *lo = fma((double)s, d, -p);
#else
    double d = x - m, bv = d - x, e = (x - (d - bv)) + (-m - bv); /* d + e == x - m */
    double p = s * d;
    if (!isfinite(d) || !isfinite(p)) { /* beyond double: R's wider range (rounded) */
        *hi = (R)s * ((R)x - (R)m);
        return;
    }
    double r = fma(s, d, -p), u = s * e, v = fma(s, e, -u);
    R rest = (R)r + (R)u + (R)v, h = (R)p + rest;
    *hi = h;
    *lo = ((R)p - h) + rest;
#endif
}

/* The reference of one finite-max row of s * x: softmax, log_softmax (per element), logsumexp and the
 * sum of exp(s (x - m)). */
static void K(ref_scaled_)(const T *x, ptrdiff_t n, T s, ref_t *sm, ref_t *ls, ref_t *lse, ref_t *sum) {
    T m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++)
        if (x[i] > m) m = x[i];
    R *hi = K(ref_buf_)(n), *lo = K(ref_buf_)(n), *e = K(ref_buf_)(n);
    R S = 0, c = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        K(sarg_)(x[i], m, s, &hi[i], &lo[i]);
        e[i] = hi[i] == -INFINITY ? (R)0 : REXP(hi[i]) * (1 + lo[i]);
        R t = S + e[i];
        c += RFABS(S) >= RFABS(e[i]) ? (S - t) + e[i] : (e[i] - t) + S;
        S = t;
    }
    S += c;
    R L = RLOG(S);
    for (ptrdiff_t i = 0; i < n; i++) {
        sm[i] = K(to_ref_)(e[i] / S);
        ls[i] = K(to_ref_)(hi[i] == -INFINITY ? (R)-INFINITY : (hi[i] - L) + lo[i]);
    }
    *lse = K(to_ref_)((R)s * (R)m + L);
    *sum = K(to_ref_)(S);
    free(hi);
    free(lo);
    free(e);
}

/* logsumexp of s * x from m and log(sum), as the driver forms it (lse_scaled in driver_template.h). */
static T K(lse_scaled_)(T m, T s, double L) {
#if CK_F32
    return (T)((double)s * (double)m + L);
#else
    double p = s * m, q = fma(s, m, -p);
    return isinf(p) ? p : (T)(p + (q + L)); /* s m beyond the range: so is the result */
#endif
}

static int K(srow_mode_);

static void K(check_scaled_row_)(const T *in, ptrdiff_t n, T s, const char *desc) {
    ref_t *sm = malloc((size_t)n * sizeof(ref_t)), *ls = malloc((size_t)n * sizeof(ref_t)), lse, sum;
    if (!sm || !ls) abort();
    K(ref_scaled_)(in, n, s, sm, ls, &lse, &sum);
    K(input_info_) ii = {in, 1, n, 0};
    int mode = K(srow_mode_)++ % 3;
    size_t bytes = (size_t)n * sizeof(T);
    for (int t = 0; t < ntables; t++) {
        const fss_kernels *tb = tables[t].k;
        char variant[300];
        T *x = place(&arena_x, bytes, mode, sizeof(T));
        T *y = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
        snprintf(variant, sizeof variant, "%s (x %s, y %s)", desc, mode_name[mode], mode_name[(mode + 1) % 3]);
        current_case = variant;
        fill_layout(&arena_x, x, sizeof(T), 1, n, n);
        memcpy(x, in, bytes);

        T m = KF(tb, rmax_)(x, n);
        double S1 = KF(tb, sumexp_s_)(x, n, m, s);
        {
            double err = fabs((S1 - sum.hi) - sum.lo), bound = 4 * EPS_T * sum.hi;
            CK_NOTE(t, F_SUMS, 4 * err / bound, err <= bound, variant, "sumexp_s = %.17g, ref %.17g%+.3g (s = %.9g, m = %.17g)",
                    S1, sum.hi, sum.lo, (double)s, (double)m);
        }
        K(check_unchanged_)(t, F_SUMS, x, 0, in, 1, n, variant);

        /* softmax: y = exp(s (x - m)), y *= 1 / sum */
        fill_layout(&arena_y, y, sizeof(T), 1, n, n);
        double S2 = KF(tb, expsum_s_)(x, y, n, m, s);
        CK_NOTE(t, F_SUMS, 0, memcmp(&S1, &S2, sizeof S1) == 0, variant,
                "expsum_s returned %a, sumexp_s %a: the two sums differ", S2, S1);
        KF(tb, scale_)(y, n, (T)(1.0 / S2));
        K(check_out_)(t, F_SMS, 0, y, 0, sm, 0, 1, n, &ii, 1, variant);
        K(check_unchanged_)(t, F_SMS, x, 0, in, 1, n, variant);
        K(check_guard_)(t, F_SMS, &arena_x, x, 1, n, n, "x", variant);
        K(check_guard_)(t, F_SMS, &arena_y, y, 1, n, n, "y", variant);

        /* log_softmax: y = s (x - m) - log(sum) */
        fill_layout(&arena_y, y, sizeof(T), 1, n, n);
        double L = log(S1);
        KF(tb, logsub_s_)(x, y, n, m, s, L);
        K(check_out_)(t, F_LSS, 1, y, 0, ls, 0, 1, n, &ii, 1, variant);
        K(check_unchanged_)(t, F_LSS, x, 0, in, 1, n, variant);
        K(check_guard_)(t, F_LSS, &arena_y, y, 1, n, n, "y", variant);

        T r = K(lse_scaled_)(m, s, L);
        K(check_out_)(t, F_LSES, 1, &r, 0, &lse, 0, 1, 1, &ii, 0, variant);

        /* in place (the driver's masked / strided path works in one scratch row) */
        snprintf(variant, sizeof variant, "%s (in place, x %s)", desc, mode_name[mode]);
        double S3 = KF(tb, expsum_s_)(x, x, n, m, s);
        CK_NOTE(t, F_SUMS, 0, memcmp(&S1, &S3, sizeof S1) == 0, variant,
                "expsum_s in place returned %a, sumexp_s %a", S3, S1);
        KF(tb, scale_)(x, n, (T)(1.0 / S3));
        K(check_out_)(t, F_SMS, 0, x, 0, sm, 0, 1, n, &ii, 1, variant);
        K(check_guard_)(t, F_SMS, &arena_x, x, 1, n, n, "x", variant);
        memcpy(x, in, bytes);
        KF(tb, logsub_s_)(x, x, n, m, s, L);
        K(check_out_)(t, F_LSS, 1, x, 0, ls, 0, 1, n, &ii, 1, variant);
        K(check_guard_)(t, F_LSS, &arena_x, x, 1, n, n, "x", variant);

        /* the fused kernels the driver calls with a scale: rows (two copies of the row, so that short
         * rows go through the paired kernel), and columns (the row as one lane strided by 1) */
        T *x2 = malloc(2 * bytes), *y2 = malloc(2 * bytes);
        if (!x2 || !y2) abort();
        memcpy(x2, in, bytes);
        memcpy(x2 + n, in, bytes);
        for (int op = 0; op < 3; op++) {
            const int f = op == FSS_OP_SOFTMAX ? F_SMS : op == FSS_OP_LOG_SOFTMAX ? F_LSS : F_LSES;
            for (int r = 1; r <= 2; r++) {
                snprintf(variant, sizeof variant, "%s (rows kernel, %d row%s, op %d)", desc, r, r > 1 ? "s" : "", op);
                KF(tb, rows_)(op, x2, n, y2, op == FSS_OP_LOGSUMEXP ? 1 : n, r, n, s, r == 2); /* a pair: prefetching */
                for (int k = 0; k < r; k++) {
                    if (op == FSS_OP_LOGSUMEXP) K(check_out_)(t, f, 1, y2 + k, 0, &lse, 0, 1, 1, &ii, 0, variant);
                    else K(check_out_)(t, f, op == FSS_OP_LOG_SOFTMAX, y2 + k * n, 0, op ? ls : sm, 0, 1, n, &ii, 1, variant);
                }
            }
            snprintf(variant, sizeof variant, "%s (column kernel, op %d)", desc, op);
            if (op == FSS_OP_SOFTMAX) KF(tb, softmax_cols_)(x2, 1, y2, 1, n, 1, s, NULL);
            else if (op == FSS_OP_LOG_SOFTMAX) KF(tb, log_softmax_cols_)(x2, 1, y2, 1, n, 1, s, NULL);
            else KF(tb, logsumexp_cols_)(x2, 1, y2, n, 1, s, NULL);
            if (op == FSS_OP_LOGSUMEXP) K(check_out_)(t, f, 1, y2, 0, &lse, 0, 1, 1, &ii, 0, variant);
            else K(check_out_)(t, f, op == FSS_OP_LOG_SOFTMAX, y2, 0, op ? ls : sm, 0, 1, n, &ii, 1, variant);
        }
        free(x2);
        free(y2);
    }
    current_case = NULL;
    free(sm);
    free(ls);
}


static void K(sgen_)(T *x, ptrdiff_t n, int dist) {
    for (ptrdiff_t i = 0; i < n; i++) {
        double v;
        switch (dist) {
        case 0: v = 3 * rng_normal(); break;
        case 1: v = 1e4 + rng_normal(); break;
        case 2: v = rng_uniform(-50, 50); break;
        case 3: v = -1e6 + 5 * rng_normal(); break;
        case 4: v = rng_next() % 5 == 0 ? -INFINITY : 3 * rng_normal(); break;
        default: v = rng_next() % 3 == 0 ? (rng_next() & 1 ? 1e30 : -1e30) : rng_normal(); break;
        }
        x[i] = (T)v;
    }
    if (dist == 4) x[rng_below(n)] = (T)rng_normal(); /* at least one finite entry */
}


static void K(scaled_rows_)(void) {
    static const ptrdiff_t big[] = {1000, 4097};
    T *x = malloc(4097 * sizeof(T));
    char desc[200];
    for (int li = 0; li < 72; li++) {
        ptrdiff_t n = li < 70 ? li + 1 : big[li - 70];
        for (int si = 0; si < NSCALES; si++)
            for (int d = 0; d < NSDIST; d++) {
                if (opt_lite && n <= 70 && (d + li + si) % 2) continue; /* half the short cases under qemu */
                uint64_t seed = rng_reseed();
                K(sgen_)(x, n, d);
                T s = (T)sscales[si];
                snprintf(desc, sizeof desc, "scaled row n=%td s=%.9g dist=%s seed=%llu", n, (double)s, sdist_name[d],
                         (unsigned long long)seed);
                K(check_scaled_row_)(x, n, s, desc);
            }
    }
    free(x);
}

/* Special finite-max rows: huge values that s * x would overflow, a single finite entry among -inf,
 * all equal, subnormal inputs, values next to the max. */
static void K(scaled_special_rows_)(void) {
    static const ptrdiff_t lens[] = {1, 2, 3, 7, 8, 9, 16, 17, 33, 64, 65};
    static const char *const sc_name[] = {"max finite at p", "huge at p, -huge at q", "all -inf but p",
                                          "all equal", "subnormals", "neighbours of the max",
                                          "max finite at p, -max at q"};
    const int nsc = 7;
    T x[65];
    char desc[240];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        ptrdiff_t n = lens[li];
        for (int sc = 0; sc < nsc; sc++)
            for (int si = 0; si < NSCALES; si++) {
                uint64_t seed = rng_reseed();
                ptrdiff_t p = rng_below(n), q = (p + 1) % n;
                for (ptrdiff_t i = 0; i < n; i++) x[i] = (T)(3 * rng_normal());
                switch (sc) {
                case 0: x[p] = MAXF_T; break; /* s * max overflows for s > 1: the offsets do not */
                case 1: x[p] = (T)(HUGE_T / 4); if (q != p) x[q] = (T)(-HUGE_T / 4); break;
                case 2: for (ptrdiff_t i = 0; i < n; i++) x[i] = i == p ? (T)rng_uniform(-50, 50) : (T)-INFINITY; break;
                case 3: for (ptrdiff_t i = 0; i < n; i++) x[i] = (T)1.5; break;
                case 4: for (ptrdiff_t i = 0; i < n; i++) x[i] = (T)(TINY_T * rng_uniform(-1, 1)); break;
                case 5: {
                    T b = (T)(1000 + rng_uniform(0, 1));
                    for (ptrdiff_t i = 0; i < n; i++) x[i] = (rng_next() & 1) ? RNEXT(b, (T)-INFINITY) : b;
                    break;
                }
                default: /* x - m overflows T while s (x - m) does not, for s < 1 */
                    x[p] = MAXF_T;
                    if (q != p) x[q] = -MAXF_T;
                    break;
                }
                T s = (T)sscales[si];
                snprintf(desc, sizeof desc, "scaled special row n=%td s=%.9g scenario=\"%s\" p=%td q=%td seed=%llu", n,
                         (double)s, sc_name[sc], p, q, (unsigned long long)seed);
                K(check_scaled_row_)(x, n, s, desc);
            }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Backward kernels                                                                                 */

/* dot / sum: |err| <= 4 EPS_T sum |terms| (float: products rounded to float, then summed in double;
 * double: compensated). */
static void K(check_reduce_)(int t, int f, double got, const T *a, const T *b, ptrdiff_t n, const char *variant) {
    R s = 0, c = 0, mag = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        R v = b ? (R)a[i] * (R)b[i] : (R)a[i], u = s + v;
        c += RFABS(s) >= RFABS(v) ? (s - u) + v : (v - u) + s;
        s = u;
        mag += RFABS(v);
    }
    s += c;
    ref_t r = K(to_ref_)(s);
    if (r.hi != r.hi) {
        CK_NOTE(t, f, 0, got != got, variant, "%s = %.17g, ref NaN", fname[f], got);
        return;
    }
    double err = fabs((got - r.hi) - r.lo), bound = 4 * EPS_T * (double)mag + (b ? 4 * (double)n * TINY_T : 0);
    double u = bound > 0 ? 4 * err / bound : (err > 0 ? INFINITY : 0);
    CK_NOTE(t, f, u, err <= bound, variant, "%s = %.17g, ref %.17g%+.3g, sum of |terms| %.6g", fname[f], got, r.hi,
            r.lo, (double)mag);
}

static int K(bwd_mode_);

/* One row: y a softmax (kind 0) or log_softmax (kind 1) output, dy a gradient. */
static void K(check_bwd_row_)(const T *dyin, const T *yin, ptrdiff_t n, const char *desc) {
    int mode = K(bwd_mode_)++ % 3;
    size_t bytes = (size_t)n * sizeof(T);
    for (int t = 0; t < ntables; t++) {
        const fss_kernels *tb = tables[t].k;
        char variant[300];
        for (int inplace = 0; inplace < 3; inplace++) { /* 0: out of place, 1: dx = dy, 2: dx = y */
            T *dy = place(&arena_x, bytes, mode, sizeof(T));
            T *y = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
            T *dx = inplace == 1 ? dy : inplace == 2 ? y : place(&arena_z, bytes, (mode + 2) % 3, sizeof(T));
            static const char *const ipn[3] = {"out of place", "dx = dy", "dx = y"};
            snprintf(variant, sizeof variant, "%s (%s, %s)", desc, ipn[inplace], mode_name[mode]);
            current_case = variant;
            for (int kind = 0; kind < 2; kind++) {
                fill_layout(&arena_x, dy, sizeof(T), 1, n, n);
                fill_layout(&arena_y, y, sizeof(T), 1, n, n);
                memcpy(dy, dyin, bytes);
                memcpy(y, yin + kind * n, bytes); /* yin: softmax row, then log_softmax row */
                if (!inplace) fill_layout(&arena_z, dx, sizeof(T), 1, n, n);
                const T *yk = yin + kind * n;
                T c;
                if (kind == 0) {
                    double d = KF(tb, dot_)(dy, y, n);
                    if (!inplace) K(check_reduce_)(t, F_DOT, d, dyin, yk, n, variant);
                    c = (T)d;
                    KF(tb, softmax_bwd_)(dy, y, dx, n, c);
                } else {
                    double d = KF(tb, sum_)(dy, n);
                    if (!inplace) K(check_reduce_)(t, F_SUM, d, dyin, NULL, n, variant);
                    c = (T)d;
                    KF(tb, log_softmax_bwd_)(dy, y, dx, n, c);
                }
                const int f = kind == 0 ? F_SMB : F_LSB;
                if (inplace != 1) K(check_unchanged_)(t, f, dy, 0, dyin, 1, n, variant);
                if (inplace != 2) K(check_unchanged_)(t, f, y, 0, yk, 1, n, variant);
                K(check_guard_)(t, f, &arena_x, dy, 1, n, n, "dy", variant);
                K(check_guard_)(t, f, &arena_y, y, 1, n, n, "y", variant);
                if (!inplace) K(check_guard_)(t, f, &arena_z, dx, 1, n, n, "dx", variant);
                for (ptrdiff_t i = 0; i < n; i++) {
                    T g = dx[i], yv = yk[i], dv = dyin[i];
                    double u;
                    int ok;
                    if (kind == 0) {
                        ref_t r = K(to_ref_)((R)yv * ((R)dv - (R)c));
                        ok = K(cmp_rel_)(g, r, &u);
                        CK_NOTE(t, F_SMB, u, ok, variant,
                                "[%td] dx = " TFMT ", ref %.17g%+.3g; y = %.17g, dy = %.17g, c = %.17g", i, (double)g,
                                (double)g, r.hi, r.lo, (double)yv, (double)dv, (double)c);
                    } else {
                        R e = yv == (T)-INFINITY ? (R)0 : REXP((R)yv);
                        ref_t r = K(to_ref_)((R)dv - e * (R)c);
                        if (r.hi != r.hi || yv != yv) {
                            ok = g != g;
                            u = 0;
                        } else {
                            double err = fabs(((double)g - r.hi) - r.lo);
                            double bound = 4 * EPS_T * (fabs((double)dv) + (double)e * fabs((double)c)) +
                                           TINY_T * fabs((double)c);
                            ok = isfinite(g) && err <= bound;
                            u = bound > 0 ? 4 * err / bound : (err > 0 ? INFINITY : 0);
                            if (yv == (T)-INFINITY && g != dv) ok = 0; /* exp(-inf) = 0: dx is dy exactly */
                        }
                        CK_NOTE(t, F_LSB, u, ok, variant,
                                "[%td] dx = " TFMT ", ref %.17g%+.3g; y = %.17g, dy = %.17g, c = %.17g", i, (double)g,
                                (double)g, r.hi, r.lo, (double)yv, (double)dv, (double)c);
                    }
                }
            }
        }
    }
    current_case = NULL;
}

/* lsub_dot: sum(b (m - x)) (b NULL: all ones) against R; a zero b_c adds 0 even at x_c = -inf, a nonzero
 * one +inf (the compensated double accumulator may turn that into NaN, which the driver maps to +inf). */
static void K(lsub_dot_rows_)(void) {
    static const ptrdiff_t big[] = {1000, 4097};
    T *xin = malloc(4097 * sizeof(T)), *bin = malloc(4097 * sizeof(T));
    char desc[200];
    int mode = 0;
    for (int li = 0; li < 72; li++) {
        ptrdiff_t n = li < 70 ? li + 1 : big[li - 70];
        for (int d = 0; d < 4; d++) { /* 0: b random; 1: b NULL; 2: -inf in x where b = 0; 3: -inf where b != 0 */
            uint64_t seed = rng_reseed();
            for (ptrdiff_t i = 0; i < n; i++) {
                xin[i] = (T)(3 * rng_normal());
                bin[i] = rng_next() % 4 == 0 ? (T)0 : (T)rng_uniform(0, 2);
            }
            if (d >= 2) {
                ptrdiff_t p = rng_below(n);
                if (n > 1 && xin[p] >= xin[(p + 1) % n]) p = (p + 1) % n; /* keep a finite max */
                if (n > 1) xin[p] = (T)-INFINITY;
                bin[p] = d == 2 ? (T)0 : (T)0.5;
            }
            snprintf(desc, sizeof desc, "lsub_dot n=%td case=%d seed=%llu", n, d, (unsigned long long)seed);
            const T *b = d == 1 ? NULL : bin;
            T m = -INFINITY;
            for (ptrdiff_t i = 0; i < n; i++)
                if (xin[i] > m) m = xin[i];
            R sr = 0, mag = 0;
            int inf = 0;
            for (ptrdiff_t i = 0; i < n; i++) {
                R bv = b ? (R)b[i] : (R)1;
                if (bv == 0) continue;
                if (xin[i] == (T)-INFINITY) inf = 1;
                else {
                    sr += bv * ((R)m - (R)xin[i]);
                    mag += RFABS(bv * ((R)m - (R)xin[i]));
                }
            }
            ref_t r = K(to_ref_)(sr);
            size_t bytes = (size_t)n * sizeof(T);
            for (int t = 0; t < ntables; t++, mode++) {
                T *x = place(&arena_x, bytes, mode % 3, sizeof(T));
                T *bb = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
                fill_layout(&arena_x, x, sizeof(T), 1, n, n);
                fill_layout(&arena_y, bb, sizeof(T), 1, n, n);
                memcpy(x, xin, bytes);
                memcpy(bb, bin, bytes);
                current_case = desc;
                double got = KF(tb_of_(t), lsub_dot_)(x, b ? bb : NULL, n, m);
                K(check_unchanged_)(t, F_LSD, x, 0, xin, 1, n, desc);
                K(check_unchanged_)(t, F_LSD, bb, 0, bin, 1, n, desc);
                if (inf) {
                    CK_NOTE(t, F_LSD, 0, got == INFINITY || got != got, desc, "lsub_dot = %.17g, ref +inf", got);
                } else {
                    double err = fabs((got - r.hi) - r.lo), bound = 4 * EPS_T * (double)mag;
                    double u = bound > 0 ? 4 * err / bound : (err > 0 ? INFINITY : 0);
                    CK_NOTE(t, F_LSD, u, err <= bound, desc, "lsub_dot = %.17g, ref %.17g%+.3g, sum of |terms| %.6g", got,
                            r.hi, r.lo, (double)mag);
                }
            }
            current_case = NULL;
        }
    }
    free(xin);
    free(bin);
}

/* keep: y = w ? x : fill, bit for bit (NaN payloads too), in place and out of place; the byte mask sits
 * against a guard page too (a vector read past its end faults). */
static void K(keep_rows_)(void) {
    static const ptrdiff_t big[] = {1000, 4097};
    T *xin = malloc(4097 * sizeof(T)), *want = malloc(4097 * sizeof(T));
    unsigned char *win = malloc(4097);
    char desc[200];
    int mode = 0;
    for (int li = 0; li < 72; li++) {
        ptrdiff_t n = li < 70 ? li + 1 : big[li - 70];
        for (int d = 0; d < 2; d++) {
            uint64_t seed = rng_reseed();
            T fill = d ? (T)-INFINITY : (T)0;
            for (ptrdiff_t i = 0; i < n; i++) {
                uint64_t r = rng_next();
                xin[i] = r % 7 == 0 ? (T)NAN : r % 7 == 1 ? (T)INFINITY : (T)rng_normal();
                win[i] = rng_next() % 3 ? (unsigned char)(1 + rng_next() % 255) : 0;
                want[i] = win[i] ? xin[i] : fill;
            }
            snprintf(desc, sizeof desc, "keep n=%td fill=%g seed=%llu", n, (double)fill, (unsigned long long)seed);
            size_t bytes = (size_t)n * sizeof(T);
            for (int t = 0; t < ntables; t++)
                for (int inplace = 0; inplace < 2; inplace++, mode++) {
                    T *x = place(&arena_x, bytes, mode % 3, sizeof(T));
                    T *y = inplace ? x : place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
                    unsigned char *w = place(&arena_z, (size_t)n, (mode + 2) % 2 ? 0 : 1, 1); /* page end / start */
                    fill_layout(&arena_x, x, sizeof(T), 1, n, n);
                    if (!inplace) fill_layout(&arena_y, y, sizeof(T), 1, n, n);
                    fill_layout(&arena_z, w, 1, 1, n, n);
                    memcpy(x, xin, bytes);
                    memcpy(w, win, (size_t)n);
                    current_case = desc;
                    KF(tb_of_(t), keep_)(x, w, y, n, fill);
                    int ok = memcmp(y, want, bytes) == 0;
                    ptrdiff_t at = 0;
                    while (!ok && at < n && memcmp(y + at, want + at, sizeof(T)) == 0) at++;
                    CK_NOTE(t, F_KEEP, 0, ok, desc, "%s: y[%td] = %.17g, expected %.17g (w = %d, x = %.17g)",
                            inplace ? "in place" : "out of place", at, (double)y[at < n ? at : 0],
                            (double)want[at < n ? at : 0], win[at < n ? at : 0], (double)xin[at < n ? at : 0]);
                    if (!inplace) {
                        K(check_unchanged_)(t, F_KEEP, x, 0, xin, 1, n, desc);
                        K(check_guard_)(t, F_KEEP, &arena_y, y, 1, n, n, "y", desc);
                    }
                    K(check_guard_)(t, F_KEEP, &arena_x, x, 1, n, n, "x", desc);
                    if (layout_damage(&arena_z, w, 1, 1, n, n) != PTRDIFF_MIN || memcmp(w, win, (size_t)n) != 0)
                        CK_NOTE(t, F_KEEP, 0, 0, desc, "the mask was modified");
                }
            current_case = NULL;
        }
    }
    free(xin);
    free(want);
    free(win);
}

static void K(bwd_rows_)(void) {
    static const ptrdiff_t big[] = {1000, 4097};
    T *dy = malloc(4097 * sizeof(T)), *y = malloc(2 * 4097 * sizeof(T)), *x = malloc(4097 * sizeof(T));
    R *smr = K(ref_buf_)(4097), *lsr = K(ref_buf_)(4097), lser;
    char desc[200];
    static const char *const bd_name[5] = {"normal", "one-hot dy", "wide y (exact zeros, -inf)", "dy with NaN",
                                           "large dy"};
    for (int li = 0; li < 72; li++) {
        ptrdiff_t n = li < 70 ? li + 1 : big[li - 70];
        for (int d = 0; d < 5; d++) {
            if (opt_lite && n <= 70 && (d + li) % 2) continue;
            uint64_t seed = rng_reseed();
            /* y: softmax and log_softmax (rounded to T) of logits x */
            for (ptrdiff_t i = 0; i < n; i++) {
                x[i] = (T)(d == 2 ? rng_uniform(CK_F32 ? -150 : -1000, 0) : 3 * rng_normal());
                dy[i] = (T)(d == 4 ? 1e6 * rng_normal() : rng_normal());
            }
            if (d == 2) x[rng_below(n)] = (T)-INFINITY, x[rng_below(n)] = 0;
            if (d == 1)
                for (ptrdiff_t i = 0; i < n; i++) dy[i] = i == n / 2 ? (T)-1 : (T)0;
            if (d == 3) dy[rng_below(n)] = NAN;
            K(ref_slice_)(x, 1, n, smr, lsr, 1, &lser);
            for (ptrdiff_t i = 0; i < n; i++) {
                y[i] = (T)smr[i];
                y[n + i] = (T)lsr[i];
                if (y[n + i] > 0) y[n + i] = 0; /* log_softmax_bwd takes y <= 0 */
            }
            snprintf(desc, sizeof desc, "bwd row n=%td dist=%s seed=%llu", n, bd_name[d], (unsigned long long)seed);
            K(check_bwd_row_)(dy, y, n, desc);
        }
    }
    free(dy);
    free(y);
    free(x);
    free(smr);
    free(lsr);
}

/* ---------------------------------------------------------------------------------------------- */
/* sigmoid, log_sigmoid                                                                             */

static void K(ref_sig_)(T v, ref_t *sg, ref_t *lsg) {
    if (v != v) {
        sg->hi = lsg->hi = NAN;
        sg->lo = lsg->lo = 0;
        return;
    }
    R a = RFABS((R)v), e = a == INFINITY ? (R)0 : REXP(-a);
    *sg = K(to_ref_)(v >= 0 ? 1 / (1 + e) : e / (1 + e));
    R l = e == 0 ? (R)0 : RLOG1P(e);
    *lsg = K(to_ref_)((v < 0 ? (R)v : (R)0) - l);
}

static void K(check_sig_chunk_)(int t, const T *in, ptrdiff_t n, int mode, const char *desc) {
    const fss_kernels *tb = tables[t].k;
    size_t bytes = (size_t)n * sizeof(T);
    ref_t *sg = malloc((size_t)n * sizeof(ref_t)), *lsg = malloc((size_t)n * sizeof(ref_t));
    if (!sg || !lsg) abort();
    for (ptrdiff_t i = 0; i < n; i++) K(ref_sig_)(in[i], &sg[i], &lsg[i]);
    T *x = place(&arena_x, bytes, mode, sizeof(T));
    T *y = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
    current_case = desc;
    for (int f = F_SIG; f <= F_LSIG; f++)
        for (int inplace = 0; inplace < 2; inplace++) {
            fill_layout(&arena_x, x, sizeof(T), 1, n, n);
            fill_layout(&arena_y, y, sizeof(T), 1, n, n);
            memcpy(x, in, bytes);
            T *out = inplace ? x : y;
            if (f == F_SIG) KF(tb, sigmoid_)(x, out, n);
            else KF(tb, log_sigmoid_)(x, out, n);
            if (!inplace) {
                K(check_unchanged_)(t, f, x, 0, in, 1, n, desc);
                K(check_guard_)(t, f, &arena_y, y, 1, n, n, "y", desc);
            }
            K(check_guard_)(t, f, &arena_x, x, 1, n, n, "x", desc);
            const ref_t *ref = f == F_SIG ? sg : lsg;
            for (ptrdiff_t i = 0; i < n; i++) {
                double u;
                int ok = K(cmp_rel_)(out[i], ref[i], &u);
                if (f == F_SIG && ok && out[i] == out[i]) ok = out[i] >= 0 && out[i] <= 1;
                if (f == F_LSIG && ok) ok = !(out[i] > 0);
                CK_NOTE(t, f, u, ok, desc, "%s(" TFMT ") = " TFMT ", ref %.17g%+.3g%s", fname[f], (double)in[i],
                        (double)in[i], (double)out[i], (double)out[i], ref[i].hi, ref[i].lo,
                        inplace ? " (in place)" : "");
            }
        }
    current_case = NULL;
    free(sg);
    free(lsg);
}

static void K(sigmoid_)(void) {
    enum { CH = 4093 };
    T *buf = malloc(CH * sizeof(T));
    char desc[160];
    static const double specials[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 20, -20, 40, -40, 87.3, -87.3,
                                      88.7, -88.7, 103.9, -103.9, 104.5, -104.5, 700, -700, 708.4, -708.4,
                                      709.8, -709.8, 745.2, -745.2, 746, -746, 1000, -1000, 1e10, -1e10, 1e30,
                                      -1e30, 3e38, -3e38, 1e300, -1e300, 1e-30, -1e-30, 1e-40, -1e-40, 1e-310,
                                      -1e-310, 5e-324, -5e-324};
    const ptrdiff_t nspec = (ptrdiff_t)(sizeof specials / sizeof specials[0]);
    for (int t = 0; t < ntables; t++) {
        /* short vectors of special values, at page edges */
        for (ptrdiff_t n = 1; n <= 40; n++) {
            for (ptrdiff_t i = 0; i < n; i++) {
                uint64_t r = rng_next() % (uint64_t)(nspec + 6);
                buf[i] = r < (uint64_t)nspec ? (T)specials[r]
                         : r == (uint64_t)nspec ? (T)INFINITY
                         : r == (uint64_t)nspec + 1 ? (T)-INFINITY
                         : r == (uint64_t)nspec + 2 ? (T)NAN
                         : r == (uint64_t)nspec + 3 ? MAXF_T
                         : r == (uint64_t)nspec + 4 ? -MAXF_T
                                                    : (T)rng_uniform(-30, 30);
            }
            snprintf(desc, sizeof desc, "sigmoid specials n=%td", n);
            K(check_sig_chunk_)(t, buf, n, (int)(n % 3), desc);
        }
        /* every value of the list, and its neighbours */
        ptrdiff_t k = 0;
        for (ptrdiff_t i = 0; i < nspec; i++) {
            T v = (T)specials[i];
            buf[k++] = v;
            buf[k++] = RNEXT(v, (T)INFINITY);
            buf[k++] = RNEXT(v, (T)-INFINITY);
        }
        buf[k++] = INFINITY;
        buf[k++] = -INFINITY;
        buf[k++] = NAN;
        buf[k++] = -NAN;
        buf[k++] = MAXF_T;
        buf[k++] = -MAXF_T;
        K(check_sig_chunk_)(t, buf, k, 2, "sigmoid special list");
#if CK_F32
        /* every opt_sig_stride-th bit pattern of all 2^32 (both signs, subnormals, inf, NaN) */
        k = 0;
        for (uint64_t b = 0; b < (1ull << 32); b += (uint64_t)opt_sig_stride) {
            uint32_t bb = (uint32_t)b;
            memcpy(&buf[k++], &bb, 4);
            if (k == CH || b + (uint64_t)opt_sig_stride >= (1ull << 32)) {
                snprintf(desc, sizeof desc, "sigmoid_f32 bit sweep chunk ending at %a", (double)buf[k - 1]);
                K(check_sig_chunk_)(t, buf, k, 0, desc);
                k = 0;
            }
        }
#else
        /* opt_sig64_n points: random bit patterns (every binade equally), random exponents, uniform */
        for (long done = 0; done < opt_sig64_n; done += CH) {
            ptrdiff_t cnt = opt_sig64_n - done < CH ? (ptrdiff_t)(opt_sig64_n - done) : CH;
            for (ptrdiff_t i = 0; i < cnt; i++) {
                long idx = done + i;
                switch (idx % 3) {
                case 0: {
                    uint64_t bb = rng_next();
                    memcpy(&buf[i], &bb, 8);
                    break;
                }
                case 1: buf[i] = ldexp(rng_uniform(-1, 1), (int)rng_below(24) - 12); break;
                default: buf[i] = rng_uniform(-760, 760); break;
                }
            }
            snprintf(desc, sizeof desc, "sigmoid_f64 sample chunk at %ld", done);
            K(check_sig_chunk_)(t, buf, cnt, (int)(done % 3), desc);
        }
#endif
        /* dense linear sweep over the interesting range */
        k = 0;
        const double lo = CK_F32 ? -110 : -760, hi = -lo;
        const long npts = opt_lite ? 20000 : 400000;
        for (long i = 0; i <= npts; i++) {
            buf[k++] = (T)(lo + (hi - lo) * (double)i / (double)npts);
            if (k == CH || i == npts) {
                snprintf(desc, sizeof desc, "sigmoid linear sweep chunk ending at %.9g", (double)buf[k - 1]);
                K(check_sig_chunk_)(t, buf, k, 1, desc);
                k = 0;
            }
        }
    }
    free(buf);
}

/* ---------------------------------------------------------------------------------------------- */
/* Batches of rows through rows_: short rows (n <= 4W) W at a time, transposed so that row r is lane r  */
/* (short_lanes); the rows left over and every block of W holding a row with a non-finite max by the   */
/* per-row short kernels (short_pair, softmax_short); longer rows one by one.  Every kernel adds a row's */
/* terms in element order, so a row gets the same bits whichever of them takes it.                    */

#ifndef CK_SB_ONCE
#define CK_SB_ONCE
enum { SB_ROWS = 37, SB_NDIST = 8, SB_NSPECIAL = 10 };
static const char *const sbspecial_name[SB_NSPECIAL] = {"NaN at p", "+inf at p", "-inf at p", "all -inf",
                                                        "+huge at p, -huge at q", "max finite at p, -max at q",
                                                        "1e30 at p", "-1e30 at p", "all -inf but p",
                                                        "NaN at p, +inf at q"};
#endif
static int K(sbatch_mode_);

/* Row r of a batch: distribution (r + salt) % SB_NDIST, so that the rows of a block of W differ:
 * 0 normal*3, 1 1e4 + normal, 2 uniform[-50, 50], 3 -1e6 + normal*5, 4 normal*3 with -inf (a fifth),
 * 5 max 0 and the rest 14..40 (float64: 30..80) below (a sum of 1 + tiny: its last bits show the order of
 * the additions), 6 max 0 and the rest -90 (float64: -730) + noise (subnormal or flushed terms),
 * 7 +-1e30 (a third) among normal values. */
static void K(sbgen_)(T *x, ptrdiff_t n, int dist) {
    if (dist < 5 || dist == 7) { /* the scaled rows' distributions (their 5 is our 7) */
        K(sgen_)(x, n, dist == 7 ? 5 : dist);
        return;
    }
    for (ptrdiff_t i = 0; i < n; i++) {
        if (dist == 5) x[i] = (T)(CK_F32 ? -rng_uniform(14, 40) : -rng_uniform(30, 80)); /* sum 1 + tiny */
        else x[i] = (T)(CK_F32 ? -90 + 0.5 * rng_normal() : -730 + 2 * rng_normal()); /* subnormal terms */
    }
    x[rng_below(n)] = 0; /* the max */
}

static void K(sbplant_)(T *x, ptrdiff_t n, int kind) {
    ptrdiff_t p = rng_below(n), q = (p + 1 + n / 2) % n;
    switch (kind) {
    case 0: x[p] = NAN; break;
    case 1: x[p] = INFINITY; break;
    case 2: x[p] = -INFINITY; break;
    case 3: for (ptrdiff_t i = 0; i < n; i++) x[i] = -INFINITY; break;
    case 4: x[q] = (T)-HUGE_T; x[p] = (T)HUGE_T; break;
    case 5: x[q] = -MAXF_T; x[p] = MAXF_T; break;
    case 6: x[p] = (T)1e30; break;
    case 7: x[p] = (T)-1e30; break;
    case 8: {
        T v = x[p];
        for (ptrdiff_t i = 0; i < n; i++) x[i] = -INFINITY;
        x[p] = v;
        break;
    }
    default: x[q] = INFINITY; x[p] = NAN; break;
    }
}

/* Note a bit difference of the rows_ result y (row r at y + r * ys, w elements) from another path's. */
static void K(sb_same_)(int t, int op, const T *y, ptrdiff_t ys, ptrdiff_t r, const T *other, ptrdiff_t w,
                        const char *path, const char *variant) {
    int ok = K(same_bits_)(y + r * ys, other, w);
    ptrdiff_t j = 0;
    while (!ok && j + 1 < w && K(same_bits_)(y + r * ys + j, other + j, 1)) j++;
    CK_NOTE(t, F_SRB, 0, ok, variant, "op %d row %td (position %td in its block of W = %td) element %td: rows_ " TFMT
            " but %s " TFMT, op, r, r % table_width(t, DT), table_width(t, DT), j, (double)y[r * ys + j],
            (double)y[r * ys + j], path, (double)other[j], (double)other[j]);
}

/* One batch of SB_ROWS rows of n (in, packed; row `special` holds a planted special value, -1: none,
 * and clean is then the batch without it), of s * x, x rows xs apart and y rows ys apart (gaps filled
 * with canaries, which must survive and, read as NaN, would poison a result). */
static void K(check_short_batch_)(const T *in, const T *clean, ptrdiff_t n, T s, ptrdiff_t xs, ptrdiff_t ys,
                                  ptrdiff_t special, const char *desc) {
    const ptrdiff_t rows = SB_ROWS;
    ref_t *sm = malloc((size_t)(rows * n) * sizeof(ref_t)), *ls = malloc((size_t)(rows * n) * sizeof(ref_t));
    ref_t lse[SB_ROWS], sum;
    R *smr = K(ref_buf_)(n), *lsr = K(ref_buf_)(n), lser;
    if (!sm || !ls) abort();
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = in + r * n;
        int plain = s == 1;
        T m = -INFINITY;
        for (ptrdiff_t i = 0; i < n; i++) {
            if (xr[i] != xr[i]) plain = 1;
            else if (xr[i] > m) m = xr[i];
        }
        if (plain || !isfinite(m)) { /* the special-value rules do not depend on s */
            K(ref_slice_)(xr, 1, n, smr, lsr, 1, &lser);
            for (ptrdiff_t i = 0; i < n; i++) {
                sm[r * n + i] = K(to_ref_)(smr[i]);
                ls[r * n + i] = K(to_ref_)(lsr[i]);
            }
            lse[r] = K(to_ref_)(lser);
        } else {
            K(ref_scaled_)(xr, n, s, sm + r * n, ls + r * n, &lse[r], &sum);
        }
    }
    free(smr);
    free(lsr);
    const int mode = K(sbatch_mode_)++ % 3;
    const size_t xbytes = (size_t)((rows - 1) * xs + n) * sizeof(T);
    T *ycol = malloc((size_t)(rows * n) * sizeof(T)), *xt = malloc((size_t)(rows * n) * sizeof(T));
    T *yalt = malloc((size_t)((rows - 1) * ys + n) * sizeof(T)), *tmp = malloc((size_t)n * sizeof(T));
    if (!ycol || !xt || !yalt || !tmp) abort();
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t j = 0; j < n; j++) xt[j * rows + r] = in[r * n + j]; /* row r is lane r */
    for (int t = 0; t < ntables; t++) {
        const fss_kernels *tb = tables[t].k;
        for (int op = 0; op < 3; op++) {
            const int lse_op = op == FSS_OP_LOGSUMEXP, w = lse_op ? 1 : (int)n;
            const int f = s == 1 ? (op == 0 ? F_SM : op == 1 ? F_LS : F_LSE) : (op == 0 ? F_SMS : op == 1 ? F_LSS : F_LSES);
            const ptrdiff_t yst = lse_op ? (ys > n ? 3 : 1) : ys; /* logsumexp: one result per row */
            char variant[360];
            snprintf(variant, sizeof variant, "%s, op %d, xs %td, ys %td (x %s, y %s)", desc, op, xs, yst,
                     mode_name[mode], mode_name[(mode + 1) % 3]);
            current_case = variant;
            T *x = place(&arena_x, xbytes, mode, sizeof(T));
            T *y = place(&arena_y, (size_t)((rows - 1) * yst + w) * sizeof(T), (mode + 1) % 3, sizeof(T));
            fill_layout(&arena_x, x, sizeof(T), rows, xs, n);
            for (ptrdiff_t r = 0; r < rows; r++) memcpy(x + r * xs, in + r * n, (size_t)n * sizeof(T));
            fill_layout(&arena_y, y, sizeof(T), rows, yst, w);

            KF(tb, rows_)(op, x, xs, y, yst, rows, n, s, 0);
            for (ptrdiff_t r = 0; r < rows; r++) {
                K(input_info_) ii = {in + r * n, 1, n, 0};
                if (lse_op) K(check_out_)(t, f, 1, y + r * yst, 0, &lse[r], 0, 1, 1, &ii, 0, variant);
                else K(check_out_)(t, f, op == FSS_OP_LOG_SOFTMAX, y + r * yst, 0, (op ? ls : sm) + r * n, 0, 1, n, &ii, 1,
                                   variant);
            }
            K(check_unchanged_)(t, f, x, xs, in, rows, n, variant);
            K(check_guard_)(t, f, &arena_x, x, rows, xs, n, "x", variant);
            K(check_guard_)(t, f, &arena_y, y, rows, yst, w, "y", variant);

            /* each row alone (softmax_short / short_pair's odd row), and in pairs (short_pair) */
            for (ptrdiff_t r = 0; r < rows; r++) {
                KF(tb, rows_)(op, x + r * xs, xs, tmp, yst, 1, n, s, 0);
                K(sb_same_)(t, op, y, yst, r, tmp, w, "the row alone", variant);
            }
            for (ptrdiff_t r = 0; r + 1 < rows; r += 2) { /* prefetching the output (pf), the same bits */
                KF(tb, rows_)(op, x + r * xs, xs, yalt + r * yst, yst, 2, n, s, 1);
                K(sb_same_)(t, op, y, yst, r, yalt + r * yst, w, "rows_ on a pair", variant);
                K(sb_same_)(t, op, y, yst, r + 1, yalt + (r + 1) * yst, w, "rows_ on a pair", variant);
            }
            /* the batch started 3 rows later: every row in another block of W (or left over) */
            KF(tb, rows_)(op, x + 3 * xs, xs, yalt + 3 * yst, yst, rows - 3, n, s, 1);
            for (ptrdiff_t r = 3; r < rows; r++)
                K(sb_same_)(t, op, y, yst, r, yalt + r * yst, w, "the batch from row 3", variant);
            /* the batch without the special row: the other rows of its block of W fell back */
            if (clean) {
                KF(tb, rows_)(op, clean, n, yalt, yst, rows, n, s, 0);
                for (ptrdiff_t r = 0; r < rows; r++)
                    if (r != special) K(sb_same_)(t, op, y, yst, r, yalt + r * yst, w, "the batch without the special row", variant);
            }
            /* the column kernel on the transposed rows, row r in lane r: where they lie, and packed */
            for (int pk = 0; pk < 2; pk++) {
                T *b = pk ? malloc((size_t)(n * rows) * sizeof(T)) : NULL;
                if (op == FSS_OP_SOFTMAX) KF(tb, softmax_cols_)(xt, rows, ycol, rows, n, rows, s, b);
                else if (op == FSS_OP_LOG_SOFTMAX) KF(tb, log_softmax_cols_)(xt, rows, ycol, rows, n, rows, s, b);
                else KF(tb, logsumexp_cols_)(xt, rows, ycol, n, rows, s, b);
                for (ptrdiff_t r = 0; r < rows; r++) {
                    if (lse_op) tmp[0] = ycol[r];
                    else
                        for (ptrdiff_t j = 0; j < n; j++) tmp[j] = ycol[j * rows + r];
                    K(sb_same_)(t, op, y, yst, r, tmp, w, pk ? "the column kernel, packed" : "the column kernel",
                                variant);
                }
                free(b);
            }
            /* in place (y = x, ys = xs) */
            if (!lse_op) {
                snprintf(variant, sizeof variant, "%s, op %d, in place, xs %td (x %s)", desc, op, xs, mode_name[mode]);
                KF(tb, rows_)(op, x, xs, x, xs, rows, n, s, 1);
                for (ptrdiff_t r = 0; r < rows; r++) K(sb_same_)(t, op, y, yst, r, x + r * xs, w, "in place", variant);
                K(check_guard_)(t, f, &arena_x, x, rows, xs, n, "x", variant);
            }
        }
    }
    current_case = NULL;
    free(sm);
    free(ls);
    free(ycol);
    free(xt);
    free(yalt);
    free(tmp);
}

static void K(short_batches_)(void) {
    static const double bscales[3] = {1.0, 0.3, 2.5};
    T *in = malloc((size_t)SB_ROWS * 65 * sizeof(T)), *clean = malloc((size_t)SB_ROWS * 65 * sizeof(T));
    char desc[240];
    int kind = 0;
    if (!in || !clean) abort();
    for (ptrdiff_t n = 1; n <= 65; n++) {
        if (n > 33 && n != 48 && n < 63) continue;
        for (int si = 0; si < 3; si++) {
            const T s = (T)bscales[si];
            for (int v = 0; v < 2; v++) { /* 0: packed, no special value; 1: gaps, a special value in a row */
                if (opt_lite && v == 0 && (n + si) % 2) continue;
                uint64_t seed = rng_reseed();
                const int salt = (int)rng_below(SB_NDIST);
                for (ptrdiff_t r = 0; r < SB_ROWS; r++) K(sbgen_)(in + r * n, n, (int)((r + salt) % SB_NDIST));
                if (v == 0) {
                    snprintf(desc, sizeof desc, "batch of %d rows n=%td s=%.9g salt=%d seed=%llu", SB_ROWS, n, (double)s,
                             salt, (unsigned long long)seed);
                    K(check_short_batch_)(in, NULL, n, s, n, n, -1, desc);
                    continue;
                }
                memcpy(clean, in, (size_t)(SB_ROWS * n) * sizeof(T));
                /* rows 16..31: inside a block for every W, at every position of it in turn (the last lane
                 * too); row 36: left over for W = 2, 4, 8, 16 */
                const ptrdiff_t target = kind % 3 == 2 ? 36 : 16 + (kind * 7) % 16;
                K(sbplant_)(in + target * n, n, kind % SB_NSPECIAL);
                snprintf(desc, sizeof desc, "batch of %d rows n=%td s=%.9g salt=%d, row %td: %s, seed=%llu", SB_ROWS, n,
                         (double)s, salt, target, sbspecial_name[kind % SB_NSPECIAL], (unsigned long long)seed);
                kind++;
                K(check_short_batch_)(in, clean, n, s, n + 3, n + 5, target, desc);
            }
        }
    }
    free(in);
    free(clean);
}

static void K(run_ext_)(void) {
    double t0 = now();
    K(scaled_rows_)();
    K(scaled_special_rows_)();
    double t1 = now();
    K(bwd_rows_)();
    K(lsub_dot_rows_)();
    K(keep_rows_)();
    double t2 = now();
    K(sigmoid_)();
    double t3 = now();
    K(short_batches_)();
    double t4 = now();
    printf("  %s: scaled rows %.1fs, backward rows %.1fs, sigmoid %.1fs, batches of rows %.1fs\n", CK_STR(TAG), t1 - t0,
           t2 - t1, t3 - t2, t4 - t3);
    fflush(stdout);
}

#undef RLOG1P
#undef RNEXT
