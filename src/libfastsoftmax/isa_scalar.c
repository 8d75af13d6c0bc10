/*
 * isa_scalar.c - the portable kernels: "vectors" of one lane, built with the default flags of the
 * target (no FMA is assumed: v_fma is a multiply and an add, FSS_FUSED 0, which the algorithm tolerates:
 * the exact first steps of the argument reduction hold unfused too, for float within the smaller bound
 * XB_MAX of the fast exp, see kernels_template.h).
 */
#include <stdint.h>
#include <string.h>

#include "fss_internal.h"

typedef float vf;
typedef double vd;
#define VF_W 1
#define VD_W 1
#define FSS_FUSED 0 /* v_fma rounds twice */

static inline vf vf_load(const float *p) { return *p; }
static inline void vf_store(float *p, vf v) { *p = v; }
/* no non-temporal store: plain stores */
static inline void vf_stream(float *p, vf v) { *p = v; }
static inline void fss_stream_fence(void) {}
#define FSS_STREAM_ALIGN 4
static inline vf vf_loadn(const float *p, ptrdiff_t k, float fill) { return k > 0 ? *p : fill; }
static inline void vf_storen(float *p, ptrdiff_t k, vf v) {
    if (k > 0) *p = v;
}
static inline vf vf_set1(float a) { return a; }
static inline vf vf_add(vf a, vf b) { return a + b; }
static inline vf vf_sub(vf a, vf b) { return a - b; }
static inline vf vf_mul(vf a, vf b) { return a * b; }
static inline vf vf_fma(vf a, vf b, vf c) { return a * b + c; }
static inline vf vf_fms_exact(vf a, vf b, vf p) { return fmaf(a, b, -p); } /* libm: exact */
static inline vf vf_div(vf a, vf b) { return a / b; }
static inline vf vf_keep(vf x, const unsigned char *w, vf fill) { return w[0] ? x : fill; }
static inline vf vf_max(vf a, vf b) { return a > b ? a : b; }
static inline vf vf_round(vf v) {
    /* |v| <= 127: adding 1.5 * 2^23 rounds to an integer in the current (nearest-even) mode */
    return (v + 0x1.8p23f) - 0x1.8p23f;
}
static inline vf vf_ldexp(vf p, vf n) {
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}
static inline vf vf_zero_below(vf y, vf d, vf thr) { return d < thr ? 0.0f : y; }
static inline vf vf_pow2_sub(vf j, vf jb) {
    uint32_t a, b;
    memcpy(&a, &j, sizeof a);
    memcpy(&b, &jb, sizeof b);
    a = (a - b) << 23;
    memcpy(&j, &a, sizeof j);
    return j;
}
static inline void vf_transpose(vf *v) { (void)v; } /* one lane: nothing to move */
static inline float vf_hmax(vf v) { return v; }

static inline vd vd_load(const double *p) { return *p; }
static inline void vd_store(double *p, vd v) { *p = v; }
static inline void vd_stream(double *p, vd v) { *p = v; }
static inline vd vd_loadn(const double *p, ptrdiff_t k, double fill) { return k > 0 ? *p : fill; }
static inline void vd_storen(double *p, ptrdiff_t k, vd v) {
    if (k > 0) *p = v;
}
static inline vd vd_set1(double a) { return a; }
static inline vd vd_add(vd a, vd b) { return a + b; }
static inline vd vd_sub(vd a, vd b) { return a - b; }
static inline vd vd_mul(vd a, vd b) { return a * b; }
static inline vd vd_fma(vd a, vd b, vd c) { return a * b + c; }
static inline vd vd_fms_exact(vd a, vd b, vd p) { return fma(a, b, -p); }
static inline vd vd_div(vd a, vd b) { return a / b; }
static inline vd vd_keep(vd x, const unsigned char *w, vd fill) { return w[0] ? x : fill; }
static inline vd vd_max(vd a, vd b) { return a > b ? a : b; }
static inline vd vd_round(vd v) {
    return (v + 0x1.8p52) - 0x1.8p52; /* |v| <= 1022 */
}
static inline vd vd_ldexp(vd p, vd n) {
    uint64_t bits = (uint64_t)((int64_t)n + 1023) << 52;
    double s;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}
static inline vd vd_zero_below(vd y, vd d, vd thr) { return d < thr ? 0.0 : y; }
static inline vd vd_pow2_sub(vd j, vd jb) {
    uint64_t a, b;
    memcpy(&a, &j, sizeof a);
    memcpy(&b, &jb, sizeof b);
    a = (a - b) << 52;
    memcpy(&j, &a, sizeof j);
    return j;
}
static inline void vd_transpose(vd *v) { (void)v; }
static inline double vd_hmax(vd v) { return v; }

/* float sums in double */
typedef double af;
static inline af af_zero(void) { return 0.0; }
static inline af af_add(af a, vf y) { return a + (double)y; }
static inline void af_lanes(af a, double *out) { out[0] = a; }
static inline double af_total(af a) { return a; }
static inline double af_total_of(const double *v) { return v[0]; }

/* doubles to floats (rounded to nearest) and floats to doubles (exact), one lane */
static inline vf vf_from_d(const double *p) { return (float)p[0]; }
static inline void vf_to_d(double *p, vf v) { p[0] = v; }
/* s = 2^e m for a positive normal s: returns m in [1, 2) and e in *e */
static inline vd vd_frexp(vd s, vd *e) {
    uint64_t b;
    memcpy(&b, &s, sizeof b);
    *e = (double)((int64_t)(b >> 52) - 1023);
    b = (b & 0xfffffffffffffULL) | 0x3ff0000000000000ULL;
    memcpy(&s, &b, sizeof s);
    return s;
}

#include "accum_f64.h"

#define FSS_TABLE fss_kernels_scalar
#define FSS_ISA_NAME "scalar"
#include "kernels_all.h"
