/*
 * kernel_check.c - standalone accuracy / special-value / bounds test of the fastsoftmax kernel tables.
 *
 * Linked directly with src/libfastsoftmax/isa_scalar.c and whichever ISA files are compiled in:
 *   -DFSS_HAVE_AVX2     isa_avx2.c   (table skipped at run time when the CPU lacks AVX2/FMA)
 *   -DFSS_HAVE_AVX512   isa_avx512.c (skipped when the CPU lacks AVX-512 F/DQ/BW/VL, unless
 *                       -DFSS_EMULATE_AVX512: isa_avx512.c built over SIMDe, runs anywhere)
 *   -DFSS_HAVE_NEON     isa_neon.c   (AArch64; e.g. under qemu-aarch64)
 * See build_and_run.sh.  Each function of each table is checked against a reference in
 * double (float32 results) or long double (float64 results; its exp in double-double where long double
 * is software quad) with the package's accuracy contract:
 *   softmax:               |err| <= 4 eps * ref where ref >= tiny, |err| <= tiny below
 *   log_softmax/logsumexp: |err| <= 4 eps * max(1, |ref|)
 *   (eps, tiny) = (2^-23, 2^-126) for float32, (2^-52, 2^-1022) for float64,
 * and the special-value rules (NaN, +-inf, huge magnitudes), in place and out of place, rows and column
 * blocks, with every buffer placed against a PROT_NONE guard page (reads or writes past either end
 * fault) and surrounded by canaries (writes outside the elements are detected, also in stride gaps).
 * The loss-family kernels (check_ext_template.h): softmax / log_softmax / logsumexp of s * x built as
 * the driver builds them (rmax, expsum_s + scale, sumexp_s + logsub_s, s m + log(sum)) for scales
 * 0.125, 3.7, 1e-3, 1e3, 1 (same bounds, on the exact products s * x); sumexp_s (relative); dot and sum
 * (|err| <= 4 eps sum |terms|), lsub_dot (the same; +inf or NaN where a nonzero b meets x = -inf), keep
 * (y = w ? x : fill, bit for bit);
 * batches of 37 rows through rows_ (short rows W at a time, transposed; leftovers and blocks holding a
 * row with a non-finite max by the per-row kernels), n = 1..33, 48, 63..65, s = 1, 0.3, 2.5, row strides
 * with gaps, a special value planted in one row: each row against its reference, and the same bits as
 * that row alone, in pairs, in the batch started 3 rows later, in place, in the batch without the special
 * row (the other rows), and through the column kernels on the transposed rows;
 * softmax_bwd (relative, given c); log_softmax_bwd (|err| <= 4 eps
 * (|dy| + exp(y) |c|)); sigmoid and log_sigmoid (relative 4 eps where |ref| >= tiny, absolute tiny
 * below) over bit-pattern sweeps of the whole range.
 *
 * Options:
 *   --only NAME        test only the table NAME (scalar, avx2, avx512, neon)
 *   --big K            distributions run at n = 100000 (0..6, default 6)
 *   --exp-stride S     exp_f32: test every S-th float of [-87.33, 0] (default 64)
 *   --exp64-n N        exp_f64: number of sample points (default 1048576)
 *   --exp-limit U      max error of the bare exp in ulp (default 1.5)
 *   --worst            also print where each maximum error was reached
 *   --lite             fewer column cases (every w still, fewer n per w) and loss-family rows; for qemu
 *   --sig-stride S     sigmoid_f32 / log_sigmoid_f32: every S-th bit pattern of 2^32 (default 257)
 *   --sig64-n N        sigmoid_f64 / log_sigmoid_f64: number of sample points (default 1048576)
 *   --selftest         only compare the double-double exp of the reference with expl
 * Exit status 0: all checks passed; 1: a violation (the first few are printed with their inputs);
 * 2: usage error.  A fault in a kernel (out-of-bounds access) prints the case and exits with 3.
 */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fss_internal.h"

#if LDBL_MANT_DIG < 64
#error "kernel_check needs a long double wider than double for the float64 reference"
#endif

#define CK_CAT_(a, b) a##b
#define CK_CAT(a, b) CK_CAT_(a, b)
#define CK_STR_(a) #a
#define CK_STR(a) CK_STR_(a)

/* ---------------------------------------------------------------------------------------------- */
/* Options, tables, statistics                                                                      */

static int opt_big = 6;
static long opt_exp_stride = 64;
static long opt_exp64_n = 1L << 20;
static double exp_limit_opt = 1.5;
#define EXP_LIMIT exp_limit_opt
static const char *opt_only = NULL;
static int opt_worst = 0;
static int opt_lite = 0; /* fewer column cases (for the slow variants under qemu) */
static long opt_sig_stride = 257;   /* sigmoid_f32: every S-th bit pattern of 2^32 */
static long opt_sig64_n = 1L << 20; /* sigmoid_f64: sample points */

typedef struct {
    const char *name;
    const fss_kernels *k;
} table_t;
static table_t tables[4];
static int ntables;

/* The vector width W of table t for float (dt 0) or double (dt 1): rows of up to 4W elements are short. */
static ptrdiff_t table_width(int t, int dt) {
    const char *nm = tables[t].name;
    if (!strcmp(nm, "avx2")) return dt ? 4 : 8;
    if (!strcmp(nm, "avx512")) return dt ? 8 : 16;
    if (!strcmp(nm, "neon")) return dt ? 2 : 4;
    return 1; /* scalar */
}

enum { F_SM, F_LS, F_LSE, F_SMC, F_LSC, F_LSEC, F_EXP, /* the loss family: */ F_SMS, F_LSS, F_LSES, F_SUMS,
       F_DOT, F_SUM, F_SMB, F_LSB, F_SIG, F_LSIG, F_LSD, F_KEEP, /* batches of short rows: */ F_SRB, NF };
static const char *const fname[NF] = {"softmax", "log_softmax", "logsumexp", "softmax_cols",
                                      "log_softmax_cols", "logsumexp_cols", "exp", "softmax_s", "log_softmax_s",
                                      "logsumexp_s", "sumexp_s", "dot", "sum", "softmax_bwd", "log_softmax_bwd",
                                      "sigmoid", "log_sigmoid", "lsub_dot", "keep", "rows_ same bits"};
static const char *const dtname[2] = {"f32", "f64"};

typedef struct {
    double max_units; /* eps units (softmax family, limit 4) or ulp (exp) */
    long checks, fails;
    char worst[400]; /* where max_units was reached (--worst) */
} stat_t;
static stat_t stats[4][2][NF];

/* a reference value: hi + lo (double-double) */
typedef struct {
    double hi, lo;
} ref_t;

static long total_failures;
static const char *current_case;
#define MAX_PRINTED 12

/* Count a failure; print its header and return 1 if it is among the first MAX_PRINTED. */
static int note_failure(int t, int dt, int f, const char *variant) {
    if (++total_failures > MAX_PRINTED) return 0;
    fprintf(stderr, "FAIL [%s] %s_%s: %s\n", tables[t].name, fname[f], dtname[dt], variant);
    return 1;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------------------------------------- */
/* Random numbers (splitmix64), reseeded per case so that a case can be reproduced from its seed     */

static uint64_t rng_s, case_counter;
static uint64_t rng_next(void) {
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint64_t rng_reseed(void) {
    rng_s = 0x5eed0000ull + ++case_counter;
    return rng_s;
}
static double rng_uniform(double a, double b) { return a + (b - a) * ((double)(rng_next() >> 11) * 0x1p-53); }
static ptrdiff_t rng_below(ptrdiff_t n) { return (ptrdiff_t)(rng_next() % (uint64_t)n); }
static double rng_normal(void) {
    double u = ((double)(rng_next() >> 11) + 0.5) * 0x1p-53, v = (double)(rng_next() >> 11) * 0x1p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

enum { NDIST = 6 };
static const char *const dist_name[NDIST] = {"uniform[-1,1]", "uniform[-50,50]", "normal*10", "dominant",
                                             "uniform[90,100]", "uniform[-200,-100]"};
enum { NSCEN = 14 };
static const char *const scen_name[NSCEN] = {
    "NaN at p",           "+inf at p",        "-inf at p",           "NaN at p, +inf at q",
    "+inf at p and q, -inf at r", "all -inf", "all +inf",            "all -inf but p finite",
    "all -inf, NaN at p", "+huge at p, -huge at q", "all +-huge, +huge at p", "-huge at p, -inf at q",
    "max finite at p and r, -max at q", "-inf at p, NaN at q, +inf at r"};

/* ---------------------------------------------------------------------------------------------- */
/* exp for the float64 reference.  Where long double is the x87 80-bit format, expl is fast and good to
 * ~2^-63.  Where it is IEEE quad (AArch64), expl is software and slow (about 11 us per call under
 * qemu), so exp is computed in double-double instead (~2^-95 relative): x = k ln2 + r, exp(r / 2^10) by
 * its Taylor series, squared 10 times.  --selftest compares the two.                               */

typedef struct {
    double h, l;
} dd_t;
static dd_t dd_quick(double a, double b) {
    double s = a + b;
    dd_t r = {s, b - (s - a)};
    return r;
}
static dd_t dd_two_sum(double a, double b) {
    double s = a + b, bb = s - a;
    dd_t r = {s, (a - (s - bb)) + (b - bb)};
    return r;
}
static dd_t dd_add(dd_t a, dd_t b) {
    dd_t s = dd_two_sum(a.h, b.h), t = dd_two_sum(a.l, b.l);
    s = dd_quick(s.h, s.l + t.h);
    return dd_quick(s.h, s.l + t.l);
}
static dd_t dd_mul(dd_t a, dd_t b) {
    double p = a.h * b.h, e = fma(a.h, b.h, -p);
    return dd_quick(p, e + (a.h * b.l + a.l * b.h));
}
static dd_t dd_div_d(dd_t a, double b) {
    double q1 = a.h / b, p = q1 * b, pe = fma(q1, b, -p);
    double rem = ((a.h - p) - pe) + a.l;
    return dd_quick(q1, rem / b);
}

static long double exp_dd(long double v) {
    if (v != v) return v;
    if (v < -1100) return 0; /* far below the double range (and -inf) */
    if (v == 0) return 1;
    /* ln2 = L0 + L1 + L2 */
    const double L0 = 0x1.62e42fefa39efp-1, L1 = 0x1.abc9e3b39803fp-56, L2 = 0x1.7b57a079a1934p-111;
    double xh = (double)v, xl = (double)(v - (long double)xh);
    double k = nearbyint(xh * 0x1.71547652b82fep+0);
    dd_t x = {xh, xl};
    dd_t p0 = {-k * L0, -fma(k, L0, -(k * L0))}, p1 = {-k * L1, -fma(k, L1, -(k * L1))};
    dd_t r = dd_add(dd_add(x, p0), dd_add(p1, dd_quick(-k * L2, 0)));
    r.h = ldexp(r.h, -10);
    r.l = ldexp(r.l, -10);
    dd_t one = {1, 0}, p = one;
    for (int i = 9; i >= 1; i--) p = dd_add(one, dd_div_d(dd_mul(r, p), (double)i));
    for (int i = 0; i < 10; i++) p = dd_mul(p, p);
    return ldexpl((long double)p.h + (long double)p.l, (int)k);
}

#if LDBL_MANT_DIG > 64
#define REF_EXPL(v) exp_dd(v)
#define REF_EXPL_NAME "double-double exp"
#else
#define REF_EXPL(v) expl(v)
#define REF_EXPL_NAME "expl"
#endif

/* Max relative difference of exp_dd and expl over [-745, 0] (and near 0). */
static int selftest(void) {
    long double worst = 0, wx = 0;
    for (long i = 0; i < 200000; i++) {
        long double x = i % 4 ? -745.0L * (long double)i / 200000.0L
                              : -ldexpl((long double)rng_uniform(1, 2), -(int)(i % 200) / 4);
        if (i % 3 == 0) x -= (long double)rng_uniform(0, 1) * 0x1p-40L;
        long double a = expl(x), b = exp_dd(x), d = fabsl(a - b) / a;
        if (d > worst) {
            worst = d;
            wx = x;
        }
    }
    printf("selftest: max |exp_dd - expl| / expl = %Lg (2^%.1f) at x = %.21Lg (long double: %d-bit mantissa)\n", worst,
           worst > 0 ? (double)log2l(worst) : -INFINITY, wx, LDBL_MANT_DIG);
    return worst < 0x1p-60L ? 0 : 1;
}

/* ---------------------------------------------------------------------------------------------- */
/* Guarded buffers: [PROT_NONE page][usable pages][PROT_NONE page]                                  */

typedef struct {
    unsigned char *base; /* first usable byte */
    size_t size;
} arena_t;
static arena_t arena_x, arena_y, arena_z;
static const char *const mode_name[3] = {"at page end", "at page start", "misaligned mid"};
#define CANARY 0xFF /* reads as NaN in either precision: a stray read poisons the result */
#define GUARD_SPAN 512

static arena_t arena_new(size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t size = (bytes + page - 1) / page * page;
    unsigned char *p = mmap(NULL, size + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, page, PROT_NONE) || mprotect(p + page + size, page, PROT_NONE)) {
        perror("mmap/mprotect");
        exit(2);
    }
    arena_t a = {p + page, size};
    return a;
}

/* mode 0: the buffer ends where the trailing guard page begins; 1: starts right after the leading
 * guard page; 2: in the middle, not aligned to a vector. */
static void *place(const arena_t *a, size_t bytes, int mode, size_t es) {
    if (bytes > a->size - 8192) {
        fprintf(stderr, "buffer of %zu bytes too large for the arena\n", bytes);
        exit(2);
    }
    if (mode == 0) return a->base + a->size - bytes;
    if (mode == 1) return a->base;
    return a->base + 4096 + 3 * es;
}

static void layout_span(const arena_t *a, const void *p, size_t es, ptrdiff_t rows, ptrdiff_t stride,
                        ptrdiff_t width, unsigned char **lo, unsigned char **hi) {
    unsigned char *b = (unsigned char *)p, *e = b + (size_t)((rows - 1) * stride + width) * es;
    *lo = b - a->base > GUARD_SPAN ? b - GUARD_SPAN : a->base;
    *hi = (size_t)(a->base + a->size - e) > GUARD_SPAN ? e + GUARD_SPAN : a->base + a->size;
}

/* Canaries around the rows x width elements at p (rows stride elements apart) and in the gaps. */
static void fill_layout(const arena_t *a, void *p, size_t es, ptrdiff_t rows, ptrdiff_t stride, ptrdiff_t width) {
    unsigned char *lo, *hi;
    layout_span(a, p, es, rows, stride, width, &lo, &hi);
    memset(lo, CANARY, (size_t)(hi - lo));
}

/* Byte offset (from p) of the first damaged canary, or PTRDIFF_MIN if none. */
static ptrdiff_t layout_damage(const arena_t *a, const void *p, size_t es, ptrdiff_t rows, ptrdiff_t stride,
                               ptrdiff_t width) {
    unsigned char *lo, *hi, *b = (unsigned char *)p;
    layout_span(a, p, es, rows, stride, width, &lo, &hi);
    for (unsigned char *q = lo; q < b; q++)
        if (*q != CANARY) return q - b;
    for (ptrdiff_t j = 0; j < rows; j++) {
        unsigned char *g0 = b + (size_t)(j * stride + width) * es;
        unsigned char *g1 = j + 1 < rows ? b + (size_t)((j + 1) * stride) * es : hi;
        for (unsigned char *q = g0; q < g1; q++)
            if (*q != CANARY) return q - b;
    }
    return PTRDIFF_MIN;
}

static void on_fault(int sig) {
    /* not async-signal-safe in general, but the process is about to die anyway */
    fprintf(stderr, "\nFATAL: signal %d (out-of-bounds access?) during: %s\n", sig,
            current_case ? current_case : "(no kernel call)");
    fflush(stderr);
    _exit(3);
}

/* ---------------------------------------------------------------------------------------------- */

#define CK_F32 1
#include "check_template.h"
#undef CK_F32
#define CK_F32 0
#include "check_template.h"
#undef CK_F32

#if defined(FSS_EMULATE_AVX512)
#define EMU_NOTE "avx512 table emulated with SIMDe"
#elif defined(__aarch64__)
#define EMU_NOTE "aarch64"
#elif defined(__x86_64__)
#define EMU_NOTE "x86-64 native"
#else
#define EMU_NOTE "native"
#endif

static void add_table(const char *name, const fss_kernels *k, int available, const char *why) {
    if (opt_only && strcmp(opt_only, name) != 0) return;
    if (!available) {
        printf("table %s: SKIPPED (%s)\n", name, why);
        return;
    }
    tables[ntables].name = name;
    tables[ntables].k = k;
    ntables++;
}

static void usage(void) {
    fprintf(stderr, "usage: kernel_check [--worst] [--lite] [--selftest] [--only NAME] [--big K] [--exp-stride S] [--exp64-n N] [--exp-limit U] [--sig-stride S] [--sig64-n N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--worst")) {
            opt_worst = 1;
            continue;
        }
        if (!strcmp(argv[i], "--selftest")) return selftest();
        if (!strcmp(argv[i], "--lite")) {
            opt_lite = 1;
            continue;
        }
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--only")) opt_only = argv[++i];
        else if (!strcmp(argv[i], "--big")) opt_big = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--exp-stride")) opt_exp_stride = atol(argv[++i]);
        else if (!strcmp(argv[i], "--exp64-n")) opt_exp64_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--exp-limit")) exp_limit_opt = atof(argv[++i]);
        else if (!strcmp(argv[i], "--sig-stride")) opt_sig_stride = atol(argv[++i]);
        else if (!strcmp(argv[i], "--sig64-n")) opt_sig64_n = atol(argv[++i]);
        else usage();
    }
    if (opt_exp_stride < 1 || opt_exp64_n < 0 || opt_big < 0 || opt_sig_stride < 1 || opt_sig64_n < 0) usage();

    add_table("scalar", &fss_kernels_scalar, 1, "");
#if defined(FSS_HAVE_AVX2)
    __builtin_cpu_init();
    add_table("avx2", &fss_kernels_avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"),
              "CPU lacks AVX2/FMA");
#endif
#if defined(FSS_HAVE_AVX512)
#if defined(FSS_EMULATE_AVX512)
    add_table("avx512", &fss_kernels_avx512, 1, "");
#else
    __builtin_cpu_init();
    add_table("avx512", &fss_kernels_avx512,
              __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"),
              "CPU lacks AVX-512 F/DQ/BW/VL");
#endif
#endif
#if defined(FSS_HAVE_NEON)
    add_table("neon", &fss_kernels_neon, 1, "");
#endif
    if (ntables == 0) {
        fprintf(stderr, "no kernel table to test%s%s\n", opt_only ? " named " : "", opt_only ? opt_only : "");
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    arena_x = arena_new(4u << 20);
    arena_y = arena_new(4u << 20);
    arena_z = arena_new(4u << 20);

    printf("kernel_check: tables");
    for (int t = 0; t < ntables; t++) printf(" %s", tables[t].name);
    printf(" (%s; float64 reference: long double with %d-bit mantissa, %s)\n", EMU_NOTE, LDBL_MANT_DIG,
           REF_EXPL_NAME);
    fflush(stdout);

    double t0 = now();
    run_all_f32();
    run_all_f64();
    double t1 = now();

    for (int t = 0; t < ntables; t++) {
        printf("\ntable %s: max error (softmax family and loss kernels: in eps = 2^-23 / 2^-52 units of their bound, "
               "limit 4; exp: in ulp, limit %.2f)\n",
               tables[t].name, exp_limit_opt);
        printf("  %-18s %12s %10s %8s   %12s %10s %8s\n", "function", "f32 checks", "max", "fails", "f64 checks",
               "max", "fails");
        for (int f = 0; f < NF; f++) {
            const stat_t *a = &stats[t][0][f], *b = &stats[t][1][f];
            printf("  %-18s %12ld %10.3f %8ld   %12ld %10.3f %8ld\n", fname[f], a->checks, a->max_units, a->fails,
                   b->checks, b->max_units, b->fails);
        }
        if (opt_worst)
            for (int dt = 0; dt < 2; dt++)
                for (int f = 0; f < NF; f++)
                    if (stats[t][dt][f].worst[0])
                        printf("  worst %s_%s: %s\n", fname[f], dtname[dt], stats[t][dt][f].worst);
    }
    printf("\n%s: %ld failure(s), %.1f s\n", total_failures ? "FAILED" : "PASSED", total_failures, t1 - t0);
    return total_failures ? 1 : 0;
}
