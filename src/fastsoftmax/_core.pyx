# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython layer over the C core (include/fastsoftmax.h).

It only unpacks typed memoryviews into pointers and element strides and releases the GIL around the
kernel; shapes, axes, dtypes, layouts and ``out=`` are normalised in Python (fastsoftmax/_api.py).
"""

cimport numpy as cnp

import numpy as np

cnp.import_array()

cdef extern from "fastsoftmax.h" nogil:
    int FASTSOFTMAX_OK
    int FASTSOFTMAX_EINVAL
    int FASTSOFTMAX_ENOMEM
    int fastsoftmax_softmax_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n,
                                Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    int fastsoftmax_log_softmax_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n,
                                    Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    int fastsoftmax_logsumexp_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n,
                                  Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    int fastsoftmax_softmax_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n,
                                Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    int fastsoftmax_log_softmax_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n,
                                    Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    int fastsoftmax_logsumexp_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n,
                                  Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys, int nt)
    const char *fastsoftmax_isa()
    int fastsoftmax_isa_available(const char *name)
    int fastsoftmax_isa_compiled(const char *name)
    const char *fastsoftmax_isa_name(int i)
    int fastsoftmax_set_max_isa(const char *name)
    int fastsoftmax_set_isa(const char *name)
    const char *fastsoftmax_last_isa()
    int fastsoftmax_get_num_threads()
    int fastsoftmax_set_num_threads(int n)
    int fastsoftmax_has_openmp()
    const char *fastsoftmax_compiler()
    const char *fastsoftmax_version()
    int fastsoftmax_exp_f32(const float *x, float *y, Py_ssize_t n)
    int fastsoftmax_exp_f64(const double *x, double *y, Py_ssize_t n)

# Operation codes shared with _api.py.
SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = 0, 1, 2


cdef int _check(int status) except -1:
    if status == FASTSOFTMAX_OK:
        return 0
    if status == FASTSOFTMAX_ENOMEM:
        raise MemoryError("fastsoftmax: could not allocate a scratch row")
    raise ValueError(f"fastsoftmax: invalid argument (status {status})")


cdef int _call(int op, int t, const void *px, void *py, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
               const Py_ssize_t *xs, const Py_ssize_t *ys) noexcept nogil:
    if t == cnp.NPY_FLOAT32:
        if op == 0:
            return fastsoftmax_softmax_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys, 0)
        if op == 1:
            return fastsoftmax_log_softmax_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys, 0)
        return fastsoftmax_logsumexp_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys, 0)
    if op == 0:
        return fastsoftmax_softmax_f64(<const double *>px, <double *>py, outer, n, inner, xs, ys, 0)
    if op == 1:
        return fastsoftmax_log_softmax_f64(<const double *>px, <double *>py, outer, n, inner, xs, ys, 0)
    return fastsoftmax_logsumexp_f64(<const double *>px, <double *>py, outer, n, inner, xs, ys, 0)


def run(int op, cnp.ndarray x, cnp.ndarray y):
    """Apply op over axis 1 of the non-empty 3-D view x into y.

    x and y: aligned, native float32 or float64 arrays of one dtype, strides multiples of the item size;
    y has x's shape, or (outer, 1, inner) for LOGSUMEXP.  y may be x itself; no other overlap.
    """
    cdef int t = cnp.PyArray_TYPE(x)
    if (t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64) or cnp.PyArray_TYPE(y) != t:
        raise TypeError("run: x and y must both be float32 or both float64")
    if cnp.PyArray_NDIM(x) != 3 or cnp.PyArray_NDIM(y) != 3 or cnp.PyArray_SIZE(x) == 0:
        raise ValueError("run: x must be a non-empty 3-D array")
    if not cnp.PyArray_ISWRITEABLE(y):
        raise ValueError("run: y is read-only")
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(x)
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    cdef int k
    for k in range(3):
        xs[k] = cnp.PyArray_STRIDE(x, k) // item
        ys[k] = cnp.PyArray_STRIDE(y, k) // item
    cdef Py_ssize_t outer = cnp.PyArray_DIM(x, 0), n = cnp.PyArray_DIM(x, 1), inner = cnp.PyArray_DIM(x, 2)
    if (cnp.PyArray_DIM(y, 0) != outer or cnp.PyArray_DIM(y, 2) != inner
            or cnp.PyArray_DIM(y, 1) != (1 if op == 2 else n)):
        raise ValueError("run: y has the wrong shape")
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    with nogil:
        status = _call(op, t, px, py, outer, n, inner, xs, ys)
    _check(status)


def same_view(cnp.ndarray a, cnp.ndarray b):
    """True if a and b address the same elements in the same order (same data, shape and strides)."""
    return (cnp.PyArray_DATA(a) == cnp.PyArray_DATA(b) and a.shape == b.shape and a.strides == b.strides)


cdef inline bint _plain(cnp.ndarray a):
    """A native-order, aligned, C-contiguous float32/float64 array with at least one element."""
    cdef int t = cnp.PyArray_TYPE(a)
    return ((t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT64)
            and cnp.PyArray_ISCARRAY_RO(a) and cnp.PyArray_ISNOTSWAPPED(a)
            and cnp.PyArray_NDIM(a) >= 1 and cnp.PyArray_SIZE(a) > 0)


def fast(int op, x, axis, out, bint keepdims=False):
    """The common call, with no Python-level normalisation: a plain array (see _plain), axis the last
    one, and out None (or, for softmax / log_softmax, a plain writeable array of x's shape and dtype
    that is x itself or does not overlap it).  Returns None when the call is not of that kind."""
    if type(x) is not np.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    if not _plain(a):
        return None
    cdef int nd = cnp.PyArray_NDIM(a)
    if type(axis) is not int or (axis != -1 and axis != nd - 1):
        return None
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef Py_ssize_t n = dims[nd - 1]
    cdef Py_ssize_t outer = cnp.PyArray_SIZE(a) // n
    cdef int t = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray y
    cdef cnp.npy_intp kdims[64]  # NPY_MAXDIMS
    cdef int k
    if out is None:
        if op == 2 and keepdims:
            for k in range(nd - 1):
                kdims[k] = dims[k]
            kdims[nd - 1] = 1
            y = cnp.PyArray_EMPTY(nd, kdims, t, 0)
        elif op == 2:
            y = cnp.PyArray_EMPTY(nd - 1, dims, t, 0)
        else:
            y = cnp.PyArray_EMPTY(nd, dims, t, 0)
    else:
        if op == 2 or type(out) is not np.ndarray:
            return None
        y = <cnp.ndarray>out
        if (not _plain(y) or cnp.PyArray_TYPE(y) != t or not cnp.PyArray_ISWRITEABLE(y)
                or not cnp.PyArray_SAMESHAPE(a, y)):
            return None
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    xs[0] = n; xs[1] = 1; xs[2] = 1
    ys[0] = 1 if op == 2 else n; ys[1] = 1; ys[2] = 1
    cdef const void *px = cnp.PyArray_DATA(a)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    with nogil:
        status = _call(op, t, px, py, outer, n, 1, xs, ys)
    if status == FASTSOFTMAX_EINVAL:
        return None  # out overlaps x without being x: the C core refused it, before writing anything
    _check(status)
    if op == 2 and nd == 1 and not keepdims:
        return y[()]
    return y


def _exp_f32(const float[::1] x):
    """The library's float32 SIMD exp on [-87.33, 0] (tests and tools/exp_accuracy.py)."""
    out = np.empty(x.shape[0], dtype=np.float32)
    cdef float[::1] y = out
    if x.shape[0]:
        with nogil:
            fastsoftmax_exp_f32(&x[0], &y[0], x.shape[0])
    return out


def _exp_f64(const double[::1] x):
    """The library's float64 SIMD exp on [-708.39, 0]."""
    out = np.empty(x.shape[0], dtype=np.float64)
    cdef double[::1] y = out
    if x.shape[0]:
        with nogil:
            fastsoftmax_exp_f64(&x[0], &y[0], x.shape[0])
    return out


def isa_names():
    """Every ISA name of this architecture, in rank order (best last)."""
    names = []
    cdef int i = 0
    cdef const char *p = fastsoftmax_isa_name(0)
    while p != NULL:
        names.append(p.decode())
        i += 1
        p = fastsoftmax_isa_name(i)
    return tuple(names)


def isa_available(str name):
    return bool(fastsoftmax_isa_available(name.encode()))


def isa_compiled(str name):
    return bool(fastsoftmax_isa_compiled(name.encode()))


def get_isa():
    return fastsoftmax_isa().decode()


def set_max_isa(str name):
    _check(fastsoftmax_set_max_isa(name.encode()))


def _set_isa(str name):
    """Force exactly this ISA (tests); returns the previous one.  ValueError if unavailable."""
    previous = get_isa()
    if fastsoftmax_set_isa(name.encode()) != FASTSOFTMAX_OK:
        raise ValueError(f"ISA {name!r} is not available here (available: {available_isas()})")
    return previous


def available_isas():
    return tuple(n for n in isa_names() if isa_available(n))


def _last_isa():
    """The ISA whose kernels ran in the most recent call."""
    return fastsoftmax_last_isa().decode()


def get_num_threads():
    return fastsoftmax_get_num_threads()


def set_num_threads(int n):
    _check(fastsoftmax_set_num_threads(n))


def openmp_version():
    """The _OPENMP date the core was built with, or 0 for a serial build."""
    return fastsoftmax_has_openmp()


def compiler():
    return fastsoftmax_compiler().decode()


def core_version():
    return fastsoftmax_version().decode()
