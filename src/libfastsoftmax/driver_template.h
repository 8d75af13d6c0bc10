/*
 * driver_template.h - maps a strided (outer, n, inner) problem onto the kernels; included by driver.c
 * once per dtype (T, SFX defined).
 *
 * Layouts, chosen per call:
 *   rows     inner == 1 and unit stride along n: one row kernel call per slice; rows of at most
 *            FSS_SHORT_ROW elements go to the kernels in blocks of FSS_ROW_BLOCK ("short rows"), as do
 *            unscaled rows of up to FSS_PAIR_ROW_BYTES (in blocks of about FSS_ROW_BLOCK_ELEMS elements,
 *            two rows at a time) and longer unscaled rows of an input of up to FSS_SEQ_ROWS_BYTES (one
 *            block per thread, passes fused from row to row); rows of at least FSS_SPLIT_MIN in fixed
 *            chunks that threads can share (long_row);
 *   columns  unit stride along inner: blocks of up to FSS_COL_BLOCK lanes (fewer for long slices, see
 *            fss_col_layout), vectorised across inner and strided along n (no transpose copy); a block
 *            whose rows lie a power of two apart, or that would exceed 1 MiB in place, is computed in a
 *            dense copy in the thread's scratch (n * cb elements, at most 1 MiB; fss_col_layout), made
 *            by the kernel's first pass over x, its last pass writing y from it;
 *   generic  anything else: each slice is gathered into a per-thread scratch row, computed in place,
 *            and scattered back (n elements of scratch per thread, never a full-size copy).
 * A scale is fused into the short-row and column kernels; masked calls, and scaled calls in the other
 * layouts, take the options path (run_opt: slice by slice, gathered when strided or masked).
 * Cross-entropy, the backward passes and the elementwise sigmoid family follow at the end.
 * Tasks (rows, row blocks, column blocks or slices) are independent and each row is computed the
 * same way whichever task holds it, so splitting them over threads cannot change a result.
 */

/* One row of n >= FSS_SPLIT_MIN elements, in fixed chunks of FSS_CHUNK: chunk maxima, then chunk sums
 * with the row maximum, combined in chunk order (compensated), then the chunks' outputs.  The chunking
 * never depends on the thread count, so neither does the result; up to nt threads share the chunks. */
static int SFX(long_row)(int op, const fss_kernels *K, const T *x, T *y, ptrdiff_t n, int nt) {
    const ptrdiff_t nc = (n + FSS_CHUNK - 1) / FSS_CHUNK;
    T *mc = (T *)malloc((size_t)nc * sizeof(T));
    double *sc = (double *)malloc((size_t)nc * sizeof(double));
    if (!mc || !sc) {
        free(mc);
        free(sc);
        return FASTSOFTMAX_ENOMEM;
    }
    if (nt > nc) nt = (int)nc;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
    for (ptrdiff_t c = 0; c < nc; c++)
        mc[c] = K->SFX(rmax)(x + c * FSS_CHUNK, n - c * FSS_CHUNK < FSS_CHUNK ? n - c * FSS_CHUNK : FSS_CHUNK);
    T m = (T)-INFINITY; /* a chunk of -inf only does not make the row special */
    int finite = 1;
    for (ptrdiff_t c = 0; c < nc; c++) {
        if (mc[c] != mc[c] || mc[c] == (T)INFINITY) finite = 0;
        else if (mc[c] > m) m = mc[c];
    }
    if (!finite || m == (T)-INFINITY) {
        if (op == FSS_OP_SOFTMAX) SFX(fss_special_softmax)(x, 1, y, 1, n);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(fss_special_log_softmax)(x, 1, y, 1, n);
        else *y = SFX(fss_special_logsumexp)(x, 1, n);
        free(mc);
        free(sc);
        return FASTSOFTMAX_OK;
    }
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
    for (ptrdiff_t c = 0; c < nc; c++) {
        ptrdiff_t len = n - c * FSS_CHUNK < FSS_CHUNK ? n - c * FSS_CHUNK : FSS_CHUNK;
        sc[c] = op == FSS_OP_SOFTMAX ? K->SFX(expsum)(x + c * FSS_CHUNK, y + c * FSS_CHUNK, len, m)
                                 : K->SFX(sumexp)(x + c * FSS_CHUNK, len, m);
    }
    double sum = 0.0, comp = 0.0; /* TwoSum-compensated, in chunk order */
    for (ptrdiff_t c = 0; c < nc; c++) fss_sum2_add(&sum, &comp, sc[c]);
    sum += comp;
    if (op == FSS_OP_LOGSUMEXP) {
        *y = (T)((double)m + SFX(fss_log_sum)(sum));
    } else {
        const T inv = (T)(1.0 / sum);
        const double L = SFX(fss_log_sum)(sum);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
        for (ptrdiff_t c = 0; c < nc; c++) {
            ptrdiff_t len = n - c * FSS_CHUNK < FSS_CHUNK ? n - c * FSS_CHUNK : FSS_CHUNK;
            if (op == FSS_OP_SOFTMAX) K->SFX(scale)(y + c * FSS_CHUNK, len, inv);
            else K->SFX(logsub)(x + c * FSS_CHUNK, y + c * FSS_CHUNK, len, m, L);
        }
    }
    free(mc);
    free(sc);
    return FASTSOFTMAX_OK;
}

/* One call's problem, after the layout choice; status collects a task's failure. */
typedef struct {
    int op;
    const fss_kernels *K;
    const T *x;
    T *y;
    ptrdiff_t outer, n, inner, xs0, xs1, xs2, ys0, ys1, ys2;
    T scale; /* of x: 1, or any in modes FSS_COLS and FSS_SHORT_ROWS (others take the options path) */
    int mode, status;
    int stream; /* FSS_ROWS: write the result by non-temporal stores (through the scratch row) */
    int pf;     /* rows (one or two at a time): prefetch the result for writing (see the row kernel) */
    ptrdiff_t cb; /* FSS_COLS: lanes per column block (fss_col_layout) */
    int pack;     /* FSS_COLS: compute each block in the thread's scratch (fss_col_layout) */
    ptrdiff_t rb; /* FSS_SHORT_ROWS: rows per task */
} SFX(job);

/* Task t of a job: a row, a block of short rows, a block of columns, or (generic) one gathered slice
 * computed in the thread's scratch row buf. */
static void SFX(task)(void *ctx, ptrdiff_t t, void *scratch) {
    SFX(job) *j = (SFX(job) *)ctx;
    T *buf = (T *)scratch;
    const fss_kernels *K = j->K;
    const int op = j->op;
    const ptrdiff_t n = j->n;
    if (j->mode == FSS_ROWS && n >= FSS_SPLIT_MIN) {
        int st = SFX(long_row)(op, K, j->x + t * j->xs0, j->y + t * j->ys0, n, 1);
        if (st != FASTSOFTMAX_OK) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            j->status = st;
        }
    } else if (j->mode == FSS_SHORT_ROWS) {
        ptrdiff_t r0 = t * j->rb, nr = j->outer - r0 < j->rb ? j->outer - r0 : j->rb;
        K->SFX(rows)(op, j->x + r0 * j->xs0, j->xs0, j->y + r0 * j->ys0, j->ys0, nr, n, j->scale, j->pf);
    } else if (j->mode == FSS_ROWS) { /* static scheduling: this thread's next row is t + 1 */
        const T *xr = j->x + t * j->xs0;
        K->SFX(row)(op, xr, j->y + t * j->ys0, n, t + 1 < j->outer ? xr + j->xs0 : NULL, j->stream ? buf : NULL,
                    j->pf);
    } else if (j->mode == FSS_COLS) {
        const ptrdiff_t cb = j->cb, nblk = (j->inner + cb - 1) / cb;
        ptrdiff_t o = t / nblk, i0 = (t % nblk) * cb;
        ptrdiff_t w = j->inner - i0 < cb ? j->inner - i0 : cb;
        const T *xb = j->x + o * j->xs0 + i0;
        T *yb = j->y + o * j->ys0 + i0, *b = j->pack ? buf : NULL; /* b: the block computed in a dense copy */
        if (op == FSS_OP_SOFTMAX) K->SFX(softmax_cols)(xb, j->xs1, yb, j->ys1, n, w, j->scale, b);
        else if (op == FSS_OP_LOG_SOFTMAX) K->SFX(log_softmax_cols)(xb, j->xs1, yb, j->ys1, n, w, j->scale, b);
        else K->SFX(logsumexp_cols)(xb, j->xs1, yb, n, w, j->scale, b);
    } else {
        ptrdiff_t o = t / j->inner, i = t % j->inner;
        const T *xr = j->x + o * j->xs0 + i * j->xs2;
        T *yr = j->y + o * j->ys0 + i * j->ys2;
        for (ptrdiff_t k = 0; k < n; k++) buf[k] = xr[k * j->xs1];
        if (op == FSS_OP_LOGSUMEXP) {
            *yr = K->SFX(logsumexp)(buf, n);
            return;
        }
        if (op == FSS_OP_SOFTMAX) K->SFX(softmax)(buf, buf, n);
        else K->SFX(log_softmax)(buf, buf, n);
        for (ptrdiff_t k = 0; k < n; k++) yr[k * j->ys1] = buf[k];
    }
}

static int SFX(run_opt)(int op, const fss_kernels *K, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n,
                        ptrdiff_t inner, const ptrdiff_t xs[3], const ptrdiff_t ys[3], const unsigned char *where,
                        const ptrdiff_t ws[3], T scale, int nthreads);

/* op on scale * x; scale 1 is the plain operation.  A scale other than 1 is fused into the column and
 * short-row kernels; the other layouts take the options path (run_opt). */
static int SFX(run)(int op, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                    const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], T scale, int nthreads) {
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !xstride || !ystride) return FASTSOFTMAX_EINVAL;
    const fss_kernels *K = fss_active_kernels();
    if (outer == 0 || inner == 0 || (n == 0 && op != FSS_OP_LOGSUMEXP)) return FASTSOFTMAX_OK;
    if (!y || (n > 0 && !x)) return FASTSOFTMAX_EINVAL;
    ptrdiff_t xs0 = xstride[0], xs1 = xstride[1], xs2 = xstride[2];
    ptrdiff_t ys0 = ystride[0], ys1 = op == FSS_OP_LOGSUMEXP ? 0 : ystride[1], ys2 = ystride[2];
    {
        const ptrdiff_t xd[3] = {outer, n, inner}, yd[3] = {outer, op == FSS_OP_LOGSUMEXP ? 1 : n, inner};
        const ptrdiff_t xst[3] = {xs0, xs1, xs2}, yst[3] = {ys0, ys1, ys2};
        if (!fss_views_ok(x, xd, xst, sizeof(T), y, yd, yst, sizeof(T))) return FASTSOFTMAX_EINVAL;
    }
    if (n == 0) { /* logsumexp of nothing */
        for (ptrdiff_t o = 0; o < outer; o++)
            for (ptrdiff_t i = 0; i < inner; i++) y[o * ys0 + i * ys2] = (T)-INFINITY;
        return FASTSOFTMAX_OK;
    }
    /* (outer, n, 1) with unit strides along outer is (1, n, outer) with unit strides along inner. */
    if (inner == 1 && outer > 1 && xs1 != 1 && xs0 == 1 && ys0 == 1) {
        inner = outer;
        outer = 1;
        xs2 = xs0;
        ys2 = ys0;
        xs0 = ys0 = 0;
    }
    SFX(job) j = {op, K, x, y, outer, n, inner, xs0, xs1, xs2, ys0, ys1, ys2, scale, 0, FASTSOFTMAX_OK, 0, 0, 0};
    int nt = fss_threads(nthreads, outer * n * inner, PTRDIFF_MAX);
    /* an output larger than the last-level cache cannot stay there: rows write it without reading it
     * first (j.stream, below) */
    const size_t out_bytes = op == FSS_OP_LOGSUMEXP ? 0 : (size_t)outer * (size_t)n * (size_t)inner * sizeof(T);
    const int large_out = out_bytes >= FSS_STREAM_MIN;
    ptrdiff_t tasks;
    if (inner == 1 && xs1 == 1 && (op == FSS_OP_LOGSUMEXP || ys1 == 1)) {
        j.mode = FSS_ROWS;
        tasks = outer;
        if (n <= FSS_SHORT_ROW) { /* blocks of rows, interleaved in the kernel */
            j.mode = FSS_SHORT_ROWS;
            j.rb = FSS_ROW_BLOCK;
        } else if (n <= FSS_PAIR_ROW_BYTES / (ptrdiff_t)sizeof(T) && scale == 1 && !large_out) {
            /* blocks of a multiple of four rows (two or four at a time in the kernel), of about
             * FSS_ROW_BLOCK_ELEMS elements but at least 8 blocks per thread (a balanced split) */
            const ptrdiff_t share = (outer + 8 * (ptrdiff_t)nt - 1) / (8 * (ptrdiff_t)nt);
            j.mode = FSS_SHORT_ROWS;
            j.rb = FSS_ROW_BLOCK_ELEMS / n < share ? FSS_ROW_BLOCK_ELEMS / n : share;
            j.rb = (j.rb + 3) & ~(ptrdiff_t)3;
        } else if (n < FSS_SPLIT_MIN && scale == 1 && outer > 1 &&
                   (size_t)outer * (size_t)n * sizeof(T) <= FSS_SEQ_ROWS_BYTES) {
            /* one block of rows per thread: the kernel fuses passes from row to row (rows_seq) */
            j.mode = FSS_SHORT_ROWS;
            j.rb = (outer + nt - 1) / nt;
        }
        if (j.mode == FSS_SHORT_ROWS) tasks = (outer + j.rb - 1) / j.rb;
    } else if (xs2 == 1 && ys2 == 1) {
        j.mode = FSS_COLS;
        j.pack = fss_col_layout(n, xs1, ys1, sizeof(T), &j.cb);
        tasks = outer * ((inner + j.cb - 1) / j.cb);
    } else {
        j.mode = FSS_GENERIC;
        tasks = outer * inner;
    }

    if (scale != 1 && j.mode != FSS_COLS && j.mode != FSS_SHORT_ROWS) {
        const ptrdiff_t xst[3] = {xs0, xs1, xs2}, yst[3] = {ys0, ys1, ys2};
        return SFX(run_opt)(op, K, x, y, outer, n, inner, xst, yst, NULL, NULL, scale, nthreads);
    }
    if (j.mode == FSS_ROWS && n >= FSS_SPLIT_MIN && outer < nt) { /* too few rows to go round: split them */
        for (ptrdiff_t o = 0; o < outer; o++) {
            int st = SFX(long_row)(op, K, x + o * xs0, y + o * ys0, n, nt);
            if (st != FASTSOFTMAX_OK) return st;
        }
        return FASTSOFTMAX_OK;
    }
    if (nt > tasks) nt = (int)tasks;
    j.stream = j.mode == FSS_ROWS && n < FSS_SPLIT_MIN && large_out;
    j.pf = (j.mode == FSS_ROWS || j.mode == FSS_SHORT_ROWS) && !large_out &&
           (size_t)n * sizeof(T) >= FSS_PREFETCH_ROW_MIN &&
           (op == FSS_OP_LOG_SOFTMAX || out_bytes >= FSS_PREFETCH_OUT_MIN);
    size_t scratch = j.mode == FSS_GENERIC || j.stream ? (size_t)n * sizeof(T) : 0;
    if (j.pack) scratch = (size_t)n * (size_t)j.cb * sizeof(T);
    fss_for_tasks(nt, tasks, scratch, SFX(task), &j, &j.status);
    return j.status;
}

/* ------------------------------------------------------------------------------------------------ */
/* Masked and scaled calls: each slice on its own, gathered into the thread's scratch row when it is
 * strided or masked (masked entries become -inf, i.e. absent), computed on scale * x, and scattered
 * back with masked entries set to exactly 0 (softmax) or -inf (log_softmax).  The special-value rules
 * then apply to the kept entries, and a slice with none kept gives 0 / -inf / -inf. */

typedef struct {
    int op;
    const fss_kernels *K;
    const T *x;
    T *y;
    const unsigned char *w; /* the mask, nonzero = keep; NULL: keep all */
    ptrdiff_t n, inner, xs[3], ys[3], ws[3];
    T scale;
} SFX(opt_job);

static void SFX(opt_task)(void *ctx, ptrdiff_t t, void *scratch) {
    const SFX(opt_job) *j = (const SFX(opt_job) *)ctx;
    const fss_kernels *K = j->K;
    const int op = j->op;
    const ptrdiff_t n = j->n, o = t / j->inner, i = t % j->inner;
    const T *xr = j->x + o * j->xs[0] + i * j->xs[2];
    T *yr = j->y + o * j->ys[0] + i * j->ys[2];
    const unsigned char *wr = j->w ? j->w + o * j->ws[0] + i * j->ws[2] : NULL;
    T *buf = (T *)scratch;
    const T *src = xr;
    if (wr && j->xs[1] == 1 && j->ws[1] == 1) {
        K->SFX(keep)(xr, wr, buf, n, (T)-INFINITY);
        src = buf;
    } else if (wr || j->xs[1] != 1) {
        for (ptrdiff_t k = 0; k < n; k++) buf[k] = (!wr || wr[k * j->ws[1]]) ? xr[k * j->xs[1]] : (T)-INFINITY;
        src = buf;
    }
    T *dst = op == FSS_OP_LOGSUMEXP ? yr : (j->ys[1] == 1 && !wr) ? yr : buf;
    K->SFX(rows)(op, src, n, dst, n, 1, n, j->scale, 0);
    if (op == FSS_OP_LOGSUMEXP) return;
    if (dst == buf) {
        const T absent = op == FSS_OP_SOFTMAX ? (T)0 : (T)-INFINITY;
        if (wr && j->ys[1] == 1 && j->ws[1] == 1) K->SFX(keep)(buf, wr, yr, n, absent);
        else
            for (ptrdiff_t k = 0; k < n; k++) yr[k * j->ys[1]] = (wr && !wr[k * j->ws[1]]) ? absent : buf[k];
    }
}

/* The options path over validated arguments (strides in elements; ys[1] is 0 for logsumexp). */
static int SFX(run_opt)(int op, const fss_kernels *K, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n,
                        ptrdiff_t inner, const ptrdiff_t xs[3], const ptrdiff_t ys[3], const unsigned char *where,
                        const ptrdiff_t ws[3], T scale, int nthreads) {
    SFX(opt_job) j = {op, K, x, y, where, n, inner, {xs[0], xs[1], xs[2]}, {ys[0], ys[1], ys[2]},
                      {where ? ws[0] : 0, where ? ws[1] : 0, where ? ws[2] : 0}, scale};
    const ptrdiff_t tasks = outer * inner;
    int status = FASTSOFTMAX_OK;
    fss_for_tasks(fss_threads(nthreads, outer * n * inner, tasks), tasks, (size_t)n * sizeof(T), SFX(opt_task),
                  &j, &status);
    return status;
}

static int SFX(run_ex)(int op, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                       const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], const unsigned char *where,
                       const ptrdiff_t wstride[3], T scale, int nthreads) {
    if (!(scale > 0) || !isfinite(scale) || (where && !wstride)) return FASTSOFTMAX_EINVAL;
    if (!where) return SFX(run)(op, x, y, outer, n, inner, xstride, ystride, scale, nthreads);
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !xstride || !ystride) return FASTSOFTMAX_EINVAL;
    if (outer == 0 || inner == 0 || (n == 0 && op != FSS_OP_LOGSUMEXP)) return FASTSOFTMAX_OK;
    if (!y || (n > 0 && !x)) return FASTSOFTMAX_EINVAL;
    const ptrdiff_t ny = op == FSS_OP_LOGSUMEXP ? 1 : n;
    const ptrdiff_t xd[3] = {outer, n, inner}, yd[3] = {outer, ny, inner};
    const ptrdiff_t yst[3] = {ystride[0], op == FSS_OP_LOGSUMEXP ? 0 : ystride[1], ystride[2]};
    if (!fss_views_ok(x, xd, xstride, sizeof(T), y, yd, yst, sizeof(T))) return FASTSOFTMAX_EINVAL;
    if (n > 0 && !fss_disjoint(where, xd, wstride, 1, y, yd, yst, sizeof(T))) return FASTSOFTMAX_EINVAL;
    if (n == 0) { /* logsumexp of nothing */
        for (ptrdiff_t o = 0; o < outer; o++)
            for (ptrdiff_t i = 0; i < inner; i++) y[o * yst[0] + i * yst[2]] = (T)-INFINITY;
        return FASTSOFTMAX_OK;
    }
    return SFX(run_opt)(op, fss_active_kernels(), x, y, outer, n, inner, xstride, yst, where, wstride, scale,
                        nthreads);
}

/* ------------------------------------------------------------------------------------------------ */
/* Cross-entropy.  Per sample, with class coefficients a_c and A = sum(a):
 *   loss = sum_c a_c (L - x_c),  L = logsumexp(x),  a zero a_c contributing exactly 0 (xlogy);
 *   grad = g (A softmax(x) - a).
 * Class indices t: a_c = (1 - eps) w_t [c == t] + (eps / n) w_c (PyTorch's label smoothing);
 * probabilities p: a_c = w_c ((1 - eps) p_c + eps / n).  Every L - x_c = (m - x_c) + log(s) is a sum
 * of two non-negative terms, so the loss has no cancellation for non-negative coefficients. */

typedef struct {
    const fss_kernels *K;
    const T *x;
    ptrdiff_t n, inner;
    const ptrdiff_t *xs;
    const int64_t *target; /* class indices, or NULL */
    const ptrdiff_t *ts;
    const T *prob; /* probabilities, or NULL */
    const ptrdiff_t *ps;
    const T *weight; /* n class weights, or NULL */
    int64_t ignore_index;
    double eps, wsum; /* label smoothing; sum of the weights (n without) */
    T *loss;
    const ptrdiff_t *ls;
    T *grad; /* or NULL */
    const ptrdiff_t *gs;
    double gscale;
} SFX(ce_job);

/* -log_softmax(x)[t] = (m - x_t) + log(s), with m - x_t taken exactly. */
static double SFX(nll)(T xt, T m, double logs) {
#if FSS_DRIVER_F32
    return logs - ((double)xt - (double)m); /* exact difference in double */
#else
    T d = xt - m, bv = d - xt;
    T e = (xt - (d - bv)) + (-m - bv); /* d + e == xt - m exactly (TwoSum) */
    if (e != e) e = 0;                 /* d infinite: d alone is the answer */
    return (logs - d) - e;
#endif
}

/* A row's log-sum-exp, reading the row from memory once: each L1-sized chunk's max, then its sum of
 * exp(x - chunk max) from L1 (also stored in e, if not NULL); the chunks' (max, sum) pairs are combined
 * at the end, each rescaled once by exp(m_c - m) (libm, double), so no rounding accumulates across
 * rescalings.  m is the row's max; if it is not finite (NaN, +inf, all -inf) the rest is not set. */
#define FSS_LSE_CHUNK (16384 / (ptrdiff_t)sizeof(T))
#define FSS_LSE_MAX_CHUNKS 512
typedef struct {
    T m;
    double s, logs; /* sum(exp(x - m)) and its log */
    ptrdiff_t len, nc;
    T mc[FSS_LSE_MAX_CHUNKS];
    double sc[FSS_LSE_MAX_CHUNKS];
} SFX(lse_state);

/* exp(mc - m) for mc <= m finite, with mc - m taken exactly (exact in double for float; TwoSum for double,
 * whose rounding error would otherwise cost up to |mc - m| ulp). */
static double SFX(chunk_factor)(T mc, T m) {
    const double d = (double)mc - (double)m;
#if FSS_DRIVER_F32
    return exp(d);
#else
    const double bv = d - mc, e = (mc - (d - bv)) + (-m - bv);
    return exp(d) * (1.0 + e);
#endif
}

static void SFX(row_lse)(const fss_kernels *K, const T *x, ptrdiff_t n, T *e, SFX(lse_state) *st) {
    ptrdiff_t len = (n + FSS_LSE_MAX_CHUNKS - 1) / FSS_LSE_MAX_CHUNKS;
    len = len < FSS_LSE_CHUNK ? FSS_LSE_CHUNK : (len + 63) / 64 * 64;
    st->len = len;
    st->nc = (n + len - 1) / len;
    st->m = (T)-INFINITY;
    st->s = st->logs = 0;
    for (ptrdiff_t c = 0; c < st->nc; c++) {
        const ptrdiff_t k = n - c * len < len ? n - c * len : len;
        const T mc = st->mc[c] = K->SFX(rmax)(x + c * len, k);
        if (!(mc < (T)INFINITY)) { /* NaN or +inf: the caller's special path */
            st->m = mc;
            return;
        }
        if (mc == (T)-INFINITY) { /* exp(x - mc) would be NaN: the chunk holds zeros */
            st->sc[c] = 0.0;
            for (ptrdiff_t i = 0; e && i < k; i++) e[c * len + i] = 0;
        } else {
            st->sc[c] = e ? K->SFX(expsum_lse)(x + c * len, e + c * len, k, mc) : K->SFX(sumexp)(x + c * len, k, mc);
        }
        if (mc > st->m) st->m = mc;
    }
    if (st->m == (T)-INFINITY) return;
    double sum = 0.0, comp = 0.0; /* TwoSum-compensated, in chunk order */
    for (ptrdiff_t c = 0; c < st->nc; c++) {
        const double v = st->sc[c] == 0.0 ? 0.0 : st->sc[c] * SFX(chunk_factor)(st->mc[c], st->m);
        fss_sum2_add(&sum, &comp, v);
    }
    st->s = sum + comp;
    st->logs = SFX(fss_log_sum)(st->s);
}

/* e *= f exp(m_c - m) chunk by chunk: exp(x - m) f, from the chunks' exp(x - m_c) (a chunk of -inf only
 * was zeroed by row_lse). */
static void SFX(row_lse_scale)(const fss_kernels *K, const SFX(lse_state) *st, T *e, ptrdiff_t n, double f) {
    for (ptrdiff_t c = 0; c < st->nc; c++) {
        const ptrdiff_t k = n - c * st->len < st->len ? n - c * st->len : st->len;
        if (st->mc[c] > (T)-INFINITY)
            K->SFX(scale)(e + c * st->len, k, (T)(f * SFX(chunk_factor)(st->mc[c], st->m)));
    }
}
#undef FSS_LSE_CHUNK
#undef FSS_LSE_MAX_CHUNKS

/* sum(b (m - x)) for cross-entropy.  A compensated accumulator turns an infinite term (x = -inf with a
 * nonzero coefficient) into NaN; then the terms are summed again plainly, where +inf stays +inf (and
 * +inf and -inf terms, from negative coefficients, still make NaN). */
static double SFX(ce_terms)(const fss_kernels *K, const T *x, const T *b, ptrdiff_t n, T m) {
    double v = K->SFX(lsub_dot)(x, b, n, m);
    if (v != v) {
        v = 0;
        for (ptrdiff_t c = 0; c < n; c++)
            if (!b || b[c] != 0) v += (b ? (double)b[c] : 1.0) * ((double)m - (double)x[c]);
    }
    return v;
}

static void SFX(ce_task)(void *ctx, ptrdiff_t smp, void *scratch) {
    const SFX(ce_job) *j = (const SFX(ce_job) *)ctx;
    const fss_kernels *K = j->K;
    const ptrdiff_t n = j->n, o = smp / j->inner, i = smp % j->inner;
    T *lp = j->loss + o * j->ls[0] + i * j->ls[1];
    T *g = j->grad ? j->grad + o * j->gs[0] + i * j->gs[2] : NULL;
    const ptrdiff_t gstep = g ? j->gs[1] : 0;
    const T *w = j->weight;
    const double eps = j->eps, sm = eps / (double)n, gsc = j->gscale;
    int64_t t = -1;
    if (j->target) {
        t = j->target[o * j->ts[0] + i * j->ts[1]];
        if (t == j->ignore_index) { /* never FASTSOFTMAX_NO_IGNORE: rejected before */
            *lp = 0;
            for (ptrdiff_t c = 0; c < n && g; c++) g[c * gstep] = 0;
            return;
        }
    }
    T *buf = (T *)scratch, *b = buf ? buf + n : NULL, *e = g ? (gstep == 1 ? g : buf + 2 * n) : NULL;
    const T *xr = j->x + o * j->xs[0] + i * j->xs[2];
    if (j->xs[1] != 1) {
        for (ptrdiff_t c = 0; c < n; c++) buf[c] = xr[c * j->xs[1]];
        xr = buf;
    }
    /* Probability targets: b = w p (or p), and B = sum(b). */
    double B = 0;
    if (j->prob) {
        const T *p = j->prob + o * j->ps[0] + i * j->ps[2];
        for (ptrdiff_t c = 0; c < n; c++) b[c] = w ? w[c] * p[c * j->ps[1]] : p[c * j->ps[1]];
        B = K->SFX(sum)(b, n);
    } else {
        b = NULL;
    }
    const double wt = b || !w ? 1.0 : (double)w[t];
    /* loss = (1 - eps) (hard: w_t (L - x_t); soft: sum b (L - x)) + (eps / n) sum w (L - x) */
    const double A = (1.0 - eps) * (b ? B : wt) + sm * j->wsum;
    SFX(lse_state) st;
    SFX(row_lse)(K, xr, n, e, &st);
    const T m = st.m;
    double loss = 0;
    if (isfinite(m)) {
        const double logs = st.logs;
        if (eps < 1) loss += (1.0 - eps) * (b ? SFX(ce_terms)(K, xr, b, n, m) + B * logs : wt * SFX(nll)(xr[t], m, logs));
        if (eps > 0) loss += sm * (SFX(ce_terms)(K, xr, w, n, m) + j->wsum * logs);
        if (e) { /* e = gsc (A exp(x - m) / s - a) */
            SFX(row_lse_scale)(K, &st, e, n, gsc * A / st.s);
            const T ks = (T)(gsc * sm), kb = (T)(gsc * (1.0 - eps));
            if (eps > 0 && w)
                for (ptrdiff_t c = 0; c < n; c++) e[c] -= ks * w[c];
            else if (eps > 0)
                for (ptrdiff_t c = 0; c < n; c++) e[c] -= ks;
            if (b && eps < 1)
                for (ptrdiff_t c = 0; c < n; c++) e[c] -= kb * b[c];
            else if (!b)
                e[t] -= (T)(gsc * (1.0 - eps) * wt);
        }
    } else { /* NaN, +inf or only -inf among the logits: log_softmax by the special-value rules */
        int has_nan;
        ptrdiff_t k;
        SFX(fss_special_count)(xr, 1, n, &has_nan, &k);
        const int undefined = has_nan || k == 0;
        for (ptrdiff_t c = 0; c < n; c++) {
            const int top = xr[c] == (T)INFINITY;
            const double a = (1.0 - eps) * (b ? (double)b[c] : (c == t ? wt : 0.0)) + sm * (w ? (double)w[c] : 1.0);
            const double nl = undefined ? NAN : (top ? log((double)k) : INFINITY);
            if (a != 0 || undefined) loss += a * nl; /* xlogy: a zero coefficient ignores -inf */
            if (e) e[c] = (T)(gsc * (A * (undefined ? NAN : (top ? 1.0 / (double)k : 0.0)) - a));
        }
    }
    *lp = (T)loss;
    if (g && e != g)
        for (ptrdiff_t c = 0; c < n; c++) g[c * gstep] = e[c];
}

static int SFX(cross_entropy_ex)(const T *x, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                 const ptrdiff_t xstride[3], const int64_t *target, const ptrdiff_t tstride[2],
                                 const T *prob, const ptrdiff_t pstride[3], const T *weight,
                                 int64_t ignore_index, double label_smoothing, T *loss,
                                 const ptrdiff_t lstride[2], T *grad, const ptrdiff_t gstride[3],
                                 double grad_scale, ptrdiff_t *bad_sample, int nthreads) {
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !xstride || !lstride ||
        !(label_smoothing >= 0 && label_smoothing <= 1) || !isfinite(grad_scale))
        return FASTSOFTMAX_EINVAL;
    if (outer == 0 || inner == 0) return FASTSOFTMAX_OK;
    if (!loss || (n > 0 && !x) || !(target || prob) || (target && (prob || !tstride)) || (prob && !pstride) ||
        (grad && !gstride))
        return FASTSOFTMAX_EINVAL;
    const ptrdiff_t xd[3] = {outer, n, inner}, ld[3] = {outer, 1, inner};
    const ptrdiff_t lst[3] = {lstride[0], 0, lstride[1]};
    if (!fss_views_ok(NULL, xd, xstride, sizeof(T), loss, ld, lst, sizeof(T)) ||
        (n > 0 && !fss_disjoint(x, xd, xstride, sizeof(T), loss, ld, lst, sizeof(T))))
        return FASTSOFTMAX_EINVAL;
    if (target) {
        const ptrdiff_t tst[3] = {tstride[0], 0, tstride[1]};
        if (!fss_disjoint(target, ld, tst, sizeof(int64_t), loss, ld, lst, sizeof(T))) return FASTSOFTMAX_EINVAL;
    }
    if (n > 0 && prob && !fss_disjoint(prob, xd, pstride, sizeof(T), loss, ld, lst, sizeof(T)))
        return FASTSOFTMAX_EINVAL;
    if (grad && n > 0) {
        if (!fss_views_ok(NULL, xd, xstride, sizeof(T), grad, xd, gstride, sizeof(T)) ||
            !fss_disjoint(x, xd, xstride, sizeof(T), grad, xd, gstride, sizeof(T)) ||
            !fss_disjoint(loss, ld, lst, sizeof(T), grad, xd, gstride, sizeof(T)) ||
            (prob && !fss_disjoint(prob, xd, pstride, sizeof(T), grad, xd, gstride, sizeof(T))))
            return FASTSOFTMAX_EINVAL;
        const ptrdiff_t tst[3] = {target ? tstride[0] : 0, 0, target ? tstride[1] : 0};
        if (target && !fss_disjoint(target, ld, tst, sizeof(int64_t), grad, xd, gstride, sizeof(T)))
            return FASTSOFTMAX_EINVAL;
    }
    if (weight && n > 0) { /* read throughout: it must not be written */
        const ptrdiff_t wd[3] = {1, n, 1}, wst[3] = {0, 1, 0};
        if (!fss_disjoint(weight, wd, wst, sizeof(T), loss, ld, lst, sizeof(T)) ||
            (grad && !fss_disjoint(weight, wd, wst, sizeof(T), grad, xd, gstride, sizeof(T))))
            return FASTSOFTMAX_EINVAL;
    }
    if (prob && n == 0) return FASTSOFTMAX_EINVAL;
    for (ptrdiff_t o = 0; target && o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            int64_t t = target[o * tstride[0] + i * tstride[1]];
            if ((t != ignore_index || ignore_index == FASTSOFTMAX_NO_IGNORE) && (t < 0 || t >= (int64_t)n)) {
                if (bad_sample) *bad_sample = o * inner + i;
                return FASTSOFTMAX_EINDEX;
            }
        }
    const fss_kernels *K = fss_active_kernels();
    const double wsum = weight ? K->SFX(sum)(weight, n) : (double)n; /* compensated for double */
    SFX(ce_job) j = {K, x, n, inner, xstride, target, tstride, prob, pstride, weight,
                     ignore_index, label_smoothing, wsum, loss, lstride, grad, gstride, grad_scale};
    const ptrdiff_t tasks = outer * inner;
    /* scratch: a gathered row, the weighted probabilities, a strided gradient row (n each) */
    const size_t scratch = (xstride[1] != 1 || prob || (grad && gstride[1] != 1)) ? (size_t)n * sizeof(T) * 3 : 0;
    int status = FASTSOFTMAX_OK;
    fss_for_tasks(fss_threads(nthreads, outer * n * inner, tasks), tasks, scratch, SFX(ce_task), &j, &status);
    return status;
}

/* ------------------------------------------------------------------------------------------------ */
/* Backward of softmax (dx = y (dy - sum(dy y))) and log_softmax (dx = dy - exp(y) sum(dy)), slice by
 * slice; strided slices are gathered into scratch (dy, y, dx: 3 n elements). */

typedef struct {
    int log;
    const fss_kernels *K;
    const T *dy, *y;
    T *dx;
    ptrdiff_t n, inner, dys[3], ys[3], dxs[3];
} SFX(bwd_job);

static void SFX(bwd_task)(void *ctx, ptrdiff_t t, void *scratch) {
    const SFX(bwd_job) *j = (const SFX(bwd_job) *)ctx;
    const fss_kernels *K = j->K;
    const ptrdiff_t n = j->n, o = t / j->inner, i = t % j->inner;
    const T *dy = j->dy + o * j->dys[0] + i * j->dys[2], *y = j->y + o * j->ys[0] + i * j->ys[2];
    T *dx = j->dx + o * j->dxs[0] + i * j->dxs[2], *out = dx;
    T *buf = (T *)scratch;
    if (j->dys[1] != 1) {
        for (ptrdiff_t k = 0; k < n; k++) buf[k] = dy[k * j->dys[1]];
        dy = buf;
    }
    if (j->ys[1] != 1) {
        for (ptrdiff_t k = 0; k < n; k++) buf[n + k] = y[k * j->ys[1]];
        y = buf + n;
    }
    if (j->dxs[1] != 1) out = buf + 2 * n;
    if (!j->log) {
        K->SFX(softmax_bwd)(dy, y, out, n, (T)K->SFX(dot)(dy, y, n));
    } else {
        const double c = K->SFX(sum)(dy, n);
        const T ymax = K->SFX(rmax)(y, n); /* the SIMD exp takes arguments <= 0; others go to libm */
        if (ymax <= 0) K->SFX(log_softmax_bwd)(dy, y, out, n, (T)c);
        else
            for (ptrdiff_t k = 0; k < n; k++) out[k] = (T)((double)dy[k] - exp((double)y[k]) * c);
    }
    if (out != dx)
        for (ptrdiff_t k = 0; k < n; k++) dx[k * j->dxs[1]] = out[k];
}

static int SFX(backward)(int log, const T *dy, const T *y, T *dx, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                         const ptrdiff_t dystride[3], const ptrdiff_t ystride[3], const ptrdiff_t dxstride[3],
                         int nthreads) {
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !dystride || !ystride || !dxstride)
        return FASTSOFTMAX_EINVAL;
    if (outer == 0 || n == 0 || inner == 0) return FASTSOFTMAX_OK;
    if (!dy || !y || !dx) return FASTSOFTMAX_EINVAL;
    const ptrdiff_t d[3] = {outer, n, inner};
    if (!fss_views_ok(dy, d, dystride, sizeof(T), dx, d, dxstride, sizeof(T)) ||
        !fss_views_ok(y, d, ystride, sizeof(T), dx, d, dxstride, sizeof(T)))
        return FASTSOFTMAX_EINVAL;
    SFX(bwd_job) j = {log, fss_active_kernels(), dy, y, dx, n, inner,
                      {dystride[0], dystride[1], dystride[2]}, {ystride[0], ystride[1], ystride[2]},
                      {dxstride[0], dxstride[1], dxstride[2]}};
    const ptrdiff_t tasks = outer * inner;
    int status = FASTSOFTMAX_OK;
    fss_for_tasks(fss_threads(nthreads, outer * n * inner, tasks), tasks, (size_t)n * 3 * sizeof(T),
                  SFX(bwd_task), &j, &status);
    return status;
}

/* ------------------------------------------------------------------------------------------------ */
/* sigmoid / log_sigmoid of n contiguous elements, in fixed blocks shared by the threads. */

typedef struct {
    int log;
    const fss_kernels *K;
    const T *x;
    T *y;
    ptrdiff_t n;
} SFX(elem_job);

static void SFX(elem_task)(void *ctx, ptrdiff_t t, void *scratch) {
    const SFX(elem_job) *j = (const SFX(elem_job) *)ctx;
    (void)scratch;
    const ptrdiff_t i0 = t * FSS_CHUNK, len = j->n - i0 < FSS_CHUNK ? j->n - i0 : FSS_CHUNK;
    if (j->log) j->K->SFX(log_sigmoid)(j->x + i0, j->y + i0, len);
    else j->K->SFX(sigmoid)(j->x + i0, j->y + i0, len);
}

static int SFX(elementwise)(int log, const T *x, T *y, ptrdiff_t n, int nthreads) {
    if (n < 0 || nthreads < 0 || (n > 0 && (!x || !y))) return FASTSOFTMAX_EINVAL;
    if (n == 0) return FASTSOFTMAX_OK;
    const ptrdiff_t d[3] = {1, n, 1}, st[3] = {0, 1, 0};
    if (x != y && !fss_disjoint(x, d, st, sizeof(T), y, d, st, sizeof(T))) return FASTSOFTMAX_EINVAL;
    SFX(elem_job) j = {log, fss_active_kernels(), x, y, n};
    const ptrdiff_t tasks = (n + FSS_CHUNK - 1) / FSS_CHUNK;
    int status = FASTSOFTMAX_OK;
    fss_for_tasks(fss_threads(nthreads, n, tasks), tasks, 0, SFX(elem_task), &j, &status);
    return status;
}
