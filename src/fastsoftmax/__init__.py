"""fastsoftmax: fast, exact softmax, log_softmax and logsumexp for NumPy arrays on the CPU.

A drop-in for ``scipy.special.softmax`` / ``log_softmax`` / ``logsumexp`` (with masks and a scale), plus
the rest of a classifier's path: a fused ``cross_entropy`` (and its gradient), the backward passes of
softmax and log_softmax, and ``sigmoid`` / ``log_sigmoid``.  SIMD kernels (AVX-512, AVX2+FMA, NEON,
scalar) chosen at import by CPUID, OpenMP over independent slices, and results within 4 units in the
last place of a float64 reference (see the README for the exact contract).

Environment, read once at import:
    FASTSOFTMAX_MAX_ISA      cap the instruction set: scalar < avx2 < avx512 (x86-64), scalar < neon
    FASTSOFTMAX_NUM_THREADS  default thread count (an integer >= 1)
"""
import operator
import os

from . import _core
from ._api import LOG_SOFTMAX, LOGSUMEXP, SOFTMAX, _apply, _backward, _elementwise
from ._loss import cross_entropy, cross_entropy_with_grad

__version__ = "0.1.0"
_MAX_THREADS = 4096
__all__ = [
    "softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad", "softmax_backward",
    "log_softmax_backward", "sigmoid", "log_sigmoid", "get_num_threads", "set_num_threads", "get_isa",
    "available_isas", "show_config", "__version__",
]


def softmax(x, axis=-1, *, out=None, where=None, scale=1.0):
    """Softmax of x over axis: exp(x - max) / sum(exp(x - max)) along each slice.

    Parameters
    ----------
    x : array_like
        float32, float64 (result of the same dtype), float16 (computed in float32, float16 result),
        or bool / integer (float64 result).  Any layout, strides or byte order.
    axis : int, tuple of ints or None, default -1
        Axis or axes jointly forming each slice; None uses all elements; () makes every element its own
        slice.
    out : ndarray, optional
        Array of the result's shape and dtype (any strides) to write into; may be x itself.
    where : array_like of bool, optional
        Broadcastable to x; True keeps an entry.  Masked-out entries are absent whatever they hold:
        the result is exactly 0 there, and a slice with nothing kept is 0 everywhere.  The mask is
        never expanded to x's shape.
    scale : float, default 1.0
        Compute softmax(scale * x), fused (temperature: 1 / T; attention: 1 / sqrt(d)).  Rounded once
        to x's dtype; finite and > 0.  The product is carried exactly, so the bound below holds for
        the exact scale * x.

    Returns
    -------
    ndarray
        ``out`` if given.  Each slice sums to 1 within rounding.  A slice with a NaN is all NaN; a slice
        of -inf only is NaN; k entries of +inf share 1/k; -inf among finite entries gives exactly 0
        (with ``where``, these rules apply to the kept entries).
        Float32 results are within 4 * 2**-23 relative error of a float64 reference (absolute 2**-126
        below 2**-126); float64 within 4 * 2**-52 (absolute 2**-1022 below 2**-1022).
    """
    if where is None and type(scale) in (float, int) and scale == 1:
        r = _core.fast(SOFTMAX, x, axis, out)
        if r is not None:
            return r
    return _apply(SOFTMAX, x, axis, out, where=where, scale=scale)


def log_softmax(x, axis=-1, *, out=None, where=None, scale=1.0):
    """Log of the softmax of x over axis: x - max - log(sum(exp(x - max))), computed without forming
    the softmax (no log of an underflowed 0).

    Arguments as for :func:`softmax` (masked-out entries give -inf).  Absolute error at most
    4 * 2**-23 * max(1, |result|) in float32 (2**-52 in float64); -inf only where the exact value lies
    below the float range.  A slice with a NaN, or of -inf only, is NaN; with k entries of +inf those
    give -log(k) and the others -inf; a slice with nothing kept is -inf.
    """
    if where is None and type(scale) in (float, int) and scale == 1:
        r = _core.fast(LOG_SOFTMAX, x, axis, out)
        if r is not None:
            return r
    return _apply(LOG_SOFTMAX, x, axis, out, where=where, scale=scale)


def logsumexp(x, axis=-1, *, keepdims=False, out=None, where=None, scale=1.0):
    """log(sum(exp(x))) over axis, as max + log(sum(exp(x - max))): never overflows for finite x.

    Arguments as for :func:`softmax`; ``keepdims`` keeps the reduced axes with length 1.  A size-0
    axis, or a slice with nothing kept by ``where``, gives -inf; a slice with a NaN gives NaN; all -inf
    gives -inf; any +inf gives +inf.  With ``scale`` the result is logsumexp(scale * x).  A 0-d result
    without ``out`` is returned as a NumPy scalar (as ``np.sum`` does).
    """
    if where is None and type(scale) in (float, int) and scale == 1:
        r = _core.fast(LOGSUMEXP, x, axis, out, keepdims)
        if r is not None:
            return r
    return _apply(LOGSUMEXP, x, axis, out, keepdims, where=where, scale=scale)


def softmax_backward(dy, y, axis=-1, *, out=None):
    """The gradient through softmax: ``y * (dy - sum(dy * y, axis))``, with y = softmax(x, axis) the
    forward output and dy the gradient of the loss with respect to y.

    dy and y have one shape; float32 / float64 (others as in :func:`softmax`).  ``axis`` as in the
    forward function.  ``out`` may be dy or y.  Each element's absolute error is within a few roundings
    of |y| * (|dy| + sum(|dy * y|)).
    """
    return _backward(False, dy, y, axis, out, "softmax_backward")


def log_softmax_backward(dy, y, axis=-1, *, out=None):
    """The gradient through log_softmax: ``dy - exp(y) * sum(dy, axis)``, with y = log_softmax(x, axis)
    the forward output.  Arguments as for :func:`softmax_backward`; absolute error within a few
    roundings of |dy| + exp(y) * sum(|dy|)."""
    return _backward(True, dy, y, axis, out, "log_softmax_backward")


def sigmoid(x, *, out=None):
    """The logistic function 1 / (1 + exp(-x)), elementwise (scipy.special.expit), computed from
    exp(-|x|) so that nothing overflows.  Dtypes and ``out`` as for :func:`softmax`; relative error
    within 4 * 2**-23 (float32) or 4 * 2**-52 (float64), results below the smallest normal number may
    flush to 0.  A 0-d input gives a NumPy scalar."""
    r = _core.fast_elementwise(False, x) if out is None else None
    return _elementwise(False, x, out, "sigmoid") if r is None else r


def log_sigmoid(x, *, out=None):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), elementwise (scipy.special.log_expit): stable
    for every input (log_sigmoid(-1000) = -1000, log_sigmoid(40) = -4.2e-18, not 0).  Absolute error
    at most 4 * 2**-23 * max(1, |result|) in float32 (2**-52 in float64)."""
    r = _core.fast_elementwise(True, x) if out is None else None
    return _elementwise(True, x, out, "log_sigmoid") if r is None else r


def get_num_threads():
    """Threads used for large inputs (small inputs always run on the calling thread)."""
    return _core.get_num_threads()


def set_num_threads(n):
    """Set the thread count for later calls (n >= 1).  Results do not depend on it."""
    n = operator.index(n)
    if not 1 <= n <= _MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be in [1, {_MAX_THREADS}], got {n}")
    _core.set_num_threads(n)


def get_isa():
    """The instruction set the kernels use: "avx512", "avx2", "neon" or "scalar"."""
    return _core.get_isa()


def available_isas():
    """Instruction sets compiled in and supported by this CPU and OS, worst first ("scalar" first)."""
    return _core.available_isas()


def show_config():
    """Print the version, compiler, compiled and chosen ISA, OpenMP and thread count."""
    omp = _core.openmp_version()
    compiled = [n for n in _core.isa_names() if _core.isa_compiled(n)]
    lines = [
        f"fastsoftmax version {__version__} (C core {_core.core_version()})",
        f"  compiler:        {_core.compiler()}",
        f"  compiled ISAs:   {', '.join(compiled)}",
        f"  available ISAs:  {', '.join(available_isas())}",
        f"  chosen ISA:      {get_isa()}"
        + (f" (capped by FASTSOFTMAX_MAX_ISA={_max_isa_env})" if _max_isa_env else ""),
        f"  OpenMP:          {('yes (' + str(omp) + ')') if omp else 'no (serial build)'}",
        f"  threads:         {get_num_threads()}",
    ]
    print("\n".join(lines))


def _configure_from_env():
    value = os.environ.get("FASTSOFTMAX_MAX_ISA")
    if value is not None and value.strip():
        name = value.strip().lower()
        if name not in _core.isa_names():
            raise ValueError(
                f"FASTSOFTMAX_MAX_ISA={value!r} is not an instruction set of this architecture; "
                f"expected one of {', '.join(_core.isa_names())}"
            )
        _core.set_max_isa(name)
    threads = os.environ.get("FASTSOFTMAX_NUM_THREADS")
    if threads is not None and threads.strip():
        try:
            n = int(threads)
        except ValueError:
            n = 0
        if not 1 <= n <= _MAX_THREADS:
            raise ValueError(f"FASTSOFTMAX_NUM_THREADS={threads!r} is not an integer in [1, {_MAX_THREADS}]")
        _core.set_num_threads(n)
    return value


_max_isa_env = _configure_from_env()
