"""cross_entropy and cross_entropy_with_grad.

Checked against an independent reference (float64 for float16/float32 logits, np.longdouble for
float64 logits, max subtracted in the wide type; log_softmax / softmax special values from
conftest._ref_2d) with the documented error bounds, and against torch.nn.functional.cross_entropy
and torch autograd when torch is installed:

* every combination of reduction x weight x ignore_index x label_smoothing x hard / soft targets,
  over contiguous, sliced, transposed, Fortran-ordered and negative-stride logits and targets, with
  the class axis last, in the middle of a 3-D array and first, in float32 and float64, under every
  available ISA;
* the gradient (A * softmax - a, scaled by the reduction), identical losses from both functions,
  result types (NumPy scalars for "sum" / "mean"), logits / target / weight never modified;
* special values (NaN, -inf, +inf, zero target probabilities), ignored samples, all samples
  ignored, an empty batch, zero weights, huge logits, float16 / integer / bool logits, every integer
  target dtype, soft targets of another float dtype and soft targets that are not probabilities;
* bit-identical results for 1 and 2 threads;
* every error: AxisError, target shape / dtype, reduction, weight shape, ignore_index with soft
  targets, label_smoothing range, and IndexError naming the first out-of-range target position.
"""
import importlib.util
import itertools
import math
import re
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import _ref_2d, call_on_isa, result_dtype

AxisError = np.exceptions.AxisError

EPS = {
    np.dtype(np.float16): 2.0 ** -10,
    np.dtype(np.float32): 2.0 ** -23,
    np.dtype(np.float64): 2.0 ** -52,
}
# below this, softmax values may be flushed (absolute error allowed in the gradient)
TINY = {
    np.dtype(np.float16): 2.0 ** -24,
    np.dtype(np.float32): 2.0 ** -126,
    np.dtype(np.float64): 2.0 ** -1022,
}
REDUCTIONS = ("none", "sum", "mean")
FUNCS = ("cross_entropy", "cross_entropy_with_grad")


def ce(*args, **kwargs):
    return fs.cross_entropy(*args, **kwargs)


def ce_grad(*args, **kwargs):
    return fs.cross_entropy_with_grad(*args, **kwargs)


def wide_of(rdt):
    return np.longdouble if np.dtype(rdt) == np.float64 else np.float64


# ------------------------------------------------------------------------------------ reference

class Ref:
    """Reference losses, gradients and their error bounds (all in the wide type)."""


def reference_ce(logits, target, axis=-1, weight=None, ignore_index=None, label_smoothing=0.0):
    """Losses and gradient from the logits, target and weights exactly as given, in the wide type.

    Per sample, with coefficients a_c (w_c * target'_c for probabilities; (1-eps) w[t] [c == t] +
    eps/C w_c for class indices; 0 for ignored samples) and A = sum(a):
        loss = sum_c a_c * (-log_softmax_c)   (a zero a_c contributes 0, as xlogy)
        grad = A * softmax - a                (before the reduction factor)
    Bounds (eps of the result dtype), T = sum_c |a_c log_softmax_c|:
        per sample  4 eps max(sum |a_c|, T) + eps T per rounded weight / smoothed target;
        sum         sum of those + (log2 N + 1) eps sum |loss_i|;
        mean        sum bound / den + (log2 N + 2) eps |mean|  (den = sum w[t] or N);
        gradient    6 eps (|A| p_c + |a_c|) + 2 eps |g_c| + |A| tiny (flushed softmax), scaled.
    """
    x = np.asarray(logits)
    rdt = result_dtype(x.dtype)
    calc = rdt
    W = wide_of(rdt)
    eps = EPS[calc]
    ax = axis % x.ndim
    xm = np.moveaxis(x.astype(W), ax, -1)
    bshape = xm.shape[:-1]
    C = xm.shape[-1]
    N = int(np.prod(bshape, dtype=np.int64))
    x2 = xm.reshape(N, C)
    w = np.ones(C, W) if weight is None else np.asarray(weight).astype(W)
    ls = W(label_smoothing)
    t = np.asarray(target)
    hard = t.dtype.kind in "iu"
    with np.errstate(all="ignore"):
        logp = _ref_2d("log_softmax", x2)
        p = _ref_2d("softmax", x2)
        if hard:
            tt = t.reshape(N).astype(np.int64)
            if ignore_index is None:
                ignored = np.zeros(N, bool)
            else:
                ignored = tt == ignore_index
            tc = np.where(ignored, 0, tt)
            a = np.broadcast_to(ls / W(C) * w, (N, C)).copy()
            a[np.arange(N), tc] += (W(1) - ls) * w[tc]
            a[ignored] = 0
            den = w[tc][~ignored].sum(dtype=W)
        else:
            P = np.moveaxis(t.astype(W), ax, -1).reshape(N, C)
            a = ((W(1) - ls) * P + ls / W(C)) * w
            ignored = np.zeros(N, bool)
            den = W(N)
        A = a.sum(axis=1)
        term = np.where((a == 0) & ~np.isnan(logp), W(0), -a * logp)
        loss = term.sum(axis=1)
        loss[ignored] = 0
        T = np.where(np.isfinite(term), np.abs(term), 0).sum(axis=1)
        Aabs = np.abs(a).sum(axis=1)
        slack = int(weight is not None) + int(bool(label_smoothing > 0) or not hard)
        b = 4 * eps * np.maximum(Aabs, T) + slack * eps * T
        g = A[:, None] * p - a
        g[ignored] = 0
        gtol = (6 * eps * (np.abs(A)[:, None] * p + np.abs(a)) + 2 * eps * np.abs(g)
                + np.abs(A)[:, None] * TINY[calc])
        gtol[ignored] = 0
        L = math.ceil(math.log2(max(N, 2)))
        S = loss.sum()
        absS = np.where(np.isfinite(loss), np.abs(loss), 0).sum()
        bS = b.sum() + (L + 1) * eps * absS
        mean = S / den if N > int(ignored.sum()) else W(np.nan)
        bM = bS / abs(den) + (L + 2) * eps * abs(mean) if N > int(ignored.sum()) else W(0)
    r = Ref()
    r.rdt, r.W, r.eps, r.hard, r.C, r.N = rdt, W, eps, hard, C, N
    r.bshape = bshape
    r.none = loss.reshape(bshape)
    r.none_bound = b.reshape(bshape)
    r.sum, r.sum_bound = S, bS
    r.mean, r.mean_bound = mean, bM
    r.den = den
    r.all_ignored = N == int(ignored.sum())
    r.ignored = ignored.reshape(bshape)

    def back(arr):
        return np.moveaxis(arr.reshape(bshape + (C,)), -1, ax)

    r.grad, r.grad_tol = back(g), back(gtol)
    return r


def ref_for(r, reduction):
    """(loss, loss bound, grad, grad tolerance) of the reference for a reduction."""
    if reduction == "none":
        return r.none, r.none_bound, r.grad, r.grad_tol
    if reduction == "sum":
        return r.sum, r.sum_bound, r.grad, r.grad_tol
    if r.all_ignored:
        return r.mean, r.mean_bound, np.zeros_like(r.grad), np.zeros_like(r.grad_tol)
    with np.errstate(all="ignore"):
        return r.mean, r.mean_bound, r.grad / r.den, r.grad_tol / abs(r.den)


def assert_close(got, ref, bound, rdt, what):
    """|got - ref| <= bound where the reference (rounded to rdt) is finite; NaN and infinities must
    match exactly."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    bound = np.broadcast_to(np.asarray(bound), ref.shape)
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    if got.size == 0:
        return
    with np.errstate(all="ignore"):
        gw = got.astype(ref.dtype)
        ref_c = ref.astype(rdt)
        nan_r = np.isnan(ref)
        bad_nan = np.isnan(gw) != nan_r
        inf_r = np.isinf(ref_c) & ~nan_r
        bad_inf = inf_r & (gw != ref_c.astype(ref.dtype))
        fin = ~nan_r & ~inf_r
        err = np.where(fin, np.abs(gw - ref), 0)
        err = np.where(fin & ~np.isfinite(gw), np.inf, err)
        bad_val = fin & (err > bound)
    bad = bad_nan | bad_inf | bad_val
    if not bad.any():
        return
    with np.errstate(all="ignore"):
        ratio = np.where(bad_val, err / np.where(bound > 0, bound, 1), 0)
    i = np.unravel_index(int(np.argmax(bad)), got.shape) if not bad_val.any() else \
        np.unravel_index(int(np.argmax(ratio)), got.shape)
    i = tuple(int(v) for v in i)
    ulp = float(np.spacing(np.abs(ref_c[i]))) if np.isfinite(ref_c[i]) else 1.0
    raise AssertionError(
        f"{what}: {int(bad.sum())} of {got.size} values wrong; worst at {i}: got {got[i]!r}, "
        f"reference {float(ref[i])!r}, error {float(err[i]):.3e} = {float(err[i]) / ulp:.2f} ulp "
        f"of the reference (bound {float(bound[i]):.3e} = {float(bound[i]) / ulp:.2f} ulp)")


def check_ce(logits, target, axis=-1, reduction="mean", weight=None, ignore_index=None,
             label_smoothing=0.0, isa=None, what="", ref=None):
    """Run both functions, check types, identical losses, inputs untouched, loss and gradient
    against the reference.  Returns (loss, grad)."""
    kw = dict(axis=axis, reduction=reduction, weight=weight, ignore_index=ignore_index,
              label_smoothing=label_smoothing)
    what = (f"{what} {np.asarray(logits).dtype} shape={np.shape(logits)} axis={axis} "
            f"reduction={reduction} weight={'yes' if weight is not None else 'no'} "
            f"ignore_index={ignore_index} ls={label_smoothing} "
            f"target={np.asarray(target).dtype}{np.shape(target)}").strip()
    x_before = np.array(logits, copy=True)
    t_before = np.array(target, copy=True)
    w_before = None if weight is None else np.array(weight, copy=True)
    if isa is None:
        loss = ce(logits, target, **kw)
        res = ce_grad(logits, target, **kw)
    else:
        loss = call_on_isa(isa, ce, logits, target, **kw)
        res = call_on_isa(isa, ce_grad, logits, target, **kw)
    assert isinstance(res, tuple) and len(res) == 2, f"{what}: with_grad returned {type(res)}"
    loss2, grad = res
    np.testing.assert_array_equal(np.asarray(logits), x_before, err_msg=f"{what}: logits modified")
    np.testing.assert_array_equal(np.asarray(target), t_before, err_msg=f"{what}: target modified")
    if weight is not None:
        np.testing.assert_array_equal(np.asarray(weight), w_before, err_msg=f"{what}: weight modified")

    r = ref if ref is not None else reference_ce(logits, target, axis, weight, ignore_index,
                                                 label_smoothing)
    rdt = r.rdt
    for lo, name in ((loss, "cross_entropy"), (loss2, "cross_entropy_with_grad")):
        if reduction == "none":
            assert np.shape(lo) == r.bshape, f"{what}: {name} loss shape {np.shape(lo)}, expected {r.bshape}"
            if r.bshape:
                assert isinstance(lo, np.ndarray), f"{what}: {name} loss is {type(lo)}"
            assert np.asarray(lo).dtype == rdt, f"{what}: {name} loss dtype {np.asarray(lo).dtype}"
        else:
            assert isinstance(lo, np.generic) and lo.dtype == rdt, (
                f"{what}: {name} returned {type(lo).__name__}, expected a NumPy {rdt} scalar")
    np.testing.assert_array_equal(np.asarray(loss), np.asarray(loss2),
                                  err_msg=f"{what}: the two functions disagree on the loss")
    assert isinstance(grad, np.ndarray), f"{what}: gradient is {type(grad)}"
    assert grad.shape == np.shape(logits) and grad.dtype == rdt, (
        f"{what}: gradient {grad.dtype}{grad.shape}, expected {rdt}{np.shape(logits)}")

    ref_loss, ref_bound, ref_grad, ref_gtol = ref_for(r, reduction)
    assert_close(loss, ref_loss, ref_bound, rdt, f"{what}: loss")
    assert_close(grad, ref_grad, ref_gtol, rdt, f"{what}: gradient")
    if r.ignored.any():
        gi = np.moveaxis(grad, axis % grad.ndim, -1)[r.ignored]
        assert np.all(gi == 0), f"{what}: ignored samples have a nonzero gradient"
    return loss, grad


# ------------------------------------------------------------------------------------ data

def seed_of(*parts):
    return zlib.crc32(" ".join(parts).encode())


def make_logits(rng, shape, dtype, axis=-1, scale=3.0, offset=20.0):
    x = rng.standard_normal(shape) * scale
    if len(shape):
        oshape = list(shape)
        oshape[axis] = 1
        x = x + rng.uniform(-offset, offset, oshape)
    return x.astype(dtype)


def make_soft(rng, shape, axis, dtype):
    q = rng.random(shape) ** 2
    q[rng.random(shape) < 0.25] = 0
    ax = axis % len(shape)
    qm = np.moveaxis(q, ax, -1)
    empty = qm.sum(axis=-1) == 0
    qm[empty, 0] = 1.0
    q = q / q.sum(axis=ax, keepdims=True)
    return q.astype(dtype)


def strided_copy(rng, a, kind):
    """The same values in a non-C-contiguous array (for kind != 'c')."""
    a = np.asarray(a)
    if a.ndim == 0:
        return np.array(a, copy=True)
    if kind == "c":
        return np.ascontiguousarray(a)
    if kind == "f":
        return np.asfortranarray(a) if a.ndim > 1 else strided_copy(rng, a, "s")
    big = np.empty(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


# name: (logits shape of the C-contiguous base, transform, axis, target layout)
LAYOUTS = {
    "2d_last": ((37, 13), lambda b: b, -1, "c"),
    "2d_wide": ((9, 100), lambda b: b, -1, "c"),
    "3d_mid": ((3, 11, 7), lambda b: b, 1, "c"),
    "3d_mid_fortran": ((5, 12, 6), np.asfortranarray, -2, "f"),
    "3d_mid_wide_inner": ((2, 13, 37), lambda b: b, 1, "c"),
    "2d_axis0": ((13, 29), lambda b: b, 0, "c"),
    "3d_axis0": ((11, 4, 5), lambda b: b, 0, "s"),
    "slice": ((40, 31), lambda b: b[1::2, 2::3], -1, "s"),
    "transpose": ((13, 29), lambda b: b.T, -1, "f"),
    "negative": ((20, 26), lambda b: b[::-1, ::-2], -1, "s"),
    "3d_mid_sliced": ((4, 24, 9), lambda b: b[:, 1::2, ::-2], 1, "s"),
    "1d": ((17,), lambda b: b, 0, "c"),
}
INT_TYPES = (np.int64, np.int32, np.int16, np.int8)


def layout_case(name, dtype, rng):
    base_shape, transform, axis, tkind = LAYOUTS[name]
    base = make_logits(rng, base_shape, dtype, axis)
    x = transform(base)
    return x, axis, tkind


def hard_target(rng, x, axis, tkind, itype, ignore_index):
    ax = axis % x.ndim
    C = x.shape[ax]
    bshape = x.shape[:ax] + x.shape[ax + 1:]
    t = rng.integers(0, C, bshape)
    if ignore_index is not None and t.size > 1:
        mask = rng.random(bshape) < 0.3
        t = np.where(mask, ignore_index, t)
        # keep one sample counted
        first = np.unravel_index(0, bshape)
        t[first] = 0 if ignore_index != 0 else 1
    return strided_copy(rng, t.astype(itype), tkind)


def soft_target(rng, x, axis, tkind, dtype=None):
    t = make_soft(rng, x.shape, axis, dtype or x.dtype)
    return strided_copy(rng, t, tkind)


# ------------------------------------------------------------------------------------ main grid

@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_options(isa, dtype, layout, kind):
    rng = np.random.default_rng(seed_of(np.dtype(dtype).name, layout, kind))
    x, axis, tkind = layout_case(layout, dtype, rng)
    C = x.shape[axis % x.ndim]
    ignores = (None, -100, 2) if kind == "hard" else (None,)
    for k, (use_w, ii, ls) in enumerate(itertools.product((False, True), ignores, (0.0, 0.25))):
        w = rng.uniform(0.25, 2.0, 2 * C).astype(dtype)[::2] if use_w else None  # strided
        if kind == "hard":
            t = hard_target(rng, x, axis, tkind, INT_TYPES[k % len(INT_TYPES)], ii)
        else:
            t = soft_target(rng, x, axis, tkind)
        r = reference_ce(x, t, axis, w, ii, ls)
        for reduction in REDUCTIONS:
            check_ce(x, t, axis=axis, reduction=reduction, weight=w, ignore_index=ii,
                     label_smoothing=ls, isa=isa, what=f"[{isa} {layout} {kind}]", ref=r)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_explicit_axis_forms_agree(dtype):
    """axis=1 and axis=-2 of a 3-D array, and a moved class axis, give the same results."""
    rng = np.random.default_rng(5)
    x = make_logits(rng, (4, 9, 6), dtype, 1)
    t = rng.integers(0, 9, (4, 6))
    w = rng.uniform(0.5, 1.5, 9).astype(dtype)
    for reduction in REDUCTIONS:
        kw = dict(reduction=reduction, weight=w, label_smoothing=0.1)
        l1, g1 = ce_grad(x, t, axis=1, **kw)
        l2, g2 = ce_grad(x, t, axis=-2, **kw)
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(g1, g2)
        l3, g3 = ce_grad(np.ascontiguousarray(np.moveaxis(x, 1, -1)), t, axis=-1, **kw)
        assert_close(l3, np.asarray(l1).astype(wide_of(dtype)),
                     8 * EPS[np.dtype(dtype)] * np.maximum(1, np.abs(np.asarray(l1, np.float64))),
                     np.dtype(dtype), f"moved axis {reduction}")


@pytest.mark.parametrize("seed", range(40))
def test_random_configurations(seed):
    """Random rank (1-4), sizes (including 1), class axis, layout, dtype and options."""
    rng = np.random.default_rng(1000 + seed)
    dtype = (np.float32, np.float64)[seed % 2]
    ndim = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 8, ndim))
    base = make_logits(rng, tuple(2 * d for d in shape), dtype, offset=float(rng.choice([0, 30])))
    # a strided view: every other element along each dimension, some reversed, then permuted
    sl = tuple(slice(None, None, -2) if rng.random() < 0.3 else slice(1, None, 2) for _ in shape)
    x = base[sl].transpose(rng.permutation(ndim))
    axis = int(rng.integers(-ndim, ndim))
    C = x.shape[axis]
    hard = rng.random() < 0.6
    use_w = rng.random() < 0.5
    ls = float(rng.choice([0.0, 0.1, 0.5, 1.0]))
    ii = None
    w = rng.uniform(0.2, 3.0, C).astype(dtype) if use_w else None
    if hard:
        bshape = x.shape[:axis % ndim] + x.shape[axis % ndim + 1:]
        t = rng.integers(0, C, bshape)
        if rng.random() < 0.5:
            ii = int(rng.choice([-100, 0, C - 1]))
            t = np.where(rng.random(bshape) < 0.3, ii, t)
        t = t.astype(rng.choice([np.int64, np.int32, np.int16]))
    else:
        t = make_soft(rng, x.shape, axis, dtype)
    r = reference_ce(x, t, axis, w, ii, ls)
    for reduction in REDUCTIONS:
        check_ce(x, t, axis=axis, reduction=reduction, weight=w, ignore_index=ii,
                 label_smoothing=ls, what=f"[random seed {seed}]", ref=r)


# ------------------------------------------------------------------------------------ torch

def torch_ce(x, target, axis, reduction, weight, ignore_index, ls):
    torch = pytest.importorskip("torch", reason="torch not installed")
    x = np.asarray(x)
    t = np.asarray(target)
    hard = t.dtype.kind in "iu"
    if x.ndim > 1:
        xm = np.moveaxis(x, axis % x.ndim, 1)
        tm = t if hard else np.moveaxis(t, axis % x.ndim, 1)
    else:
        xm, tm = x, t
    xt = torch.tensor(np.array(xm, order="C"), requires_grad=True)
    if hard:
        tt = torch.tensor(np.array(tm, dtype=np.int64, order="C"))
    else:
        tt = torch.tensor(np.array(tm, dtype=xm.dtype, order="C"))
    kw = dict(reduction=reduction, label_smoothing=ls)
    if weight is not None:
        kw["weight"] = torch.tensor(np.asarray(weight).astype(xm.dtype))
    if hard:
        kw["ignore_index"] = ignore_index if ignore_index is not None else -987654321
    nthreads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch's thread pool and ours contend on small inputs (40 ms a call)
    try:
        loss = torch.nn.functional.cross_entropy(xt, tt, **kw)
        (loss.sum() if reduction == "none" else loss).backward()
    finally:
        torch.set_num_threads(nthreads)
    g = xt.grad.numpy()
    if x.ndim > 1:
        g = np.moveaxis(g, 1, axis % x.ndim)
    return loss.detach().numpy(), g


def _have_torch():
    try:
        return importlib.util.find_spec("torch") is not None  # imported only where used
    except (ImportError, ValueError, AttributeError):
        return False


HAVE_TORCH = _have_torch()

TORCH_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def compare_torch(x, t, axis, reduction, weight, ignore_index, ls, what):
    tl, tg = torch_ce(x, t, axis, reduction, weight, ignore_index, ls)
    kw = dict(axis=axis, reduction=reduction, weight=weight, ignore_index=ignore_index,
              label_smoothing=ls)
    loss, grad = ce_grad(x, t, **kw)
    loss1 = ce(x, t, **kw)
    np.testing.assert_array_equal(np.asarray(loss1), np.asarray(loss))
    rtol = TORCH_RTOL[np.dtype(x.dtype)]
    tl = np.asarray(tl, np.float64)
    scale = max(1.0, float(np.max(np.abs(tl), initial=0)))
    np.testing.assert_allclose(np.asarray(loss, np.float64), tl, rtol=rtol, atol=rtol * scale,
                               err_msg=f"{what}: loss against torch")
    gscale = float(np.max(np.abs(tg), initial=0))
    np.testing.assert_allclose(grad.astype(np.float64), tg.astype(np.float64), rtol=rtol,
                               atol=rtol * max(gscale, 1e-300),
                               err_msg=f"{what}: gradient against torch autograd")


@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("layout", ["2d_last", "3d_mid", "2d_axis0", "3d_axis0", "transpose", "1d"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_against_torch(dtype, layout, kind):
    pytest.importorskip("torch", reason="torch not installed")
    rng = np.random.default_rng(seed_of("torch", np.dtype(dtype).name, layout, kind))
    x, axis, tkind = layout_case(layout, dtype, rng)
    C = x.shape[axis % x.ndim]
    hard = kind == "hard"
    ignores = (None, -100, 2) if hard else (None,)
    combos = list(itertools.product(REDUCTIONS, (False, True), ignores, (0.0, 0.3)))
    combos += [("mean", True, ignores[-1], 1.0), ("none", False, None, 1.0), ("sum", True, None, 1.0)]
    for k, (reduction, use_w, ii, ls) in enumerate(combos):
        w = rng.uniform(0.25, 2.0, C).astype(dtype) if use_w else None
        if hard:
            t = hard_target(rng, x, axis, tkind, INT_TYPES[k % len(INT_TYPES)], ii)
            if layout == "1d" and ii is not None:
                continue  # a lone ignored sample is covered by test_all_ignored
        else:
            t = soft_target(rng, x, axis, tkind)
        compare_torch(x, t, axis, reduction, w, ii, ls,
                      f"{np.dtype(dtype)} {layout} {kind} {reduction} w={use_w} ii={ii} ls={ls}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_soft_targets_not_probabilities(dtype):
    """Float targets are used as given (negative entries, rows not summing to 1), as PyTorch."""
    rng = np.random.default_rng(11)
    x = make_logits(rng, (15, 8), dtype, -1)
    t = (rng.standard_normal((15, 8)) * 2).astype(dtype)
    w = rng.uniform(0.5, 1.5, 8).astype(dtype)
    for reduction, use_w, ls in itertools.product(REDUCTIONS, (False, True), (0.0, 0.2)):
        ww = w if use_w else None
        # the per-sample bound scales with sum_c |a_c log p_c| (terms of both signs cancel)
        check_ce(x, t, reduction=reduction, weight=ww, label_smoothing=ls, what="non-probability")
        if HAVE_TORCH:
            compare_torch(x, t, -1, reduction, ww, None, ls, f"non-probability {reduction}")


# ------------------------------------------------------------------------------------ special values

SPECIAL_ROWS = [
    # (logits row, hard target) -- expected per log_softmax's special-value rules
    ([0.0, -np.inf, 1.0, 2.0, 3.0], 2),      # -inf elsewhere: finite
    ([0.0, -np.inf, 1.0, 2.0, 3.0], 1),      # target at -inf: +inf
    ([np.nan, 0.0, 1.0, 2.0, 3.0], 3),       # NaN: NaN
    ([0.0, 1.0, np.nan, 2.0, 3.0], 2),
    ([-np.inf] * 5, 0),                      # all -inf: NaN
    ([np.inf, 0.0, np.inf, 1.0, 2.0], 0),    # two +inf, target on one: log 2
    ([np.inf, 0.0, np.inf, 1.0, 2.0], 3),    # target off the +inf: +inf
    ([1.0, 2.0, np.inf, -np.inf, 0.0], 2),   # one +inf on target: 0
    ([np.inf, np.inf, np.inf, np.inf, np.inf], 4),  # log 5
    ([1e30, -1e30, 0.0, 5.0, -3.0], 0),      # huge finite values
    ([1e30, -1e30, 0.0, 5.0, -3.0], 1),
    ([0.5, 0.25, -0.125, 1.0, 2.0], 4),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_hard(isa, dtype):
    x = np.array([r for r, _ in SPECIAL_ROWS], dtype)
    t = np.array([tt for _, tt in SPECIAL_ROWS], np.int64)
    w = np.array([1.0, 0.5, 2.0, 1.5, 0.75], dtype)
    for reduction in REDUCTIONS:
        loss, grad = check_ce(x, t, reduction=reduction, isa=isa, what="special")
        check_ce(x, t, reduction=reduction, weight=w, isa=isa, what="special weighted")
    loss = ce(x, t, reduction="none")
    assert loss[0] > 0 and np.isfinite(loss[0])
    assert loss[1] == np.inf
    assert np.isnan(loss[2]) and np.isnan(loss[3]) and np.isnan(loss[4])
    assert abs(float(loss[5]) - math.log(2)) <= 4 * EPS[np.dtype(dtype)]
    assert loss[6] == np.inf
    assert loss[7] == 0
    assert abs(float(loss[8]) - math.log(5)) <= 4 * EPS[np.dtype(dtype)] * 2
    assert np.isnan(ce(x, t, reduction="mean")) and np.isnan(ce(x, t, reduction="sum"))
    # label smoothing puts mass on every class: a -inf logit makes the loss +inf (as PyTorch)
    for reduction in REDUCTIONS:
        check_ce(x, t, reduction=reduction, label_smoothing=0.1, isa=isa, what="special smoothed")
    ls_loss = ce(x, t, reduction="none", label_smoothing=0.1)
    assert ls_loss[0] == np.inf and ls_loss[1] == np.inf and ls_loss[7] == np.inf
    # the special rows in the middle of a class axis (strided) too
    xm = np.ascontiguousarray(np.stack([x, x[::-1]], axis=0).transpose(0, 2, 1))  # (2, 5, 12)
    tm = np.stack([t, t[::-1]], axis=0)
    for reduction in REDUCTIONS:
        check_ce(xm, tm, axis=1, reduction=reduction, isa=isa, what="special axis=1")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_soft(isa, dtype):
    ninf, inf, nan = -np.inf, np.inf, np.nan
    rows = [
        ([0.0, ninf, 1.0, 2.0, 3.0], [0.5, 0.0, 0.25, 0.25, 0.0]),   # zero prob at -inf: finite
        ([0.0, ninf, 1.0, 2.0, 3.0], [0.5, 0.1, 0.2, 0.2, 0.0]),     # mass at -inf: +inf
        ([inf, 0.0, inf, 1.0, 2.0], [0.5, 0.0, 0.5, 0.0, 0.0]),      # log 2
        ([inf, 0.0, inf, 1.0, 2.0], [0.5, 0.1, 0.4, 0.0, 0.0]),      # +inf
        ([nan, 0.0, 1.0, 2.0, 3.0], [0.0, 0.25, 0.25, 0.25, 0.25]),  # NaN propagates
        ([ninf] * 5, [0.2] * 5),                                     # NaN
        ([ninf, ninf, 7.0, ninf, ninf], [0.0, 0.0, 1.0, 0.0, 0.0]),  # exactly 0
        ([1.0, 2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0]),      # zero target: 0
    ]
    x = np.array([r for r, _ in rows], dtype)
    t = np.array([p for _, p in rows], dtype)
    for reduction in REDUCTIONS:
        check_ce(x, t, reduction=reduction, isa=isa, what="special soft")
    loss = ce(x, t, reduction="none")
    assert np.isfinite(loss[0])
    assert loss[1] == np.inf
    assert abs(float(loss[2]) - math.log(2)) <= 4 * EPS[np.dtype(dtype)]
    assert loss[3] == np.inf
    assert np.isnan(loss[4]) and np.isnan(loss[5])
    assert loss[6] == 0 and loss[7] == 0
    w = np.array([1.0, 0.5, 2.0, 1.5, 0.75], dtype)
    for reduction in REDUCTIONS:
        check_ce(x, t, reduction=reduction, weight=w, isa=isa, what="special soft weighted")
    # label smoothing gives every class mass: the -inf classes make the loss +inf
    ls_loss = ce(x[:1], t[:1], reduction="none", label_smoothing=0.1)
    assert ls_loss[0] == np.inf


@pytest.mark.parametrize("C", [257, 4097])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_rows(isa, dtype, C):
    """Many classes (and short tails past a multiple of 4096): the per-sample sums over classes and
    every gradient entry must stay within the contract."""
    rng = np.random.default_rng(C)
    x = make_logits(rng, (6, C), dtype, scale=12.0)
    t = rng.integers(0, C, 6)
    p = make_soft(rng, (6, C), -1, dtype)
    w = rng.uniform(0.5, 1.5, C).astype(dtype)
    xt = np.ascontiguousarray(x.T)  # class axis first: the column kernels
    for reduction in ("none", "mean"):
        check_ce(x, t, reduction=reduction, isa=isa, what="long rows plain")
        check_ce(x, t, reduction=reduction, label_smoothing=0.3, isa=isa, what="long rows")
        check_ce(x, p, reduction=reduction, weight=w, isa=isa, what="long rows soft")
        check_ce(xt, t, axis=0, reduction=reduction, weight=w, label_smoothing=0.3, isa=isa,
                 what="long columns")
        check_ce(xt, np.ascontiguousarray(p.T), axis=0, reduction=reduction, isa=isa,
                 what="long columns soft")


@pytest.mark.parametrize("ls", [1.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_very_long_row_weights_and_smoothing(isa, dtype, ls):
    """200000 classes: sum_c w_c (label smoothing) and sum_c w_c p_c must be summed accurately
    (a naive float64 sum is ~40 eps off here, which shifts the loss and every gradient entry)."""
    C = 200000
    rng = np.random.default_rng(23)
    x = (rng.standard_normal((2, C)) * 3).astype(dtype)
    w = rng.uniform(0.5, 2.0, C).astype(dtype)
    t = np.array([5, C - 1])
    p = make_soft(rng, (2, C), -1, dtype)
    for target in (t, p):
        r = reference_ce(x, target, -1, w, None, ls)
        for reduction in ("none", "mean"):
            check_ce(x, target, reduction=reduction, weight=w, label_smoothing=ls, isa=isa,
                     what="200000 classes", ref=r)


def test_zero_weight_class_at_minus_inf():
    """A zero weight zeroes the coefficient: no 0 * inf = NaN for a hard target elsewhere."""
    x = np.array([[0.0, -np.inf, 1.0, 2.0]], np.float64)
    t = np.array([2])
    w = np.array([1.0, 0.0, 1.0, 1.0])
    loss = ce(x, t, reduction="none", weight=w)
    assert np.isfinite(loss[0])
    check_ce(x, t, reduction="none", weight=w)
    p = np.array([[0.5, 0.0, 0.5, 0.0]])
    check_ce(x, p, reduction="none", weight=w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_logits(dtype):
    rng = np.random.default_rng(3)
    big = 3e38 if dtype == np.float32 else 1e307
    x = (rng.uniform(-1, 1, (20, 9)) * big).astype(dtype)
    x[:, 0] = big  # the max
    t = rng.integers(0, 9, 20)
    t[:5] = 0
    # per-sample losses up to 2 * big: +inf exactly where the exact value exceeds the float range
    check_ce(x, t, reduction="none", what="huge")
    loss = ce(x, t, reduction="none")
    assert np.all(loss[:5] == 0)
    # sum and mean where the per-sample losses are representable
    mid = 3e36 if dtype == np.float32 else 1e305
    xm = (rng.uniform(-1, 1, (20, 9)) * mid).astype(dtype)
    xm[:, 0] = mid
    for reduction in REDUCTIONS:
        check_ce(xm, t, reduction=reduction, what="huge")
        check_ce(-xm, t, reduction=reduction, label_smoothing=0.1, what="huge negative")
    y = (rng.standard_normal((20, 9)) * 3 + 1e4).astype(dtype)
    for reduction in REDUCTIONS:
        check_ce(y, t, reduction=reduction, label_smoothing=0.1, what="offset 1e4")
        check_ce(-y, t, reduction=reduction, what="offset -1e4")


# ------------------------------------------------------------------------------------ ignore_index

@pytest.mark.parametrize("ls", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_ignored(dtype, ls):
    rng = np.random.default_rng(4)
    x = make_logits(rng, (6, 5), dtype)
    t = np.full(6, -100)
    w = rng.uniform(0.5, 2, 5).astype(dtype)
    for weight in (None, w):
        kw = dict(ignore_index=-100, weight=weight, label_smoothing=ls)
        m = ce(x, t, reduction="mean", **kw)
        assert isinstance(m, np.generic) and m.dtype == dtype and np.isnan(m)
        mg, g = ce_grad(x, t, reduction="mean", **kw)
        assert np.isnan(mg) and g.dtype == dtype and g.shape == x.shape and np.all(g == 0)
        s, gs = ce_grad(x, t, reduction="sum", **kw)
        assert s == 0 and np.all(gs == 0)
        n, gn = ce_grad(x, t, reduction="none", **kw)
        assert np.all(n == 0) and n.shape == (6,) and np.all(gn == 0)
    # 1-D logits with an ignored scalar target
    m, g = ce_grad(x[0], np.array(3), ignore_index=3)
    assert np.isnan(m) and np.all(g == 0)
    n = ce(x[0], np.array(3), ignore_index=3, reduction="none")
    assert np.shape(n) == () and n == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ignored_sample_with_nan_logits(dtype):
    """An ignored sample contributes exactly 0 even if its logits are NaN."""
    rng = np.random.default_rng(6)
    x = make_logits(rng, (5, 7), dtype)
    x[2] = np.nan
    x[3, 1] = np.inf
    t = np.array([1, 2, -100, -100, 6])
    for reduction in REDUCTIONS:
        loss, grad = check_ce(x, t, reduction=reduction, ignore_index=-100, label_smoothing=0.1,
                              what="ignored NaN row")
        assert np.all(np.isfinite(loss))
        assert np.all(grad[2:4] == 0) and np.all(np.isfinite(grad))


def test_ignore_index_is_a_valid_class():
    rng = np.random.default_rng(7)
    x = make_logits(rng, (30, 6), np.float64)
    t = rng.integers(0, 6, 30)
    t[:3] = [0, 1, 3]
    for reduction in REDUCTIONS:
        loss, grad = check_ce(x, t, reduction=reduction, ignore_index=3, what="ignore class 3")
    n = ce(x, t, reduction="none", ignore_index=3)
    assert np.all(n[t == 3] == 0) and np.all(n[t != 3] > 0)
    keep = t != 3
    m = ce(x, t, ignore_index=3)
    m2 = ce(x[keep], t[keep])
    assert abs(float(m) - float(m2)) <= 16 * EPS[np.dtype(np.float64)] * abs(float(m))
    # ignore_index outside [0, C) that never occurs ignores nothing
    np.testing.assert_array_equal(ce(x, t, ignore_index=99, reduction="none"),
                                  ce(x, t, reduction="none"))


def test_ignore_index_numpy_integer_and_unsigned_target():
    rng = np.random.default_rng(8)
    x = make_logits(rng, (12, 5), np.float32)
    t = rng.integers(0, 5, 12).astype(np.uint8)
    t[[2, 7]] = 255
    a = ce(x, t, ignore_index=255, reduction="none")
    b = ce(x, t, ignore_index=np.int64(255), reduction="none")
    np.testing.assert_array_equal(a, b)
    assert a[2] == 0 and a[7] == 0
    check_ce(x, t, ignore_index=255, reduction="mean", weight=np.linspace(0.5, 1.5, 5, dtype=np.float32))


# ------------------------------------------------------------------------------------ weights

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_weights(dtype):
    rng = np.random.default_rng(9)
    x = make_logits(rng, (25, 6), dtype)
    t = rng.integers(0, 6, 25)
    w = np.array([1.0, 0.0, 2.0, 0.0, 0.5, 1.0], dtype)
    for reduction, ls in itertools.product(REDUCTIONS, (0.0, 0.1)):
        check_ce(x, t, reduction=reduction, weight=w, label_smoothing=ls, what="zero weights")
    n = ce(x, t, weight=w, reduction="none")
    assert np.all(n[(t == 1) | (t == 3)] == 0)


def test_weight_mean_denominators_exact():
    """Hand-computed: mean with weights divides by sum w[t] (hard) and by N (soft)."""
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    t = np.array([0, 1, 1])
    w = np.array([1.0, 3.0])
    ln2 = math.log(2)
    m = ce(x, t, weight=w)
    assert abs(float(m) - ln2) <= 4e-16  # (1 + 3 + 3) ln2 / 7
    s = ce(x, t, weight=w, reduction="sum")
    assert abs(float(s) - 7 * ln2) <= 4e-15
    p = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    ms = ce(x, p, weight=w)
    assert abs(float(ms) - 7 * ln2 / 3) <= 4e-15
    # label smoothing: per sample (1-e) w[t] ln2 + e/C (w0 + w1) ln2, divided by sum w[t]
    e = 0.5
    ml = ce(x, t, weight=w, label_smoothing=e)
    expect = sum((1 - e) * w[k] * ln2 + e / 2 * 4 * ln2 for k in t) / 7
    assert abs(float(ml) - expect) <= 8e-16
    mi = ce(x, np.array([0, 1, -1]), weight=w, ignore_index=-1)
    assert abs(float(mi) - ln2) <= 4e-16  # (1 + 3) ln2 / 4


def test_integer_weight():
    rng = np.random.default_rng(21)
    x = make_logits(rng, (9, 4), np.float32)
    t = rng.integers(0, 4, 9)
    wi = np.array([1, 2, 3, 1])
    for reduction in REDUCTIONS:
        a = ce_grad(x, t, weight=wi, reduction=reduction, label_smoothing=0.1)
        b = ce_grad(x, t, weight=wi.astype(np.float32), reduction=reduction, label_smoothing=0.1)
        assert np.asarray(a[0]).dtype == np.float32 and a[1].dtype == np.float32
        np.testing.assert_array_equal(np.asarray(a[0]), np.asarray(b[0]))
        np.testing.assert_array_equal(a[1], b[1])


def test_weight_other_dtype():
    """float64 weights with float32 logits: float32 results (one rounding per weight)."""
    rng = np.random.default_rng(10)
    x = make_logits(rng, (20, 7), np.float32)
    t = rng.integers(0, 7, 20)
    w64 = rng.uniform(0.3, 3, 7)
    for reduction in REDUCTIONS:
        loss, grad = check_ce(x, t, reduction=reduction, weight=w64, label_smoothing=0.1,
                              what="float64 weight")


# ------------------------------------------------------------------------------------ dtypes

@pytest.mark.parametrize("itype", [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
                                   np.int64, np.uint64, np.intp])
def test_integer_target_dtypes(itype):
    rng = np.random.default_rng(12)
    x = make_logits(rng, (3, 10, 6), np.float32, 1)
    t64 = rng.integers(0, 10, (3, 6))
    t = t64.astype(itype)
    for reduction in REDUCTIONS:
        a = ce_grad(x, t, axis=1, reduction=reduction, label_smoothing=0.1)
        b = ce_grad(x, t64, axis=1, reduction=reduction, label_smoothing=0.1)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    check_ce(x, t, axis=1, reduction="none")


@pytest.mark.parametrize("ldt,tdt", [(np.float32, np.float64), (np.float64, np.float32),
                                     (np.float32, np.float16), (np.float16, np.float16),
                                     (np.float16, np.float32)])
def test_soft_target_other_float_dtype(ldt, tdt):
    rng = np.random.default_rng(13)
    x = make_logits(rng, (10, 6), ldt, offset=3.0)
    p = make_soft(rng, (10, 6), -1, tdt)
    rdt = np.dtype(ldt)
    for reduction in REDUCTIONS:
        loss, grad = ce_grad(x, p, reduction=reduction)
        assert np.asarray(loss).dtype == rdt and grad.dtype == rdt
        if rdt != np.float16:
            check_ce(x, p, reduction=reduction, what=f"target {np.dtype(tdt)}")


def test_float16_logits():
    rng = np.random.default_rng(14)
    x = make_logits(rng, (16, 9), np.float16, offset=4.0)
    t = rng.integers(0, 9, 16)
    p = make_soft(rng, (16, 9), -1, np.float16)
    w = np.linspace(0.5, 1.5, 9).astype(np.float16)
    for reduction, target, ww in itertools.product(REDUCTIONS, (t, p), (None, w)):
        loss, grad = ce_grad(x, target, reduction=reduction, weight=ww, label_smoothing=0.1)
        assert np.asarray(loss).dtype == np.float16 and grad.dtype == np.float16
        if reduction != "none":
            assert isinstance(loss, np.float16)
        loss1 = ce(x, target, reduction=reduction, weight=ww, label_smoothing=0.1)
        np.testing.assert_array_equal(np.asarray(loss1), np.asarray(loss))
        # computed in float32 from the float16 values: compare with the float32 computation
        l32, g32 = ce_grad(x.astype(np.float32), target.astype(np.float32) if target.dtype.kind == "f"
                           else target, reduction=reduction,
                           weight=None if ww is None else ww.astype(np.float32), label_smoothing=0.1)
        np.testing.assert_allclose(np.asarray(loss, np.float64), np.asarray(l32, np.float64),
                                   rtol=2.0 ** -10, atol=2.0 ** -24)
        np.testing.assert_allclose(grad.astype(np.float64), g32.astype(np.float64),
                                   rtol=2.0 ** -10, atol=2.0 ** -24)


@pytest.mark.parametrize("ldt", [np.int32, np.int64, np.uint8, np.int8, np.bool_])
def test_integer_and_bool_logits(ldt):
    rng = np.random.default_rng(15)
    x = rng.integers(-5, 6, (8, 4)).astype(ldt)
    t = rng.integers(0, 4, 8)
    for reduction in REDUCTIONS:
        loss, grad = ce_grad(x, t, reduction=reduction)
        assert np.asarray(loss).dtype == np.float64 and grad.dtype == np.float64
        if reduction != "none":
            assert isinstance(loss, np.float64)
        l64, g64 = ce_grad(x.astype(np.float64), t, reduction=reduction)
        np.testing.assert_array_equal(np.asarray(loss), np.asarray(l64))
        np.testing.assert_array_equal(grad, g64)


def test_readonly_and_non_native_inputs():
    rng = np.random.default_rng(16)
    x = make_logits(rng, (11, 5), np.float64)
    t = rng.integers(0, 5, 11)
    ref = ce_grad(x, t, reduction="none", label_smoothing=0.1)
    xr = x.copy()
    xr.flags.writeable = False
    tr = t.copy()
    tr.flags.writeable = False
    xs = x.astype(x.dtype.newbyteorder())
    ts = t.astype(t.dtype.newbyteorder())
    for xx, tt in ((xr, tr), (xs, ts)):
        got = ce_grad(xx, tt, reduction="none", label_smoothing=0.1)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])


# ------------------------------------------------------------------------------------ shapes

def test_one_dimensional_logits():
    rng = np.random.default_rng(17)
    x = make_logits(rng, (12,), np.float32)
    for tt in (np.array(4), np.int64(4), np.array(4, np.int8)):
        for reduction in REDUCTIONS:
            loss, grad = check_ce(x, tt, axis=0, reduction=reduction, label_smoothing=0.1, what="1d")
            assert grad.shape == (12,)
    p = make_soft(rng, (12,), 0, np.float32)
    for reduction in REDUCTIONS:
        check_ce(x, p, axis=-1, reduction=reduction, what="1d soft")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_batch(dtype):
    x = np.zeros((0, 5), dtype)
    t = np.zeros(0, np.int64)
    n, g = ce_grad(x, t, reduction="none")
    assert n.shape == (0,) and n.dtype == dtype and g.shape == (0, 5) and g.dtype == dtype
    s = ce(x, t, reduction="sum")
    assert isinstance(s, np.generic) and s.dtype == dtype and s == 0
    m = ce(x, t, reduction="mean")
    assert isinstance(m, np.generic) and m.dtype == dtype and np.isnan(m)
    x3 = np.zeros((3, 5, 0), dtype)
    n3, g3 = ce_grad(x3, np.zeros((3, 0), np.int64), axis=1, reduction="none")
    assert n3.shape == (3, 0) and g3.shape == (3, 5, 0)
    p = np.zeros((0, 5), dtype)
    assert ce(p, p, reduction="sum") == 0


def test_size_zero_class_axis_is_index_error():
    x = np.zeros((3, 0), np.float64)
    with pytest.raises(IndexError):
        ce(x, np.zeros(3, np.int64))


def test_none_gradient_is_sum_gradient():
    rng = np.random.default_rng(18)
    x = make_logits(rng, (7, 11), np.float64)
    t = rng.integers(0, 11, 7)
    t[3] = -100
    kw = dict(ignore_index=-100, weight=np.linspace(0.5, 2, 11), label_smoothing=0.3)
    _, gn = ce_grad(x, t, reduction="none", **kw)
    s, gs = ce_grad(x, t, reduction="sum", **kw)
    np.testing.assert_array_equal(gn, gs)
    n = ce(x, t, reduction="none", **kw)
    assert abs(float(s) - math.fsum(n)) <= 8 * EPS[np.dtype(np.float64)] * abs(float(s))


# ------------------------------------------------------------------------------------ threads

@pytest.mark.parametrize("case", ["hard", "hard_axis0", "soft", "soft_axis0", "hard_3d", "long_rows"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_count_invariance(restore_threads, dtype, case):
    rng = np.random.default_rng(19)
    x = make_logits(rng, (4096, 100), dtype)
    w = rng.uniform(0.5, 2, 100).astype(dtype)
    x[17, 3] = np.nan
    x[100, :] = -np.inf
    x[200, 5] = np.inf
    if case.startswith("hard"):
        t = rng.integers(0, 100, 4096)
        t[rng.random(4096) < 0.1] = -100
        combos = [dict(ignore_index=-100, weight=w, label_smoothing=0.1), dict(ignore_index=-100)]
    else:
        t = make_soft(rng, (4096, 100), -1, dtype)
        combos = [dict(weight=w, label_smoothing=0.1), dict()]
    axis = -1
    if case.endswith("axis0"):
        x = x.T
        t = t if case.startswith("hard") else t.T
        axis = 0
    if case == "long_rows":  # few samples, many classes
        x = x.reshape(8, 51200)
        t = rng.integers(0, 51200, 8)
        t[3] = -100
        w = rng.uniform(0.5, 2, 51200).astype(dtype)
        combos = [dict(ignore_index=-100, weight=w, label_smoothing=0.1), dict(ignore_index=-100)]
    if case == "hard_3d":
        x = np.ascontiguousarray(x.reshape(64, 64, 100).transpose(0, 2, 1))
        t = t.reshape(64, 64)
        axis = 1
    for kw, reduction in [(combos[0], "none"), (combos[0], "mean"), (combos[1], "sum")]:
        res = {}
        for n in (1, 2):
            fs.set_num_threads(n)
            loss1 = ce(x, t, axis=axis, reduction=reduction, **kw)
            loss, grad = ce_grad(x, t, axis=axis, reduction=reduction, **kw)
            res[n] = (np.asarray(loss1).tobytes(), np.asarray(loss).tobytes(), grad.tobytes())
        assert res[1][0] == res[2][0], f"cross_entropy {reduction} {kw.keys()} depends on the thread count"
        assert res[1][1] == res[2][1], f"with_grad loss {reduction} {kw.keys()} depends on the thread count"
        assert res[1][2] == res[2][2], f"gradient {reduction} {kw.keys()} depends on the thread count"
    if case not in ("hard", "soft_axis0", "hard_3d", "long_rows"):
        return
    # and the large case is accurate
    fs.set_num_threads(2)
    r = reference_ce(x, t, axis, **combos[0])
    for reduction in ("none", "mean"):
        check_ce(x, t, axis=axis, reduction=reduction, **combos[0], what=f"large {case}", ref=r)


# ------------------------------------------------------------------------------------ errors

@pytest.fixture(params=FUNCS)
def func(request):
    return getattr(fs, request.param)


def _xt():
    rng = np.random.default_rng(20)
    return make_logits(rng, (5, 4), np.float32), rng.integers(0, 4, 5)


@pytest.mark.parametrize("axis", [2, -3, 7])
def test_axis_error(func, axis):
    x, t = _xt()
    with pytest.raises(AxisError):
        func(x, t, axis=axis)


def test_zero_dim_logits_rejected(func):
    with pytest.raises(ValueError):  # AxisError is a ValueError
        func(np.float64(1.0), np.array(0))


def test_float_target_shaped_like_indices(func):
    x, t = _xt()
    with pytest.raises(ValueError):
        func(x, t.astype(np.float32))
    with pytest.raises(ValueError):
        func(x, t.astype(np.float64), reduction="none")
    x3 = np.zeros((2, 4, 3), np.float32)
    with pytest.raises(ValueError):
        func(x3, np.zeros((2, 3), np.float32), axis=1)


@pytest.mark.parametrize("shape", [(4,), (6,), (5, 1), (1, 5), (5, 4), (), (5, 4, 1)])
def test_integer_target_shape_mismatch(func, shape):
    x, _ = _xt()
    with pytest.raises(ValueError):
        func(x, np.zeros(shape, np.int64))


@pytest.mark.parametrize("shape", [(5, 3), (4, 5), (1, 4), (5, 4, 1), (20,), (4,)])
def test_soft_target_shape_mismatch(func, shape):
    x, _ = _xt()
    with pytest.raises(ValueError):
        func(x, np.full(shape, 0.25, np.float32))


def test_axis_changes_the_expected_target_shape(func):
    x = np.zeros((3, 4, 5), np.float64)
    func(x, np.zeros((3, 4), np.int64), axis=2)
    func(x, np.zeros((3, 5), np.int64), axis=1)
    func(x, np.zeros((4, 5), np.int64), axis=0)
    with pytest.raises(ValueError):
        func(x, np.zeros((3, 4), np.int64), axis=1)
    with pytest.raises(ValueError):
        func(x, np.zeros((4, 3), np.int64), axis=2)


@pytest.mark.parametrize("bad", [
    np.zeros(5, bool), np.array(["a", "b", "c", "d", "e"]), np.array([b"a"] * 5),
    np.array([0, 1, 2, 3, 0], dtype=object), np.zeros((5, 4), bool)])
def test_target_type_error(func, bad):
    x, _ = _xt()
    with pytest.raises(TypeError):
        func(x, bad)


@pytest.mark.parametrize("reduction", ["avg", "", "Mean", "elementwise_mean", "batchmean", "SUM"])
def test_bad_reduction(func, reduction):
    x, t = _xt()
    with pytest.raises(ValueError):
        func(x, t, reduction=reduction)


@pytest.mark.parametrize("wshape", [(3,), (5,), (1, 4), (4, 1), (), (0,)])
def test_bad_weight_shape(func, wshape):
    x, t = _xt()
    with pytest.raises(ValueError):
        func(x, t, weight=np.ones(wshape, np.float32))
    with pytest.raises(ValueError):
        func(x, np.full((5, 4), 0.25, np.float32), weight=np.ones(wshape, np.float32))


@pytest.mark.parametrize("ii", [-100, 0, 3])
def test_ignore_index_with_soft_targets(func, ii):
    x, _ = _xt()
    with pytest.raises(ValueError):
        func(x, np.full((5, 4), 0.25, np.float32), ignore_index=ii)


@pytest.mark.parametrize("ls", [-0.01, 1.0000001, 2.0, -np.inf, np.inf, np.nan])
def test_bad_label_smoothing(func, ls):
    x, t = _xt()
    with pytest.raises(ValueError):
        func(x, t, label_smoothing=ls)
    with pytest.raises(ValueError):
        func(x, np.full((5, 4), 0.25, np.float32), label_smoothing=ls)


def test_label_smoothing_bounds_accepted(func):
    x, t = _xt()
    func(x, t, label_smoothing=0.0)
    func(x, t, label_smoothing=1.0)
    func(x, t, label_smoothing=1)


def test_minus_100_not_ignored_by_default(func):
    x, t = _xt()
    t[2] = -100
    with pytest.raises(IndexError):
        func(x, t)
    with pytest.raises(IndexError):
        func(x, t, ignore_index=-1)
    func(x, t, ignore_index=-100)


@pytest.mark.parametrize("bad", [4, 5, -1, 1000])
def test_out_of_range_index_1d(func, bad):
    x = np.zeros((8, 4), np.float64)
    t = np.zeros(8, np.int64)
    t[3] = bad
    t[6] = 9
    with pytest.raises(IndexError) as exc:
        func(x, t)
    msg = str(exc.value)
    assert re.search(r"(?<![\d.])3(?![\d.])", msg), f"message does not name position 3: {msg!r}"
    assert not re.search(r"(?<![\d.])6(?![\d.])", msg), f"message names a later position: {msg!r}"


@pytest.mark.parametrize("axis", [1, -1, 0])
def test_out_of_range_index_tuple(func, axis):
    shapes = {1: (3, 5, 4), -1: (3, 4, 5), 0: (5, 3, 4)}
    x = np.zeros(shapes[axis], np.float32)
    t = np.zeros((3, 4), np.int64)
    t[1, 2] = 7
    t[2, 0] = -3
    with pytest.raises(IndexError) as exc:
        func(x, t, axis=axis)
    msg = str(exc.value)
    assert "(1, 2)" in msg, f"message does not name (1, 2): {msg!r}"
    assert "(2, 0)" not in msg, f"message names a later position: {msg!r}"


def test_out_of_range_with_ignore_and_strided_target(func):
    x = np.zeros((3, 6, 4), np.float64)
    big = np.zeros((3, 8), np.int64)
    t = big[:, ::2]  # (3, 4), non-contiguous
    t[0, 1] = -100
    t[2, 3] = 6
    with pytest.raises(IndexError) as exc:
        func(x, t, axis=1, ignore_index=-100)
    assert "(2, 3)" in str(exc.value), str(exc.value)
    t[2, 3] = -100
    func(x, t, axis=1, ignore_index=-100)


def test_out_of_range_scalar_target(func):
    x = np.zeros(6, np.float64)
    for bad in (6, -1, -100):
        with pytest.raises(IndexError):
            func(x, np.array(bad))
    func(x, np.array(-100), ignore_index=-100)


def test_out_of_range_uint_target(func):
    x = np.zeros((4, 5), np.float32)
    t = np.array([0, 1, 200, 4], np.uint8)
    with pytest.raises(IndexError) as exc:
        func(x, t)
    assert re.search(r"(?<![\d.])2(?![\d.])", str(exc.value))
    t = np.array([0, 1, 4, 2 ** 64 - 1], np.uint64)  # would wrap to -1 in int64
    with pytest.raises(IndexError) as exc:
        func(x, t)
    assert re.search(r"(?<![\d.])3(?![\d.])", str(exc.value))
    with pytest.raises(IndexError):
        func(x, np.array([0, 1, 4, 2 ** 63], np.uint64))
    with pytest.raises(IndexError):
        func(x, t, ignore_index=-1)  # 2**64 - 1 is not -1


def test_numpy_integer_axis(func):
    x = np.zeros((2, 5, 3), np.float64)
    t = np.zeros((2, 3), np.int64)
    a = func(x, t, axis=np.int64(1), reduction="none")
    b = func(x, t, axis=1, reduction="none")
    np.testing.assert_array_equal(a[0] if isinstance(a, tuple) else a, b[0] if isinstance(b, tuple) else b)


def test_errors_leave_logits_untouched(func):
    x, t = _xt()
    x0 = x.copy()
    t[4] = 99
    with pytest.raises(IndexError):
        func(x, t)
    np.testing.assert_array_equal(x, x0)


# ------------------------------------------------------------- regressions found in review

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_of_a_chunk_of_minus_inf(dtype):
    """A whole L1 chunk of -inf logits (the row's log-sum-exp is read chunk by chunk) gets an exact
    zero gradient, also with label smoothing (then exactly -eps/C there)."""
    x = np.zeros((1, 8192), dtype)
    x[0, 4096:] = -np.inf
    _, g = fs.cross_entropy_with_grad(x, np.array([0]))
    assert np.all(g[0, 4096:] == 0)
    _, g = fs.cross_entropy_with_grad(x, np.array([0]), label_smoothing=0.1)
    np.testing.assert_allclose(g[0, 4096:], -0.1 / 8192, rtol=4 * np.finfo(dtype).eps)


def test_subnormal_coefficients_are_not_zero():
    """Only an exactly zero coefficient drops its term (xlogy); a subnormal one counts."""
    loss = fs.cross_entropy(np.array([[-1e30, 0.0]], np.float32), np.array([[1e-40, 1.0]], np.float32),
                            reduction="none")
    assert loss[0] > 0
    loss = fs.cross_entropy(np.array([[-np.inf, 0.0]]), np.array([[1e-310, 1.0]]), reduction="none")
    assert loss[0] == np.inf


def test_infinite_terms_of_both_signs_give_nan():
    """Negative weights on -inf logits: +inf and -inf terms make NaN (as PyTorch), not +inf."""
    loss = fs.cross_entropy(np.array([[-np.inf, -np.inf, 0.0]]), np.array([[0.5, 0.5, 0.0]]),
                            weight=[1.0, -1.0, 1.0], reduction="none")
    assert np.isnan(loss[0])


def test_ignore_index_beyond_int64_is_rejected():
    with pytest.raises(ValueError, match="ignore_index"):
        fs.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=np.iinfo(np.int64).min)
    with pytest.raises(ValueError, match="ignore_index"):
        fs.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), ignore_index=2 ** 63)
