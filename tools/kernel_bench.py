"""Time the C library alone, without Python: cycles per element of softmax, log_softmax and logsumexp
through the C API on one thread, or of each pass of the row kernel on one row.

It compiles the kernel sources (this checkout's, or those of each --src: another checkout's
src/libfastsoftmax, for an A/B of two versions) with the package's flags, each ISA file with its own
target flags, into a small driver, and runs it: the best of 9 timings of enough calls to take about
20 ms, interleaved across the sources over --rounds rounds, whose medians are printed.  Inputs are
uniform in [-3, 3], x 16 bytes past a cache line (as NumPy's arrays usually are; --offset), y on one.
Each run measures the cycle time by a chain of dependent integer additions (one per cycle on any
x86-64 or AArch64 core), so no clock frequency is assumed (this shared machine's moved between 4.2
and 4.5 GHz from run to run); elsewhere give --ghz.  Shapes are written as for `python -m fastsoftmax
bench --cases` (a single axis only; the bench's parser is not imported, so that the tool runs
without an installed package).

  python tools/kernel_bench.py 4096x128 64x32000 1000x256@0      # shapes (axis: last unless @AXIS)
  python tools/kernel_bench.py --passes 32768 1048576           # the passes of one row of each length
  python tools/kernel_bench.py --isa avx2 --dtype float64 4096x1000
  python tools/kernel_bench.py --src /tmp/old/src/libfastsoftmax --src src/libfastsoftmax 4096x128

Needs a C compiler ($CC, default cc) with OpenMP.
"""
import argparse
import math
import os
import pathlib
import platform
import statistics
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
COMMON = ["-O2", "-ffp-contract=off", "-fno-math-errno", "-fopenmp"]
# (source, flags, macro) per ISA, as setup.py compiles them
if platform.machine().lower() in ("x86_64", "amd64"):
    ISA_SOURCES = [("isa_avx2.c", ["-mavx2", "-mfma"], "FSS_HAVE_AVX2"),
                   ("isa_avx512.c", ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"],
                    "FSS_HAVE_AVX512")]
elif platform.machine().lower() in ("aarch64", "arm64"):
    ISA_SOURCES = [("isa_neon.c", [], "FSS_HAVE_NEON")]
else:
    ISA_SOURCES = []

DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fss_internal.h"
#include "fastsoftmax.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Seconds per call of BODY: the best of 9 timings of reps calls. */
#define BEST(out, BODY)                                                                   \
    do {                                                                                  \
        double best_ = 1e30;                                                              \
        for (int r_ = 0; r_ < 9; r_++) {                                                  \
            const double t0_ = now();                                                     \
            for (long k_ = 0; k_ < reps; k_++) {                                          \
                __asm__ volatile("" ::: "memory");                                        \
                BODY;                                                                     \
            }                                                                             \
            const double t_ = (now() - t0_) / reps;                                       \
            if (t_ < best_) best_ = t_;                                                   \
        }                                                                                 \
        out = best_;                                                                      \
    } while (0)

/* Cycles per second: a chain of dependent additions, 64 per iteration, one per cycle. */
static double hz(void) {
#if defined(__x86_64__) || defined(__aarch64__)
    const long iters = 2000000;
    double best = 1e30;
    for (int r = 0; r < 9; r++) {
        unsigned long v = 0;
        const double t0 = now();
        for (long i = 0; i < iters; i++) {
#if defined(__x86_64__)
            __asm__ volatile(".rept 64\n\taddq $1, %0\n\t.endr" : "+r"(v));
#else
            __asm__ volatile(".rept 64\n\tadd %0, %0, #1\n\t.endr" : "+r"(v));
#endif
        }
        const double t = now() - t0;
        if (t < best) best = t;
    }
    return 64.0 * iters / best;
#else
    return 0.0;
#endif
}

static void *buffer(size_t bytes, size_t off) {
    char *p = aligned_alloc(64, (bytes + off + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p + off;
}

#define FILL(T, x, len)                                                                   \
    do {                                                                                  \
        srand(1);                                                                         \
        for (long i_ = 0; i_ < (long)(len); i_++)                                         \
            (x)[i_] = (T)(3.0 * (2.0 * rand() / RAND_MAX - 1));                           \
    } while (0)

/* shape: OUTER N INNER (the axis of N, C-contiguous), each function through the C API on one thread
 * (y the output of softmax and log_softmax, or of logsumexp: OUTER x INNER) */
#define SHAPE(T, SFX)                                                                     \
    do {                                                                                  \
        const size_t len = (size_t)outer * n * inner;                                     \
        T *x = buffer(len * sizeof(T), off), *y = buffer(len * sizeof(T), 0);             \
        FILL(T, x, len);                                                                  \
        const ptrdiff_t xs[3] = {n * inner, inner, 1}, ls[3] = {inner, 0, 1};           \
        double t;                                                                         \
        BEST(t, fastsoftmax_softmax_##SFX(x, y, outer, n, inner, xs, xs, 1));              \
        printf("softmax %.6e\n", t);                                                      \
        BEST(t, fastsoftmax_log_softmax_##SFX(x, y, outer, n, inner, xs, xs, 1));          \
        printf("log_softmax %.6e\n", t);                                                  \
        BEST(t, fastsoftmax_logsumexp_##SFX(x, y, outer, n, inner, xs, ls, 1));            \
        printf("logsumexp %.6e\n", t);                                                    \
    } while (0)

/* passes: the row kernel's building blocks on one row of n */
#define PASSES(T, SFX)                                                                    \
    do {                                                                                  \
        T *x = buffer(n * sizeof(T), off), *y = buffer(n * sizeof(T), 0);                 \
        FILL(T, x, n);                                                                    \
        const T m = K->rmax_##SFX(x, n);                                                  \
        volatile double sink = 0;                                                         \
        double t;                                                                         \
        BEST(t, sink += K->rmax_##SFX(x, n));                                             \
        printf("max %.6e\n", t);                                                          \
        BEST(t, sink += K->sumexp_##SFX(x, n, m));                                        \
        printf("exp_sum_for_log %.6e\n", t);                                              \
        BEST(t, sink += K->expsum_##SFX(x, y, n, m));                                     \
        printf("exp_store_sum %.6e\n", t);                                                \
        BEST(t, K->scale_##SFX(y, n, (T)0.5));                                            \
        printf("scale %.6e\n", t);                                                        \
        BEST(t, K->logsub_##SFX(x, y, n, m, 1.0));                                        \
        printf("log_sub %.6e\n", t);                                                      \
        BEST(t, K->row_##SFX(FSS_OP_SOFTMAX, x, y, n, NULL, NULL, 0));                    \
        printf("softmax %.6e\n", t);                                                      \
        BEST(t, K->row_##SFX(FSS_OP_LOG_SOFTMAX, x, y, n, NULL, NULL, 0));                \
        printf("log_softmax %.6e\n", t);                                                  \
        BEST(t, K->row_##SFX(FSS_OP_LOGSUMEXP, x, y, n, NULL, NULL, 0));                  \
        printf("logsumexp %.6e\n", t);                                                    \
        (void)sink;                                                                       \
    } while (0)

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: driver shape|passes f32|f64 OUTER N INNER REPS OFFSET ISA\n");
        return 2;
    }
    const int f32 = !strcmp(argv[2], "f32");
    const long outer = atol(argv[3]), n = atol(argv[4]), inner = atol(argv[5]), reps = atol(argv[6]);
    const size_t off = (size_t)atol(argv[7]);
    if (strcmp(argv[8], "best") != 0 && fastsoftmax_set_isa(argv[8]) != FASTSOFTMAX_OK) {
        fprintf(stderr, "ISA %s is not available here\n", argv[8]);
        return 3;
    }
    const fss_kernels *K = fss_active_kernels();
    printf("isa %s\nhz %.6e\n", K->name, hz());
    if (!strcmp(argv[1], "passes")) {
        if (f32) PASSES(float, f32);
        else PASSES(double, f64);
    } else {
        if (f32) SHAPE(float, f32);
        else SHAPE(double, f64);
    }
    return 0;
}
"""


def build(src, tmp, tag):
    """The driver linked against the kernel sources in src (a src/libfastsoftmax directory)."""
    cc = os.environ.get("CC", "cc")
    inc = ["-I", str(src), "-I", str(ROOT / "include")]
    macros = [f"-D{macro}" for _, _, macro in ISA_SOURCES]
    driver = pathlib.Path(tmp, "kernel_bench_main.c")
    driver.write_text(DRIVER)
    units = [(name, []) for name in ("isa_scalar.c", "dispatch.c", "driver.c")]
    units += [(name, flags) for name, flags, _ in ISA_SOURCES]
    objs = [str(pathlib.Path(tmp, f"{tag}.{name}.o")) for name, _ in units]
    jobs = [subprocess.Popen([cc, *COMMON, *macros, *flags, *inc, "-c", str(pathlib.Path(src, name)), "-o", obj])
            for (name, flags), obj in zip(units, objs)]  # compiled side by side
    if any([job.wait() for job in jobs]):  # every one waited for
        raise SystemExit(f"could not compile the kernels of {src}")
    exe = pathlib.Path(tmp, f"{tag}.driver")
    subprocess.run([cc, *COMMON, *macros, *inc, str(driver), *objs, "-lm", "-o", str(exe)], check=True)
    return exe


def parse_shape(text):
    """'4096x128' or '1000x256@0' -> (outer, n, inner) of the axis (last unless @AXIS)."""
    dims, _, axis = text.partition("@")
    shape = [int(d) for d in dims.split("x")]
    axis = int(axis) if axis else len(shape) - 1
    if min(shape) < 1:
        raise SystemExit(f"{text}: every dimension must be at least 1")
    if not -len(shape) <= axis < len(shape):
        raise SystemExit(f"{text}: axis {axis} out of range")
    axis %= len(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])


def run(exe, mode, dtype, dims, elements, args):
    """(isa, {name: cycles per element}) of one run of the driver: its times at the clock it measured
    (or --ghz)."""
    reps = max(1, int(args.target_s / (elements * 0.5e-9)))  # about target_s per timing at 0.5 ns/element
    cmd = [str(exe), mode, dtype, *map(str, dims), str(reps), str(args.offset), args.isa]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr.strip() or f"{cmd} failed")
    fields = [line.split() for line in out.stdout.splitlines()]
    hz = args.ghz * 1e9 if args.ghz else float(fields[1][1])
    if hz <= 0:
        raise SystemExit("cannot measure the clock here: give --ghz")
    return fields[0][1], {name: float(t) * hz / elements for name, t in fields[2:]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shapes", nargs="*", help="shapes such as 4096x128 or 1000x256@0 (default: 4096x128)")
    ap.add_argument("--passes", type=int, nargs="+", metavar="N", help="time the passes of one row of each N")
    ap.add_argument("--isa", default="best", help="kernels to run: scalar, avx2, avx512, neon (default: the best "
                    "this CPU runs)")
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--src", action="append", type=pathlib.Path,
                    help="a src/libfastsoftmax directory (repeat for an A/B; default: this checkout's)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are printed")
    ap.add_argument("--offset", type=int, default=16, help="bytes x lies past a cache line (default 16)")
    ap.add_argument("--ghz", type=float, help="clock frequency, where it cannot be measured")
    ap.add_argument("--target-s", type=float, default=0.02, help=argparse.SUPPRESS)
    args = ap.parse_args()
    srcs = args.src or [ROOT / "src" / "libfastsoftmax"]
    dtype = "f32" if args.dtype == "float32" else "f64"
    jobs = [(f"row of {n}", "passes", (1, n, 1), n) for n in args.passes or []]
    for text in args.shapes or ([] if jobs else ["4096x128"]):
        dims = parse_shape(text)
        jobs.append((text, "shape", dims, dims[0] * dims[1] * dims[2]))
    with tempfile.TemporaryDirectory() as tmp:
        exes = [build(src, tmp, f"s{i}") for i, src in enumerate(srcs)]
        header = False
        for label, mode, dims, elements in jobs:
            cycles = [[] for _ in exes]  # per source, per round: {name: cycles per element}
            for _ in range(args.rounds):
                for i, exe in enumerate(exes):
                    isa, c = run(exe, mode, dtype, dims, elements, args)
                    cycles[i].append(c)
            if not header:
                print(f"# {isa}, {args.dtype}, one thread, cycles per element (at the clock "
                      f"{'given' if args.ghz else 'measured by each run'}), median of {args.rounds} "
                      f"interleaved rounds")
                for i, src in enumerate(srcs):
                    print(f"# [{i}] {src}")
                if len(srcs) > 1:
                    print("# [0]/[i]: the cycles of [0] over those of [i] (above 1: [i] is faster)")
                header = True
            print(f"{label}:")
            for name in cycles[0][0]:
                cells = [statistics.median(r[name] for r in cycles[i]) for i in range(len(exes))]
                text = "  ".join(f"[{i}] {c:7.4f}" for i, c in enumerate(cells))
                if len(cells) > 1:
                    text += "  " + "  ".join(f"[0]/[{i}] {cells[0] / c:5.2f}x" for i, c in enumerate(cells) if i)
                print(f"  {name:16s} {text}")


if __name__ == "__main__":
    main()
