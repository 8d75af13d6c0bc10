"""The Python layer: normalise dtype, axis, layout and ``out=``, then hand a 3-D view to the C core.

Every call reduces to one problem the C core knows: a strided view (outer, n, inner) reduced over its
middle dimension.  Finding that view without copying is the whole job here:

* the reduced axes must be adjacent; the array's axes may be taken in reverse order (so Fortran-ordered
  input becomes C-ordered) or with the reduced axes moved last;
* the merged dimensions must be expressible with one stride each (``reshape(..., copy=False)``).

Only when neither order allows that (reduced axes that are not adjacent in memory, or a sliced array
whose outer axes cannot merge) is the input copied.  Inputs whose dtype the kernels do not take
(integers, bool, float16), non-native byte order or misaligned data are converted first, since the
kernels cannot read them in place.
"""
import math
import operator

import numpy as np
from numpy.exceptions import AxisError
from numpy.lib.array_utils import normalize_axis_tuple

from . import _core

SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = _core.SOFTMAX, _core.LOG_SOFTMAX, _core.LOGSUMEXP
_NAMES = {SOFTMAX: "softmax", LOG_SOFTMAX: "log_softmax", LOGSUMEXP: "logsumexp"}


def _prepare_input(x, fname):
    """Return (array the kernels can read, result dtype)."""
    a = np.asarray(x)
    dt = a.dtype
    if dt.kind == "f":
        if dt.itemsize == 2:
            return a.astype(np.float32), np.dtype(np.float16)
        if dt.itemsize not in (4, 8):
            raise TypeError(
                f"{fname}: dtype {dt} is not supported (float16, float32 and float64 are; "
                f"converting {dt} would silently lose precision)"
            )
        result = dt.newbyteorder("=")
    elif dt.kind in "biu":
        return a.astype(np.float64), np.dtype(np.float64)
    else:
        raise TypeError(
            f"{fname}: dtype {dt} is not supported; expected a real floating, integer or bool array"
        )
    item = dt.itemsize
    if not dt.isnative:
        a = a.astype(result)
    elif not a.flags.aligned or any(s % item for s in a.strides):
        a = a.copy()
    return a, result


def _axes(axis, ndim):
    """The sorted tuple of reduced axes (AxisError if out of range, ValueError if repeated)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int:
        if not -ndim <= axis < ndim:
            raise AxisError(axis, ndim)
        return (axis % ndim,)
    if not isinstance(axis, tuple):
        axis = operator.index(axis)
    return tuple(sorted(normalize_axis_tuple(axis, ndim)))


def _layouts(ndim, axes):
    """Axis permutations to try, best first: as is, reversed, reduced axes last."""
    ident = tuple(range(ndim))
    moved = tuple(a for a in ident if a not in axes) + axes
    seen = []
    for perm in (ident, ident[::-1], moved):
        if perm not in seen:
            seen.append(perm)
    return seen


def _shape3(shape, perm, axes):
    """(outer, n, inner) of the array transposed by perm, or None if the reduced axes are not adjacent."""
    pos = sorted(perm.index(a) for a in axes)
    tshape = [shape[p] for p in perm]
    if not pos:  # nothing reduced: every element is its own slice
        return (math.prod(tshape), 1, 1)
    if pos[-1] - pos[0] + 1 != len(pos):
        return None
    return (math.prod(tshape[: pos[0]]), math.prod(tshape[pos[0] : pos[-1] + 1]),
            math.prod(tshape[pos[-1] + 1 :]))


def _view3(a, perm, shape3):
    """a.transpose(perm) as a 3-D view of shape3, or None if that needs a copy."""
    if perm != tuple(range(a.ndim)):
        a = a.transpose(perm)
    try:
        return a.reshape(shape3, copy=False)
    except ValueError:
        return None


def _plan(a, axes):
    """Choose (perm, shape3, x3) with x3 a view of a if any layout allows, else a copy."""
    for perm in _layouts(a.ndim, axes):
        shape3 = _shape3(a.shape, perm, axes)
        if shape3 is not None:
            x3 = _view3(a, perm, shape3)
            if x3 is not None:
                return perm, shape3, x3
    # perm is now the "reduced axes last" layout, whose shape3 always exists
    return perm, shape3, np.ascontiguousarray(a.transpose(perm)).reshape(shape3)


def _check_out(out, shape, dtype, fname):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: out must be a numpy.ndarray, not {type(out).__name__}")
    if out.dtype != dtype:
        raise TypeError(f"{fname}: out has dtype {out.dtype}, expected {dtype}")
    if out.shape != shape:
        raise ValueError(f"{fname}: out has shape {out.shape}, expected {shape}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: out is read-only")


def _check_scale(scale, dtype, fname):
    """scale rounded to dtype; ValueError unless finite and > 0 (after rounding)."""
    if isinstance(scale, (str, bytes)) or np.ndim(scale) != 0:
        raise TypeError(f"{fname}: scale must be a real number, not {type(scale).__name__}")
    try:
        value = float(scale)
    except (TypeError, ValueError):
        raise TypeError(f"{fname}: scale must be a real number, not {type(scale).__name__}") from None
    with np.errstate(over="ignore", under="ignore"):
        rounded = dtype.type(value)
    if not (math.isfinite(rounded) and rounded > 0):
        raise ValueError(f"{fname}: scale must be finite and > 0 in {dtype}, got {scale!r}")
    return rounded


def _check_where(where, shape, fname):
    """The mask broadcast (as a view, never copied) to shape."""
    m = np.asarray(where)
    if m.dtype != np.bool_:
        raise TypeError(f"{fname}: where must be a boolean array, not {m.dtype}")
    try:
        return np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(f"{fname}: where of shape {m.shape} does not broadcast to {shape}") from None


def _mask_blocks(mask, perm, lead, shape3, x3, y3):
    """Yield (x block, y block, mask block) 3-D views covering the problem.

    The broadcast mask, transposed like x, is viewed as (outer, n, inner) when its strides allow.  When
    not (e.g. a (S, S) mask under (B, H, S, S) scores), the first k outer axes (the `lead` axes before
    the reduced ones), or else the first k inner axes, are looped over here, with the fewest blocks
    that make the rest a view, so the mask is never expanded.  Only if neither works (reduced axes of
    the mask that cannot merge) is one block of it at a time copied."""
    mt = mask.transpose(perm)
    whole = _view3(mt, tuple(range(mt.ndim)), shape3)
    if whole is not None:
        yield x3, y3, whole
        return
    tshape = mt.shape
    first = lead + 1
    while first < len(tshape) and math.prod(tshape[lead:first]) != shape3[1]:
        first += 1  # tshape[lead:first] are the reduced axes, tshape[first:] the inner ones
    for k in range(1, lead + 1):  # blocks over leading outer axes
        nblk = math.prod(tshape[:k])
        sub = (shape3[0] // nblk, shape3[1], shape3[2])
        if k < lead and _view3(mt[(0,) * k], tuple(range(mt.ndim - k)), sub) is None:
            continue
        x4, y4 = x3.reshape((nblk,) + sub), y3.reshape((nblk, sub[0], y3.shape[1], sub[2]))
        for j in range(nblk):
            blk = mt[np.unravel_index(j, tshape[:k])]
            mv = _view3(blk, tuple(range(blk.ndim)), sub)
            yield x4[j], y4[j], mv if mv is not None else np.ascontiguousarray(blk).reshape(sub)
        return
    inner = tshape[first:]
    for k in range(1, len(inner) + 1):  # no outer axes: blocks over leading inner axes
        nblk = math.prod(inner[:k])
        sub = (shape3[0], shape3[1], shape3[2] // nblk)
        index = (slice(None),) * first
        if _view3(mt[index + (0,) * k], tuple(range(mt.ndim - k)), sub) is None and k < len(inner):
            continue
        x4 = x3.reshape(shape3[:2] + (nblk, sub[2]))
        y4 = y3.reshape((shape3[0], y3.shape[1], nblk, sub[2]))
        for j in range(nblk):
            blk = mt[index + np.unravel_index(j, inner[:k])]
            mv = _view3(blk, tuple(range(blk.ndim)), sub)
            yield x4[:, :, j], y4[:, :, j], mv if mv is not None else np.ascontiguousarray(blk).reshape(sub)
        return
    yield x3, y3, np.ascontiguousarray(mt).reshape(shape3)  # a single slice-block


def _apply(op, x, axis, out, keepdims=False, where=None, scale=1.0):
    fname = _NAMES[op]
    a, rdtype = _prepare_input(x, fname)
    axes = _axes(axis, a.ndim)
    options = where is not None or not (type(scale) in (int, float) and scale == 1)
    if options:  # scale is rounded to the caller's dtype (float16 too), then held in the kernels' dtype
        scale = a.dtype.type(_check_scale(scale, rdtype if rdtype.kind == "f" else a.dtype, fname))
        mask = _check_where(where, a.shape, fname) if where is not None else None
    keep_shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape))
    if op == LOGSUMEXP:
        rshape = keep_shape if keepdims else tuple(s for i, s in enumerate(a.shape) if i not in axes)
    else:
        rshape = a.shape
    if out is not None:
        _check_out(out, rshape, rdtype, fname)

    perm, shape3, x3 = _plan(a, axes)
    n3 = 1 if op == LOGSUMEXP else shape3[1]
    y_shape3 = (shape3[0], n3, shape3[2])
    # The result viewed in the keepdims shape (where logsumexp's reduced axes have length 1).
    full_shape = keep_shape if op == LOGSUMEXP else a.shape

    y3 = None
    if out is not None and rdtype == a.dtype:
        target = out.reshape(full_shape) if op == LOGSUMEXP and not keepdims else out
        y3 = _view3(target, perm, y_shape3)
        if y3 is not None and np.may_share_memory(a, out) and not _core.same_view(x3, y3):
            y3 = None  # overlap other than in place: compute into a fresh array, then copy
        if y3 is not None and options and mask is not None and np.may_share_memory(mask, out):
            y3 = None
    if y3 is None:
        y3 = _core.empty(y_shape3, a.dtype)

    if not y3.size:
        pass
    elif options:
        if mask is None:
            _core.run_ex(op, x3, y3, None, scale)
        else:
            lead = min((perm.index(i) for i in axes), default=len(perm))
            for xb, yb, mb in _mask_blocks(mask, perm, lead, shape3, x3, y3):
                if yb.size:
                    _core.run_ex(op, xb, yb, mb, scale)
    elif x3.size:
        _core.run(op, x3, y3)
    else:  # logsumexp over a size-0 axis
        y3.fill(-np.inf)
    return _finish(y3, perm, full_shape, out, rdtype, rshape if op == LOGSUMEXP and not keepdims else None)


def _finish(y3, perm, full_shape, out, rdtype, reshape_to=None):
    """The computed 3-D result as the caller's array: transposed back to the caller's axis order,
    reshaped (logsumexp without keepdims), converted to the result dtype, or copied into out."""
    tshape = tuple(full_shape[p] for p in perm)
    result = y3.reshape(tshape)
    if perm != tuple(range(len(perm))):
        result = result.transpose([perm.index(i) for i in range(len(perm))])
    if reshape_to is not None:
        result = result.reshape(reshape_to)
    if out is not None:
        if not _core.same_view(result, out):
            with np.errstate(over="ignore"):  # float16: an overflow to inf is the right answer
                np.copyto(out, result, casting="unsafe")
        return out
    if result.dtype != rdtype:
        with np.errstate(over="ignore"):
            result = result.astype(rdtype)
    if reshape_to is not None and result.ndim == 0:
        return result[()]
    return result


# ---------------------------------------------------------------------------------------------------
# Backward passes and the elementwise sigmoid family


def _backward(log, dy, y, axis, out, fname):
    dy_a, rdtype = _prepare_input(dy, fname)
    y_a, ydtype = _prepare_input(y, fname)
    if dy_a.shape != y_a.shape:
        raise ValueError(f"{fname}: dy has shape {dy_a.shape} but y has shape {y_a.shape}")
    rdtype = np.result_type(rdtype, ydtype)
    work = np.result_type(dy_a.dtype, y_a.dtype)
    dy_a = dy_a.astype(work, copy=False)
    y_a = y_a.astype(work, copy=False)
    axes = _axes(axis, dy_a.ndim)
    if out is not None:
        _check_out(out, dy_a.shape, rdtype, fname)
    perm, shape3, dy3 = _plan(dy_a, axes)
    y3 = _view3(y_a, perm, shape3)
    if y3 is None:
        y3 = np.ascontiguousarray(y_a.transpose(perm)).reshape(shape3)
    dx3 = None
    if out is not None and rdtype == work:
        dx3 = _view3(out, perm, shape3)
        if dx3 is not None:
            for src, src3 in ((dy_a, dy3), (y_a, y3)):
                if np.may_share_memory(src, out) and not _core.same_view(src3, dx3):
                    dx3 = None
                    break
    if dx3 is None:
        dx3 = _core.empty(shape3, work)
    if dx3.size:
        _core.backward(log, dy3, y3, dx3)
    return _finish(dx3, perm, dy_a.shape, out, rdtype)


def _elementwise(log, x, out, fname):
    a, rdtype = _prepare_input(x, fname)
    if out is not None:
        _check_out(out, a.shape, rdtype, fname)
    if a.flags.c_contiguous or a.flags.f_contiguous:
        flat = a.ravel(order="K")  # a view: memory order
        if out is not None and rdtype == a.dtype and (
                (a.flags.c_contiguous and out.flags.c_contiguous)
                or (a.flags.f_contiguous and out.flags.f_contiguous)) and (
                not np.may_share_memory(a, out) or _core.same_view(a, out)):
            _core.elementwise(log, flat, out.ravel(order="K"))
            return out
        y = _core.empty_like(a)
        _core.elementwise(log, flat, y.ravel(order="K"))
    else:
        # Strided input: NumPy's iterator hands over buffer-sized pieces (never a full-size copy).
        y = _core.empty_like(a)
        it = np.nditer([a, y], flags=["external_loop", "buffered", "zerosize_ok"],
                       op_flags=[["readonly"], ["writeonly"]], buffersize=1 << 13, order="K")
        with it:
            for xb, yb in it:
                xc = np.ascontiguousarray(xb)
                yc = yb if yb.flags.c_contiguous else np.empty_like(xc)
                _core.elementwise(log, xc, yc)
                if yc is not yb:
                    yb[...] = yc
    if out is not None:
        with np.errstate(over="ignore"):
            np.copyto(out, y, casting="unsafe")
        return out
    if y.dtype != rdtype:
        y = y.astype(rdtype)
    return y[()] if y.ndim == 0 else y
