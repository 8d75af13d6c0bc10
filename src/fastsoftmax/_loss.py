"""Cross-entropy: argument checks and reductions in Python, per-sample losses and gradients in C.

The logits are handed to the C core as the same (outer, n, inner) view the softmax family uses (classes
on the middle axis, no copy for any layout _api._plan can view); class-index targets, per-sample losses
and the gradient follow the same axis order.  Reductions sum the per-sample losses in float64.
"""
import math
import operator

import numpy as np

from . import _core
from ._api import _axes, _finish, _plan, _prepare_input, _view3

_REDUCTIONS = ("none", "sum", "mean")
_INT64 = np.iinfo(np.int64)


def _check_options(reduction, label_smoothing, fname):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                         f"got {reduction!r}")
    try:
        eps = float(label_smoothing)
    except (TypeError, ValueError):
        raise TypeError(f"{fname}: label_smoothing must be a real number") from None
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{fname}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    return eps


def _class_axis(axis, ndim, fname):
    if ndim == 0:
        raise ValueError(f"{fname}: logits must have at least one dimension (the classes)")
    if isinstance(axis, tuple) or axis is None:
        raise TypeError(f"{fname}: axis must be an integer (the class axis), got {axis!r}")
    return _axes(operator.index(axis), ndim)[0]


def _targets(target, shape, axis, fname):
    """(class indices as int64, None) or (None, probabilities), shape-checked."""
    t = np.asarray(target)
    sample_shape = shape[:axis] + shape[axis + 1:]
    if t.dtype.kind in "iu":
        if t.shape != sample_shape:
            raise ValueError(f"{fname}: class-index target has shape {t.shape}, expected {sample_shape} "
                             f"(the logits' shape {shape} without axis {axis})")
        if t.dtype.kind == "u" and t.size and t.max() > _INT64.max:  # beyond int64: out of range
            pos = np.unravel_index(int(np.argmax(t > _INT64.max)), t.shape)
            raise IndexError(f"{fname}: target {int(t[pos])} at position "
                             f"{pos[0] if len(pos) == 1 else tuple(int(i) for i in pos)} is not a class index")
        return t.astype(np.int64, copy=False), None
    if t.dtype.kind == "f":
        if t.shape != shape:
            hint = (" (float targets are probabilities; pass class indices as integers)"
                    if t.shape == sample_shape else "")
            raise ValueError(f"{fname}: probability target has shape {t.shape}, expected the logits' "
                             f"shape {shape}{hint}")
        return None, t
    raise TypeError(f"{fname}: target must be integer class indices or floating probabilities, "
                    f"not {t.dtype}")


def _raise_if_bad(t, n, ignore_index, fname):
    """IndexError naming the first class index outside [0, n) that is not ignore_index, if any."""
    bad = (t < 0) | (t >= n)
    if ignore_index is not None:
        bad &= t != ignore_index
    if not bad.any():
        return
    pos = np.unravel_index(int(np.flatnonzero(bad)[0]), t.shape) if t.ndim else ()
    pos = int(pos[0]) if len(pos) == 1 else tuple(int(i) for i in pos)
    raise IndexError(f"{fname}: target {int(t[bad][0])} at position {pos} is not a class index in [0, {n})"
                     + ("" if ignore_index is None else f" nor ignore_index ({ignore_index})"))


_PLAIN = (np.dtype(np.float32), np.dtype(np.float64))


def _fast(logits, target, axis, reduction, eps, grad):
    """The common call without Python-level normalisation, or None: C-contiguous native float32/64
    logits with classes last, C-contiguous int64 class indices, no weight or ignore_index."""
    if type(logits) is not np.ndarray or type(target) is not np.ndarray or logits.dtype not in _PLAIN:
        return None
    nd = logits.ndim
    if (nd == 0 or (axis != -1 and axis != nd - 1) or not logits.flags.c_contiguous or not logits.flags.aligned
            or target.dtype != np.int64 or not target.flags.c_contiguous or not target.flags.aligned
            or target.shape != logits.shape[:-1] or logits.size == 0):
        return None
    n = logits.shape[-1]
    samples = target.size
    loss = np.empty(target.shape, dtype=logits.dtype)
    g = _core.empty_like(logits) if grad else None
    scale = 1.0 / samples if reduction == "mean" else 1.0
    if _core.cross_entropy(logits.reshape(samples, n, 1), target.reshape(samples, 1), None, None, None, eps,
                           loss.reshape(samples, 1), None if g is None else g.reshape(samples, n, 1),
                           scale) >= 0:
        _raise_if_bad(target, n, None, "cross_entropy_with_grad" if grad else "cross_entropy")
    if reduction != "none":
        total = np.add.reduce(loss, axis=None, dtype=np.float64)
        loss = logits.dtype.type(total / samples if reduction == "mean" else total)
    return (loss, g) if grad else loss


def _cross_entropy(logits, target, axis, reduction, weight, ignore_index, label_smoothing, grad, fname):
    eps = _check_options(reduction, label_smoothing, fname)
    if weight is None and ignore_index is None:
        r = _fast(logits, target, axis, reduction, eps, grad)
        if r is not None:
            return r
    a, rdtype = _prepare_input(logits, fname)
    ax = _class_axis(axis, a.ndim, fname)
    n = a.shape[ax]
    hard, prob = _targets(target, a.shape, ax, fname)
    if prob is not None and n == 0:
        raise ValueError(f"{fname}: logits have no classes (axis {ax} has length 0)")
    if ignore_index is not None:
        if prob is not None:
            raise ValueError(f"{fname}: ignore_index applies to class-index targets only")
        ignore_index = operator.index(ignore_index)
        if not _INT64.min < ignore_index <= _INT64.max:  # INT64_MIN is the C core's "ignore nothing"
            raise ValueError(f"{fname}: ignore_index must be in ({_INT64.min}, {_INT64.max}], got {ignore_index}")
    w = None
    if weight is not None:
        w = np.ascontiguousarray(weight, dtype=a.dtype)
        if w.shape != (n,):
            raise ValueError(f"{fname}: weight must have shape ({n},) (one per class), got {w.shape}")

    perm, shape3, x3 = _plan(a, (ax,))
    outer, _, inner = shape3
    sperm = [p - (p > ax) for p in perm if p != ax]  # the sample axes, in the order of the 3-D view
    t2 = p3 = None
    if hard is not None:
        t2 = hard.transpose(sperm).reshape(outer, inner)
        if reduction != "mean":
            denom = None
        elif ignore_index is None and w is None:
            denom = hard.size
        else:  # the weights of the counted samples (their indices checked first)
            _raise_if_bad(hard, n, ignore_index, fname)
            counted = hard if ignore_index is None else hard[hard != ignore_index]
            denom = counted.size if w is None else float(np.sum(w[counted], dtype=np.float64))
    else:
        p, _ = _prepare_input(prob, fname)
        p = p.astype(a.dtype, copy=False)
        p3 = _view3(p, perm, shape3)
        if p3 is None:
            p3 = np.ascontiguousarray(p.transpose(perm)).reshape(shape3)
        denom = outer * inner

    grad_scale = 1.0
    if reduction == "mean":
        grad_scale = 1.0 / denom if denom else 0.0
        if not math.isfinite(grad_scale):
            grad_scale = 0.0
    loss2 = np.empty((outer, inner), dtype=a.dtype)
    g3 = _core.empty(shape3, a.dtype) if grad else None
    if loss2.size:
        if _core.cross_entropy(x3, t2, p3, w, ignore_index, eps, loss2, g3, grad_scale) >= 0:
            _raise_if_bad(hard, n, ignore_index, fname)  # the C core found one; name the first
            raise IndexError(f"{fname}: a target is not a class index in [0, {n})")

    sample_shape = a.shape[:ax] + a.shape[ax + 1:]
    losses = loss2.reshape([sample_shape[p] for p in sperm]).transpose(np.argsort(sperm))
    if reduction == "none":
        result = losses.astype(rdtype, copy=False)
    else:
        total = np.sum(losses, dtype=np.float64)
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                total = total / np.float64(denom)
        result = rdtype.type(total)
    if not grad:
        return result
    return result, _finish(g3, perm, a.shape, None, rdtype)


def cross_entropy(logits, target, *, axis=-1, reduction="mean", weight=None, ignore_index=None,
                  label_smoothing=0.0):
    """Cross-entropy between softmax(logits) and the target, fused: no probabilities are formed.

    Parameters
    ----------
    logits : array_like
        float32 or float64 (float16 is computed in float32; integers and bool in float64), any layout.
    target : array_like
        Either integer class indices, shaped like ``logits`` without ``axis``, or probabilities (a
        floating array shaped like ``logits``: soft labels, used as given, as PyTorch does).
    axis : int, default -1
        The class axis (PyTorch's is 1).
    reduction : {"mean", "sum", "none"}
        "none" returns the per-sample losses (shaped like ``logits`` without ``axis``); "sum" and
        "mean" a NumPy scalar of the logits' dtype.  "mean" divides by the number of samples, except
        with class-index targets and ``weight``, where it divides by the sum of ``weight[target]`` over
        the samples counted (as PyTorch); if every sample is ignored, "mean" is NaN (as PyTorch).
    weight : array_like, optional
        Per-class weights, shape (C,).
    ignore_index : int, optional
        Class-index targets equal to it contribute 0 and are not counted.  None (the default) ignores
        nothing, so a target of -100 is out of range.  Not allowed with probability targets.
    label_smoothing : float in [0, 1]
        PyTorch's: the target becomes (1 - label_smoothing) * target + label_smoothing / C.

    Returns
    -------
    The loss.  Per sample it is -sum_c weight_c * target_c * log_softmax(logits)_c, each term with
    target_c == 0 exactly 0 (as scipy.special.xlogy) even where log_softmax is -inf; log_softmax's
    special-value rules apply (a NaN logit gives NaN).  Each per-sample loss is within log_softmax's
    error bound plus one rounding per weight and division; the sum is taken in float64.

    Raises
    ------
    IndexError
        A class index outside [0, C) that is not ``ignore_index`` (the message gives its position).
    ValueError
        Shapes that do not match, a bad ``reduction``, ``label_smoothing`` or ``weight``.
    """
    return _cross_entropy(logits, target, axis, reduction, weight, ignore_index, label_smoothing, False,
                          "cross_entropy")


def cross_entropy_with_grad(logits, target, *, axis=-1, reduction="mean", weight=None, ignore_index=None,
                            label_smoothing=0.0):
    """``(loss, dlogits)``: :func:`cross_entropy` and its gradient with respect to ``logits``, in one
    pass over each row.

    Arguments as for :func:`cross_entropy`.  ``dlogits`` has the logits' shape and dtype: per sample,
    ``sum(a) * softmax(logits) - a`` with ``a_c = weight_c * target_c`` (the smoothed target), divided by
    the "mean" denominator for reduction="mean".  For "none" it is the gradient of the sum of the
    per-sample losses.  Ignored samples get zero rows; if the "mean" denominator is 0 (every sample
    ignored, or weights summing to 0), the gradient is all zeros.
    """
    return _cross_entropy(logits, target, axis, reduction, weight, ignore_index, label_smoothing, True,
                          "cross_entropy_with_grad")
