/*
 * isa_avx2.c - kernels for AVX2 + FMA (8 floats / 4 doubles per vector).  Compiled with
 * -mavx2 -mfma; reached only when CPUID and XGETBV say the CPU and the OS support them.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "fss_internal.h"

typedef __m256 vf;
typedef __m256d vd;
#define VF_W 8
#define VD_W 4
#define FSS_FUSED 1 /* v_fma is one rounding */

/* Lane masks for the first k lanes: a window into {-1 x 8, 0 x 8}. */
static const int32_t mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

static inline __m256i mask_f32(ptrdiff_t k) { return _mm256_loadu_si256((const __m256i *)(mask32 + 8 - k)); }
static inline __m256i mask_f64(ptrdiff_t k) { return _mm256_loadu_si256((const __m256i *)(mask64 + 4 - k)); }

static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
/* non-temporal store of a full vector to a 32-byte aligned p (see FSS_STREAM_ALIGN) */
static inline void vf_stream(float *p, vf v) { _mm256_stream_ps(p, v); }
static inline void fss_stream_fence(void) { _mm_sfence(); }
#define FSS_STREAM_ALIGN 32
static inline vf vf_loadn(const float *p, ptrdiff_t k, float fill) {
    __m256i m = mask_f32(k);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
/* by pieces of 4, 2 and 1 lanes: a masked store (VMASKMOVPS) costs about 16 cycles on Zen 3 */
static inline void vf_storen(float *p, ptrdiff_t k, vf v) {
    __m128 h = _mm256_castps256_ps128(v);
    if (k & 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4;
    }
    if (k & 2) {
        _mm_storel_pi((__m64 *)p, h);
        h = _mm_movehl_ps(h, h);
        p += 2;
    }
    if (k & 1) _mm_store_ss(p, h);
}
static inline vf vf_set1(float a) { return _mm256_set1_ps(a); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fms_exact(vf a, vf b, vf p) { return _mm256_fmsub_ps(a, b, p); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
/* x where the byte w[l] is nonzero, else fill (8 bytes read) */
static inline vf vf_keep(vf x, const unsigned char *w, vf fill) {
    __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)w));
    return _mm256_blendv_ps(x, fill, _mm256_castsi256_ps(_mm256_cmpeq_epi32(b, _mm256_setzero_si256())));
}
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_round(vf v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n from the bits of n + (1.5 * 2^23 + 127): its low mantissa bits hold n + 127, which a shift by 23
 * moves into the exponent field (the 1.5 * 2^23 bits shift out). */
static inline vf vf_ldexp(vf p, vf n) {
    __m256i b = _mm256_castps_si256(_mm256_add_ps(n, _mm256_set1_ps(0x1.8p23f + 127.0f)));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(b, 23)));
}
static inline vf vf_zero_below(vf y, vf d, vf thr) { return _mm256_andnot_ps(_mm256_cmp_ps(d, thr, _CMP_LT_OQ), y); }
/* 2^(bits(j) - bits(jb)) for a bit difference in [1, 254] (a biased exponent) */
static inline vf vf_pow2_sub(vf j, vf jb) {
    __m256i e = _mm256_sub_epi32(_mm256_castps_si256(j), _mm256_castps_si256(jb));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}
/* v[i] lane l <-> v[l] lane i: an 8 x 8 transpose (unpack pairs, then quads, then 128-bit halves) */
FSS_INLINE void vf_transpose(vf *v) {
    __m256 t[8], u[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);     /* a0 b0 a1 b1 | a4 b4 a5 b5 */
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]); /* a2 b2 a3 b3 | a6 b6 a7 b7 */
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));     /* a0 b0 c0 d0 | a4 .. */
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2)); /* a1 b1 c1 d1 | a5 .. */
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}
static inline float vf_hmax(vf v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline vd vd_load(const double *p) { return _mm256_loadu_pd(p); }
static inline void vd_store(double *p, vd v) { _mm256_storeu_pd(p, v); }
static inline void vd_stream(double *p, vd v) { _mm256_stream_pd(p, v); }
static inline vd vd_loadn(const double *p, ptrdiff_t k, double fill) {
    __m256i m = mask_f64(k);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
}
static inline void vd_storen(double *p, ptrdiff_t k, vd v) {
    __m128d h = _mm256_castpd256_pd128(v);
    if (k & 2) {
        _mm_storeu_pd(p, h);
        h = _mm256_extractf128_pd(v, 1);
        p += 2;
    }
    if (k & 1) _mm_store_sd(p, h);
}
static inline vd vd_set1(double a) { return _mm256_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm256_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm256_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm256_mul_pd(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return _mm256_fmadd_pd(a, b, c); }
static inline vd vd_fms_exact(vd a, vd b, vd p) { return _mm256_fmsub_pd(a, b, p); }
static inline vd vd_div(vd a, vd b) { return _mm256_div_pd(a, b); }
static inline vd vd_keep(vd x, const unsigned char *w, vd fill) {
    int32_t bytes;
    memcpy(&bytes, w, sizeof bytes);
    __m256i b = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(bytes));
    return _mm256_blendv_pd(x, fill, _mm256_castsi256_pd(_mm256_cmpeq_epi64(b, _mm256_setzero_si256())));
}
static inline vd vd_max(vd a, vd b) { return _mm256_max_pd(a, b); }
static inline vd vd_round(vd v) { return _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* as vf_ldexp, with n + (1.5 * 2^52 + 1023) (AVX2 has no double -> int64 conversion) */
static inline vd vd_ldexp(vd p, vd n) {
    __m256i b = _mm256_castpd_si256(_mm256_add_pd(n, _mm256_set1_pd(0x1.8p52 + 1023.0)));
    return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(b, 52)));
}
static inline vd vd_zero_below(vd y, vd d, vd thr) { return _mm256_andnot_pd(_mm256_cmp_pd(d, thr, _CMP_LT_OQ), y); }
static inline vd vd_pow2_sub(vd j, vd jb) {
    __m256i e = _mm256_sub_epi64(_mm256_castpd_si256(j), _mm256_castpd_si256(jb));
    return _mm256_castsi256_pd(_mm256_slli_epi64(e, 52));
}
FSS_INLINE void vd_transpose(vd *v) {
    __m256d t0 = _mm256_unpacklo_pd(v[0], v[1]), t1 = _mm256_unpackhi_pd(v[0], v[1]); /* a0 b0 | a2 b2 */
    __m256d t2 = _mm256_unpacklo_pd(v[2], v[3]), t3 = _mm256_unpackhi_pd(v[2], v[3]);
    v[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    v[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    v[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    v[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
static inline double vd_hmax(vd v) {
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_max_sd(m, _mm_unpackhi_pd(m, m)));
}

/* float sums in double: the low and high four lanes */
typedef struct {
    vd lo, hi;
} af;
static inline vd cvt_lo(vf v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
static inline vd cvt_hi(vf v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
static inline af af_zero(void) {
    af a = {_mm256_setzero_pd(), _mm256_setzero_pd()};
    return a;
}
static inline af af_add(af a, vf y) {
    a.lo = _mm256_add_pd(a.lo, cvt_lo(y));
    a.hi = _mm256_add_pd(a.hi, cvt_hi(y));
    return a;
}
static inline void af_lanes(af a, double *out) {
    _mm256_storeu_pd(out, a.lo);
    _mm256_storeu_pd(out + 4, a.hi);
}
static inline double af_total(af a) {
    __m256d s = _mm256_add_pd(a.lo, a.hi);
    __m128d t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)));
}
/* af_total of the accumulator whose lanes are v[0..8) */
static inline double af_total_of(const double *v) {
    af a = {_mm256_loadu_pd(v), _mm256_loadu_pd(v + 4)};
    return af_total(a);
}

/* W doubles to floats (rounded to nearest) and floats to doubles (exact) */
static inline vf vf_from_d(const double *p) {
    return _mm256_set_m128(_mm256_cvtpd_ps(_mm256_loadu_pd(p + 4)), _mm256_cvtpd_ps(_mm256_loadu_pd(p)));
}
static inline void vf_to_d(double *p, vf v) {
    _mm256_storeu_pd(p, cvt_lo(v));
    _mm256_storeu_pd(p + 4, cvt_hi(v));
}
/* s = 2^e m for a positive normal s: returns m in [1, 2) (s's mantissa under exponent 0) and e in *e,
 * exactly (the exponent field shifted into the low bits of 2^52, minus 2^52 + 1023) */
static inline vd vd_frexp(vd s, vd *e) {
    const __m256i b = _mm256_castpd_si256(s), two52 = _mm256_castpd_si256(_mm256_set1_pd(0x1p52));
    *e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(b, 52), two52)),
                       _mm256_set1_pd(0x1p52 + 1023));
    const __m256i mant = _mm256_and_si256(b, _mm256_set1_epi64x(0xfffffffffffffLL));
    return _mm256_castsi256_pd(_mm256_or_si256(mant, _mm256_castpd_si256(_mm256_set1_pd(1.0))));
}

#include "accum_f64.h"

#define FSS_TABLE fss_kernels_avx2
#define FSS_ISA_NAME "avx2"
#include "kernels_all.h"
