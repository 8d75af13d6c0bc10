/*
 * driver_template.h - maps a strided (outer, n, inner) problem onto the kernels; included by driver.c
 * once per dtype (T, SFX defined).
 *
 * Layouts, chosen per call:
 *   rows     inner == 1 and unit stride along n: one row kernel call per slice; rows of at most
 *            FSS_SHORT_ROW elements go to the kernels in blocks of FSS_ROW_BLOCK ("short rows"), and
 *            rows of at least FSS_SPLIT_MIN in fixed chunks that threads can share (long_row);
 *   columns  unit stride along inner: blocks of FSS_COL_BLOCK lanes, vectorised across inner and
 *            strided along n (no transpose copy);
 *   generic  anything else: each slice is gathered into a per-thread scratch row, computed in place,
 *            and scattered back (n elements of scratch per thread, never a full-size copy).
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
    for (ptrdiff_t c = 0; c < nc; c++) {
        double t = sum + sc[c], bv = t - sum;
        comp += (sum - (t - bv)) + (sc[c] - bv);
        sum = t;
    }
    sum += comp;
    if (op == FSS_OP_LOGSUMEXP) {
        *y = (T)((double)m + log(sum));
    } else {
        const T inv = (T)(1.0 / sum);
        const double L = log(sum);
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
    int mode, status;
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
        ptrdiff_t r0 = t * FSS_ROW_BLOCK, nr = j->outer - r0 < FSS_ROW_BLOCK ? j->outer - r0 : FSS_ROW_BLOCK;
        K->SFX(rows)(op, j->x + r0 * j->xs0, j->xs0, j->y + r0 * j->ys0, j->ys0, nr, n);
    } else if (j->mode == FSS_ROWS) {
        const T *xr = j->x + t * j->xs0;
        T *yr = j->y + t * j->ys0;
        if (op == FSS_OP_SOFTMAX) K->SFX(softmax)(xr, yr, n);
        else if (op == FSS_OP_LOG_SOFTMAX) K->SFX(log_softmax)(xr, yr, n);
        else *yr = K->SFX(logsumexp)(xr, n);
    } else if (j->mode == FSS_COLS) {
        ptrdiff_t nblk = (j->inner + FSS_COL_BLOCK - 1) / FSS_COL_BLOCK;
        ptrdiff_t o = t / nblk, i0 = (t % nblk) * FSS_COL_BLOCK;
        ptrdiff_t w = j->inner - i0 < FSS_COL_BLOCK ? j->inner - i0 : FSS_COL_BLOCK;
        const T *xb = j->x + o * j->xs0 + i0;
        T *yb = j->y + o * j->ys0 + i0;
        if (op == FSS_OP_SOFTMAX) K->SFX(softmax_cols)(xb, j->xs1, yb, j->ys1, n, w);
        else if (op == FSS_OP_LOG_SOFTMAX) K->SFX(log_softmax_cols)(xb, j->xs1, yb, j->ys1, n, w);
        else K->SFX(logsumexp_cols)(xb, j->xs1, yb, n, w);
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

static int SFX(run)(int op, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                    const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads) {
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
    SFX(job) j = {op, K, x, y, outer, n, inner, xs0, xs1, xs2, ys0, ys1, ys2, 0, FASTSOFTMAX_OK};
    ptrdiff_t tasks;
    if (inner == 1 && xs1 == 1 && (op == FSS_OP_LOGSUMEXP || ys1 == 1)) {
        j.mode = FSS_ROWS;
        tasks = outer;
        if (n <= FSS_SHORT_ROW) { /* blocks of rows, interleaved in the kernel */
            j.mode = FSS_SHORT_ROWS;
            tasks = (outer + FSS_ROW_BLOCK - 1) / FSS_ROW_BLOCK;
        }
    } else if (xs2 == 1 && ys2 == 1) {
        j.mode = FSS_COLS;
        tasks = outer * ((inner + FSS_COL_BLOCK - 1) / FSS_COL_BLOCK);
    } else {
        j.mode = FSS_GENERIC;
        tasks = outer * inner;
    }

    int nt = fss_threads(nthreads, outer * n * inner, PTRDIFF_MAX);
    if (j.mode == FSS_ROWS && n >= FSS_SPLIT_MIN && outer < nt) { /* too few rows to go round: split them */
        for (ptrdiff_t o = 0; o < outer; o++) {
            int st = SFX(long_row)(op, K, x + o * xs0, y + o * ys0, n, nt);
            if (st != FASTSOFTMAX_OK) return st;
        }
        return FASTSOFTMAX_OK;
    }
    if (nt > tasks) nt = (int)tasks;
    fss_for_tasks(nt, tasks, j.mode == FSS_GENERIC ? (size_t)n * sizeof(T) : 0, SFX(task), &j, &j.status);
    return j.status;
}

/* Cross-entropy per sample: -log_softmax(x[o, :, i])[t], with x_t - m taken exactly. */
static T SFX(ce_one)(const fss_kernels *K, const T *x, ptrdiff_t n, ptrdiff_t t) {
    T xt = x[t];
    T m = K->SFX(rmax)(x, n); /* a contiguous row, or a gathered copy of one */
    if (!isfinite(m)) {
        int has_nan;
        ptrdiff_t k;
        SFX(fss_special_count)(x, 1, n, &has_nan, &k);
        if (has_nan || k == 0) return (T)NAN;
        return xt == (T)INFINITY ? (T)log((double)k) : (T)INFINITY;
    }
    double L = log(K->SFX(sumexp)(x, n, m));
#if FSS_DRIVER_F32
    return (T)(L - ((double)xt - (double)m)); /* exact difference in double */
#else
    T d = xt - m, bv = d - xt;
    T e = (xt - (d - bv)) + (-m - bv); /* d + e == xt - m exactly (TwoSum) */
    if (e != e) e = 0;                 /* d infinite: d alone is the answer */
    return (T)((L - d) - e);
#endif
}

typedef struct {
    const fss_kernels *K;
    const T *x;
    const int64_t *target;
    T *loss;
    ptrdiff_t n, inner;
    const ptrdiff_t *xstride, *tstride, *lstride;
    int64_t ignore_index;
} SFX(ce_job);

/* Sample t: its loss, from the row in place or gathered into the thread's scratch row. */
static void SFX(ce_task)(void *ctx, ptrdiff_t s, void *scratch) {
    const SFX(ce_job) *j = (const SFX(ce_job) *)ctx;
    ptrdiff_t o = s / j->inner, i = s % j->inner;
    int64_t t = j->target[o * j->tstride[0] + i * j->tstride[1]];
    T *l = j->loss + o * j->lstride[0] + i * j->lstride[1];
    if (t == j->ignore_index) { /* never FASTSOFTMAX_NO_IGNORE: rejected before */
        *l = 0;
        return;
    }
    const T *xr = j->x + o * j->xstride[0] + i * j->xstride[2];
    if (scratch) {
        T *buf = (T *)scratch;
        for (ptrdiff_t k = 0; k < j->n; k++) buf[k] = xr[k * j->xstride[1]];
        xr = buf;
    }
    *l = SFX(ce_one)(j->K, xr, j->n, (ptrdiff_t)t);
}

static int SFX(cross_entropy)(const T *x, const int64_t *target, T *loss, ptrdiff_t outer, ptrdiff_t n,
                              ptrdiff_t inner, const ptrdiff_t xstride[3], const ptrdiff_t tstride[2],
                              const ptrdiff_t lstride[2], int64_t ignore_index, ptrdiff_t *bad_sample,
                              int nthreads) {
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !xstride || !tstride || !lstride)
        return FASTSOFTMAX_EINVAL;
    if (outer == 0 || inner == 0) return FASTSOFTMAX_OK;
    if (!target || !loss || (n > 0 && !x)) return FASTSOFTMAX_EINVAL;
    {
        const ptrdiff_t xd[3] = {outer, n, inner}, ld[3] = {outer, 1, inner};
        const ptrdiff_t lst[3] = {lstride[0], 0, lstride[1]};
        if (!fss_views_ok(x, xd, xstride, sizeof(T), loss, ld, lst, sizeof(T))) return FASTSOFTMAX_EINVAL;
        const ptrdiff_t tst[3] = {tstride[0], 0, tstride[1]};
        if (!fss_views_ok(target, ld, tst, sizeof(int64_t), loss, ld, lst, sizeof(T))) return FASTSOFTMAX_EINVAL;
    }
    for (ptrdiff_t o = 0; o < outer; o++)
        for (ptrdiff_t i = 0; i < inner; i++) {
            int64_t t = target[o * tstride[0] + i * tstride[1]];
            if ((t != ignore_index || ignore_index == FASTSOFTMAX_NO_IGNORE) && (t < 0 || t >= (int64_t)n)) {
                if (bad_sample) *bad_sample = o * inner + i;
                return FASTSOFTMAX_EINDEX;
            }
        }
    SFX(ce_job) j = {fss_active_kernels(), x, target, loss, n, inner, xstride, tstride, lstride, ignore_index};
    const ptrdiff_t tasks = outer * inner;
    int status = FASTSOFTMAX_OK;
    fss_for_tasks(fss_threads(nthreads, outer * n * inner, tasks), tasks,
                  xstride[1] != 1 ? (size_t)n * sizeof(T) : 0, SFX(ce_task), &j, &status);
    return status;
}
