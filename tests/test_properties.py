"""Hypothesis property tests on random finite inputs of random shapes, axes
and dtypes: softmax rows sum to 1 within n * few ulps, softmax and
log_softmax are exactly invariant to adding an exactly representable constant
(small integer shifts of small-integer-valued inputs) and logsumexp shifts by
it, exp(log_softmax) matches softmax, results stay within the documented
bounds of the high-precision reference, and agree with scipy.special.
"""
import math

import numpy as np
import scipy.special as sps
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastsoftmax as fs
from conftest import BOUNDS, assert_matches, func_by_name, reference

SETTINGS = settings(max_examples=60, deadline=None, database=None)
FLOAT_DTYPES = [np.float32, np.float64]


@st.composite
def array_and_axis(draw, dtypes=FLOAT_DTYPES, elements=None, max_side=12, min_side=1):
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=min_side,
                                  max_side=max_side))
    width = {np.float16: 16, np.float32: 32, np.float64: 64}[dtype]
    if elements is None:
        elems = st.floats(width=width, allow_nan=False, allow_infinity=False)
    elif callable(elements):
        elems = elements(width)
    else:
        elems = elements
    x = draw(hnp.arrays(dtype, shape, elements=elems))
    nd = len(shape)
    axis = draw(st.one_of(
        st.integers(-nd, nd - 1),
        st.none(),
        st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple),
    ))
    return x, axis


def _moved_2d(a, axis):
    """Slices along ``axis`` as rows of a 2-D array (same layout as reference)."""
    nd = a.ndim
    if axis is None:
        axes = list(range(nd))
    elif isinstance(axis, tuple):
        axes = sorted(d % nd for d in axis)
    else:
        axes = [axis % nd]
    rest = [d for d in range(nd) if d not in axes]
    t = np.transpose(a, rest + axes)
    k = int(np.prod([a.shape[d] for d in axes]))
    return t.reshape(-1, k)


@SETTINGS
@given(array_and_axis())
def test_softmax_sums_to_one(xa):
    x, axis = xa
    sm = fs.softmax(x, axis)
    rows = _moved_2d(np.asarray(sm, np.float64), axis)
    n = rows.shape[1]
    eps = float(np.finfo(x.dtype).eps)
    tiny = BOUNDS[np.dtype(x.dtype)][2]
    for row in rows:
        s = math.fsum(row)
        assert abs(s - 1) <= (4 + n) * eps + n * tiny, (s, n)
    assert np.all((np.asarray(sm) >= 0) & (np.asarray(sm) <= 1 + 4 * eps))


small_ints = st.integers(-50, 50).map(float)


@SETTINGS
@given(array_and_axis(elements=small_ints, max_side=10), st.integers(-50, 50))
def test_shift_invariance(xa, c):
    x, axis = xa
    xs = x + x.dtype.type(c)
    assert np.array_equal(xs - x.dtype.type(c), x)      # the shift is exact
    # The kernels reduce x itself, not x - max, so the bits may move with the shift; both results must
    # stay within the accuracy bound of the (shift-invariant) reference.
    for func in ("softmax", "log_softmax"):
        ref = reference(func, x, axis)
        for y, what in ((x, "unshifted"), (xs, f"shifted by {c}")):
            assert_matches(func, np.asarray(func_by_name(func)(y, axis)), ref, x.dtype, context=what)
    lse = fs.logsumexp(xs, axis)
    ref = reference("logsumexp", x, axis) + c
    assert_matches("logsumexp", np.asarray(lse), ref, x.dtype, context=f"shift {c}")


@SETTINGS
@given(array_and_axis())
def test_within_bounds_of_reference(xa):
    x, axis = xa
    for func in ("softmax", "log_softmax", "logsumexp"):
        got = np.asarray(func_by_name(func)(x, axis))
        assert_matches(func, got, reference(func, x, axis), x.dtype, context=f"axis={axis}")


@SETTINGS
@given(array_and_axis(elements=lambda w: st.floats(-1e4, 1e4, width=w)))
def test_agrees_with_scipy(xa):
    x, axis = xa
    n = _moved_2d(x, axis).shape[1]
    eps = float(np.finfo(x.dtype).eps)
    tol = (8 + n) * eps
    for func in ("softmax", "log_softmax", "logsumexp"):
        got = np.asarray(func_by_name(func)(x, axis), np.float64)
        want = np.asarray(getattr(sps, func)(x.astype(np.float64), axis=axis), np.float64)
        # also within the documented bounds of the exact reference
        assert_matches(func, np.asarray(func_by_name(func)(x, axis)),
                       reference(func, x, axis), x.dtype)
        if func == "softmax":
            np.testing.assert_allclose(got, want, rtol=tol, atol=n * 2.0 ** -126)
        else:
            np.testing.assert_allclose(got, want, rtol=tol,
                                       atol=tol * max(1.0, float(np.max(np.abs(want)))))


@SETTINGS
@given(array_and_axis(elements=lambda w: st.floats(-80, 80, width=w)))
def test_exp_log_softmax_matches_softmax(xa):
    x, axis = xa
    sm = np.asarray(fs.softmax(x, axis), np.float64)
    lsm = np.asarray(fs.log_softmax(x, axis), np.float64)
    lse = np.asarray(fs.logsumexp(x, axis, keepdims=True), np.float64)
    eps = float(np.finfo(x.dtype).eps)
    big = sm >= 2.0 ** -100
    # exp(lsm) amplifies lsm's absolute error (<= 4 eps max(1,|lsm|)) by about |lsm|
    rtol = 16 * eps * np.maximum(1, np.abs(lsm))
    assert np.all(np.abs(np.exp(lsm) - sm)[big] <= (rtol * sm)[big] + 8 * eps * sm[big])
    # x - lsm == lse in every slice (up to the bounds)
    recon = x.astype(np.float64) - lsm
    lse_b = np.broadcast_to(lse, x.shape)
    assert np.all(np.abs(recon - lse_b) <= 16 * eps * np.maximum(1, np.abs(x) + np.abs(lse_b)))


@SETTINGS
@given(array_and_axis(dtypes=[np.float16],
                      elements=st.floats(-1000, 1000, width=16)))
def test_float16_within_bounds(xa):
    x, axis = xa
    for func in ("softmax", "log_softmax", "logsumexp"):
        got = np.asarray(func_by_name(func)(x, axis))
        assert got.dtype == np.float16
        assert_matches(func, got, reference(func, x, axis), np.float16)


@st.composite
def strided_array_and_axis(draw):
    """A view with random per-axis steps (positive or negative), a random axis
    permutation and random offsets, plus a random axis spec."""
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    nd = draw(st.integers(1, 5))
    shape = draw(st.lists(st.integers(1, 6), min_size=nd, max_size=nd))
    steps = draw(st.lists(st.sampled_from([1, 2, 3, -1, -2]), min_size=nd, max_size=nd))
    perm = draw(st.permutations(list(range(nd))))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    base_shape = [s * abs(st_) + 1 for s, st_ in zip(shape, steps)]
    base = (rng.standard_normal(base_shape) * 20).astype(dtype)
    idx = []
    for s, step in zip(shape, steps):
        if step > 0:
            idx.append(slice(1, 1 + s * step, step))
        else:
            idx.append(slice(s * -step - 1, None, step))
    view = base[tuple(idx)].transpose(perm)
    assert view.shape == tuple(shape[p] for p in perm)
    axis = draw(st.one_of(
        st.integers(-nd, nd - 1),
        st.none(),
        st.lists(st.integers(-nd, nd - 1), min_size=0, max_size=nd,
                 unique_by=lambda a: a % nd).map(tuple),
    ))
    out_f = draw(st.booleans())
    return view, axis, out_f


@SETTINGS
@given(strided_array_and_axis())
def test_random_layouts_and_axes(case):
    x, axis, use_fortran_out = case
    xc = np.ascontiguousarray(x)
    for func in ("softmax", "log_softmax", "logsumexp"):
        f = func_by_name(func)
        got = np.asarray(f(x, axis))
        assert_matches(func, got, reference(func, xc, axis), x.dtype,
                       context=f"shape={x.shape} strides={x.strides} axis={axis}")
        want = np.asarray(f(xc, axis))
        rel = BOUNDS[np.dtype(x.dtype)][0]
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                   rtol=2 * rel, atol=2 * rel)
        out = np.empty(got.shape, x.dtype, order="F" if use_fortran_out else "C")
        if out.ndim:
            out = np.flip(out, axis=0)
        assert f(x, axis, out=out) is out
        np.testing.assert_array_equal(out, got)
