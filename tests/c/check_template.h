/*
 * check_template.h - the dtype-generic half of kernel_check.c, included once for float (CK_F32 = 1,
 * reference in double) and once for double (CK_F32 = 0, reference in long double: 80-bit extended on
 * x86-64, IEEE quad on AArch64 Linux).
 */

#if CK_F32
#define T float
#define R double
#define TAG f32
#define DT 0
#define EPS_T 0x1p-23
#define TINY_T 0x1p-126
#define HUGE_T 3e38f
#define MAXF_T FLT_MAX
#define DOMINANT 60.0 /* e^-61 ~ 3e-27: small outputs far above 2^-126 */
#define REXP(v) exp(v)
#define RLOG(v) log(v)
#define RFABS(v) fabs(v)
#define RFMT "%.17g"
#define TFMT "%.9g (%a)"
#define EXP_LO (-87.33f)
#else
#define T double
#define R long double
#define TAG f64
#define DT 1
#define EPS_T 0x1p-52
#define TINY_T 0x1p-1022
#define HUGE_T 1e308
#define MAXF_T DBL_MAX
#define DOMINANT 300.0 /* e^-301 ~ 4e-131, far above 2^-1022 */
#define REXP(v) REF_EXPL(v)
#define RLOG(v) logl(v)
#define RFABS(v) fabsl(v)
#define RFMT "%.21Lg"
#define TFMT "%.17g (%a)"
#define EXP_LO (-708.39)
#endif

#define K(name) CK_CAT(name, TAG)      /* K(softmax_) -> softmax_f32 */
#define KF(tb, name) ((tb)->K(name))   /* table member */

/* ---------------------------------------------------------------------------------------------- */
/* Reference                                                                                        */

/* One slice of n elements xs apart: softmax and log_softmax into sm / ls (os apart, either may be
 * NULL), logsumexp into *lse; in R precision, with the package's special-value rules. */
static void K(ref_slice_)(const T *x, ptrdiff_t xs, ptrdiff_t n, R *sm, R *ls, ptrdiff_t os, R *lse) {
    int has_nan = 0;
    ptrdiff_t k = 0;
    R m = -INFINITY;
    for (ptrdiff_t i = 0; i < n; i++) {
        T v = x[i * xs];
        if (v != v) has_nan = 1;
        else {
            if (v == (T)INFINITY) k++;
            if ((R)v > m) m = (R)v;
        }
    }
    if (has_nan || (k == 0 && m == -INFINITY)) {
        for (ptrdiff_t i = 0; i < n; i++) {
            if (sm) sm[i * os] = NAN;
            if (ls) ls[i * os] = NAN;
        }
        *lse = has_nan ? (R)NAN : (R)-INFINITY;
        return;
    }
    if (k > 0) {
        for (ptrdiff_t i = 0; i < n; i++) {
            int inf = x[i * xs] == (T)INFINITY;
            if (sm) sm[i * os] = inf ? (R)1 / (R)k : (R)0;
            if (ls) ls[i * os] = inf ? -RLOG((R)k) : (R)-INFINITY;
        }
        *lse = INFINITY;
        return;
    }
    /* finite max: Neumaier-compensated sum of exp(x - m) */
    R s = 0, c = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        R e = REXP((R)x[i * xs] - m);
        if (sm) sm[i * os] = e;
        R t = s + e;
        c += RFABS(s) >= RFABS(e) ? (s - t) + e : (e - t) + s;
        s = t;
    }
    s += c;
    R L = RLOG(s);
    for (ptrdiff_t i = 0; i < n; i++) {
        if (sm) sm[i * os] /= s;
        if (ls) ls[i * os] = ((R)x[i * xs] - m) - L;
    }
    *lse = m + L;
}

/* ---------------------------------------------------------------------------------------------- */
/* Comparison                                                                                       */

/* The reference rounded to a double-double (exact enough for either precision): comparisons then run in
 * double, which matters where long double is software (IEEE quad on AArch64, slow under qemu). */
static ref_t K(to_ref_)(R v) {
    ref_t r;
    r.hi = (double)v;
    r.lo = isfinite(r.hi) ? (double)(v - (R)r.hi) : 0.0;
    if (r.hi == 0 && v != 0) r.hi = v > 0 ? 0x1p-1074 : -0x1p-1074; /* keep "exactly 0" for exact zeros */
    return r;
}

static R *K(ref_buf_)(ptrdiff_t n) {
    R *p = malloc((size_t)n * sizeof(R));
    if (!p) abort();
    return p;
}

static ref_t *K(ref_conv_)(R *v, ptrdiff_t n) {
    ref_t *r = malloc((size_t)n * sizeof(ref_t));
    if (!r) abort();
    for (ptrdiff_t i = 0; i < n; i++) r[i] = K(to_ref_)(v[i]);
    free(v);
    return r;
}

/* kind 0: softmax (relative EPS above TINY, absolute TINY below); kind 1: log_softmax / logsumexp
 * (absolute EPS * max(1, |ref|)).  Returns 1 if got is acceptable; *units = error in units of EPS_T
 * (the contract allows 4). */
static int K(cmp_)(int kind, T got, ref_t ref, double *units) {
    T reft = (T)ref.hi;
    *units = 0;
    if (ref.hi != ref.hi) return got != got;
    if (isinf(reft)) return got == reft;
    if (ref.hi == 0 && kind == 0) return got == 0; /* exp(-inf), or far below the flush threshold */
    if (!isfinite(got)) {
        *units = INFINITY;
        return 0;
    }
    double err = fabs(((double)got - ref.hi) - ref.lo), bound;
    if (kind == 0) bound = ref.hi >= TINY_T ? 4 * EPS_T * ref.hi : TINY_T;
    else bound = 4 * EPS_T * (fabs(ref.hi) > 1 ? fabs(ref.hi) : 1);
    *units = 4 * err / bound;
    /* below tiny the bound is absolute (outputs may be flushed to 0): checked, but left out of the
     * reported maximum, which measures the relative error */
    if (kind == 0 && ref.hi < TINY_T && err <= bound) *units = 0;
    return err <= bound;
}

typedef struct {
    const T *in;      /* input, packed: rows x width (width = n for a row) */
    ptrdiff_t rows, width;
    int cols;         /* 1: columns layout (report index as row, lane) */
} K(input_info_);

static void K(dump_input_)(const K(input_info_) *ii, ptrdiff_t j, ptrdiff_t l, int elementwise) {
    ptrdiff_t total = ii->rows * ii->width;
    if (total <= 24) {
        fprintf(stderr, "    input (%td x %td):", ii->rows, ii->width);
        for (ptrdiff_t i = 0; i < total; i++) fprintf(stderr, " %.9g", (double)ii->in[i]);
        fprintf(stderr, "\n");
        return;
    }
    if (elementwise) fprintf(stderr, "    x = " TFMT "\n", (double)ii->in[j * ii->width + l], (double)ii->in[j * ii->width + l]);
    /* the slice's max (of the column l, or of the row) */
    double m = -INFINITY;
    int nan = 0;
    if (ii->cols) {
        for (ptrdiff_t r = 0; r < ii->rows; r++) {
            T v = ii->in[r * ii->width + l];
            if (v != v) nan = 1;
            else if (v > m) m = v;
        }
    } else {
        for (ptrdiff_t i = 0; i < ii->width; i++) {
            T v = ii->in[i];
            if (v != v) nan = 1;
            else if (v > m) m = v;
        }
    }
    fprintf(stderr, "    slice max %.17g%s\n", m, nan ? " (slice has NaN)" : "");
}

/* Compare rows x width outputs (got at j * gs + l, ref at j * rs + l).  elementwise: outputs correspond
 * one to one to inputs (softmax, log_softmax), else to lanes (logsumexp). */
static void K(check_out_)(int t, int f, int kind, const T *got, ptrdiff_t gs, const ref_t *ref, ptrdiff_t rs,
                          ptrdiff_t rows, ptrdiff_t width, const K(input_info_) *ii, int elementwise,
                          const char *variant) {
    stat_t *st = &stats[t][DT][f];
    for (ptrdiff_t j = 0; j < rows; j++) {
        for (ptrdiff_t l = 0; l < width; l++) {
            double u;
            T g = got[j * gs + l];
            ref_t r = ref[j * rs + l];
            int ok = K(cmp_)(kind, g, r, &u);
            st->checks++;
            if (u > st->max_units) {
                st->max_units = u;
                if (opt_worst)
                    snprintf(st->worst, sizeof st->worst, "%s [%td,%td] got " TFMT " ref %.17g%+.3g x " TFMT, variant,
                             j, l, (double)g, (double)g, r.hi, r.lo, (double)(elementwise ? ii->in[(ii->cols ? j : 0) * ii->width + l] : 0),
                             (double)(elementwise ? ii->in[(ii->cols ? j : 0) * ii->width + l] : 0));
            }
            if (!ok) {
                st->fails++;
                if (note_failure(t, DT, f, variant)) {
                    if (ii->cols || rows > 1)
                        fprintf(stderr, "    at row %td lane %td: got " TFMT ", ref %.17g%+.3g (%.2f eps)\n", j,
                                l, (double)g, (double)g, r.hi, r.lo, u);
                    else
                        fprintf(stderr, "    at index %td: got " TFMT ", ref %.17g%+.3g (%.2f eps)\n", l,
                                (double)g, (double)g, r.hi, r.lo, u);
                    K(dump_input_)(ii, ii->cols ? j : 0, l, elementwise);
                }
            }
        }
    }
}

/* The input must come back bit for bit (out-of-place calls). */
static void K(check_unchanged_)(int t, int f, const T *x, ptrdiff_t xs, const T *in, ptrdiff_t rows,
                                ptrdiff_t width, const char *variant) {
    for (ptrdiff_t j = 0; j < rows; j++)
        if (memcmp(x + j * xs, in + j * width, (size_t)width * sizeof(T)) != 0) {
            stats[t][DT][f].fails++;
            if (note_failure(t, DT, f, variant)) fprintf(stderr, "    the input was modified (row %td)\n", j);
            return;
        }
}

static void K(check_guard_)(int t, int f, const arena_t *a, const T *p, ptrdiff_t rows, ptrdiff_t stride,
                            ptrdiff_t width, const char *what, const char *variant) {
    ptrdiff_t off = layout_damage(a, p, sizeof(T), rows, stride, width);
    if (off != PTRDIFF_MIN) {
        stats[t][DT][f].fails++;
        if (note_failure(t, DT, f, variant))
            fprintf(stderr, "    write outside %s: byte offset %td from %s (elements: %td rows x %td, stride %td)\n",
                    what, off, what, rows, width, stride);
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Rows                                                                                             */

static int K(row_mode_);

/* a and b hold the same bits, any NaN matching any NaN (their sign and payload depend on the operand
 * order the compiler picked for a commutative operation). */
static int K(same_bits_)(const T *a, const T *b, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(T)) != 0 && !(a[i] != a[i] && b[i] != b[i])) return 0;
    return 1;
}

/* Check every table on one row (input in, n elements) against its reference. */
static void K(check_row_)(const T *in, ptrdiff_t n, const char *desc) {
    R *smr = K(ref_buf_)(n), *lsr = K(ref_buf_)(n), lser;
    K(ref_slice_)(in, 1, n, smr, lsr, 1, &lser);
    ref_t *sm = K(ref_conv_)(smr, n), *ls = K(ref_conv_)(lsr, n), lse = K(to_ref_)(lser);
    K(input_info_) ii = {in, 1, n, 0};
    int mode = K(row_mode_)++ % 3;
    size_t bytes = (size_t)n * sizeof(T);
    for (int t = 0; t < ntables; t++) {
        const fss_kernels *tb = tables[t].k;
        char variant[256];
        T *x = place(&arena_x, bytes, mode, sizeof(T));
        T *y = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
        snprintf(variant, sizeof variant, "%s (x %s, y %s)", desc, mode_name[mode], mode_name[(mode + 1) % 3]);
        current_case = variant;

        fill_layout(&arena_x, x, sizeof(T), 1, n, n);
        memcpy(x, in, bytes);
        fill_layout(&arena_y, y, sizeof(T), 1, n, n);
        KF(tb, softmax_)(x, y, n);
        K(check_out_)(t, F_SM, 0, y, 0, sm, 0, 1, n, &ii, 1, variant);
        K(check_unchanged_)(t, F_SM, x, 0, in, 1, n, variant);
        K(check_guard_)(t, F_SM, &arena_x, x, 1, n, n, "x", variant);
        K(check_guard_)(t, F_SM, &arena_y, y, 1, n, n, "y", variant);

        fill_layout(&arena_y, y, sizeof(T), 1, n, n);
        KF(tb, log_softmax_)(x, y, n);
        K(check_out_)(t, F_LS, 1, y, 0, ls, 0, 1, n, &ii, 1, variant);
        K(check_unchanged_)(t, F_LS, x, 0, in, 1, n, variant);
        K(check_guard_)(t, F_LS, &arena_y, y, 1, n, n, "y", variant);

        T r = KF(tb, logsumexp_)(x, n);
        K(check_out_)(t, F_LSE, 1, &r, 0, &lse, 0, 1, 1, &ii, 0, variant);
        K(check_unchanged_)(t, F_LSE, x, 0, in, 1, n, variant);
        K(check_guard_)(t, F_LSE, &arena_x, x, 1, n, n, "x", variant);

        /* the row-parallel driver's kernel (row_): with the next row prefetched, the result written by
         * non-temporal stores through a scratch row and/or prefetched for writing (even past its end),
         * the bits of the row kernels above */
        {
            T *want = malloc(bytes), *scratch = malloc(bytes);
            for (int op = 0; op < 3; op++) {
                const int f = op == 0 ? F_SM : op == 1 ? F_LS : F_LSE;
                if (op == 0) KF(tb, softmax_)(x, want, n);
                else if (op == 1) KF(tb, log_softmax_)(x, want, n);
                else want[0] = KF(tb, logsumexp_)(x, n);
                for (int v = 0; v < 8; v++) {
                    fill_layout(&arena_y, y, sizeof(T), 1, n, n);
                    KF(tb, row_)(op, x, y, n, (v & 1) ? in : NULL, (v & 2) ? scratch : NULL, v >> 2);
                    stats[t][DT][f].checks++;
                    if (!K(same_bits_)(y, want, op == 2 ? 1 : n)) {
                        stats[t][DT][f].fails++;
                        if (note_failure(t, DT, f, variant))
                            fprintf(stderr, "    row_ (op %d, %s, %s, %s) differs from the row kernels\n", op,
                                    (v & 1) ? "prefetching" : "no prefetch", (v & 2) ? "streamed" : "plain stores",
                                    (v & 4) ? "output prefetched" : "output not prefetched");
                    }
                    K(check_unchanged_)(t, f, x, 0, in, 1, n, variant);
                    K(check_guard_)(t, f, &arena_y, y, 1, n, n, "y", variant);
                }
            }
            free(want);
            free(scratch);
        }

        /* in place */
        snprintf(variant, sizeof variant, "%s (in place, x %s)", desc, mode_name[mode]);
        KF(tb, softmax_)(x, x, n);
        K(check_out_)(t, F_SM, 0, x, 0, sm, 0, 1, n, &ii, 1, variant);
        K(check_guard_)(t, F_SM, &arena_x, x, 1, n, n, "x", variant);
        memcpy(x, in, bytes);
        KF(tb, log_softmax_)(x, x, n);
        K(check_out_)(t, F_LS, 1, x, 0, ls, 0, 1, n, &ii, 1, variant);
        K(check_guard_)(t, F_LS, &arena_x, x, 1, n, n, "x", variant);
    }
    current_case = NULL;
    free(sm);
    free(ls);
}

static void K(gen_)(T *x, ptrdiff_t n, int dist) {
    for (ptrdiff_t i = 0; i < n; i++) {
        double v;
        switch (dist) {
        case 0: v = rng_uniform(-1, 1); break;
        case 1: v = rng_uniform(-50, 50); break;
        case 2: v = 10 * rng_normal(); break;
        case 3: v = rng_uniform(-1, 1); break;
        case 4: v = rng_uniform(90, 100); break;
        default: v = rng_uniform(-200, -100); break; /* all exp(x) underflow without the shift */
        }
        x[i] = (T)v;
    }
    if (dist == 3) x[rng_below(n)] = (T)DOMINANT;
}

static void K(rows_)(void) {
    static const ptrdiff_t big[] = {100, 1000, 4097, 100000};
    ptrdiff_t nmax = 100000;
    T *x = malloc((size_t)nmax * sizeof(T));
    char desc[160];
    for (int li = 0; li < 70 + 4; li++) {
        ptrdiff_t n = li < 70 ? li + 1 : big[li - 70];
        for (int d = 0; d < NDIST; d++) {
            if (n >= 100000 && d >= opt_big) continue;
            uint64_t seed = rng_reseed();
            K(gen_)(x, n, d);
            snprintf(desc, sizeof desc, "row n=%td dist=%s seed=%llu", n, dist_name[d], (unsigned long long)seed);
            K(check_row_)(x, n, desc);
        }
    }
    free(x);
}

/* Special values at positions in vector bodies and tails. */
static void K(special_rows_)(void) {
    static const ptrdiff_t lens[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257};
    static const ptrdiff_t pos0[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64};
    T x[257];
    char desc[200];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        ptrdiff_t n = lens[li];
        ptrdiff_t pos[32];
        int np = 0;
        for (size_t i = 0; i < sizeof pos0 / sizeof pos0[0]; i++)
            if (pos0[i] < n) pos[np++] = pos0[i];
        ptrdiff_t tail[4] = {n / 2, n - 3, n - 2, n - 1};
        for (int i = 0; i < 4; i++) {
            int dup = tail[i] < 0;
            for (int k = 0; k < np && !dup; k++) dup = pos[k] == tail[i];
            if (!dup) pos[np++] = tail[i];
        }
        for (int pi = 0; pi < np; pi++) {
            ptrdiff_t p = pos[pi], q = (p + n / 2 + 1) % n, r = (p + 1) % n;
            for (int sc = 0; sc < NSCEN; sc++) {
                uint64_t seed = rng_reseed();
                K(gen_)(x, n, 1);
                switch (sc) {
                case 0: x[p] = NAN; break;
                case 1: x[p] = INFINITY; break;
                case 2: x[p] = -INFINITY; break;
                case 3: x[p] = NAN; x[q] = INFINITY; break;
                case 4: x[p] = INFINITY; x[q] = INFINITY; if (r != p && r != q) x[r] = -INFINITY; break;
                case 5: for (ptrdiff_t i = 0; i < n; i++) x[i] = -INFINITY; break;
                case 6: for (ptrdiff_t i = 0; i < n; i++) x[i] = INFINITY; break;
                case 7: for (ptrdiff_t i = 0; i < n; i++) x[i] = -INFINITY; x[p] = (T)rng_uniform(-50, 50); break;
                case 8: for (ptrdiff_t i = 0; i < n; i++) x[i] = -INFINITY; x[p] = NAN; break;
                case 9: x[p] = HUGE_T; x[q] = -HUGE_T; break;
                case 10: for (ptrdiff_t i = 0; i < n; i++) x[i] = (rng_next() & 1) ? HUGE_T : -HUGE_T; x[p] = HUGE_T; break;
                case 11: x[p] = -HUGE_T; x[q] = -INFINITY; break;
                case 12: x[p] = MAXF_T; x[q] = -MAXF_T; if (r != p && r != q) x[r] = MAXF_T; break;
                default: x[p] = -INFINITY; x[q] = NAN; x[r] = INFINITY; break;
                }
                snprintf(desc, sizeof desc, "special row n=%td scenario=\"%s\" p=%td q=%td r=%td seed=%llu", n,
                         scen_name[sc], p, q, r, (unsigned long long)seed);
                K(check_row_)(x, n, desc);
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* Columns                                                                                          */

static int K(col_mode_);

/* Column function f computed in a dense copy (b, given to the kernel) must give the bits (same_bits_)
 * it gave where the block lies: ref, rows rs apart (logsumexp: one row), from x (rows xs apart; in is the packed
 * input).  Checked into a fresh y (rows rs apart) and in place in a copy of x; b must take no more than
 * its n * w elements, and x must stay unchanged. */
static void K(check_packed_)(int t, int f, const T *x, ptrdiff_t xs, const T *in, const T *ref, ptrdiff_t rs,
                             ptrdiff_t n, ptrdiff_t w, const char *variant) {
    const fss_kernels *tb = tables[t].k;
    const ptrdiff_t nb = n * w, guard = 64, rows = f == F_LSEC ? 1 : n;
    T *b = malloc((size_t)(nb + guard) * sizeof(T)), *y = malloc((size_t)((rows - 1) * rs + w) * sizeof(T));
    T *xi = malloc((size_t)((n - 1) * xs + w) * sizeof(T));
    for (int inplace = 0; inplace < (f == F_LSEC ? 1 : 2); inplace++) {
        T *out = y;
        ptrdiff_t os = rs;
        memset(b + nb, 0x5a, (size_t)guard * sizeof(T));
        if (inplace) {
            for (ptrdiff_t j = 0; j < n; j++) memcpy(xi + j * xs, x + j * xs, (size_t)w * sizeof(T));
            out = xi, os = xs;
        }
        const T *src = inplace ? xi : x;
        if (f == F_SMC) KF(tb, softmax_cols_)(src, xs, out, os, n, w, 1, b);
        else if (f == F_LSC) KF(tb, log_softmax_cols_)(src, xs, out, os, n, w, 1, b);
        else KF(tb, logsumexp_cols_)(src, xs, out, n, w, 1, b);
        const char *what = NULL;
        for (ptrdiff_t j = 0; j < rows && !what; j++)
            if (!K(same_bits_)(out + j * os, ref + j * rs, w))
                what = inplace ? "packed, in place: not the bits of the unpacked call" : "packed: not the bits of the unpacked call";
        for (ptrdiff_t i = nb; i < nb + guard && !what; i++) {
            unsigned char g[sizeof(T)];
            memset(g, 0x5a, sizeof g);
            if (memcmp(b + i, g, sizeof g) != 0) what = "packed: a write past the copy's n * w elements";
        }
        if (what) {
            stats[t][DT][f].fails++;
            if (note_failure(t, DT, f, variant)) fprintf(stderr, "    %s\n", what);
        }
    }
    K(check_unchanged_)(t, f, x, xs, in, n, w, variant);
    free(b);
    free(y);
    free(xi);
}

/* in: n rows x w lanes, packed.  Checks every table with row strides xs, ys (elements). */
static void K(check_cols_)(const T *in, ptrdiff_t n, ptrdiff_t w, ptrdiff_t xs, ptrdiff_t ys, const char *desc) {
    R *smr = K(ref_buf_)(n * w), *lsr = K(ref_buf_)(n * w), lser[FSS_COL_BLOCK];
    ref_t lse[FSS_COL_BLOCK];
    for (ptrdiff_t l = 0; l < w; l++) {
        K(ref_slice_)(in + l, w, n, smr + l, lsr + l, w, &lser[l]);
        lse[l] = K(to_ref_)(lser[l]);
    }
    ref_t *sm = K(ref_conv_)(smr, n * w), *ls = K(ref_conv_)(lsr, n * w);
    K(input_info_) ii = {in, n, w, 1};
    int mode = K(col_mode_)++ % 3;
    size_t xbytes = (size_t)((n - 1) * xs + w) * sizeof(T), ybytes = (size_t)((n - 1) * ys + w) * sizeof(T);
    for (int t = 0; t < ntables; t++) {
        const fss_kernels *tb = tables[t].k;
        char variant[300];
        T *x = place(&arena_x, xbytes, mode, sizeof(T));
        T *y = place(&arena_y, ybytes, (mode + 1) % 3, sizeof(T));
        T *z = place(&arena_y, (size_t)w * sizeof(T), mode, sizeof(T));
        snprintf(variant, sizeof variant, "%s (x %s, y %s)", desc, mode_name[mode], mode_name[(mode + 1) % 3]);
        current_case = variant;

        fill_layout(&arena_x, x, sizeof(T), n, xs, w);
        for (ptrdiff_t j = 0; j < n; j++) memcpy(x + j * xs, in + j * w, (size_t)w * sizeof(T));

        fill_layout(&arena_y, y, sizeof(T), n, ys, w);
        KF(tb, softmax_cols_)(x, xs, y, ys, n, w, 1, NULL);
        K(check_out_)(t, F_SMC, 0, y, ys, sm, w, n, w, &ii, 1, variant);
        K(check_unchanged_)(t, F_SMC, x, xs, in, n, w, variant);
        K(check_packed_)(t, F_SMC, x, xs, in, y, ys, n, w, variant);
        K(check_guard_)(t, F_SMC, &arena_x, x, n, xs, w, "x", variant);
        K(check_guard_)(t, F_SMC, &arena_y, y, n, ys, w, "y", variant);

        fill_layout(&arena_y, y, sizeof(T), n, ys, w);
        KF(tb, log_softmax_cols_)(x, xs, y, ys, n, w, 1, NULL);
        K(check_out_)(t, F_LSC, 1, y, ys, ls, w, n, w, &ii, 1, variant);
        K(check_unchanged_)(t, F_LSC, x, xs, in, n, w, variant);
        K(check_packed_)(t, F_LSC, x, xs, in, y, ys, n, w, variant);
        K(check_guard_)(t, F_LSC, &arena_y, y, n, ys, w, "y", variant);

        fill_layout(&arena_y, z, sizeof(T), 1, w, w);
        KF(tb, logsumexp_cols_)(x, xs, z, n, w, 1, NULL);
        K(check_out_)(t, F_LSEC, 1, z, 0, lse, 0, 1, w, &ii, 0, variant);
        K(check_unchanged_)(t, F_LSEC, x, xs, in, n, w, variant);
        K(check_packed_)(t, F_LSEC, x, xs, in, z, w, n, w, variant);
        K(check_guard_)(t, F_LSEC, &arena_x, x, n, xs, w, "x", variant);
        K(check_guard_)(t, F_LSEC, &arena_y, z, 1, w, w, "y", variant);

        /* in place, y = x, ys = xs */
        snprintf(variant, sizeof variant, "%s (in place, x %s)", desc, mode_name[mode]);
        KF(tb, softmax_cols_)(x, xs, x, xs, n, w, 1, NULL);
        K(check_out_)(t, F_SMC, 0, x, xs, sm, w, n, w, &ii, 1, variant);
        K(check_guard_)(t, F_SMC, &arena_x, x, n, xs, w, "x", variant);
        for (ptrdiff_t j = 0; j < n; j++) memcpy(x + j * xs, in + j * w, (size_t)w * sizeof(T));
        KF(tb, log_softmax_cols_)(x, xs, x, xs, n, w, 1, NULL);
        K(check_out_)(t, F_LSC, 1, x, xs, ls, w, n, w, &ii, 1, variant);
        K(check_guard_)(t, F_LSC, &arena_x, x, n, xs, w, "x", variant);
    }
    current_case = NULL;
    free(sm);
    free(ls);
}

static void K(stride_pick_)(ptrdiff_t w, int v, ptrdiff_t *xs, ptrdiff_t *ys) {
    switch (v % 4) {
    case 0: *xs = w; *ys = w; break;
    case 1: *xs = w + 1; *ys = w + 1; break;
    case 2: *xs = 2 * w + 3; *ys = w; break;
    default: *xs = w + 64; *ys = w + 5; break;
    }
}

static void K(cols_)(void) {
    static const ptrdiff_t ns_full[] = {1, 2, 3, 7, 16, 33}, ns_lite[] = {1, 2, 5, 17, 3, 9};
    const ptrdiff_t *ns = opt_lite ? ns_lite : ns_full;
    int nns = opt_lite ? 4 : 6;
    T *x = malloc((size_t)(1000 * FSS_COL_BLOCK) * sizeof(T));
    char desc[200];
    for (ptrdiff_t w = 1; w <= FSS_COL_BLOCK; w++) {
        for (int ni = 0; ni < nns; ni++) {
            ptrdiff_t n = ns[opt_lite ? (ni + (int)w) % 6 : ni], xs, ys;
            int d = (int)((w + ni) % NDIST);
            K(stride_pick_)(w, (int)(w * 7 + ni), &xs, &ys);
            uint64_t seed = rng_reseed();
            K(gen_)(x, n * w, d);
            snprintf(desc, sizeof desc, "cols w=%td n=%td xs=%td ys=%td dist=%s seed=%llu", w, n, xs, ys,
                     dist_name[d], (unsigned long long)seed);
            K(check_cols_)(x, n, w, xs, ys, desc);
        }
    }
    /* all distributions, longer columns */
    static const ptrdiff_t ws[] = {1, 5, 16, 37, 128};
    for (int wi = 0; wi < 5; wi++)
        for (int d = 0; d < NDIST; d++) {
            ptrdiff_t w = ws[wi], n = (d + wi) % 2 ? 1000 : 129, xs, ys;
            if (n == 1000 && opt_big < NDIST && w > 16) n = 200; /* keep the slow variants quick */
            K(stride_pick_)(w, d + wi, &xs, &ys);
            uint64_t seed = rng_reseed();
            K(gen_)(x, n * w, d);
            snprintf(desc, sizeof desc, "cols w=%td n=%td xs=%td ys=%td dist=%s seed=%llu", w, n, xs, ys,
                     dist_name[d], (unsigned long long)seed);
            K(check_cols_)(x, n, w, xs, ys, desc);
        }
    free(x);
}

static void K(special_cols_)(void) {
    static const ptrdiff_t ws[] = {1, 2, 3, 4, 7, 8, 9, 13, 16, 17, 33, 128};
    static const ptrdiff_t ns[] = {1, 2, 5, 17};
    const int nns = opt_lite ? 3 : 4;
    T x[17 * FSS_COL_BLOCK];
    char desc[240];
    for (size_t wi = 0; wi < sizeof ws / sizeof ws[0]; wi++) {
        ptrdiff_t w = ws[wi];
        ptrdiff_t lanes[6] = {0, w - 1, w / 2, 7, 8, 15};
        for (int ni = 0; ni < nns; ni++) {
            ptrdiff_t n = ns[ni];
            for (int li = 0; li < 6; li++) {
                ptrdiff_t l = lanes[li];
                if (l >= w || (li > 0 && l == lanes[0]) || (li > 1 && l == lanes[1]) || (li > 2 && l == lanes[2]))
                    continue;
                for (int sc = 0; sc < NSCEN; sc++) {
                        ptrdiff_t p = (li + sc) % n, q = (p + n / 2 + 1) % n, r = (p + 1) % n, xs, ys;
                    uint64_t seed = rng_reseed();
                    K(gen_)(x, n * w, 1);
                    T *c = x + l; /* column l, stride w */
                    switch (sc) {
                    case 0: c[p * w] = NAN; break;
                    case 1: c[p * w] = INFINITY; break;
                    case 2: c[p * w] = -INFINITY; break;
                    case 3: c[p * w] = NAN; c[q * w] = INFINITY; break;
                    case 4: c[p * w] = INFINITY; c[q * w] = INFINITY; if (r != p && r != q) c[r * w] = -INFINITY; break;
                    case 5: for (ptrdiff_t i = 0; i < n; i++) c[i * w] = -INFINITY; break;
                    case 6: for (ptrdiff_t i = 0; i < n; i++) c[i * w] = INFINITY; break;
                    case 7: for (ptrdiff_t i = 0; i < n; i++) c[i * w] = -INFINITY; c[p * w] = (T)rng_uniform(-50, 50); break;
                    case 8: for (ptrdiff_t i = 0; i < n; i++) c[i * w] = -INFINITY; c[p * w] = NAN; break;
                    case 9: c[p * w] = HUGE_T; c[q * w] = -HUGE_T; break;
                    case 10: for (ptrdiff_t i = 0; i < n; i++) c[i * w] = (rng_next() & 1) ? HUGE_T : -HUGE_T; c[p * w] = HUGE_T; break;
                    case 11: c[p * w] = -HUGE_T; c[q * w] = -INFINITY; break;
                    case 12: c[p * w] = MAXF_T; c[q * w] = -MAXF_T; if (r != p && r != q) c[r * w] = MAXF_T; break;
                    default: c[p * w] = -INFINITY; c[q * w] = NAN; c[r * w] = INFINITY; break;
                    }
                    /* a second special lane next to it, sometimes */
                    if (sc % 3 == 0 && w > 1) x[(l + 1) % w] = -INFINITY;
                    K(stride_pick_)(w, sc + li, &xs, &ys);
                    snprintf(desc, sizeof desc,
                             "special cols w=%td n=%td lane=%td scenario=\"%s\" p=%td q=%td r=%td xs=%td ys=%td seed=%llu",
                             w, n, l, scen_name[sc], p, q, r, xs, ys, (unsigned long long)seed);
                    K(check_cols_)(x, n, w, xs, ys, desc);
                }
            }
        }
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* The bare exp                                                                                     */

/* ulps of |got - ref| at ref's binade (of T) */
static double K(ulps_)(T got, R ref) {
    int e;
    frexp((double)ref, &e); /* ref = f * 2^e, f in [0.5, 1) */
    R ulp = (R)ldexp(1.0, e - 1 - (CK_F32 ? 23 : 52));
    return (double)(RFABS((R)got - ref) / ulp);
}

static void K(check_exp_chunk_)(int t, const T *in, ptrdiff_t n, int mode, double limit, const char *desc) {
    const fss_kernels *tb = tables[t].k;
    stat_t *st = &stats[t][DT][F_EXP];
    size_t bytes = (size_t)n * sizeof(T);
    T *x = place(&arena_x, bytes, mode, sizeof(T));
    T *y = place(&arena_y, bytes, (mode + 1) % 3, sizeof(T));
    fill_layout(&arena_x, x, sizeof(T), 1, n, n);
    fill_layout(&arena_y, y, sizeof(T), 1, n, n);
    memcpy(x, in, bytes);
    current_case = desc;
    KF(tb, exp_)(x, y, n);
    K(check_unchanged_)(t, F_EXP, x, 0, in, 1, n, desc);
    K(check_guard_)(t, F_EXP, &arena_x, x, 1, n, n, "x", desc);
    K(check_guard_)(t, F_EXP, &arena_y, y, 1, n, n, "y", desc);
    for (ptrdiff_t i = 0; i < n; i++) {
        T v = in[i], g = y[i];
        int ok;
        double u = 0;
        if (v != v) ok = g != g;
        else if (v == -INFINITY) ok = g == 0;
        else if (v < (T)EXP_LO) ok = g >= 0 && g <= (T)TINY_T * 2; /* below the tested range: 0 or tiny */
        else {
            u = K(ulps_)(g, REXP((R)v));
            ok = u <= limit && (v != 0 || g == 1);
        }
        st->checks++;
        if (u > st->max_units) {
            st->max_units = u;
            if (opt_worst) snprintf(st->worst, sizeof st->worst, "exp(" TFMT ") = " TFMT, (double)v, (double)v, (double)g, (double)g);
        }
        if (!ok) {
            st->fails++;
            if (note_failure(t, DT, F_EXP, desc))
                fprintf(stderr, "    exp(" TFMT ") = " TFMT ", ref " RFMT " (%.3f ulp, limit %.2f)\n", (double)v, (double)v,
                        (double)g, (double)g, REXP((R)v), u, limit);
        }
    }
    current_case = NULL;
}

static void K(exp_)(void) {
    enum { CH = 4093 };
    T *buf = malloc(CH * sizeof(T));
    char desc[160];
    for (int t = 0; t < ntables; t++) {
        /* short vectors with special inputs, at page edges */
        for (ptrdiff_t n = 1; n <= 40; n++) {
            for (ptrdiff_t i = 0; i < n; i++) buf[i] = (T)rng_uniform(EXP_LO, 0);
            buf[rng_below(n)] = (T)0;
            if (n > 3) {
                buf[rng_below(n)] = -INFINITY;
                buf[rng_below(n)] = NAN;
                buf[rng_below(n)] = (T)(EXP_LO * 1.5);
            }
            snprintf(desc, sizeof desc, "exp n=%td", n);
            K(check_exp_chunk_)(t, buf, n, (int)(n % 3), EXP_LIMIT, desc);
        }
#if CK_F32
        /* every opt_exp_stride-th float in [EXP_LO, 0] (bit patterns 0x80000000 upwards) */
        uint32_t lo_bits;
        float lo = EXP_LO;
        memcpy(&lo_bits, &lo, 4);
        ptrdiff_t k = 0;
        for (uint64_t b = 0x80000000u; b <= lo_bits; b += (uint64_t)opt_exp_stride) {
            uint32_t bb = (uint32_t)b;
            memcpy(&buf[k++], &bb, 4);
            if (k == CH || b + (uint64_t)opt_exp_stride > lo_bits) {
                snprintf(desc, sizeof desc, "exp_f32 sweep chunk ending at %a", (double)buf[k - 1]);
                K(check_exp_chunk_)(t, buf, k, 0, EXP_LIMIT, desc);
                k = 0;
            }
        }
#else
        /* opt_exp64_n points: evenly spread plus random, over [EXP_LO, 0] */
        for (long done = 0; done < opt_exp64_n; done += CH) {
            ptrdiff_t k = opt_exp64_n - done < CH ? (ptrdiff_t)(opt_exp64_n - done) : CH;
            for (ptrdiff_t i = 0; i < k; i++) {
                long idx = done + i;
                buf[i] = (idx & 1) ? EXP_LO * ((double)idx / (double)opt_exp64_n) : rng_uniform(EXP_LO, 0);
                if (idx % 7 == 0) buf[i] = -ldexp(rng_uniform(1, 2), -(int)rng_below(60)); /* near 0 */
            }
            snprintf(desc, sizeof desc, "exp_f64 sample chunk at %ld", done);
            K(check_exp_chunk_)(t, buf, k, 0, EXP_LIMIT, desc);
        }
#endif
    }
    free(buf);
}

#include "check_ext_template.h"

static void K(run_all_)(void) {
    double t0 = now();
    K(rows_)();
    double t1 = now();
    K(special_rows_)();
    double t2 = now();
    K(cols_)();
    double t3 = now();
    K(special_cols_)();
    double t4 = now();
    K(exp_)();
    double t5 = now();
    printf("  %s: rows %.1fs, special rows %.1fs, cols %.1fs, special cols %.1fs, exp %.1fs\n", CK_STR(TAG), t1 - t0,
           t2 - t1, t3 - t2, t4 - t3, t5 - t4);
    fflush(stdout);
    K(run_ext_)();
}

#undef T
#undef R
#undef TAG
#undef DT
#undef EPS_T
#undef TINY_T
#undef HUGE_T
#undef MAXF_T
#undef DOMINANT
#undef REXP
#undef RLOG
#undef RFABS
#undef RFMT
#undef TFMT
#undef EXP_LO
#undef K
#undef KF
