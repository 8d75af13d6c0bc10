"""Accuracy of softmax / log_softmax / logsumexp against a high-precision
reference (float64 for float16/float32 inputs, np.longdouble for float64
inputs), under every available ISA: every row length 1..70, long rows (1000,
4097, 100000, 1000000), five input distributions, every axis position of a
3-D array (ints, negative ints, tuples, None), non-last axes of many lengths,
and float16.  Also the library's SIMD exp approximations (_exp_f32/_exp_f64).
"""
import numpy as np
import pytest

from fastsoftmax import _core
from conftest import FUNC_NAMES, assert_matches, call_on_isa, check


def _dominant(rng, shape):
    x = np.zeros(shape)
    flat = x.reshape(-1, shape[-1]) if len(shape) else x.reshape(1, 1)
    idx = rng.integers(0, shape[-1], size=flat.shape[0])
    flat[np.arange(flat.shape[0]), idx] = 30.0
    return x


DISTRIBUTIONS = {
    "uniform1": lambda rng, shape: rng.uniform(-1, 1, shape),
    "uniform50": lambda rng, shape: rng.uniform(-50, 50, shape),
    "normal10": lambda rng, shape: rng.standard_normal(shape) * 10,
    "dominant": _dominant,
    "uniform90_100": lambda rng, shape: rng.uniform(90, 100, shape),
}
DIST_NAMES = list(DISTRIBUTIONS)
DTYPES = [np.float32, np.float64]


def make(dist, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    return DISTRIBUTIONS[dist](rng, shape).astype(dtype)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dist", DIST_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_row_length_1_to_70(isa, func, dist, dtype):
    for n in range(1, 71):
        x = make(dist, (3, n), dtype, seed=n)
        check(func, x, -1, context=f"n={n} dist={dist}", isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dist", DIST_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1000, 4097, 100000])
def test_long_rows(isa, func, dist, dtype, n):
    rows = 2 if n < 100000 else 1
    x = make(dist, (rows, n), dtype, seed=n + 7)
    check(func, x, -1, context=f"n={n} dist={dist}", isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dist", ["uniform50", "dominant"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_million_row(isa, func, dist, dtype):
    x = make(dist, (1_000_000,), dtype, seed=11)
    check(func, x, -1, context=f"n=1e6 dist={dist}", isa_name=isa)


AXES_3D = [0, 1, 2, -1, -2, -3, (0, 2), (2, 0), (1, 2), (0, 1), (0, 1, 2), (-1, 0), None]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("axis", AXES_3D, ids=repr)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_axis_of_3d(isa, func, axis, dtype):
    for i, dist in enumerate(DIST_NAMES):
        x = make(dist, (5, 7, 9), dtype, seed=100 + i)
        check(func, x, axis, context=f"dist={dist}", isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_last_axis_lengths(isa, func, dtype):
    # axis 0 of (n, 6): every slice is strided -> the non-last-axis kernel.
    for n in list(range(1, 71)) + [1000]:
        for i, dist in enumerate(["uniform50", "dominant", "uniform90_100"]):
            x = make(dist, (n, 6), dtype, seed=n * 10 + i)
            check(func, x, 0, context=f"n={n} dist={dist}", isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((300, 17), 0), ((4, 1000, 3), 1),
                                        ((33, 70, 2), 1), ((3, 2, 4097), 0),
                                        ((2, 50, 40), (0, 1)), ((64, 2, 3), (0, 2))])
def test_non_last_axis_larger(isa, func, dtype, shape, axis):
    x = make("normal10", shape, dtype, seed=sum(shape))
    check(func, x, axis, isa_name=isa)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_keepdims_accuracy(isa, dtype):
    x = make("uniform50", (4, 6, 8), dtype, seed=5)
    for axis in [0, 1, 2, (0, 2), None]:
        check("logsumexp", x, axis, keepdims=True, isa_name=isa)


F16_DISTS = {
    "uniform1": lambda rng, shape: rng.uniform(-1, 1, shape),
    "uniform10": lambda rng, shape: rng.uniform(-10, 10, shape),
    "normal3": lambda rng, shape: rng.standard_normal(shape) * 3,
    "dominant": _dominant,
    "uniform90_100": lambda rng, shape: rng.uniform(90, 100, shape),
    "large": lambda rng, shape: rng.uniform(-60000, 60000, shape),
}


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dist", list(F16_DISTS))
def test_float16(isa, func, dist):
    rng = np.random.default_rng(3)
    for n in list(range(1, 71)) + [1000, 4097, 100000]:
        x = F16_DISTS[dist](rng, (3 if n < 100000 else 1, n)).astype(np.float16)
        got = check(func, x, -1, context=f"n={n} dist={dist}", isa_name=isa)
        assert got.dtype == np.float16
    x = F16_DISTS[dist](rng, (40, 5, 3)).astype(np.float16)
    for axis in [0, 1, (0, 2), None]:
        check(func, x, axis, context=f"dist={dist}", isa_name=isa)


@pytest.mark.parametrize("dtype,lo", [(np.float32, -87.3), (np.float64, -708.0)])
def test_simd_exp(isa, dtype, lo):
    fn = _core._exp_f32 if dtype == np.float32 else _core._exp_f64
    wide = np.float64 if dtype == np.float32 else np.longdouble
    rng = np.random.default_rng(0)
    grid = np.linspace(lo, 0, 200001).astype(dtype)
    rand = rng.uniform(lo, 0, 50000).astype(dtype)
    special = np.array([0.0, -0.0, lo, -1e-30, -1e-7, -0.5, -1.0,
                        np.log(2.0) * -10, -20.0, lo / 2], dtype=dtype)
    for name, a in [("grid", grid), ("random", rand), ("special", special)]:
        a = np.ascontiguousarray(a)
        before = a.copy()
        got = call_on_isa(isa, fn, a)
        assert isinstance(got, np.ndarray) and got is not a
        assert not np.shares_memory(got, a)
        np.testing.assert_array_equal(a, before)
        assert got.dtype == dtype and got.shape == a.shape
        ref = np.exp(a.astype(wide))
        # exp(x) is a softmax numerator: use the softmax error bound
        assert_matches("softmax", got, ref, dtype, context=f"_exp {name}", x=a)
    # tails: every length 0..40
    for n in range(0, 41):
        a = rng.uniform(lo, 0, n).astype(dtype)
        got = fn(a)
        assert got.shape == (n,)
        assert_matches("softmax", got, np.exp(a.astype(wide)), dtype,
                       context=f"_exp n={n}", x=a)


# The exp approximations' own error, in ulp of the result (README: 0.943 / 0.989 (AVX-512's table) /
# 1.236 (scalar, unfused) over every float32 input; tools/exp_accuracy.py): tighter than the softmax
# bound, so that a wrong table entry or polynomial coefficient (about 1.5 ulp) fails here.
EXP_ULP_BOUND = {"scalar": 1.25}


@pytest.mark.parametrize("dtype,lo", [(np.float32, -87.33), (np.float64, -708.39)])
def test_simd_exp_ulp(isa, dtype, lo):
    fn = _core._exp_f32 if dtype == np.float32 else _core._exp_f64
    wide = np.float64 if dtype == np.float32 else np.longdouble
    rng = np.random.default_rng(5)
    x = np.concatenate([np.linspace(lo, 0, 1_000_001), -rng.exponential(1.0, 200_000),
                        rng.uniform(lo, 0, 200_000)]).astype(dtype)
    got = call_on_isa(isa, fn, x).astype(wide)
    ref = np.exp(x.astype(wide))
    ulp = np.abs(got - ref) / np.spacing(ref.astype(dtype)).astype(wide)
    i = int(np.argmax(ulp))
    bound = EXP_ULP_BOUND.get(isa, 1.0)
    assert ulp[i] < bound, f"[{isa}] exp({x[i]!r}) = {got[i]!r}: {float(ulp[i]):.3f} ulp (bound {bound})"


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype,lo,hi", [(np.float32, -110.0, -80.0),
                                         (np.float64, -750.0, -700.0),
                                         (np.float16, -20.0, -5.0)])
def test_exp_underflow_boundary(isa, func, dtype, lo, hi):
    """Differences x_i - max near where exp(x_i - max) leaves the normal range
    (results just above and below the smallest normal number)."""
    d = np.linspace(lo, hi, 4001).astype(dtype)
    for n in (2, 9, 33):
        x = np.zeros((d.size, n), dtype)
        x[:, 1:] = d[:, None]
        x[:, 1:] += (np.arange(n - 1) % 3 == 1).astype(dtype) * dtype(0.5) * dtype(-1)
        check(func, x, -1, context=f"underflow boundary n={n}", isa_name=isa)
        check(func, np.ascontiguousarray(x.T), 0, context=f"underflow boundary axis0 n={n}",
              isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_last_axis_inner_widths(isa, func, dtype):
    # shape (outer, n, inner) reduced over axis 1: every inner width 1..40
    # covers the SIMD body and tail of the strided kernel
    for inner in range(1, 41):
        for n in (1, 5, 37):
            x = make("uniform50", (2, n, inner), dtype, seed=inner * 100 + n)
            check(func, x, 1, context=f"inner={inner} n={n}", isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_batched_rows_match_single_rows(isa, func, dtype):
    """Short rows are computed two at a time; each row must get the bits it gets alone (special rows
    in a pair included)."""
    import fastsoftmax as fs

    f = getattr(fs, func)
    rng = np.random.default_rng(5)
    for n in list(range(1, 70)) + [100]:
        x = (rng.standard_normal((7, n)) * 10).astype(dtype)
        x[3, 0] = np.nan
        x[5, :] = -np.inf
        x[6, n // 2] = np.inf
        batched = call_on_isa(isa, f, x, -1)
        for r in range(x.shape[0]):
            single = f(x[r])
            assert np.array_equal(batched[r], single, equal_nan=True), (n, r)
        check(func, x, -1, context=f"n={n} batched", isa_name=isa)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [2, 40, 100, 300000])
def test_log_softmax_max_equal_to_minus_log_sum(isa, dtype, n, restore_threads):
    """log_softmax of slices whose max m is exactly -log(sum(exp(x - m))) rounded to the dtype, so that
    m + log(sum) is 0 in the kernels' split of m + L: every layout (a row, a batch of rows, a column, a
    middle axis, a row split across threads) must still give (x - m) - L.  The rows are [0, -1/8,
    -inf...] shifted by minus their own logsumexp: the shift is exact, so the kernel sees the same
    differences and sums, and m + lh is 0."""
    import fastsoftmax as fs

    r0 = np.full(n, -np.inf, dtype)
    r0[:2] = (0, -0.125)
    for threads in (1, 2):
        fs.set_num_threads(threads)
        layouts = {"row": (r0, -1), "rows": (np.tile(r0, (5, 1)), -1), "column": (np.tile(r0[:, None], 9), 0)}
        if n <= 100:
            layouts["middle"] = (np.tile(r0[None, :, None], (3, 1, 11)), 1)
        for name, (x0, axis) in layouts.items():
            lh = np.expand_dims(call_on_isa(isa, fs.logsumexp, x0, axis), axis)
            assert np.all((lh > 0.5) & (lh < 1)), (name, lh)  # x0 - lh is exact: one binade
            x = x0 - lh
            check("log_softmax", x, axis, context=f"{name} n={n} threads={threads}", isa_name=isa)
