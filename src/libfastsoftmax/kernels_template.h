/*
 * kernels_template.h - the softmax kernels, written once over a small set of vector primitives.
 *
 * Included twice by every ISA file: once with FSS_TPL_F32 = 1 (float) and once with FSS_TPL_F32 = 0
 * (double).  Before the first inclusion the ISA file defines, for float vectors (vf, VF_W lanes) and
 * double vectors (vd, VD_W lanes):
 *
 *   v_load(p) v_store(p, v)            full vectors, unaligned
 *   v_loadn(p, k, fill) v_storen(p, k, v)  first k < W lanes; the other lanes read as `fill`
 *   v_set1 v_add v_sub v_mul           the obvious
 *   v_fma(a, b, c)                     a * b + c (fused where the ISA has it)
 *   v_fms_exact(a, b, p)               a * b - p rounded once (always fused: the error of p = a * b)
 *   v_div(a, b)                        a / b
 *   v_keep(x, w, fill)                 x where the byte w[l] is nonzero, else fill (reads W bytes)
 *   v_max(a, b)                        x86 MAXPS semantics: b where either operand is NaN
 *   v_round(v)                         to nearest, ties to even
 *   v_ldexp(p, n)                      p * 2^n, n integral in [-126, 0] (f32) or [-1022, 0] (f64)
 *   v_zero_below(y, d, thr)            0 where d < thr, else y (NaN in d keeps y)
 *   v_hmax(v)                          largest lane (NaN handling unspecified)
 *   v_transpose(v)                     W x W block v[0..W) transposed in place (lane l of v[i] <-> lane i
 *                                      of v[l])
 *   v_pow2_sub(j, jb)                  2^(bits(j) - bits(jb) - bias): the difference of the bit patterns,
 *                                      a biased exponent in [1, 254] / [1, 2046], moved to the exponent field
 * and, where the ISA sets FSS_EXP_LUT (float only; exp then takes 2^(i/16) from a table, see exp_scale_k):
 *   vf_round16(v)                      to the nearest multiple of 1/16, ties to even
 *   vf_exp2_16ths(n)                   2^n for n a multiple of 1/16 in [-126, 128)
 * and, for the per-lane steps between passes (on W lanes of double sums):
 *   vf_from_d(p) vf_to_d(p, v)         W doubles to floats, rounded to nearest; floats to doubles
 *   vd_frexp(s, &e)                    s = 2^e m for positive normal s: m in [1, 2), e (a double)
 * and an accumulator of sums per lane (af for float, ad for double):
 *   a_zero() a_add(a, v) a_lanes(a, double *out) a_total(a)
 * float sums are accumulated in double; double sums are compensated (a TwoSum per add) (softmax adds
 * four terms in T before that: see expsum_x).
 * Each ISA file also says whether v_fma is fused (FSS_FUSED), and may set FSS_ROUND_SCALE where v_round
 * and v_ldexp are single instructions (expx then uses them: the same bits in fewer operations).
 *
 * Algorithm per slice (three passes, exp computed once and stored):
 *   m = max(x);  y = exp(x - m), s = sum(y);  softmax = y * (1/s),  log_softmax = (x - m) - log(s),
 *   logsumexp = m + log(s).
 * exp(x - m) is as accurate for x far below the max as near it: for |m| up to XB_MAX, exp's argument
 * is reduced from x itself and m's own reduction subtracted (expx: no rounded x - m at all); beyond
 * that, in the scaled kernels, and on short slices where SHORT_EXPX is 0, x - m is split exactly into
 * a rounded part and its rounding error (a TwoSum), which is folded into the reduced argument (expm).
 * (x - m) - log(s) is x - ch - cl with ch + cl = m + log(s) (lse_split): two roundings, each relative
 * to the result.
 */

#ifndef FSS_ROUND_SCALE
#define FSS_ROUND_SCALE 0
#endif
#ifndef FSS_EXP_LUT
#define FSS_EXP_LUT 0
#endif

#if FSS_TPL_F32
#define T float
#define SFX(name) name##_f32
#define V vf
#define W VF_W
#define VOP(op) vf_##op
#define A af
#define AOP(op) af_##op
#define SPECIAL(op) fss_special_##op##_f32
/* Below exp(-87.3365...) = 2^-126 results are flushed to 0 (the contract allows it). */
#define EXP_THR (-0x1.5d589ep+6f)
#define EXP_LOG2E 0x1.715476p+0f
/* ln2 = LN2_HI + LN2_LO; LN2_HI has 15 significant bits, so n * LN2_HI is exact for |n| <= 2^9 and
 * d - n * LN2_HI is exact (Sterbenz) even without a fused multiply-add. */
#define EXP_LN2_HI 0x1.62e400p-1f
#define EXP_LN2_LO 0x1.7f7d1cp-20f
#define FSS_DENORM_MIN 0x1p-149f /* the smallest positive float: |b| below it is b == 0 */
/* the shifted exp (expx): rounding constant, exponent bias, lowest kept power, largest |max| */
#define XB_MAGIC 0x1.8p23f
#define XB_BIAS 127
#define XB_LOW 126
#define XB_MAX (FSS_FUSED ? 0x1p14f : 0x1p8f)
#else
#define T double
#define SFX(name) name##_f64
#define V vd
#define W VD_W
#define VOP(op) vd_##op
#define A ad
#define AOP(op) ad_##op
#define SPECIAL(op) fss_special_##op##_f64
/* exp(-708.396...) = 2^-1022 */
#define EXP_THR (-0x1.6232bdd7abcd2p+9)
#define EXP_LOG2E 0x1.71547652b82fep+0
/* fdlibm's split: LN2_HI has 32 trailing zero bits, so n * LN2_HI is exact for |n| < 2^21. */
#define EXP_LN2_HI 0x1.62e42feep-1
#define EXP_LN2_LO 0x1.a39ef35793c76p-33
#define FSS_DENORM_MIN 0x1p-1074
#define XB_MAGIC 0x1.8p52
#define XB_BIAS 1023
#define XB_LOW 1022
#define XB_MAX 0x1p20
#endif

#define VSET(c) VOP(set1)((T)(c))

/* exp(r) for |r| <= ln2/2 (a little beyond is harmless): 1 + r + r^2 q(r), q a near-minimax fit
 * (Chebyshev fit, mpmath), by Horner's rule from the top coefficient: p = c0; p = p r + c_i. */
#if FSS_TPL_F32
/* polynomial error 7.8e-9 (0.07 ulp) on [-ln2/2, ln2/2] */
static const T SFX(exp_c)[] = {0x1.6d1100p-10f, 0x1.120b66p-7f, 0x1.55551ap-5f, 0x1.5554dep-3f, 0x1p-1f, 1, 1};
#else
/* polynomial error 1.7e-19 (0.002 ulp) on [-ln2/2, ln2/2] */
static const T SFX(exp_c)[] = {0x1.1f72fe6c1bbb4p-29, 0x1.af4de0f89d89fp-26, 0x1.27e4db66c1868p-22,
                               0x1.71de0235ad92ep-19, 0x1.a01a01a6d7cd0p-16, 0x1.a01a01abe6b3cp-13,
                               0x1.6c16c16c162d5p-10, 0x1.11111111100dep-7,  0x1.5555555555556p-5,
                               0x1.5555555555557p-3,  0x1p-1,                1,
                               1};
#endif
#define EXP_NC ((int)(sizeof SFX(exp_c) / sizeof SFX(exp_c)[0]))
#define EXP_LUT (FSS_EXP_LUT && FSS_TPL_F32)
/* with it, w = r + r^2 (LUT_C2 + LUT_C3 r): a minimax fit of exp(r) - 1 on |r| <= ln2/32 (linear
 * programming on 4001 points), error 1.6e-9 = 0.03 ulp */
#define LUT_C2 0x1.00022p-1f
#define LUT_C3 0x1.55559ap-3f

/* p[k] = exp(r[k]) for K <= 4 vectors, one Horner step across all K before the next: the K dependency
 * chains interleave in program order, so that the out-of-order window holds ready work from each (on
 * Zen 3, 4 at a time make the exp-and-sum pass of a long float32 row about 20% faster than one after
 * the other: the chain of one vector is some 50 cycles, longer than the window holds). */
FSS_INLINE void SFX(exp_poly_k)(V *p, const V *r, const int K) {
    FSS_UNROLL for (int k = 0; k < K; k++) p[k] = VOP(fma)(VSET(SFX(exp_c)[0]), r[k], VSET(SFX(exp_c)[1]));
    FSS_UNROLL for (int i = 2; i < EXP_NC; i++)
        FSS_UNROLL for (int k = 0; k < K; k++) p[k] = VOP(fma)(p[k], r[k], VSET(SFX(exp_c)[i]));
}

FSS_INLINE V SFX(exp_poly)(V r) {
    V p;
    SFX(exp_poly_k)(&p, &r, 1);
    return p;
}

/* n for the reduction r = d - n ln2: round(d log2e), or with a table (EXP_LUT) to a sixteenth. */
FSS_INLINE V SFX(exp_round)(V u) {
#if EXP_LUT
    return vf_round16(u);
#else
    return VOP(round)(u);
#endif
}

/* t[k] = 2^n[k] exp(r[k]) for K <= 4 vectors, n from exp_round (n >= -126, -1022), |r| <= ln2/2.
 * With a table (EXP_LUT, n a multiple of 1/16 and |r| <= ln2/32): s = 2^n, exact from the table of
 * 2^(i/16) (each rounded once, within 0.4 ulp) and the exponent bits; exp(r) = 1 + w,
 * w = r + LUT_C2 r^2 + LUT_C3 r^3; t = s + s w, one rounding.  That is 2 operations per vector fewer on
 * the multiply-add pipes than the degree-6 polynomial and vscalef: float32 softmax and logsumexp rows
 * in L1 ran 9-12% faster on Zen 5 (a C microbenchmark of the rows API, one thread). */
FSS_INLINE void SFX(exp_scale_k)(V *t, const V *n, const V *r, const int K) {
#if EXP_LUT
    V s[4], w[4];
    FSS_UNROLL for (int k = 0; k < K; k++) s[k] = vf_exp2_16ths(n[k]);
    FSS_UNROLL for (int k = 0; k < K; k++) w[k] = VOP(fma)(VSET(LUT_C3), r[k], VSET(LUT_C2));
    FSS_UNROLL for (int k = 0; k < K; k++) w[k] = VOP(fma)(w[k], VOP(mul)(r[k], r[k]), r[k]);
    FSS_UNROLL for (int k = 0; k < K; k++) t[k] = VOP(fma)(s[k], w[k], s[k]);
#else
    V p[4];
    SFX(exp_poly_k)(p, r, K);
    FSS_UNROLL for (int k = 0; k < K; k++) t[k] = VOP(ldexp)(p[k], n[k]);
#endif
}

/*
 * d[k] = exp(d[k] + e[k]) for K <= 4 vectors (interleaved as in exp_poly_k), d <= 0, |e| <= ulp(d) / 2.
 * n = round(d / ln2); r = d - n ln2 + e in [-ln2/2, ln2/2] (Cody-Waite, exact first step);
 * exp(r) = 1 + r + r^2 q(r), q a near-minimax fit on that interval (Chebyshev fit, mpmath);
 * 2^n applied exactly (with a table, EXP_LUT: n to a sixteenth, |r| <= ln2/32, see exp_scale_k).
 * Lanes with d < EXP_THR (including -inf) give exactly 0; NaN propagates.
 * Measured accuracy (all float32 inputs in [EXP_THR, 0], see tools/exp_accuracy.py): see README.
 */
FSS_INLINE void SFX(exp_reduced_k)(V *d, const V *e, const int K) {
    const V thr = VSET(EXP_THR);
    V n[4], r[4], p[4];
    FSS_UNROLL for (int k = 0; k < K; k++) {
        const V dc = VOP(max)(thr, d[k]); /* keeps NaN; clamps -inf and overflowed differences */
        n[k] = SFX(exp_round)(VOP(mul)(dc, VSET(EXP_LOG2E)));
        r[k] = VOP(fma)(n[k], VSET(-EXP_LN2_HI), dc);
    }
    FSS_UNROLL for (int k = 0; k < K; k++) r[k] = VOP(add)(VOP(fma)(n[k], VSET(-EXP_LN2_LO), r[k]), e[k]);
    SFX(exp_scale_k)(p, n, r, K);
    FSS_UNROLL for (int k = 0; k < K; k++) d[k] = VOP(zero_below)(p[k], d[k], thr);
}

FSS_INLINE V SFX(exp_reduced)(V d, V e) {
    SFX(exp_reduced_k)(&d, &e, 1);
    return d;
}

/* d + e == x - m exactly (Knuth's TwoSum of x and -m); e is NaN where d is infinite. */
FSS_INLINE void SFX(diff_exact)(V x, V m, V *d, V *e) {
    *d = VOP(sub)(x, m);
    V xh = VOP(add)(*d, m);  /* the part of x that reached d */
    V mh = VOP(sub)(*d, xh); /* minus the part of m that reached d */
    *e = VOP(sub)(VOP(sub)(x, xh), VOP(add)(m, mh));
}

/* t[k] = exp(t[k] - m) for K <= 4 vectors, x - m taken exactly. */
FSS_INLINE void SFX(expm_k)(V *t, V m, const int K) {
    V e[4];
    FSS_UNROLL for (int k = 0; k < K; k++) SFX(diff_exact)(t[k], m, &t[k], &e[k]);
    SFX(exp_reduced_k)(t, e, K);
}

static inline V SFX(expm)(V x, V m) {
    SFX(expm_k)(&x, m, 1);
    return x;
}

/* Load / store k <= W lanes: full vectors on the fast path, masked ones at a tail. */
static inline V SFX(ld)(const T *p, ptrdiff_t k, T fill) {
    return k == W ? VOP(load)(p) : VOP(loadn)(p, k, fill);
}
static inline void SFX(st)(T *p, ptrdiff_t k, V v) {
    if (k == W) VOP(store)(p, v);
    else VOP(storen)(p, k, v);
}

/*
 * exp(x - m) without forming x - m (the fast path of a slice whose max m has |m| <= XB_MAX; expm is
 * the exact path for any m).  With N = round(m log2e):
 *   u = x log2e - f            f = m log2e - N, so u ~ (x - m) log2e + N;
 *   j = u + 1.5 2^p            rounds n = round(u) into the low bits of j (p = 23 or 52);
 *   r = ((x - n LN2_HI) - (m - N LN2_HI)) - (n - N) LN2_LO
 *                              Cody-Waite from x and from m: each first step is exact for |n| within
 *                              the bound (fused; unfused, n LN2_HI is exact for the smaller float
 *                              bound); r = (x - m) - (n - N) ln2, in [-ln2/2, ln2/2] but for a rounding
 *                              of f, with two roundings (at most about 2^-25 absolute for float);
 *   t = exp(r) 2^(n - N)       the power of two from the bits of j minus those of j(m) - bias.
 * m's first step is the same vector computation as x's, so at x = m, n = N and r = 0: the max's term is
 * exactly 1, as with an exact x - m.  Lanes with n - N below -126 (float) / -1022 (double), i.e.
 * exp(x - m) below about 2^-126 / 2^-1022, give exactly 0 (flushed, as in exp_reduced); so do -inf and
 * x so far below m that n leaves j's binade.  NaN propagates.
 */
typedef struct {
    V f, m1; /* m log2e - N; m - N LN2_HI */
    V N;     /* round(m log2e - f), an integer (FSS_ROUND_SCALE takes n - N from it) */
    V jm;    /* j(m) = N + 1.5 2^p: for any x, j - jm == n - N exactly */
    V jb;    /* j(m) - bias (in j's binade: the bits of j(m) minus the bias) */
    V jlow;  /* j(m) - 126 (- 1022): j < jlow where n - N < -126 (-1022) */
} SFX(xbase);

/* j and n = round(x log2e - f) */
FSS_INLINE void SFX(expx_n)(V x, V f, V *j, V *n) {
    *j = VOP(add)(VOP(fma)(x, VSET(EXP_LOG2E), VOP(sub)(VSET(0), f)), VSET(XB_MAGIC));
    *n = VOP(sub)(*j, VSET(XB_MAGIC));
}

/* The bases of a vector of maxima (lanes with |m| <= XB_MAX), by the vector code of expx itself. */
FSS_INLINE SFX(xbase) SFX(xbase_of)(V m) {
    SFX(xbase) b;
    V u = VOP(mul)(m, VSET(EXP_LOG2E));
    b.f = VOP(sub)(u, VOP(sub)(VOP(add)(u, VSET(XB_MAGIC)), VSET(XB_MAGIC)));
    SFX(expx_n)(m, b.f, &b.jm, &b.N);
    b.m1 = VOP(fma)(b.N, VSET(-EXP_LN2_HI), m);
    b.jb = VOP(sub)(b.jm, VSET(XB_BIAS));
    b.jlow = VOP(sub)(b.jm, VSET(XB_LOW));
    return b;
}

/* t[k] = exp(t[k] - m) for K <= 4 vectors, each step across all K before the next (see exp_poly_k).  After
 * the first reduction step only j is kept: j - jm is n - N exactly (both in j's binade, integers), and
 * j < jlow exactly where n - N < -126 (-1022) or n left the binade below; NaN compares false. */
FSS_INLINE void SFX(expx_k)(V *t, const SFX(xbase) *b, const int K) {
#if FSS_ROUND_SCALE
    /* With a rounding instruction and an exact scaling one (AVX-512's vrndscale, vscalef): n = round(u),
     * the same n as j's rounding wherever j - jm > -127 (|u| < 2^22, 2^51 there); q = n - N exactly;
     * exp(r) 2^q by scaling, 0 where q < -126 (-1022).  The same bits as below, in 4 operations fewer
     * per vector (n from j: add and subtract; 2^q: subtract, shift and multiply; the flush: compare
     * and mask).  With a table (EXP_LUT) n, and so q, is a multiple of 1/16 (u within 2^-9 of N at
     * x = m still gives q = 0, r = 0 and a term of exactly 1), and exp_scale_k gives other bits. */
    const V nf = VOP(sub)(VSET(0), b->f);
    V q[4], r[4], p[4];
    FSS_UNROLL for (int k = 0; k < K; k++) {
        const V n = SFX(exp_round)(VOP(fma)(t[k], VSET(EXP_LOG2E), nf));
        q[k] = VOP(sub)(n, b->N);
        r[k] = VOP(sub)(VOP(fma)(n, VSET(-EXP_LN2_HI), t[k]), b->m1);
    }
    FSS_UNROLL for (int k = 0; k < K; k++) r[k] = VOP(fma)(q[k], VSET(-EXP_LN2_LO), r[k]);
    SFX(exp_scale_k)(p, q, r, K);
    FSS_UNROLL for (int k = 0; k < K; k++) t[k] = VOP(zero_below)(p[k], q[k], VSET(-XB_LOW));
#else
    V j[4], r[4], p[4];
    FSS_UNROLL for (int k = 0; k < K; k++) {
        V n;
        SFX(expx_n)(t[k], b->f, &j[k], &n);
        r[k] = VOP(sub)(VOP(fma)(n, VSET(-EXP_LN2_HI), t[k]), b->m1);
    }
    FSS_UNROLL for (int k = 0; k < K; k++) r[k] = VOP(fma)(VOP(sub)(j[k], b->jm), VSET(-EXP_LN2_LO), r[k]);
    SFX(exp_poly_k)(p, r, K);
    FSS_UNROLL for (int k = 0; k < K; k++) t[k] = VOP(zero_below)(VOP(mul)(p[k], VOP(pow2_sub)(j[k], b->jb)), j[k], b->jlow);
#endif
}

FSS_INLINE V SFX(expx)(V x, const SFX(xbase) *b) {
    SFX(expx_k)(&x, b, 1);
    return x;
}

/* Brings the 4 W elements at p towards L2 (a hint: p may be anywhere).  Both prefetch helpers are
 * always inlined: GCC 12 takes a function that only prefetches for one without side effects, and
 * where it did not inline it (row_f32 had grown), dead-store elimination dropped every call: (512,
 * 2048) softmax ran 1.2x slower with no prefetch left (tests/test_c_kernels.py checks the assembly). */
FSS_INLINE void SFX(prefetch)(const T *p) {
#if defined(__GNUC__) || defined(__clang__)
    for (size_t off = 0; off < 4 * W * sizeof(T); off += 64) __builtin_prefetch((const char *)p + off, 0, 2);
#else
    (void)p;
#endif
}

/* Brings the 4 W elements at byte address a into L1, to be written (a hint: a may be anywhere, even past
 * the end of an array, so it is an integer, not a pointer). */
FSS_INLINE void SFX(prefetch_w)(uintptr_t a) {
#if defined(__GNUC__) || defined(__clang__)
    for (size_t off = 0; off < 4 * W * sizeof(T); off += 64) __builtin_prefetch((const void *)(a + off), 1, 3);
#else
    (void)a;
#endif
}

/* How far ahead of its stores the exp pass of softmax prefetches y (PF in SFX(row)): 1024 float32 terms,
 * some 350 (in L1) to 900 (from memory) cycles of that pass. */
#define FSS_STORE_AHEAD 4096

/* exp(x - m) of a row (stored if STORE) and its sum; while it runs, the n elements at NEXT (the row to
 * come, or NULL) are prefetched, so that their max pass reads from cache, and, given W (or NULL), the
 * output is prefetched for writing (see SFX(row)): with STORE, W is y and the prefetch runs
 * FSS_STORE_AHEAD bytes ahead of the stores; without, the n elements at W (the next pass's output).
 * The sum: for softmax (TREE), four vectors of terms are added in T first, as ((t0 + t1) + (t2 + t3)),
 * then go to the accumulator (double for float, compensated for double): the conversion is paid once
 * per four vectors, and as the terms are positive, the sum's relative error stays within 2 units of
 * roundoff of T, which is all 1/sum needs.  For a log of the sum (!TREE) each term goes to the
 * accumulator unrounded: log(s) of a peaked row (s = 1 + small) needs s - 1 to the last bits.
 * As a stream (exp_begin, then exp_quad four vectors at a time, then exp_end for the rest), so that
 * rows_seq can interleave it with another pass; expsum_x is all of it at once. */
typedef struct {
    const T *x;
    T *y, *w;
    const T *next;
    ptrdiff_t i, n;
    SFX(xbase) b;
    A a;
} SFX(exp_st);

FSS_INLINE void SFX(exp_begin)(SFX(exp_st) *s, const T *x, T *y, ptrdiff_t n, T m, const T *next, T *w) {
    s->x = x, s->y = y, s->w = w, s->next = next, s->i = 0, s->n = n;
    s->b = SFX(xbase_of)(VOP(set1)(m));
    s->a = AOP(zero)();
}

/* Four vectors from s->i (s->i + 4 W <= n). */
FSS_INLINE void SFX(exp_quad)(SFX(exp_st) *s, const int store, const int tree) {
    const ptrdiff_t i = s->i;
    if (s->next) SFX(prefetch)(s->next + i);
    if (s->w) SFX(prefetch_w)((uintptr_t)(s->w + i) + (store ? FSS_STORE_AHEAD : 0));
    V t[4];
    FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = VOP(load)(s->x + i + h * W);
    SFX(expx_k)(t, &s->b, 4);
    if (store) FSS_UNROLL for (int h = 0; h < 4; h++) VOP(store)(s->y + i + h * W, t[h]);
    if (tree) s->a = AOP(add)(s->a, VOP(add)(VOP(add)(t[0], t[1]), VOP(add)(t[2], t[3])));
    else FSS_UNROLL for (int h = 0; h < 4; h++) s->a = AOP(add)(s->a, t[h]);
    s->i = i + 4 * W;
}

/* The rest of the row; the sum. */
FSS_INLINE double SFX(exp_end)(SFX(exp_st) *s, const int store, const int tree) {
    while (s->i + 4 * W <= s->n) SFX(exp_quad)(s, store, tree);
    for (ptrdiff_t i = s->i; i < s->n; i += W) {
        ptrdiff_t k = s->n - i < W ? s->n - i : W;
        V t0 = SFX(expx)(SFX(ld)(s->x + i, k, (T)-INFINITY), &s->b); /* padding lanes give 0 */
        if (store) SFX(st)(s->y + i, k, t0);
        s->a = AOP(add)(s->a, t0);
    }
    return AOP(total)(s->a);
}

FSS_INLINE double SFX(expsum_x)(const T *x, T *y, ptrdiff_t n, T m, const int store, const int tree,
                                const T *next, T *w) {
    SFX(exp_st) s;
    SFX(exp_begin)(&s, x, y, n, m, next, w);
    return SFX(exp_end)(&s, store, tree);
}

/* s (x - m) as p + q, exact up to the rounding of the small part q, for s > 0: with d + e == x - m,
 * s d == p + (s d - p) exactly (one fused multiply-subtract).  With HALVE (for s < 1), the same from
 * x/2 - m/2 and 2 s: then x - m cannot overflow where s (x - m) is in range (the halving is exact but
 * for subnormal x, where the error is below s * 2^-149 absolute).  Where d = -inf, p = -inf and q is
 * NaN: callers must not let q reach such lanes (exp_reduced's zero_below keys on p). */
FSS_INLINE void SFX(scaled_diff)(V x, V m, V s, V *p, V *q, const int halve) {
    V d, e;
    if (halve) {
        V h = VSET(0.5);
        x = VOP(mul)(x, h);
        m = VOP(mul)(m, h);
    }
    SFX(diff_exact)(x, m, &d, &e);
    *p = VOP(mul)(s, d);
    *q = VOP(fma)(s, e, VOP(fms_exact)(s, d, *p));
}

/* t[k] = exp(t[k] - m) for K <= 4 vectors as expm_k, or, when SCALED, exp(s (t[k] - m)) with s (t[k] - m)
 * taken exactly (temperature / attention scaling; 1: s, 2: s doubled for halved operands, see
 * scaled_diff).  The K chains interleave as in exp_poly_k; each vector gets the bits it gets alone. */
FSS_INLINE void SFX(expm_sk)(V *t, V m, V s, const int K, const int scaled) {
    if (!scaled) {
        SFX(expm_k)(t, m, K);
        return;
    }
    V q[4];
    FSS_UNROLL for (int k = 0; k < K; k++) SFX(scaled_diff)(t[k], m, s, &t[k], &q[k], scaled == 2);
    SFX(exp_reduced_k)(t, q, K);
}

/* exp(s (x - m)), one vector of expm_sk */
FSS_INLINE V SFX(expm_s)(V x, V m, V s, const int halve) {
    SFX(expm_sk)(&x, m, s, 1, halve ? 2 : 1);
    return x;
}

static void SFX(exp)(const T *x, T *y, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        SFX(st)(y + i, k, SFX(exp_reduced)(SFX(ld)(x + i, k, (T)0), VSET(0)));
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Contiguous rows                                                                                   */

/* Elements from p to its next vector boundary (W T's): 0 where p is on one, or not on a T's boundary.
 * Passes in which the order of the elements changes no bit (the max, the output pass) take these first,
 * so that their other loads and stores never split a cache line (an unaligned vector costs two accesses:
 * on Zen 5, float32 rows in L1 with x and y 16 bytes off a line took 1.7-1.8x as long in their max pass
 * and in log_softmax's output pass, and 7-8% longer in all). */
static inline ptrdiff_t SFX(to_aligned)(const T *p) {
    const uintptr_t a = (uintptr_t)p;
    return a % sizeof(T) ? 0 : (ptrdiff_t)((-a % (W * sizeof(T))) / sizeof(T));
}

/* The max pass as a stream: a masked head to x's first vector boundary, four accumulators over whole
 * vectors, the tail; rmax is all of it at once.  (The order fixes which max is found where NaN meets
 * numbers, and the sign of a zero max.) */
typedef struct {
    const T *x;
    ptrdiff_t i, n;
    V m[4];
} SFX(max_st);

FSS_INLINE void SFX(max_begin)(SFX(max_st) *s, const T *x, ptrdiff_t n) {
    s->x = x, s->n = n;
    s->m[0] = s->m[1] = s->m[2] = s->m[3] = VSET(-INFINITY);
    ptrdiff_t i = SFX(to_aligned)(x);
    if (i >= n) i = 0;
    if (i > 0) s->m[1] = VOP(loadn)(x, i, (T)-INFINITY);
    s->i = i;
}

FSS_INLINE void SFX(max_quad)(SFX(max_st) *s) {
    FSS_UNROLL for (int h = 0; h < 4; h++) s->m[h] = VOP(max)(s->m[h], VOP(load)(s->x + s->i + h * W));
    s->i += 4 * W;
}

FSS_INLINE T SFX(max_end)(SFX(max_st) *s) {
    while (s->i + 4 * W <= s->n) SFX(max_quad)(s);
    for (ptrdiff_t i = s->i; i < s->n; i += W)
        s->m[0] = VOP(max)(s->m[0], SFX(ld)(s->x + i, s->n - i < W ? s->n - i : W, (T)-INFINITY));
    return VOP(hmax)(VOP(max)(VOP(max)(s->m[0], s->m[1]), VOP(max)(s->m[2], s->m[3])));
}

static T SFX(rmax)(const T *x, ptrdiff_t n) {
    SFX(max_st) s;
    SFX(max_begin)(&s, x, n);
    return SFX(max_end)(&s);
}

/* y = exp(x - m) (stored only if STORE) and the sum of it: by expsum_x when unscaled and |m| <= XB_MAX;
 * else by expm, every term going to the double (float) or compensated (double) accumulator unrounded,
 * so that the sum is, in practice, independent of the order of the terms (the column kernels add the
 * same terms in another order).  scaled: 0 none, 1 s (x - m), 2 2s (x/2 - m/2) (see scaled_diff). */
FSS_INLINE double SFX(expsum_any)(const T *x, T *y, ptrdiff_t n, T m, T s, const int store, const int scaled) {
    if (!scaled && fabs(m) <= XB_MAX) {
        return SFX(expsum_x)(x, y, n, m, store, store, NULL, NULL);
    }
    V vm = VOP(set1)(m), vs = VOP(set1)(s);
    A a0 = AOP(zero)();
    ptrdiff_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) { /* four vectors' chains at a time (see exp_poly_k) */
        V t[4];
        FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = VOP(load)(x + i + h * W);
        SFX(expm_sk)(t, vm, vs, 4, scaled);
        FSS_UNROLL for (int h = 0; h < 4; h++) {
            if (store) VOP(store)(y + i + h * W, t[h]);
            a0 = AOP(add)(a0, t[h]);
        }
    }
    for (; i + W <= n; i += W) {
        V y0 = VOP(load)(x + i);
        SFX(expm_sk)(&y0, vm, vs, 1, scaled);
        if (store) VOP(store)(y + i, y0);
        a0 = AOP(add)(a0, y0);
    }
    if (i < n) {
        V x0 = VOP(loadn)(x + i, n - i, (T)-INFINITY); /* padding lanes give exp(-inf) = 0 */
        V y0 = scaled ? SFX(expm_s)(x0, vm, vs, scaled == 2) : SFX(expm)(x0, vm);
        if (store) VOP(storen)(y + i, n - i, y0);
        a0 = AOP(add)(a0, y0);
    }
    return AOP(total)(a0);
}

FSS_INLINE double SFX(expsum)(const T *x, T *y, ptrdiff_t n, T m, const int store) {
    return SFX(expsum_any)(x, y, n, m, (T)1, store, 0);
}

static double SFX(sumexp)(const T *x, ptrdiff_t n, T m) { return SFX(expsum)(x, NULL, n, m, 0); }
static double SFX(expsum_store)(const T *x, T *y, ptrdiff_t n, T m) { return SFX(expsum)(x, y, n, m, 1); }
/* The same with the sum good for a log: every term accumulated unrounded (see expsum_x). */
static double SFX(expsum_lse)(const T *x, T *y, ptrdiff_t n, T m) {
    if (fabs(m) <= XB_MAX) return SFX(expsum_x)(x, y, n, m, 1, 0, NULL, NULL);
    return SFX(expsum_any)(x, y, n, m, (T)1, 1, 0);
}
/* The same on s * x (s > 0; m the max of x). */
static double SFX(sumexp_s)(const T *x, ptrdiff_t n, T m, T s) {
    return s < 1 ? SFX(expsum_any)(x, NULL, n, m, 2 * s, 0, 2) : SFX(expsum_any)(x, NULL, n, m, s, 0, 1);
}
static double SFX(expsum_s)(const T *x, T *y, ptrdiff_t n, T m, T s) {
    return s < 1 ? SFX(expsum_any)(x, y, n, m, 2 * s, 1, 2) : SFX(expsum_any)(x, y, n, m, s, 1, 1);
}

/* m + L for a max m and L >= 0 (a double) as ch + cl: ch = m + lh rounded, cl = its exact rounding error
 * (TwoSum) + ll, with L = lh + ll.  Then (x - ch) - cl is (x - m) - L for x <= m, with two roundings,
 * each relative to the result: where x - ch is inexact, x and ch are more than a factor 2 apart
 * (Sterbenz), so |x - ch| >= |ch| / 2; and |cl| <= L (1 + u) <= |result| (1 + u), so cl's own rounding
 * (u |cl|) adds at most u |result|: about 1 ulp in all. */
static inline void SFX(lse_split)(T m, double L, T *ch, T *cl) {
    const T lh = (T)L, ll = (T)(L - (double)lh);
    /* h = m + lh, as -(-m - lh): the same rounding, and -0 at m = -0, lh = 0 (where m + lh is +0), so
     * that x - ch is +0 at x = m, as (x - m) - L.  (Where m = -lh != 0, h = -0 and cl = ll, which is
     * right: an earlier "h == 0 ? m : h" got these slices wrong.) */
    const T h = -(-m - lh), bv = h - m;
    *ch = h;
    *cl = ((m - (h - bv)) + (lh - bv)) + ll;
}

/* The last pass of a row: y = a * c1 (SUB = 0) or (a - c1) - c2 (SUB = 1).  A masked head up to y's
 * first vector boundary (to_aligned), full vectors four at a time, then one masked tail: no per-vector
 * test on the fast path.  With STREAM, the full vectors after the head go by non-temporal stores where
 * they are aligned for them (FSS_STREAM_ALIGN), the same bits.  a may be y itself. */
FSS_INLINE void SFX(out_pass)(const T *a, T *y, ptrdiff_t n, T c1, T c2, const int sub, const int stream) {
    const V v1 = VOP(set1)(c1), v2 = VOP(set1)(c2);
#define OUT_OP(v) (sub ? VOP(sub)(VOP(sub)((v), v1), v2) : VOP(mul)((v), v1))
    ptrdiff_t i = SFX(to_aligned)(y);
    if (i > 0) {
        if (i > n) i = n;
        VOP(storen)(y, i, OUT_OP(VOP(loadn)(a, i, (T)0)));
    }
    if (stream && (uintptr_t)(y + i) % FSS_STREAM_ALIGN == 0) {
        for (; i + W <= n; i += W) VOP(stream)(y + i, OUT_OP(VOP(load)(a + i)));
        fss_stream_fence();
    }
    for (; i + 4 * W <= n; i += 4 * W) {
        V v[4];
        FSS_UNROLL for (int k = 0; k < 4; k++) v[k] = VOP(load)(a + i + k * W);
        FSS_UNROLL for (int k = 0; k < 4; k++) VOP(store)(y + i + k * W, OUT_OP(v[k]));
    }
    for (; i + W <= n; i += W) VOP(store)(y + i, OUT_OP(VOP(load)(a + i)));
    if (i < n) VOP(storen)(y + i, n - i, OUT_OP(VOP(loadn)(a + i, n - i, (T)0)));
#undef OUT_OP
}

/* y = (x - m) - L (STREAM: by non-temporal stores) */
FSS_INLINE void SFX(logsub_any)(const T *x, T *y, ptrdiff_t n, T m, double L, const int stream) {
    T ch, cl;
    SFX(lse_split)(m, L, &ch, &cl);
    SFX(out_pass)(x, y, n, ch, cl, 1, stream);
}
static void SFX(logsub)(const T *x, T *y, ptrdiff_t n, T m, double L) { SFX(logsub_any)(x, y, n, m, L, 0); }
static void SFX(scale)(T *y, ptrdiff_t n, T c) { SFX(out_pass)(y, y, n, c, 0, 0, 0); }

/* Scaled log_softmax: y = s (x - m) - L, with s (x - m) = p + q (scaled_diff) and L = lh + ll split in
 * two of T (for float, L carries more bits than one float holds).  p <= 0 <= lh, so p - lh adds two
 * magnitudes: no cancellation, each rounding is relative to the result. */
FSS_INLINE V SFX(logsub_s_vec)(V x, V vm, V vs, V vlh, V vll, const int halve) {
    V p, q;
    SFX(scaled_diff)(x, vm, vs, &p, &q, halve);
    q = VOP(zero_below)(q, p, VSET(-0x1p100)); /* below it q cannot matter; at p = -inf it is NaN */
    return VOP(add)(VOP(sub)(p, vlh), VOP(sub)(q, vll));
}

FSS_INLINE void SFX(logsub_s_any)(const T *x, T *y, ptrdiff_t n, T m, T s, double L, const int halve) {
    const T lh = (T)L, ll = (T)(L - (double)lh);
    V vm = VOP(set1)(m), vs = VOP(set1)(s), vlh = VOP(set1)(lh), vll = VOP(set1)(ll);
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        SFX(st)(y + i, k, SFX(logsub_s_vec)(SFX(ld)(x + i, k, (T)0), vm, vs, vlh, vll, halve));
    }
}
static void SFX(logsub_s)(const T *x, T *y, ptrdiff_t n, T m, T s, double L) {
    if (s < 1) SFX(logsub_s_any)(x, y, n, m, 2 * s, L, 1);
    else SFX(logsub_s_any)(x, y, n, m, s, L, 0);
}

/* y = w ? x : fill for contiguous x, y and byte mask w (y may be x): masked entries in and out. */
static void SFX(keep)(const T *x, const unsigned char *w, T *y, ptrdiff_t n, T fill) {
    V vfill = VOP(set1)(fill);
    ptrdiff_t i = 0;
    for (; i + W <= n; i += W) VOP(store)(y + i, VOP(keep)(VOP(load)(x + i), w + i, vfill));
    for (; i < n; i++) y[i] = w[i] ? x[i] : fill;
}

/* Short rows (n <= SHORT_V vectors): one load, all passes in registers, one store; the per-row cost
 * of separate passes (constant set-up, reductions, calls) would dominate rows of 10 or 100 classes. */
#define SHORT_V 4
/* Whether short slices (n <= SHORT_V W: short rows, batches of them, short columns) take expx, as longer
 * ones do, where |m| <= XB_MAX: with FSS_ROUND_SCALE (AVX-512) expx is 6 operations per vector fewer than
 * expm, and float32 slices of 10-64 ran 4-15% faster; by AVX2's integer route, expx's longer set-up
 * (xbase_of) made (65536, 10) 4-6% slower, so there short slices keep expm.  Every kernel that takes a
 * short slice follows this, so that it gets the same bits from each. */
#define SHORT_EXPX FSS_ROUND_SCALE

static inline void SFX(short_load)(const T *x, ptrdiff_t n, V *v, T *m) {
    V vm = VSET(-INFINITY);
    for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
        v[j] = SFX(ld)(x + i, n - i < W ? n - i : W, (T)-INFINITY);
        vm = VOP(max)(vm, v[j]);
    }
    *m = VOP(hmax)(vm);
}

/* exp(v - m) in place, and its sum; padding lanes (-inf) give 0.  On sc * v when SCALED (1: sc, 2: sc
 * for halved operands, as in expsum_any).  By expx where SHORT_EXPX and |m| <= XB_MAX, else by expm.
 * The terms are added one by one in element order, into a double (float) or a compensated double
 * (double), exactly as the column kernels and short_lanes add a lane's terms: a short row gets the same
 * sum, and so the same bits, whichever kernel takes it. */
FSS_INLINE double SFX(short_expsum)(V *v, ptrdiff_t n, T m, T sc, const int scaled) {
    T t[SHORT_V * W];
    V vm = VOP(set1)(m), vs = VOP(set1)(sc);
    if (SHORT_EXPX && !scaled && fabs(m) <= XB_MAX) {
        const SFX(xbase) b = SFX(xbase_of)(vm);
        for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
            v[j] = SFX(expx)(v[j], &b);
            VOP(store)(t + i, v[j]);
        }
    } else {
        for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
            v[j] = scaled ? SFX(expm_s)(v[j], vm, vs, scaled == 2) : SFX(expm)(v[j], vm);
            VOP(store)(t + i, v[j]);
        }
    }
#if FSS_TPL_F32
    double sum = 0.0;
    for (ptrdiff_t i = 0; i < n; i++) sum += t[i]; /* af_add, one lane */
    return sum;
#else
    double hi = 0.0, lo = 0.0; /* ad_add and ad_lanes, one lane */
    for (ptrdiff_t i = 0; i < n; i++) fss_sum2_add(&hi, &lo, t[i]);
    return hi + lo;
#endif
}

/* log_softmax of short rows: (x - m) - L, or sc (x - m) - L when SCALED, one vector at a time. */
typedef struct {
    V m, s, h, l; /* plain: h + l = m + L (lse_split); scaled: h + l = L (logsub_s) */
} SFX(short_lsub);

FSS_INLINE SFX(short_lsub) SFX(short_lsub_of)(T m, double L, T sc, const int scaled) {
    SFX(short_lsub) p;
    T h, l;
    if (scaled) {
        h = (T)L;
        l = (T)(L - (double)h);
    } else {
        SFX(lse_split)(m, L, &h, &l);
    }
    p.m = VOP(set1)(m);
    p.s = VOP(set1)(sc);
    p.h = VOP(set1)(h);
    p.l = VOP(set1)(l);
    return p;
}

FSS_INLINE V SFX(short_logsub)(V x, const SFX(short_lsub) *p, const int scaled) {
    if (!scaled) return VOP(sub)(VOP(sub)(x, p->h), p->l);
    return SFX(logsub_s_vec)(x, p->m, p->s, p->h, p->l, scaled == 2);
}

/* The short kernels take the scale as (sc, scaled): (1, 0) plain, (s, 1) for s > 1, (2 s, 2) for s < 1. */
FSS_INLINE void SFX(softmax_short)(const T *x, T *y, ptrdiff_t n, T sc, const int scaled) {
    V v[SHORT_V];
    T m;
    SFX(short_load)(x, n, v, &m);
    if (!isfinite(m)) {
        SPECIAL(softmax)(x, 1, y, 1, n);
        return;
    }
    V inv = VOP(set1)((T)(1.0 / SFX(short_expsum)(v, n, m, sc, scaled)));
    for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) SFX(st)(y + i, n - i < W ? n - i : W, VOP(mul)(v[j], inv));
}

FSS_INLINE void SFX(log_softmax_short)(const T *x, T *y, ptrdiff_t n, T sc, const int scaled) {
    V v[SHORT_V], e[SHORT_V];
    T m;
    SFX(short_load)(x, n, v, &m);
    if (!isfinite(m)) {
        SPECIAL(log_softmax)(x, 1, y, 1, n);
        return;
    }
    for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) e[j] = v[j];
    const double L = SFX(fss_log_sum)(SFX(short_expsum)(e, n, m, sc, scaled));
    const SFX(short_lsub) p = SFX(short_lsub_of)(m, L, sc, scaled);
    for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++)
        SFX(st)(y + i, n - i < W ? n - i : W, SFX(short_logsub)(v[j], &p, scaled));
}

/* the scale of logsumexp's s m: sc as passed, halved back for SCALED == 2 */
#define SHORT_S(sc, scaled) ((scaled) == 2 ? (sc) / 2 : (sc))

FSS_INLINE T SFX(logsumexp_short)(const T *x, ptrdiff_t n, T sc, const int scaled) {
    V v[SHORT_V];
    T m;
    SFX(short_load)(x, n, v, &m);
    if (!isfinite(m)) return SPECIAL(logsumexp)(x, 1, n);
    return SFX(fss_lse_scaled)(m, SHORT_S(sc, scaled), SFX(fss_log_sum)(SFX(short_expsum)(v, n, m, sc, scaled)));
}

/* Two short rows at once, so that their dependency chains (max, exp, sum, reciprocal or log: a short
 * row is mostly latency) overlap: 1.5x faster than one by one at n = 10 (AVX2).  (Written out for two
 * rows: a loop over an array of rows does not stay in registers.)  Each row gets the bits it gets
 * alone. */
FSS_INLINE void SFX(short_pair)(const int op, const T *x0, const T *x1, T *y0, T *y1, ptrdiff_t n, T sc,
                                const int scaled) {
    V a[SHORT_V], b[SHORT_V];
    T ma, mb;
    SFX(short_load)(x0, n, a, &ma);
    SFX(short_load)(x1, n, b, &mb);
    if (!isfinite(ma) || !isfinite(mb)) {
        if (op == FSS_OP_SOFTMAX) {
            SFX(softmax_short)(x0, y0, n, sc, scaled);
            SFX(softmax_short)(x1, y1, n, sc, scaled);
        } else if (op == FSS_OP_LOG_SOFTMAX) {
            SFX(log_softmax_short)(x0, y0, n, sc, scaled);
            SFX(log_softmax_short)(x1, y1, n, sc, scaled);
        } else {
            *y0 = SFX(logsumexp_short)(x0, n, sc, scaled);
            *y1 = SFX(logsumexp_short)(x1, n, sc, scaled);
        }
        return;
    }
    if (op == FSS_OP_SOFTMAX) {
        double sa = SFX(short_expsum)(a, n, ma, sc, scaled), sb = SFX(short_expsum)(b, n, mb, sc, scaled);
        V ia = VOP(set1)((T)(1.0 / sa)), ib = VOP(set1)((T)(1.0 / sb));
        for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
            ptrdiff_t k = n - i < W ? n - i : W;
            SFX(st)(y0 + i, k, VOP(mul)(a[j], ia));
            SFX(st)(y1 + i, k, VOP(mul)(b[j], ib));
        }
    } else if (op == FSS_OP_LOG_SOFTMAX) {
        V ea[SHORT_V], eb[SHORT_V];
        for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
            ea[j] = a[j];
            eb[j] = b[j];
        }
        const double la = SFX(fss_log_sum)(SFX(short_expsum)(ea, n, ma, sc, scaled));
        const double lb = SFX(fss_log_sum)(SFX(short_expsum)(eb, n, mb, sc, scaled));
        const SFX(short_lsub) pa = SFX(short_lsub_of)(ma, la, sc, scaled), pb = SFX(short_lsub_of)(mb, lb, sc, scaled);
        for (ptrdiff_t i = 0, j = 0; i < n; i += W, j++) {
            ptrdiff_t k = n - i < W ? n - i : W;
            SFX(st)(y0 + i, k, SFX(short_logsub)(a[j], &pa, scaled));
            SFX(st)(y1 + i, k, SFX(short_logsub)(b[j], &pb, scaled));
        }
    } else {
        double sa = SFX(short_expsum)(a, n, ma, sc, scaled), sb = SFX(short_expsum)(b, n, mb, sc, scaled);
        *y0 = SFX(fss_lse_scaled)(ma, SHORT_S(sc, scaled), SFX(fss_log_sum)(sa));
        *y1 = SFX(fss_lse_scaled)(mb, SHORT_S(sc, scaled), SFX(fss_log_sum)(sb));
    }
}

/* One row of op: max, exp(x - m) and its sum, the output pass.  NEXT (the row this thread takes next,
 * or NULL) is prefetched during the exp pass, so that reading it overlaps this row's arithmetic; given
 * BUF (a scratch row of n), the result is written by non-temporal stores (softmax keeps its exp terms in
 * BUF): an output too large to stay in cache is then written once, never read for ownership.  With PF
 * (the driver's choice, where it measured faster: see FSS_PREFETCH_ROW_MIN), y is prefetched for
 * writing, so that its lines are owned by the time the stores come: by softmax's exp pass
 * FSS_STORE_AHEAD bytes ahead of its stores (past the row's end: the next row's, where rows are
 * contiguous), by log_softmax's exp pass for its output pass.  None of this changes a bit. */
/* A row's output from its max m and the sum s of exp(x - m) (softmax's terms in e): e / s, (x - m) - log(s)
 * or m + log(s); with STREAM, written by non-temporal stores.  A NaN in x made s NaN: all NaN. */
FSS_INLINE void SFX(row_out)(int op, const T *x, const T *e, T *y, ptrdiff_t n, T m, double s, const int stream) {
    if (op == FSS_OP_SOFTMAX) {
        SFX(out_pass)(e, y, n, (T)(1.0 / s), 0, 0, stream);
        return;
    }
    const double L = SFX(fss_log_sum)(s);
    if (op == FSS_OP_LOGSUMEXP) *y = (T)((double)m + L);
    else SFX(logsub_any)(x, y, n, m, L, stream);
}

static void SFX(row)(int op, const T *x, T *y, ptrdiff_t n, const T *next, T *buf, const int pf) {
    if (n <= SHORT_V * W) {
        if (op == FSS_OP_SOFTMAX) SFX(softmax_short)(x, y, n, 1, 0);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(log_softmax_short)(x, y, n, 1, 0);
        else *y = SFX(logsumexp_short)(x, n, 1, 0);
        return;
    }
    const T m = SFX(rmax)(x, n);
    if (!isfinite(m)) {
        if (op == FSS_OP_SOFTMAX) SPECIAL(softmax)(x, 1, y, 1, n);
        else if (op == FSS_OP_LOG_SOFTMAX) SPECIAL(log_softmax)(x, 1, y, 1, n);
        else *y = SPECIAL(logsumexp)(x, 1, n);
        return;
    }
    const int fast = fabs(m) <= XB_MAX;
    if (op == FSS_OP_SOFTMAX) {
        T *e = buf ? buf : y;
        const double s = fast ? SFX(expsum_x)(x, e, n, m, 1, 1, next, pf && !buf ? y : NULL)
                              : SFX(expsum)(x, e, n, m, 1);
        SFX(row_out)(op, x, e, y, n, m, s, buf != NULL);
        return;
    }
    T *const wy = op == FSS_OP_LOG_SOFTMAX && pf && !buf ? y : NULL;
    const double s = fast ? SFX(expsum_x)(x, NULL, n, m, 0, 0, next, wy) : SFX(expsum)(x, NULL, n, m, 0);
    SFX(row_out)(op, x, NULL, y, n, m, s, buf != NULL);
}

/* Whether the row groups (row_group), given PF, prefetch softmax's output: not in AVX-512's float
 * kernels, whose exp pass is the fastest per byte.  Measured on Zen 5 (C microbenchmark, one thread),
 * rows of 1000 in pairs with the prefetch against without: float32 with AVX-512 (3072, 1000) and
 * (4096, 1000) 7-11% slower ((8000, 1024) 5% faster); with AVX2 (4096, 1000) 13% faster; float64 with
 * AVX-512 (2048, 1000) 7% faster. */
#define GROUP_SOFTMAX_PF (!(FSS_TPL_F32 && W == 16))

/* K = 2 or 4 rows of op (n > SHORT_V W), xs and ys apart, each with the bits SFX(row) gives it.  The
 * passes of the K rows are issued one after the other (all maxima, all exp sums, all logs, all output
 * passes), so that the serial steps of one row (the max's reduction and the exp base set up from it, the
 * sum's total, 1/sum or its log) overlap the others' arithmetic: on rows that fit in L1, most of those
 * steps are otherwise exposed (one float32 row of 128 elements costs about a third more than its share
 * of a long row's time).  NEXT (the K rows that follow, or NULL) is prefetched during the exp passes,
 * and with PF the output, as in SFX(row) (softmax's only where GROUP_SOFTMAX_PF). */
FSS_INLINE void SFX(row_group)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, const T *next,
                               const int pf, const int K) {
    T m[4];
    double s[4], L[4];
    int fast = 1;
    FSS_UNROLL for (int k = 0; k < K; k++) m[k] = SFX(rmax)(x + k * xs, n);
    FSS_UNROLL for (int k = 0; k < K; k++) fast &= fabs(m[k]) <= XB_MAX;
    if (!fast) { /* an infinite, NaN or large max: one by one */
        for (int k = 0; k < K; k++) SFX(row)(op, x + k * xs, y + k * ys, n, NULL, NULL, 0);
        return;
    }
    if (op == FSS_OP_SOFTMAX) {
        const int pw = pf && GROUP_SOFTMAX_PF;
        FSS_UNROLL for (int k = 0; k < K; k++)
            s[k] = SFX(expsum_x)(x + k * xs, y + k * ys, n, m[k], 1, 1, next ? next + k * xs : NULL,
                                 pw ? y + k * ys : NULL);
        FSS_UNROLL for (int k = 0; k < K; k++) SFX(out_pass)(y + k * ys, y + k * ys, n, (T)(1.0 / s[k]), 0, 0, 0);
        return;
    }
    FSS_UNROLL for (int k = 0; k < K; k++)
        s[k] = SFX(expsum_x)(x + k * xs, NULL, n, m[k], 0, 0, next ? next + k * xs : NULL,
                             pf ? y + k * ys : NULL);
    FSS_UNROLL for (int k = 0; k < K; k++) L[k] = SFX(fss_log_sum)(s[k]);
    if (op == FSS_OP_LOGSUMEXP)
        FSS_UNROLL for (int k = 0; k < K; k++) y[k * ys] = (T)((double)m[k] + L[k]);
    else
        FSS_UNROLL for (int k = 0; k < K; k++) SFX(logsub_any)(x + k * xs, y + k * ys, n, m[k], L[k], 0);
}

/* Two rows (row_group); any type. */
static void SFX(row_pair)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, const T *next,
                          const int pf) {
    SFX(row_group)(op, x, xs, y, ys, n, next, pf, 2);
}

#if FSS_TPL_F32
/* Four rows (row_group): float32 rows up to FSS_QUAD_ROW_BYTES, whose serial steps four rows overlap
 * better than two. */
static void SFX(row_quad)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, const T *next,
                          const int pf) {
    SFX(row_group)(op, x, xs, y, ys, n, next, pf, 4);
}
#endif

/* Row r's exp pass (STORE: its terms too) and, if MX, row r + 1's max pass, four vectors of each per
 * iteration while both have them, then each one's rest; the sum. */
FSS_INLINE double SFX(exp_max)(SFX(exp_st) *e, SFX(max_st) *mx, const int store) {
    while (mx && e->i + 4 * W <= e->n && mx->i + 4 * W <= mx->n) {
        SFX(exp_quad)(e, store, store);
        SFX(max_quad)(mx);
    }
    return SFX(exp_end)(e, store, store);
}

/* Whether rows() takes rows longer than FSS_PAIR_ROW_BYTES through rows_seq: with 512-bit vectors.
 * With AVX2, (64, 32000) float32 softmax ran 9% slower that way than row by row (the next row
 * prefetched during the exp pass). */
#define ROWS_SEQ (W * (int)sizeof(T) == 64)

/*
 * Rows of op (unscaled, n > SHORT_V W) one after another, each with the bits SFX(row) gives it.  The
 * loop of row r's exp pass also takes row r + 1's max pass, four vectors of each at a time: the max
 * pass is bound by loads, the exp pass by arithmetic, and side by side they overlap (the max pass
 * alone is about a tenth of a float32 row's time).  The next row is not prefetched: the max pass reads
 * it.  A row whose max is not finite or beyond XB_MAX goes to SFX(row) alone.  With PF, the output is
 * prefetched for writing as in SFX(row).
 */
static void SFX(rows_seq)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t rows, ptrdiff_t n,
                          const int pf) {
    const int sm = op == FSS_OP_SOFTMAX;
    T m = SFX(rmax)(x, n);
    for (ptrdiff_t r = 0; r < rows; r++) {
        const T *xr = x + r * xs;
        T *yr = y + r * ys;
        const int more = r + 1 < rows;
        if (!(fabs(m) <= XB_MAX)) { /* infinite, NaN or large: the row kernel */
            SFX(row)(op, xr, yr, n, NULL, NULL, 0);
            if (more) m = SFX(rmax)(xr + xs, n);
            continue;
        }
        SFX(exp_st) e;
        SFX(max_st) mx;
        SFX(exp_begin)(&e, xr, sm ? yr : NULL, n, m, NULL, pf && op != FSS_OP_LOGSUMEXP ? yr : NULL);
        if (more) SFX(max_begin)(&mx, xr + xs, n);
        const double s = sm ? SFX(exp_max)(&e, more ? &mx : NULL, 1) : SFX(exp_max)(&e, more ? &mx : NULL, 0);
        const T mnext = more ? SFX(max_end)(&mx) : 0;
        SFX(row_out)(op, xr, yr, yr, n, m, s, 0);
        m = mnext;
    }
}

static void SFX(softmax)(const T *x, T *y, ptrdiff_t n) { SFX(row)(FSS_OP_SOFTMAX, x, y, n, NULL, NULL, 0); }
static void SFX(log_softmax)(const T *x, T *y, ptrdiff_t n) { SFX(row)(FSS_OP_LOG_SOFTMAX, x, y, n, NULL, NULL, 0); }
static T SFX(logsumexp)(const T *x, ptrdiff_t n) {
    T y;
    SFX(row)(FSS_OP_LOGSUMEXP, x, &y, n, NULL, NULL, 0);
    return y;
}

/* Short rows of s * x, two at a time (each an inlined copy per operation and scale mode). */
FSS_INLINE ptrdiff_t SFX(short_rows)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t rows,
                                     ptrdiff_t n, T sc, const int scaled) {
    ptrdiff_t r = 0;
    for (; r + 2 <= rows; r += 2) {
        const T *x0 = x + r * xs;
        T *y0 = y + r * ys;
        if (op == FSS_OP_SOFTMAX) SFX(short_pair)(FSS_OP_SOFTMAX, x0, x0 + xs, y0, y0 + ys, n, sc, scaled);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(short_pair)(FSS_OP_LOG_SOFTMAX, x0, x0 + xs, y0, y0 + ys, n, sc, scaled);
        else SFX(short_pair)(FSS_OP_LOGSUMEXP, x0, x0 + xs, y0, y0 + ys, n, sc, scaled);
    }
    if (r < rows) { /* the last, odd one */
        if (op == FSS_OP_SOFTMAX) SFX(softmax_short)(x + r * xs, y + r * ys, n, sc, scaled);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(log_softmax_short)(x + r * xs, y + r * ys, n, sc, scaled);
        else y[r * ys] = SFX(logsumexp_short)(x + r * xs, n, sc, scaled);
    }
    return rows;
}

/* One row of s * x (s != 1) by the building blocks: max, then the scaled exp sum, then the output. */
static void SFX(row_scaled)(int op, const T *x, T *y, ptrdiff_t n, T s) {
    const T m = SFX(rmax)(x, n);
    if (!isfinite(m)) {
        if (op == FSS_OP_SOFTMAX) SPECIAL(softmax)(x, 1, y, 1, n);
        else if (op == FSS_OP_LOG_SOFTMAX) SPECIAL(log_softmax)(x, 1, y, 1, n);
        else *y = SPECIAL(logsumexp)(x, 1, n);
    } else if (op == FSS_OP_SOFTMAX) {
        SFX(scale)(y, n, (T)(1.0 / SFX(expsum_s)(x, y, n, m, s))); /* a NaN made the sum NaN: all NaN */
    } else if (op == FSS_OP_LOG_SOFTMAX) {
        SFX(logsub_s)(x, y, n, m, s, SFX(fss_log_sum)(SFX(sumexp_s)(x, n, m, s)));
    } else {
        *y = SFX(fss_lse_scaled)(m, s, SFX(fss_log_sum)(SFX(sumexp_s)(x, n, m, s)));
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* W lanes of double sums at a time, by the operations the row kernels use on one: the steps between  */
/* the passes of the column and short-row kernels.                                                    */

/* W lanes of double to V, rounded to T; and back, exactly */
static inline V SFX(ld_d)(const double *p) {
#if FSS_TPL_F32
    return vf_from_d(p);
#else
    return vd_load(p);
#endif
}
static inline void SFX(st_d)(double *p, V v) {
#if FSS_TPL_F32
    vf_to_d(p, v);
#else
    vd_store(p, v);
#endif
}

/* L[l] = SFX(fss_log_sum)(s[l]) for W sums (L may be s), by the same operations VD_W lanes at a time.
 * Every s[l] is a sum whose largest term is exactly 1 (a column's or short row's, padding lanes included:
 * each of their terms is 1), so s >= 1 and finite, where fss_log_split always succeeds, or NaN (a NaN
 * in the slice).  A NaN lane goes through the same operations (its bits give some finite u and k, no
 * trap) and is made NaN at the end by adding s - s, which is +0 for every other lane (and L >= +0
 * there: the same bits).  (A test of the lanes for NaN first, and a lane-by-lane fallback, cost
 * (256, 10, 512) over axis 1 some 4% of its time.) */
FSS_INLINE void SFX(log_lanes)(const double *s, double *L) {
    const vd one = vd_set1(1.0);
    for (ptrdiff_t l = 0; l < W; l += VD_W) {
        /* fss_log_split: s = 2^k u with u = m or m / 2 (m >= sqrt(2) rounded down), exactly */
        vd vk;
        const vd v = vd_load(s + l);
        const vd mt = vd_frexp(v, &vk);
        const vd big = vd_zero_below(one, mt, vd_set1(0x1.6a09e667f3bcdp+0));
        vk = vd_add(vk, big);
        const vd f = vd_sub(vd_mul(mt, vd_sub(one, vd_mul(big, vd_set1(0.5)))), one);
        const vd t = vd_div(f, vd_add(vd_set1(2.0), f)), z = vd_mul(t, t);
        const vd R = SFX(FSS_LOG_R)(vd_mul, vd_add, vd_set1, z);
        const vd kh = vd_mul(vk, vd_set1(FSS_LOG_LN2_HI)), h = vd_add(kh, f), e = vd_add(vd_sub(kh, h), f);
        const vd c = vd_sub(vd_mul(t, vd_sub(f, R)), vd_mul(vk, vd_set1(FSS_LOG_LN2_LO)));
        vd_store(L + l, vd_add(vd_add(h, vd_sub(e, c)), vd_sub(v, v)));
    }
}

/* (T)(1 / s[l]): softmax's factor */
FSS_INLINE V SFX(inv_lanes)(const double *s) {
    double t[W];
    for (ptrdiff_t l = 0; l < W; l += VD_W) vd_store(t + l, vd_div(vd_set1(1.0), vd_load(s + l)));
    return SFX(ld_d)(t);
}

/* L[l] in two of T: h = (T)L, lo = (T)(L - h) */
FSS_INLINE void SFX(split_lanes)(const double *L, V *h, V *lo) {
    double t[W];
    *h = SFX(ld_d)(L);
    SFX(st_d)(t, *h);
    for (ptrdiff_t l = 0; l < W; l += VD_W) vd_store(t + l, vd_sub(vd_load(L + l), vd_load(t + l)));
    *lo = SFX(ld_d)(t);
}

/* lse_split of W lanes: ch + cl = m + L */
FSS_INLINE void SFX(lse_split_lanes)(V m, const double *L, V *ch, V *cl) {
    const V nz = VSET(-0.0);
    V lh, ll;
    SFX(split_lanes)(L, &lh, &ll);
    const V h = VOP(sub)(nz, VOP(sub)(VOP(sub)(nz, m), lh)), bv = VOP(sub)(h, m);
    *ch = h;
    *cl = VOP(add)(VOP(add)(VOP(sub)(m, VOP(sub)(h, bv)), VOP(sub)(lh, bv)), ll);
}

/* (T)(m + L): logsumexp from the max and log(sum), as fss_lse_scaled with scale 1 */
FSS_INLINE V SFX(lse_lanes)(V m, const double *L) {
    double t[W];
    SFX(st_d)(t, m);
    for (ptrdiff_t l = 0; l < W; l += VD_W) vd_store(t + l, vd_add(vd_load(t + l), vd_load(L + l)));
    return SFX(ld_d)(t);
}

/* ------------------------------------------------------------------------------------------------ */
/* Columns: w <= FSS_COL_BLOCK contiguous lanes, n rows xs apart; one vector of lanes at a time.      */

/* For each vector of lanes c of a w-lane block, BODY with k its lane count: the constant W on full
 * vectors (so that their loads and stores compile to plain ones, with no test), the remainder on a
 * last, partial one.  BODY is compiled twice. */
#define COLS_EACH(w, c, k, ...)                          \
    for (ptrdiff_t c = 0; c < (w); c += W) {             \
        if ((w) - c >= W) {                              \
            const ptrdiff_t k = W;                       \
            __VA_ARGS__                                  \
        } else {                                         \
            const ptrdiff_t k = (w) - c;                 \
            __VA_ARGS__                                  \
        }                                                \
    }

/* Each lane's max into m. */
FSS_INLINE void SFX(cols_max_any)(const T *x, ptrdiff_t xs, ptrdiff_t n, ptrdiff_t w, T *m) {
    COLS_EACH(w, c, k, {
        V m0 = VSET(-INFINITY), m1 = m0;
        ptrdiff_t j = 0;
        for (; j + 2 <= n; j += 2) {
            m0 = VOP(max)(m0, SFX(ld)(x + j * xs + c, k, (T)-INFINITY));
            m1 = VOP(max)(m1, SFX(ld)(x + (j + 1) * xs + c, k, (T)-INFINITY));
        }
        if (j < n) m0 = VOP(max)(m0, SFX(ld)(x + j * xs + c, k, (T)-INFINITY));
        SFX(st)(m + c, k, VOP(max)(m0, m1));
    })
}

/* The same, the block also copied to b, rows w apart (a packed block), row by row in the same pass: a
 * row's lines are read one after another.  The maxima are those of cols_max_any, to the bit (for NaN):
 * rows j = 0, 2, 4 ... in order into one, the others into another, the two maxed last.  Four rows at a
 * time, so that these, kept in memory, wait on one another once per four rows. */
FSS_INLINE void SFX(cols_max_copy)(const T *x, ptrdiff_t xs, ptrdiff_t n, ptrdiff_t w, T *m, T *b) {
    V m0[FSS_COL_BLOCK / W], m1[FSS_COL_BLOCK / W];
    for (ptrdiff_t c = 0; c < w; c += W) m0[c / W] = m1[c / W] = VSET(-INFINITY);
    ptrdiff_t j = 0;
    for (; j + 4 <= n; j += 4)
        COLS_EACH(w, c, k, {
            V v[4];
            FSS_UNROLL for (int h = 0; h < 4; h++) {
                v[h] = SFX(ld)(x + (j + h) * xs + c, k, (T)-INFINITY);
                SFX(st)(b + (j + h) * w + c, k, v[h]);
            }
            m0[c / W] = VOP(max)(VOP(max)(m0[c / W], v[0]), v[2]);
            m1[c / W] = VOP(max)(VOP(max)(m1[c / W], v[1]), v[3]);
        })
    for (; j < n; j++)
        COLS_EACH(w, c, k, {
            const V v0 = SFX(ld)(x + j * xs + c, k, (T)-INFINITY);
            SFX(st)(b + j * w + c, k, v0);
            if (j % 2) m1[c / W] = VOP(max)(m1[c / W], v0);
            else m0[c / W] = VOP(max)(m0[c / W], v0);
        })
    COLS_EACH(w, c, k, { SFX(st)(m + c, k, VOP(max)(m0[c / W], m1[c / W])); })
}

static void SFX(cols_max)(const T *x, ptrdiff_t xs, ptrdiff_t n, ptrdiff_t w, T *m, T *b) {
    if (b) SFX(cols_max_copy)(x, xs, n, w, m, b);
    else SFX(cols_max_any)(x, xs, n, w, m);
}

/* The order in which a row kernel adds a slice's terms, for the column kernels to follow.  A row of
 * n <= SHORT_V W elements (short_expsum) adds them one by one: one accumulator (PARTS = 1).  A longer
 * row keeps W lane sums, term j going to lane j mod W, and totals them by a_total: here PARTS = W
 * accumulators, part[q] taking the terms j = q mod W of every lane, and each lane's total is a_total of
 * the accumulator whose lanes are its W parts (cols_totals).  (In double sums, the order shows in the
 * last bits: a float32 row of 1 and many terms near 2^-53 sums to 1 + tiny in lanes and to 1 one by
 * one, and log(sum) keeps the difference.) */
#define COL_PARTS(n) ((n) > SHORT_V * W ? W : 1)

/* s[0..W) = the W lanes' totals from their W parts each (all W lanes: those past a block's last one
 * hold sums of the fill) */
FSS_INLINE void SFX(cols_totals)(const A *part, double *s) {
#if FSS_TPL_F32
    double v[W][W], t[W];
    for (ptrdiff_t q = 0; q < W; q++) AOP(lanes)(part[q], v[q]);
    for (ptrdiff_t l = 0; l < W; l++) {
        for (ptrdiff_t q = 0; q < W; q++) t[q] = v[q][l];
        s[l] = af_total_of(t);
    }
#else
    double hi[W][W], lo[W][W], th[W], tl[W];
    for (ptrdiff_t q = 0; q < W; q++) ad_parts(part[q], hi[q], lo[q]);
    for (ptrdiff_t l = 0; l < W; l++) {
        for (ptrdiff_t q = 0; q < W; q++) {
            th[q] = hi[q][l];
            tl[q] = lo[q][l];
        }
        s[l] = ad_total_of(th, tl);
    }
#endif
}

/* One term of a column sum: exp(x - m) (scaled as below), stored to y if STORE. */
FSS_INLINE V SFX(col_term)(const T *x, T *y, ptrdiff_t k, V vm, V vs, const int store, const int scaled) {
    const V x0 = SFX(ld)(x, k, (T)0);
    const V y0 = scaled ? SFX(expm_s)(x0, vm, vs, scaled == 2) : SFX(expm)(x0, vm);
    if (store) SFX(st)(y, k, y0);
    return y0;
}

/* Four terms of a column sum, rows xs apart, their chains interleaved: col_term of each. */
FSS_INLINE void SFX(col_terms4)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t k, V vm, V vs, V *t,
                                const int store, const int scaled) {
    FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = SFX(ld)(x + h * xs, k, (T)0);
    SFX(expm_sk)(t, vm, vs, 4, scaled);
    if (store) FSS_UNROLL for (int h = 0; h < 4; h++) SFX(st)(y + h * ys, k, t[h]);
}

/* Per-lane sums of exp(x - m) over the n rows into s (whole vectors of lanes); y = exp(x - m) stored if
 * STORE.  scaled as in expsum_any: 0 none, 1 sc (x - m), 2 sc (x/2 - m/2). */
FSS_INLINE void SFX(cols_expsum_any)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t w,
                                     const T *m, double *s, const int store, T sc, const int scaled) {
    const V vs = VOP(set1)(sc);
#define COL_TERM(j) SFX(col_term)(x + (j) * xs + c, store ? y + (j) * ys + c : NULL, k, vm, vs, store, scaled)
#define COL_TERMS(j, t) \
    SFX(col_terms4)(x + (j) * xs + c, xs, store ? y + (j) * ys + c : NULL, ys, k, vm, vs, t, store, scaled)
    COLS_EACH(w, c, k, {
        const V vm = SFX(ld)(m + c, k, (T)0);
        ptrdiff_t j = 0;
        if (COL_PARTS(n) == 1) { /* one accumulator, kept in registers (its address never taken) */
            A a = AOP(zero)();
            for (; j + 4 <= n; j += 4) { /* four rows' chains at a time (see exp_poly_k), added in order */
                V t[4];
                COL_TERMS(j, t);
                FSS_UNROLL for (int h = 0; h < 4; h++) a = AOP(add)(a, t[h]);
            }
            for (; j < n; j++) a = AOP(add)(a, COL_TERM(j));
            AOP(lanes)(a, s + c);
        } else {
            A part[W];
            for (ptrdiff_t q = 0; q < W; q++) part[q] = AOP(zero)();
            for (; j + W <= n; j += W) {
                if (W % 4 == 0) { /* four rows' chains at a time, as above */
                    FSS_UNROLL for (ptrdiff_t q = 0; q < W; q += 4) {
                        V t[4];
                        COL_TERMS(j + q, t);
                        FSS_UNROLL for (int h = 0; h < 4; h++) part[(q + h) % W] = AOP(add)(part[(q + h) % W], t[h]);
                    }
                } else {
                    FSS_UNROLL for (ptrdiff_t q = 0; q < W; q++) part[q] = AOP(add)(part[q], COL_TERM(j + q));
                }
            }
            for (; j < n; j++) part[j % W] = AOP(add)(part[j % W], COL_TERM(j));
            SFX(cols_totals)(part, s + c);
        }
    })
#undef COL_TERM
#undef COL_TERMS
}

/* Per-lane sums of exp(x - m) by expx (every lane's |m| <= XB_MAX; n > SHORT_V W, or SHORT_EXPX).  A
 * short slice's terms are added one by one in order (as short_expsum); a longer one's, with STORE, in T
 * four at a time in the order of expsum_x (rows j + q, j + q + W, j + q + 2W, j + q + 3W of each block of
 * 4W, to part q), without it one by one, as there: a slice gets the same bits here as in the row
 * kernels. */
FSS_INLINE void SFX(cols_expsum_x)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t w,
                                   const T *m, double *s, const int store) {
    if (n <= SHORT_V * W) {
        COLS_EACH(w, c, k, {
            const SFX(xbase) b = SFX(xbase_of)(SFX(ld)(m + c, k, (T)0));
            A a = AOP(zero)();
            ptrdiff_t j = 0;
            for (; j + 4 <= n; j += 4) { /* four rows' chains at a time, added in order */
                V t[4];
                FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = SFX(ld)(x + (j + h) * xs + c, k, (T)0);
                SFX(expx_k)(t, &b, 4);
                FSS_UNROLL for (int h = 0; h < 4; h++) {
                    if (store) SFX(st)(y + (j + h) * ys + c, k, t[h]);
                    a = AOP(add)(a, t[h]);
                }
            }
            for (; j < n; j++) {
                const V t0 = SFX(expx)(SFX(ld)(x + j * xs + c, k, (T)0), &b);
                if (store) SFX(st)(y + j * ys + c, k, t0);
                a = AOP(add)(a, t0);
            }
            AOP(lanes)(a, s + c);
        })
        return;
    }
    COLS_EACH(w, c, k, {
        const SFX(xbase) b = SFX(xbase_of)(SFX(ld)(m + c, k, (T)0));
        A part[W];
        for (ptrdiff_t q = 0; q < W; q++) part[q] = AOP(zero)();
        ptrdiff_t j = 0;
        for (; store && j + 4 * W <= n; j += 4 * W) {
            for (ptrdiff_t q = 0; q < W; q++) {
                V t[4];
                FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = SFX(ld)(x + (j + q + h * W) * xs + c, k, (T)0);
                SFX(expx_k)(t, &b, 4);
                FSS_UNROLL for (int h = 0; h < 4; h++) SFX(st)(y + (j + q + h * W) * ys + c, k, t[h]);
                part[q] = AOP(add)(part[q], VOP(add)(VOP(add)(t[0], t[1]), VOP(add)(t[2], t[3])));
            }
        }
        for (; j + 4 <= n; j += 4) { /* four rows at a time, each term to its own part */
            V t[4];
            FSS_UNROLL for (int h = 0; h < 4; h++) t[h] = SFX(ld)(x + (j + h) * xs + c, k, (T)0);
            SFX(expx_k)(t, &b, 4);
            FSS_UNROLL for (int h = 0; h < 4; h++) {
                if (store) SFX(st)(y + (j + h) * ys + c, k, t[h]);
                part[(j + h) % W] = AOP(add)(part[(j + h) % W], t[h]);
            }
        }
        for (; j < n; j++) {
            V t0 = SFX(expx)(SFX(ld)(x + j * xs + c, k, (T)0), &b);
            if (store) SFX(st)(y + j * ys + c, k, t0);
            part[j % W] = AOP(add)(part[j % W], t0);
        }
        SFX(cols_totals)(part, s + c);
    })
}

/* Per-lane sums of exp(sc (x - m)) into s[0..w), rounded up to whole vectors (s holds
 * FSS_COL_BLOCK + W).  For sc = 1, by expx where the row kernels use it (|m| <= XB_MAX, and n > SHORT_V W
 * or SHORT_EXPX), else by expm, as the short-row kernels: a slice gets the same bits from either.  Every
 * lane's |m| is on the same side of XB_MAX (the callers' runs). */
static void SFX(cols_expsum)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t w, const T *m,
                             double *s, const int store, T sc) {
    if (sc == 1 && fabs(m[0]) <= XB_MAX && (n > SHORT_V * W || SHORT_EXPX)) {
        if (store) SFX(cols_expsum_x)(x, xs, y, ys, n, w, m, s, 1);
        else SFX(cols_expsum_x)(x, xs, NULL, 0, n, w, m, s, 0);
    } else if (sc == 1 && store) SFX(cols_expsum_any)(x, xs, y, ys, n, w, m, s, 1, sc, 0);
    else if (sc == 1) SFX(cols_expsum_any)(x, xs, NULL, 0, n, w, m, s, 0, sc, 0);
    else if (sc < 1) SFX(cols_expsum_any)(x, xs, y, ys, n, w, m, s, store, 2 * sc, 2);
    else SFX(cols_expsum_any)(x, xs, y, ys, n, w, m, s, store, sc, 1);
}

/* The rows j = 0 .. n-1 of an output pass over a column block (k lanes, stored rows ys apart), for BODY.
 * Rows less than a vector apart (a partial block, k < W) go d rows apart, in d sweeps: a row's load then
 * never overlaps the store just made to the row before it (the same row of y, or of x in place), which
 * would wait for that store to complete ((1000, 10) over axis 0: softmax 2.8x faster, log_softmax in
 * place 2.5x).  Each row is computed alone: the order changes no bit. */
#define COL_ROWS(j, n, k, ys, ...)                                                                           \
    do {                                                                                                      \
        const ptrdiff_t ya_ = (ys) < 0 ? -(ys) : (ys);                                                        \
        const ptrdiff_t d_ = (k) < W && ya_ > 0 && ya_ < W ? (W + ya_ - 1) / ya_ : 1;                         \
        for (ptrdiff_t p_ = 0; p_ < d_; p_++)                                                                 \
            for (ptrdiff_t j = p_; j < (n); j += d_) {                                                        \
                __VA_ARGS__                                                                                   \
            }                                                                                                 \
    } while (0)

/* The output pass of a packed block (loads from the dense copy, stores to y): BODY for each row j and
 * vector of lanes c (k lanes), row by row, each row of y stored line after line as a copy back would
 * be, the per-lane constants set up beforehand (in arrays, element c / W).  Going down the rows a
 * vector at a time, as where the block lies (COL_ROWS), made (1000, 256) float32 softmax over axis 0
 * 1.4x slower than computing in the copy and copying it back. */
#define COLS_PACKED_OUT(j, c, k, n, w, ...) \
    for (ptrdiff_t j = 0; j < (n); j++) COLS_EACH(w, c, k, __VA_ARGS__)

/* The exp terms are kept in e (rows es apart): y itself, or a packed block, scaled from there into y. */
static void SFX(softmax_cols_finite)(const T *x, ptrdiff_t xs, T *e, ptrdiff_t es, T *y, ptrdiff_t ys,
                                     ptrdiff_t n, ptrdiff_t w, const T *m, T sc) {
    double s[FSS_COL_BLOCK + W];
    SFX(cols_expsum)(x, xs, e, es, n, w, m, s, 1, sc);
    if (e != y) {
        V f[FSS_COL_BLOCK / W];
        for (ptrdiff_t c = 0; c < w; c += W) f[c / W] = SFX(inv_lanes)(s + c);
        COLS_PACKED_OUT(j, c, k, n, w, {
            SFX(st)(y + j * ys + c, k, VOP(mul)(SFX(ld)(e + j * es + c, k, (T)0), f[c / W]));
        })
        return;
    }
    COLS_EACH(w, c, k, {
        const V vinv = SFX(inv_lanes)(s + c);
        COL_ROWS(j, n, k, ys, {
            T *p = y + j * ys + c;
            SFX(st)(p, k, VOP(mul)(SFX(ld)(p, k, (T)0), vinv));
        });
    })
}

/* sc (x - m) - L per lane, L[l] split into lh + ll as in logsub_s; sc doubled if HALVE; x a packed block
 * if PACKED. */
FSS_INLINE void SFX(cols_logsub_s)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, const int packed, ptrdiff_t n,
                                   ptrdiff_t w, const T *m, const double *L, T sc, const int halve) {
    const V vs = VOP(set1)(sc);
    if (packed) {
        V vm[FSS_COL_BLOCK / W], vlh[FSS_COL_BLOCK / W], vll[FSS_COL_BLOCK / W];
        COLS_EACH(w, c, k, {
            vm[c / W] = SFX(ld)(m + c, k, (T)0);
            SFX(split_lanes)(L + c, &vlh[c / W], &vll[c / W]);
        })
        COLS_PACKED_OUT(j, c, k, n, w, {
            const V v = SFX(ld)(x + j * xs + c, k, (T)0);
            SFX(st)(y + j * ys + c, k, SFX(logsub_s_vec)(v, vm[c / W], vs, vlh[c / W], vll[c / W], halve));
        })
        return;
    }
    COLS_EACH(w, c, k, {
        V vm = SFX(ld)(m + c, k, (T)0), vlh, vll;
        SFX(split_lanes)(L + c, &vlh, &vll);
        COL_ROWS(j, n, k, ys, {
            SFX(st)(y + j * ys + c, k, SFX(logsub_s_vec)(SFX(ld)(x + j * xs + c, k, (T)0), vm, vs, vlh, vll, halve));
        });
    })
}

/* x a packed block if PACKED. */
static void SFX(log_softmax_cols_finite)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, const int packed,
                                         ptrdiff_t n, ptrdiff_t w, const T *m, T sc) {
    double L[FSS_COL_BLOCK + W];
    SFX(cols_expsum)(x, xs, NULL, 0, n, w, m, L, 0, sc);
    for (ptrdiff_t l = 0; l < w; l += W) SFX(log_lanes)(L + l, L + l);
    if (sc < 1) {
        SFX(cols_logsub_s)(x, xs, y, ys, packed, n, w, m, L, 2 * sc, 1);
        return;
    }
    if (sc > 1) {
        SFX(cols_logsub_s)(x, xs, y, ys, packed, n, w, m, L, sc, 0);
        return;
    }
    if (packed) {
        V vh[FSS_COL_BLOCK / W], vl[FSS_COL_BLOCK / W];
        COLS_EACH(w, c, k, { SFX(lse_split_lanes)(SFX(ld)(m + c, k, (T)0), L + c, &vh[c / W], &vl[c / W]); })
        COLS_PACKED_OUT(j, c, k, n, w, {
            const V v = SFX(ld)(x + j * xs + c, k, (T)0);
            SFX(st)(y + j * ys + c, k, VOP(sub)(VOP(sub)(v, vh[c / W]), vl[c / W]));
        })
        return;
    }
    COLS_EACH(w, c, k, {
        V vh, vl;
        SFX(lse_split_lanes)(SFX(ld)(m + c, k, (T)0), L + c, &vh, &vl);
        COL_ROWS(j, n, k, ys, {
            SFX(st)(y + j * ys + c, k, VOP(sub)(VOP(sub)(SFX(ld)(x + j * xs + c, k, (T)0), vh), vl));
        });
    })
}

static void SFX(logsumexp_cols_finite)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t n, ptrdiff_t w,
                                       const T *m, T sc) {
    double s[FSS_COL_BLOCK + W];
    SFX(cols_expsum)(x, xs, NULL, 0, n, w, m, s, 0, sc);
    for (ptrdiff_t l = 0; l < w; l += W) SFX(log_lanes)(s + l, s + l);
    if (sc == 1) {
        COLS_EACH(w, c, k, { SFX(st)(y + c, k, SFX(lse_lanes)(SFX(ld)(m + c, k, (T)0), s + c)); })
    } else {
        for (ptrdiff_t l = 0; l < w; l++) y[l] = SFX(fss_lse_scaled)(m[l], sc, s[l]);
    }
}

/* Runs of lanes with a finite max go to the vector code; a lane with a non-finite max (rare) is a
 * special slice, finished before any vector pass writes (in place stays correct).  A run holds lanes
 * on one side of XB_MAX only, so each lane takes the exp its slice takes in the row kernels. */
static inline int SFX(xsame)(T a, T b) { return (fabs(a) <= XB_MAX) == (fabs(b) <= XB_MAX); }

/* 1 if every lane's max is finite with |m| <= XB_MAX (the usual case): the block is one run, found
 * without a lane-by-lane scan.  m - m is NaN for an infinite or NaN m, and the sum keeps it. */
static int SFX(cols_small)(const T *m, ptrdiff_t w) {
    V fin = VSET(0), mag = VSET(0);
    COLS_EACH(w, c, k, {
        const V v = SFX(ld)(m + c, k, (T)0);
        fin = VOP(add)(fin, VOP(sub)(v, v));
        mag = VOP(max)(mag, VOP(max)(v, VOP(sub)(VSET(0), v)));
    })
    T a[W], b[W];
    VOP(store)(a, fin);
    VOP(store)(b, mag);
    int ok = 1;
    for (ptrdiff_t l = 0; l < W; l++) ok &= (a[l] == 0) & (b[l] <= XB_MAX);
    return ok;
}

/* The column kernels.  Given b (n * w elements), the block is packed there by the first pass, which
 * reads x, and the passes that follow read b (softmax keeps its exp terms there too); the last writes
 * y.  The same bits either way. */
static void SFX(softmax_cols)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, ptrdiff_t w, T sc,
                              T *b) {
    T m[FSS_COL_BLOCK];
    SFX(cols_max)(x, xs, n, w, m, b);
    T *e = b ? b : y;
    const ptrdiff_t es = b ? w : ys;
    if (b) x = b, xs = w;
    if (SFX(cols_small)(m, w)) {
        SFX(softmax_cols_finite)(x, xs, e, es, y, ys, n, w, m, sc);
        return;
    }
    for (ptrdiff_t l0 = 0, l1; l0 < w; l0 = l1) {
        if (!isfinite(m[l0])) {
            SPECIAL(softmax)(x + l0, xs, y + l0, ys, n);
            l1 = l0 + 1;
            continue;
        }
        for (l1 = l0 + 1; l1 < w && isfinite(m[l1]) && SFX(xsame)(m[l1], m[l0]);) l1++;
        SFX(softmax_cols_finite)(x + l0, xs, e + l0, es, y + l0, ys, n, l1 - l0, m + l0, sc);
    }
}

static void SFX(log_softmax_cols)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n,
                                  ptrdiff_t w, T sc, T *b) {
    T m[FSS_COL_BLOCK];
    SFX(cols_max)(x, xs, n, w, m, b);
    if (b) x = b, xs = w;
    if (SFX(cols_small)(m, w)) {
        SFX(log_softmax_cols_finite)(x, xs, y, ys, b != NULL, n, w, m, sc);
        return;
    }
    for (ptrdiff_t l0 = 0, l1; l0 < w; l0 = l1) {
        if (!isfinite(m[l0])) {
            SPECIAL(log_softmax)(x + l0, xs, y + l0, ys, n);
            l1 = l0 + 1;
            continue;
        }
        for (l1 = l0 + 1; l1 < w && isfinite(m[l1]) && SFX(xsame)(m[l1], m[l0]);) l1++;
        SFX(log_softmax_cols_finite)(x + l0, xs, y + l0, ys, b != NULL, n, l1 - l0, m + l0, sc);
    }
}

static void SFX(logsumexp_cols)(const T *x, ptrdiff_t xs, T *y, ptrdiff_t n, ptrdiff_t w, T sc, T *b) {
    T m[FSS_COL_BLOCK];
    SFX(cols_max)(x, xs, n, w, m, b);
    if (b) x = b, xs = w;
    if (SFX(cols_small)(m, w)) {
        SFX(logsumexp_cols_finite)(x, xs, y, n, w, m, sc);
        return;
    }
    for (ptrdiff_t l0 = 0, l1; l0 < w; l0 = l1) {
        if (!isfinite(m[l0])) {
            y[l0] = SPECIAL(logsumexp)(x + l0, xs, n);
            l1 = l0 + 1;
            continue;
        }
        for (l1 = l0 + 1; l1 < w && isfinite(m[l1]) && SFX(xsame)(m[l1], m[l0]);) l1++;
        SFX(logsumexp_cols_finite)(x + l0, xs, y + l0, n, l1 - l0, m + l0, sc);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Many short rows: W at a time, row r of a block in lane r                                          */

/* W rows of n <= SHORT_V W elements, xs apart, of sc * x (sc, scaled as in the short kernels),
 * transposed so that c[j] holds element j of every row: max, exp and sum are then vertical, with no
 * horizontal step and no per-row dependency chain; the results are transposed back.  The columns are
 * padded with -inf to whole groups of W (for the max; only the n real ones are exponentiated).  Per lane, the
 * arithmetic is that of the column kernels (cols_max, cols_expsum_any, softmax_cols_finite,
 * log_softmax_cols_finite, logsumexp_cols_finite), so a row gets the bits it gets there.  Returns 0,
 * having written nothing, if a row's max is not finite, or (SHORT_EXPX, unscaled) beyond XB_MAX (the
 * caller then takes the rows one by one). */
FSS_INLINE int SFX(short_lanes)(const int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t n, T sc,
                                const int scaled) {
    V c[SHORT_V * W];
    const ptrdiff_t nc = (n + W - 1) / W * W; /* columns, padded */
    V vm = VSET(-INFINITY);
    for (ptrdiff_t g = 0; g < nc; g += W) {
        const ptrdiff_t k = n - g < W ? n - g : W;
        FSS_UNROLL for (ptrdiff_t r = 0; r < W; r++) c[g + r] = SFX(ld)(x + r * xs + g, k, (T)-INFINITY);
        VOP(transpose)(c + g);
        FSS_UNROLL for (ptrdiff_t r = 0; r < W; r++) vm = VOP(max)(vm, c[g + r]);
    }
    /* g per lane: m - m, 0 for a finite max; with expx, |m| or XB_MAX where larger (NaN for a NaN max:
     * v_max returns its second operand then).  Tested with & on the stored lanes: a branch per lane
     * (&&) made (65536, 10) 8% slower */
    const int xp = SHORT_EXPX && !scaled;
    const V g = xp ? VOP(max)(VSET(XB_MAX), VOP(max)(vm, VOP(sub)(VSET(0), vm))) : VOP(sub)(vm, vm);
    T m[W], gl[W];
    VOP(store)(m, vm);
    VOP(store)(gl, g);
    int finite = 1;
    for (ptrdiff_t l = 0; l < W; l++) finite &= gl[l] == (xp ? (T)XB_MAX : (T)0);
    if (!finite) return 0;
    const V vs = VOP(set1)(sc);
    const SFX(xbase) b = SFX(xbase_of)(xp ? vm : VSET(0));
    A a = AOP(zero)();
    ptrdiff_t j = 0;
    for (; !scaled && j + 2 <= n; j += 2) { /* two at a time: their chains interleave (see exp_poly_k; four
                                            * at a time spill c[] and are slower, 65536 x 10) */
        V t[2] = {c[j], c[j + 1]};
        if (xp) SFX(expx_k)(t, &b, 2);
        else SFX(expm_k)(t, vm, 2);
        if (op == FSS_OP_SOFTMAX) c[j] = t[0], c[j + 1] = t[1];
        a = AOP(add)(AOP(add)(a, t[0]), t[1]);
    }
    for (; j < n; j++) {
        const V t = scaled ? SFX(expm_s)(c[j], vm, vs, scaled == 2)
                           : xp ? SFX(expx)(c[j], &b) : SFX(expm)(c[j], vm);
        if (op == FSS_OP_SOFTMAX) c[j] = t;
        a = AOP(add)(a, t);
    }
    double s[W];
    AOP(lanes)(a, s);
    if (op != FSS_OP_SOFTMAX) SFX(log_lanes)(s, s);
    if (op == FSS_OP_LOGSUMEXP) {
        if (scaled) {
            for (ptrdiff_t l = 0; l < W; l++) y[l * ys] = SFX(fss_lse_scaled)(m[l], SHORT_S(sc, scaled), s[l]);
        } else {
            VOP(store)(m, SFX(lse_lanes)(vm, s));
            for (ptrdiff_t l = 0; l < W; l++) y[l * ys] = m[l];
        }
        return 1;
    }
    V v1, v2;
    if (op == FSS_OP_SOFTMAX) v1 = v2 = SFX(inv_lanes)(s);
    else if (scaled) SFX(split_lanes)(s, &v1, &v2);
    else SFX(lse_split_lanes)(vm, s, &v1, &v2);
    for (ptrdiff_t g = 0; g < nc; g += W) {
        const ptrdiff_t k = n - g < W ? n - g : W;
        FSS_UNROLL for (ptrdiff_t j = g; j < g + W; j++) {
            if (op == FSS_OP_SOFTMAX) c[j] = VOP(mul)(c[j], v1);
            else if (scaled) c[j] = SFX(logsub_s_vec)(c[j], vm, vs, v1, v2, scaled == 2);
            else c[j] = VOP(sub)(VOP(sub)(c[j], v1), v2);
        }
        VOP(transpose)(c + g);
        FSS_UNROLL for (ptrdiff_t r = 0; r < W; r++) SFX(st)(y + r * ys + g, k, c[g + r]);
    }
    return 1;
}

/* Short rows W at a time (short_lanes), the rest (and any block with a non-finite max) two at a time. */
FSS_INLINE void SFX(short_rows_lanes)(const int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t rows,
                                      ptrdiff_t n, T sc, const int scaled) {
    ptrdiff_t r = 0;
    for (; r + W <= rows; r += W)
        if (!SFX(short_lanes)(op, x + r * xs, xs, y + r * ys, ys, n, sc, scaled))
            SFX(short_rows)(op, x + r * xs, xs, y + r * ys, ys, W, n, sc, scaled);
    if (r < rows) SFX(short_rows)(op, x + r * xs, xs, y + r * ys, ys, rows - r, n, sc, scaled);
}

/* Short rows of op on s * x, each operation and scale mode an inlined copy. */
FSS_INLINE void SFX(short_rows_op)(const int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t rows,
                                   ptrdiff_t n, T s) {
    if (s == 1) SFX(short_rows_lanes)(op, x, xs, y, ys, rows, n, 1, 0);
    else if (s < 1) SFX(short_rows_lanes)(op, x, xs, y, ys, rows, n, 2 * s, 2);
    else SFX(short_rows_lanes)(op, x, xs, y, ys, rows, n, s, 1);
}

/* op on `rows` rows of s * x (s > 0 finite, 1: plain); y may be x. */
static void SFX(rows)(int op, const T *x, ptrdiff_t xs, T *y, ptrdiff_t ys, ptrdiff_t rows, ptrdiff_t n, T s,
                      const int pf) {
    if (n <= SHORT_V * W) {
        if (op == FSS_OP_SOFTMAX) SFX(short_rows_op)(FSS_OP_SOFTMAX, x, xs, y, ys, rows, n, s);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(short_rows_op)(FSS_OP_LOG_SOFTMAX, x, xs, y, ys, rows, n, s);
        else SFX(short_rows_op)(FSS_OP_LOGSUMEXP, x, xs, y, ys, rows, n, s);
        return;
    }
    if (s == 1 && n * (ptrdiff_t)sizeof(T) > FSS_PAIR_ROW_BYTES) {
        if (ROWS_SEQ) SFX(rows_seq)(op, x, xs, y, ys, rows, n, pf);
        else
            for (ptrdiff_t r = 0; r < rows; r++)
                SFX(row)(op, x + r * xs, y + r * ys, n, r + 1 < rows ? x + (r + 1) * xs : NULL, NULL, pf);
        return;
    }
    ptrdiff_t r = 0;
#if FSS_TPL_F32
    const ptrdiff_t quad = op == FSS_OP_SOFTMAX ? FSS_QUAD_SOFTMAX_ROW_BYTES : FSS_QUAD_ROW_BYTES;
    for (; s == 1 && n * (ptrdiff_t)sizeof(T) <= quad && r + 4 <= rows; r += 4) /* the next rows prefetched */
        SFX(row_quad)(op, x + r * xs, xs, y + r * ys, ys, n, r + 8 <= rows ? x + (r + 4) * xs : NULL, pf);
#endif
    for (; s == 1 && r + 2 <= rows; r += 2)
        SFX(row_pair)(op, x + r * xs, xs, y + r * ys, ys, n, r + 4 <= rows ? x + (r + 2) * xs : NULL, pf);
    for (; r < rows; r++) {
        if (s != 1) SFX(row_scaled)(op, x + r * xs, y + r * ys, n, s);
        else if (op == FSS_OP_SOFTMAX) SFX(softmax)(x + r * xs, y + r * ys, n);
        else if (op == FSS_OP_LOG_SOFTMAX) SFX(log_softmax)(x + r * xs, y + r * ys, n);
        else y[r * ys] = SFX(logsumexp)(x + r * xs, n);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Backward passes of a row.  sum(a * b) (or sum(a) when !MUL) in the row accumulator.               */

FSS_INLINE double SFX(dot_any)(const T *a, const T *b, ptrdiff_t n, const int mul) {
    A acc = AOP(zero)();
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        V v = SFX(ld)(a + i, k, (T)0);
        acc = AOP(add)(acc, mul ? VOP(mul)(v, SFX(ld)(b + i, k, (T)0)) : v);
    }
    return AOP(total)(acc);
}
static double SFX(dot)(const T *a, const T *b, ptrdiff_t n) { return SFX(dot_any)(a, b, n, 1); }
static double SFX(sum)(const T *a, ptrdiff_t n) { return SFX(dot_any)(a, NULL, n, 0); }

/* sum(b (m - x)) (b == NULL: sum(m - x)) for m >= max(x), in the row accumulator; a zero b_c contributes
 * exactly 0 even where x_c = -inf (xlogy's rule), a nonzero one +inf there.  Cross-entropy's terms. */
FSS_INLINE double SFX(lsub_dot_any)(const T *x, const T *b, ptrdiff_t n, T m, const int weighted) {
    V vm = VOP(set1)(m), zero = VSET(0), tiny = VSET(FSS_DENORM_MIN);
    A acc = AOP(zero)();
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        V d = VOP(sub)(vm, SFX(ld)(x + i, k, m));
        if (weighted) {
            V vb = SFX(ld)(b + i, k, (T)0);
            d = VOP(zero_below)(VOP(mul)(vb, d), VOP(max)(vb, VOP(sub)(zero, vb)), tiny);
        }
        acc = AOP(add)(acc, d);
    }
    return AOP(total)(acc);
}
static double SFX(lsub_dot)(const T *x, const T *b, ptrdiff_t n, T m) {
    return b ? SFX(lsub_dot_any)(x, b, n, m, 1) : SFX(lsub_dot_any)(x, NULL, n, m, 0);
}

/* dx = y (dy - c): softmax's backward with c = sum(dy y).  dx may be dy or y. */
static void SFX(softmax_bwd)(const T *dy, const T *y, T *dx, ptrdiff_t n, T c) {
    V vc = VOP(set1)(c);
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        SFX(st)(dx + i, k, VOP(mul)(SFX(ld)(y + i, k, (T)0), VOP(sub)(SFX(ld)(dy + i, k, (T)0), vc)));
    }
}

/* dx = dy - exp(y) c: log_softmax's backward with c = sum(dy), for y <= 0 (or NaN). */
static void SFX(log_softmax_bwd)(const T *dy, const T *y, T *dx, ptrdiff_t n, T c) {
    V vc = VOP(set1)(c), zero = VSET(0);
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        V e = SFX(exp_reduced)(SFX(ld)(y + i, k, (T)0), zero);
        SFX(st)(dx + i, k, VOP(sub)(SFX(ld)(dy + i, k, (T)0), VOP(mul)(e, vc)));
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* The one-logit case: sigmoid(x) = 1 / (1 + exp(-x)) and log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)),
 * both from e = exp(-|x|) in (0, 1], so nothing overflows.  NaN propagates (v_max returns its second
 * operand when either is NaN, and every blend below keeps x's NaN). */

FSS_INLINE V SFX(exp_neg_abs)(V x) {
    V zero = VSET(0);
    V a = VOP(max)(VOP(sub)(zero, x), x); /* |x|, NaN kept */
    return SFX(exp_reduced)(VOP(sub)(zero, a), zero);
}

/* x >= 0: 1 / (1 + e); x < 0: e / (1 + e).  Both are a correctly rounded sum and quotient of an
 * accurate e: within 3 ulp.  Lanes below exp's range flush to 0 (allowed below the smallest normal). */
static void SFX(sigmoid)(const T *x, T *y, ptrdiff_t n) {
    V one = VSET(1), zero = VSET(0);
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        V v = SFX(ld)(x + i, k, (T)0);
        V e = SFX(exp_neg_abs)(v);
        V num = VOP(max)(VOP(zero_below)(one, v, zero), e); /* 1 where x >= 0, else e (NaN: e) */
        SFX(st)(y + i, k, VOP(div)(num, VOP(add)(one, e)));
    }
}

/* log1p(e) = 2 atanh(z), z = e / (2 + e) in [0, 1/3], from its series 2 z (1 + w/3 + w^2/5 + ...) with
 * w = z^2 <= 1/9, truncated where the rest is below 2^-26 (float) or 2^-55 (double) relative: accurate
 * relative to log1p(e) however small e is, so log_sigmoid(x) keeps its digits for large x too. */
static void SFX(log_sigmoid)(const T *x, T *y, ptrdiff_t n) {
#if FSS_TPL_F32
    enum { NTERMS = 7 };
#else
    enum { NTERMS = 15 };
#endif
    V two = VSET(2), zero = VSET(0);
    for (ptrdiff_t i = 0; i < n; i += W) {
        ptrdiff_t k = n - i < W ? n - i : W;
        V v = SFX(ld)(x + i, k, (T)0);
        V e = SFX(exp_neg_abs)(v);
        V z = VOP(div)(e, VOP(add)(two, e));
        V w = VOP(mul)(z, z);
        V p = VSET(2.0 / (2 * NTERMS + 1));
        for (int t = NTERMS - 1; t >= 1; t--) p = VOP(fma)(p, w, VSET(2.0 / (2 * t + 1)));
        V l = VOP(fma)(VOP(mul)(z, w), p, VOP(add)(z, z)); /* log1p(e) */
        V mn = VOP(zero_below)(v, VOP(sub)(zero, v), zero);  /* min(x, 0): 0 where x > 0 */
        SFX(st)(y + i, k, VOP(sub)(mn, l));
    }
}

#undef T
#undef SFX
#undef V
#undef W
#undef VOP
#undef A
#undef AOP
#undef SPECIAL
#undef EXP_THR
#undef EXP_LOG2E
#undef EXP_LN2_HI
#undef EXP_LN2_LO
#undef FSS_DENORM_MIN
#undef XB_MAGIC
#undef XB_BIAS
#undef XB_LOW
#undef XB_MAX
#undef VSET
#undef SHORT_V
#undef SHORT_EXPX
#undef SHORT_S
#undef COL_PARTS
#undef COL_ROWS
#undef COLS_PACKED_OUT
#undef COLS_EACH
#undef EXP_NC
#undef EXP_LUT
#undef LUT_C2
#undef LUT_C3
