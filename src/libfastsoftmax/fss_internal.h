/*
 * fss_internal.h - what the driver and the per-ISA kernel files share.
 *
 * Design rules of the C core:
 *  - Kernels know nothing of Python or of threads.  They work on one contiguous row, or on one block of
 *    up to FSS_COL_BLOCK contiguous lanes strided along the reduced dimension ("columns").
 *  - Each ISA file (isa_scalar.c, isa_avx2.c, isa_avx512.c, isa_neon.c) is compiled with its own target
 *    flags, defines a handful of vector primitives and includes kernels_template.h.  Everything in it is
 *    static except its kernel table, so no AVX-512 instruction can leak into a generic code path.
 *  - The driver (driver.c) maps a strided (outer, n, inner) problem onto the kernels, runs OpenMP over
 *    independent tasks, and never lets the task split change a result: results are bit-identical
 *    whatever the thread count.
 *  - A row whose maximum is not finite (NaN, +inf or -inf) needs no exp at all; it is handled by the
 *    scalar routines below, shared by every ISA, before anything is written (so in-place calls work).
 */
#ifndef FSS_INTERNAL_H
#define FSS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define FSS_INLINE static inline __attribute__((always_inline))
#define FSS_UNROLL _Pragma("GCC unroll 16") /* the loop that follows: fully, for a constant count */
#else
#define FSS_INLINE static __forceinline
#define FSS_UNROLL
#endif

/* Unscaled rows of more than four vectors and at most this many bytes go through the row kernels two at
 * a time (row_pair; shorter float32 rows four at a time, row_quad); longer ones one after another with
 * their passes fused (rows_seq).  See driver.c. */
#define FSS_PAIR_ROW_BYTES 8192

/* Float32 rows of at most these many bytes go four at a time (row_quad): log_softmax and logsumexp, whose
 * serial steps per row (the max's reduction, the sum's total, its log in double, the split of m + log)
 * weigh most, and softmax's shorter rows.  C microbenchmark of the rows API, one thread, batches in L2,
 * against pairs: AVX-512 log_softmax 12-15% faster on rows of 80 and 128, 9-10% on 256, 6-9% on 512,
 * 4-5% slower on 1000; logsumexp 6-10%, 9-10%, 5-6%; softmax 4-8% faster on 80 and 128, 3-5% slower on
 * 256; AVX2 log_softmax 8-13% faster up to 256.  Float64 rows gained nothing (within 3%). */
#define FSS_QUAD_ROW_BYTES 2048
#define FSS_QUAD_SOFTMAX_ROW_BYTES 512

/* Lanes of one column block: a multiple of every vector width, small enough that the per-lane max and
 * sums (FSS_COL_BLOCK floats + 2 * FSS_COL_BLOCK doubles) stay in L1 next to the data. */
#define FSS_COL_BLOCK 128

/* Lanes per column block for slices of n elements of `size` bytes: FSS_COL_BLOCK, or, where a block of
 * 32 lanes (a multiple of every vector width) would take at most 128 KiB of input, the widest such block
 * (halving FSS_COL_BLOCK): a block's input and output then stay in L2 through the kernels' three passes.
 * (1000, 256) float32 over axis 0: 32 lanes.  Each lane's result does not depend on the width. */
#define FSS_COL_L2_BYTES ((size_t)128 << 10)
static inline ptrdiff_t fss_col_block(ptrdiff_t n, size_t size) {
    ptrdiff_t cb = FSS_COL_BLOCK;
    if ((size_t)n * 32 * size <= FSS_COL_L2_BYTES)
        while ((size_t)n * (size_t)cb * size > FSS_COL_L2_BYTES) cb /= 2;
    return cb;
}

/* The largest power of two dividing a stride (in bytes: stride * size), at most 64 KiB: addresses 64 KiB
 * apart share a set of a 512 KiB 8-way L2 (Zen 3, 4), and of the L1 many times over. */
static inline size_t fss_stride_align(ptrdiff_t stride, size_t size) {
    size_t b = (size_t)(stride < 0 ? -stride : stride) * size, low = b & (~b + 1);
    return b == 0 || low > ((size_t)64 << 10) ? (size_t)64 << 10 : low;
}

/* Cache lines per set of a 4 KiB-span L1 (64 sets of 64 bytes: 32 KiB 8-way and 48 KiB 12-way alike)
 * taken by n rows of `bytes` bytes, a stride whose largest power-of-two factor is `align` apart, where
 * they crowd into fewer than all sets (rows a multiple of 4 KiB apart all fall into the same few); 0
 * where they spread over all sets, and only a smaller block, not a copy, would keep them in the L1. */
static inline size_t fss_l1_crowding(ptrdiff_t n, size_t bytes, size_t align) {
    const size_t lines = (bytes + 63) / 64, span = (size_t)4 << 10;
    const size_t sets = lines * (span / (align < span ? (align < 64 ? 64 : align) : span));
    return sets < 64 ? (size_t)n * lines / sets : 0;
}

/* Whether the column blocks of a call, cb lanes wide, can be computed in a dense copy (the thread's
 * scratch, n * cb elements, rows cb apart), read once from x and written once to y, rather than where
 * they lie.  The kernels take three passes over a block; a copy pays where the block's rows, a multiple
 * of a power of two apart, share few cache sets and evict each other between passes:
 * - in L2, for long slices (n > 64): rows 1 KiB apart put every 64th row of x and of y in one 8-way set
 *   of a 512 KiB L2 (Zen 3, 4), so that a block of 128 KiB no longer stays there;
 * - in L1, for any n, where the rows of x (or of y) alone would take more than 12 lines of one set (rows
 *   16 KiB apart: (16, 21, 4096) over axis 1 ran 1.2-1.7x faster copied, (16, 64, 1024) 2.1-5.3x, on
 *   Zen 5), but not where they spread over all sets and only a smaller block would help ((16, 200, 4000)
 *   ran 0.8x copied), nor for x and y together (float64 (256, 10, 512), 10 lines each, ran 0.75x).
 * In either case the copy is at most BUDGET bytes. */
static inline int fss_col_pack(ptrdiff_t n, ptrdiff_t xs, ptrdiff_t ys, ptrdiff_t cb, size_t size, size_t budget) {
    const size_t span = (size_t)64 << 10, ax = fss_stride_align(xs, size), ay = ys ? fss_stride_align(ys, size) : 0;
    if ((size_t)n * (size_t)cb * size > budget) return 0;
    if (n > 64 && (size_t)n * (ax + ay) > 8 * span) return 1;
    const size_t row = (size_t)cb * size;
    return fss_l1_crowding(n, row, ax) > 12 || (ys && fss_l1_crowding(n, row, ay) > 12);
}

/* A slice too long for a block of 32 lanes in FSS_COL_L2_BYTES (fss_col_block leaves its blocks
 * FSS_COL_BLOCK wide, and their three passes then run from L3 or memory) is packed in blocks of the
 * widest rows of 256, 128 or 64 bytes (64, 32 or 16 float32) that keep a block within
 * FSS_COL_PACK_BYTES: where its rows share few cache sets (fss_col_pack), or, when a result is written,
 * where a block in place would exceed FSS_COL_PACK_BYTES.  C microbenchmark, one thread, float32,
 * against the layout before (blocks of 16 lanes where the rows share few sets, in place otherwise):
 * over axis 0, (2000, 1024) takes 64 lanes, softmax 2.07x faster, log_softmax 1.85x, logsumexp 1.47x;
 * (8192, 256) 32 lanes, 1.1-2.1x; (4096, 1000) 64 lanes, softmax 1.47x, log_softmax 1.28x (logsumexp,
 * which only reads, ran 0.78x packed and stays in place); float64 (4096, 512) 32 lanes, 1.6-2.8x.
 * Rows of 64 bytes lost to 128 and 256 throughout, and (2000, 1000), 1000 KB in place, ran 0.77x
 * packed. */
#define FSS_COL_PACK_ROW 256
#define FSS_COL_PACK_BYTES ((size_t)1 << 20)

static inline ptrdiff_t fss_col_pack_lanes(ptrdiff_t n, size_t size) {
    size_t row = FSS_COL_PACK_ROW;
    while (row > 64 && (size_t)n * row > FSS_COL_PACK_BYTES) row /= 2;
    return (ptrdiff_t)(row / size);
}

/* The column layout of a call: lanes per block (*cb), and whether each block is computed in a dense
 * copy (the return value; see fss_col_pack).  ys = 0: no result is written along the slices
 * (logsumexp). */
static inline int fss_col_layout(ptrdiff_t n, ptrdiff_t xs, ptrdiff_t ys, size_t size, ptrdiff_t *cb) {
    *cb = fss_col_block(n, size);
    if (fss_col_pack(n, xs, ys, *cb, size, FSS_COL_L2_BYTES)) return 1;
    const size_t block = (size_t)n * (size_t)*cb * size;
    if (block <= FSS_COL_L2_BYTES) return 0;
    const ptrdiff_t lanes = fss_col_pack_lanes(n, size);
    if ((size_t)n * (size_t)lanes * size > FSS_COL_PACK_BYTES) return 0;
    if (fss_col_pack(n, xs, ys, lanes, size, FSS_COL_PACK_BYTES) || (ys && block > FSS_COL_PACK_BYTES)) {
        *cb = lanes;
        return 1;
    }
    return 0;
}

/* The three operations. */
enum { FSS_OP_SOFTMAX, FSS_OP_LOG_SOFTMAX, FSS_OP_LOGSUMEXP };

typedef struct fss_kernels {
    const char *name;
    /* Contiguous rows of n >= 1 elements; y may equal x (in place). */
    void (*softmax_f32)(const float *x, float *y, ptrdiff_t n);
    void (*log_softmax_f32)(const float *x, float *y, ptrdiff_t n);
    float (*logsumexp_f32)(const float *x, ptrdiff_t n);
    void (*softmax_f64)(const double *x, double *y, ptrdiff_t n);
    void (*log_softmax_f64)(const double *x, double *y, ptrdiff_t n);
    double (*logsumexp_f64)(const double *x, ptrdiff_t n);
    /* One row of op (any n >= 1), as the row kernels, with the next row `next` (or NULL) prefetched and,
     * given a scratch row buf of n elements, the result written by non-temporal stores; else with pf, y
     * prefetched for writing.  Neither changes a bit. */
    void (*row_f32)(int op, const float *x, float *y, ptrdiff_t n, const float *next, float *buf, int pf);
    void (*row_f64)(int op, const double *x, double *y, ptrdiff_t n, const double *next, double *buf, int pf);
    /* Operation op (FSS_OP_*) on `rows` contiguous rows of n elements, xs and ys apart (logsumexp: one
     * result per row); rows of up to four vectors go W at a time, transposed so that each row is a lane
     * (the rest two at a time), longer rows of x (s = 1) four at a time up to FSS_QUAD_ROW_BYTES (float32
     * only; softmax up to FSS_QUAD_SOFTMAX_ROW_BYTES), two at a time up to FSS_PAIR_ROW_BYTES, and
     * beyond it one after another (with 512-bit vectors each row's exp pass fused with the next row's
     * max pass).  Same bits as the row kernels row by row.  On s * x (s > 0 finite; 1: plain).  pf as
     * for the row kernels (prefetch the output for writing). */
    void (*rows_f32)(int op, const float *x, ptrdiff_t xs, float *y, ptrdiff_t ys, ptrdiff_t rows, ptrdiff_t n,
                     float s, int pf);
    void (*rows_f64)(int op, const double *x, ptrdiff_t xs, double *y, ptrdiff_t ys, ptrdiff_t rows, ptrdiff_t n,
                     double s, int pf);
    /* Columns: w (1..FSS_COL_BLOCK) contiguous lanes, n >= 1 rows, row strides xs and ys in elements, of
     * s * x (s > 0 finite; 1: plain).  For logsumexp the w results go to y[0..w). y may equal x.  Given
     * b (n * w elements, apart from x and y), the block is computed in a dense copy there (fss_col_pack),
     * made by the first pass over x; NULL: where it lies.  The same bits either way. */
    void (*softmax_cols_f32)(const float *x, ptrdiff_t xs, float *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t w,
                             float s, float *b);
    void (*log_softmax_cols_f32)(const float *x, ptrdiff_t xs, float *y, ptrdiff_t ys, ptrdiff_t n,
                                 ptrdiff_t w, float s, float *b);
    void (*logsumexp_cols_f32)(const float *x, ptrdiff_t xs, float *y, ptrdiff_t n, ptrdiff_t w, float s,
                               float *b);
    void (*softmax_cols_f64)(const double *x, ptrdiff_t xs, double *y, ptrdiff_t ys, ptrdiff_t n,
                             ptrdiff_t w, double s, double *b);
    void (*log_softmax_cols_f64)(const double *x, ptrdiff_t xs, double *y, ptrdiff_t ys, ptrdiff_t n,
                                 ptrdiff_t w, double s, double *b);
    void (*logsumexp_cols_f64)(const double *x, ptrdiff_t xs, double *y, ptrdiff_t n, ptrdiff_t w, double s,
                               double *b);
    /* Building blocks of a row (n >= 1, m finite): its maximum; sum(exp(x - m)) in double, also
     * storing y = exp(x - m) (expsum: the sum to within 2 units of roundoff, enough for 1/sum; expsum_lse:
     * as sumexp's, every term unrounded, for a log of the sum); y *= c (scale); y = (x - m) - L (logsub). */
    double (*expsum_lse_f32)(const float *x, float *y, ptrdiff_t n, float m);
    double (*expsum_lse_f64)(const double *x, double *y, ptrdiff_t n, double m);
    float (*rmax_f32)(const float *x, ptrdiff_t n);
    double (*sumexp_f32)(const float *x, ptrdiff_t n, float m);
    double (*expsum_f32)(const float *x, float *y, ptrdiff_t n, float m);
    void (*scale_f32)(float *y, ptrdiff_t n, float c);
    void (*logsub_f32)(const float *x, float *y, ptrdiff_t n, float m, double L);
    double (*rmax_f64)(const double *x, ptrdiff_t n);
    double (*sumexp_f64)(const double *x, ptrdiff_t n, double m);
    double (*expsum_f64)(const double *x, double *y, ptrdiff_t n, double m);
    void (*scale_f64)(double *y, ptrdiff_t n, double c);
    void (*logsub_f64)(const double *x, double *y, ptrdiff_t n, double m, double L);
    /* The same on s * x, s > 0 finite (m is still the max of x): sum(exp(s (x - m))), also storing the
     * terms (expsum_s); y = s (x - m) - L (logsub_s). */
    double (*sumexp_s_f32)(const float *x, ptrdiff_t n, float m, float s);
    double (*expsum_s_f32)(const float *x, float *y, ptrdiff_t n, float m, float s);
    void (*logsub_s_f32)(const float *x, float *y, ptrdiff_t n, float m, float s, double L);
    double (*sumexp_s_f64)(const double *x, ptrdiff_t n, double m, double s);
    double (*expsum_s_f64)(const double *x, double *y, ptrdiff_t n, double m, double s);
    void (*logsub_s_f64)(const double *x, double *y, ptrdiff_t n, double m, double s, double L);
    /* y = w ? x : fill, w a byte mask (masked softmax's gather and scatter); y may be x. */
    void (*keep_f32)(const float *x, const unsigned char *w, float *y, ptrdiff_t n, float fill);
    void (*keep_f64)(const double *x, const unsigned char *w, double *y, ptrdiff_t n, double fill);
    /* Cross-entropy terms: sum(b (m - x)) (b NULL: all ones), a zero b_c contributing 0 even at x_c = -inf.
     * Backward passes: sum(a b) and sum(a) in double; dx = y (dy - c) (softmax_bwd); dx = dy - exp(y) c
     * for y <= 0 (log_softmax_bwd).  dx may be dy or y. */
    double (*lsub_dot_f32)(const float *x, const float *b, ptrdiff_t n, float m);
    double (*lsub_dot_f64)(const double *x, const double *b, ptrdiff_t n, double m);
    double (*dot_f32)(const float *a, const float *b, ptrdiff_t n);
    double (*sum_f32)(const float *a, ptrdiff_t n);
    void (*softmax_bwd_f32)(const float *dy, const float *y, float *dx, ptrdiff_t n, float c);
    void (*log_softmax_bwd_f32)(const float *dy, const float *y, float *dx, ptrdiff_t n, float c);
    double (*dot_f64)(const double *a, const double *b, ptrdiff_t n);
    double (*sum_f64)(const double *a, ptrdiff_t n);
    void (*softmax_bwd_f64)(const double *dy, const double *y, double *dx, ptrdiff_t n, double c);
    void (*log_softmax_bwd_f64)(const double *dy, const double *y, double *dx, ptrdiff_t n, double c);
    /* Elementwise sigmoid and log_sigmoid; y may be x. */
    void (*sigmoid_f32)(const float *x, float *y, ptrdiff_t n);
    void (*log_sigmoid_f32)(const float *x, float *y, ptrdiff_t n);
    void (*sigmoid_f64)(const double *x, double *y, ptrdiff_t n);
    void (*log_sigmoid_f64)(const double *x, double *y, ptrdiff_t n);
    /* The bare exp approximation, y = exp(x), for x in [-87.3, 0] (f32) or [-708.3, 0] (f64).
     * Exposed for the accuracy tests. */
    void (*exp_f32)(const float *x, float *y, ptrdiff_t n);
    void (*exp_f64)(const double *x, double *y, ptrdiff_t n);
} fss_kernels;

extern const fss_kernels fss_kernels_scalar;
#if defined(FSS_HAVE_AVX2)
extern const fss_kernels fss_kernels_avx2;
#endif
#if defined(FSS_HAVE_AVX512)
extern const fss_kernels fss_kernels_avx512;
#endif
#if defined(FSS_HAVE_NEON)
extern const fss_kernels fss_kernels_neon;
#endif

/* The kernel table in use (dispatch.c). */
const fss_kernels *fss_active_kernels(void);

/*
 * Slices whose maximum is not finite.  With m = +inf and no NaN the result is the limit of the finite
 * case: the k entries equal to +inf share the mass.  Any NaN, or all entries -inf, gives NaN (logsumexp
 * of all -inf is -inf).  x and y have strides xs, ys (elements); y may equal x.
 */
#define FSS_DEFINE_SPECIAL(T, SUFFIX)                                                                   \
    static inline void fss_special_count_##SUFFIX(const T *x, ptrdiff_t xs, ptrdiff_t n, int *has_nan, \
                                                  ptrdiff_t *k) {                                       \
        *has_nan = 0;                                                                                   \
        *k = 0;                                                                                         \
        for (ptrdiff_t i = 0; i < n; i++) {                                                             \
            T v = x[i * xs];                                                                            \
            if (v != v) *has_nan = 1;                                                                   \
            else if (v == (T)INFINITY) (*k)++;                                                          \
        }                                                                                               \
    }                                                                                                   \
    static inline void fss_special_softmax_##SUFFIX(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys,       \
                                                    ptrdiff_t n) {                                      \
        int has_nan;                                                                                    \
        ptrdiff_t k;                                                                                    \
        fss_special_count_##SUFFIX(x, xs, n, &has_nan, &k);                                             \
        T share = (has_nan || k == 0) ? (T)NAN : (T)(1.0 / (double)k);                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                                             \
            T v = x[i * xs];                                                                            \
            y[i * ys] = (has_nan || k == 0 || v == (T)INFINITY) ? share : (T)0;                         \
        }                                                                                               \
    }                                                                                                   \
    static inline void fss_special_log_softmax_##SUFFIX(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys,   \
                                                        ptrdiff_t n) {                                  \
        int has_nan;                                                                                    \
        ptrdiff_t k;                                                                                    \
        fss_special_count_##SUFFIX(x, xs, n, &has_nan, &k);                                             \
        T share = (has_nan || k == 0) ? (T)NAN : (T)(-log((double)k));                                  \
        for (ptrdiff_t i = 0; i < n; i++) {                                                             \
            T v = x[i * xs];                                                                            \
            y[i * ys] = (has_nan || k == 0 || v == (T)INFINITY) ? share : (T)-INFINITY;                 \
        }                                                                                               \
    }                                                                                                   \
    static inline T fss_special_logsumexp_##SUFFIX(const T *x, ptrdiff_t xs, ptrdiff_t n) {             \
        int has_nan;                                                                                    \
        ptrdiff_t k;                                                                                    \
        fss_special_count_##SUFFIX(x, xs, n, &has_nan, &k);                                             \
        if (has_nan) return (T)NAN;                                                                     \
        return k ? (T)INFINITY : (T)-INFINITY;                                                          \
    }

FSS_DEFINE_SPECIAL(float, f32)
FSS_DEFINE_SPECIAL(double, f64)

/* *s + *c += v, compensated: s = fl(s + v), its exact rounding error (TwoSum) added to c.  The one-lane
 * form of ad_add (accum_f64.h), bit for bit. */
static inline void fss_sum2_add(double *s, double *c, double v) {
    const double t = *s + v, bv = t - *s;
    *c = *c + ((*s - (t - bv)) + (v - bv));
    *s = t;
}

/*
 * log(s) of a sum of exp terms (s >= 1: its largest term is exactly 1), the same bits in the scalar form
 * here (every caller of one sum) and in the vector form of kernels_template.h (log_lanes: W sums at once):
 * both are the same sequence of IEEE operations, with no fused multiply-add.
 *   s = 2^k u, u in [sqrt(1/2), sqrt(2)) (fss_log_split, on the bits);  f = u - 1 (exact);
 *   log(u) = log1p(f) = 2 atanh(t), t = f / (2 + f), |t| <= 0.172;
 *   2 atanh(t) = 2 t + t R(t^2), R(z) = sum_k 2 z^k / (2k + 1), summed to k = 10 for float64 results
 *   (the rest is below 2^-60 relative) and to k = 5 for float32 ones (the rest, t^12 / 13 of the log
 *   relative, is below 2^-34, 1/1000 of a float32 ulp); with 2 t = f - t f:  log1p(f) = f - t (f - R),
 * so the leading term f is exact and the rounding of t or R only touches a correction of f^2 / 2;
 * log(s) = h + (e - (t (f - R) - k LN2_LO)), with h + e = k LN2_HI + f exactly (|f| < LN2_HI: Fast2Sum),
 * so that only the last addition rounds at the scale of the result.  Measured error: see the README.
 * Zero, subnormal, infinite and NaN s (and negatives) go to libm's log.
 */
#define FSS_LOG_LN2_HI 0x1.62e42feep-1 /* 32 trailing zero bits: k LN2_HI is exact for |k| < 2^21 */
#define FSS_LOG_LN2_LO 0x1.a39ef35793c76p-33

/* s as 2^k u (returns 0, and nothing, for s not normal and finite) */
static inline int fss_log_split(double s, double *k, double *u) {
    if (!(s >= 0x1p-1022 && s <= 0x1.fffffffffffffp+1023)) return 0;
    uint64_t b;
    memcpy(&b, &s, sizeof b);
    const uint64_t mant = b & 0xfffffffffffffULL;
    const uint64_t big = mant >= 0x6a09e667f3bcdULL; /* u >= sqrt(2) rounded down: then u / 2 (no branch) */
    const uint64_t ub = mant | ((0x3ffULL - big) << 52);
    double v;
    memcpy(&v, &ub, sizeof v);
    *k = (double)((int64_t)(b >> 52) - 1023 + (int64_t)big);
    *u = v;
    return 1;
}

/* R(z) = z P(z), P(z) = sum_{k<10} 2 z^k / (2k + 3), by Estrin's scheme: pairs c + c' z, joined by z^2,
 * z^4 and z^8, so that the dependency chain is 5 multiplications and 4 additions long instead of
 * Horner's 20 steps (log_lanes runs W lanes of it per vector of columns, where its latency showed).
 * Every term is positive (z >= 0): no cancellation.  Mul then add, identical in any vector width.
 * FSS_LOG_R_f32 is the same to k = 5 (z^4 joins the last coefficient): 11 operations instead of 24, for
 * float32's logs ((256, 10, 512) over axis 1 and (65536, 10): their log takes a vector of lanes). */
#define FSS_LOG_R_f32(MUL, ADD, SET, z)                                                                 \
    MUL(z, ADD(ADD(ADD(SET(2.0 / 3), MUL(SET(2.0 / 5), z)), MUL(ADD(SET(2.0 / 7), MUL(SET(2.0 / 9), z)),  \
        MUL(z, z))), MUL(SET(2.0 / 11), MUL(MUL(z, z), MUL(z, z)))))
#define FSS_LOG_R_f64(MUL, ADD, SET, z)                                                                 \
    MUL(z, ADD(ADD(ADD(SET(2.0 / 3), MUL(SET(2.0 / 5), z)), MUL(ADD(SET(2.0 / 7), MUL(SET(2.0 / 9), z)),  \
        MUL(z, z))), ADD(MUL(ADD(ADD(SET(2.0 / 11), MUL(SET(2.0 / 13), z)), MUL(ADD(SET(2.0 / 15),          \
        MUL(SET(2.0 / 17), z)), MUL(z, z))), MUL(MUL(z, z), MUL(z, z))), MUL(ADD(SET(2.0 / 19),             \
        MUL(SET(2.0 / 21), z)), MUL(MUL(MUL(z, z), MUL(z, z)), MUL(MUL(z, z), MUL(z, z)))))))

static inline double fss_log_mul(double a, double b) { return a * b; }
static inline double fss_log_add(double a, double b) { return a + b; }
static inline double fss_log_set(double a) { return a; }

/* log(s) for float32 results (F32) or float64 ones: fss_log_sum_f32 and _f64, which the kernels of
 * each type call as SFX(fss_log_sum). */
static inline double fss_log_sum_any(double s, const int f32) {
    double k, u;
    if (!fss_log_split(s, &k, &u)) return log(s);
    const double f = u - 1.0, t = f / (2.0 + f), z = t * t;
    const double R = f32 ? FSS_LOG_R_f32(fss_log_mul, fss_log_add, fss_log_set, z)
                         : FSS_LOG_R_f64(fss_log_mul, fss_log_add, fss_log_set, z);
    const double kh = k * FSS_LOG_LN2_HI, h = kh + f, e = (kh - h) + f;
    return h + (e - (t * (f - R) - k * FSS_LOG_LN2_LO));
}
static inline double fss_log_sum_f32(double s) { return fss_log_sum_any(s, 1); }
static inline double fss_log_sum_f64(double s) { return fss_log_sum_any(s, 0); }

/* logsumexp of s * x from its max m and L = log(sum(exp(s (x - m)))): s m + L with s m exact (the product
 * of two floats fits a double; for doubles, p + q = s m by a fused multiply-add).  s = 1 gives m + L. */
static inline float fss_lse_scaled_f32(float m, float s, double L) { return (float)((double)s * (double)m + L); }
static inline double fss_lse_scaled_f64(double m, double s, double L) {
    double p = s * m, q = fma(s, m, -p);
    return isinf(p) ? p + L : p + (q + L); /* s m beyond the range: so is the result (or NaN) */
}

#endif /* FSS_INTERNAL_H */
