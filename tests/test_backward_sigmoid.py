"""softmax_backward / log_softmax_backward and sigmoid / log_sigmoid.

Backward: softmax_backward(dy, y) = y * (dy - sum(dy * y)) and
log_softmax_backward(dy, y) = dy - exp(y) * sum(dy), sums over ``axis`` (int,
tuple, None), against float64 (float32 results) / np.longdouble (float64
results) references, with the error bound
    softmax_backward:     |err_i| <= C * eps * (|y_i| |dy_i| + |y_i| sum_j |dy_j y_j|)
    log_softmax_backward: |err_i| <= C * eps * (|dy_i| + exp(y_i) sum_j |dy_j|)
(plus the smallest normal number, for flushed underflow), and against torch
autograd when torch is installed.  Every row length 1..70, 1000, 4097,
non-last axes, non-contiguous and mixed-dtype inputs, out= (any strides, in
place on dy), errors, every ISA, thread invariance.

sigmoid / log_sigmoid: dense sweeps (float32 grid over [-200, 200] and a
sample of all float32 bit patterns; float64 grid and random bit patterns;
every float16) against float64 / long double references with the softmax /
log_softmax bounds of conftest.BOUNDS; special values and stability at the
extremes; layouts, 0-d, dtypes, out=; scipy.special.expit / log_expit.
"""
import functools
import math

import numpy as np
import pytest

import fastsoftmax as fs
from conftest import assert_matches, call_on_isa, normalize_axes, same_bits

DTYPES = [np.float32, np.float64]
C_BOUND = 4          # "c ~ 4-8" roundings of the cancelling magnitudes (measured: <= 1.6)
BWD_NAMES = ["softmax_backward", "log_softmax_backward"]
SIG_NAMES = ["sigmoid", "log_sigmoid"]


def wide_of(dtype):
    return np.dtype(np.longdouble) if np.dtype(dtype) == np.float64 else np.dtype(np.float64)


# =============================================================== backward

def ref_backward(name, dy, y, axis=-1):
    """(reference, magnitude) in the wide type of the result dtype."""
    dy = np.asarray(dy)
    y = np.asarray(y)
    rdt = np.result_type(dy.dtype, y.dtype)
    wide = wide_of(rdt)
    dyw = dy.astype(wide)
    yw = y.astype(wide)
    axes = normalize_axes(axis, dy.ndim)
    if name == "softmax_backward":
        p = dyw * yw
        s = np.sum(p, axis=axes, keepdims=True)
        ref = yw * (dyw - s)
        mag = np.abs(yw) * np.abs(dyw) + np.abs(yw) * np.sum(np.abs(p), axis=axes, keepdims=True)
    else:
        s = np.sum(dyw, axis=axes, keepdims=True)
        e = np.exp(yw)
        ref = dyw - e * s
        mag = np.abs(dyw) + e * np.sum(np.abs(dyw), axis=axes, keepdims=True)
    return ref, mag


def assert_backward(name, got, dy, y, axis, context="", c=C_BOUND):
    dy = np.asarray(dy)
    y = np.asarray(y)
    rdt = np.result_type(dy.dtype, y.dtype)
    got = np.asarray(got)
    ctx = f"{name} {rdt} axis={axis!r} shape={dy.shape} {context}"
    assert got.dtype == rdt, f"{ctx}: dtype {got.dtype}, expected {rdt}"
    assert got.shape == dy.shape, f"{ctx}: shape {got.shape}, expected {dy.shape}"
    if got.size == 0:
        return
    ref, mag = ref_backward(name, dy, y, axis)
    eps = float(np.finfo(rdt).eps)
    tiny = float(np.finfo(rdt).tiny)
    with np.errstate(all="ignore"):
        err = np.abs(got.astype(ref.dtype) - ref)
        err = np.where(np.isnan(err), np.inf, err)
        bound = c * eps * mag + tiny
        bad = err > bound
    if bad.any():
        ratio = (err / (eps * mag + tiny)).astype(np.float64)
        i = tuple(int(v) for v in np.unravel_index(np.argmax(ratio), got.shape))
        raise AssertionError(
            f"{ctx}: {int(bad.sum())} of {got.size} elements out of bounds; worst at {i}: "
            f"got {got[i]!r}, reference {float(ref[i])!r}, error {float(err[i]):.3e} = "
            f"{float(ratio[i]):.2f} * eps * magnitude (allowed {c}); dy={dy[i]!r} y={y[i]!r}")


def max_ratio(name, got, dy, y, axis):
    ref, mag = ref_backward(name, dy, y, axis)
    rdt = np.result_type(np.asarray(dy).dtype, np.asarray(y).dtype)
    eps = float(np.finfo(rdt).eps)
    tiny = float(np.finfo(rdt).tiny)
    err = np.abs(np.asarray(got).astype(ref.dtype) - ref)
    return float(np.max(err / (eps * mag + tiny)))


def make_pair(name, rng, shape, dtype, axis=-1, kind="forward"):
    """(dy, y): y a forward output along axis (kind 'forward') or arbitrary values."""
    logits = rng.standard_normal(shape) * 4
    if kind == "forward":
        fwd = fs.softmax if name == "softmax_backward" else fs.log_softmax
        y = fwd(logits.astype(dtype), axis)
    elif kind == "arbitrary":
        y = (rng.standard_normal(shape) * (1 if name == "softmax_backward" else 3)).astype(dtype)
    else:  # "peaked": nearly one-hot rows, dy with a wide dynamic range
        fwd = fs.softmax if name == "softmax_backward" else fs.log_softmax
        y = fwd((logits * 10).astype(dtype), axis)
    dy = rng.standard_normal(shape)
    if kind == "peaked":
        dy = dy * np.exp(rng.uniform(-10, 10, shape))
    return dy.astype(dtype), np.asarray(y, dtype)


def bwd(name):
    return getattr(fs, name)


def check_bwd(name, dy, y, axis=-1, isa_name=None, context="", **kw):
    dy0 = np.array(dy, copy=True)
    y0 = np.array(y, copy=True)
    f = bwd(name)
    got = f(dy, y, axis, **kw) if isa_name is None else call_on_isa(isa_name, f, dy, y, axis, **kw)
    assert_backward(name, got, dy0, y0, axis, context)
    if "out" not in kw:
        np.testing.assert_array_equal(dy, dy0)   # inputs untouched
    np.testing.assert_array_equal(y, y0)
    return got


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_every_row_length_1_to_70(isa, name, dtype):
    rng = np.random.default_rng(1)
    for n in range(1, 71):
        for kind in ("forward", "arbitrary", "peaked"):
            dy, y = make_pair(name, rng, (3, n), dtype, kind=kind)
            check_bwd(name, dy, y, -1, isa_name=isa, context=f"n={n} {kind}")


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1000, 4097, 100003])
def test_backward_long_rows(isa, name, dtype, n):
    rng = np.random.default_rng(n)
    rows = 1 if n > 5000 else 3
    for kind in ("forward", "arbitrary", "peaked"):
        dy, y = make_pair(name, rng, (rows, n), dtype, kind=kind)
        check_bwd(name, dy, y, -1, isa_name=isa, context=f"n={n} {kind}")
    # many equal positive terms: a plain running float32 sum drifts
    dy = np.full((1, n), 0.1, dtype) + rng.uniform(0, 1e-3, (1, n)).astype(dtype)
    y = fs.softmax(np.zeros((1, n), dtype)) if name == "softmax_backward" else \
        fs.log_softmax(np.zeros((1, n), dtype))
    check_bwd(name, dy, y, -1, isa_name=isa, context=f"n={n} constant")


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_axes(isa, name, dtype):
    rng = np.random.default_rng(3)
    for axis in [0, 1, 2, -1, -2, -3, (0, 2), (2, 0), (1, 2), (0, 1), (0, 1, 2), None]:
        dy, y = make_pair(name, rng, (7, 9, 11), dtype, axis=axis)
        check_bwd(name, dy, y, axis, isa_name=isa)
        dy, y = make_pair(name, rng, (7, 9, 11), dtype, axis=axis, kind="arbitrary")
        check_bwd(name, dy, y, axis, isa_name=isa, context="arbitrary")
    for n in list(range(1, 40, 3)) + [70, 1000]:
        dy, y = make_pair(name, rng, (n, 6), dtype, axis=0)
        check_bwd(name, dy, y, 0, isa_name=isa, context=f"n={n}")
    for inner in range(1, 41):
        dy, y = make_pair(name, rng, (2, 13, inner), dtype, axis=1, kind="peaked")
        check_bwd(name, dy, y, 1, isa_name=isa, context=f"inner={inner}")
    dy, y = make_pair(name, rng, (3, 2, 4097), dtype, axis=0)
    check_bwd(name, dy, y, 0, isa_name=isa)


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_non_contiguous(isa, name, dtype):
    rng = np.random.default_rng(5)
    dy, y = make_pair(name, rng, (20, 37), dtype)
    variants = {
        "C": lambda a: a,
        "F": np.asfortranarray,
        "strided": lambda a: np.repeat(a, 3, axis=1)[:, ::3],
        "reversed": lambda a: a[::-1, ::-1].copy()[::-1, ::-1],
        "rows_strided": lambda a: np.repeat(a, 2, axis=0)[::2],
        "transposed_view": lambda a: np.ascontiguousarray(a.T).T,
    }
    for dn, fd in variants.items():
        for yn, fy in variants.items():
            for axis in (-1, 0, None):
                check_bwd(name, fd(dy), fy(y), axis, isa_name=isa, context=f"dy {dn} y {yn}")
    # read-only, unaligned, byte-swapped
    ro = dy.copy()
    ro.flags.writeable = False
    check_bwd(name, ro, y, -1, isa_name=isa, context="read-only dy")
    buf = np.zeros(dy.nbytes + 1, np.uint8)
    un = buf[1:].view(dtype).reshape(dy.shape)
    un[...] = dy
    check_bwd(name, un, y, -1, context="unaligned dy")
    sw = y.astype(y.dtype.newbyteorder())
    got = bwd(name)(dy, sw)
    assert_backward(name, got.astype(dtype), dy, y, -1, "byte-swapped y")


@pytest.mark.parametrize("name", BWD_NAMES)
def test_backward_mixed_dtypes(isa, name):
    rng = np.random.default_rng(7)
    dy32, y32 = make_pair(name, rng, (5, 33), np.float32)
    dy64, y64 = make_pair(name, rng, (5, 33), np.float64)
    for dy, y in [(dy32, y64), (dy64, y32), (dy32, y32), (dy64, y64)]:
        got = check_bwd(name, dy, y, -1, isa_name=None)
        assert got.dtype == np.result_type(dy.dtype, y.dtype)
        got = check_bwd(name, dy, y, 0)
        assert got.dtype == np.result_type(dy.dtype, y.dtype)


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_out(isa, name, dtype):
    rng = np.random.default_rng(9)
    f = bwd(name)
    for shape, axis in [((6, 37), -1), ((6, 37), 0), ((4, 5, 9), (0, 2)), ((3, 1000), -1),
                        ((3, 1000), None)]:
        dy, y = make_pair(name, rng, shape, dtype, axis=axis, kind="arbitrary")
        outs = [np.full(shape, np.nan, dtype), np.asfortranarray(np.full(shape, np.nan, dtype)),
                np.full(shape[:-1] + (2 * shape[-1],), np.nan, dtype)[..., ::2],
                np.full(shape, np.nan, dtype)[::-1]]
        for o in outs:
            res = call_on_isa(isa, f, dy, y, axis, out=o)
            assert res is o
            assert_backward(name, o, dy, y, axis, "out=")
        # in place on dy (contiguous and strided)
        d = dy.copy()
        res = call_on_isa(isa, f, d, y, axis, out=d)
        assert res is d
        assert_backward(name, d, dy, y, axis, "in place on dy")
        big = np.zeros(shape[:-1] + (3 * shape[-1],), dtype)
        v = big[..., 1::3]
        v[...] = dy
        f(v, y, axis, out=v)
        assert_backward(name, v, dy, y, axis, "in place on a strided dy")
        assert np.all(big[..., 0::3] == 0) and np.all(big[..., 2::3] == 0)
    # mixed input dtypes write into a float64 out
    dy, y = make_pair(name, rng, (4, 9), np.float32)
    o = np.empty((4, 9), np.float64)
    assert f(dy, y.astype(np.float64), out=o) is o
    assert_backward(name, o, dy, y.astype(np.float64), -1, "mixed out")


@pytest.mark.parametrize("name", BWD_NAMES)
def test_backward_errors(name):
    f = bwd(name)
    a = np.ones((3, 4))
    for b in [np.ones((4,)), np.ones((4, 3)), np.ones((1, 4)), np.ones((3, 4, 1)), np.ones((3, 1))]:
        with pytest.raises(ValueError):
            f(a, b)
        with pytest.raises(ValueError):
            f(b, a)
    with pytest.raises(np.exceptions.AxisError):
        f(a, a, 2)
    with pytest.raises(np.exceptions.AxisError):
        f(a, a, (0, -3))
    with pytest.raises(ValueError):
        f(a, a, (1, 1))
    # out= follows the forward functions' rules (README): exact shape, exact dtype, writeable
    with pytest.raises(ValueError):
        f(a, a, out=np.empty((4, 3)))
    with pytest.raises(TypeError):
        f(a, a, out=np.empty((3, 4), np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError):
        f(a, a, out=ro)


@pytest.mark.parametrize("name", BWD_NAMES)
def test_backward_small_and_empty(name):
    f = bwd(name)
    for shape in [(0, 5), (3, 0), (0,)]:
        r = f(np.zeros(shape), np.zeros(shape))
        assert r.shape == shape and r.dtype == np.float64
    # length-1 rows: softmax y = 1 -> gradient 0; log_softmax y = 0 -> gradient 0
    dy = np.array([[2.5], [-1.0]])
    if name == "softmax_backward":
        r = f(dy, np.ones((2, 1)))
    else:
        r = f(dy, np.zeros((2, 1)))
    assert np.all(np.abs(r) <= 4 * np.finfo(np.float64).eps * np.abs(dy))
    # hand-computed: y = [0.25, 0.75], dy = [1, 3]
    if name == "softmax_backward":
        r = f(np.array([1.0, 3.0]), np.array([0.25, 0.75]))
        np.testing.assert_allclose(r, [0.25 * (1 - 2.5), 0.75 * (3 - 2.5)], rtol=1e-15)
    else:
        r = f(np.array([1.0, 3.0]), np.log(np.array([0.25, 0.75])))
        np.testing.assert_allclose(r, [1 - 0.25 * 4, 3 - 0.75 * 4], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_underflowed_forward_outputs(isa, dtype):
    """Forward outputs that are exactly 0 (softmax) or -inf (log_softmax of a
    -inf logit): y_i * (...) is exactly 0 and dy_i - exp(-inf) * sum is exactly dy_i."""
    rng = np.random.default_rng(41)
    for n in (2, 7, 8, 9, 17, 33, 100, 1000):
        logits = rng.standard_normal((4, n)) * 5
        logits[:, ::3] = -1e4                    # softmax underflows to 0 there
        logits[1, 1::4] = -np.inf
        logits = logits.astype(dtype)
        dy = (rng.standard_normal((4, n)) * 1e3).astype(dtype)
        y = fs.softmax(logits)
        g = check_bwd("softmax_backward", dy, y, -1, isa_name=isa, context=f"n={n}")
        assert np.all(g[y == 0] == 0), f"softmax_backward n={n}: nonzero where y == 0"
        ly = fs.log_softmax(logits)
        assert np.any(ly == -np.inf)
        g = check_bwd("log_softmax_backward", dy, ly, -1, isa_name=isa, context=f"n={n}")
        np.testing.assert_array_equal(g[ly == -np.inf], dy[ly == -np.inf])
        gt = check_bwd("log_softmax_backward", np.ascontiguousarray(dy.T), np.ascontiguousarray(ly.T),
                       0, isa_name=isa, context=f"n={n} axis 0")
        np.testing.assert_array_equal(gt[ly.T == -np.inf], dy.T[ly.T == -np.inf])


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_bit_identical_across_thread_counts(isa, restore_threads, name, dtype):
    rng = np.random.default_rng(11)
    f = bwd(name)
    cases = []
    dy, y = make_pair(name, rng, (512, 1000), dtype, axis=-1)
    cases += [(dy, y, -1)]
    dy, y = make_pair(name, rng, (512, 1000), dtype, axis=0)
    cases += [(dy, y, 0)]
    dy, y = make_pair(name, rng, (4, 3000, 33), dtype, axis=1, kind="arbitrary")
    cases += [(dy, y, 1), (dy, y, (0, 1))]
    dy, y = make_pair(name, rng, (2, 100001), dtype, axis=-1, kind="peaked")
    cases += [(dy, y, -1), (dy, y, None)]
    for dy, y, axis in cases:
        res = {}
        for nt in (1, 2):
            fs.set_num_threads(nt)
            res[nt] = call_on_isa(isa, f, dy, y, axis)
        assert same_bits(res[1], res[2]), f"{name} {dy.shape} axis={axis}: 1 vs 2 threads differ"
        d = dy.copy()
        f(d, y, axis, out=d)
        assert same_bits(res[1], d), f"{name} {dy.shape} axis={axis}: in place with 2 threads"
    assert_backward(name, res[1], dy, y, None, "2x100001 axis=None")


# ---------------------------------------------------------------- torch

def _torch_grad(name, logits, dy, dim):
    torch = pytest.importorskip("torch", reason="torch not installed")
    x = torch.tensor(logits, requires_grad=True)
    yt = torch.softmax(x, dim) if name == "softmax_backward" else torch.log_softmax(x, dim)
    yt.backward(torch.tensor(dy))
    return yt.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name", BWD_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_against_torch_autograd(name, dtype):
    pytest.importorskip("torch", reason="torch not installed")
    rng = np.random.default_rng(13)
    for shape, dim in [((8, 1), -1), ((8, 7), -1), ((8, 70), -1), ((4, 1000), -1),
                       ((2, 4097), -1), ((33, 5), 0), ((3, 50, 4), 1)]:
        logits = (rng.standard_normal(shape) * 3).astype(dtype)
        dy = rng.standard_normal(shape).astype(dtype)
        y_t, g_t = _torch_grad(name, logits, dy, dim)
        g = bwd(name)(dy, y_t, dim)
        assert g.dtype == dtype
        # fastsoftmax against the exact reference on torch's own y
        assert_backward(name, g, dy, y_t, dim, "torch y")
        # torch's autograd agrees to within its own (looser) rounding
        ref, mag = ref_backward(name, dy, y_t, dim)
        eps = float(np.finfo(dtype).eps)
        err_t = np.abs(g_t.astype(ref.dtype) - ref)
        slack = 64 + 2 * math.sqrt(shape[dim])
        assert np.all(err_t <= slack * eps * mag + np.finfo(dtype).tiny), \
            f"torch itself out of {slack} eps: test reference suspicious ({shape}, dim {dim})"
        diff = np.abs(g.astype(ref.dtype) - g_t.astype(ref.dtype))
        assert np.all(diff <= (slack + C_BOUND) * eps * mag + np.finfo(dtype).tiny), \
            f"{name} {shape} dim={dim}: fastsoftmax and torch autograd disagree"


# =============================================================== sigmoid

def ref_sigmoid(name, x):
    x = np.asarray(x)
    wide = wide_of(np.float64 if x.dtype.kind in "biu" else (np.float32 if x.dtype == np.float16
                                                             else x.dtype))
    xw = x.astype(wide)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(xw))             # in (0, 1]
        if name == "sigmoid":
            r = np.where(xw >= 0, 1 / (1 + e), e / (1 + e))
        else:
            r = np.minimum(xw, 0) - np.log1p(e)
        r = np.where(np.isnan(xw), np.nan, r)
    return r


def sig_result_dtype(dtype):
    dtype = np.dtype(dtype)
    return np.dtype(np.float64) if dtype.kind in "biu" else dtype


def check_sig(name, x, isa_name=None, context="", **kw):
    x0 = np.array(x, copy=True)
    f = getattr(fs, name)
    got = f(x, **kw) if isa_name is None else call_on_isa(isa_name, f, x, **kw)
    ref = ref_sigmoid(name, x0)
    assert_matches("softmax" if name == "sigmoid" else "log_softmax", np.asarray(got), ref,
                   sig_result_dtype(x0.dtype), context=f"{name} {context}", x=x0)
    return got


def _f32_from_bits(bits):
    return np.asarray(bits, np.uint32).view(np.float32)


@functools.lru_cache(maxsize=None)
def f32_sweep():
    grid = np.linspace(-200, 200, 1_000_001).astype(np.float32)
    # every 2039th float32 bit pattern, both signs (subnormals to max), every
    # 397th in [2^-25, 1) (near 0), every 3rd in [16, 18) (sigmoid -> 1)
    pos = _f32_from_bits(np.arange(0, 0x7F800000, 2039, dtype=np.uint32))
    near0 = _f32_from_bits(np.arange(0x33000000, 0x3F800000, 397, dtype=np.uint32))
    hi = _f32_from_bits(np.arange(0x41800000, 0x41900000, 3, dtype=np.uint32))
    tail = np.linspace(-104, -86, 200001).astype(np.float32)
    special = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-45, -1e-45, 1e-38, -1e-38, 3e38, -3e38,
                        np.finfo(np.float32).max, -np.finfo(np.float32).max, 88.0, -88.0,
                        89.0, -89.0, 103.0, -103.0, 104.0, -104.0, 1000.0, -1000.0, 16.6, 17.0,
                        -16.6, -17.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 1e7, -1e7], np.float32)
    x = np.concatenate([grid, pos, -pos, near0, -near0, hi, -hi, tail, special])
    return np.ascontiguousarray(x)


@functools.lru_cache(maxsize=None)
def f32_refs():
    x = f32_sweep()
    return {n: ref_sigmoid(n, x) for n in SIG_NAMES}


@functools.lru_cache(maxsize=None)
def f64_sweep():
    rng = np.random.default_rng(17)
    grid = np.linspace(-800, 800, 400_001)
    bits = rng.integers(0, 0x7FF0000000000000, 200_000, dtype=np.int64).view(np.float64)
    small = rng.uniform(-40, 40, 200_000)
    tail = np.linspace(-760, -700, 50_001)
    special = np.array([0.0, -0.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e308, -1e308,
                        np.finfo(np.float64).max, -np.finfo(np.float64).max, 708.0, -708.0,
                        709.0, -709.0, 745.0, -745.0, 746.0, -746.0, 1000.0, -1000.0,
                        36.7, 37.0, 38.0, -36.7, -37.0, -38.0, 1e-17, -1e-17, 1e-8, -1e-8])
    return np.ascontiguousarray(np.concatenate([grid, bits, -bits, small, tail, special]))


@functools.lru_cache(maxsize=None)
def f64_refs():
    x = f64_sweep()
    return {n: ref_sigmoid(n, x) for n in SIG_NAMES}


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_float32_dense_sweep(isa, name):
    x = f32_sweep()
    got = call_on_isa(isa, getattr(fs, name), x)
    assert_matches("softmax" if name == "sigmoid" else "log_softmax", got, f32_refs()[name],
                   np.float32, context=f"{name} float32 sweep", x=x)
    # the tail of the array (not a multiple of any vector width) and a short array
    for n in range(0, 40):
        xs = x[-n - 1000:][:n] if n else x[:0]
        check_sig(name, np.ascontiguousarray(xs), isa_name=None, context=f"n={n}")


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_float64_sweep(isa, name):
    x = f64_sweep()
    got = call_on_isa(isa, getattr(fs, name), x)
    assert_matches("softmax" if name == "sigmoid" else "log_softmax", got, f64_refs()[name],
                   np.float64, context=f"{name} float64 sweep", x=x)
    for n in range(0, 40):
        check_sig(name, np.ascontiguousarray(x[-n - 1000:][:n]), context=f"n={n}")


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_float16_every_value(isa, name):
    x = np.arange(0, 0x10000, dtype=np.uint16).view(np.float16)
    x = x[np.isfinite(x)]
    got = check_sig(name, x, isa_name=isa, context="every float16")
    assert got.dtype == np.float16
    inf = np.array([np.inf, -np.inf, np.nan], np.float16)
    got = getattr(fs, name)(inf)
    assert got.dtype == np.float16
    if name == "sigmoid":
        assert got[0] == 1 and got[1] == 0 and np.isnan(got[2])
    else:
        assert got[0] == 0 and got[1] == -np.inf and np.isnan(got[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_special_values(isa, dtype):
    fmax = float(np.finfo(dtype).max)
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1000.0, -1000.0, 1e30, -1e30,
                  fmax, -fmax], dtype)
    s = call_on_isa(isa, fs.sigmoid, x)
    ls = call_on_isa(isa, fs.log_sigmoid, x)
    assert s.dtype == dtype and ls.dtype == dtype
    assert s[0] == 1 and s[1] == 0 and np.isnan(s[2]) and np.isnan(s[3])
    assert s[4] == 0.5 and s[5] == 0.5
    assert s[6] == 1 and s[7] == 0 and s[8] == 1 and s[9] == 0 and s[10] == 1 and s[11] == 0
    assert ls[0] == 0 and ls[1] == -np.inf and np.isnan(ls[2]) and np.isnan(ls[3])
    eps = np.finfo(dtype).eps
    assert abs(float(ls[4]) + math.log(2)) <= 4 * eps and abs(float(ls[5]) + math.log(2)) <= 4 * eps
    assert ls[6] == 0                      # -0.0 compares equal too
    assert ls[7] == -1000.0                # not -inf
    assert ls[8] == 0 and ls[9] == dtype(-1e30)
    assert ls[10] == 0 and ls[11] == -fmax
    assert not np.any(np.isinf(ls[4:]))
    assert not np.any(np.isnan(s[4:])) and not np.any(np.isnan(ls[4:]))
    # monotone where the grid step far exceeds the allowed error
    for lo, hi in [(-1, 1), (-120, -60)]:
        g = np.linspace(lo, hi, 100001).astype(dtype)
        for f in (fs.sigmoid, fs.log_sigmoid):
            r = f(g)
            assert np.all(np.diff(r) >= 0), f"{f.__name__} not monotone on [{lo}, {hi}] {dtype}"


@pytest.mark.parametrize("name", SIG_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_layouts(isa, name, dtype):
    rng = np.random.default_rng(19)
    base = (rng.standard_normal((6, 7, 9)) * 30).astype(dtype)
    variants = {
        "C": base, "F": np.asfortranarray(base), "transposed": base.transpose(2, 0, 1),
        "sliced": np.repeat(base, 3, axis=2)[:, :, ::3], "negative": base[::-1, :, ::-2],
        "1d strided": base.reshape(-1)[::5], "size0": base[:, :0], "0-d": base[1, 2, 3].reshape(()),
        "bcast": np.broadcast_to(base[0, 0], (4, 9)),
    }
    ro = base.copy()
    ro.flags.writeable = False
    variants["read-only"] = ro
    buf = np.zeros(base.nbytes + 1, np.uint8)
    un = buf[1:].view(dtype).reshape(base.shape)
    un[...] = base
    variants["unaligned"] = un
    variants["byteswapped"] = base.astype(base.dtype.newbyteorder())
    f = getattr(fs, name)
    for vn, v in variants.items():
        got = f(v) if vn in ("unaligned", "byteswapped") else call_on_isa(isa, f, v)
        got = np.asarray(got)
        assert got.shape == v.shape, vn
        assert got.dtype == dtype, f"{vn}: {got.dtype}"
        assert_matches("softmax" if name == "sigmoid" else "log_softmax", got,
                       ref_sigmoid(name, np.asarray(v, dtype)), dtype, context=vn)
    # 0-d inputs and Python scalars / lists
    r = f(np.array(0.0, dtype))
    assert np.shape(r) == () and np.asarray(r).dtype == dtype
    r = f(2.0)
    assert np.shape(r) == () and np.asarray(r).dtype == np.float64
    assert_matches("softmax" if name == "sigmoid" else "log_softmax", np.asarray(r),
                   ref_sigmoid(name, np.array(2.0)), np.float64)
    r = f([-1.0, 0.0, 3.5])
    assert_matches("softmax" if name == "sigmoid" else "log_softmax", r,
                   ref_sigmoid(name, np.array([-1.0, 0.0, 3.5])), np.float64)


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_dtypes(name):
    f = getattr(fs, name)
    for dt in [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]:
        x = np.arange(0, 100, 7).astype(dt)
        if np.dtype(dt).kind == "i":
            x = x - 50
        got = check_sig(name, x, context=str(np.dtype(dt)))
        assert got.dtype == np.float64
    big = np.array([-2 ** 62, 2 ** 62, -1000, 1000], np.int64)
    got = f(big)
    if name == "log_sigmoid":
        assert got[0] == -(2.0 ** 62) and got[1] == 0 and got[2] == -1000.0 and got[3] == 0
    else:
        assert got[0] == 0 and got[1] == 1
    for dt in [np.float16, np.float32, np.float64]:
        assert f(np.zeros(3, dt)).dtype == dt


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_rejected_dtypes(name):
    """Same rule as the forward functions (README dtypes): complex, object,
    strings and long double raise TypeError."""
    f = getattr(fs, name)
    for bad in [np.zeros(3, np.complex128), np.zeros(3, object), np.array(["a"]),
                np.zeros(3, np.longdouble)]:
        with pytest.raises(TypeError):
            f(bad)


@pytest.mark.parametrize("name", SIG_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_out(isa, name, dtype):
    rng = np.random.default_rng(23)
    f = getattr(fs, name)
    x = (rng.standard_normal((13, 37)) * 20).astype(dtype)
    ref = ref_sigmoid(name, x)
    fname = "softmax" if name == "sigmoid" else "log_softmax"
    outs = {"C": np.full((13, 37), np.nan, dtype),
            "F": np.asfortranarray(np.full((13, 37), np.nan, dtype)),
            "strided": np.full((13, 74), np.nan, dtype)[:, ::2],
            "negative": np.full((13, 37), np.nan, dtype)[::-1, ::-1]}
    for on, o in outs.items():
        res = call_on_isa(isa, f, x, out=o)
        assert res is o, on
        assert_matches(fname, o, ref, dtype, context=f"out {on}")
    # in place, contiguous and strided
    y = x.copy()
    assert call_on_isa(isa, f, y, out=y) is y
    assert_matches(fname, y, ref, dtype, context="in place")
    big = np.zeros((13, 111), dtype)
    v = big[:, 1::3]
    v[...] = x
    assert f(v, out=v) is v
    assert_matches(fname, v, ref, dtype, context="in place strided")
    assert np.all(big[:, 0::3] == 0) and np.all(big[:, 2::3] == 0)
    # F-ordered x into C out, 0-d out
    xf = np.asfortranarray(x)
    o = np.empty((13, 37), dtype)
    f(xf, out=o)
    assert_matches(fname, o, ref, dtype, context="F x into C out")
    o0 = np.empty((), dtype)
    assert f(x[0, 0].reshape(()), out=o0) is o0
    assert_matches(fname, o0, ref[0, 0].reshape(()), dtype, context="0-d out")
    # errors (the forward functions' out= rules)
    with pytest.raises(ValueError):
        f(x, out=np.empty((37, 13), dtype))
    with pytest.raises(TypeError):
        f(x, out=np.empty((13, 37), np.float32 if dtype == np.float64 else np.float64))


@pytest.mark.parametrize("name", SIG_NAMES)
def test_sigmoid_overlapping_out(name):
    """out partially overlapping x (shifted by one element) still gives the
    elementwise result of the original x, as the forward functions guarantee."""
    f = getattr(fs, name)
    rng = np.random.default_rng(29)
    for n in (5, 64, 1001):
        a = (rng.standard_normal(n + 1) * 10)
        x0 = a[:-1].copy()
        f(a[:-1], out=a[1:])
        assert_matches("softmax" if name == "sigmoid" else "log_softmax", a[1:],
                       ref_sigmoid(name, x0), np.float64, context=f"overlap +1 n={n}")
        a = (rng.standard_normal(n + 1) * 10)
        x0 = a[1:].copy()
        f(a[1:], out=a[:-1])
        assert_matches("softmax" if name == "sigmoid" else "log_softmax", a[:-1],
                       ref_sigmoid(name, x0), np.float64, context=f"overlap -1 n={n}")


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 4e-15)])
def test_sigmoid_against_scipy(dtype, rtol):
    special = pytest.importorskip("scipy.special", reason="scipy not installed")
    rng = np.random.default_rng(31)
    x = np.concatenate([rng.uniform(-60, 60, 100_000), rng.standard_normal(10_000),
                        [0.0, -0.0, 30.0, -30.0, 80.0, -80.0]]).astype(dtype)
    np.testing.assert_allclose(fs.sigmoid(x), special.expit(x), rtol=rtol, atol=0)
    if hasattr(special, "log_expit"):
        np.testing.assert_allclose(fs.log_sigmoid(x), special.log_expit(x), rtol=rtol,
                                   atol=float(np.finfo(dtype).eps))


@pytest.mark.parametrize("name", SIG_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_bit_identical_across_thread_counts(isa, restore_threads, name, dtype):
    rng = np.random.default_rng(37)
    x = (rng.standard_normal(1_000_001) * 30).astype(dtype)
    x[::1000] = np.nan
    f = getattr(fs, name)
    res = {}
    for nt in (1, 2):
        fs.set_num_threads(nt)
        res[nt] = call_on_isa(isa, f, x)
    assert same_bits(res[1], res[2])
    strided = x.reshape(1000, -1)[:, ::2] if x.size % 1000 == 0 else x[:-1].reshape(1000, -1)[:, ::2]
    fs.set_num_threads(1)
    r1 = f(strided)
    fs.set_num_threads(2)
    assert same_bits(r1, f(strided))
    y = x.copy()
    f(y, out=y)
    assert same_bits(res[1], y)
