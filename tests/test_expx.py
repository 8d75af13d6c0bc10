"""The shifted exp (expx) of commit 9f8dc83 and what surrounds it, on every available ISA, float32 and
float64:

* rows whose max m lies just below, at and just above XB_MAX (the expx / expm switch: 2^14 for float
  with a fused FMA, 2^8 for float on the scalar ISA, 2^20 for double; every one of these thresholds is
  probed on every ISA, both signs), elements spread over x - m in [-90, 0] / [-750, 0], through the
  short-row (n <= 4W), row and column kernels, against the high-precision reference;
* the max's own term is exactly 1: a constant row gives softmax exactly (T)(1/n) for any m;
* a dominant element: softmax exactly 1 and 0, log_softmax exactly 0 at the max, logsumexp exactly m;
  slices of one element ((k, 1), (1, k) along axis 0, 0-d);
* -inf, -1e30, -3e38 (float) / -1e300 (double) among finite values, NaN anywhere, +inf;
* outputs that would be subnormal (x - m in [-104, -80] / [-745, -700]);
* the same bits for a slice through the row, column, Fortran, gathered (strided) and reversed-outer
  paths, out= (contiguous and strided) and in place, for 1, 2 and 3 threads, for slice lengths around
  4W (the short-row / expx switch), multiples of 4W plus tails, 64/65, a few hundred and 5000; and
  whatever its neighbouring slices hold;
* log_softmax and logsumexp of rows with a large |max| (1e4, 1e6, ... : the expm path with lse_split),
  and the scaled rows (still expm) around XB_MAX.
"""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import (BOUNDS, FUNC_NAMES, assert_matches, call_on_isa, func_by_name, reference,
                      same_bits)

DTYPES = [np.float32, np.float64]
DT_IDS = ["f32", "f64"]

# vector width W per ISA and dtype (floats, doubles)
WIDTH = {"scalar": (1, 1), "avx2": (8, 4), "avx512": (16, 8), "neon": (4, 2)}


def width(isa, dtype):
    return WIDTH[isa][0 if np.dtype(dtype) == np.float32 else 1]


def xb_max(isa, dtype):
    if np.dtype(dtype) == np.float64:
        return 2.0 ** 20
    return 2.0 ** 8 if isa == "scalar" else 2.0 ** 14


def spread(dtype):
    """Range of x - m over which the terms go from 1 to flushed."""
    return 90.0 if np.dtype(dtype) == np.float32 else 750.0


def eps_bound(dtype):
    return BOUNDS[np.dtype(dtype)][0]


def boundary_maxima(dtype):
    """m at, just inside and just outside every threshold (2^8, 2^14, 2^20), both signs."""
    dt = np.dtype(dtype).type
    out = []
    for t in (2.0 ** 8, 2.0 ** 14, 2.0 ** 20):
        t = dt(t)
        for v in (t, np.nextafter(t, dt(0)), np.nextafter(t, dt(np.inf)), t * dt(0.75)):
            out += [dt(v), dt(-v)]
    return out


def make_rows(rng, dtype, maxima, n, lo, hi=0.0):
    """One row per max: m + d, d uniform in [lo, hi], the max placed exactly once at a random index."""
    dt = np.dtype(dtype).type
    x = np.empty((len(maxima), n), dtype)
    for r, m in enumerate(maxima):
        d = rng.uniform(lo, hi, n)
        row = (np.float64(m) + d).astype(dtype) if dtype == np.float32 else \
            (np.longdouble(m) + d.astype(np.longdouble)).astype(dtype)
        row = np.minimum(row, dt(m))
        row[rng.integers(0, n)] = dt(m)
        x[r] = row
    return x


def check_all(isa, func, x, axis, context):
    f = func_by_name(func)
    got = call_on_isa(isa, f, x, axis)
    ref = reference(func, x, axis)
    assert_matches(func, got, ref, x.dtype, context=f"[{isa}] axis={axis} {context}", x=x)
    return got


# ---------------------------------------------------------------- accuracy around XB_MAX

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_max_around_xb_max(isa, func, dtype):
    W = width(isa, dtype)
    maxima = boundary_maxima(dtype)
    rng = np.random.default_rng(1)
    sp = spread(dtype)
    for n in sorted({4 * W - 1, 4 * W, 4 * W + 1, 4 * W + 3, 12 * W + 5, 67, 1000}):
        if n < 1:
            continue
        for lo in (-sp, -20.0, -1.0):
            x = make_rows(rng, dtype, maxima, n, lo)
            ctx = f"n={n} lo={lo} maxima={maxima}"
            check_all(isa, func, x, -1, "rows " + ctx)
            check_all(isa, func, np.ascontiguousarray(x.T), 0, "columns " + ctx)


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_max_around_xb_max_one_slice_per_call(isa, dtype):
    """Each boundary row alone (1-D), and alone as a column (n, 1): nothing else decides the path."""
    W = width(isa, dtype)
    rng = np.random.default_rng(2)
    for n in (4 * W + 1, 100):
        x = make_rows(rng, dtype, boundary_maxima(dtype), n, -spread(dtype))
        for r in range(x.shape[0]):
            for func in FUNC_NAMES:
                check_all(isa, func, x[r], -1, f"n={n} m={x[r].max()!r}")
                check_all(isa, func, np.ascontiguousarray(x[r][:, None]), 0, f"col n={n} m={x[r].max()!r}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_constant_rows_give_exactly_one_over_n(isa, dtype):
    """The max's term is exactly 1 (expx: r = 0 and the power 2^0): a constant row sums to n exactly,
    and softmax is (T)(1/n) exactly, whatever m (inside and beyond XB_MAX, any sign)."""
    dt = np.dtype(dtype).type
    W = width(isa, dtype)
    maxima = boundary_maxima(dtype) + [dt(0), dt(-0.0), dt(1e-3), dt(-700.5), dt(3.5), dt(1e-38),
                                       dt(123.456), dt(-5000.25)]
    for n in sorted({1, 2, 4 * W, 4 * W + 1, 4 * W + 7, 100, 1001}):
        x = np.empty((len(maxima), n), dtype)
        x[:] = np.array(maxima, dtype)[:, None]
        want = dt(1.0 / n)
        for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
            got = call_on_isa(isa, fs.softmax, xa, a)
            bad = got != want
            assert not bad.any(), (f"[{isa}] constant rows n={n} axis={a}: softmax {got[bad][:4]} "
                                   f"!= {want!r} at maxima {np.unique(xa[bad])[:4]}")
            check_all(isa, "logsumexp", xa, a, f"constant n={n}")
            check_all(isa, "log_softmax", xa, a, f"constant n={n}")


# ---------------------------------------------------------------- dominant elements, length 1

def test_two_element_dominant_float32(isa):
    x = np.array([100, 0], np.float32)
    assert call_on_isa(isa, fs.softmax, x).tolist() == [1.0, 0.0]
    ls = call_on_isa(isa, fs.log_softmax, x)
    assert ls[0] == 0 and ls[1] == -100
    assert call_on_isa(isa, fs.logsumexp, x) == 100


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_dominant_element_exact(isa, dtype):
    """One element so far above the rest that every other exp underflows: softmax exactly 1 there and
    exactly 0 elsewhere, log_softmax exactly 0 there and exactly x - m elsewhere, logsumexp exactly m."""
    dt = np.dtype(dtype).type
    gap = 200.0 if dtype == np.float32 else 800.0
    xbm = xb_max(isa, dtype)
    rng = np.random.default_rng(3)
    lengths = list(range(33, 71)) + [127, 128, 129, 300, 1000, 4097, 5000]
    for m in (0.0, 1.5, -1.5, 50.0, xbm, -xbm, xbm * 2, -xbm * 2, 1e4, -1e4):
        m = dt(m)
        for n in lengths:
            rest = (np.float64(m) - gap - rng.uniform(0, 30, n)).astype(dtype)
            k = int(rng.integers(0, n)) if n % 3 else n - 1
            rest[k] = m
            for a, xa in ((-1, rest[None, :]), (0, np.ascontiguousarray(rest[:, None]))):
                ctx = f"[{isa}] n={n} m={m!r} max at {k} axis={a}"
                sm = np.asarray(call_on_isa(isa, fs.softmax, xa, a)).reshape(-1)
                assert sm[k] == 1.0, f"{ctx}: softmax at max {sm[k]!r}"
                others = np.delete(sm, k)
                assert (others == 0).all() and not np.signbit(others).any(), \
                    f"{ctx}: softmax elsewhere {others[others != 0][:4]}"
                ls = np.asarray(call_on_isa(isa, fs.log_softmax, xa, a)).reshape(-1)
                assert ls[k] == 0 and not np.signbit(ls[k]), f"{ctx}: log_softmax at max {ls[k]!r}"
                want = (rest.astype(np.longdouble) - np.longdouble(m)).astype(dtype)
                assert np.array_equal(ls, want), f"{ctx}: log_softmax != x - m"
                lse = call_on_isa(isa, fs.logsumexp, xa, a)
                assert np.asarray(lse).reshape(-1)[0] == m, f"{ctx}: logsumexp {lse!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_one_hot_like_rows(isa, dtype):
    """Rows of zeros with one 30 (several lengths, max position everywhere in the first 4W+1):
    log_softmax at the max is -log(1 + (n-1) e^-30) to the bound, never rounded to 0 through m."""
    W = width(isa, dtype)
    for n in (4 * W + 1, 4 * W + 2, 100, 1000):
        for k in range(min(n, 4 * W + 1)):
            x = np.zeros((1, n), dtype)
            x[0, k] = 30
            for func in FUNC_NAMES:
                check_all(isa, func, x, -1, f"one-hot n={n} k={k}")


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_length_one_slices(isa, dtype):
    dt = np.dtype(dtype).type
    big = dt(3e38) if dtype == np.float32 else dt(1e300)
    xbm = dt(xb_max(isa, dtype))
    vals = np.array([0.0, -0.0, 1.0, -2.5, xbm, -xbm, np.nextafter(xbm, dt(np.inf)), 1e4, -1e4,
                     1e30, -1e30, big, -big, 1e-40 if dtype == np.float32 else 1e-310,
                     np.inf, -np.inf, np.nan], dtype)
    k = vals.size
    ref_sm = reference("softmax", vals[:, None], -1).reshape(-1)
    ref_ls = reference("log_softmax", vals[:, None], -1).reshape(-1)
    for x, a in ((vals[:, None], -1), (vals[None, :], 0), (np.asfortranarray(vals[:, None]), -1)):
        sm = np.asarray(call_on_isa(isa, fs.softmax, x, a)).reshape(-1)
        ls = np.asarray(call_on_isa(isa, fs.log_softmax, x, a)).reshape(-1)
        lse = np.asarray(call_on_isa(isa, fs.logsumexp, x, a)).reshape(-1)
        fin = np.isfinite(vals) | (vals == np.inf)
        assert np.array_equal(sm[fin], np.ones(fin.sum(), dtype)), f"[{isa}] {x.shape} softmax {sm}"
        assert np.array_equal(ls[fin], np.zeros(fin.sum(), dtype)), f"[{isa}] {x.shape} log_softmax {ls}"
        # logsumexp of one element is that element (-0.0 + log(1) is +0.0: compare values)
        assert np.array_equal(lse, vals, equal_nan=True), f"[{isa}] {x.shape} logsumexp {lse} != {vals}"
        # signs of zeros as the reference (+0.0 for finite x, -log(1) = -0.0 for +inf); the max -0.0
        # is test_log_softmax_zero_sign_at_negative_zero_max's
        keep = fin & ~((vals == 0) & np.signbit(vals))
        assert same_bits(sm, ref_sm.astype(dtype))
        assert same_bits(ls[keep], ref_ls[keep].astype(dtype)), f"[{isa}] {x.shape} log_softmax {ls}"
        assert np.isnan(sm[~fin]).all() and np.isnan(ls[~fin]).all()
    for v in vals:
        x0 = np.array(v, dtype)
        sm0 = call_on_isa(isa, fs.softmax, x0, None)
        ls0 = call_on_isa(isa, fs.log_softmax, x0, None)
        lse0 = call_on_isa(isa, fs.logsumexp, x0, None)
        if np.isfinite(v) or v == np.inf:
            assert sm0 == 1 and ls0 == 0, f"0-d {v!r}: {sm0!r} {ls0!r}"
        else:
            assert np.isnan(sm0) and np.isnan(ls0)
        assert np.array_equal(lse0, x0, equal_nan=True), f"0-d {v!r}: logsumexp {lse0!r}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_softmax_zero_sign_at_negative_zero_max(isa, dtype):
    """A slice whose max is -0.0 and whose sum is exactly 1: log_softmax there is (x - m) - log(1) =
    +0.0 - 0 = +0.0 (the reference, the scaled path, and the kernels before 9f8dc83), not -0.0."""
    W = width(isa, dtype)
    low = -200.0 if dtype == np.float32 else -1000.0
    failures = []
    for n in sorted({1, 2, 4 * W, 4 * W + 1, 100}):
        x = np.full(n, low, dtype)
        x[0] = -0.0
        ref = reference("log_softmax", x[None], -1)[0].astype(dtype)
        assert ref[0] == 0 and not np.signbit(ref[0])
        results = (("row", call_on_isa(isa, fs.log_softmax, x)),
                   ("column", call_on_isa(isa, fs.log_softmax, np.ascontiguousarray(x[:, None]), 0)[:, 0]),
                   ("scale=2", call_on_isa(isa, fs.log_softmax, x, scale=2.0)))
        for name, got in results:
            if not same_bits(got[:1], ref[:1]):
                failures.append(f"n={n} {name}: log_softmax at the max {got[0]!r}, reference {ref[0]!r}")
    assert not failures, f"[{isa}] {np.dtype(dtype).name}, x = [-0.0, {low}, ...]:\n  " + "\n  ".join(failures)


# ---------------------------------------------------------------- special values

def extreme_lows(dtype):
    if dtype == np.float32:
        return [-np.inf, -1e30, -3e38, np.finfo(np.float32).min]
    return [-np.inf, -1e300, -1e30, np.finfo(np.float64).min]


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_extreme_negatives_among_finite(isa, dtype):
    dt = np.dtype(dtype).type
    W = width(isa, dtype)
    xbm = xb_max(isa, dtype)
    lows = np.array(extreme_lows(dtype), dtype)
    rng = np.random.default_rng(4)
    top = 3e38 if dtype == np.float32 else 1.7e308
    maxima = [0.0, 5.0, -5.0, xbm, -xbm, float(np.nextafter(dt(xbm), dt(np.inf))), 1e6, top, -1e20]
    for n in sorted({4 * W, 4 * W + 1, 4 * W + 3, 8 * W, 37, 300, 5000}):
        x = make_rows(rng, dtype, maxima, n, -40.0)
        ms = x.max(axis=1)
        for r in range(x.shape[0]):
            # a quarter of the entries, never the max, become the extreme values
            cand = np.delete(np.arange(n), int(np.argmax(x[r])))
            idx = rng.choice(cand, size=min(cand.size, max(1, n // 4)), replace=False)
            x[r, idx] = lows[rng.integers(0, lows.size, idx.size)]
        x[0, :: max(1, n // 3)] = x[0, 0]   # a few repeats of one value
        ms = x.max(axis=1)
        for func in FUNC_NAMES:
            for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
                got = check_all(isa, func, xa, a, f"extremes n={n}")
                if func == "logsumexp":
                    continue
                got = got if a == -1 else got.T
                far = x.astype(np.longdouble) - ms.astype(np.longdouble)[:, None] < -2 * spread(dtype)
                if func == "softmax":
                    assert (got[far] == 0).all(), f"[{isa}] n={n} axis={a}: softmax not 0 far below the max"
                else:
                    assert (got[x == -np.inf] == -np.inf).all()
                    with np.errstate(over="ignore"):
                        below_range = np.isinf(reference(func, x).astype(dtype))   # e.g. -3e38 - 3e38
                    assert np.isfinite(got[(x != -np.inf) & ~below_range]).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_nan_anywhere(isa, dtype):
    W = width(isa, dtype)
    xbm = xb_max(isa, dtype)
    rng = np.random.default_rng(5)
    for n in sorted({4 * W + 1, 4 * W + 2, 12 * W + 3, 37, 300, 5000}):
        positions = sorted({0, 1, 4 * W - 1, 4 * W, n // 2, n - 2, n - 1} & set(range(n)))
        for m in (0.0, xbm, -xbm, 1e6):
            x = make_rows(rng, dtype, [m] * len(positions), n, -spread(dtype))
            for r, p in enumerate(positions):
                x[r, p] = np.nan
            x[-1, 0] = -np.inf   # -inf and NaN together
            for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
                for func in ("softmax", "log_softmax"):
                    got = call_on_isa(isa, func_by_name(func), xa, a)
                    assert np.isnan(got).all(), \
                        f"[{isa}] {func} n={n} m={m} axis={a}: not all NaN (NaN at {positions})"
                lse = call_on_isa(isa, fs.logsumexp, xa, a)
                assert np.isnan(lse).all(), f"[{isa}] logsumexp n={n} m={m} axis={a}: {lse}"


@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_positive_infinity(isa, dtype):
    dt = np.dtype(dtype).type
    W = width(isa, dtype)
    rng = np.random.default_rng(6)
    for n in sorted({4 * W + 1, 37, 300}):
        for k in (1, 2, 3):
            x = make_rows(rng, dtype, [0.0, xb_max(isa, dtype), 1e6], n, -spread(dtype))
            for r in range(x.shape[0]):
                x[r, rng.choice(n, k, replace=False)] = np.inf
            x[:, -1] = np.where(x[:, -1] == np.inf, np.inf, -np.inf)
            for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
                sm = call_on_isa(isa, fs.softmax, xa, a)
                ls = call_on_isa(isa, fs.log_softmax, xa, a)
                lse = call_on_isa(isa, fs.logsumexp, xa, a)
                if a == 0:
                    sm, ls = sm.T, ls.T
                inf = x == np.inf
                assert (sm[inf] == dt(1.0 / k)).all() and (sm[~inf] == 0).all(), f"[{isa}] n={n} k={k}"
                assert (ls[~inf] == -np.inf).all()
                assert_matches("log_softmax", ls, reference("log_softmax", x), dtype)
                assert (lse == np.inf).all()


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_subnormal_outputs(isa, func, dtype):
    """x - m where exp(x - m) leaves the normal range: results flushed to 0 or within the absolute
    bound (tiny) for softmax, within the bounds for log_softmax and logsumexp; never negative or NaN."""
    dt = np.dtype(dtype).type
    W = width(isa, dtype)
    lo, hi = (-104.0, -80.0) if dtype == np.float32 else (-745.5, -700.0)
    xbm = xb_max(isa, dtype)
    d = np.linspace(lo, hi, 2001)
    for m in (0.0, 1.0, -7.25, xbm, -xbm, xbm / 2, float(np.nextafter(dt(xbm), dt(np.inf))), 1e5):
        for n in (4 * W + 1, 37, 260):
            # each row: the max, then n - 1 points of the grid
            cnt = (d.size + n - 2) // (n - 1)
            x = np.full((cnt, n), dt(m), dtype)
            vals = np.resize(d, cnt * (n - 1)).reshape(cnt, n - 1)
            x[:, 1:] = (np.longdouble(m) + vals.astype(np.longdouble)).astype(dtype)
            for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
                got = check_all(isa, func, xa, a, f"subnormal region m={m} n={n}")
                if func == "softmax":
                    assert (got >= 0).all() and not np.isnan(got).any()


# ---------------------------------------------------------------- same bits through every path

def bit_identity_rows(rng, dtype, isa, n, rows, regime):
    xbm = xb_max(isa, dtype)
    sp = spread(dtype)
    if regime == "expx":
        maxima = rng.uniform(-xbm, xbm, rows)
        maxima[:4] = [0.0, xbm, -xbm, 1.0]
    else:   # every |m| beyond XB_MAX: expm through every path
        maxima = np.sign(rng.uniform(-1, 1, rows)) * rng.uniform(xbm * 1.01, xbm * 4, rows)
    maxima = maxima.astype(dtype)
    lo = [-sp, -20.0, -3.0]
    x = np.concatenate([make_rows(rng, dtype, maxima[i::3], n, lo[i]) for i in range(3)])
    return x


def paths(func, x, isa):
    """(name, result as (rows, n) or (rows,)) for every layout of the same slices x (rows, n)."""
    f = func_by_name(func)
    lse = func == "logsumexp"
    R, n = x.shape
    out = []
    xT = np.ascontiguousarray(x.T)
    out.append(("column", call_on_isa(isa, f, xT, 0) if lse else call_on_isa(isa, f, xT, 0).T))
    out.append(("fortran", call_on_isa(isa, f, np.asfortranarray(x), -1)))
    big = np.zeros((R, 2 * n), x.dtype)
    big[:, ::2] = x
    out.append(("gathered x[:, ::2]", call_on_isa(isa, f, big[:, ::2], -1)))
    bigT = np.zeros((n, 2 * R), x.dtype)
    bigT[:, ::2] = xT
    r = call_on_isa(isa, f, bigT[:, ::2], 0)
    out.append(("gathered xT[:, ::2] axis 0", r if lse else r.T))
    r = call_on_isa(isa, f, xT[:, ::-1], 0)
    out.append(("reversed inner, axis 0", r[::-1] if lse else r.T[::-1]))
    out.append(("reversed outer", call_on_isa(isa, f, x[::-1], -1)[::-1]))
    o = np.empty((R,) if lse else (R, n), x.dtype)
    call_on_isa(isa, f, x, -1, out=o)
    out.append(("out=", o))
    if not lse:
        o2 = np.full((R, 2 * n), 7, x.dtype)
        call_on_isa(isa, f, x, -1, out=o2[:, 1::2])
        out.append(("strided out=", o2[:, 1::2]))
        xc = x.copy()
        call_on_isa(isa, f, xc, -1, out=xc)
        out.append(("in place", xc))
        xTc = xT.copy()
        call_on_isa(isa, f, xTc, 0, out=xTc)
        out.append(("in place, axis 0", xTc.T))
    out.append(("rows one by one", np.array([call_on_isa(isa, f, x[i], -1) for i in range(R)])))
    return out


def identity_lengths(isa, dtype):
    W = width(isa, dtype)
    return sorted({4 * W - 1, 4 * W, 4 * W + 1, 8 * W, 12 * W, 8 * W + 3, 16 * W + 3, 64, 65, 300, 5000}
                  - {0})


@pytest.mark.parametrize("regime", ["expx", "expm"])
@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_same_bits_every_path_and_thread_count(isa, func, dtype, regime, restore_threads):
    rng = np.random.default_rng(7)
    f = func_by_name(func)
    for n in identity_lengths(isa, dtype):
        rows = 12 if n >= 5000 else 264
        x = bit_identity_rows(rng, dtype, isa, n, rows, regime)
        fs.set_num_threads(1)
        base = call_on_isa(isa, f, x, -1)
        assert_matches(func, base, reference(func, x, -1), dtype, context=f"[{isa}] n={n} {regime}")
        for nt in (1, 2, 3):
            fs.set_num_threads(nt)
            for name, got in paths(func, x, isa) if nt == 1 else \
                    [("rows", call_on_isa(isa, f, x, -1))] + paths(func, x, isa)[:1]:
                if not same_bits(got, base):
                    ne = got != base
                    bad = np.flatnonzero(ne.any(axis=-1) if ne.ndim == 2 else ne)
                    i = int(bad[0]) if bad.size else 0
                    raise AssertionError(
                        f"[{isa}] {func} {np.dtype(dtype).name} n={n} {regime} threads={nt}: {name} "
                        f"differs from the row path in slices {bad[:8].tolist()} (slice {i}: max "
                        f"{x[i].max()!r}; got {np.ravel(got[i])[:3]} vs {np.ravel(base[i])[:3]})")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_long_row_same_bits_threads_and_columns(isa, func, dtype, restore_threads):
    """A row of 2^17 + 5 (the chunked long-row path, split over threads) against the column path.
    Thread counts never change the bits.  The column path gives the same bits too, except for float64
    softmax: long_row rounds each 2^15-element chunk's compensated sum to one double before adding the
    chunks (README: such rows may differ in the last bit from the same slice along another axis), so
    there the column result is only held to the accuracy bound."""
    exact_columns = not (dtype == np.float64 and func == "softmax")
    rng = np.random.default_rng(8)
    n = (1 << 17) + 5
    f = func_by_name(func)
    for m in (3.0, xb_max(isa, dtype)):
        x = make_rows(rng, dtype, [m], n, -spread(dtype) / 3)[0]
        fs.set_num_threads(1)
        base = call_on_isa(isa, f, x)
        for nt in (2, 3):
            fs.set_num_threads(nt)
            assert same_bits(call_on_isa(isa, f, x), base), f"[{isa}] {func} m={m} threads={nt}"
        x2 = np.stack([x, x[::-1]], axis=1)
        col = call_on_isa(isa, f, x2, 0)
        col = col[0] if func == "logsumexp" else col[:, 0]
        if exact_columns:
            assert same_bits(col, base), f"[{isa}] {func} m={m}: column path differs from the long-row path"
        else:
            assert_matches(func, col, reference(func, x, -1), dtype, context=f"[{isa}] column m={m}")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_column_slice_bits_independent_of_neighbours(isa, func, dtype):
    """A slice's bits through the column kernel must not depend on the other slices of its column
    block: a neighbour whose |max| is beyond XB_MAX (or non-finite, or NaN) must not move the path of
    a slice whose max is within it (the row kernel, which sees the slice alone, uses expx; so do
    short slices, n <= 4W, where the ISA sets SHORT_EXPX: AVX-512)."""
    rng = np.random.default_rng(9)
    W = width(isa, dtype)
    xbm = xb_max(isa, dtype)
    f = func_by_name(func)
    failures = []
    for n in sorted({10, 2 * W + 5, 4 * W, 4 * W + 1, 8 * W + 3, 100, 300}):
        for neighbour in ("beyond", "far beyond", "+inf", "all -inf", "nan"):
            x = make_rows(rng, dtype, [1.0, 0.0, xbm / 2, -3.0], n, -spread(dtype) / 4)
            if neighbour == "beyond":
                x[1] = make_rows(rng, dtype, [np.nextafter(np.dtype(dtype).type(xbm), np.inf)], n, -30)[0]
            elif neighbour == "far beyond":
                x[1] += np.dtype(dtype).type(1e7)
            elif neighbour == "+inf":
                x[1, 3] = np.inf
            elif neighbour == "all -inf":
                x[1] = -np.inf
            else:
                x[1, 2] = np.nan
            colres = call_on_isa(isa, f, np.ascontiguousarray(x.T), 0)
            for r in (0, 2, 3):
                alone = call_on_isa(isa, f, x[r], -1)
                got = colres[r] if func == "logsumexp" else colres[:, r]
                if not same_bits(got, alone):
                    diff = np.flatnonzero(np.atleast_1d(got != alone))
                    j = int(diff[0])
                    failures.append(
                        f"n={n} neighbour {neighbour} (its max {x[1].max()!r}): slice {r} (max "
                        f"{x[r].max()!r}) element {j}: column {np.atleast_1d(got)[j]!r} vs row "
                        f"{np.atleast_1d(alone)[j]!r} ({diff.size} of {np.size(got)} differ)")
    assert not failures, f"[{isa}] {func} {np.dtype(dtype).name}:\n  " + "\n  ".join(failures[:12])


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_column_block_width_never_changes_bits(isa, func, dtype, restore_threads):
    """Column blocks are narrower for longer slices (fss_col_block: 128 lanes, or the widest of 64 and 32
    whose input fits 128 KiB), so slices of one call fall in blocks of different widths, and a slice's
    block depends on its neighbours' count.  Every slice must still get its row-path bits, at
    every thread count, and whatever the block width or the slice's place in its block."""
    rng = np.random.default_rng(12)
    f = func_by_name(func)
    failures = []
    for n in (100, 300, 600, 1000, 2100):  # float32 blocks of 128, 64, 32, 32, 128 lanes; float64 128, 32, 128, ..
        for inner in (1, 33, 100, 257):
            x = make_rows(rng, dtype, rng.uniform(-20, 20, inner), n, -spread(dtype) / 4)
            rows = call_on_isa(isa, f, x, -1)
            for nt in (1, 2):
                fs.set_num_threads(nt)
                cols = call_on_isa(isa, f, np.ascontiguousarray(x.T), 0)
                got = cols if func == "logsumexp" else cols.T
                if not same_bits(got, rows):
                    ne = got != rows
                    bad = np.flatnonzero(ne.any(axis=-1) if ne.ndim == 2 else ne)
                    failures.append(f"n={n} inner={inner} threads={nt}: slices {bad[:8].tolist()} differ")
    assert not failures, f"[{isa}] {func} {np.dtype(dtype).name}:\n  " + "\n  ".join(failures[:12])


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_packed_column_blocks_same_bits(isa, func, dtype, restore_threads):
    """Long slices over an axis whose rows lie a power of two apart are computed in a dense copy of each
    column block (fss_col_pack: here 1 or 2 KiB between rows, 300-1000 rows; 21 or 32 short rows 4 KiB
    apart, which would crowd a few L1 sets; and blocks narrowed to 32 or 64 lanes for 1000-2000 rows 256
    or 512 bytes apart, fss_col_layout), as are slices too long for a block in place within 1 MiB
    (2100 rows 520 bytes apart, 1100 rows 560 bytes apart: blocks of 32 lanes, the last partial).  Every
    slice must get its
    row-path bits there too: with special lanes (all -inf, +inf, NaN, |max| beyond XB_MAX) next to
    ordinary ones, with a scale, in place, over a middle axis, and at 1 and 2 threads."""
    rng = np.random.default_rng(13)
    f = func_by_name(func)
    n_inner = ([(1000, 256), (300, 512), (2000, 64), (21, 1024), (2100, 130)] if dtype == np.float32
               else [(300, 256), (1000, 64), (32, 512), (1100, 70)])
    failures = []
    for n, inner in n_inner:
        maxima = rng.uniform(-20, 20, inner)
        maxima[5] = 2 * xb_max(isa, dtype)
        x = make_rows(rng, dtype, maxima, n, -spread(dtype) / 4)  # (inner, n): one row per slice
        x[0] = -np.inf
        x[1, 7] = np.inf
        x[2, 9] = np.nan
        for scale in (1.0, 0.37):
            with np.errstate(all="ignore"):
                rows = call_on_isa(isa, f, x, -1, scale=scale)
            xt = np.ascontiguousarray(x.T)  # (n, inner): the slices are its columns
            for nt in (1, 2):
                fs.set_num_threads(nt)
                with np.errstate(all="ignore"):
                    got = {"axis 0": call_on_isa(isa, f, xt, 0, scale=scale)}
                    mid = np.ascontiguousarray(np.stack([xt, xt[:, ::-1]], axis=0))  # (2, n, inner)
                    r = call_on_isa(isa, f, mid, 1, scale=scale)
                    got["middle axis"] = r[0]
                    if func != "logsumexp":
                        xc = xt.copy()
                        call_on_isa(isa, f, xc, 0, scale=scale, out=xc)
                        got["in place"] = xc
                for name, g in got.items():
                    g = g if func == "logsumexp" else g.T
                    if not same_bits(g, rows):
                        ne = (g != rows) & ~(np.isnan(g) & np.isnan(rows))
                        bad = np.flatnonzero(ne.any(axis=-1) if ne.ndim == 2 else ne)
                        failures.append(f"n={n} inner={inner} scale={scale} threads={nt} {name}: "
                                        f"slices {bad[:8].tolist()} differ")
    assert not failures, f"[{isa}] {func} {np.dtype(dtype).name}:\n  " + "\n  ".join(failures[:12])


# ---------------------------------------------------------------- large |max|: log_softmax, logsumexp

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_log_softmax_large_max(isa, dtype):
    """log_softmax(x) = x - logsumexp(x) to the absolute bound near the max although ulp(m) is large
    (m + log(s) is carried as a pair by lse_split: one rounding of m + log(s) is off by up to ulp(m) / 2,
    0.03 at m = 1e6 in float32); logsumexp(log_softmax(x)) is 0 to the bound; logsumexp >= max."""
    W = width(isa, dtype)
    rng = np.random.default_rng(10)
    if dtype == np.float32:
        maxima = [1e4, -1e4, 1e6, -1e6, 12345.678, 2.0 ** 24, 3e38, -3e38]
    else:
        maxima = [1e4, 1e6, -1e6, 1e10, -1e15, 2.0 ** 53, 1e300, -1e300]
    eps = eps_bound(dtype)
    for n in sorted({4 * W, 4 * W + 1, 100, 1000}):
        for lo in (-5.0, -spread(dtype)):
            x = make_rows(rng, dtype, maxima, n, lo)
            for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
                ls = check_all(isa, "log_softmax", xa, a, f"large max n={n} lo={lo}")
                lse = check_all(isa, "logsumexp", xa, a, f"large max n={n} lo={lo}")
                ls = ls if a == -1 else ls.T
                # x - logsumexp(x) as (x - m) - log(sum exp(x - m)), exact differences in the wide type
                # (x - lse_ref in the wide type would lose log(s) next to m = 1e300)
                wide = reference("logsumexp", x[:1], -1).dtype
                d = x.astype(wide) - x.max(axis=1).astype(wide)[:, None]
                want = d - np.log(np.exp(d).sum(axis=1))[:, None]
                assert_matches("log_softmax", ls, want, dtype, context=f"[{isa}] x - lse n={n}")
                # log_softmax is normalised: logsumexp of it is 0 to the bound
                tot = reference("logsumexp", ls, -1)
                lim = eps * (1.0 + math.log(n))   # sum of softmax * (bound of each element)
                assert np.all(np.abs(tot) <= lim), f"[{isa}] n={n}: logsumexp(log_softmax) {tot}"
                # and the computed logsumexp is the max to its precision, then more
                assert np.all(lse >= x.max(axis=1)), f"[{isa}] n={n}: logsumexp below the max"


@pytest.mark.parametrize("scale", [2.0, 0.5])
@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_scaled_rows_around_xb_max(isa, func, dtype, scale):
    """scale != 1 keeps the TwoSum path; powers of two make scale * x exact for the reference."""
    W = width(isa, dtype)
    rng = np.random.default_rng(11)
    f = func_by_name(func)
    for n in sorted({4 * W, 4 * W + 1, 70, 1000}):
        x = make_rows(rng, dtype, boundary_maxima(dtype), n, -spread(dtype) / scale)
        for a, xa in ((-1, x), (0, np.ascontiguousarray(x.T))):
            got = call_on_isa(isa, f, xa, a, scale=scale)
            ref = reference(func, xa * np.dtype(dtype).type(scale), a)
            assert_matches(func, got, ref, dtype, context=f"[{isa}] scale={scale} n={n} axis={a}", x=xa)


# ---------------------------------------------------------------- the ISA cap from the environment

def test_max_isa_env_scalar_threshold():
    """Under FASTSOFTMAX_MAX_ISA=scalar the float threshold is 2^8: rows with max 2^8 and just above,
    and 2^14, stay within the bounds (checked in a subprocess, the cap being read at import)."""
    code = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import fastsoftmax as fs
from fastsoftmax import _core
from conftest import reference, assert_matches
assert fs.get_isa() == "scalar", fs.get_isa()
rng = np.random.default_rng(0)
for m in (2.0**8, float(np.nextafter(np.float32(256), np.float32(1e9))), -2.0**8, 2.0**14, -2.0**14):
    x = (m + rng.uniform(-90, 0, (4, 300))).astype(np.float32)
    x = np.minimum(x, np.float32(m)); x[:, 7] = np.float32(m)
    for func in ("softmax", "log_softmax", "logsumexp"):
        got = getattr(fs, func)(x, -1)
        assert _core._last_isa() == "scalar"
        assert_matches(func, got, reference(func, x, -1), np.float32, context=f"m={m}")
print("ok")
"""
    env = dict(os.environ, FASTSOFTMAX_MAX_ISA="scalar")
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.run([sys.executable, "-c", code, here], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stdout + p.stderr
