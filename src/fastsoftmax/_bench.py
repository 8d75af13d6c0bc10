"""Benchmark engine for fastsoftmax.

Used by ``python -m fastsoftmax`` (the "main job" and ``bench`` sub-command)
and by the pytest-benchmark suites under ``bench/``.  Only numpy and the
standard library are required; the peers (scipy, torch, onnxruntime) are
detected by import and left out when they are not installed.  Nothing is ever
faked: a peer that cannot be imported, cannot run a case, or gives a wrong
result is dropped for that case and the reason is reported.

Timing method
-------------
For one (case, dtype, function, thread count) "unit":

* every contender is built once (input tensors / ONNX sessions / output
  buffers are made outside the timed region) and called once to warm up;
  that first result is checked against a hand-written NumPy reference
  (fastsoftmax failing the check is an error, never benchmarked silently);
* a number of inner loops is chosen per contender so that one *sample*
  takes at least ``sample_ns`` (2 ms by default); a tiny call such as the
  (10,) case therefore makes thousands of calls per sample;
* samples are taken round-robin over the contenders (the order rotates each
  round) so that machine noise hits all of them alike, until ``repeats``
  rounds are done or the time budget of the unit is spent (at least
  ``MIN_ROUNDS`` rounds are always taken); ONNX Runtime runs without
  spin-waiting (see OnnxRuntimePeer.prepare): its spinning idle workers
  take the cores the next contender's threads need;
* the reported time is the median over samples of the time per call.

Metrics
-------
``GB/s = (bytes read once + bytes written once) / time`` where bytes read is
the input size and bytes written is the result size (the input size for
softmax and log_softmax, the reduced size for logsumexp).  The roof is a
preallocated ``np.copyto(dst, src)`` of the input, whose bandwidth counts the
read and the write of the input bytes; "% of copy" is fastsoftmax's GB/s over
the copy's GB/s.  A speed ratio is ``peer_time / fastsoftmax_time`` (above 1
means fastsoftmax is faster).

Functions
---------
``FUNCTIONS`` (softmax, log_softmax, logsumexp) run by default; the others
(``EXTRA_FUNCTIONS``) run when named, each by default on its own cases
(``FUNCTION_CASES``):

* ``cross_entropy``: mean reduction, int64 class targets
  (``default_rng(1).integers``); peers: NumPy ``mean(logsumexp(x) -
  x[target])`` written with the max shift, ``torch.nn.functional.cross_entropy``
  (class axis moved to dim 1 by a view when needed) and ONNX Runtime's
  SoftmaxCrossEntropyLoss (classes on axis 1 only);
* ``cross_entropy_with_grad``: the loss and d(loss)/d(logits); peers: NumPy
  forward + ``(softmax - onehot) / N``, and torch forward + ``backward()``
  through autograd on a leaf tensor (both passes timed on every call; the
  gradient is reset each call, so both sides allocate a fresh one);
* ``sigmoid`` / ``log_sigmoid`` (elementwise; the case's axis is ignored):
  peers: the stable NumPy formulas, ``scipy.special.expit`` / ``log_expit``,
  ``torch.sigmoid`` / ``torch.nn.functional.logsigmoid``, ONNX Runtime's
  Sigmoid (there is no LogSigmoid op);
* ``softmax_backward`` / ``log_softmax_backward``: from ``dy`` (standard
  normal, ``default_rng(2)``) and the forward output ``y`` of the case's input;
  peers: NumPy formulas and ``torch._softmax_backward_data`` /
  ``_log_softmax_backward_data`` (autograd when those are missing).

For these, bytes read counts every input (logits + targets; dy + y) and bytes
written every result (loss + gradient); the roof still copies the case's input
(the logits; for the backward functions one of dy and y).
"""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import math
import operator
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

import fastsoftmax as fs

__all__ = [
    "Case", "CASES", "DEFAULT_CASES", "MAIN_JOB_CASES", "FUNCTIONS", "PEERS",
    "EXTRA_FUNCTIONS", "ALL_FUNCTIONS", "FUNCTION_CASES", "default_cases",
    "Operands", "make_operands", "unit_unsupported",
    "Contender", "get_contender", "all_contenders", "make_input",
    "reference", "check_result", "result_nbytes", "case_label",
    "select_cases", "parse_case", "run_unit", "run_suite", "UnitResult",
    "format_tables", "machine_info", "versions", "write_json", "plot",
    "BenchError",
]

FUNCTIONS = ("softmax", "log_softmax", "logsumexp")   # the default set
EXTRA_FUNCTIONS = ("cross_entropy", "cross_entropy_with_grad", "sigmoid", "log_sigmoid",
                   "softmax_backward", "log_softmax_backward")
ALL_FUNCTIONS = FUNCTIONS + EXTRA_FUNCTIONS
ELEMENTWISE = ("sigmoid", "log_sigmoid")
FUNCTION_TITLES = {
    "cross_entropy": "cross_entropy (mean, int64 targets)",
    "cross_entropy_with_grad": "cross_entropy_with_grad (mean, int64 targets; loss + dlogits)",
    "softmax_backward": "softmax_backward (dy, y -> dx)",
    "log_softmax_backward": "log_softmax_backward (dy, y -> dx)",
}
PEERS = ("numpy", "scipy", "torch", "onnxruntime")
FASTSOFTMAX = "fastsoftmax"
ROOF = "copy"

MIN_ROUNDS = 3           # always take at least this many samples per contender
DEFAULT_REPEATS = 7      # samples per contender (the median is taken over them)
DEFAULT_SAMPLE_MS = 2.0  # minimum duration of one sample
DEFAULT_BUDGET_S = 10.0  # time budget for one unit (case x function x threads)


class BenchError(RuntimeError):
    """fastsoftmax itself failed (error or wrong result) on a case."""


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    name: str
    shape: Tuple[int, ...]
    axis: Any = -1
    dtype: str = "float32"
    large: bool = False
    note: str = ""
    default: bool = True  # False: in no function's default list unless FUNCTION_CASES names it

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


CASES: Dict[str, Case] = {c.name: c for c in [
    Case("65536x10", (65536, 10), note="many tiny rows"),
    Case("4096x1000", (4096, 1000), note="classifier logits"),
    Case("64x32000", (64, 32000), note="LM vocabulary logits"),
    Case("1x1048576", (1, 1048576), note="one huge row"),
    Case("512x2048", (512, 2048), note="attention scores"),
    Case("4096x32768", (4096, 32768), large=True,
         note="512 MiB, out of cache; ~5 GiB RAM with all peers, minutes"),
    Case("1000x256-axis0", (1000, 256), axis=0, note="reduction over axis 0"),
    Case("256x10x512-axis1", (256, 10, 512), axis=1, note="a short middle axis (10 entries)"),
    Case("4096x1000-f64", (4096, 1000), dtype="float64", note="float64"),
    Case("10", (10,), note="one tiny call: call overhead"),
    Case("1048576", (1048576,), default=False, note="1M elements (sigmoid, log_sigmoid)"),
]}

DEFAULT_CASES = [n for n, c in CASES.items() if not c.large and c.default]
MAIN_JOB_CASES = ["65536x10", "4096x1000", "64x32000", "1000x256-axis0", "10"]

# Default cases per function (when no case is named); every function not
# listed runs DEFAULT_CASES.  Kept short: a handful of units per function.
_LOSS_CASES = ["4096x1000", "64x32000", "65536x10"]
FUNCTION_CASES: Dict[str, List[str]] = {
    "cross_entropy": _LOSS_CASES,
    "cross_entropy_with_grad": _LOSS_CASES,
    "sigmoid": ["1048576", "4096x1000", "10"],
    "log_sigmoid": ["1048576", "4096x1000", "10"],
    "softmax_backward": _LOSS_CASES,
    "log_softmax_backward": _LOSS_CASES,
}


def parse_case(spec: str) -> Case:
    """A case by name, or an ad-hoc one written ``AxBxC`` or ``AxB@axis``
    (e.g. ``2048x512``, ``1000x256@0``, ``64x64x64@0+2`` for a tuple of axes,
    ``100x100@none`` for all axes)."""
    spec = spec.strip()
    if spec in CASES:
        return CASES[spec]
    body, _, ax = spec.partition("@")
    try:
        shape = tuple(int(p) for p in body.lower().split("x"))
        if not shape or any(d <= 0 for d in shape):
            raise ValueError
        if ax == "":
            axis: Any = -1
        elif ax.lower() == "none":
            axis = None
        elif "+" in ax:
            axis = tuple(int(a) for a in ax.split("+"))
        else:
            axis = int(ax)
    except ValueError:
        raise ValueError(
            f"unknown case {spec!r}: use one of {', '.join(CASES)} "
            "or a shape such as 2048x512, 1000x256@0, 64x64x64@0+2") from None
    return Case(spec, shape, axis)


def select_cases(names: Optional[Iterable[str]] = None, include_large: bool = False
                 ) -> List[Case]:
    """Cases by name (ad-hoc shapes allowed); default: every case, without
    the large one unless ``include_large``."""
    if names is None:
        return [c for c in CASES.values() if c.default and (include_large or not c.large)]
    out: List[Case] = []
    for n in names:
        c = parse_case(n)
        if c not in out:
            out.append(c)
    if include_large:
        for c in CASES.values():
            if c.large and c not in out:
                out.append(c)
    return out


def default_cases(function: str, include_large: bool = False) -> List[Case]:
    """The cases ``function`` runs when none is named: ``FUNCTION_CASES`` or
    DEFAULT_CASES, plus the large case(s) when ``include_large``."""
    if function not in ALL_FUNCTIONS:
        raise ValueError(f"unknown function {function!r}; known: {', '.join(ALL_FUNCTIONS)}")
    if function not in FUNCTION_CASES:
        return select_cases(None, include_large)
    return select_cases(FUNCTION_CASES[function], include_large)


def unit_unsupported(function: str, case: Case) -> Optional[str]:
    """Why fastsoftmax's ``function`` cannot run ``case`` (then the unit is
    skipped, not an error), else None."""
    if function.startswith("cross_entropy") and not isinstance(case.axis, int):
        return f"{function} takes one int class axis, not axis={case.axis!r}"
    return None


def case_units(cases: Sequence[Case], dtypes: Optional[Sequence[str]] = None
               ) -> List[Tuple[Case, str]]:
    """(case, dtype) pairs: each case in its own dtype, or in each of
    ``dtypes`` when given; identical (shape, axis, dtype) pairs run once."""
    seen = set()
    out = []
    for c in cases:
        for dt in (dtypes or [c.dtype]):
            dt = np.dtype(dt).name
            key = (c.shape, c.axis, dt)
            if key in seen:
                continue
            seen.add(key)
            out.append((c, dt))
    return out


def case_label(case: Case, dtype: Optional[str] = None) -> str:
    shape = "(" + ",".join(str(d) for d in case.shape) + ("," if len(case.shape) == 1 else "") + ")"
    s = shape
    if case.axis != -1:
        s += f" axis={case.axis}"
    if dtype is not None:
        s += f" {dtype}"
    return s


def make_input(case: Case, dtype: Optional[str] = None) -> np.ndarray:
    """``default_rng(0).standard_normal(shape) * 4`` in the dtype."""
    dt = np.dtype(dtype or case.dtype)
    rng = np.random.default_rng(0)
    if dt in (np.float32, np.float64):
        x = rng.standard_normal(case.shape, dtype=dt)
        x *= 4
        return x
    return (rng.standard_normal(case.shape) * 4).astype(dt)


# --------------------------------------------------------------------------
# Reference formulas (also the "numpy" peer)
# --------------------------------------------------------------------------

def _as_float(y: np.ndarray) -> np.ndarray:
    return y if y.dtype.kind in "fc" else y.astype(np.float64)


def _squeeze(r: np.ndarray, axis: Any, ndim: int) -> np.ndarray:
    if axis is None:
        return r.reshape(())
    return np.squeeze(r, axis=axis)


def np_softmax(x, axis=-1, out=None):
    m = x.max(axis=axis, keepdims=True)
    if out is None:
        e = np.exp(_as_float(x - m))
    else:
        e = np.exp(np.subtract(x, m, out=out), out=out)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def np_log_softmax(x, axis=-1, out=None, scratch=None):
    m = x.max(axis=axis, keepdims=True)
    if out is None:
        y = _as_float(x - m)
        e = np.exp(y)
    else:
        y = np.subtract(x, m, out=out)
        e = np.exp(y, out=scratch)
    y -= np.log(e.sum(axis=axis, keepdims=True))
    return y


def np_logsumexp(x, axis=-1, out=None, scratch=None):
    m = x.max(axis=axis, keepdims=True)
    if scratch is None:
        e = np.exp(_as_float(x - m))
    else:
        e = np.exp(np.subtract(x, m, out=scratch), out=scratch)
    s = e.sum(axis=axis, keepdims=True)
    s = np.log(s, out=s)
    s += m
    r = _squeeze(s, axis, x.ndim)
    if out is None:
        return r
    np.copyto(out, r)
    return out


_NP_FUNCS = {"softmax": np_softmax, "log_softmax": np_log_softmax,
             "logsumexp": np_logsumexp}


def _class_axis(axis: Any, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"the class axis must be an int, not {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} out of range for {ndim} dimensions")
    return operator.index(axis) % ndim


def np_cross_entropy(x, target, axis=-1):
    """mean(logsumexp(x) - x[target]) with the max shift (NumPy by hand)."""
    m = x.max(axis=axis, keepdims=True)
    e = np.subtract(x, m)
    np.exp(e, out=e)
    s = e.sum(axis=axis, keepdims=True)
    np.log(s, out=s)
    s += m                                                     # logsumexp, keepdims
    s -= np.take_along_axis(x, np.expand_dims(target, axis), axis)
    return np.mean(s)


def np_cross_entropy_with_grad(x, target, axis=-1):
    """(mean loss, (softmax(x) - onehot(target)) / N) with the max shift."""
    m = x.max(axis=axis, keepdims=True)
    e = np.subtract(x, m)
    np.exp(e, out=e)
    s = e.sum(axis=axis, keepdims=True)
    idx = np.expand_dims(target, axis)
    loss = np.mean(np.log(s) + m - np.take_along_axis(x, idx, axis))
    e /= s                                                     # softmax
    np.put_along_axis(e, idx, np.take_along_axis(e, idx, axis) - 1, axis)
    e *= 1.0 / max(target.size, 1)
    return loss, e


def np_sigmoid(x):
    """1 / (1 + exp(-x)) from exp(-|x|): never overflows."""
    e = np.abs(_as_float(x))
    np.negative(e, out=e)
    np.exp(e, out=e)                                           # exp(-|x|)
    r = np.add(e, 1)
    np.divide(1, r, out=r)                                     # 1 / (1 + exp(-|x|))
    e *= r                                                     # exp(-|x|) / (1 + exp(-|x|))
    return np.where(x >= 0, r, e)


def np_log_sigmoid(x):
    """min(x, 0) - log1p(exp(-|x|))."""
    e = np.abs(_as_float(x))
    np.negative(e, out=e)
    np.exp(e, out=e)
    np.log1p(e, out=e)
    r = np.minimum(x, 0, dtype=e.dtype)
    r -= e
    return r


def np_softmax_backward(dy, y, axis=-1):
    """y * (dy - sum(dy * y, axis))."""
    g = np.multiply(dy, y)
    s = g.sum(axis=axis, keepdims=True)
    np.subtract(dy, s, out=g)
    g *= y
    return g


def np_log_softmax_backward(dy, y, axis=-1):
    """dy - exp(y) * sum(dy, axis)."""
    s = dy.sum(axis=axis, keepdims=True)
    g = np.exp(y)
    g *= s
    np.subtract(dy, g, out=g)
    return g


@dataclass
class Operands:
    """Everything one function reads for one case: ``x`` (the case's input:
    logits, or the forward input of the backward functions), ``axis``, and
    per function ``target`` (cross_entropy*) or ``dy`` and ``y`` (*_backward).
    ``inputs`` are the arrays the function reads (they count in GB/s)."""
    function: str
    x: np.ndarray
    axis: Any
    target: Optional[np.ndarray] = None
    dy: Optional[np.ndarray] = None
    y: Optional[np.ndarray] = None

    @property
    def inputs(self) -> Tuple[np.ndarray, ...]:
        if self.function.endswith("_backward"):
            return (self.dy, self.y)
        if self.target is not None:
            return (self.x, self.target)
        return (self.x,)

    @property
    def nbytes_read(self) -> int:
        return int(sum(a.nbytes for a in self.inputs))

    def astype(self, dtype: Any) -> "Operands":
        """The float inputs in ``dtype`` (the targets unchanged)."""
        def cv(a):
            return None if a is None else a.astype(dtype)
        return Operands(self.function, cv(self.x), self.axis, self.target, cv(self.dy), cv(self.y))


def make_operands(function: str, x: np.ndarray, axis: Any = -1) -> Operands:
    """The operands of ``function`` on the case input ``x`` (deterministic):
    int64 targets ``default_rng(1).integers(0, C)`` shaped like x without the
    class axis; ``dy = default_rng(2).standard_normal`` in x's dtype and ``y``
    the float64 forward result rounded to x's dtype."""
    if function in FUNCTIONS or function in ELEMENTWISE:
        return Operands(function, x, axis)
    if function.startswith("cross_entropy"):
        ax = _class_axis(axis, x.ndim)
        shape = x.shape[:ax] + x.shape[ax + 1:]
        t = np.random.default_rng(1).integers(0, x.shape[ax], size=shape, dtype=np.int64)
        return Operands(function, x, axis, target=t)
    if function in ("softmax_backward", "log_softmax_backward"):
        dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
        fwd = np_softmax if function == "softmax_backward" else np_log_softmax
        y = np.asarray(fwd(x.astype(np.float64), axis)).astype(dt)
        dy = np.random.default_rng(2).standard_normal(x.shape).astype(dt)
        return Operands(function, x, axis, dy=dy, y=y)
    raise ValueError(f"unknown function {function!r}; known: {', '.join(ALL_FUNCTIONS)}")


def _np_extra(function: str, ops: Operands) -> Any:
    """The NumPy formula of an EXTRA_FUNCTIONS function on ``ops``."""
    if function == "cross_entropy":
        return np_cross_entropy(ops.x, ops.target, ops.axis)
    if function == "cross_entropy_with_grad":
        return np_cross_entropy_with_grad(ops.x, ops.target, ops.axis)
    if function == "sigmoid":
        return np_sigmoid(ops.x)
    if function == "log_sigmoid":
        return np_log_sigmoid(ops.x)
    if function == "softmax_backward":
        return np_softmax_backward(ops.dy, ops.y, ops.axis)
    if function == "log_softmax_backward":
        return np_log_softmax_backward(ops.dy, ops.y, ops.axis)
    raise ValueError(f"unknown function {function!r}")


def reference(function: str, x: Any, axis: Any = -1) -> Any:
    """The NumPy formula, in float64 when the input is small enough
    (< 64 MiB), else in the input's own float dtype.  ``x`` is the case's
    input (an ndarray) or, for every function, an ``Operands``; the result
    of cross_entropy_with_grad is a (loss, gradient) tuple."""
    if isinstance(x, Operands) or function not in FUNCTIONS:
        ops = x if isinstance(x, Operands) else make_operands(function, x, axis)
        if function in FUNCTIONS:
            x, axis = ops.x, ops.axis
        else:
            if ops.x.nbytes <= (64 << 20):
                ops = ops.astype(np.float64)
            r = _np_extra(function, ops)
            if isinstance(r, tuple):
                return tuple(np.asarray(v) for v in r)
            return np.asarray(r)
    xr = x.astype(np.float64) if x.nbytes <= (64 << 20) else _as_float(x)
    return np.asarray(_NP_FUNCS[function](xr, axis))


# The tolerance kind of each part of a function's result.
_PARTS = {"cross_entropy_with_grad": (("loss", "cross_entropy"), ("dlogits", "gradient"))}


def _tolerances(function: str, dtype: Any, ref: Optional[np.ndarray] = None
                ) -> Tuple[float, float]:
    """Loose (rtol, atol) by input dtype: this only catches broken results."""
    dt = np.dtype(dtype)
    size = dt.itemsize if dt.kind == "f" else 8  # integer input: float64 result
    rtol = {2: 2e-2, 4: 1e-3}.get(size, 1e-7)
    if function in ("softmax", "sigmoid"):
        atol = rtol * 1e-3
    elif function in ("gradient", "softmax_backward", "log_softmax_backward"):
        # sums of terms of both signs: absolute, relative to the largest entry
        big = float(np.max(np.abs(ref))) if ref is not None and ref.size else 1.0
        atol = rtol * (big if big > 0 else 1.0)
    else:
        atol = rtol
    return rtol, atol


def check_result(function: str, got: Any, ref: Any, in_dtype: np.dtype
                 ) -> Optional[str]:
    """None when ``got`` matches ``ref`` (loosely), else a description.
    ``ref`` (and ``got``) may be a tuple of results (cross_entropy_with_grad)."""
    if isinstance(ref, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(ref):
            return f"expected a tuple of {len(ref)} results, got {type(got).__name__}"
        parts = _PARTS.get(function, tuple((f"result {i}", function) for i in range(len(ref))))
        for (pname, kind), g, r in zip(parts, got, ref):
            bad = _check_one(kind, g, r, in_dtype)
            if bad:
                return f"{pname}: {bad}"
        return None
    return _check_one(function, got, ref, in_dtype)


def _check_one(function: str, got: Any, ref: np.ndarray, in_dtype: np.dtype) -> Optional[str]:
    try:
        g = np.asarray(got)
    except Exception as e:  # pragma: no cover - defensive
        return f"result not convertible to an array: {e}"
    if g.shape != ref.shape:
        return f"shape {g.shape} != expected {ref.shape}"
    gd = g.astype(np.float64)
    if not np.all(np.isfinite(gd)):
        return "result has non-finite values"
    rtol, atol = _tolerances(function, in_dtype, ref)
    if not np.allclose(gd, ref, rtol=rtol, atol=atol):
        err = np.abs(gd - ref)
        i = np.unravel_index(int(np.argmax(err - rtol * np.abs(ref))), ref.shape) if ref.ndim else ()
        return (f"max abs error {float(err.max()):.3g} (rtol={rtol:g}, atol={atol:g}); "
                f"at {tuple(int(v) for v in i)}: got {float(gd[i]):.9g}, "
                f"expected {float(ref[i]):.9g}")
    return None


def result_nbytes(function: str, x: np.ndarray, axis: Any, result: Any = None) -> int:
    """Bytes written: the result's size (every part of a tuple result)."""
    if isinstance(result, (tuple, list)):
        return int(sum(np.asarray(r).nbytes for r in result))
    if result is not None:
        r = np.asarray(result)
        return int(r.nbytes)
    if function == "cross_entropy":
        return x.itemsize
    if function == "cross_entropy_with_grad":
        return int(x.nbytes + x.itemsize)
    if function != "logsumexp":
        return int(x.nbytes)
    if axis is None:
        return x.itemsize
    axes = axis if isinstance(axis, tuple) else (axis,)
    n = x.size
    for a in axes:
        n //= x.shape[a]
    return int(n * x.itemsize)


# --------------------------------------------------------------------------
# Contenders
# --------------------------------------------------------------------------

@dataclass
class Prepared:
    """A ready-to-time zero-argument callable and how to read its result."""
    call: Callable[[], Any]
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    note: str = ""
    keep: Any = None  # objects that must stay alive (sessions, buffers, ...)


class Contender:
    name = "?"
    is_roof = False
    threaded = False  # does the thread count apply?

    def unavailable(self) -> Optional[str]:
        """None if usable, else why not ("<name> not installed", ...)."""
        return None

    def version(self) -> Optional[str]:
        return None

    def set_threads(self, n: int) -> Any:
        """Set the thread count; return what is needed to restore it."""
        return None

    def restore_threads(self, prev: Any) -> None:
        pass

    def unsupported(self, function: str, x: np.ndarray, axis: Any, out: bool) -> Optional[str]:
        return None

    def prepare(self, function: str, x: np.ndarray, axis: Any, threads: int,
                out: bool) -> Prepared:
        raise NotImplementedError

    # Every function, on its Operands (the engine calls these two).  The
    # softmax family goes to unsupported() / prepare(); EXTRA_FUNCTIONS to
    # unsupported_extra() / prepare_extra(), which a contender defines for the
    # functions it has a counterpart of.
    extra_functions: Tuple[str, ...] = ()

    def unsupported_ops(self, function: str, ops: Operands, out: bool) -> Optional[str]:
        if function in FUNCTIONS:
            return self.unsupported(function, ops.x, ops.axis, out)
        if function not in self.extra_functions:
            return f"no {self.name} counterpart of {function}"
        return self.unsupported_extra(function, ops, out)

    def prepare_ops(self, function: str, ops: Operands, threads: int, out: bool) -> Prepared:
        if function in FUNCTIONS:
            return self.prepare(function, ops.x, ops.axis, threads, out)
        return self.prepare_extra(function, ops, threads, out)

    def unsupported_extra(self, function: str, ops: Operands, out: bool) -> Optional[str]:
        return None

    def prepare_extra(self, function: str, ops: Operands, threads: int, out: bool) -> Prepared:
        raise NotImplementedError(f"{self.name}: {function}")


def _import_version(modname: str) -> Tuple[Any, Optional[str]]:
    try:
        mod = __import__(modname)
        for part in modname.split(".")[1:]:
            mod = getattr(mod, part)
        return mod, None
    except Exception as e:  # ImportError, or a broken install
        if isinstance(e, ImportError):
            return None, f"{modname.split('.')[0]} not installed"
        return None, f"{modname.split('.')[0]} failed to import: {type(e).__name__}: {e}"


class FastSoftmax(Contender):
    name = FASTSOFTMAX
    threaded = True

    def version(self):
        return getattr(fs, "__version__", None)

    def set_threads(self, n):
        prev = fs.get_num_threads()
        fs.set_num_threads(n)
        return prev

    def restore_threads(self, prev):
        if prev is not None:
            fs.set_num_threads(prev)

    def prepare(self, function, x, axis, threads, out):
        f = getattr(fs, function)
        if not out:
            return Prepared(lambda: f(x, axis))
        o = np.empty_like(np.asarray(f(x, axis)))
        return Prepared(lambda: f(x, axis, out=o), keep=o)

    extra_functions = EXTRA_FUNCTIONS

    def prepare_extra(self, function, ops, threads, out):
        f = getattr(fs, function)
        x, axis = ops.x, ops.axis
        if function.startswith("cross_entropy"):
            t = ops.target
            to_np = _tuple_to_numpy if function.endswith("_grad") else np.asarray
            return Prepared(lambda: f(x, t, axis=axis), to_numpy=to_np,
                            note="no out=" if out else "")
        if function in ELEMENTWISE:
            if not out:
                return Prepared(lambda: f(x))
            o = np.empty_like(np.asarray(f(x)))
            return Prepared(lambda: f(x, out=o), keep=o)
        dy, y = ops.dy, ops.y          # *_backward
        if not out:
            return Prepared(lambda: f(dy, y, axis))
        o = np.empty_like(y)
        return Prepared(lambda: f(dy, y, axis, out=o), keep=o)


def _tuple_to_numpy(r):
    return tuple(np.asarray(v) for v in r)


class NumpyPeer(Contender):
    """The stable max-shift formula written by hand with NumPy."""
    name = "numpy"

    def version(self):
        return np.__version__

    def prepare(self, function, x, axis, threads, out):
        if not out:
            f = _NP_FUNCS[function]
            return Prepared(lambda: f(x, axis))
        res = np.asarray(_NP_FUNCS[function](x, axis))
        o = np.empty_like(res)
        if function == "softmax":
            return Prepared(lambda: np_softmax(x, axis, out=o), keep=o)
        scratch = np.empty(x.shape, dtype=res.dtype)
        if function == "log_softmax":
            return Prepared(lambda: np_log_softmax(x, axis, out=o, scratch=scratch),
                            keep=(o, scratch))
        return Prepared(lambda: np_logsumexp(x, axis, out=o, scratch=scratch),
                        keep=(o, scratch))

    extra_functions = EXTRA_FUNCTIONS

    def prepare_extra(self, function, ops, threads, out):
        return Prepared(lambda: _np_extra(function, ops),
                        to_numpy=_tuple_to_numpy if function.endswith("_grad") else np.asarray,
                        note="no out=" if out else "")


class ScipyPeer(Contender):
    name = "scipy"

    def unavailable(self):
        return _import_version("scipy.special")[1]

    def version(self):
        import scipy
        return scipy.__version__

    def prepare(self, function, x, axis, threads, out):
        import scipy.special as sp
        f = getattr(sp, function)
        return Prepared(lambda: f(x, axis=axis),
                        note="no out=" if out else "")

    extra_functions = ELEMENTWISE

    def prepare_extra(self, function, ops, threads, out):
        import scipy.special as sp
        f = sp.expit if function == "sigmoid" else sp.log_expit
        x = ops.x
        if not out:
            return Prepared(lambda: f(x))
        o = np.empty_like(np.asarray(f(x)))
        return Prepared(lambda: f(x, out=o), keep=o)


class TorchPeer(Contender):
    name = "torch"
    threaded = True

    def unavailable(self):
        return _import_version("torch")[1]

    def version(self):
        import torch
        return torch.__version__

    def set_threads(self, n):
        import torch
        prev = torch.get_num_threads()
        torch.set_num_threads(n)
        return prev

    def restore_threads(self, prev):
        import torch
        if prev is not None:
            torch.set_num_threads(prev)

    def unsupported(self, function, x, axis, out):
        if function != "logsumexp" and not isinstance(axis, int):
            return f"torch.{function} takes a single int dim"
        return None

    def prepare(self, function, x, axis, threads, out):
        import torch
        t = torch.from_numpy(x)  # shares memory; made once, outside the timed region
        f = getattr(torch, function)
        if axis is None:  # only logsumexp gets here: it takes a tuple of dims
            axis = tuple(range(x.ndim))
        to_np = lambda r: r.numpy()  # noqa: E731
        if not out:
            return Prepared(lambda: f(t, axis), to_numpy=to_np, keep=t)
        res = f(t, axis)
        o = torch.empty_like(res)
        try:
            f(t, axis, out=o)
        except (TypeError, RuntimeError):
            return Prepared(lambda: f(t, axis), to_numpy=to_np, keep=t,
                            note=f"torch.{function} has no out=")
        return Prepared(lambda: f(t, axis, out=o), to_numpy=to_np, keep=(t, o))

    extra_functions = EXTRA_FUNCTIONS

    def unsupported_extra(self, function, ops, out):
        if function.endswith("_backward") and not isinstance(ops.axis, int):
            return f"torch's {function} takes a single int dim"
        return None

    def prepare_extra(self, function, ops, threads, out):
        import torch
        import torch.nn.functional as F
        x, axis = ops.x, ops.axis
        to_np = lambda r: r.numpy()  # noqa: E731
        noout = "no out=" if out else ""
        if function.startswith("cross_entropy"):
            ax = _class_axis(axis, x.ndim)
            tt = torch.from_numpy(ops.target)

            def classes_on_dim1(t):  # torch wants (N, C, d1, ...): a view, no copy
                return t.movedim(ax, 1) if x.ndim >= 2 and ax != 1 else t
            note = noout
            if x.ndim >= 2 and ax != 1:
                note = ", ".join(filter(None, [noout, "class axis moved to dim 1 (a view)"]))
            if function == "cross_entropy":
                tx = classes_on_dim1(torch.from_numpy(x))
                return Prepared(lambda: F.cross_entropy(tx, tt), to_numpy=to_np,
                                keep=(tx, tt), note=note)
            leaf = torch.from_numpy(x).requires_grad_(True)

            def fwd_bwd():
                leaf.grad = None  # a fresh gradient each call, as fastsoftmax returns
                loss = F.cross_entropy(classes_on_dim1(leaf), tt)
                loss.backward()
                return loss, leaf.grad
            return Prepared(fwd_bwd, keep=(leaf, tt),
                            to_numpy=lambda r: (r[0].detach().numpy(), r[1].numpy()),
                            note=", ".join(filter(None, [note, "forward + autograd backward"])))
        if function in ELEMENTWISE:
            t = torch.from_numpy(x)
            if function == "log_sigmoid":
                return Prepared(lambda: F.logsigmoid(t), to_numpy=to_np, keep=t, note=noout)
            if not out:
                return Prepared(lambda: torch.sigmoid(t), to_numpy=to_np, keep=t)
            o = torch.empty_like(t)
            return Prepared(lambda: torch.sigmoid(t, out=o), to_numpy=to_np, keep=(t, o))
        # *_backward: the aten backward kernels autograd calls, on dy and y
        dyt, yt = torch.from_numpy(ops.dy), torch.from_numpy(ops.y)
        dim = _class_axis(axis, x.ndim)
        raw = getattr(torch, "_" + function + "_data", None)
        if raw is not None:
            try:
                raw(dyt, yt, dim, yt.dtype)
            except Exception:
                raw = None
        if raw is not None:
            return Prepared(lambda: raw(dyt, yt, dim, yt.dtype), to_numpy=to_np,
                            keep=(dyt, yt), note=noout)
        # fallback: autograd through the forward function (forward timed too)
        fwd = torch.softmax if function == "softmax_backward" else torch.log_softmax
        leaf = torch.from_numpy(x).requires_grad_(True)
        grad = torch.autograd.grad
        return Prepared(lambda: grad(fwd(leaf, dim), leaf, dyt)[0], to_numpy=to_np,
                        keep=(leaf, dyt),
                        note=f"torch._{function}_data missing: forward + autograd backward")


# ---- ONNX model building (onnx helper API, or raw protobuf bytes) ----------

_ONNX_ELEM = {"float32": 1, "float16": 10, "float64": 11}
_ONNX_INT64 = 7
_ONNX_OPS = {"softmax": "Softmax", "log_softmax": "LogSoftmax",
             "logsumexp": "ReduceLogSumExp"}
ONNX_OPSET = 13
ONNX_IR_VERSION = 7  # IR version of ONNX 1.8, the release that added opset 13


def _pb_varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 two's complement for negative values
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _pb_int(fieldno: int, v: int) -> bytes:
    return _pb_varint(fieldno << 3) + _pb_varint(v)


def _pb_bytes(fieldno: int, b) -> bytes:
    if isinstance(b, str):
        b = b.encode()
    return _pb_varint((fieldno << 3) | 2) + _pb_varint(len(b)) + b


def _pb_value_info(name: str, elem: int, shape: Sequence[int]) -> bytes:
    dims = b"".join(_pb_bytes(1, _pb_int(1, d)) for d in shape)   # Dimension.dim_value
    tensor = _pb_int(1, elem) + _pb_bytes(2, dims)                # TypeProto.Tensor
    return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, tensor))  # ValueInfoProto


def _onnx_model_raw(op: str, elem: int, in_shape, out_shape, attrs: Dict[str, Any]) -> bytes:
    """ModelProto bytes written by hand (field numbers from onnx.proto)."""
    return _onnx_graph_raw(op, [("x", elem, in_shape)], [("y", elem, out_shape)], attrs)


def _onnx_graph_raw(op: str, inputs, outputs, attrs: Dict[str, Any]) -> bytes:
    """A one-node ModelProto written by hand; ``inputs`` and ``outputs`` are
    (name, element type, shape) triples (a shape of [] is a scalar)."""
    node = (b"".join(_pb_bytes(1, n) for n, _, _ in inputs)
            + b"".join(_pb_bytes(2, n) for n, _, _ in outputs)
            + _pb_bytes(3, "node") + _pb_bytes(4, op))
    for k, v in attrs.items():
        if isinstance(v, (list, tuple)):   # AttributeProto: name=1, ints=8, type=20 (INTS=7)
            a = _pb_bytes(1, k) + b"".join(_pb_int(8, i) for i in v) + _pb_int(20, 7)
        else:                              # i=3, type=20 (INT=2)
            a = _pb_bytes(1, k) + _pb_int(3, int(v)) + _pb_int(20, 2)
        node += _pb_bytes(5, a)
    graph = (_pb_bytes(1, node) + _pb_bytes(2, "fastsoftmax_bench")
             + b"".join(_pb_bytes(11, _pb_value_info(*i)) for i in inputs)
             + b"".join(_pb_bytes(12, _pb_value_info(*o)) for o in outputs))
    opset = _pb_bytes(1, "") + _pb_int(2, ONNX_OPSET)
    return (_pb_int(1, ONNX_IR_VERSION) + _pb_bytes(2, "fastsoftmax-bench")
            + _pb_bytes(7, graph) + _pb_bytes(8, opset))


def onnx_model_bytes(function: str, x: np.ndarray, axis: Any,
                     use_onnx: Optional[bool] = None) -> bytes:
    """A one-node opset-13 model computing ``function`` over ``axis``.

    Built with the ``onnx`` helper API when it is installed (and
    ``use_onnx`` is not False), else as raw protobuf bytes."""
    dt = x.dtype.name
    if dt not in _ONNX_ELEM:
        raise TypeError(f"onnxruntime: dtype {dt} not benchmarked")
    elem = _ONNX_ELEM[dt]
    if function == "sigmoid":
        return _onnx_model("Sigmoid", [("x", elem, list(x.shape))],
                           [("y", elem, list(x.shape))], {}, use_onnx)
    if function == "cross_entropy":  # inputs x (N, C, d1, ...) and int64 labels (N, d1, ...)
        if x.ndim < 2 or _class_axis(axis, x.ndim) != 1:
            raise TypeError("onnxruntime: SoftmaxCrossEntropyLoss takes classes on axis 1")
        labels = [d for i, d in enumerate(x.shape) if i != 1]
        return _onnx_model("SoftmaxCrossEntropyLoss",   # reduction "mean" is the default
                           [("x", elem, list(x.shape)), ("t", _ONNX_INT64, labels)],
                           [("y", elem, [])], {}, use_onnx)
    op = _ONNX_OPS[function]
    if function == "logsumexp":
        axes = list(range(x.ndim)) if axis is None else list(axis if isinstance(axis, tuple) else (axis,))
        attrs: Dict[str, Any] = {"axes": axes, "keepdims": 0}
        norm = {a % x.ndim for a in axes}
        out_shape = [d for i, d in enumerate(x.shape) if i not in norm]
    else:
        if not isinstance(axis, int):
            raise TypeError("onnxruntime: Softmax takes a single int axis")
        attrs = {"axis": axis}
        out_shape = list(x.shape)
    return _onnx_model(op, [("x", elem, list(x.shape))], [("y", elem, out_shape)], attrs,
                       use_onnx)


def _onnx_model(op: str, inputs, outputs, attrs: Dict[str, Any],
                use_onnx: Optional[bool] = None) -> bytes:
    """A one-node opset-13 model: with the onnx helper API when installed
    (and ``use_onnx`` is not False), else raw protobuf bytes."""
    if use_onnx is None or use_onnx:
        try:
            from onnx import helper
        except ImportError:
            if use_onnx:
                raise
        else:
            node = helper.make_node(op, [n for n, _, _ in inputs], [n for n, _, _ in outputs],
                                    name="node", **attrs)
            graph = helper.make_graph(
                [node], "fastsoftmax_bench",
                [helper.make_tensor_value_info(n, e, list(sh)) for n, e, sh in inputs],
                [helper.make_tensor_value_info(n, e, list(sh)) for n, e, sh in outputs])
            model = helper.make_model(graph, producer_name="fastsoftmax-bench",
                                      opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
            # helper.make_model stamps the newest IR version, which an older
            # onnxruntime may refuse; opset 13 only needs IR 7.
            model.ir_version = ONNX_IR_VERSION
            return model.SerializeToString()
    return _onnx_graph_raw(op, inputs, outputs, attrs)


class OnnxRuntimePeer(Contender):
    name = "onnxruntime"
    threaded = True

    def unavailable(self):
        return _import_version("onnxruntime")[1]

    def version(self):
        import onnxruntime
        return onnxruntime.__version__

    def unsupported(self, function, x, axis, out):
        if x.dtype.name not in _ONNX_ELEM:
            return f"dtype {x.dtype.name} not benchmarked with onnxruntime"
        if function != "logsumexp" and not isinstance(axis, int):
            return "Softmax takes a single int axis"
        return None

    def prepare(self, function, x, axis, threads, out):
        model = onnx_model_bytes(function, x, axis)
        sess = self._session(model, threads)
        run = sess.run
        feed = {"x": x}
        names = ["y"]
        return Prepared(lambda: run(names, feed)[0], keep=sess,
                        note="no out=" if out else "")

    extra_functions = ("cross_entropy", "sigmoid")

    def unsupported_extra(self, function, ops, out):
        x = ops.x
        if x.dtype.name not in _ONNX_ELEM:
            return f"dtype {x.dtype.name} not benchmarked with onnxruntime"
        if function == "cross_entropy" and (
                x.ndim < 2 or not isinstance(ops.axis, int) or _class_axis(ops.axis, x.ndim) != 1):
            return "SoftmaxCrossEntropyLoss takes classes on axis 1 of a 2-D+ input"
        return None

    def prepare_extra(self, function, ops, threads, out):
        sess = self._session(onnx_model_bytes(function, ops.x, ops.axis), threads)
        run = sess.run
        feed = {"x": ops.x}
        if function == "cross_entropy":
            feed["t"] = ops.target
        names = ["y"]
        return Prepared(lambda: run(names, feed)[0], keep=sess,
                        note="no out=" if out else "")

    @staticmethod
    def _session(model: bytes, threads: int):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        # ONNX Runtime's idle workers spin-wait by default, for tens of milliseconds; in one process
        # with other contenders they take the cores those need (measured: fastsoftmax's 2-thread
        # calls 1.7x slower right after an ONNX Runtime call, for over 20 ms).  Without spinning
        # its workers block, as OpenMP's do after their short spin.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])


class CopyRoof(Contender):
    """np.copyto of the input bytes into a preallocated buffer."""
    name = ROOF
    is_roof = True

    def version(self):
        return np.__version__

    def prepare(self, function, x, axis, threads, out):
        dst = np.empty_like(x)
        copyto = np.copyto
        return Prepared(lambda: copyto(dst, x), keep=dst)

    extra_functions = EXTRA_FUNCTIONS

    def prepare_extra(self, function, ops, threads, out):
        return self.prepare(function, ops.x, ops.axis, threads, out)


_CONTENDERS: Dict[str, Contender] = {c.name: c for c in [
    FastSoftmax(), NumpyPeer(), ScipyPeer(), TorchPeer(), OnnxRuntimePeer(), CopyRoof()]}


def get_contender(name: str) -> Contender:
    return _CONTENDERS[name]


def all_contenders() -> List[Contender]:
    """fastsoftmax, the peers (installed or not), then the copy roof."""
    return [_CONTENDERS[n] for n in (FASTSOFTMAX,) + PEERS + (ROOF,)]


def available_peers(names: Optional[Sequence[str]] = None) -> Tuple[List[str], Dict[str, str]]:
    """(usable peer names, {missing peer: reason})."""
    ok, missing = [], {}
    for n in (names if names is not None else PEERS):
        if n not in _CONTENDERS or n in (FASTSOFTMAX, ROOF):
            raise ValueError(f"unknown peer {n!r}; known: {', '.join(PEERS)}")
        why = _CONTENDERS[n].unavailable()
        if why:
            missing[n] = why
        else:
            ok.append(n)
    return ok, missing


@contextlib.contextmanager
def threads_set(contenders: Iterable[Contender], n: int):
    """Set every threaded contender's thread count to n; restore after."""
    saved = []
    try:
        for c in contenders:
            if c.threaded:
                saved.append((c, c.set_threads(n)))
        yield
    finally:
        for c, prev in reversed(saved):
            try:
                c.restore_threads(prev)
            except Exception:
                pass


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

def _time_loops(fn: Callable[[], Any], n: int) -> int:
    rep = itertools.repeat(None, n)
    t0 = time.perf_counter_ns()
    for _ in rep:
        fn()
    return time.perf_counter_ns() - t0


def calibrate(fn: Callable[[], Any], sample_ns: float) -> Tuple[int, int]:
    """Inner loop count so that one sample takes >= sample_ns.
    Returns (loops, duration of the last calibration sample in ns)."""
    n = 1
    while True:
        dt = _time_loops(fn, n)
        if dt >= sample_ns:
            return n, dt
        # aim 20% over the target; never grow more than 100x per step
        grow = sample_ns * 1.2 / max(dt, 1)
        n = max(n + 1, min(n * 100, int(math.ceil(n * grow))))


@dataclass
class UnitResult:
    function: str
    case: str
    shape: Tuple[int, ...]
    axis: Any
    dtype: str
    threads: int
    out: bool
    bytes_read: int = 0
    bytes_written: int = 0
    roof_bytes: int = 0     # bytes the copy roof copies (0: bytes_read)
    times: Dict[str, Dict[str, Any]] = field(default_factory=dict)   # name -> timing
    skipped: Dict[str, str] = field(default_factory=dict)            # name -> reason
    errors: Dict[str, str] = field(default_factory=dict)             # name -> error
    notes: Dict[str, str] = field(default_factory=dict)
    fs_error: Optional[str] = None
    budget_hit: bool = False

    def median(self, name: str) -> Optional[float]:
        t = self.times.get(name)
        return t["median_ns"] if t else None

    def gbps(self, name: str = FASTSOFTMAX) -> Optional[float]:
        m = self.median(name)
        if not m:
            return None
        if name == ROOF:
            return 2 * (self.roof_bytes or self.bytes_read) / m
        return (self.bytes_read + self.bytes_written) / m

    @property
    def copy_gbps(self) -> Optional[float]:
        return self.gbps(ROOF)

    @property
    def pct_copy(self) -> Optional[float]:
        g, c = self.gbps(), self.copy_gbps
        return 100.0 * g / c if g and c else None

    def ratio(self, peer: str) -> Optional[float]:
        f, p = self.median(FASTSOFTMAX), self.median(peer)
        return p / f if f and p else None

    def to_dict(self) -> Dict[str, Any]:
        n_el = int(np.prod(self.shape, dtype=np.int64))
        d = {
            "function": self.function, "case": self.case, "shape": list(self.shape),
            "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis,
            "dtype": self.dtype, "threads": self.threads, "out": self.out,
            "elements": n_el, "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "roof_bytes": self.roof_bytes or self.bytes_read, "contenders": {},
            "copy_gbps": self.copy_gbps, "pct_copy": self.pct_copy,
            "ratios": {p: self.ratio(p) for p in self.times if p not in (FASTSOFTMAX, ROOF)},
            "skipped": self.skipped, "errors": self.errors, "notes": self.notes,
            "fastsoftmax_error": self.fs_error, "budget_hit": self.budget_hit,
        }
        for name, t in self.times.items():
            dd = dict(t)
            dd["gbps"] = self.gbps(name)
            dd["elements_per_s"] = n_el / (t["median_ns"] * 1e-9)
            d["contenders"][name] = dd
        return d


def run_unit(function: str, case: Case, x: Any, threads: int, *,
             peers: Sequence[str], out: bool = False, repeats: int = DEFAULT_REPEATS,
             sample_ms: float = DEFAULT_SAMPLE_MS, budget_s: float = DEFAULT_BUDGET_S,
             ref: Any = None) -> UnitResult:
    """Check and time fastsoftmax, the peers and the copy roof on one input
    (the case's array, or the function's ``Operands`` made from it)."""
    axis = case.axis
    xa = x.x if isinstance(x, Operands) else x
    res = UnitResult(function, case.name, tuple(case.shape), axis, xa.dtype.name,
                     int(threads), bool(out), bytes_read=int(xa.nbytes))
    why = unit_unsupported(function, case)
    if why:
        res.skipped[FASTSOFTMAX] = why
        return res
    ops = x if isinstance(x, Operands) else make_operands(function, x, axis)
    x = ops.x
    res.bytes_read = ops.nbytes_read
    res.roof_bytes = int(x.nbytes)
    names = [FASTSOFTMAX] + [p for p in peers] + [ROOF]
    conts = [_CONTENDERS[n] for n in names]
    if ref is None:
        ref = reference(function, ops, axis)
    ready: List[Tuple[str, Prepared, int]] = []
    sample_ns = sample_ms * 1e6
    with threads_set(conts, threads):
        for c in conts:
            why = c.unavailable() or c.unsupported_ops(function, ops, out)
            if why:
                res.skipped[c.name] = why
                continue
            try:
                p = c.prepare_ops(function, ops, threads, out)
                t0 = time.perf_counter_ns()
                r = p.call()  # warm-up, and the result to check
                first_ns = time.perf_counter_ns() - t0
                if not c.is_roof:
                    bad = check_result(function, p.to_numpy(r), ref, x.dtype)
                    if bad:
                        raise BenchError(f"wrong result: {bad}")
                if c.name == FASTSOFTMAX:
                    res.bytes_written = result_nbytes(function, x, axis, p.to_numpy(r))
                del r
            except Exception as e:
                msg = f"{type(e).__name__}: {e}" if not isinstance(e, BenchError) else str(e)
                if c.name == FASTSOFTMAX:
                    res.fs_error = msg
                    return res  # never benchmark a broken fastsoftmax
                res.errors[c.name] = msg
                continue
            if p.note:
                res.notes[c.name] = p.note
            ready.append((c.name, p, first_ns))

        gc_was = gc.isenabled()
        gc.disable()
        try:
            t_start = time.perf_counter()
            cal = []
            for name, p, first_ns in ready:
                if first_ns >= 5 * sample_ns:
                    loops = 1  # a slow call (large case): no calibration needed
                else:
                    loops, _dt = calibrate(p.call, sample_ns)
                cal.append((name, p, loops))
            samples: Dict[str, List[float]] = {n: [] for n, _, _ in cal}
            k = len(cal)
            for rnd in range(max(repeats, 1)):
                order = cal[rnd % k:] + cal[:rnd % k]
                for name, p, loops in order:
                    samples[name].append(_time_loops(p.call, loops) / loops)
                if (rnd + 1 >= min(MIN_ROUNDS, repeats) and rnd + 1 < repeats
                        and time.perf_counter() - t_start > budget_s):
                    res.budget_hit = True
                    break
        finally:
            if gc_was:
                gc.enable()
    for name, p, loops in cal:
        s = samples[name]
        res.times[name] = {
            "median_ns": statistics.median(s), "min_ns": min(s), "max_ns": max(s),
            "samples": len(s), "loops": loops, "samples_ns": s,
        }
    return res


def run_suite(functions: Sequence[str],
              cases: Union[None, Sequence[Case], Dict[str, Sequence[Case]]],
              threads: Sequence[int], *,
              dtypes: Optional[Sequence[str]] = None, peers: Optional[Sequence[str]] = None,
              out: bool = False, repeats: int = DEFAULT_REPEATS,
              sample_ms: float = DEFAULT_SAMPLE_MS, budget_s: float = DEFAULT_BUDGET_S,
              progress: Optional[Callable[[int, int, str], None]] = None
              ) -> List[UnitResult]:
    """Run every (case, dtype) x function x threads unit.

    ``cases``: one list for every function, a {function: cases} dict, or None
    for each function's ``default_cases``.  Each input is made once and
    shared by the functions that run on it; units run case by case."""
    if peers is None:
        peers, _ = available_peers()
    plan: Dict[Tuple[Any, ...], Tuple[Case, str, List[str]]] = {}
    for function in functions:
        if cases is None:
            fcases: Sequence[Case] = default_cases(function)
        elif isinstance(cases, dict):
            fcases = cases.get(function, ())
        else:
            fcases = cases
        for case, dt in case_units(fcases, dtypes):
            key = (case.shape, case.axis, dt)
            plan.setdefault(key, (case, dt, []))[2].append(function)
    total = sum(len(fns) for _, _, fns in plan.values()) * len(threads)
    done = 0
    results = []
    for case, dt, fns in plan.values():
        x = make_input(case, dt)
        for function in fns:
            ops = ref = None
            if not unit_unsupported(function, case):
                ops = make_operands(function, x, case.axis)
                ref = reference(function, ops)
            for t in threads:
                done += 1
                if progress:
                    progress(done, total, f"{function} {case_label(case, dt)} t={t}")
                results.append(run_unit(function, case, x if ops is None else ops, t,
                                        peers=peers, out=out, repeats=repeats,
                                        sample_ms=sample_ms, budget_s=budget_s, ref=ref))
            del ops, ref
        del x
        gc.collect()
    return results


# --------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------

def _fmt_ms(ns: Optional[float]) -> str:
    if ns is None:
        return "-"
    ms = ns / 1e6
    if ms >= 100:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.3f}"
    return f"{ms:.4f}" if ms >= 0.01 else f"{ms:.5f}"


def _table(headers: List[str], rows: List[List[str]], align: str) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                         for c, w, a in zip(cells, widths, align)).rstrip()
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def format_table(results: Sequence[UnitResult], title: str,
                 peer_order: Sequence[str] = PEERS) -> str:
    # a peer skipped on every row for one reason (no counterpart of the
    # function) gets a footnote instead of a column of n/a
    foot = set()
    peers = []
    for p in peer_order:
        if not any(p in r.times or p in r.errors or p in r.skipped for r in results):
            continue
        why = {r.skipped.get(p) for r in results if FASTSOFTMAX not in r.skipped}
        if len(why) == 1 and None not in why:
            foot.add(f"not compared: {p}: {why.pop()}")
            continue
        peers.append(p)
    headers = ["case", "dtype", "fastsoftmax ms", "GB/s", "% copy", "copy GB/s"] + peers
    rows = []
    for r in results:
        row = [r.case + ("*" if r.budget_hit else ""), r.dtype]
        if FASTSOFTMAX in r.skipped:
            row += ["skipped", "", "", ""] + [""] * len(peers)
            foot.add(f"skipped {r.function} {r.case}: {r.skipped[FASTSOFTMAX]}")
            rows.append(row)
            continue
        if r.fs_error:
            row += ["ERROR", "", "", ""] + [""] * len(peers)
            foot.add(f"ERROR {r.function} {r.case} {r.dtype} t={r.threads}: {r.fs_error}")
            rows.append(row)
            continue
        g, c, pc = r.gbps(), r.copy_gbps, r.pct_copy
        row += [_fmt_ms(r.median(FASTSOFTMAX)),
                f"{g:.2f}" if g else "-",
                f"{pc:.0f}%" if pc else "-",
                f"{c:.2f}" if c else "-"]
        for p in peers:
            q = r.ratio(p)
            if q is not None:
                row.append(f"x{q:.2f}")
            elif p in r.errors:
                row.append("error")
                foot.add(f"{p} on {r.case} {r.dtype}: {r.errors[p]}")
            else:
                row.append("n/a")
                if p in r.skipped:
                    foot.add(f"n/a: {p} on {r.case}: {r.skipped[p]}")
        rows.append(row)
    text = title + "\n" + _table(headers, rows, "ll" + "r" * (len(headers) - 2))
    if any(r.budget_hit for r in results):
        foot.add("* time budget hit: fewer samples than requested")
    if foot:
        text += "\n" + "\n".join("  " + f for f in sorted(foot))
    return text


def format_tables(results: Sequence[UnitResult]) -> str:
    """One table per (function, thread count, out mode), a row per case."""
    groups: Dict[Tuple[str, int, bool], List[UnitResult]] = {}
    for r in results:
        groups.setdefault((r.function, r.threads, r.out), []).append(r)
    parts = []
    for (function, t, out), rs in groups.items():
        title = (f"{FUNCTION_TITLES.get(function, function)}  threads={t}"
                 + ("  out= preallocated" if out else ""))
        parts.append(format_table(rs, title))
    legend = ("ms = median time per call; GB/s = (input bytes + result bytes) / time;\n"
              "% copy = GB/s over np.copyto's (read+write of the input bytes);\n"
              "xR = peer time / fastsoftmax time (>1: fastsoftmax is faster). "
              "numpy/scipy are single-threaded.")
    fns = {r.function for r in results}
    if fns & {"cross_entropy", "cross_entropy_with_grad"}:
        legend += ("\ncross_entropy: input bytes = logits + int64 targets; with_grad: result = "
                   "loss + dlogits; the copy roof copies the logits.")
    if fns & {"softmax_backward", "log_softmax_backward"}:
        legend += "\n*_backward: input bytes = dy + y; the copy roof copies one of them."
    parts.append(legend)
    notes = sorted({f"{n}: {v}" for r in results for n, v in r.notes.items()
                    if r.function in FUNCTIONS})
    extra: Dict[Tuple[str, str], List[str]] = {}   # (contender, note) -> functions
    for r in results:
        if r.function not in FUNCTIONS:
            for n, v in r.notes.items():
                fl = extra.setdefault((n, v), [])
                if r.function not in fl:
                    fl.append(r.function)
    notes += [f"{n} ({', '.join(fl)}): {v}" for (n, v), fl in sorted(extra.items())]
    if notes:
        parts[-1] += "\nnotes: " + "; ".join(notes)
    return "\n\n".join(parts)


def _capture_show_config() -> str:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            r = fs.show_config()
    except Exception as e:
        return f"show_config() failed: {type(e).__name__}: {e}"
    s = buf.getvalue()
    if isinstance(r, str) and r not in s:
        s += r
    return s


def _cpu_model() -> Optional[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_total() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def load_average() -> Optional[List[float]]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def load_warning() -> Optional[str]:
    """A warning when other processes keep the CPUs busy (1-minute load
    average above half the usable CPUs), else None."""
    la = load_average()
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count() or 1
    if la and la[0] > 0.5 * ncpu:
        return (f"warning: load average {la[0]:.2f} on {ncpu} CPUs: other processes are "
                "running; timings (multi-threaded ones most) will be noisy")
    return None


def machine_info() -> Dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "platform": platform.platform(), "machine": platform.machine(),
        "cpu": _cpu_model(), "cpu_count": os.cpu_count(), "usable_cpus": affinity,
        "memory_bytes": _mem_total(), "load_average": load_average(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
    }


def versions() -> Dict[str, Optional[str]]:
    v: Dict[str, Optional[str]] = {"fastsoftmax": getattr(fs, "__version__", None),
                                   "numpy": np.__version__}
    for p in PEERS[1:]:
        c = _CONTENDERS[p]
        v[p] = None if c.unavailable() else c.version()
    try:
        import onnx
        v["onnx"] = onnx.__version__
    except Exception:
        v["onnx"] = None
    return v


def fastsoftmax_info() -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    for k, f in [("isa", "get_isa"), ("available_isas", "available_isas"),
                 ("default_threads", "get_num_threads")]:
        try:
            val = getattr(fs, f)()
            info[k] = list(val) if isinstance(val, (tuple, set, frozenset)) else val
        except Exception as e:
            info[k] = f"error: {e}"
    info["config"] = _capture_show_config()
    return info


def _jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def write_json(path: str, results: Sequence[UnitResult], settings: Dict[str, Any],
               missing: Optional[Dict[str, str]] = None) -> None:
    doc = {
        "schema": "fastsoftmax-bench/1",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "settings": settings,
        "machine": machine_info(),
        "versions": versions(),
        "fastsoftmax": fastsoftmax_info(),
        "peers_missing": missing or {},
        "metric_definitions": {
            "median_ns": "median over samples of the time per call",
            "gbps": "(bytes_read + bytes_written) / median time, 1e9 bytes/s; "
                    "copy: 2 * bytes_read / time",
            "pct_copy": "fastsoftmax gbps / copy gbps * 100",
            "ratios": "peer median / fastsoftmax median (>1: fastsoftmax faster)",
        },
        "results": [r.to_dict() for r in results],
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1, default=_jsonable)
        f.write("\n")


def plot(path: str, results: Sequence[UnitResult]) -> None:
    """Bar chart of fastsoftmax's speed-up vs each peer, per case: a panel
    per function (rows) and thread count / out mode (columns).  Needs
    matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    groups: Dict[Tuple[str, int, bool], List[UnitResult]] = {}
    for r in results:
        if not r.fs_error and FASTSOFTMAX in r.times:
            groups.setdefault((r.function, r.threads, r.out), []).append(r)
    if not groups:
        raise BenchError("nothing to plot: no result")
    peers = [p for p in PEERS if any(p in r.times for rs in groups.values() for r in rs)]
    rows = list(dict.fromkeys(k[0] for k in groups))
    cols = list(dict.fromkeys(k[1:] for k in groups))
    ncases = max(len(rs) for rs in groups.values())
    w = max(4.5, 0.25 * ncases * max(len(peers), 1) + 1.5)
    stack = len(cols) > 1 and w * len(cols) > 14  # too wide: one panel per row
    nr, nc = (len(rows) * len(cols), 1) if stack else (len(rows), len(cols))
    fig, axes = plt.subplots(nr, nc, figsize=(w * nc + 1.5, 3.4 * nr), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    width = 0.8 / max(len(peers), 1)
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    handles = None
    for i, function in enumerate(rows):
        for j, (t, out) in enumerate(cols):
            ax = axes[i * len(cols) + j, 0] if stack else axes[i, j]
            rs = groups.get((function, t, out))
            if not rs:
                ax.set_visible(False)
                continue
            xs = np.arange(len(rs))
            for k, p in enumerate(peers):
                vals = [r.ratio(p) or 0.0 for r in rs]
                bars = ax.bar(xs + (k - (len(peers) - 1) / 2) * width, vals, width,
                              label=f"vs {p}", color=colors[k % len(colors)])
                for b, v in zip(bars, vals):
                    if v:
                        ax.annotate(f"{v:.2g}" if v < 10 else f"{v:.0f}",
                                    (b.get_x() + b.get_width() / 2, v),
                                    ha="center", va="bottom", fontsize=7)
            ax.axhline(1.0, color="black", lw=0.8, ls="--")
            ax.set_yscale("log")
            lo, hi = ax.get_ylim()
            ax.set_ylim(min(lo, 0.8), max(hi, 1.25) * 1.3)
            ax.yaxis.set_major_formatter(fmt)
            lo, hi = ax.get_ylim()
            # less than ~1.5 decades: label the minor ticks too, else only 1 may show
            ax.yaxis.set_minor_formatter(fmt if hi / lo < 30 else NullFormatter())
            ax.tick_params(axis="y", which="minor", labelsize=7)
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{r.case}\n{r.dtype}" for r in rs], fontsize=8)
            if j == 0 or stack:
                ax.set_ylabel("peer time / fastsoftmax time")
            ax.set_title(f"{function}, threads={t}" + (", out=" if out else ""), fontsize=10)
            ax.grid(axis="y", which="both", alpha=0.3)
            handles = ax.get_legend_handles_labels()
    if handles:
        fig.legend(*handles, loc="upper right", fontsize=8, ncol=len(peers))
    fig.suptitle(f"fastsoftmax {getattr(fs, '__version__', '')}: speed-up over each peer "
                 "(>1: fastsoftmax faster)", fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / (3.4 * nr)))
    fig.savefig(path, dpi=110)
    plt.close(fig)
