/*
 * avx512_emulation.h - portable stand-ins for the AVX-512 intrinsics used by isa_avx512.c that SIMDe
 * (0.7.4) does not provide.  Tests only: included by isa_avx512.c under FSS_EMULATE_AVX512, right after
 * <simde/x86/avx512.h> with SIMDE_ENABLE_NATIVE_ALIASES, never in the package build.
 *
 * Each shim works lane by lane through plain arrays (memcpy to and from the SIMDe vector types), with
 * the exact semantics of the instruction:
 *  - masked loads read only the elements whose mask bit is set (the others may lie past the end of a
 *    buffer, on an unmapped page) and take the other lanes from src;
 *  - masked stores write only the elements whose mask bit is set;
 *  - cvtps_pd is exact; cvtpd_ps rounds to nearest even (the C conversion in the default rounding mode);
 *  - roundscale_ps rounds to the multiple of 2^-M that imm8[7:4] asks for (SIMDe 0.7.4's ignores it);
 *  - the reductions follow the pairwise tree of GCC's and Intel's header definitions (upper half with
 *    lower half, then again on the halves), with MAXPS semantics (a > b ? a : b: the second operand
 *    where either is NaN).
 * Each shim is #define'd over the intrinsic's name, unless SIMDe already defines that name (a newer
 * SIMDe), in which case SIMDe's version is used.
 */
#ifndef FSS_AVX512_EMULATION_H
#define FSS_AVX512_EMULATION_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(SIMDE_X86_AVX512_H)
#error "avx512_emulation.h: include <simde/x86/avx512.h> first"
#endif

/* ---- masked loads and stores ------------------------------------------------------------------ */

static inline simde__m512 fss_emu_mm512_mask_loadu_ps(simde__m512 src, simde__mmask16 k, const void *mem) {
    float r[16];
    const float *p = (const float *)mem;
    memcpy(r, &src, sizeof r);
    for (int i = 0; i < 16; i++)
        if ((k >> i) & 1) memcpy(&r[i], p + i, sizeof(float));
    memcpy(&src, r, sizeof r);
    return src;
}

static inline simde__m512d fss_emu_mm512_mask_loadu_pd(simde__m512d src, simde__mmask8 k, const void *mem) {
    double r[8];
    const double *p = (const double *)mem;
    memcpy(r, &src, sizeof r);
    for (int i = 0; i < 8; i++)
        if ((k >> i) & 1) memcpy(&r[i], p + i, sizeof(double));
    memcpy(&src, r, sizeof r);
    return src;
}

static inline void fss_emu_mm512_mask_storeu_ps(void *mem, simde__mmask16 k, simde__m512 a) {
    float r[16];
    float *p = (float *)mem;
    memcpy(r, &a, sizeof r);
    for (int i = 0; i < 16; i++)
        if ((k >> i) & 1) memcpy(p + i, &r[i], sizeof(float));
}

static inline void fss_emu_mm512_mask_storeu_pd(void *mem, simde__mmask8 k, simde__m512d a) {
    double r[8];
    double *p = (double *)mem;
    memcpy(r, &a, sizeof r);
    for (int i = 0; i < 8; i++)
        if ((k >> i) & 1) memcpy(p + i, &r[i], sizeof(double));
}

/* ---- reductions -------------------------------------------------------------------------------- */

static inline float fss_emu_maxps1(float a, float b) { return a > b ? a : b; }
static inline double fss_emu_maxpd1(double a, double b) { return a > b ? a : b; }

/* GCC: max(hi256, lo256), max(hi128, lo128), then max(t, t[2,3,0,1]) and max(t, t[1,0,3,2]); lane 0. */
static inline float fss_emu_mm512_reduce_max_ps(simde__m512 a) {
    float v[16];
    memcpy(v, &a, sizeof v);
    for (int i = 0; i < 8; i++) v[i] = fss_emu_maxps1(v[i + 8], v[i]);
    for (int i = 0; i < 4; i++) v[i] = fss_emu_maxps1(v[i + 4], v[i]);
    float t0 = fss_emu_maxps1(v[0], v[2]), t1 = fss_emu_maxps1(v[1], v[3]);
    return fss_emu_maxps1(t0, t1);
}

static inline double fss_emu_mm512_reduce_max_pd(simde__m512d a) {
    double v[8];
    memcpy(v, &a, sizeof v);
    for (int i = 0; i < 4; i++) v[i] = fss_emu_maxpd1(v[i + 4], v[i]);
    for (int i = 0; i < 2; i++) v[i] = fss_emu_maxpd1(v[i + 2], v[i]);
    return fss_emu_maxpd1(v[0], v[1]);
}

static inline double fss_emu_mm512_reduce_add_pd(simde__m512d a) {
    double v[8];
    memcpy(v, &a, sizeof v);
    for (int i = 0; i < 4; i++) v[i] = v[i + 4] + v[i];
    for (int i = 0; i < 2; i++) v[i] = v[i + 2] + v[i];
    return v[0] + v[1];
}

/* ---- conversions ------------------------------------------------------------------------------- */

static inline simde__m512d fss_emu_mm512_cvtps_pd(simde__m256 a) {
    float s[8];
    double r[8];
    simde__m512d out;
    memcpy(s, &a, sizeof s);
    for (int i = 0; i < 8; i++) r[i] = (double)s[i];
    memcpy(&out, r, sizeof r);
    return out;
}

static inline simde__m256 fss_emu_mm512_cvtpd_ps(simde__m512d a) {
    double s[8];
    float r[8];
    simde__m256 out;
    memcpy(s, &a, sizeof s);
    for (int i = 0; i < 8; i++) r[i] = (float)s[i]; /* nearest even (default rounding mode) */
    memcpy(&out, r, sizeof r);
    return out;
}

/* ---- the names isa_avx512.c uses ----------------------------------------------------------------- */

#if !defined(_mm512_mask_loadu_ps)
#define _mm512_mask_loadu_ps(src, k, mem) fss_emu_mm512_mask_loadu_ps((src), (k), (mem))
#endif
#if !defined(_mm512_mask_loadu_pd)
#define _mm512_mask_loadu_pd(src, k, mem) fss_emu_mm512_mask_loadu_pd((src), (k), (mem))
#endif
#if !defined(_mm512_mask_storeu_ps)
#define _mm512_mask_storeu_ps(mem, k, a) fss_emu_mm512_mask_storeu_ps((mem), (k), (a))
#endif
#if !defined(_mm512_mask_storeu_pd)
#define _mm512_mask_storeu_pd(mem, k, a) fss_emu_mm512_mask_storeu_pd((mem), (k), (a))
#endif
#if !defined(_mm512_reduce_max_ps)
#define _mm512_reduce_max_ps(a) fss_emu_mm512_reduce_max_ps(a)
#endif
#if !defined(_mm512_reduce_max_pd)
#define _mm512_reduce_max_pd(a) fss_emu_mm512_reduce_max_pd(a)
#endif
#if !defined(_mm512_reduce_add_pd)
#define _mm512_reduce_add_pd(a) fss_emu_mm512_reduce_add_pd(a)
#endif
#if !defined(_mm512_cvtps_pd)
#define _mm512_cvtps_pd(a) fss_emu_mm512_cvtps_pd(a)
#endif
#if !defined(_mm512_cvtpd_ps)
#define _mm512_cvtpd_ps(a) fss_emu_mm512_cvtpd_ps(a)
#endif

/* ---- zero-extensions of bytes (the mask gather v_keep) ------------------------------------------ */
static inline simde__m512i fss_emu_mm512_cvtepu8_epi32(simde__m128i a) {
    uint8_t b[16];
    int32_t r[16];
    simde__m512i v;
    memcpy(b, &a, sizeof b);
    for (int i = 0; i < 16; i++) r[i] = b[i];
    memcpy(&v, r, sizeof r);
    return v;
}
static inline simde__m512i fss_emu_mm512_cvtepu8_epi64(simde__m128i a) {
    uint8_t b[16];
    int64_t r[8];
    simde__m512i v;
    memcpy(b, &a, sizeof b);
    for (int i = 0; i < 8; i++) r[i] = b[i];
    memcpy(&v, r, sizeof r);
    return v;
}
#ifndef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(a) fss_emu_mm512_cvtepu8_epi32(a)
#endif
#ifndef _mm512_cvtepu8_epi64
#define _mm512_cvtepu8_epi64(a) fss_emu_mm512_cvtepu8_epi64(a)
#endif

/* ---- non-temporal stores: plain stores, with the alignment the instruction would fault without ---- */
static inline void fss_emu_mm512_stream_ps(float *mem, simde__m512 a) {
    if ((uintptr_t)mem % 64) abort();
    memcpy(mem, &a, sizeof a);
}
static inline void fss_emu_mm512_stream_pd(double *mem, simde__m512d a) {
    if ((uintptr_t)mem % 64) abort();
    memcpy(mem, &a, sizeof a);
}
/* ---- rounding to a multiple of 2^-M (SIMDe 0.7.4 ignores M, imm8[7:4]) ---------------------------- */

/* Lane by lane: round(a 2^M) 2^-M in the mode of imm8[1:0] (nearest even, down, up, toward zero);
 * a lane already a multiple of 2^-M (|a| >= 2^(23 - M), inf, NaN) is returned as it is. */
static inline simde__m512 fss_emu_mm512_roundscale_ps(simde__m512 a, int imm8) {
    float v[16];
    const int m = (imm8 >> 4) & 15;
    memcpy(v, &a, sizeof v);
    for (int i = 0; i < 16; i++) {
        if (!(fabsf(v[i]) < ldexpf(1.0f, 23 - m))) continue;
        const float s = ldexpf(v[i], m);
        const float r = (imm8 & 3) == 0 ? nearbyintf(s) : (imm8 & 3) == 1 ? floorf(s) : (imm8 & 3) == 2 ? ceilf(s) : truncf(s);
        v[i] = copysignf(ldexpf(r, -m), v[i]);
    }
    memcpy(&a, v, sizeof v);
    return a;
}
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps(a, imm8) fss_emu_mm512_roundscale_ps((a), (imm8))

/* ---- 128-bit lane shuffles (SIMDe 0.7.4 has them only under its own prefix) --------------------- */

#ifndef _mm512_shuffle_f32x4
#define _mm512_shuffle_f32x4(a, b, imm8) simde_mm512_shuffle_f32x4((a), (b), (imm8))
#endif
#ifndef _mm512_shuffle_f64x2
#define _mm512_shuffle_f64x2(a, b, imm8) simde_mm512_shuffle_f64x2((a), (b), (imm8))
#endif

#ifndef _mm512_stream_ps
#define _mm512_stream_ps(mem, a) fss_emu_mm512_stream_ps((mem), (a))
#endif
#ifndef _mm512_stream_pd
#define _mm512_stream_pd(mem, a) fss_emu_mm512_stream_pd((mem), (a))
#endif

#endif /* FSS_AVX512_EMULATION_H */
