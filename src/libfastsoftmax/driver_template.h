/*
 * driver_template.h - maps a strided (outer, n, inner) problem onto the kernels; included by driver.c
 * once per dtype (T, SFX defined).
 *
 * Three layouts, chosen per call:
 *   rows     inner == 1 and unit stride along n: one row kernel call per slice;
 *   columns  unit stride along inner: blocks of FSS_COL_BLOCK lanes, vectorised across inner and
 *            strided along n (no transpose copy);
 *   generic  anything else: each slice is gathered into a per-thread scratch row, computed in place,
 *            and scattered back (n elements of scratch per thread, never a full-size copy).
 * Tasks (rows, column blocks or slices) are independent, so splitting them over threads cannot change
 * a result.
 */

static int SFX(run)(int op, const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                    const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads) {
    if (outer < 0 || n < 0 || inner < 0 || nthreads < 0 || !xstride || !ystride) return FASTSOFTMAX_EINVAL;
    const fss_kernels *K = fss_active_kernels();
    if (outer == 0 || inner == 0 || (n == 0 && op != OP_LOGSUMEXP)) return FASTSOFTMAX_OK;
    if (!y || (n > 0 && !x)) return FASTSOFTMAX_EINVAL;
    ptrdiff_t xs0 = xstride[0], xs1 = xstride[1], xs2 = xstride[2];
    ptrdiff_t ys0 = ystride[0], ys1 = op == OP_LOGSUMEXP ? 0 : ystride[1], ys2 = ystride[2];
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
    enum { ROWS, COLS, GENERIC } mode;
    ptrdiff_t tasks, nblk = 0;
    if (inner == 1 && xs1 == 1 && (op == OP_LOGSUMEXP || ys1 == 1)) {
        mode = ROWS;
        tasks = outer;
    } else if (xs2 == 1 && ys2 == 1) {
        mode = COLS;
        nblk = (inner + FSS_COL_BLOCK - 1) / FSS_COL_BLOCK;
        tasks = outer * nblk;
    } else {
        mode = GENERIC;
        tasks = outer * inner;
    }

    int nt = nthreads > 0 ? nthreads : fastsoftmax_get_num_threads();
    ptrdiff_t by_work = (outer * n * inner) / FSS_MIN_ELEMS_PER_THREAD;
    if (nt > by_work) nt = (int)by_work;
    if (nt > tasks) nt = (int)tasks;
    if (nt < 1) nt = 1;

    int status = FASTSOFTMAX_OK;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        T *buf = NULL;
        if (mode == GENERIC) {
            buf = (T *)malloc((size_t)n * sizeof(T));
            if (!buf) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                status = FASTSOFTMAX_ENOMEM;
            }
        }
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (ptrdiff_t t = 0; t < tasks; t++) {
            if (mode == ROWS) {
                const T *xr = x + t * xs0;
                if (op == OP_SOFTMAX) K->SFX(softmax)(xr, y + t * ys0, n);
                else if (op == OP_LOG_SOFTMAX) K->SFX(log_softmax)(xr, y + t * ys0, n);
                else y[t * ys0] = K->SFX(logsumexp)(xr, n);
            } else if (mode == COLS) {
                ptrdiff_t o = t / nblk, i0 = (t % nblk) * FSS_COL_BLOCK;
                ptrdiff_t w = inner - i0 < FSS_COL_BLOCK ? inner - i0 : FSS_COL_BLOCK;
                const T *xb = x + o * xs0 + i0;
                T *yb = y + o * ys0 + i0;
                if (op == OP_SOFTMAX) K->SFX(softmax_cols)(xb, xs1, yb, ys1, n, w);
                else if (op == OP_LOG_SOFTMAX) K->SFX(log_softmax_cols)(xb, xs1, yb, ys1, n, w);
                else K->SFX(logsumexp_cols)(xb, xs1, yb, n, w);
            } else if (buf) {
                ptrdiff_t o = t / inner, i = t % inner;
                const T *xr = x + o * xs0 + i * xs2;
                T *yr = y + o * ys0 + i * ys2;
                for (ptrdiff_t j = 0; j < n; j++) buf[j] = xr[j * xs1];
                if (op == OP_LOGSUMEXP) {
                    *yr = K->SFX(logsumexp)(buf, n);
                    continue;
                }
                if (op == OP_SOFTMAX) K->SFX(softmax)(buf, buf, n);
                else K->SFX(log_softmax)(buf, buf, n);
                for (ptrdiff_t j = 0; j < n; j++) yr[j * ys1] = buf[j];
            }
        }
        free(buf);
    }
    return status;
}
