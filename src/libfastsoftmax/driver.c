/*
 * driver.c - the public entry points of include/fastsoftmax.h: argument checks, layout choice and
 * OpenMP over independent tasks (see driver_template.h).
 */
#include <stdlib.h>
#include <string.h>

#include "fastsoftmax.h"
#include "fss_internal.h"

/* How a call's slices map onto the kernels (see driver_template.h). */
enum { FSS_ROWS, FSS_SHORT_ROWS, FSS_COLS, FSS_GENERIC };

/* Below this many elements per thread, a thread costs more than it saves (ONNX Runtime uses the same
 * rule of thumb); it also keeps every small call serial. */
#define FSS_MIN_ELEMS_PER_THREAD 16384

/* Rows of at least FSS_SPLIT_MIN elements are always computed in chunks of FSS_CHUNK (L2-sized), so
 * that one long row can be shared by threads with the same result as on one thread. */
#define FSS_SPLIT_MIN (1 << 17)

/* Row-parallel calls whose output has at least this many bytes (the last-level cache of the machines we
 * measure on: 32 MiB) write it by non-temporal stores. */
#define FSS_STREAM_MIN ((size_t)32 << 20)

/* Row-parallel calls in rows of at least FSS_PREFETCH_ROW_MIN bytes prefetch their output for writing
 * (see the row kernel), unless it is streamed (FSS_STREAM_MIN): log_softmax always, softmax where the
 * output has at least FSS_PREFETCH_OUT_MIN bytes (and so comes from L3 or memory).  Measured on Zen 5
 * (C microbenchmark of the rows API, float32, one thread): softmax 8-12% faster from (3072, 1000) up,
 * 2% slower at (2048, 1000), where the hardware's own prefetch keeps up (on (64, 32000): 12% slower);
 * log_softmax 10-16% faster on rows of 8192 to 65536 from 2 MiB up ((128, 32768): 30%), 0-3% on
 * (256, 2048) and (512, 1000), the same in L1.  On shorter rows the gain fades and turns into a loss
 * (rows of 640: 3-10% faster; of 512: log_softmax 4% slower; of 300, and in the paired kernel of rows
 * of 80-200: 5-22% slower). */
#define FSS_PREFETCH_OUT_MIN ((size_t)8 << 20)
#define FSS_PREFETCH_ROW_MIN 2560

/* Rows of at most FSS_SHORT_ROW elements go to the kernels FSS_ROW_BLOCK at a time.  So do unscaled rows
 * of up to FSS_PAIR_ROW_BYTES (two at a time in the kernel, see row_pair; shorter float32 rows four at a
 * time, row_quad), in blocks of about FSS_ROW_BLOCK_ELEMS elements (a multiple of four rows), unless
 * their output is to be streamed (FSS_STREAM_MIN).  Two rows' x
 * and y then take at most 32 KiB, within L1.  Measured on Zen 5 against rows one by one (C
 * microbenchmark of the rows API, float32, AVX-512, one thread, cycles per element): (4096, 300) 8-22%
 * faster, (1000, 1000) 4-15%, (4096, 1000) 3-13%, (512, 2048) 0-6%, float64 (1000, 1000) 2-9%; rows of
 * 3000 and 4096 floats (48 and 64 KiB a pair) ran 2-25% slower in pairs.  (FSS_PAIR_ROW_BYTES is in
 * fss_internal.h: the row kernels take rows two at a time up to it.) */

/* Longer rows (up to FSS_SPLIT_MIN) of an input of at most FSS_SEQ_ROWS_BYTES go to the kernel in one block
 * of rows per thread, where it fuses each row's exp pass with the next row's max pass (rows_seq, with
 * 512-bit vectors).  Measured on Zen 5 (C microbenchmark, one thread, AVX-512, against rows one by
 * one): float32 (64, 32000) softmax 5-9% faster, log_softmax 6%, logsumexp 10%; (256, 4096) 4-7%;
 * float64 (64, 16000) 6-10%; but (1024, 3000), 12 MB from memory, 9-17% slower (the next row read
 * from memory by the max pass, not prefetched: prefetching it slowed the rows in cache). */
#define FSS_SEQ_ROWS_BYTES ((size_t)8 << 20)

#define FSS_SHORT_ROW 64
#define FSS_ROW_BLOCK 256
#define FSS_ROW_BLOCK_ELEMS 16384
#define FSS_CHUNK (1 << 15)

/* The byte range [lo, hi) touched by a strided 3-D view (dims all >= 1). */
static void fss_span(const void *p, const ptrdiff_t d[3], const ptrdiff_t s[3], size_t item, const char **lo,
                     const char **hi) {
    const char *a = (const char *)p, *b = (const char *)p;
    for (int k = 0; k < 3; k++) {
        ptrdiff_t ext = (d[k] - 1) * s[k] * (ptrdiff_t)item;
        if (ext < 0) a += ext;
        else b += ext;
    }
    *lo = a;
    *hi = b + item;
}

/* No two elements of the view share an address: ordered by |stride|, each stride must step over the
 * whole extent of the smaller ones (a sufficient test, exact for every layout NumPy produces). */
static int fss_no_self_overlap(const ptrdiff_t d[3], const ptrdiff_t s[3]) {
    ptrdiff_t a[3];
    int k = 0;
    for (int j = 0; j < 3; j++)
        if (d[j] > 1) a[k++] = j;
    for (int i = 1; i < k; i++) /* insertion sort of at most 3 by |stride| */
        for (int j = i; j > 0 && llabs((long long)s[a[j]]) < llabs((long long)s[a[j - 1]]); j--) {
            ptrdiff_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    ptrdiff_t extent = 0; /* the largest offset reachable with the smaller strides */
    for (int i = 0; i < k; i++) {
        ptrdiff_t st = (ptrdiff_t)llabs((long long)s[a[i]]);
        if (st <= extent) return 0;
        extent += st * (d[a[i]] - 1);
    }
    return 1;
}

/* The output view has distinct elements, and x and y either do not intersect or are the same view. */
static int fss_views_ok(const void *x, const ptrdiff_t xd[3], const ptrdiff_t xs[3], size_t xitem, const void *y,
                        const ptrdiff_t yd[3], const ptrdiff_t ys[3], size_t yitem) {
    if (!fss_no_self_overlap(yd, ys)) return 0;
    if (!x || xd[0] * xd[1] * xd[2] == 0) return 1;
    const char *xlo, *xhi, *ylo, *yhi;
    fss_span(x, xd, xs, xitem, &xlo, &xhi);
    fss_span(y, yd, ys, yitem, &ylo, &yhi);
    if (yhi <= xlo || xhi <= ylo) return 1;
    if (x != y || xitem != yitem) return 0;
    for (int k = 0; k < 3; k++)
        if (xd[k] != yd[k] || (xd[k] > 1 && xs[k] != ys[k])) return 0;
    return 1;
}

/* Two views (dims all >= 1) touch no common byte. */
static int fss_disjoint(const void *a, const ptrdiff_t ad[3], const ptrdiff_t as[3], size_t aitem, const void *b,
                        const ptrdiff_t bd[3], const ptrdiff_t bs[3], size_t bitem) {
    const char *alo, *ahi, *blo, *bhi;
    fss_span(a, ad, as, aitem, &alo, &ahi);
    fss_span(b, bd, bs, bitem, &blo, &bhi);
    return ahi <= blo || bhi <= alo;
}

/* Threads for `work` elements in `tasks` independent tasks: the request (0: the library default), at
 * most one per FSS_MIN_ELEMS_PER_THREAD elements and one per task, at least one. */
static int fss_threads(int nthreads, ptrdiff_t work, ptrdiff_t tasks) {
#ifndef _OPENMP
    (void)nthreads, (void)work, (void)tasks;
    return 1;
#endif
    ptrdiff_t nt = nthreads > 0 ? nthreads : fastsoftmax_get_num_threads();
    if (nt > work / FSS_MIN_ELEMS_PER_THREAD) nt = work / FSS_MIN_ELEMS_PER_THREAD;
    if (nt > tasks) nt = tasks;
    return nt < 1 ? 1 : (int)nt;
}

/* A thread's scratch row, or NULL after recording FASTSOFTMAX_ENOMEM in *status. */
static void *fss_scratch(size_t bytes, int *status) {
    void *p = malloc(bytes);
    if (!p) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
        *status = FASTSOFTMAX_ENOMEM;
    }
    return p;
}

/* Run fn(ctx, t, scratch) for every task t in [0, tasks), statically spread over nt threads, each with
 * its own scratch of `scratch` bytes (NULL if 0).  One thread runs without a parallel region (which
 * alone costs more than a short call).  A failed allocation records FASTSOFTMAX_ENOMEM in *status and
 * that thread's tasks are not run. */
typedef void (*fss_task_fn)(void *ctx, ptrdiff_t t, void *scratch);

static void fss_for_tasks(int nt, ptrdiff_t tasks, size_t scratch, fss_task_fn fn, void *ctx, int *status) {
    if (nt <= 1) {
        void *buf = scratch ? fss_scratch(scratch, status) : NULL;
        if (!scratch || buf)
            for (ptrdiff_t t = 0; t < tasks; t++) fn(ctx, t, buf);
        free(buf);
        return;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
    {
        void *buf = scratch ? fss_scratch(scratch, status) : NULL;
#pragma omp for schedule(static)
        for (ptrdiff_t t = 0; t < tasks; t++)
            if (!scratch || buf) fn(ctx, t, buf);
        free(buf);
    }
#endif
}

#define T float
#define SFX(name) name##_f32
#define FSS_DRIVER_F32 1
#include "driver_template.h"
#undef T
#undef SFX
#undef FSS_DRIVER_F32
#define T double
#define SFX(name) name##_f64
#define FSS_DRIVER_F32 0
#include "driver_template.h"
#undef T
#undef SFX
#undef FSS_DRIVER_F32

#define FSS_ENTRY(OPNAME, OP, T, SFX)                                                                 \
    int fastsoftmax_##OPNAME##_##SFX(const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, \
                                     const ptrdiff_t xstride[3], const ptrdiff_t ystride[3],          \
                                     int nthreads) {                                                  \
        return run_##SFX(OP, x, y, outer, n, inner, xstride, ystride, 1, nthreads);                  \
    }
FSS_ENTRY(softmax, FSS_OP_SOFTMAX, float, f32)
FSS_ENTRY(log_softmax, FSS_OP_LOG_SOFTMAX, float, f32)
FSS_ENTRY(logsumexp, FSS_OP_LOGSUMEXP, float, f32)
FSS_ENTRY(softmax, FSS_OP_SOFTMAX, double, f64)
FSS_ENTRY(log_softmax, FSS_OP_LOG_SOFTMAX, double, f64)
FSS_ENTRY(logsumexp, FSS_OP_LOGSUMEXP, double, f64)

#define FSS_ROWS(OPNAME, T, SFX, NY)                                                                  \
    int fastsoftmax_##OPNAME##_rows_##SFX(const T *x, T *y, ptrdiff_t rows, ptrdiff_t n, int nthreads) { \
        const ptrdiff_t xs[3] = {n, 1, 1}, ys[3] = {NY, 1, 1};                                          \
        return fastsoftmax_##OPNAME##_##SFX(x, y, rows, n, 1, xs, ys, nthreads);                        \
    }
FSS_ROWS(softmax, float, f32, n)
FSS_ROWS(log_softmax, float, f32, n)
FSS_ROWS(logsumexp, float, f32, 1)
FSS_ROWS(softmax, double, f64, n)
FSS_ROWS(log_softmax, double, f64, n)
FSS_ROWS(logsumexp, double, f64, 1)

#define FSS_EX(OPNAME, OP, T, SFX)                                                                     \
    int fastsoftmax_##OPNAME##_ex_##SFX(const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,    \
                                        const ptrdiff_t xstride[3], const ptrdiff_t ystride[3],             \
                                        const unsigned char *where, const ptrdiff_t wstride[3], T scale,   \
                                        int nthreads) {                                                     \
        return run_ex_##SFX(OP, x, y, outer, n, inner, xstride, ystride, where, wstride, scale, nthreads); \
    }
FSS_EX(softmax, FSS_OP_SOFTMAX, float, f32)
FSS_EX(log_softmax, FSS_OP_LOG_SOFTMAX, float, f32)
FSS_EX(logsumexp, FSS_OP_LOGSUMEXP, float, f32)
FSS_EX(softmax, FSS_OP_SOFTMAX, double, f64)
FSS_EX(log_softmax, FSS_OP_LOG_SOFTMAX, double, f64)
FSS_EX(logsumexp, FSS_OP_LOGSUMEXP, double, f64)

#define FSS_MORE(T, SFX)                                                                                  \
    int fastsoftmax_cross_entropy_ex_##SFX(                                                             \
        const T *x, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t xstride[3],          \
        const int64_t *target, const ptrdiff_t tstride[2], const T *prob, const ptrdiff_t pstride[3],   \
        const T *weight, int64_t ignore_index, double label_smoothing, T *loss, const ptrdiff_t lstride[2], \
        T *grad, const ptrdiff_t gstride[3], double grad_scale, ptrdiff_t *bad_sample, int nthreads) {  \
        return cross_entropy_ex_##SFX(x, outer, n, inner, xstride, target, tstride, prob, pstride, weight, \
                                      ignore_index, label_smoothing, loss, lstride, grad, gstride,      \
                                      grad_scale, bad_sample, nthreads);                                \
    }                                                                                                   \
    int fastsoftmax_cross_entropy_##SFX(const T *x, const int64_t *target, T *loss, ptrdiff_t outer,    \
                                        ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t xstride[3],       \
                                        const ptrdiff_t tstride[2], const ptrdiff_t lstride[2],         \
                                        int64_t ignore_index, ptrdiff_t *bad_sample, int nthreads) {    \
        return cross_entropy_ex_##SFX(x, outer, n, inner, xstride, target, tstride, NULL, NULL, NULL,    \
                                      ignore_index, 0.0, loss, lstride, NULL, NULL, 1.0, bad_sample,    \
                                      nthreads);                                                        \
    }                                                                                                   \
    int fastsoftmax_cross_entropy_rows_##SFX(const T *x, const int64_t *target, T *loss, ptrdiff_t rows, \
                                             ptrdiff_t n, int64_t ignore_index, ptrdiff_t *bad_sample,   \
                                             int nthreads) {                                            \
        const ptrdiff_t xs[3] = {n, 1, 1}, ts[2] = {1, 1}, ls[2] = {1, 1};                              \
        return fastsoftmax_cross_entropy_##SFX(x, target, loss, rows, n, 1, xs, ts, ls, ignore_index,   \
                                               bad_sample, nthreads);                                   \
    }                                                                                                   \
    int fastsoftmax_softmax_backward_##SFX(const T *dy, const T *y, T *dx, ptrdiff_t outer, ptrdiff_t n, \
                                           ptrdiff_t inner, const ptrdiff_t dystride[3],                \
                                           const ptrdiff_t ystride[3], const ptrdiff_t dxstride[3],     \
                                           int nthreads) {                                              \
        return backward_##SFX(0, dy, y, dx, outer, n, inner, dystride, ystride, dxstride, nthreads);    \
    }                                                                                                   \
    int fastsoftmax_log_softmax_backward_##SFX(const T *dy, const T *y, T *dx, ptrdiff_t outer,         \
                                               ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t dystride[3], \
                                               const ptrdiff_t ystride[3], const ptrdiff_t dxstride[3], \
                                               int nthreads) {                                          \
        return backward_##SFX(1, dy, y, dx, outer, n, inner, dystride, ystride, dxstride, nthreads);    \
    }                                                                                                   \
    int fastsoftmax_sigmoid_##SFX(const T *x, T *y, ptrdiff_t n, int nthreads) {                        \
        return elementwise_##SFX(0, x, y, n, nthreads);                                                 \
    }                                                                                                   \
    int fastsoftmax_log_sigmoid_##SFX(const T *x, T *y, ptrdiff_t n, int nthreads) {                    \
        return elementwise_##SFX(1, x, y, n, nthreads);                                                 \
    }
FSS_MORE(float, f32)
FSS_MORE(double, f64)

int fastsoftmax_exp_f32(const float *x, float *y, ptrdiff_t n) {
    if (n < 0 || (n > 0 && (!x || !y))) return FASTSOFTMAX_EINVAL;
    fss_active_kernels()->exp_f32(x, y, n);
    return FASTSOFTMAX_OK;
}

int fastsoftmax_exp_f64(const double *x, double *y, ptrdiff_t n) {
    if (n < 0 || (n > 0 && (!x || !y))) return FASTSOFTMAX_EINVAL;
    fss_active_kernels()->exp_f64(x, y, n);
    return FASTSOFTMAX_OK;
}
