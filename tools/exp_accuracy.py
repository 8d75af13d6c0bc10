"""Measure the error of fastsoftmax's SIMD exp approximation.

float32: every float32 input in [-87.33654, 0] (about 1.1e9 values), against exp computed in float64
and correctly rounded there; the error is reported in units in the last place (ulp) of the float32
result.  float64: a random sample (default 2e7 values) of [-708.39, 0] against np.longdouble exp.

Usage: python tools/exp_accuracy.py [--isa avx2] [--f64-samples N] [--f32-stride K]
(--f32-stride K checks every K-th float32 only, for a quick look.)
"""
import argparse
import time

import numpy as np

import fastsoftmax
from fastsoftmax import _core

F32_LO = np.float32(float.fromhex("-0x1.5d589ep+6"))  # exp(F32_LO) ~= 2**-126: below it the kernels flush to 0
F64_LO = float.fromhex("-0x1.6232bdd7abcd2p+9")


def ulp_error_f32(x):
    y = _core._exp_f32(x).astype(np.float64)
    ref = np.exp(x.astype(np.float64))
    return np.abs(y - ref) / np.spacing(ref.astype(np.float32)).astype(np.float64)


def check_f32(stride):
    lo_bits = np.array([F32_LO], dtype=np.float32).view(np.uint32)[0]
    start, stop = np.uint32(0x80000000), np.uint32(lo_bits) + np.uint32(1)
    worst, worst_x, count = 0.0, 0.0, 0
    chunk = 1 << 24
    for b in range(int(start), int(stop), chunk * stride):
        bits = np.arange(b, min(b + chunk * stride, int(stop)), stride, dtype=np.uint64).astype(np.uint32)
        x = bits.view(np.float32)
        err = ulp_error_f32(x)
        i = int(np.argmax(err))
        count += x.size
        if err[i] > worst:
            worst, worst_x = float(err[i]), float(x[i])
    return worst, worst_x, count


def check_f64(samples, seed=0):
    rng = np.random.default_rng(seed)
    worst, worst_x = 0.0, 0.0
    for _ in range(0, samples, 1 << 22):
        x = np.concatenate([rng.uniform(F64_LO, 0.0, 1 << 21), -rng.exponential(1.0, 1 << 21)])
        y = _core._exp_f64(x).astype(np.longdouble)
        ref = np.exp(x.astype(np.longdouble))
        err = np.abs(y - ref) / np.spacing(ref.astype(np.float64)).astype(np.longdouble)
        i = int(np.argmax(err))
        if err[i] > worst:
            worst, worst_x = float(err[i]), float(x[i])
    return worst, worst_x


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--isa", default=None, help="ISA to measure (default: every available one)")
    p.add_argument("--f64-samples", type=int, default=20_000_000)
    p.add_argument("--f32-stride", type=int, default=1)
    args = p.parse_args()
    isas = [args.isa] if args.isa else list(fastsoftmax.available_isas())
    for isa in isas:
        _core._set_isa(isa)
        t = time.perf_counter()
        w, wx, n = check_f32(args.f32_stride)
        print(f"{isa:7s} float32: max {w:.3f} ulp at x = {wx!r} ({float(wx).hex()}), "
              f"{n} inputs in [{float(F32_LO)}, 0], {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        w, wx = check_f64(args.f64_samples)
        print(f"{isa:7s} float64: max {w:.3f} ulp at x = {wx!r} ({float(wx).hex()}), "
              f"{args.f64_samples} random inputs in [{F64_LO}, 0], {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
