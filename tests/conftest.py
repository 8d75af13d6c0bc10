"""Shared fixtures and high-precision reference implementations for the
fastsoftmax test suite.

Contents:
* ``isa`` fixture: runs a test once per instruction set of this architecture
  ("scalar", "avx2", "avx512" on x86-64; "scalar", "neon" on AArch64),
  skipping the ones the CPU/build lacks, forcing the ISA through
  ``fastsoftmax._core._set_isa`` and restoring the previous one.  Kernels the
  CPU lacks are still checked, in C, under emulation (tests/test_c_kernels.py).
* ``restore_threads`` fixture: restores the thread count after a test.
* ``reference``: softmax / log_softmax / logsumexp computed in float64 (for
  float16/float32 inputs) or np.longdouble (for float64 inputs), following the
  package's special-value rules.
* ``assert_matches``: checks a result against a reference with the documented
  error bounds and reports the worst error in ULP on failure.
* ``call_on_isa``: calls a function and asserts the kernel ran on the given ISA.
"""
import math

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core

ALL_ISAS = list(_core.isa_names())  # every ISA of this architecture, compiled in or not
FUNC_NAMES = ["softmax", "log_softmax", "logsumexp"]

# (relative bound, threshold below which the bound is absolute, absolute bound)
BOUNDS = {
    np.dtype(np.float16): (2.0 ** -10, 2.0 ** -14, 2.0 ** -24),
    np.dtype(np.float32): (4 * 2.0 ** -23, 2.0 ** -126, 2.0 ** -126),
    np.dtype(np.float64): (4 * 2.0 ** -52, 2.0 ** -1022, 2.0 ** -1022),
}


def func_by_name(name):
    return getattr(fs, name)


@pytest.fixture(params=ALL_ISAS)
def isa(request):
    name = request.param
    avail = tuple(fs.available_isas())
    if name not in avail:
        pytest.skip(f"CPU/build lacks {name} (available: {', '.join(avail)}); "
                    "tests/test_c_kernels.py runs its kernels under emulation")
    prev = _core._set_isa(name)
    try:
        yield name
    finally:
        _core._set_isa(prev)


@pytest.fixture
def restore_threads():
    prev = fs.get_num_threads()
    try:
        yield prev
    finally:
        fs.set_num_threads(prev)


def same_bits(a, b):
    """Same shape, dtype and bits (NaN positions and the signs of zeros included)."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not np.array_equal(a, b, equal_nan=True):
        return False
    nn = ~np.isnan(a)
    return np.array_equal(np.signbit(a[nn]), np.signbit(b[nn]))


def call_on_isa(isa_name, func, *args, **kwargs):
    """Call ``func`` and assert that its kernel ran on ``isa_name``."""
    res = func(*args, **kwargs)
    last = _core._last_isa()
    assert last == isa_name, (
        f"{getattr(func, '__name__', func)} ran on ISA {last!r}, expected {isa_name!r}")
    return res


def result_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(np.float64)
    return dtype


def ref_dtype(dtype):
    """Working precision of the reference for results of ``dtype``."""
    dtype = result_dtype(dtype)
    if dtype == np.float64:
        return np.dtype(np.longdouble)
    return np.dtype(np.float64)


def normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, tuple):
        axes = tuple(a % ndim for a in axis) if ndim else axis
    else:
        axes = (axis % ndim,)
    assert len(set(axes)) == len(axes)
    return tuple(sorted(axes))


def _ref_2d(func, x2):
    """Reference along the last axis of a 2-D high-precision array."""
    with np.errstate(all="ignore"):
        nslices, k = x2.shape
        isnan = np.isnan(x2)
        has_nan = isnan.any(axis=1)
        m = np.where(isnan, -np.inf, x2).max(axis=1, initial=-np.inf)
        npos = (x2 == np.inf).sum(axis=1)
        finite_m = np.isfinite(m)
        mf = np.where(finite_m, m, 0)[:, None]
        shifted = x2 - mf
        e = np.exp(shifted)
        s = e.sum(axis=1)
        logs = np.log(np.where(finite_m, s, 1))
        if func == "logsumexp":
            res = np.where(finite_m, m + logs, m)
            res = np.where(has_nan, np.nan, res)
            return res
        if func == "softmax":
            res = e / np.where(finite_m, s, 1)[:, None]
            inf_val = np.where(x2 == np.inf, 1 / np.maximum(npos, 1)[:, None], 0)
        else:
            res = shifted - logs[:, None]
            inf_val = np.where(x2 == np.inf, -np.log(np.maximum(npos, 1))[:, None], -np.inf)
        res = np.where((m == np.inf)[:, None], inf_val, res)
        res = np.where((m == -np.inf)[:, None], np.nan, res)
        res = np.where(has_nan[:, None], np.nan, res)
        return res


def reference(func, x, axis=-1, keepdims=False):
    """High-precision reference for ``fs.<func>(x, axis)``.

    Inputs are taken exactly as given (float16/float32 values widened exactly to
    float64, float64 values widened to np.longdouble); the max is subtracted in
    the wide type.  Returns an array of the wide type.
    """
    x = np.asarray(x)
    wide = ref_dtype(x.dtype)
    xw = x.astype(wide)
    nd = xw.ndim
    axes = normalize_axes(axis, nd)
    rest = [d for d in range(nd) if d not in axes]
    perm = rest + list(axes)
    xt = np.transpose(xw, perm)
    rest_shape = xt.shape[:len(rest)]
    k = int(np.prod(xt.shape[len(rest):], dtype=np.int64))
    x2 = xt.reshape(int(np.prod(rest_shape, dtype=np.int64)), k)
    r2 = _ref_2d(func, x2)
    if func == "logsumexp":
        res = r2.reshape(rest_shape)
        if keepdims:
            res = res.reshape([1 if d in axes else xw.shape[d] for d in range(nd)])
        return res
    rt = r2.reshape(xt.shape)
    return np.transpose(rt, np.argsort(perm))


def _ulps(err, ref, dtype):
    with np.errstate(all="ignore"):
        ref_c = np.abs(ref.astype(dtype))
        ref_c = np.where(np.isfinite(ref_c), ref_c, np.finfo(dtype).max)
        sp = np.spacing(ref_c).astype(np.float64)
        return err.astype(np.float64) / sp


def _idx(flat_index, shape):
    return tuple(int(v) for v in np.unravel_index(flat_index, shape))


def assert_matches(func, got, ref, dtype, context="", x=None):
    """Assert ``got`` (result of fs.<func>) matches the wide reference ``ref``.

    softmax: relative error <= eps_bound where |ref| >= tiny, else absolute
    error <= abs_bound.  log_softmax / logsumexp: absolute error
    <= eps_bound * max(1, |ref|).  NaN positions must agree, and where the
    reference rounded to ``dtype`` is infinite the result must be that
    infinity.
    """
    dtype = np.dtype(dtype)
    got = np.asarray(got)
    ref = np.asarray(ref)
    ctx = f"{func} {dtype} {context}".strip()
    assert got.dtype == dtype, f"{ctx}: result dtype {got.dtype}, expected {dtype}"
    assert got.shape == ref.shape, f"{ctx}: result shape {got.shape}, expected {ref.shape}"
    if got.size == 0:
        return
    rel, tiny, abs_b = BOUNDS[dtype]
    gw = got.astype(ref.dtype)
    with np.errstate(all="ignore"):
        ref_c = ref.astype(dtype)
        nan_g = np.isnan(gw)
        nan_r = np.isnan(ref)
        bad_nan = nan_g != nan_r
        inf_r = np.isinf(ref_c) & ~nan_r
        bad_inf = inf_r & (gw != ref_c)
        fin = ~nan_r & ~inf_r
        err = np.where(fin, np.abs(gw - ref), 0)
        err = np.where(fin & ~np.isfinite(gw), np.inf, err)
        aref = np.abs(ref)
        if func == "softmax":
            bound = np.where(aref >= tiny, rel * aref, abs_b)
        else:
            bound = rel * np.maximum(1, aref)
        bound = np.where(fin, bound, np.inf)
        bad_val = err > bound
    bad = bad_nan | bad_inf | bad_val
    if not bad.any():
        return
    lines = [f"{ctx}: {int(bad.sum())} of {got.size} elements out of bounds"]
    if bad_nan.any():
        i = _idx(np.argmax(bad_nan), got.shape)
        lines.append(f"  NaN mismatch at {i}: got {got[i]!r}, expected {ref_c[i]!r}")
    if bad_inf.any():
        i = _idx(np.argmax(bad_inf), got.shape)
        lines.append(f"  infinity mismatch at {i}: got {got[i]!r}, expected {ref_c[i]!r}")
    if bad_val.any():
        ratio = np.where(fin, err / np.where(bound > 0, bound, 1), 0)
        i = _idx(np.argmax(ratio), got.shape)
        ulps = _ulps(err, ref, dtype)
        lines.append(
            f"  worst at {i}: got {got[i]!r}, reference {float(ref[i])!r}, "
            f"error {float(err[i]):.3e} = {float(ulps[i]):.2f} ulp "
            f"(bound {float(bound[i]):.3e}); max error over all elements "
            f"{float(np.max(np.where(fin, ulps, 0))):.2f} ulp")
        if x is not None and np.ndim(x) >= 1:
            xa = np.asarray(x)
            if xa.shape == got.shape:
                lines.append(f"  input at {i}: {xa[i]!r}")
    raise AssertionError("\n".join(lines))


def check(func, x, axis=-1, context="", isa_name=None, keepdims=None, **kwargs):
    """Compute fs.<func>(x, axis) (optionally asserting the ISA) and check it
    against the reference.  Returns the result."""
    f = func_by_name(func)
    kw = dict(kwargs)
    if keepdims is not None:
        kw["keepdims"] = keepdims
    if isa_name is None:
        got = f(x, axis, **kw)
    else:
        got = call_on_isa(isa_name, f, x, axis, **kw)
    ref = reference(func, x, axis, keepdims=bool(keepdims))
    xa = np.asarray(x)
    assert_matches(func, got, ref, result_dtype(xa.dtype),
                   context=f"axis={axis!r} shape={xa.shape} {context}", x=xa)
    return got


def fsum_rows(a):
    """Exactly rounded sums along the last axis of a 2-D array."""
    return np.array([math.fsum(row) for row in np.asarray(a, dtype=np.float64)])
