"""Measure the error of fss_log_sum_f64 and _f32, the logs the kernels take of a sum of exp terms.

log_softmax, logsumexp and cross-entropy use log(s) of s = sum(exp(x - max)) >= 1.  The kernels compute
it with their own log (src/libfastsoftmax/fss_internal.h), whose scalar and vector forms give the same
bits.  This compiles a small C driver against that header (needs a C compiler: $CC, default cc), feeds
it random sums (near 1, in [1, 2), in [1, 41], and log-uniform up to e^40, plus 1 + 2^-k for every k)
and reports the worst error in (float64) ulp against np.longdouble's log, next to libm's log on the
same inputs, and the worst relative error of each.  The float32 kernels' log sums a shorter series: its
error is meant to stay below 2^-34 relative, 1/1000 of a float32 ulp.

Usage: python tools/log_accuracy.py [--samples N]
"""
import argparse
import os
import pathlib
import subprocess
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include "fss_internal.h"
int main(void) {
    double s;
    while (fread(&s, sizeof s, 1, stdin) == 1) {
        double r[3] = {fss_log_sum_f64(s), fss_log_sum_f32(s), log(s)};
        fwrite(r, sizeof r, 1, stdout);
    }
    return 0;
}
"""


def sums(n, rng):
    u = rng.random(n)
    parts = [1 + u[: n // 4] * 1e-6, 1 + u[n // 4 : n // 2], 1 + 40 * u[n // 2 : 3 * n // 4], np.exp(40 * u[3 * n // 4 :])]
    tiny = 1 + np.ldexp(1.0, -np.arange(1, 53))
    return np.concatenate(parts + [tiny, [1.0, 2.0, np.sqrt(2.0), np.e]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    args = ap.parse_args()
    s = sums(args.samples, np.random.default_rng(1))
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "log_sum")
        src = os.path.join(tmp, "log_sum.c")
        pathlib.Path(src).write_text(DRIVER)
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, "-O2", "-ffp-contract=off", "-fno-math-errno", "-I", str(ROOT / "src" / "libfastsoftmax"),
                        src, "-lm", "-o", exe], check=True)
        out = subprocess.run([exe], input=s.astype(np.float64).tobytes(), capture_output=True, check=True).stdout
    got, got32, libm = np.frombuffer(out, dtype=np.float64).reshape(-1, 3).T
    ref = np.log(s.astype(np.longdouble))
    ulp = np.spacing(np.abs(ref).astype(np.float64)).astype(np.longdouble)
    ulp[ref == 0] = np.longdouble(np.finfo(np.float64).tiny)
    nz = ref != 0
    for name, v in (("fss_log_sum_f64", got), ("fss_log_sum_f32", got32), ("libm log", libm)):
        d = np.abs(v.astype(np.longdouble) - ref)
        err = d / ulp
        i = int(np.argmax(err))
        rel = float(np.max(d[nz] / np.abs(ref[nz])))
        print(f"{name:16s} max error {float(err[i]):10.3f} ulp at s = {s[i]!r}; relative {rel:.3g}"
              f" (2^{np.log2(rel) if rel else -np.inf:.1f})  ({s.size} sums)")


if __name__ == "__main__":
    main()
