"""``where=`` (a boolean keep-mask, broadcast to x) and ``scale=`` (the function
applied to scale * x, fused) on softmax / log_softmax / logsumexp.

Reference (``ref_ws``): x and the scale rounded once to the input's dtype are
widened to float64 (float32 inputs) or np.longdouble (float64 inputs); masked
entries are removed from their slice; the slice maximum m is taken on x and the
exponent arguments are formed as (x - m) * scale in the wide type (shift first,
then multiply: the argument error is then relative to the argument itself,
which keeps the reference exact enough even for x ~ 1e4 or +-1e308, where the
product scale * x itself is not representable in float64).  logsumexp is
scale * m + log(sum).

Covered: every row length 1..70, 1000, 4097; inputs of large magnitude with
differences ~1 (where rounding scale * x first would be badly inaccurate);
extreme magnitudes (+-3e38, +-1.5e308) with large and tiny scales; the special
value rules restricted to the kept entries; masked entries holding NaN/+-inf
(results bit-identical whatever they hold); fully masked slices; out= (any
strides, pre-filled with garbage) and in place; non-last axes, axis tuples and
None; attention-like 4-D shapes and masks; no full-size broadcast copy of the
mask (tracemalloc); argument errors; thread-count invariance; every ISA.
"""
import functools
import math
import tracemalloc

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import (FUNC_NAMES, assert_matches, call_on_isa, func_by_name, same_bits,
                      normalize_axes, ref_dtype, result_dtype)

DTYPES = [np.float32, np.float64]
SCALES = [1.0, 0.125, 1 / math.sqrt(64), 1 / math.sqrt(48), 3.7, 1e-3, 1e3, 1 / 3, 0.1, 2.0, 17.25]


# --------------------------------------------------------------- reference

def _ref_2d(func, x2, k2, s):
    """x2: wide (slices, k); k2: bool keep mask of the same shape; s: wide scale."""
    with np.errstate(all="ignore"):
        xk = np.where(k2, x2, -np.inf)
        isnan = np.isnan(xk)
        has_nan = isnan.any(axis=1)
        m = np.where(isnan, -np.inf, xk).max(axis=1, initial=-np.inf)
        npos = (xk == np.inf).sum(axis=1)
        finite_m = np.isfinite(m)
        mf = np.where(finite_m, m, 0)[:, None]
        shifted = (xk - mf) * s
        e = np.exp(shifted)
        ssum = e.sum(axis=1)
        logs = np.log(np.where(finite_m, ssum, 1))
        if func == "logsumexp":
            res = np.where(finite_m, s * m + logs, m)   # m = -inf: none kept or all kept -inf
            return np.where(has_nan, np.nan, res)
        if func == "softmax":
            res = e / np.where(finite_m, ssum, 1)[:, None]
            inf_val = np.where(xk == np.inf, 1 / np.maximum(npos, 1)[:, None], 0)
            masked_val = 0.0
        else:
            res = shifted - logs[:, None]
            inf_val = np.where(xk == np.inf, -np.log(np.maximum(npos, 1))[:, None], -np.inf)
            masked_val = -np.inf
        res = np.where((m == np.inf)[:, None], inf_val, res)
        res = np.where((m == -np.inf)[:, None], np.nan, res)
        res = np.where(has_nan[:, None], np.nan, res)
        return np.where(k2, res, masked_val)


def full_mask(where, shape):
    if where is None:
        return np.ones(shape, bool)
    return np.broadcast_to(np.asarray(where, dtype=bool), shape)


def ref_ws(func, x, axis=-1, where=None, scale=1.0, keepdims=False):
    """High-precision reference for fs.<func>(x, axis, where=where, scale=scale)."""
    x = np.asarray(x)
    rdt = result_dtype(x.dtype)
    wide = ref_dtype(x.dtype)
    s = wide.type(rdt.type(scale))          # rounded once to the input dtype, widened exactly
    xw = x.astype(wide)
    keep = full_mask(where, x.shape)
    nd = xw.ndim
    axes = normalize_axes(axis, nd)
    rest = [d for d in range(nd) if d not in axes]
    perm = rest + list(axes)
    xt = np.transpose(xw, perm)
    kt = np.transpose(keep, perm)
    rest_shape = xt.shape[:len(rest)]
    k = int(np.prod(xt.shape[len(rest):], dtype=np.int64))
    nrest = int(np.prod(rest_shape, dtype=np.int64))
    r2 = _ref_2d(func, xt.reshape(nrest, k), kt.reshape(nrest, k), s)
    if func == "logsumexp":
        res = r2.reshape(rest_shape)
        if keepdims:
            res = res.reshape([1 if d in axes else xw.shape[d] for d in range(nd)])
        return res
    return np.transpose(r2.reshape(xt.shape), np.argsort(perm))


def check_masked_exact(func, got, keep):
    if func == "logsumexp":
        return
    g = np.asarray(got)[~keep]
    if func == "softmax":
        assert np.all(g == 0), f"softmax: masked entries not exactly 0: {g[g != 0][:5]}"
    else:
        assert np.all(g == -np.inf), f"log_softmax: masked entries not -inf: {g[g != -np.inf][:5]}"


def check_ws(func, x, axis=-1, where=None, scale=None, isa_name=None, context="",
             keepdims=None, out=None):
    """Call fs.<func> with the given where/scale (None: argument omitted) and
    check it against ref_ws; also that masked entries are exactly 0 / -inf."""
    x_before = np.array(x, copy=True)
    kw = {}
    if where is not None:
        kw["where"] = where
    if scale is not None:
        kw["scale"] = scale
    if keepdims is not None:
        kw["keepdims"] = keepdims
    if out is not None:
        kw["out"] = out
    ref = ref_ws(func, x_before, axis, where, 1.0 if scale is None else scale,
                 keepdims=bool(keepdims))
    f = func_by_name(func)
    got = f(x, axis, **kw) if isa_name is None else call_on_isa(isa_name, f, x, axis, **kw)
    if out is not None:
        assert got is out, f"{func}: did not return out"
    ctx = (f"axis={axis!r} shape={x_before.shape} scale={scale!r} "
           f"where={'None' if where is None else np.shape(where)} {context}")
    assert_matches(func, got, ref, result_dtype(x_before.dtype), context=ctx, x=x_before)
    if where is not None and func != "logsumexp":
        check_masked_exact(func, got, full_mask(where, x_before.shape))
    return got


def rand_mask(rng, shape, p_keep=0.7):
    return rng.random(shape) < p_keep


# --------------------------------------------------------------- row lengths

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_row_length_1_to_70(isa, func, dtype):
    rng = np.random.default_rng(1)
    for n in range(1, 71):
        x = (rng.standard_normal((4, n)) * (3 if n % 2 else 30)).astype(dtype)
        scale = SCALES[n % len(SCALES)]
        w = rand_mask(rng, (4, n), 0.6)
        w[3] = False                              # one fully masked row
        w[0, rng.integers(0, n)] = True           # at least one kept entry
        check_ws(func, x, -1, where=w, scale=scale, isa_name=isa, context=f"n={n}")
        check_ws(func, x, -1, scale=scale, isa_name=isa, context=f"n={n} no mask")
        check_ws(func, x, -1, where=w[1], isa_name=isa, context=f"n={n} row mask no scale")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1000, 4097])
def test_long_rows(isa, func, dtype, n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((3, n)) * 10).astype(dtype)
    masks = [None, rand_mask(rng, (n,)), rand_mask(rng, (3, n), 0.3),
             np.array([[True], [False], [True]]), rand_mask(rng, (3, n), 0.002)]
    for scale in [0.125, 3.7, 1e-3, 1e3, 1 / 3, 1 / math.sqrt(64)]:
        for w in masks:
            check_ws(func, x, -1, where=w, scale=scale, isa_name=isa, context=f"n={n}")


# --------------------------------------------------------------- magnitude

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype,offsets", [(np.float32, [1e4, -1e4, 3e5]),
                                           (np.float64, [1e4, -1e8, 1e12])])
def test_large_magnitude_small_differences(isa, func, dtype, offsets):
    """x ~ offset with differences ~1: fl(scale * x) would carry an error of
    ~|scale * x| * eps, far above the bound; the fused result must not."""
    rng = np.random.default_rng(7)
    for off in offsets:
        for n in [1, 2, 3, 8, 9, 17, 33, 1000]:
            x = (off + rng.uniform(-3, 3, (3, n))).astype(dtype)
            w = rand_mask(rng, (3, n), 0.7)
            w[:, 0] = True
            for scale in [0.125, 3.7, 1e-3, 1e3, 1 / 3]:
                check_ws(func, x, -1, scale=scale, isa_name=isa, context=f"off={off} n={n}")
                check_ws(func, x, -1, where=w, scale=scale, isa_name=isa,
                         context=f"off={off} n={n} masked")
            # the same along axis 0 (the strided kernel)
            xt = np.ascontiguousarray(x.T)
            check_ws(func, xt, 0, where=np.ascontiguousarray(w.T), scale=3.7, isa_name=isa,
                     context=f"off={off} n={n} axis 0")
            check_ws(func, xt, 0, scale=1 / 3, isa_name=isa, context=f"off={off} n={n} axis 0")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_is_rounded_to_input_dtype(isa, func, dtype):
    """The result follows the scale rounded to the input dtype (float32(1/3),
    not 1/3): with differences ~100 the two differ by more than the bound."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-100, 100, (4, 64)).astype(dtype)
    for scale in [1 / 3, 0.1, 3.7, np.float64(1 / 3), np.float32(0.1), 7]:
        check_ws(func, x, -1, scale=scale, isa_name=isa)
        check_ws(func, x, -1, scale=scale, where=x > -50, isa_name=isa)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_extreme_magnitudes(isa, func, dtype):
    """Finite inputs of extreme magnitude with scales > 1 and < 1: softmax
    never overflows, logsumexp is inf only where scale * max exceeds the range."""
    fmax = float(np.finfo(dtype).max)
    rows = np.array([[0.9, -0.9, 0.5, 0.89999, 0.0, -0.1],
                     [0.9, 0.89, 0.8999, 0.9, 0.1, 0.0],
                     [-0.9, -0.8, -0.9, -0.85, -0.9, -0.9]]) * fmax
    x = rows.astype(dtype)
    w = np.array([True, True, False, True, True, True])
    for scale in [3.7, 1e-3, 0.5, 2.0]:
        check_ws(func, x, -1, scale=scale, isa_name=isa)
        check_ws(func, x, -1, scale=scale, where=w, isa_name=isa)
        check_ws(func, np.ascontiguousarray(x.T), 0, scale=scale, isa_name=isa, context="axis 0")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype,scale", [(np.float32, 2.0 ** -124), (np.float64, 2.0 ** -1020)])
def test_tiny_scale_with_overflowing_differences(isa, func, dtype, scale):
    """x holds +-0.85 * max, so x_i - max(x) overflows the dtype, but the exact
    products scale * x are moderate (~ +-14): the contract is on the exact
    product, so the result must be the softmax of those moderate values."""
    fmax = float(np.finfo(dtype).max)
    x = (np.array([[0.85, -0.85, 0.3, 0.6, -0.2, 0.85, -0.6, 0.0, 0.7]]) * fmax).astype(dtype)
    check_ws(func, x, -1, scale=scale, isa_name=isa)
    check_ws(func, np.ascontiguousarray(x.T), 0, scale=scale, isa_name=isa, context="axis 0")
    x3 = np.repeat(x, 3, axis=0)
    check_ws(func, x3, -1, scale=scale, where=np.arange(9) != 0, isa_name=isa, context="masked")


# --------------------------------------------------------------- special values

def _special_rows(dtype):
    """(name, row, keep) with row length 9."""
    rng = np.random.default_rng(11)
    base = lambda: rng.uniform(-4, 4, 9)  # noqa: E731
    kk = np.array([True, False, True, True, False, True, True, True, False])
    out = []
    r = base(); r[2] = np.nan; out.append(("kept NaN", r, kk))
    r = base(); r[1] = np.nan; r[4] = np.inf; r[8] = -np.inf; out.append(("masked NaN/+inf/-inf", r, kk))
    r = base(); r[[1, 4, 8]] = np.nan; out.append(("masked all NaN", r, kk))
    r = np.full(9, np.nan); r[1] = np.inf; out.append(("fully masked with NaN/inf", r, np.zeros(9, bool)))
    r = base(); out.append(("fully masked finite", r, np.zeros(9, bool)))
    r = base(); r[kk] = -np.inf; out.append(("all kept -inf", r, kk))
    r = base(); r[[0, 3]] = np.inf; r[1] = np.inf; out.append(("2 kept +inf, 1 masked +inf", r, kk))
    r = base(); r[[0, 2, 3, 5]] = np.inf; out.append(("4 kept +inf", r, kk))
    r = base(); r[[0, 5]] = -np.inf; out.append(("kept -inf among finite", r, kk))
    r = base(); r[6] = np.inf; r[7] = np.nan; out.append(("kept +inf and NaN", r, kk))
    r = np.full(9, -np.inf); r[4] = 3.0; out.append(("only finite is masked", r, kk))
    r = np.full(9, -np.inf); r[6] = 3.0; r[4] = np.nan; out.append(("one kept finite", r, kk))
    one = np.zeros(9, bool); one[5] = True
    r = base(); r[:] = np.nan; r[5] = -2.5; out.append(("single kept entry", r, one))
    return [(name, row.astype(dtype), keep) for name, row, keep in out]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_with_mask(isa, func, dtype):
    rows = _special_rows(dtype)
    x = np.stack([r for _, r, _ in rows])
    w = np.stack([k for _, _, k in rows])
    for scale in [None, 3.7, 0.125]:
        got = check_ws(func, x, -1, where=w, scale=scale, isa_name=isa)
        # one row at a time too (rows in SIMD pairs vs alone)
        for i, (name, r, k) in enumerate(rows):
            single = check_ws(func, r, -1, where=k, scale=scale, isa_name=isa, context=name)
            assert same_bits(np.asarray(got)[i], single), f"{name}: batched row differs from single"
        # along axis 0 (strided kernel)
        check_ws(func, np.ascontiguousarray(x.T), 0, where=np.ascontiguousarray(w.T), scale=scale,
                 isa_name=isa, context="axis 0")
    # explicit expectations
    f = func_by_name(func)
    byname = {name: (r, k) for name, r, k in rows}
    r, k = byname["fully masked with NaN/inf"]
    res = f(r, where=k, scale=3.7)
    if func == "softmax":
        assert np.all(res == 0)
    else:
        assert np.all(res == -np.inf) and not np.any(np.isnan(res))
    r, k = byname["2 kept +inf, 1 masked +inf"]
    res = np.asarray(f(r, where=k))
    if func == "softmax":
        assert res[0] == 0.5 and res[3] == 0.5 and res[1] == 0
    elif func == "log_softmax":
        assert abs(float(res[0]) + math.log(2)) <= 4 * np.finfo(dtype).eps and res[1] == -np.inf
    else:
        assert res == np.inf
    r, k = byname["masked all NaN"]
    assert not np.any(np.isnan(f(r, where=k)))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_with_overflowing_scaled_max(isa, func, dtype):
    """A kept NaN makes the slice NaN even where scale * max overflows to +-inf
    (scale > 1 with +-max(dtype) in the slice)."""
    fmax = float(np.finfo(dtype).max)
    rows = [[fmax, np.nan], [np.nan, fmax], [-fmax, np.nan], [np.nan, -fmax],
            [fmax, np.nan, 0.0, 1.0], [0.5 * fmax, 1.0, np.nan, -fmax, 3.0],
            [-fmax, -fmax, np.nan, -np.inf], [np.nan, fmax, np.inf, 0.0]]
    for scale in [2.0, 3.7, 1e10]:
        for r in rows:
            x = np.array([r], dtype)
            got = check_ws(func, x, -1, scale=scale, isa_name=isa, context=f"row {r}")
            assert np.all(np.isnan(got)), f"{func} {r} scale={scale}: {got}"
            check_ws(func, np.ascontiguousarray(x.T), 0, scale=scale, isa_name=isa,
                     context=f"row {r} axis 0")
            # masked extra entries do not change that
            xm = np.array([r + [7.0, np.nan]], dtype)
            w = np.array([True] * len(r) + [False, False])
            got = check_ws(func, xm, -1, where=w, scale=scale, isa_name=isa, context=f"row {r}")
            assert np.all(np.isnan(np.asarray(got)[..., :len(r)]))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_values_do_not_matter(isa, func, dtype):
    """Masked entries are absent: the result is bit-identical whatever they hold."""
    rng = np.random.default_rng(5)
    f = func_by_name(func)
    for shape, axis, wshape in [((6, 37), -1, (6, 37)), ((6, 37), -1, (37,)),
                                ((40, 6), 0, (40, 6)), ((3, 17, 8), 1, (17, 1)),
                                ((5, 300), -1, (5, 300)), ((4, 5, 6), (0, 2), (4, 1, 6))]:
        x = (rng.standard_normal(shape) * 5).astype(dtype)
        w = rand_mask(rng, wshape, 0.6)
        keep = full_mask(w, shape)
        results = []
        for fill in [None, np.nan, np.inf, -np.inf, float(np.finfo(dtype).max), 1e3, 0.0]:
            xv = x.copy()
            if fill is not None:
                xv[~keep] = fill
            results.append(call_on_isa(isa, f, xv, axis, where=w, scale=3.7))
        for r in results[1:]:
            assert same_bits(results[0], r), f"{func} {shape} axis={axis}: masked values changed result"
        check_ws(func, x, axis, where=w, scale=3.7, isa_name=isa)


# --------------------------------------------------------------- axes, layouts, out

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_non_last_axes_and_mask_shapes(isa, func, dtype):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((6, 9, 11)) * 8).astype(dtype)
    mshapes = [(6, 9, 11), (9, 11), (11,), (1,), (6, 1, 11), (6, 9, 1), (1, 9, 1), ()]
    for axis in [0, 1, 2, -2, (0, 2), (1, 2), (0, 1), (0, 1, 2), None]:
        for i, ms in enumerate(mshapes):
            w = rand_mask(rng, ms, 0.75)
            check_ws(func, x, axis, where=w, scale=SCALES[i % len(SCALES)], isa_name=isa)
    for n in [1, 2, 7, 8, 9, 33, 70, 1000]:
        y = (rng.standard_normal((n, 6)) * 8).astype(dtype)
        check_ws(func, y, 0, where=rand_mask(rng, (n, 6)), scale=0.3, isa_name=isa, context=f"n={n}")
        check_ws(func, y, 0, where=rand_mask(rng, (n, 1)), scale=3.7, isa_name=isa, context=f"n={n}")
    for inner in range(1, 41, 3):
        y = (rng.standard_normal((2, 13, inner)) * 8).astype(dtype)
        check_ws(func, y, 1, where=rand_mask(rng, (13, inner)), scale=1 / 3, isa_name=isa,
                 context=f"inner={inner}")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mask_and_input_layouts(isa, func, dtype):
    rng = np.random.default_rng(13)
    base = (rng.standard_normal((20, 30)) * 6).astype(dtype)
    wbase = rand_mask(rng, (40, 60))
    xs = {"C": base, "F": np.asfortranarray(base), "sliced": np.repeat(base, 2, axis=1)[:, ::2],
          "reversed": base[::-1, ::-1].copy()[::-1, ::-1], "negstride": base[::-1]}
    ws = {"C": wbase[:20, :30].copy(), "F": np.asfortranarray(wbase[:20, :30]),
          "sliced": wbase[::2, ::2], "negstride": wbase[:20, :30][::-1],
          "broadcast_view": np.broadcast_to(wbase[0, :30], (20, 30)),
          "row_strided": wbase[3, :60:2],
          "list": wbase[5, :30].tolist()}
    for xn, x in xs.items():
        for wn, w in ws.items():
            for axis in (-1, 0, None):
                check_ws(func, x, axis, where=w, scale=0.37, isa_name=isa, context=f"x {xn} w {wn}")


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_out_and_in_place(isa, func, dtype):
    rng = np.random.default_rng(17)
    f = func_by_name(func)
    for shape, axis, wshape in [((5, 37), -1, (5, 37)), ((5, 37), 0, (37,)),
                                ((4, 1000), -1, (1000,)), ((3, 4, 9), (0, 2), (3, 1, 9))]:
        x = (rng.standard_normal(shape) * 7 + 300).astype(dtype)
        w = rand_mask(rng, wshape, 0.5)
        w.reshape(-1)[0] = False
        for scale in [3.7, 0.125, 1e-3]:
            # out pre-filled with garbage, C order, Fortran order, strided
            outs = [np.full(shape, np.nan, dtype), np.asfortranarray(np.full(shape, 7, dtype)),
                    np.full(shape[:-1] + (2 * shape[-1],), np.nan, dtype)[..., ::2],
                    np.full(shape, np.nan, dtype)[..., ::-1]]
            for o in outs:
                check_ws(func, x, axis, where=w, scale=scale, out=o, isa_name=isa)
            # in place
            y = x.copy()
            ref = ref_ws(func, x, axis, w, scale)
            res = call_on_isa(isa, f, y, axis, out=y, where=w, scale=scale)
            assert res is y
            assert_matches(func, y, ref, dtype, context=f"in place {shape} axis={axis}", x=x)
            check_masked_exact(func, y, full_mask(w, shape))
            # in place on a strided view
            big = np.zeros(shape[:-1] + (3 * shape[-1],), dtype)
            v = big[..., 1::3]
            v[...] = x
            call_on_isa(isa, f, v, axis, out=v, where=w, scale=scale)
            assert_matches(func, v, ref, dtype, context=f"in place strided {shape}", x=x)
            assert np.all(big[..., 0::3] == 0) and np.all(big[..., 2::3] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_out_keepdims(isa, dtype):
    rng = np.random.default_rng(19)
    x = (rng.standard_normal((6, 9, 11)) * 5 + 1e3).astype(dtype)
    w = rand_mask(rng, (9, 11), 0.5)
    w[3] = False                       # slices with nothing kept along axis 2
    for axis in [2, 0, (0, 2), None]:
        for keepdims in (False, True):
            ref = ref_ws("logsumexp", x, axis, w, 3.7, keepdims=keepdims)
            if ref.ndim:
                out = np.full(ref.shape, np.nan, dtype)
                check_ws("logsumexp", x, axis, where=w, scale=3.7, keepdims=keepdims, out=out,
                         isa_name=isa)
                out2 = np.full(ref.shape[::-1], np.nan, dtype).T
                check_ws("logsumexp", x, axis, where=w, scale=3.7, keepdims=keepdims, out=out2,
                         isa_name=isa)
            got = check_ws("logsumexp", x, axis, where=w, scale=3.7, keepdims=keepdims,
                           isa_name=isa)
            if axis == 2:
                assert np.all(np.asarray(got)[:, 3] == -np.inf)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_shapes(isa, func, dtype):
    """(B, H, S, S) scores with causal (S, S), padding (B, 1, 1, S) and (1, S)
    masks, scale 1/sqrt(d), on the last axis, a non-last axis, tuples and None."""
    rng = np.random.default_rng(23)
    B, H, S = 3, 2, 17
    x = (rng.standard_normal((B, H, S, S)) * 4).astype(dtype)
    causal = np.tril(np.ones((S, S), bool))
    lengths = np.array([S, 5, 1])
    padding = (np.arange(S)[None, :] < lengths[:, None])[:, None, None, :]
    pad2 = rng.random((1, S)) < 0.8
    rowmask = (rng.random((S, 1)) < 0.7)          # whole query rows masked out
    both = causal & padding
    for w in [causal, padding, pad2, rowmask, both, causal[::-1]]:
        for axis in [-1, -2, (2, 3), 1, None]:
            check_ws(func, x, axis, where=w, scale=1 / math.sqrt(64), isa_name=isa)


# --------------------------------------------------------------- memory

_MEM_CASES = [("causal", lambda B, S: np.tril(np.ones((S, S), bool)), -1),
              ("padding", lambda B, S: (np.arange(S)[None, :] < (np.arange(B) % S + 1)[:, None])
               [:, None, None, :], -1),
              ("causal", lambda B, S: np.tril(np.ones((S, S), bool)), -2),
              ("padding", lambda B, S: (np.arange(S)[None, :] < (np.arange(B) % S + 1)[:, None])
               [:, None, None, :], 2),
              ("causal", lambda B, S: np.tril(np.ones((S, S), bool)), (2, 3))]


@functools.lru_cache(maxsize=1)
def _attention_scores():
    rng = np.random.default_rng(29)
    return rng.standard_normal((64, 8, 128, 128), dtype=np.float32)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("case", range(len(_MEM_CASES)),
                         ids=[f"{n}-axis{a!r}".replace(" ", "") for n, _, a in _MEM_CASES])
def test_no_full_size_mask_copy(func, case):
    name, make_mask, axis = _MEM_CASES[case]
    B, H, S = 64, 8, 128
    x = _attention_scores()
    assert x.shape == (B, H, S, S)
    w = make_mask(B, S)
    f = func_by_name(func)
    if func == "logsumexp":
        red = normalize_axes(axis, 4)
        out = np.empty(tuple(d for i, d in enumerate(x.shape) if i not in red), np.float32)
    else:
        out = np.empty_like(x)
    mask_bytes = x.size            # a broadcast bool copy of the mask
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        res = f(x, axis, where=w, scale=0.125, out=out)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert res is out
    assert peak < mask_bytes / 8, (
        f"{func} {name} axis={axis}: peak traced allocation {peak} bytes with out= "
        f"(a broadcast mask copy is {mask_bytes} bytes)")
    # without out=: only the result itself may be allocated
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        res2 = f(x, axis, where=w, scale=0.125)
        peak2 = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak2 < res2.nbytes + mask_bytes / 8, (
        f"{func} {name} axis={axis}: peak {peak2} bytes without out= (result {res2.nbytes})")
    assert same_bits(res, res2)
    # and the result is right (checked on batches 0, 1 and 63; the mask sliced alike)
    for b in (slice(0, 2), slice(63, 64)):
        wsub = w[b] if w.ndim == 4 else w
        ref = ref_ws(func, x[b], axis, wsub, 0.125)
        assert_matches(func, np.asarray(res)[b], ref, np.float32, context=f"{name} axis={axis}")
        if func != "logsumexp":
            check_masked_exact(func, np.asarray(res)[b], full_mask(wsub, x[b].shape))


# --------------------------------------------------------------- small cases

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_and_list_masks(func, dtype):
    rng = np.random.default_rng(31)
    x = (rng.standard_normal((4, 10)) * 3).astype(dtype)
    check_ws(func, x, -1, where=np.array(True), scale=2.5)
    check_ws(func, x, -1, where=np.bool_(True), scale=2.5)
    got = check_ws(func, x, -1, where=np.array(False), scale=2.5)
    expect = {"softmax": 0.0, "log_softmax": -np.inf, "logsumexp": -np.inf}[func]
    assert np.all(np.asarray(got) == expect)
    check_ws(func, x, -1, where=[True, False] * 5, scale=0.5)
    check_ws(func, x[0].tolist(), -1, where=[bool(b) for b in rng.random(10) < 0.5], scale=0.5)
    check_ws(func, x, None, where=np.zeros((4, 10), bool), scale=1.5)


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_axis_empty_tuple_and_size_zero(func):
    x = np.array([[1.5, -2.0, np.inf], [np.nan, 3.0, -np.inf]], np.float64)
    w = np.array([[True, False, True], [False, True, True]])
    got = check_ws(func, x, (), where=w, scale=3.7)
    got = np.asarray(got)
    if func == "softmax":
        assert got[0, 0] == 1 and got[0, 1] == 0 and got[1, 0] == 0 and got[1, 1] == 1
    elif func == "log_softmax":
        assert got[0, 0] == 0 and got[0, 1] == -np.inf and got[1, 0] == -np.inf and got[1, 1] == 0
    else:
        assert got[0, 1] == -np.inf and got[1, 0] == -np.inf
        assert got[0, 2] == np.inf and got[1, 2] == -np.inf
    e = np.zeros((3, 0), np.float32)
    r = func_by_name(func)(e, -1, where=np.zeros((3, 0), bool), scale=2.0)
    if func == "logsumexp":
        assert r.shape == (3,) and np.all(r == -np.inf)
    else:
        assert r.shape == (3, 0)


def test_integer_and_float16_inputs():
    xi = np.arange(-6, 6).reshape(3, 4)
    w = xi % 3 != 0
    for func in FUNC_NAMES:
        got = check_ws(func, xi, -1, where=w, scale=0.3)
        assert np.asarray(got).dtype == np.float64
        got = check_ws(func, np.float16(xi / 2), -1, where=w, scale=0.5)
        assert np.asarray(got).dtype == np.float16


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_scale_default_is_one(func, dtype):
    rng = np.random.default_rng(37)
    x = (rng.standard_normal((7, 50)) * 20).astype(dtype)
    x[1, 3] = np.nan
    x[2, :] = -np.inf
    x[3, 7] = np.inf
    f = func_by_name(func)
    a = f(x)
    assert same_bits(a, f(x, scale=1.0))
    assert same_bits(a, f(x, scale=1))
    assert same_bits(a, f(x, where=None))
    b = f(x, 0)
    assert same_bits(b, f(x, 0, scale=1.0, where=None))


# --------------------------------------------------------------- errors

@pytest.mark.parametrize("func", FUNC_NAMES)
def test_where_type_errors(func):
    f = func_by_name(func)
    x = np.ones((4, 5), np.float32)
    for bad in [np.ones((4, 5), np.int64), np.ones(5, np.uint8), np.ones(5, np.float32),
                [1, 0, 1, 0, 1], np.ones(5, int), np.array(1), np.ones(5, object)]:
        with pytest.raises(TypeError):
            f(x, -1, where=bad)


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_where_shape_errors(func):
    f = func_by_name(func)
    x = np.ones((4, 5), np.float64)
    for shape in [(3,), (4,), (5, 4), (2, 4, 5), (1, 4, 5), (4, 5, 1), (0,)]:
        with pytest.raises(ValueError):
            f(x, -1, where=np.ones(shape, bool))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [0.0, -0.0, -1.0, -0.125, np.inf, -np.inf, np.nan, 0])
def test_scale_value_errors(func, dtype, bad):
    f = func_by_name(func)
    x = np.ones((2, 3), dtype)
    with pytest.raises(ValueError):
        f(x, scale=bad)
    with pytest.raises(ValueError):
        f(x, where=np.ones(3, bool), scale=bad)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("bad", [1e39, 1e300, 1e-50, 1e-300])
def test_scale_rounding_to_float32_out_of_range(func, bad):
    """scale is rounded to float32 for float32 input; 1e39 -> inf and 1e-50 ->
    0 are not finite / > 0 after that rounding (ValueError).  For float64
    inputs the same values are valid scales."""
    f = func_by_name(func)
    x = np.array([[1.0, 2.0, 3.0]], np.float32)
    with pytest.raises(ValueError):
        f(x, scale=bad)
    check_ws(func, np.array([[1.0, -2.0, 3.0]]) / bad, -1, scale=bad)


# --------------------------------------------------------------- threads

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_bit_identical_across_thread_counts(isa, restore_threads, func, dtype):
    rng = np.random.default_rng(41)
    x = (rng.standard_normal((512, 1000)) * 10 + 1e3).astype(dtype)
    x[5, 7] = np.nan
    x[9, 3] = np.inf
    f = func_by_name(func)
    cases = [(-1, rand_mask(rng, (512, 1000)), 0.3), (0, rand_mask(rng, (512, 1)), 1 / 3),
             (None, rand_mask(rng, (1000,)), 0.125)]
    for axis, w, scale in cases:
        res = {}
        for nt in (1, 2):
            fs.set_num_threads(nt)
            res[nt] = call_on_isa(isa, f, x, axis, where=w, scale=scale)
        assert same_bits(res[1], res[2]), f"{func} axis={axis} where {w.shape}: 1 vs 2 threads differ"
        if func != "logsumexp":
            y = x.copy()
            f(y, axis, out=y, where=w, scale=scale)
            assert same_bits(res[1], y), f"{func} axis={axis}: in place with 2 threads differs"
    check_ws(func, x[:64], -1, where=cases[0][1][:64], scale=0.3, isa_name=isa)
    # one long row (split across threads) with a full-size and a periodic mask
    z = (rng.standard_normal((1, 200003)) * 10).astype(dtype)
    for w in [rand_mask(rng, (1, 200003), 0.4), np.arange(200003) % 7 != 3]:
        res = {}
        for nt in (1, 2):
            fs.set_num_threads(nt)
            res[nt] = call_on_isa(isa, f, z, -1, where=w, scale=1 / 3)
        assert same_bits(res[1], res[2]), f"{func} long row: 1 vs 2 threads differ"
        check_ws(func, z, -1, where=w, scale=1 / 3, isa_name=isa, context="long row")


# ------------------------------------------------------------- regressions found in review

def test_mask_under_fortran_ordered_scores_is_not_expanded():
    """Fortran-ordered (B, H, S, S) scores put the reduced axis first in memory; the (S, S) mask is
    then looped over its inner axes, still without a full-size copy."""
    rng = np.random.default_rng(5)
    x = np.asfortranarray(rng.standard_normal((4, 4, 64, 64)).astype(np.float32))
    causal = np.tril(np.ones((64, 64), bool))
    ref = fs.softmax(np.ascontiguousarray(x), where=causal)
    out = np.empty_like(x)
    tracemalloc.start()
    try:
        fs.softmax(x, where=causal, out=out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.size // 4, f"peak {peak} bytes: the mask ({x.size} bytes broadcast) was expanded"
    assert same_bits(out, ref)


def test_float16_scale_is_rounded_to_float16():
    with pytest.raises(ValueError):
        fs.softmax(np.float16([1, 2, 3]), scale=1e-8)  # 0 in float16
    with pytest.raises(ValueError):
        fs.softmax(np.float16([1, 2, 3]), scale=7e4)  # inf in float16
    with pytest.raises(TypeError):
        fs.softmax(np.float32([1, 2, 3]), scale="2")
