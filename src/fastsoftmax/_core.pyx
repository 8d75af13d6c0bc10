# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython layer over the C core (include/fastsoftmax.h).

It only unpacks typed memoryviews into pointers and element strides and releases the GIL around the
kernel; shapes, axes, dtypes, layouts and ``out=`` are normalised in Python (fastsoftmax/_api.py).
"""
from cython cimport floating

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


def run(int op, const floating[:, :, :] x, floating[:, :, :] y):
    """Apply op over axis 1 of the non-empty 3-D view x into y.

    y has x's shape, or (outer, 1, inner) for LOGSUMEXP.  y may be x itself; no other overlap.
    """
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    cdef Py_ssize_t k
    cdef int status
    cdef Py_ssize_t item = sizeof(floating)
    for k in range(3):
        xs[k] = x.strides[k] // item
        ys[k] = y.strides[k] // item
    cdef const floating *px = &x[0, 0, 0]
    cdef floating *py = &y[0, 0, 0]
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    with nogil:
        if floating is float:
            if op == 0:
                status = fastsoftmax_softmax_f32(px, py, outer, n, inner, xs, ys, 0)
            elif op == 1:
                status = fastsoftmax_log_softmax_f32(px, py, outer, n, inner, xs, ys, 0)
            else:
                status = fastsoftmax_logsumexp_f32(px, py, outer, n, inner, xs, ys, 0)
        else:
            if op == 0:
                status = fastsoftmax_softmax_f64(px, py, outer, n, inner, xs, ys, 0)
            elif op == 1:
                status = fastsoftmax_log_softmax_f64(px, py, outer, n, inner, xs, ys, 0)
            else:
                status = fastsoftmax_logsumexp_f64(px, py, outer, n, inner, xs, ys, 0)
    _check(status)


def _exp_f32(const float[::1] x):
    """The library's float32 SIMD exp on [-87.33, 0] (tests and tools/exp_accuracy.py)."""
    import numpy as np
    out = np.empty(x.shape[0], dtype=np.float32)
    cdef float[::1] y = out
    if x.shape[0]:
        with nogil:
            fastsoftmax_exp_f32(&x[0], &y[0], x.shape[0])
    return out


def _exp_f64(const double[::1] x):
    """The library's float64 SIMD exp on [-708.39, 0]."""
    import numpy as np
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
