/*
 * isa_avx512.c - kernels for AVX-512 F+DQ+BW+VL (16 floats / 8 doubles per vector).  Compiled with
 * -mavx512f -mavx512dq -mavx512bw -mavx512vl (and AVX2/FMA); reached only when CPUID says the CPU has
 * all four and XGETBV says the OS saves the opmask and ZMM state.  Tails use mask registers; 2^n uses
 * vscalefps (float32 exp: a 16-entry table in one register, vpermd); rounding uses vrndscaleps.
 *
 * FSS_EMULATE_AVX512 (tests only, never in the package build): take the intrinsics from SIMDe's portable
 * implementation, so that this file's logic is tested on CPUs without AVX-512 (tests/c/).
 */
#if defined(FSS_EMULATE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include "avx512_emulation.h"
#else
#include <immintrin.h>
#endif
#include <stdint.h>

#include "fss_internal.h"

typedef __m512 vf;
typedef __m512d vd;
#define VF_W 16
#define VD_W 8
#define FSS_FUSED 1 /* v_fma is one rounding */
#define FSS_ROUND_SCALE 1 /* v_round and v_ldexp are one instruction each (vrndscale, vscalef): expx uses them */

static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
/* non-temporal store of a full vector to a 64-byte aligned p (see FSS_STREAM_ALIGN) */
static inline void vf_stream(float *p, vf v) { _mm512_stream_ps(p, v); }
static inline void fss_stream_fence(void) { _mm_sfence(); }
#define FSS_STREAM_ALIGN 64
static inline vf vf_loadn(const float *p, ptrdiff_t k, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << k) - 1u), p);
}
static inline void vf_storen(float *p, ptrdiff_t k, vf v) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << k) - 1u), v); }
static inline vf vf_set1(float a) { return _mm512_set1_ps(a); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_fms_exact(vf a, vf b, vf p) { return _mm512_fmsub_ps(a, b, p); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
/* x where the byte w[l] is nonzero, else fill (16 bytes read) */
static inline vf vf_keep(vf x, const unsigned char *w, vf fill) {
    __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)w));
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(b, b), fill, x);
}
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_round(vf v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
#define FSS_EXP_LUT 1 /* float32 exp by a 16-entry table of 2^(i/16) and a degree-3 polynomial */
static inline vf vf_round16(vf v) { return _mm512_roundscale_ps(v, (4 << 4) | _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* The bits of 2^(i/16), rounded to nearest, minus i << 19: see vf_exp2_16ths. */
static const uint32_t fss_exp2_16ths[16] __attribute__((aligned(64))) = {
    0x3f800000, 0x3f7daac3, 0x3f7b95c2, 0x3f79c3d3, 0x3f7837f0, 0x3f76f532, 0x3f75fed7, 0x3f75583f,
    0x3f7504f3, 0x3f7508a4, 0x3f75672a, 0x3f76248c, 0x3f7744fd, 0x3f78ccdf, 0x3f7ac0c7, 0x3f7d257d,
};
/* 2^n for n a multiple of 1/16 in [-126, 128): j = n + 1.5 2^19 is exact, and its bits are those of
 * 1.5 2^19 (whose low 13 bits are 0) plus 16 n.  One permute picks entry 16 n mod 16 (by the low 4 bits
 * of each lane), and adding j's bits shifted left by 19 adds 16 n << 19 = (floor(n) << 23) + (i << 19)
 * to it, i.e. floor(n) to the exponent of 2^(i/16). */
static inline vf vf_exp2_16ths(vf n) {
    const __m512i j = _mm512_castps_si512(_mm512_add_ps(n, _mm512_set1_ps(0x1.8p19f)));
    const __m512i t = _mm512_permutexvar_epi32(j, _mm512_load_si512(fss_exp2_16ths));
    return _mm512_castsi512_ps(_mm512_add_epi32(t, _mm512_slli_epi32(j, 19)));
}
static inline vf vf_ldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }
static inline vf vf_zero_below(vf y, vf d, vf thr) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(d, thr, _CMP_NLT_UQ), y);
}
static inline vf vf_pow2_sub(vf j, vf jb) {
    __m512i e = _mm512_sub_epi32(_mm512_castps_si512(j), _mm512_castps_si512(jb));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
}
/* The 4 x 4 transpose of the 128-bit lanes of a, b, c, d (any element type, as floats) */
FSS_INLINE void lanes4_transpose(__m512 a, __m512 b, __m512 c, __m512 d, __m512 *r0, __m512 *r1, __m512 *r2,
                                 __m512 *r3) {
    __m512 s0 = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)); /* a0 a1 b0 b1 */
    __m512 s1 = _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)); /* a2 a3 b2 b3 */
    __m512 s2 = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0));
    __m512 s3 = _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2));
    *r0 = _mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 b0 c0 d0 */
    *r1 = _mm512_shuffle_f32x4(s0, s2, _MM_SHUFFLE(3, 1, 3, 1));
    *r2 = _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(2, 0, 2, 0));
    *r3 = _mm512_shuffle_f32x4(s1, s3, _MM_SHUFFLE(3, 1, 3, 1));
}

/* v[i] lane l <-> v[l] lane i, 16 x 16: unpack pairs and quads within 128-bit lanes, then a 4 x 4
 * transpose of the 128-bit lanes of each quad of rows */
FSS_INLINE void vf_transpose(vf *v) {
    __m512 t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);     /* per 128-bit lane q: a4q b4q a4q+1 b4q+1 */
        t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]); /* a4q+2 b4q+2 a4q+3 b4q+3 */
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) { /* u[i + c], lane q: rows i..i+3 of column 4q + c */
        u[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) lanes4_transpose(u[c], u[4 + c], u[8 + c], u[12 + c], &v[c], &v[4 + c], &v[8 + c], &v[12 + c]);
}
static inline float vf_hmax(vf v) { return _mm512_reduce_max_ps(v); }

static inline vd vd_load(const double *p) { return _mm512_loadu_pd(p); }
static inline void vd_store(double *p, vd v) { _mm512_storeu_pd(p, v); }
static inline void vd_stream(double *p, vd v) { _mm512_stream_pd(p, v); }
static inline vd vd_loadn(const double *p, ptrdiff_t k, double fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << k) - 1u), p);
}
static inline void vd_storen(double *p, ptrdiff_t k, vd v) { _mm512_mask_storeu_pd(p, (__mmask8)((1u << k) - 1u), v); }
static inline vd vd_set1(double a) { return _mm512_set1_pd(a); }
static inline vd vd_add(vd a, vd b) { return _mm512_add_pd(a, b); }
static inline vd vd_sub(vd a, vd b) { return _mm512_sub_pd(a, b); }
static inline vd vd_mul(vd a, vd b) { return _mm512_mul_pd(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return _mm512_fmadd_pd(a, b, c); }
static inline vd vd_fms_exact(vd a, vd b, vd p) { return _mm512_fmsub_pd(a, b, p); }
static inline vd vd_div(vd a, vd b) { return _mm512_div_pd(a, b); }
static inline vd vd_keep(vd x, const unsigned char *w, vd fill) {
    __m512i b = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)w));
    return _mm512_mask_blend_pd(_mm512_test_epi64_mask(b, b), fill, x);
}
static inline vd vd_max(vd a, vd b) { return _mm512_max_pd(a, b); }
static inline vd vd_round(vd v) { return _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vd vd_ldexp(vd p, vd n) { return _mm512_scalef_pd(p, n); }
static inline vd vd_zero_below(vd y, vd d, vd thr) {
    return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(d, thr, _CMP_NLT_UQ), y);
}
static inline vd vd_pow2_sub(vd j, vd jb) {
    __m512i e = _mm512_sub_epi64(_mm512_castpd_si512(j), _mm512_castpd_si512(jb));
    return _mm512_castsi512_pd(_mm512_slli_epi64(e, 52));
}
/* 8 x 8: unpack pairs within 128-bit lanes, then a 4 x 4 transpose of 128-bit lanes */
FSS_INLINE void vd_transpose(vd *v) {
    __m512 t[8], r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) { /* t[i + c], lane q: rows i, i+1 of column 2q + c */
        t[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(v[i], v[i + 1]));
        t[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(v[i], v[i + 1]));
    }
#pragma GCC unroll 2
    for (int c = 0; c < 2; c++) lanes4_transpose(t[c], t[2 + c], t[4 + c], t[6 + c], &r[c], &r[2 + c], &r[4 + c], &r[6 + c]);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) v[i] = _mm512_castps_pd(r[i]);
}
static inline double vd_hmax(vd v) { return _mm512_reduce_max_pd(v); }

/* float sums in double: the low and high eight lanes */
typedef struct {
    vd lo, hi;
} af;
static inline vd cvt_lo(vf v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline vd cvt_hi(vf v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
static inline af af_zero(void) {
    af a = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    return a;
}
static inline af af_add(af a, vf y) {
    a.lo = _mm512_add_pd(a.lo, cvt_lo(y));
    a.hi = _mm512_add_pd(a.hi, cvt_hi(y));
    return a;
}
static inline void af_lanes(af a, double *out) {
    _mm512_storeu_pd(out, a.lo);
    _mm512_storeu_pd(out + 8, a.hi);
}
static inline double af_total(af a) { return _mm512_reduce_add_pd(_mm512_add_pd(a.lo, a.hi)); }
static inline double af_total_of(const double *v) {
    af a = {_mm512_loadu_pd(v), _mm512_loadu_pd(v + 8)};
    return af_total(a);
}

/* W doubles to floats (rounded to nearest) and floats to doubles (exact) */
static inline vf vf_from_d(const double *p) {
    const __m256 lo = _mm512_cvtpd_ps(_mm512_loadu_pd(p)), hi = _mm512_cvtpd_ps(_mm512_loadu_pd(p + 8));
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
static inline void vf_to_d(double *p, vf v) {
    _mm512_storeu_pd(p, cvt_lo(v));
    _mm512_storeu_pd(p + 8, cvt_hi(v));
}
/* s = 2^e m for a positive normal s: returns m in [1, 2) (s's mantissa under exponent 0) and e in *e,
 * exactly (the exponent field shifted into the low bits of 2^52, minus 2^52 + 1023) */
static inline vd vd_frexp(vd s, vd *e) {
    const __m512i b = _mm512_castpd_si512(s), two52 = _mm512_castpd_si512(_mm512_set1_pd(0x1p52));
    *e = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(b, 52), two52)),
                       _mm512_set1_pd(0x1p52 + 1023));
    const __m512i mant = _mm512_and_si512(b, _mm512_set1_epi64(0xfffffffffffffLL));
    return _mm512_castsi512_pd(_mm512_or_si512(mant, _mm512_castpd_si512(_mm512_set1_pd(1.0))));
}

#include "accum_f64.h"

#define FSS_TABLE fss_kernels_avx512
#define FSS_ISA_NAME "avx512"
#include "kernels_all.h"
