"""API contract: result dtypes, rejected dtypes (TypeError), axis handling
(ints, negative ints, tuples, None, (), AxisError / ValueError), keepdims,
0-d and empty inputs, Python lists, bool/int inputs, every accepted memory
layout (strided, negative strides, Fortran, read-only, unaligned, big-endian,
broadcast) compared with a C-contiguous copy, and the out= argument (shape /
dtype / read-only errors, strided out, identity of the returned object,
in-place and overlapping input/output).
"""
import numpy as np
import pytest
from numpy.exceptions import AxisError

import fastsoftmax as fs
from conftest import (BOUNDS, FUNC_NAMES, assert_matches, check, func_by_name,
                      reference)

FLOATS = [np.float16, np.float32, np.float64]
INTS = [np.bool_, np.int8, np.int16, np.int32, np.int64,
        np.uint8, np.uint16, np.uint32, np.uint64]


def data(shape, dtype=np.float64, seed=0, scale=10.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def result_shape(func, shape, axis, keepdims=False):
    if func != "logsumexp":
        return tuple(shape)
    nd = len(shape)
    if axis is None:
        axes = set(range(nd))
    elif isinstance(axis, tuple):
        axes = {a % nd for a in axis}
    else:
        axes = {axis % nd}
    if keepdims:
        return tuple(1 if d in axes else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in axes)


# ---------------------------------------------------------------- dtypes

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_float_dtypes_preserved(func, dtype):
    x = data((4, 9), dtype)
    got = check(func, x, -1)
    assert got.dtype == np.dtype(dtype)
    assert got.dtype.isnative


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", INTS)
def test_bool_and_int_give_float64(func, dtype):
    rng = np.random.default_rng(2)
    if dtype == np.bool_:
        x = rng.integers(0, 2, (3, 11)).astype(bool)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(max(info.min, -40), min(info.max, 40), (3, 11),
                         endpoint=True).astype(dtype)
    got = func_by_name(func)(x, -1)
    assert got.dtype == np.float64
    assert_matches(func, got, reference(func, x.astype(np.float64), -1), np.float64)
    np.testing.assert_array_equal(got, func_by_name(func)(x.astype(np.float64), -1))


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_large_integers(func):
    x = np.array([[2**62, 2**62 - 2**20, -2**62], [0, 1, 2]], dtype=np.int64)
    got = func_by_name(func)(x, -1)
    assert got.dtype == np.float64
    assert_matches(func, got, reference(func, x.astype(np.float64), -1), np.float64)
    xu = np.array([2**64 - 1, 0, 5], dtype=np.uint64)
    got = func_by_name(func)(xu)
    assert_matches(func, got, reference(func, xu.astype(np.float64)), np.float64)


def _bad_arrays():
    yield "complex64", np.ones(4, np.complex64)
    yield "complex128", np.ones(4, np.complex128)
    yield "clongdouble", np.ones(4, np.clongdouble)
    yield "object", np.array([1.0, 2.0, 3.0], dtype=object)
    yield "str", np.array(["1", "2"])
    yield "bytes", np.array([b"1", b"2"])
    yield "datetime64", np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]")
    yield "timedelta64", np.array([1, 2], dtype="timedelta64[s]")
    yield "structured", np.zeros(3, dtype=[("a", "f4"), ("b", "f4")])
    yield "structured_f8", np.zeros((2, 2), dtype=[("a", "f8")])
    yield "longdouble", np.ones(4, np.longdouble)
    yield "list_of_complex", [1 + 2j, 3.0]
    yield "list_of_str", ["a", "b"]


BAD = list(_bad_arrays())


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("name,x", BAD, ids=[b[0] for b in BAD])
def test_rejected_dtypes(func, name, x):
    with pytest.raises(TypeError):
        func_by_name(func)(x)
    with pytest.raises(TypeError):
        func_by_name(func)(x, axis=None)


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_rejected_dtype_2d_nonlast_axis(func):
    with pytest.raises(TypeError):
        func_by_name(func)(np.ones((3, 4), np.complex128), axis=0)
    with pytest.raises(TypeError):
        func_by_name(func)(np.ones((3, 4), np.longdouble), axis=(0, 1))


# ---------------------------------------------------------------- axis

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("axis", [2, -3, 5, -100, (0, 2), (2,), (-3, 0), (0, 1, 2)],
                         ids=repr)
def test_axis_out_of_range(func, axis):
    x = data((3, 4))
    with pytest.raises(AxisError):
        func_by_name(func)(x, axis)
    with pytest.raises(AxisError):
        func_by_name(func)(x, axis=axis)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("axis", [(0, 0), (1, -1), (0, 1, 0), (-2, 0)], ids=repr)
def test_axis_repeated(func, axis):
    x = data((3, 4))
    with pytest.raises(ValueError):
        func_by_name(func)(x, axis)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_common_call_and_general_path_agree(func, dtype):
    """The common call (plain C-contiguous array, one int axis, defaults) is served in _core without
    the Python layer (_fast: rows for the last axis, columns for any other); spellings that go through
    the Python layer give the same bits and the same kind of result, with and without out=."""
    f = func_by_name(func)
    for shape in [(10,), (7, 33), (2, 3, 300), (5, 1, 4, 3)]:
        x = data(shape, dtype)
        for axis in range(-len(shape), len(shape)):
            fast = f(x, axis)
            for kwargs in [dict(axis=(axis,)), dict(axis=axis, scale=np.float64(1.0)),
                           dict(axis=axis, where=np.ones(shape, bool))]:
                general = f(x, **kwargs)
                assert type(general) is type(fast) and np.shape(general) == np.shape(fast), kwargs
                np.testing.assert_array_equal(general, fast, err_msg=f"axis={axis} {kwargs}")
            if func == "logsumexp":
                kept = f(x, axis, keepdims=True)
                np.testing.assert_array_equal(kept, f(x, (axis,), keepdims=True))
                assert kept.shape == tuple(1 if i == axis % len(shape) else s for i, s in enumerate(shape))
                for want, kd in ((fast, False), (kept, True)):
                    out = np.full(np.shape(want), np.nan, dtype)
                    assert f(x, axis, keepdims=kd, out=out) is out
                    np.testing.assert_array_equal(out, want)
            else:
                out = np.full(shape, np.nan, dtype)
                assert f(x, axis, out=out) is out
                np.testing.assert_array_equal(out, fast)
                y = x.copy()
                assert f(y, axis, out=y) is y  # in place
                np.testing.assert_array_equal(y, fast)


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_public_signature(func):
    import inspect
    f = func_by_name(func)
    assert f.__module__ == "fastsoftmax" and f.__doc__
    params = inspect.signature(f).parameters
    expected = ["x", "axis", "keepdims", "out", "where", "scale"] if func == "logsumexp" else \
        ["x", "axis", "out", "where", "scale"]
    assert list(params) == expected
    assert params["axis"].default == -1 and params["scale"].default == 1.0
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in expected[2:])


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_axis_default_is_last(func):
    x = data((3, 4, 5), np.float32)
    f = func_by_name(func)
    np.testing.assert_array_equal(f(x), f(x, -1))
    np.testing.assert_array_equal(f(x), f(x, axis=2))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_negative_and_positive_axes_agree(func, dtype):
    x = data((3, 4, 5), dtype)
    f = func_by_name(func)
    for a in range(3):
        np.testing.assert_array_equal(f(x, a), f(x, a - 3))
    np.testing.assert_array_equal(f(x, (0, 2)), f(x, (-1, -3)))
    np.testing.assert_array_equal(f(x, (0, 1, 2)), f(x, None))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tuple_axis_is_joint(func, dtype):
    # softmax over axes (0, 2) == softmax over the flattened (0, 2) block
    x = data((4, 3, 5), dtype)
    f = func_by_name(func)
    got = f(x, (0, 2))
    moved = np.moveaxis(x, 1, 0).reshape(3, 20)
    flat = f(np.ascontiguousarray(moved), -1)
    if func == "logsumexp":
        assert got.shape == (3,)
        want = flat
    else:
        want = np.moveaxis(flat.reshape(3, 4, 5), 0, 1)
    np.testing.assert_allclose(got, want, rtol=8 * np.finfo(dtype).eps, atol=0)
    check(func, x, (0, 2))
    check(func, x, (2, 0))


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_zero_d_input(func):
    f = func_by_name(func)
    x = np.array(2.5, dtype=np.float32)
    want = {"softmax": 1.0, "log_softmax": 0.0, "logsumexp": 2.5}[func]
    for axis in [None, ()]:
        got = np.asarray(f(x, axis))
        assert got.shape == () and got.dtype == np.float32
        assert got == want
    for axis in [-1, 0, 1, (0,), (-1,)]:
        with pytest.raises(AxisError):
            f(x, axis)
    with pytest.raises(AxisError):
        f(x)           # default axis=-1 on a 0-d input


def test_zero_d_out_and_keepdims():
    x = np.array(-3.0)
    out = np.empty(())
    assert fs.softmax(x, None, out=out) is out and out == 1.0
    assert fs.log_softmax(x, (), out=out) is out and out == 0.0
    assert fs.logsumexp(x, None, out=out) is out and out == -3.0
    got = np.asarray(fs.logsumexp(x, None, keepdims=True))
    assert got.shape == () and got == -3.0


# ---------------------------------------------------------------- keepdims

@pytest.mark.parametrize("axis", [0, 1, 2, -1, (0, 2), (1, 2), None, ()], ids=repr)
@pytest.mark.parametrize("dtype", FLOATS)
def test_keepdims(axis, dtype):
    x = data((3, 4, 5), dtype)
    kd = fs.logsumexp(x, axis, keepdims=True)
    nk = fs.logsumexp(x, axis)
    assert np.shape(kd) == result_shape("logsumexp", x.shape, axis, keepdims=True)
    assert np.shape(nk) == result_shape("logsumexp", x.shape, axis)
    np.testing.assert_array_equal(np.asarray(kd).reshape(np.shape(nk)), nk)
    assert np.asarray(kd).dtype == dtype and np.asarray(nk).dtype == dtype
    check("logsumexp", x, axis, keepdims=True)
    if axis is not None and axis != ():
        # broadcasting back works: x - logsumexp(x, keepdims) == log_softmax
        np.testing.assert_allclose(
            (x.astype(np.float64) - np.asarray(kd, np.float64)),
            fs.log_softmax(x, axis).astype(np.float64),
            atol=float(np.finfo(dtype).eps) * 200, rtol=0)


def test_logsumexp_axis_none_is_0d():
    x = data((3, 4))
    r = np.asarray(fs.logsumexp(x, None))
    assert r.shape == ()
    check("logsumexp", x, None)


# ---------------------------------------------------------------- empty

EMPTY_CASES = [((0,), -1), ((0,), None), ((0,), 0), ((3, 0), -1), ((3, 0), 0),
               ((0, 4), -1), ((0, 4), 0), ((0, 4), None), ((2, 0, 3), 1),
               ((2, 0, 3), (0, 2)), ((2, 0, 3), 2), ((2, 0, 3), ()), ((3, 0), (0, 1))]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("shape,axis", EMPTY_CASES, ids=repr)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_empty(func, shape, axis, dtype):
    x = np.zeros(shape, dtype=dtype)
    got = np.asarray(func_by_name(func)(x, axis))
    rdt = np.float64 if dtype == np.int32 else dtype
    assert got.dtype == rdt
    assert got.shape == result_shape(func, shape, axis)
    if func == "logsumexp" and got.size:
        np.testing.assert_array_equal(got, np.full(got.shape, -np.inf))
    if func == "logsumexp":
        kd = np.asarray(fs.logsumexp(x, axis, keepdims=True))
        assert kd.shape == result_shape(func, shape, axis, keepdims=True)
        out = np.empty(result_shape(func, shape, axis), dtype=rdt)
        assert fs.logsumexp(x, axis, out=out) is out
        if out.size:
            np.testing.assert_array_equal(out, np.full(out.shape, -np.inf))
    else:
        out = np.empty(shape, dtype=rdt)
        assert func_by_name(func)(x, axis, out=out) is out


def test_empty_examples():
    np.testing.assert_array_equal(fs.logsumexp(np.zeros((3, 0), np.float32), axis=-1),
                                  np.full(3, -np.inf, np.float32))
    assert fs.softmax(np.zeros((3, 0))).shape == (3, 0)
    assert np.asarray(fs.logsumexp(np.zeros(0), None)) == -np.inf


# ---------------------------------------------------------------- lists

@pytest.mark.parametrize("func", FUNC_NAMES)
def test_python_lists(func):
    f = func_by_name(func)
    for lst, dt in [([1.0, 2.0, 3.0], np.float64), ([[1, 2], [3, 5]], np.float64),
                    ([True, False, True], np.float64), ([[0.5], [1.5]], np.float64)]:
        got = f(lst)
        assert isinstance(got, np.ndarray) or np.ndim(got) == 0
        assert np.asarray(got).dtype == dt
        np.testing.assert_array_equal(got, f(np.array(lst, dtype=dt)))
        check(func, np.array(lst, dtype=dt))
    got = f([[1.0, 2.0], [3.0, 4.0]], axis=0)
    np.testing.assert_array_equal(got, f(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0))


def test_python_scalar_input():
    assert np.asarray(fs.softmax(3.0, axis=None)) == 1.0
    assert np.asarray(fs.log_softmax(3.0, axis=())) == 0.0
    assert np.asarray(fs.logsumexp(3.0, axis=None)) == 3.0


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_input_not_modified(func):
    x = data((5, 33), np.float32)
    before = x.copy()
    func_by_name(func)(x, -1)
    func_by_name(func)(x, 0)
    func_by_name(func)(x, None)
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------- layouts

def _unaligned(a):
    buf = bytearray(a.nbytes + 1)
    u = np.frombuffer(buf, dtype=a.dtype, offset=1, count=a.size).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


def layouts(dtype):
    rng = np.random.default_rng(4)
    base = (rng.standard_normal((6, 8, 10)) * 20).astype(dtype)
    big = (rng.standard_normal((12, 8, 30)) * 20).astype(dtype)
    ro = base.copy()
    ro.flags.writeable = False
    be = base.astype(np.dtype(dtype).newbyteorder(">"))
    assert not be.dtype.isnative
    yield "c_contiguous", base
    yield "step_slices", big[::2, :, ::3]
    yield "middle_slice", big[3:9, :, 5:15]
    yield "neg_last", base[..., ::-1]
    yield "neg_first", base[::-1]
    yield "neg_all", big[::-2, ::-1, ::-3]
    yield "fortran", np.asfortranarray(base)
    yield "transposed", np.transpose(base, (1, 0, 2))
    yield "permuted", np.ascontiguousarray(base.transpose(2, 0, 1)).transpose(1, 2, 0)
    yield "readonly", ro
    yield "unaligned", _unaligned(base)
    yield "unaligned_strided", _unaligned(big)[::2, :, ::3]
    yield "bigendian", be
    yield "bigendian_strided", big.astype(np.dtype(dtype).newbyteorder(">"))[::-2, :, ::3]
    yield "bigendian_fortran", np.asfortranarray(be)
    yield "broadcast_zero_stride", np.broadcast_to(base[0:1], (6, 8, 10))


LAYOUT_AXES = [-1, 0, 1, (0, 2), (1, 2), None]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("layout", [name for name, _ in layouts(np.float32)])
def test_layouts(func, dtype, layout):
    x = dict(layouts(dtype))[layout]
    xc = np.ascontiguousarray(x).astype(np.dtype(dtype).newbyteorder("="))
    assert xc.flags.c_contiguous and xc.dtype.isnative
    f = func_by_name(func)
    rel = BOUNDS[np.dtype(dtype)][0]
    for axis in LAYOUT_AXES:
        got = f(x, axis)
        want = f(xc, axis)
        got_a = np.asarray(got)
        assert got_a.dtype == np.dtype(dtype) and got_a.dtype.isnative, (layout, got_a.dtype)
        assert got_a.shape == np.shape(want)
        ref = reference(func, xc, axis)
        assert_matches(func, got_a, ref, dtype, context=f"layout={layout} axis={axis}")
        assert_matches(func, np.asarray(want), ref, dtype, context=f"C copy axis={axis}")
        # the two results agree to within twice the bound
        np.testing.assert_allclose(got_a.astype(np.float64), np.asarray(want, np.float64),
                                   rtol=2 * rel, atol=2 * BOUNDS[np.dtype(dtype)][2]
                                   if func == "softmax" else 2 * rel,
                                   err_msg=f"layout {layout} axis {axis}")


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_readonly_input_accepted_and_untouched(func):
    x = data((4, 7), np.float32)
    x.flags.writeable = False
    before = x.copy()
    func_by_name(func)(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("order", [">f4", ">f8", "<f4", "<f8", ">f2"])
def test_byte_order_1d(func, order):
    x = data((37,), np.float64).astype(order)
    got = func_by_name(func)(x)
    native = np.dtype(order).newbyteorder("=")
    assert np.asarray(got).dtype == native and np.asarray(got).dtype.isnative
    check(func, x.astype(native))
    assert_matches(func, np.asarray(got), reference(func, x.astype(native)), native)


# ---------------------------------------------------------------- out=

@pytest.mark.parametrize("func", FUNC_NAMES)
def test_out_wrong_shape(func):
    x = data((3, 4), np.float32)
    f = func_by_name(func)
    shape = result_shape(func, (3, 4), -1)
    bad_shapes = [(4, 3), (3, 4, 1), (12,), (1, 3, 4), (3,), (3, 1), ()]
    for bs in bad_shapes:
        if bs == shape:
            continue
        with pytest.raises(ValueError):
            f(x, -1, out=np.empty(bs, np.float32))
    if func == "logsumexp":
        # keepdims=True needs the keepdims shape and vice versa
        with pytest.raises(ValueError):
            fs.logsumexp(x, -1, keepdims=True, out=np.empty(3, np.float32))
        with pytest.raises(ValueError):
            fs.logsumexp(x, -1, out=np.empty((3, 1), np.float32))


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("xdt,outdt", [(np.float32, np.float64), (np.float64, np.float32),
                                       (np.float16, np.float32), (np.float32, np.float16),
                                       (np.int32, np.float32), (np.int64, np.int64),
                                       (np.bool_, np.float32), (np.float64, np.complex128),
                                       (np.float64, np.longdouble), (np.float32, np.int32)])
def test_out_wrong_dtype(func, xdt, outdt):
    x = np.ones((3, 4), dtype=xdt)
    shape = result_shape(func, (3, 4), -1)
    with pytest.raises(TypeError):
        func_by_name(func)(x, -1, out=np.empty(shape, dtype=outdt))


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_out_readonly(func):
    x = data((3, 4), np.float64)
    out = np.empty(result_shape(func, (3, 4), -1))
    out.flags.writeable = False
    with pytest.raises(ValueError):
        func_by_name(func)(x, -1, out=out)
    bro = np.broadcast_to(np.empty((1, 4)), (3, 4))
    if func != "logsumexp":
        with pytest.raises(ValueError):
            func_by_name(func)(x, -1, out=bro)


def _out_variants(shape, dtype):
    yield "c", np.empty(shape, dtype)
    if len(shape) == 0:
        return
    yield "fortran", np.empty(shape, dtype, order="F")
    big = np.empty(tuple(2 * s + 1 for s in shape), dtype)
    yield "step2", big[tuple(slice(None, 2 * s, 2) for s in shape)]
    yield "negative", big[tuple(slice(2 * s - 1, None, -2) if s else slice(0, 0)
                                for s in shape)]
    if len(shape) >= 2:
        yield "transposed", np.empty(shape[::-1], dtype).T


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [-1, 0, (0, 2), None], ids=repr)
def test_out_strided(func, dtype, axis):
    x = data((4, 6, 5), dtype)
    f = func_by_name(func)
    want = np.asarray(f(x, axis))
    shape = result_shape(func, x.shape, axis)
    for name, out in _out_variants(shape, dtype):
        out[...] = 123
        r = f(x, axis, out=out)
        assert r is out, name
        np.testing.assert_array_equal(out, want, err_msg=f"out variant {name}")
    if func == "logsumexp":
        for name, out in _out_variants(result_shape(func, x.shape, axis, True), dtype):
            r = fs.logsumexp(x, axis, keepdims=True, out=out)
            assert r is out
            np.testing.assert_array_equal(out.reshape(want.shape), want)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [-1, 0, None], ids=repr)
def test_out_unaligned(func, dtype, axis):
    x = data((5, 13), dtype, seed=30)
    want = np.asarray(func_by_name(func)(x, axis))
    template = np.zeros(result_shape(func, x.shape, axis), dtype)
    out = _unaligned(template)
    assert func_by_name(func)(x, axis, out=out) is out
    np.testing.assert_array_equal(out, want)
    # unaligned input and unaligned output together, and in place
    xu = _unaligned(x)
    out = _unaligned(template)
    assert func_by_name(func)(xu, axis, out=out) is out
    assert_matches(func, out, reference(func, x, axis), dtype, context="unaligned in/out")
    if func != "logsumexp":
        assert func_by_name(func)(xu, axis, out=xu) is xu
        assert_matches(func, xu, reference(func, x, axis), dtype, context="unaligned in place")


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_out_int_input(func):
    x = np.arange(12, dtype=np.int16).reshape(3, 4)
    out = np.empty(result_shape(func, (3, 4), -1))
    assert func_by_name(func)(x, -1, out=out) is out
    np.testing.assert_array_equal(out, func_by_name(func)(x.astype(np.float64), -1))


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [-1, 0, 1, (0, 1), None], ids=repr)
def test_out_in_place(func, dtype, axis):
    # (300, 10) and (40, 3) over axis 0: column blocks narrower than a vector, rows less than one apart
    for shape in [(7, 19), (300, 10), (40, 3)]:
        orig = data(shape, dtype)
        x = orig.copy()
        r = func_by_name(func)(x, axis, out=x)
        assert r is x
        assert_matches(func, x, reference(func, orig, axis), dtype, context=f"in place {shape}")
    # in place on a non-contiguous view
    big = data((14, 40), dtype, seed=3)
    view = big[::2, 1::2]
    orig = view.copy()
    untouched = big[1::2].copy()
    r = func_by_name(func)(view, axis, out=view)
    assert r is view
    assert_matches(func, view, reference(func, orig, axis), dtype, context="in place view")
    np.testing.assert_array_equal(big[1::2], untouched)


def _overlap_cases(dtype):
    """(name, x, out, original x values) where out overlaps x but is not x."""
    # 1-D reversed
    buf = data((50,), dtype, seed=10)
    yield "reversed_1d", buf, buf[::-1], buf.copy()
    # 2-D reversed within each row
    buf = data((6, 21), dtype, seed=11)
    yield "reversed_rows", buf, buf[:, ::-1], buf.copy()
    # 2-D with the row order reversed: output row i lands on input row n-1-i
    buf = data((6, 21), dtype, seed=12)
    yield "reversed_row_order", buf, buf[::-1], buf.copy()
    # shifted by one element, both directions
    big = data((41,), dtype, seed=13)
    yield "shift_forward", big[:-1], big[1:], big[:-1].copy()
    big = data((41,), dtype, seed=14)
    yield "shift_backward", big[1:], big[:-1], big[1:].copy()
    # shifted by one row
    big = data((7, 33), dtype, seed=15)
    yield "shift_row_forward", big[:-1], big[1:], big[:-1].copy()
    big = data((7, 33), dtype, seed=16)
    yield "shift_row_backward", big[1:], big[:-1], big[1:].copy()
    # shifted by half a row in flat memory
    flat = data((6 * 20 + 10,), dtype, seed=17)
    x = flat[:120].reshape(6, 20)
    yield "shift_half_row", x, flat[10:130].reshape(6, 20), x.copy()
    # transposed view of a square array
    sq = data((9, 9), dtype, seed=18)
    yield "transposed_square", sq, sq.T, sq.copy()


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("axis", [-1, 0, None], ids=repr)
def test_out_overlapping(func, dtype, axis):
    for name, x, out, orig in _overlap_cases(dtype):
        if axis == 0 and x.ndim == 1:
            continue
        assert np.shares_memory(x, out) and out is not x
        r = func_by_name(func)(x, axis, out=out)
        assert r is out
        assert_matches(func, out, reference(func, orig, axis), dtype,
                       context=f"overlap {name}")


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_out_overlapping(dtype):
    # out is a strided view of x's first column
    orig = data((8, 13), dtype, seed=20)
    x = orig.copy()
    out = x[:, 0]
    assert fs.logsumexp(x, -1, out=out) is out
    assert_matches("logsumexp", out, reference("logsumexp", orig, -1), dtype, context="col0")
    # out is x's first row, reduction over axis 0
    x = orig.copy()
    out = x[0]
    assert fs.logsumexp(x, 0, out=out) is out
    assert_matches("logsumexp", out, reference("logsumexp", orig, 0), dtype, context="row0")
    # out is the first elements of x's buffer, keepdims shape
    x = orig.copy()
    out = x.reshape(-1)[:8].reshape(8, 1)
    assert fs.logsumexp(x, -1, keepdims=True, out=out) is out
    assert_matches("logsumexp", out, reference("logsumexp", orig, -1, keepdims=True), dtype,
                   context="head keepdims")
    # out at the end of x's buffer, reversed
    x = orig.copy()
    out = x.reshape(-1)[::-1][:13]
    assert fs.logsumexp(x, 0, out=out) is out
    assert_matches("logsumexp", out, reference("logsumexp", orig, 0), dtype, context="tail rev")
    # axis=() with out=x: in place identity
    x = orig.copy()
    assert fs.logsumexp(x, (), out=x) is x
    np.testing.assert_array_equal(x, orig)


@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_out_shares_memory_with_converted_input(func):
    f = func_by_name(func)
    # int64 input that is a view of out's own float64 buffer
    buf = np.zeros(40)
    xi = buf.view(np.int64)
    xi[:] = np.arange(40) % 7
    orig = xi.copy()
    assert f(xi, out=buf) is buf
    assert_matches(func, buf, reference(func, orig.astype(np.float64)), np.float64)
    # big-endian input whose memory is out's memory read as native
    xb = data((6, 9), np.float64, seed=40).astype(">f8")
    orig = xb.astype("<f8")
    out = xb.view(np.float64)
    assert f(xb, -1, out=out) is out
    assert_matches(func, out, reference(func, orig), np.float64)


def test_out_must_be_keyword():
    x = np.ones(4)
    with pytest.raises(TypeError):
        fs.softmax(x, -1, np.empty(4))
    with pytest.raises(TypeError):
        fs.logsumexp(x, -1, False)


# --------------------------------------------------------------------------------------------------
# No hidden full-size copies: a C- or Fortran-contiguous float32/float64 input is read in place along
# any axis, so the only full-size allocation is the result (NumPy reports its allocations to
# tracemalloc).

@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1, (1, 2), (0, 1)])
@pytest.mark.parametrize("order", ["C", "F"])
def test_no_full_size_copy(func, axis, order):
    import tracemalloc

    x = np.asarray(np.random.default_rng(0).standard_normal((40, 50, 60)), order=order).astype(
        np.float32, order=order)
    f = getattr(fs, func)
    f(x, axis)  # warm up (first-call allocations)
    tracemalloc.start()
    try:
        y = f(x, axis)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result_bytes = np.asarray(y).nbytes
    assert peak < result_bytes + x.nbytes // 4, (peak, result_bytes, x.nbytes)
