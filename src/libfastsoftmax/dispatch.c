/*
 * dispatch.c - which kernels run: CPUID + XGETBV detection, the ISA cap, the thread default, and the
 * build facts reported by show_config().
 *
 * ISAs are ranked per architecture (x86-64: scalar < avx2 < avx512; AArch64: scalar < neon).  The
 * active table is chosen once (best available) and changed only by fastsoftmax_set_max_isa() or
 * fastsoftmax_set_isa(); readers take it with one pointer load per call.
 */
#include <string.h>

#include "fastsoftmax.h"
#include "fss_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define FSS_X86 1
#endif

#if defined(FSS_X86) && (defined(FSS_HAVE_AVX2) || defined(FSS_HAVE_AVX512))
#if defined(_MSC_VER)
#include <intrin.h>
static void cpuid(int leaf, int sub, unsigned r[4]) {
    int v[4];
    __cpuidex(v, leaf, sub);
    for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
}
static unsigned long long xgetbv0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cpuid(int leaf, int sub, unsigned r[4]) {
    r[0] = r[1] = r[2] = r[3] = 0;
    if ((unsigned)leaf > __get_cpuid_max(0, NULL)) return;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}
static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0)); /* xgetbv */
    return ((unsigned long long)edx << 32) | eax;
}
#endif

/* AVX2 needs the CPU flags (AVX, FMA, AVX2) and the OS saving XMM+YMM state (XCR0 bits 1, 2). */
static int cpu_has_avx2(void) {
    unsigned r[4];
    cpuid(1, 0, r);
    const unsigned osxsave = 1u << 27, avx = 1u << 28, fma = 1u << 12;
    if ((r[2] & (osxsave | avx | fma)) != (osxsave | avx | fma)) return 0;
    if ((xgetbv0() & 0x6) != 0x6) return 0;
    cpuid(7, 0, r);
    return (r[1] >> 5) & 1;
}

#if defined(FSS_HAVE_AVX512)
/* AVX-512 F, DQ, BW, VL, and the OS saving opmask, ZMM0-15 upper halves and ZMM16-31 (XCR0 bits 5-7). */
static int cpu_has_avx512(void) {
    unsigned r[4];
    if (!cpu_has_avx2()) return 0;
    if ((xgetbv0() & 0xe6) != 0xe6) return 0;
    cpuid(7, 0, r);
    const unsigned need = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31);
    return (r[1] & need) == need;
}
#endif
#endif

typedef struct {
    const char *name;
    const fss_kernels *table; /* NULL when not compiled in */
    int (*available)(void);
} isa_entry;

static int always(void) { return 1; }

/* Best last. */
static const isa_entry isas[] = {
    {"scalar", &fss_kernels_scalar, always},
#if defined(FSS_X86)
#if defined(FSS_HAVE_AVX2)
    {"avx2", &fss_kernels_avx2, cpu_has_avx2},
#else
    {"avx2", NULL, always},
#endif
#if defined(FSS_HAVE_AVX512)
    {"avx512", &fss_kernels_avx512, cpu_has_avx512},
#else
    {"avx512", NULL, always},
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#if defined(FSS_HAVE_NEON)
    {"neon", &fss_kernels_neon, always},
#else
    {"neon", NULL, always},
#endif
#endif
};
#define N_ISAS ((int)(sizeof isas / sizeof isas[0]))

/* Process-wide settings, read and written atomically (relaxed: each is a single independent word). */
#if defined(__GNUC__) || defined(__clang__)
#define FSS_LOAD(v) __atomic_load_n(&(v), __ATOMIC_RELAXED)
#define FSS_STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELAXED)
#else /* MSVC: aligned word accesses through volatile are atomic */
#define FSS_LOAD(v) (v)
#define FSS_STORE(v, x) ((v) = (x))
#endif

static const fss_kernels *volatile active = NULL;
static const char *volatile last_used = "none";

static int isa_index(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < N_ISAS; i++)
        if (strcmp(isas[i].name, name) == 0) return i;
    return -1;
}

static int usable(int i) { return isas[i].table != NULL && isas[i].available(); }

static const fss_kernels *best_up_to(int cap) {
    for (int i = cap; i > 0; i--)
        if (usable(i)) return isas[i].table;
    return &fss_kernels_scalar;
}

const fss_kernels *fss_active_kernels(void) {
    const fss_kernels *k = FSS_LOAD(active);
    if (!k) {
        k = best_up_to(N_ISAS - 1); /* the same value from any racing thread */
        FSS_STORE(active, k);
    }
    FSS_STORE(last_used, k->name);
    return k;
}

int fastsoftmax_isa_available(const char *name) {
    int i = isa_index(name);
    return i >= 0 && usable(i);
}

int fastsoftmax_set_max_isa(const char *name) {
    int i = isa_index(name);
    if (i < 0) return FASTSOFTMAX_EINVAL;
    FSS_STORE(active, best_up_to(i));
    return FASTSOFTMAX_OK;
}

int fastsoftmax_set_isa(const char *name) {
    int i = isa_index(name);
    if (i < 0 || !usable(i)) return FASTSOFTMAX_EINVAL;
    FSS_STORE(active, isas[i].table);
    return FASTSOFTMAX_OK;
}

const char *fastsoftmax_isa(void) {
    const fss_kernels *k = FSS_LOAD(active);
    return (k ? k : best_up_to(N_ISAS - 1))->name;
}

const char *fastsoftmax_last_isa(void) { return FSS_LOAD(last_used); }

const char *fastsoftmax_isa_name(int i) { return i >= 0 && i < N_ISAS ? isas[i].name : NULL; }

int fastsoftmax_isa_compiled(const char *name) {
    int i = isa_index(name);
    return i >= 0 && isas[i].table != NULL;
}

/* ---------------------------------------------------------------------------------------------- */

static volatile int num_threads = 0; /* 0: not set, use the OpenMP default */

int fastsoftmax_get_num_threads(void) {
#ifdef _OPENMP
    int n = FSS_LOAD(num_threads);
    return n > 0 ? n : omp_get_max_threads();
#else
    return 1; /* a serial build: the setting is kept but has no effect */
#endif
}

int fastsoftmax_set_num_threads(int n) {
    if (n < 1) return FASTSOFTMAX_EINVAL;
    FSS_STORE(num_threads, n);
    return FASTSOFTMAX_OK;
}

int fastsoftmax_has_openmp(void) {
#ifdef _OPENMP
    return _OPENMP;
#else
    return 0;
#endif
}

const char *fastsoftmax_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
#define FSS_STR2(x) #x
#define FSS_STR(x) FSS_STR2(x)
    return "msvc " FSS_STR(_MSC_FULL_VER);
#else
    return "unknown";
#endif
}

const char *fastsoftmax_version(void) { return FASTSOFTMAX_VERSION_STRING; }
