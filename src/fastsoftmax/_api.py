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


def _apply(op, x, axis, out, keepdims=False):
    fname = _NAMES[op]
    a, rdtype = _prepare_input(x, fname)
    axes = _axes(axis, a.ndim)
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
    if y3 is None:
        y3 = np.empty(y_shape3, dtype=a.dtype)

    if x3.size and y3.size:
        _core.run(op, x3, y3)
    elif y3.size:  # logsumexp over a size-0 axis
        y3.fill(-np.inf)

    # The computed values as an array of the keepdims shape, in the caller's axis order.
    tshape = tuple(full_shape[p] for p in perm)
    result = y3.reshape(tshape)
    if perm != tuple(range(len(perm))):
        result = result.transpose([perm.index(i) for i in range(len(perm))])
    if op == LOGSUMEXP and not keepdims:
        result = result.reshape(rshape)
    if out is not None:
        if not _core.same_view(result, out):
            with np.errstate(over="ignore"):  # float16: an overflow to inf is the right answer
                np.copyto(out, result, casting="unsafe")
        return out
    if result.dtype != rdtype:
        with np.errstate(over="ignore"):
            result = result.astype(rdtype)
    if op == LOGSUMEXP and result.ndim == 0:
        return result[()]
    return result
