/*
 * driver.c - the public entry points of include/fastsoftmax.h: argument checks, layout choice and
 * OpenMP over independent tasks (see driver_template.h).
 */
#include <stdlib.h>

#include "fastsoftmax.h"
#include "fss_internal.h"

enum { OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LOGSUMEXP };

/* Below this many elements per thread, a thread costs more than it saves (ONNX Runtime uses the same
 * rule of thumb); it also keeps every small call serial. */
#define FSS_MIN_ELEMS_PER_THREAD 16384

#define T float
#define SFX(name) name##_f32
#include "driver_template.h"
#undef T
#undef SFX
#define T double
#define SFX(name) name##_f64
#include "driver_template.h"
#undef T
#undef SFX

#define FSS_ENTRY(OPNAME, OP, T, SFX)                                                                 \
    int fastsoftmax_##OPNAME##_##SFX(const T *x, T *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner, \
                                     const ptrdiff_t xstride[3], const ptrdiff_t ystride[3],          \
                                     int nthreads) {                                                  \
        return run_##SFX(OP, x, y, outer, n, inner, xstride, ystride, nthreads);                     \
    }
FSS_ENTRY(softmax, OP_SOFTMAX, float, f32)
FSS_ENTRY(log_softmax, OP_LOG_SOFTMAX, float, f32)
FSS_ENTRY(logsumexp, OP_LOGSUMEXP, float, f32)
FSS_ENTRY(softmax, OP_SOFTMAX, double, f64)
FSS_ENTRY(log_softmax, OP_LOG_SOFTMAX, double, f64)
FSS_ENTRY(logsumexp, OP_LOGSUMEXP, double, f64)

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
