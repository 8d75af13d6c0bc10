/* A NumPy memory handler (NEP 49) that recycles the memory of large results.
 *
 * Why.  glibc's malloc serves a block above its largest mmap threshold (32 MiB on 64-bit) by a fresh
 * mapping and returns it to the kernel on free, so every large result is new memory: the kernel faults
 * in and zeroes each page at its first write.  For a 512 MiB softmax result that took 50-60 ms here, about
 * as long as the softmax itself.  Below 32 MiB malloc reuses freed blocks and this handler is not used.
 *
 * What.  fastsoftmax allocates its large results (fsr_min bytes and more) through this handler.  It maps
 * each block itself, with a header page holding the mapping's length, so the data are page-aligned.
 * When NumPy frees a block, the handler keeps it (one block at most: the latest) after
 * madvise(MADV_FREE) on its data: the kernel may take those pages back whenever it needs memory (they
 * then read as zero), and until it does, the next result of about the same size reuses them with no page
 * faults and no zeroing.  A kept block that does not fit the next request is unmapped.
 *
 * The data of a reused block are old results, as np.empty promises nothing; calloc always maps fresh
 * (zeroed) memory.  The kept block is swapped with one atomic exchange, so the handler is safe whatever
 * thread frees an array.  Platforms without mmap and MADV_FREE (or compilers without the __atomic
 * builtins) compile none of this; FSR_AVAILABLE is 0 there and results come from NumPy's own handler.
 */
#ifndef FASTSOFTMAX_RECYCLE_H
#define FASTSOFTMAX_RECYCLE_H

#include <Python.h>
#include <numpy/ndarraytypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

#if defined(MADV_FREE) && defined(MAP_ANONYMOUS) && (defined(__GNUC__) || defined(__clang__))
#define FSR_AVAILABLE 1
#else
#define FSR_AVAILABLE 0
#endif

/* Results of this many bytes and more are allocated here: glibc's largest mmap threshold. */
static const size_t fsr_min = (size_t)32 << 20;

#if FSR_AVAILABLE

#define FSR_HEAD ((size_t)4096) /* header bytes before the data: the mapping's length, page alignment */

static char *fsr_kept;          /* the kept mapping (its base), or NULL */
static size_t fsr_kept_len;     /* its length, for diagnostics (may lag behind fsr_kept) */
static size_t fsr_reused_count; /* blocks handed out again */
static size_t fsr_mapped_count; /* blocks mapped afresh */

/* Length of the mapping for size bytes of data; 0 if that overflows. */
static size_t fsr_length(size_t size) {
    const size_t page = 4096;
    if (size > SIZE_MAX - FSR_HEAD - page) return 0;
    return (FSR_HEAD + size + page - 1) / page * page;
}

static size_t fsr_length_of(const char *base) { return *(const size_t *)base; }

static char *fsr_map(size_t len) {
    void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    madvise(b, len, MADV_HUGEPAGE); /* as NumPy does for large arrays: fewer, cheaper faults */
#endif
    *(size_t *)b = len;
    __atomic_add_fetch(&fsr_mapped_count, 1, __ATOMIC_RELAXED);
    return (char *)b;
}

static void fsr_unmap(char *base) {
    if (base) munmap(base, fsr_length_of(base));
}

static void *fsr_malloc(void *ctx, size_t size) {
    (void)ctx;
    const size_t len = fsr_length(size);
    if (!len) return NULL;
    char *b = __atomic_exchange_n(&fsr_kept, NULL, __ATOMIC_ACQ_REL);
    if (b) {
        __atomic_store_n(&fsr_kept_len, 0, __ATOMIC_RELAXED);
        const size_t have = fsr_length_of(b);
        if (have >= len && have - len <= have / 8) { /* fits, wasting at most an eighth */
            __atomic_add_fetch(&fsr_reused_count, 1, __ATOMIC_RELAXED);
            return b + FSR_HEAD;
        }
        fsr_unmap(b);
    }
    b = fsr_map(len);
    return b ? b + FSR_HEAD : NULL;
}

static void *fsr_calloc(void *ctx, size_t nelem, size_t elsize) {
    (void)ctx;
    if (elsize && nelem > SIZE_MAX / elsize) return NULL;
    const size_t len = fsr_length(nelem * elsize);
    char *b = len ? fsr_map(len) : NULL; /* fresh anonymous memory is zero */
    return b ? b + FSR_HEAD : NULL;
}

static void fsr_free(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    (void)size; /* the header knows the mapping's length */
    if (!ptr) return;
    char *b = (char *)ptr - FSR_HEAD;
    const size_t len = fsr_length_of(b);
    /* the data only: the header page must keep the length */
    if (madvise(b + FSR_HEAD, len - FSR_HEAD, MADV_FREE) != 0) {
        munmap(b, len);
        return;
    }
    __atomic_store_n(&fsr_kept_len, len, __ATOMIC_RELAXED);
    fsr_unmap(__atomic_exchange_n(&fsr_kept, b, __ATOMIC_ACQ_REL));
}

static void *fsr_realloc(void *ctx, void *ptr, size_t new_size) {
    if (!ptr) return fsr_malloc(ctx, new_size);
    char *b = (char *)ptr - FSR_HEAD;
    const size_t len = fsr_length(new_size), have = fsr_length_of(b);
    if (!len) return NULL;
    if (len <= have) return ptr; /* it fits where it is */
    void *q = fsr_malloc(ctx, new_size);
    if (!q) return NULL; /* ptr stays valid, as realloc promises */
    memcpy(q, ptr, have - FSR_HEAD);
    fsr_free(ctx, ptr, 0);
    return q;
}

static PyDataMem_Handler fsr_handler = {
    "fastsoftmax_recycle",
    1,
    {NULL, fsr_malloc, fsr_calloc, fsr_realloc, fsr_free},
};

/* Unmap the kept block, if any. */
static void fsr_release(void) {
    char *b = __atomic_exchange_n(&fsr_kept, NULL, __ATOMIC_ACQ_REL);
    if (b) __atomic_store_n(&fsr_kept_len, 0, __ATOMIC_RELAXED);
    fsr_unmap(b);
}

/* Bytes of the kept mapping (0 if none); exact while no other thread allocates or frees. */
static size_t fsr_kept_bytes(void) { return __atomic_load_n(&fsr_kept_len, __ATOMIC_RELAXED); }

static size_t fsr_reused(void) { return __atomic_load_n(&fsr_reused_count, __ATOMIC_RELAXED); }
static size_t fsr_mapped(void) { return __atomic_load_n(&fsr_mapped_count, __ATOMIC_RELAXED); }
static PyDataMem_Handler *fsr_get_handler(void) { return &fsr_handler; }

#else /* !FSR_AVAILABLE */

static void fsr_release(void) {}
static size_t fsr_kept_bytes(void) { return 0; }
static size_t fsr_reused(void) { return 0; }
static size_t fsr_mapped(void) { return 0; }
static PyDataMem_Handler *fsr_get_handler(void) { return NULL; }

#endif /* FSR_AVAILABLE */
#endif /* FASTSOFTMAX_RECYCLE_H */
