"""Special values under every available ISA: NaN, +-inf (one, several, all),
-inf among finite entries, finite values of extreme magnitude (no overflow;
log_softmax is -inf only below the float range), subnormals; for row lengths
that put them in SIMD bodies and tails; along the last axis and along axis 0
(the strided kernel); with tuple/None axes; and axis=() where every element is
its own slice.
"""
import math

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import (FUNC_NAMES, assert_matches, call_on_isa,
                      func_by_name, reference)

LENGTHS = [1, 2, 7, 8, 9, 16, 17, 33, 100, 1000]
DTYPES = [np.float32, np.float64, np.float16]
NAN, INF = np.nan, np.inf


def positions(n):
    return sorted({0, n // 2, n - 1})


def special_rows(n, dtype, seed=0):
    """Rows of length n, each exercising one special-value rule."""
    rng = np.random.default_rng(seed + n)
    fmax = float(np.finfo(dtype).max)

    def base():
        return rng.uniform(-5, 5, n)

    rows = {}
    for p in positions(n):
        r = base(); r[p] = NAN; rows[f"nan@{p}"] = r
        r = base(); r[p] = INF; rows[f"posinf@{p}"] = r
        r = np.full(n, -INF); r[p] = 1.25; rows[f"one_finite@{p}"] = r
        if n >= 2:
            r = base(); r[p] = -INF; rows[f"neginf@{p}"] = r
    rows["all_nan"] = np.full(n, NAN)
    rows["all_neginf"] = np.full(n, -INF)
    rows["all_posinf"] = np.full(n, INF)
    rows["all_max"] = np.full(n, fmax)
    rows["all_min"] = np.full(n, -fmax)
    rows["all_zero"] = np.zeros(n)
    if n >= 2:
        r = base(); r[0] = INF; r[-1] = INF; rows["posinf_first_last"] = r
        r = base(); r[0] = INF; r[-1] = -INF; rows["posinf_neginf"] = r
        r = base(); r[::3] = -INF; rows["neginf_every3"] = r
        r = base(); r[1::2] = -INF; rows["neginf_odd"] = r
        r = np.full(n, -INF); r[-1] = NAN; rows["neginf_then_nan"] = r
        r = np.full(n, INF); r[-1] = NAN; rows["posinf_then_nan"] = r
        r = np.full(n, -INF); r[n // 2] = INF; rows["neginf_one_posinf"] = r
        r = np.full(n, 0.0); r[::2] = 0.88 * fmax; r[1::2] = -0.88 * fmax
        rows["plus_minus_extreme"] = r
        r = rng.uniform(-1, 1, n) * (1e30 if dtype != np.float16 else 6e4)
        rows["huge_random"] = r
    if n >= 3:
        r = base(); r[0] = INF; r[1] = -INF; r[-1] = NAN; rows["nan_and_infs"] = r
        r = base(); r[::2] = INF; rows["posinf_every2"] = r
    if dtype == np.float32:
        rows["pm3e38"] = np.resize([3e38, -3e38], n)
        rows["pm1e30"] = np.resize([1e30, -1e30, 0.0], n)
        rows["subnormal"] = rng.uniform(-1, 1, n) * 1e-40
    elif dtype == np.float64:
        rows["pm1e300"] = np.resize([1e300, -1e300, 0.0], n)
        rows["pm1.7e308"] = np.resize([1.7e308, -1.7e308], n)
        rows["subnormal"] = rng.uniform(-1, 1, n) * 1e-310
    else:
        rows["subnormal"] = rng.uniform(-1, 1, n) * 3e-6
    names = list(rows)
    with np.errstate(over="ignore"):
        x = np.stack([rows[k] for k in names]).astype(dtype)
    return names, x


def check_rules(func, got, x, names, context):
    """Exact checks of the documented special-value rules, row by row
    (rows along the last axis of x/got)."""
    for i, name in enumerate(names):
        row = x[i].astype(np.float64)
        g = got[i]
        ctx = f"{func} {x.dtype} {context} row {name}: input {x[i]!r}, got {g!r}"
        if np.isnan(row).any():
            assert np.all(np.isnan(g)), ctx
            continue
        if np.all(row == -INF):
            if func == "logsumexp":
                assert g == -INF, ctx
            else:
                assert np.all(np.isnan(g)), ctx
            continue
        npos = int((row == INF).sum())
        if npos:
            if func == "logsumexp":
                assert g == INF, ctx
            elif func == "softmax":
                assert np.all(g[row != INF] == 0), ctx
                np.testing.assert_allclose(g[row == INF].astype(np.float64), 1 / npos,
                                           rtol=4 * float(np.finfo(x.dtype).eps), err_msg=ctx)
            else:
                assert np.all(g[row != INF] == -INF), ctx
                np.testing.assert_allclose(g[row == INF].astype(np.float64), -math.log(npos),
                                           rtol=4 * float(np.finfo(x.dtype).eps), err_msg=ctx)
            continue
        # all entries finite or -inf, at least one finite
        if func == "logsumexp":
            assert np.isfinite(g), ctx
            continue
        slack = 4 * float(np.finfo(x.dtype).eps)
        if func == "softmax":
            assert np.all(np.isfinite(g)), ctx
            assert np.all(g[row == -INF] == 0), ctx
            assert np.all((g >= 0) & (g <= 1 + slack)), ctx
        else:
            assert np.all(g[row == -INF] == -INF), ctx
            assert not np.isnan(g).any(), ctx
            assert np.all(g <= slack), ctx


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_special_last_axis(isa, func, dtype, n):
    names, x = special_rows(n, dtype)
    got = call_on_isa(isa, func_by_name(func), x, -1)
    assert_matches(func, got, reference(func, x, -1), dtype, context=f"n={n}", x=x)
    check_rules(func, got, x, names, f"n={n} axis=-1")
    # each row alone, too (single-row calls may take another path)
    for i, name in enumerate(names):
        g1 = call_on_isa(isa, func_by_name(func), x[i])
        assert_matches(func, g1, reference(func, x[i]), dtype, context=f"n={n} row {name}",
                       x=x[i])


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", LENGTHS)
def test_special_axis0(isa, func, dtype, n):
    names, x = special_rows(n, dtype)
    xt = np.ascontiguousarray(x.T)           # shape (n, rows): slices along axis 0
    got = call_on_isa(isa, func_by_name(func), xt, 0)
    assert_matches(func, got, reference(func, xt, 0), dtype, context=f"n={n} axis=0", x=xt)
    got_rows = got if func == "logsumexp" else got.T
    check_rules(func, got_rows, x, names, f"n={n} axis=0")
    # (n, 5) arrays: a special column among ordinary ones
    rng = np.random.default_rng(n)
    for i, name in enumerate(names):
        a = rng.uniform(-3, 3, (n, 5)).astype(dtype)
        a[:, 2] = x[i]
        g = call_on_isa(isa, func_by_name(func), a, 0)
        assert_matches(func, g, reference(func, a, 0), dtype,
                       context=f"(n,5) axis=0 n={n} column {name}", x=a)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [(0, 2), (1, 2), None], ids=repr)
def test_special_tuple_and_none_axes(isa, func, dtype, axis):
    rng = np.random.default_rng(1)
    base = rng.uniform(-10, 10, (4, 5, 6)).astype(dtype)
    cases = {}
    a = base.copy(); a[1, 2, 3] = NAN; cases["nan"] = a
    a = base.copy(); a[2, 0, 5] = INF; a[0, 4, 1] = INF; cases["two_posinf"] = a
    a = base.copy(); a[:, 1, :] = -INF; cases["neginf_plane"] = a
    a = np.full_like(base, -INF); cases["all_neginf"] = a
    a = base.copy(); a[3, 3, :] = -INF; a[0, 0, 0] = NAN; a[1, 1, 1] = INF
    cases["mixed"] = a
    for name, a in cases.items():
        got = call_on_isa(isa, func_by_name(func), a, axis)
        assert_matches(func, got, reference(func, a, axis), dtype,
                       context=f"case {name}", x=a)


def test_examples_from_contract():
    # float32 [3e38, -3e38]: no overflow in softmax / logsumexp; the exact
    # log_softmax[1] is -6e38, below the float32 range -> -inf.
    x = np.array([3e38, -3e38], dtype=np.float32)
    sm = fs.softmax(x)
    assert sm.tolist() == [1.0, 0.0]
    lsm = fs.log_softmax(x)
    assert lsm[0] == 0.0 and lsm[1] == -INF
    assert fs.logsumexp(x) == np.float32(3e38)
    # float64 1e300 scale
    x = np.array([1e300, 1e300, -1e300])
    np.testing.assert_array_equal(fs.softmax(x), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(fs.log_softmax(x), [-math.log(2), -math.log(2), -2e300],
                               rtol=1e-15)
    assert fs.logsumexp(x) == 1e300
    # k infinities
    x = np.array([1.0, INF, -INF, INF, INF, 2.0], dtype=np.float32)
    np.testing.assert_allclose(fs.softmax(x), [0, 1 / 3, 0, 1 / 3, 1 / 3, 0], rtol=1e-6)
    assert fs.softmax(x)[[0, 2, 5]].tolist() == [0, 0, 0]
    # size-0 axis
    np.testing.assert_array_equal(fs.logsumexp(np.zeros((3, 0)), axis=-1), [-INF] * 3)


AXIS_EMPTY_CASES = [
    # value, softmax, log_softmax, logsumexp
    (2.5, 1.0, 0.0, 2.5),
    (-7.0, 1.0, 0.0, -7.0),
    (0.0, 1.0, 0.0, 0.0),
    (NAN, NAN, NAN, NAN),
    (-INF, NAN, NAN, -INF),
    (INF, 1.0, 0.0, INF),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6,), (2, 3), (3, 2, 2)])
def test_axis_empty_tuple_each_element_own_slice(dtype, shape):
    vals = np.resize(np.array([c[0] for c in AXIS_EMPTY_CASES]), shape).astype(dtype)
    big = np.finfo(dtype).max
    for fi, func in enumerate(FUNC_NAMES):
        exp = np.resize(np.array([c[fi + 1] for c in AXIS_EMPTY_CASES]), shape).astype(dtype)
        got = func_by_name(func)(vals, ())
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_array_equal(got, exp, err_msg=f"{func} axis=()")
        if func == "logsumexp":
            got_k = fs.logsumexp(vals, (), keepdims=True)
            np.testing.assert_array_equal(got_k, exp)
    # extreme finite values alone: 1, 0, x
    x = np.array([big, -big], dtype=dtype)
    np.testing.assert_array_equal(fs.softmax(x, ()), [1, 1])
    np.testing.assert_array_equal(fs.log_softmax(x, ()), [0, 0])
    np.testing.assert_array_equal(fs.logsumexp(x, ()), x)
