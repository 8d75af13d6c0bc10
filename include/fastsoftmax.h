/*
 * fastsoftmax.h - the C API of fastsoftmax: softmax, log_softmax and logsumexp for float and double on
 * the CPU, SIMD (AVX-512, AVX2+FMA, NEON, scalar; chosen at run time) and OpenMP.
 *
 * Plain C99, no Python or NumPy.  Every function returns a status (FASTSOFTMAX_OK = 0) and never aborts
 * or prints.
 *
 * Shapes.  Every operation reduces a strided 3-D view (outer, n, inner) over its middle dimension: the
 * element (o, j, i) of x is x[o * xstride[0] + j * xstride[1] + i * xstride[2]] (strides in elements,
 * any sign).  A softmax over axis k of a C-contiguous array of shape (d0, ..., dN) is outer =
 * d0 * ... * d(k-1), n = dk, inner = d(k+1) * ... * dN, xstride = {n * inner, inner, 1}.  softmax and
 * log_softmax write y with the same shape and ystride[3]; logsumexp writes (outer, inner) with
 * ystride[0] and ystride[2] (ystride[1] is ignored).
 *
 * Values per slice (o, :, i), m its maximum:
 *   softmax_j = exp(x_j - m) / sum_k exp(x_k - m);  log_softmax_j = x_j - m - log(sum);
 *   logsumexp = m + log(sum).
 * Special values: any NaN gives NaN everywhere in the slice (logsumexp NaN); all -inf gives NaN
 * (logsumexp -inf); k >= 1 entries +inf (no NaN) give softmax 1/k there and 0 elsewhere, log_softmax
 * -log(k) there and -inf elsewhere, logsumexp +inf; -inf among finite entries gives exactly 0 / -inf.
 * n == 0 gives logsumexp -inf.  Finite inputs never overflow softmax or logsumexp.
 * Accuracy: float softmax within 4 * 2^-23 relative (absolute 2^-126 below 2^-126), log_softmax and
 * logsumexp within 4 * 2^-23 * max(1, |result|) absolute; double the same with 2^-52 and 2^-1022.
 *
 * Aliasing: y may be x itself with the same strides (in place).  Any other overlap of x and y is
 * undefined.  Results do not depend on the thread count (bit-identical).
 *
 * nthreads: 0 uses the library default (fastsoftmax_get_num_threads()); small problems run serially.
 *
 * Rejected with FASTSOFTMAX_EINVAL (nothing written): a null pointer where there is data to touch, a
 * negative size or thread count, a zero or self-overlapping output stride pattern (two output
 * elements at one address), and x and y whose address ranges intersect without being the same view.
 *
 * Thread safety: every function may be called from several threads at once.  fastsoftmax_set_max_isa,
 * fastsoftmax_set_isa and fastsoftmax_set_num_threads change process-wide settings atomically; calls
 * already running keep the kernels they started with.
 */
#ifndef FASTSOFTMAX_H
#define FASTSOFTMAX_H

#include <stddef.h>
#include <stdint.h>

#define FASTSOFTMAX_VERSION_MAJOR 0
#define FASTSOFTMAX_VERSION_MINOR 1
#define FASTSOFTMAX_VERSION_PATCH 0
#define FASTSOFTMAX_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    FASTSOFTMAX_OK = 0,
    FASTSOFTMAX_EINVAL = 1, /* a null pointer with data to touch, a negative size or thread count, an unknown ISA */
    FASTSOFTMAX_ENOMEM = 2, /* a per-thread scratch row (or column block) could not be allocated */
    FASTSOFTMAX_EINDEX = 3, /* a cross-entropy target outside [0, n) that is not the ignore index */
};

int fastsoftmax_softmax_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                            const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);
int fastsoftmax_log_softmax_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);
int fastsoftmax_logsumexp_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                              const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);
int fastsoftmax_softmax_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                            const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);
int fastsoftmax_log_softmax_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);
int fastsoftmax_logsumexp_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                              const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], int nthreads);

/* Contiguous rows: x and y are C-contiguous (rows, n) arrays (logsumexp: y has rows elements). */
int fastsoftmax_softmax_rows_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);
int fastsoftmax_log_softmax_rows_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);
int fastsoftmax_logsumexp_rows_f32(const float *x, float *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);
int fastsoftmax_softmax_rows_f64(const double *x, double *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);
int fastsoftmax_log_softmax_rows_f64(const double *x, double *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);
int fastsoftmax_logsumexp_rows_f64(const double *x, double *y, ptrdiff_t rows, ptrdiff_t n, int nthreads);

/*
 * Cross-entropy with integer class targets, per sample: loss[o, i] = -log_softmax(x[o, :, i])[t]
 * = logsumexp(x[o, :, i]) - x[o, t, i], with t = target[o * tstride[0] + i * tstride[1]], written to
 * loss[o * lstride[0] + i * lstride[1]].
 * A target equal to ignore_index gives loss 0; FASTSOFTMAX_NO_IGNORE ignores nothing.  Any other
 * target outside [0, n) returns FASTSOFTMAX_EINDEX, stores the flat index o * inner + i of the first
 * such sample in *bad_sample (if not NULL), and writes no loss.
 * Special values, as log_softmax: a NaN in the slice gives NaN; all -inf gives NaN; with k entries
 * +inf, log(k) if t is one of them, else +inf.  Accuracy: the log_softmax contract.
 * n == 0 with any sample not ignored is FASTSOFTMAX_EINDEX.
 */
#define FASTSOFTMAX_NO_IGNORE INT64_MIN
int fastsoftmax_cross_entropy_f32(const float *x, const int64_t *target, float *loss, ptrdiff_t outer,
                                  ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t xstride[3],
                                  const ptrdiff_t tstride[2], const ptrdiff_t lstride[2], int64_t ignore_index,
                                  ptrdiff_t *bad_sample, int nthreads);
int fastsoftmax_cross_entropy_f64(const double *x, const int64_t *target, double *loss, ptrdiff_t outer,
                                  ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t xstride[3],
                                  const ptrdiff_t tstride[2], const ptrdiff_t lstride[2], int64_t ignore_index,
                                  ptrdiff_t *bad_sample, int nthreads);
/* Contiguous (rows, n) logits, rows targets, rows losses. */
int fastsoftmax_cross_entropy_rows_f32(const float *x, const int64_t *target, float *loss, ptrdiff_t rows,
                                       ptrdiff_t n, int64_t ignore_index, ptrdiff_t *bad_sample, int nthreads);
int fastsoftmax_cross_entropy_rows_f64(const double *x, const int64_t *target, double *loss, ptrdiff_t rows,
                                       ptrdiff_t n, int64_t ignore_index, ptrdiff_t *bad_sample, int nthreads);

/*
 * Masked and scaled forms: the operation on scale * x over the entries where `where` is nonzero.
 * where: a byte mask (NumPy bool) with its own element strides wstride[3] over the same (outer, n,
 * inner) view (strides may be 0, i.e. broadcast), or NULL to keep every entry.  Masked-out entries are
 * absent: softmax writes exactly 0 there and log_softmax -inf, whatever they hold; a slice with no
 * entry kept gives 0 / -inf / -inf; the special-value rules apply to the kept entries.
 * scale: finite and > 0 (else FASTSOFTMAX_EINVAL); s * (x - max) is carried exactly, so the result has
 * the accuracy of the plain operation applied to the exact products scale * x.
 * With where == NULL and scale == 1 these are the plain functions.  The mask must not overlap y.
 */
int fastsoftmax_softmax_ex_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                               const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], const unsigned char *where,
                               const ptrdiff_t wstride[3], float scale, int nthreads);
int fastsoftmax_log_softmax_ex_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                   const ptrdiff_t xstride[3], const ptrdiff_t ystride[3],
                                   const unsigned char *where, const ptrdiff_t wstride[3], float scale,
                                   int nthreads);
int fastsoftmax_logsumexp_ex_f32(const float *x, float *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                 const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], const unsigned char *where,
                                 const ptrdiff_t wstride[3], float scale, int nthreads);
int fastsoftmax_softmax_ex_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                               const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], const unsigned char *where,
                               const ptrdiff_t wstride[3], double scale, int nthreads);
int fastsoftmax_log_softmax_ex_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                   const ptrdiff_t xstride[3], const ptrdiff_t ystride[3],
                                   const unsigned char *where, const ptrdiff_t wstride[3], double scale,
                                   int nthreads);
int fastsoftmax_logsumexp_ex_f64(const double *x, double *y, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                 const ptrdiff_t xstride[3], const ptrdiff_t ystride[3], const unsigned char *where,
                                 const ptrdiff_t wstride[3], double scale, int nthreads);

/*
 * Cross-entropy, general form, per sample (o, i) of the (outer, n, inner) logits x:
 *   loss = sum_c a_c * (-log_softmax(x)_c), a zero a_c contributing exactly 0 (as xlogy),
 * with class indices `target` (tstride over (outer, inner); prob == NULL):
 *   a_c = (1 - eps) * w[t] * [c == t] + (eps / n) * w[c]            (PyTorch's label smoothing)
 * or probabilities `prob` (pstride over (outer, n, inner); target == NULL):
 *   a_c = w[c] * ((1 - eps) * prob_c + eps / n),
 * w = weight[0..n) (contiguous) or all ones when weight == NULL, eps = label_smoothing in [0, 1].
 * Samples whose target equals ignore_index (never with FASTSOFTMAX_NO_IGNORE) get loss 0 and, if grad
 * is not NULL, a zero gradient; other targets outside [0, n) return FASTSOFTMAX_EINDEX as below.
 * grad (optional, strides gstride over (outer, n, inner)): grad_scale * (sum(a) * softmax(x) - a), the
 * gradient of grad_scale * loss.  loss and grad must not overlap each other or x, target, prob, weight.
 */
int fastsoftmax_cross_entropy_ex_f32(const float *x, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                     const ptrdiff_t xstride[3], const int64_t *target, const ptrdiff_t tstride[2],
                                     const float *prob, const ptrdiff_t pstride[3], const float *weight,
                                     int64_t ignore_index, double label_smoothing, float *loss,
                                     const ptrdiff_t lstride[2], float *grad, const ptrdiff_t gstride[3],
                                     double grad_scale, ptrdiff_t *bad_sample, int nthreads);
int fastsoftmax_cross_entropy_ex_f64(const double *x, ptrdiff_t outer, ptrdiff_t n, ptrdiff_t inner,
                                     const ptrdiff_t xstride[3], const int64_t *target, const ptrdiff_t tstride[2],
                                     const double *prob, const ptrdiff_t pstride[3], const double *weight,
                                     int64_t ignore_index, double label_smoothing, double *loss,
                                     const ptrdiff_t lstride[2], double *grad, const ptrdiff_t gstride[3],
                                     double grad_scale, ptrdiff_t *bad_sample, int nthreads);

/*
 * Backward passes over (outer, n, inner) views, y being the forward output:
 *   softmax:      dx = y * (dy - sum(dy * y))      log_softmax:  dx = dy - exp(y) * sum(dy)
 * dx may be dy or y (the same view) and must not otherwise overlap them.
 */
int fastsoftmax_softmax_backward_f32(const float *dy, const float *y, float *dx, ptrdiff_t outer, ptrdiff_t n,
                                     ptrdiff_t inner, const ptrdiff_t dystride[3], const ptrdiff_t ystride[3],
                                     const ptrdiff_t dxstride[3], int nthreads);
int fastsoftmax_log_softmax_backward_f32(const float *dy, const float *y, float *dx, ptrdiff_t outer, ptrdiff_t n,
                                         ptrdiff_t inner, const ptrdiff_t dystride[3], const ptrdiff_t ystride[3],
                                         const ptrdiff_t dxstride[3], int nthreads);
int fastsoftmax_softmax_backward_f64(const double *dy, const double *y, double *dx, ptrdiff_t outer, ptrdiff_t n,
                                     ptrdiff_t inner, const ptrdiff_t dystride[3], const ptrdiff_t ystride[3],
                                     const ptrdiff_t dxstride[3], int nthreads);
int fastsoftmax_log_softmax_backward_f64(const double *dy, const double *y, double *dx, ptrdiff_t outer,
                                         ptrdiff_t n, ptrdiff_t inner, const ptrdiff_t dystride[3],
                                         const ptrdiff_t ystride[3], const ptrdiff_t dxstride[3], int nthreads);

/* Elementwise over n contiguous elements (y may be x): sigmoid(x) = 1 / (1 + exp(-x)) and
 * log_sigmoid(x) = log(sigmoid(x)), stable for every input (log_sigmoid(-1000) = -1000). */
int fastsoftmax_sigmoid_f32(const float *x, float *y, ptrdiff_t n, int nthreads);
int fastsoftmax_log_sigmoid_f32(const float *x, float *y, ptrdiff_t n, int nthreads);
int fastsoftmax_sigmoid_f64(const double *x, double *y, ptrdiff_t n, int nthreads);
int fastsoftmax_log_sigmoid_f64(const double *x, double *y, ptrdiff_t n, int nthreads);

/* ISA: "scalar", "avx2", "avx512" (x86-64) or "neon" (AArch64). */
const char *fastsoftmax_isa(void);                   /* the ISA the next call will use */
int fastsoftmax_isa_available(const char *name);     /* 1 if compiled in and supported by CPU and OS */
int fastsoftmax_isa_compiled(const char *name);      /* 1 if compiled in */
const char *fastsoftmax_isa_name(int i);             /* i-th ISA of this architecture, by rank; NULL past the end */
int fastsoftmax_set_max_isa(const char *name);       /* use the best available ISA ranked <= name */
int fastsoftmax_set_isa(const char *name);           /* use exactly this ISA (EINVAL if unavailable) */
const char *fastsoftmax_last_isa(void);              /* the ISA of the most recent call (diagnostics) */

int fastsoftmax_get_num_threads(void);
int fastsoftmax_set_num_threads(int n); /* n >= 1 */
int fastsoftmax_has_openmp(void);       /* the _OPENMP date of the build, 0 without OpenMP */
const char *fastsoftmax_compiler(void);
const char *fastsoftmax_version(void);

/* Diagnostics: the bare SIMD exp of the active ISA, valid on [-87.33, 0] (float) / [-708.39, 0] (double). */
int fastsoftmax_exp_f32(const float *x, float *y, ptrdiff_t n);
int fastsoftmax_exp_f64(const double *x, double *y, ptrdiff_t n);

#ifdef __cplusplus
}
#endif

#endif /* FASTSOFTMAX_H */
