/*
 * isa_neon.c - kernels for AArch64 Advanced SIMD (4 floats / 2 doubles per vector), part of the
 * AArch64 baseline.  NEON's max returns NaN if either operand is NaN, which is all the kernels need.
 */
#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "fss_internal.h"

typedef float32x4_t vf;
typedef float64x2_t vd;
#define VF_W 4
#define VD_W 2
#define FSS_FUSED 1 /* v_fma is one rounding */

static inline vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, vf v) { vst1q_f32(p, v); }
/* no non-temporal store in the intrinsics: plain stores */
static inline void vf_stream(float *p, vf v) { vst1q_f32(p, v); }
static inline void fss_stream_fence(void) {}
#define FSS_STREAM_ALIGN 16
static inline vf vf_loadn(const float *p, ptrdiff_t k, float fill) {
    float buf[4] = {fill, fill, fill, fill};
    memcpy(buf, p, (size_t)k * sizeof(float));
    return vld1q_f32(buf);
}
static inline void vf_storen(float *p, ptrdiff_t k, vf v) {
    float buf[4];
    vst1q_f32(buf, v);
    memcpy(p, buf, (size_t)k * sizeof(float));
}
static inline vf vf_set1(float a) { return vdupq_n_f32(a); }
static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
static inline vf vf_fms_exact(vf a, vf b, vf p) { return vfmaq_f32(vnegq_f32(p), a, b); }
static inline vf vf_div(vf a, vf b) { return vdivq_f32(a, b); }
/* x where the byte w[l] is nonzero, else fill (4 bytes read) */
static inline vf vf_keep(vf x, const unsigned char *w, vf fill) {
    uint32_t bytes;
    memcpy(&bytes, w, sizeof bytes);
    uint32x4_t b = vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(bytes)))));
    return vbslq_f32(vceqzq_u32(b), fill, x);
}
static inline vf vf_max(vf a, vf b) { return vmaxq_f32(a, b); }
static inline vf vf_round(vf v) { return vrndnq_f32(v); }
static inline vf vf_ldexp(vf p, vf n) {
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
}
static inline vf vf_zero_below(vf y, vf d, vf thr) { return vbslq_f32(vcltq_f32(d, thr), vdupq_n_f32(0.0f), y); }
static inline vf vf_pow2_sub(vf j, vf jb) {
    int32x4_t e = vsubq_s32(vreinterpretq_s32_f32(j), vreinterpretq_s32_f32(jb));
    return vreinterpretq_f32_s32(vshlq_n_s32(e, 23));
}
/* v[i] lane l <-> v[l] lane i, 4 x 4: pairs, then halves */
static inline void vf_transpose(vf *v) {
    float32x4_t t0 = vtrn1q_f32(v[0], v[1]), t1 = vtrn2q_f32(v[0], v[1]); /* a0 b0 a2 b2, a1 b1 a3 b3 */
    float32x4_t t2 = vtrn1q_f32(v[2], v[3]), t3 = vtrn2q_f32(v[2], v[3]);
    v[0] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    v[1] = vreinterpretq_f32_f64(vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    v[2] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    v[3] = vreinterpretq_f32_f64(vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
}
static inline float vf_hmax(vf v) { return vmaxvq_f32(v); }

static inline vd vd_load(const double *p) { return vld1q_f64(p); }
static inline void vd_store(double *p, vd v) { vst1q_f64(p, v); }
static inline void vd_stream(double *p, vd v) { vst1q_f64(p, v); }
static inline vd vd_loadn(const double *p, ptrdiff_t k, double fill) {
    double buf[2] = {fill, fill};
    memcpy(buf, p, (size_t)k * sizeof(double));
    return vld1q_f64(buf);
}
static inline void vd_storen(double *p, ptrdiff_t k, vd v) {
    double buf[2];
    vst1q_f64(buf, v);
    memcpy(p, buf, (size_t)k * sizeof(double));
}
static inline vd vd_set1(double a) { return vdupq_n_f64(a); }
static inline vd vd_add(vd a, vd b) { return vaddq_f64(a, b); }
static inline vd vd_sub(vd a, vd b) { return vsubq_f64(a, b); }
static inline vd vd_mul(vd a, vd b) { return vmulq_f64(a, b); }
static inline vd vd_fma(vd a, vd b, vd c) { return vfmaq_f64(c, a, b); }
static inline vd vd_fms_exact(vd a, vd b, vd p) { return vfmaq_f64(vnegq_f64(p), a, b); }
static inline vd vd_div(vd a, vd b) { return vdivq_f64(a, b); }
static inline vd vd_keep(vd x, const unsigned char *w, vd fill) {
    uint64x2_t b = vcombine_u64(vdup_n_u64(w[0]), vdup_n_u64(w[1]));
    return vbslq_f64(vceqzq_u64(b), fill, x);
}
static inline vd vd_max(vd a, vd b) { return vmaxq_f64(a, b); }
static inline vd vd_round(vd v) { return vrndnq_f64(v); }
static inline vd vd_ldexp(vd p, vd n) {
    int64x2_t e = vshlq_n_s64(vaddq_s64(vcvtq_s64_f64(n), vdupq_n_s64(1023)), 52);
    return vmulq_f64(p, vreinterpretq_f64_s64(e));
}
static inline vd vd_zero_below(vd y, vd d, vd thr) { return vbslq_f64(vcltq_f64(d, thr), vdupq_n_f64(0.0), y); }
static inline vd vd_pow2_sub(vd j, vd jb) {
    int64x2_t e = vsubq_s64(vreinterpretq_s64_f64(j), vreinterpretq_s64_f64(jb));
    return vreinterpretq_f64_s64(vshlq_n_s64(e, 52));
}
static inline void vd_transpose(vd *v) {
    float64x2_t t0 = vtrn1q_f64(v[0], v[1]), t1 = vtrn2q_f64(v[0], v[1]);
    v[0] = t0;
    v[1] = t1;
}
static inline double vd_hmax(vd v) { return vmaxvq_f64(v); }

/* float sums in double: the low and high two lanes */
typedef struct {
    vd lo, hi;
} af;
static inline af af_zero(void) {
    af a = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
    return a;
}
static inline af af_add(af a, vf y) {
    a.lo = vaddq_f64(a.lo, vcvt_f64_f32(vget_low_f32(y)));
    a.hi = vaddq_f64(a.hi, vcvt_high_f64_f32(y));
    return a;
}
static inline void af_lanes(af a, double *out) {
    vst1q_f64(out, a.lo);
    vst1q_f64(out + 2, a.hi);
}
static inline double af_total(af a) { return vaddvq_f64(vaddq_f64(a.lo, a.hi)); }
static inline double af_total_of(const double *v) {
    af a = {vld1q_f64(v), vld1q_f64(v + 2)};
    return af_total(a);
}

/* W doubles to floats (rounded to nearest) and floats to doubles (exact) */
static inline vf vf_from_d(const double *p) { return vcvt_high_f32_f64(vcvt_f32_f64(vld1q_f64(p)), vld1q_f64(p + 2)); }
static inline void vf_to_d(double *p, vf v) {
    vst1q_f64(p, vcvt_f64_f32(vget_low_f32(v)));
    vst1q_f64(p + 2, vcvt_high_f64_f32(v));
}
/* s = 2^e m for a positive normal s: returns m in [1, 2) (s's mantissa under exponent 0) and e in *e,
 * exactly (the exponent field shifted into the low bits of 2^52, minus 2^52 + 1023) */
static inline vd vd_frexp(vd s, vd *e) {
    const uint64x2_t b = vreinterpretq_u64_f64(s);
    *e = vsubq_f64(vreinterpretq_f64_u64(vorrq_u64(vshrq_n_u64(b, 52), vdupq_n_u64(0x4330000000000000ULL))),
                   vdupq_n_f64(0x1p52 + 1023));
    const uint64x2_t mant = vandq_u64(b, vdupq_n_u64(0xfffffffffffffULL));
    return vreinterpretq_f64_u64(vorrq_u64(mant, vdupq_n_u64(0x3ff0000000000000ULL)));
}

#include "accum_f64.h"

#define FSS_TABLE fss_kernels_neon
#define FSS_ISA_NAME "neon"
#include "kernels_all.h"
