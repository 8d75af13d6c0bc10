"""fastsoftmax: fast, exact softmax, log_softmax and logsumexp for NumPy arrays on the CPU.

A drop-in for ``scipy.special.softmax`` / ``log_softmax`` / ``logsumexp`` (with masks and a scale), plus
the rest of a classifier's path: a fused ``cross_entropy`` (and its gradient), the backward passes of
softmax and log_softmax, and ``sigmoid`` / ``log_sigmoid``.  SIMD kernels (AVX-512, AVX2+FMA, NEON,
scalar) chosen at import by CPUID, OpenMP over independent slices, and results within 4 units in the
last place of a float64 reference (see the README for the exact contract).

Environment, read once at import:
    FASTSOFTMAX_MAX_ISA      cap the instruction set: scalar < avx2 < avx512 (x86-64), scalar < neon
    FASTSOFTMAX_NUM_THREADS  default thread count (an integer >= 1)
    FASTSOFTMAX_RECYCLE      0: do not recycle the memory of large results (1, the default: results of
                             32 MiB and more reuse the latest such block freed, kept with MADV_FREE so
                             that the kernel may reclaim it; see src/fastsoftmax/_recycle.h)
"""
import operator
import os

from . import _core
from ._api import LOG_SOFTMAX, LOGSUMEXP, SOFTMAX, _backward, _elementwise
from ._core import log_softmax, logsumexp, softmax  # the common call checked first, in Cython
from ._loss import cross_entropy, cross_entropy_with_grad

__version__ = "0.1.0"
_MAX_THREADS = 4096
__all__ = [
    "softmax", "log_softmax", "logsumexp", "cross_entropy", "cross_entropy_with_grad", "softmax_backward",
    "log_softmax_backward", "sigmoid", "log_sigmoid", "get_num_threads", "set_num_threads", "get_isa",
    "available_isas", "show_config", "__version__",
]


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
        f"  recycling:       {_recycling_line()}",
    ]
    print("\n".join(lines))


def _recycling_line():
    if not _core.recycling_available():
        return "not available (no mmap with MADV_FREE)"
    on, kept, reused, mapped = _core.recycling_state()
    if not on:
        return "off (FASTSOFTMAX_RECYCLE=0)"
    return f"on: results of 32 MiB and more; {kept >> 20} MiB kept, {reused} reused, {mapped} mapped"


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
    recycle = os.environ.get("FASTSOFTMAX_RECYCLE")
    if recycle is not None and recycle.strip():
        if recycle.strip() not in ("0", "1"):
            raise ValueError(f"FASTSOFTMAX_RECYCLE={recycle!r} is not 0 or 1")
        _core.set_recycling(recycle.strip() == "1")
    return value


_max_isa_env = _configure_from_env()
for _f in (softmax, log_softmax, logsumexp):
    _f.__module__ = __name__  # public here, defined in _core
del _f
