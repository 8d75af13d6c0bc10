"""Measure how many 512-bit operations of each kind (and of each pair of kinds) an x86-64 core with
AVX-512 completes per cycle: which instructions of the float32 exp kernel share execution pipes.

The AVX-512 exp-and-sum pass spends about 16 vector operations per 16 elements (see README: why not
faster in cache); this tells how they spread over the pipes.  Each kind is timed in a loop of
independent instructions (reading two constant registers, so that nothing waits on a result; FMAs
accumulate into twelve registers, which covers their latency), alone and interleaved with each other
kind; a chain of dependent integer additions (one per cycle on any x86-64 core) gives the cycle
time, so no clock frequency is assumed.  Pairs whose rate is the sum of their rates alone run on
disjoint pipes; pairs that stay at one kind's rate share them.

Needs a C compiler ($CC, default cc) and a CPU with AVX-512F.  Usage: python tools/port_mix.py
"""
import os
import pathlib
import subprocess
import tempfile

KINDS = {  # name: (instruction with {d} for the destination register, registers used as destinations)
    "vfmadd231ps": "vfmadd231ps %%zmm30, %%zmm31, %%zmm{d}",
    "vmulps": "vmulps %%zmm30, %%zmm31, %%zmm{d}",
    "vaddps": "vaddps %%zmm30, %%zmm31, %%zmm{d}",
    "vrndscaleps": "vrndscaleps $0x48, %%zmm31, %%zmm{d}",
    "vpermd": "vpermd %%zmm30, %%zmm31, %%zmm{d}",
    "vpslld": "vpslld $19, %%zmm31, %%zmm{d}",
    "vpaddd": "vpaddd %%zmm30, %%zmm31, %%zmm{d}",
    "vcmpps->k": "vcmpnlt_uqps %%zmm30, %%zmm31, %%k{k}",
    "vcvtps2pd": "vcvtps2pd %%ymm31, %%zmm{d}",
    "vextractf64x4": "vextractf64x4 $1, %%zmm31, %%ymm{d}",
    "vaddpd": "vaddpd %%zmm30, %%zmm31, %%zmm{d}",
}
PAIRS = [("vfmadd231ps", k) for k in KINDS if k != "vfmadd231ps"] + [
    ("vaddps", "vrndscaleps"), ("vaddps", "vpermd"), ("vaddps", "vpslld"), ("vaddps", "vcmpps->k"),
    ("vmulps", "vaddps"), ("vmulps", "vpermd"), ("vrndscaleps", "vpermd"), ("vpermd", "vpslld"),
]


def block(kinds, per_kind=12):
    """per_kind instructions of each kind, interleaved, each into its own destination register."""
    lines, reg, kreg = [], 0, 1
    for i in range(per_kind):
        for k in kinds:
            if "%%k{k}" in KINDS[k]:
                lines.append(KINDS[k].format(k=kreg))
                kreg = kreg % 7 + 1
            else:
                lines.append(KINDS[k].format(d=reg % 24))
                reg += 1
    return lines


def c_source():
    clobbers = ", ".join(f'"xmm{i}"' for i in range(32)) + ', "k1", "k2", "k3", "k4", "k5", "k6", "k7"'
    out = ["#include <stdio.h>", "#include <time.h>",
           "static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); "
           "return t.tv_sec + t.tv_nsec * 1e-9; }",
           "#define REPS 2000000L",
           "static double best(void (*f)(void)) { double b = 1e9; for (int r = 0; r < 5; r++) { "
           "double t0 = now(); f(); double t = now() - t0; if (t < b) b = t; } return b; }",
           "static void chain(void) { long a = 1; for (long i = 0; i < REPS; i++) __asm__ volatile("
           '"add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" '
           '"add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" "add %0, %0\\n" '
           '"add %0, %0\\n" "add %0, %0\\n" : "+r"(a)); }']
    cases = [(k,) for k in KINDS] + PAIRS
    for i, kinds in enumerate(cases):
        body = "".join(f'"{line}\\n"' for line in block(kinds))
        out.append(f"static void f{i}(void) {{ for (long i = 0; i < REPS; i++) __asm__ volatile({body} ::: {clobbers}); }}")
    out.append("int main(void) {")
    out.append('    __asm__ volatile("vxorps %%zmm30, %%zmm30, %%zmm30\\n vxorps %%zmm31, %%zmm31, %%zmm31" ::: '
               '"xmm30", "xmm31");')
    out.append("    const double cycle = best(chain) / (12.0 * REPS);")
    for i, kinds in enumerate(cases):
        n = 12 * len(kinds)
        out.append(f'    printf("%-30s %5.2f\\n", "{" + ".join(kinds)}", {n} * REPS * cycle / best(f{i}));')
    out.append("    return 0;\n}")
    return "\n".join(out)


def main():
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = pathlib.Path(tmp, "port_mix.c"), pathlib.Path(tmp, "port_mix")
        src.write_text(c_source())
        subprocess.run([cc, "-O2", "-mavx512f", str(src), "-o", str(exe)], check=True)
        run = subprocess.run([str(exe)], capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"port_mix failed (exit status {run.returncode}): this CPU may lack AVX-512F")
        print("operations per cycle (512-bit; alone, then pairs interleaved one to one)")
        print(run.stdout, end="")


if __name__ == "__main__":
    main()
