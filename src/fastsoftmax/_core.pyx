# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin Cython layer over the C core (include/fastsoftmax.h).

It only unpacks typed memoryviews into pointers and element strides and releases the GIL around the
kernel; shapes, axes, dtypes, layouts and ``out=`` are normalised in Python (fastsoftmax/_api.py).
Results of 32 MiB and more are allocated through the NumPy memory handler of _recycle.h, which reuses
the memory of the latest such result freed.
"""

cimport numpy as cnp
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int64_t

import math

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
    int FASTSOFTMAX_EINDEX
    int64_t FASTSOFTMAX_NO_IGNORE
    int fastsoftmax_softmax_ex_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                                   const Py_ssize_t *xs, const Py_ssize_t *ys, const unsigned char *w,
                                   const Py_ssize_t *ws, float scale, int nt)
    int fastsoftmax_log_softmax_ex_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n,
                                       Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys,
                                       const unsigned char *w, const Py_ssize_t *ws, float scale, int nt)
    int fastsoftmax_logsumexp_ex_f32(const float *x, float *y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                                     const Py_ssize_t *xs, const Py_ssize_t *ys, const unsigned char *w,
                                     const Py_ssize_t *ws, float scale, int nt)
    int fastsoftmax_softmax_ex_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                                   const Py_ssize_t *xs, const Py_ssize_t *ys, const unsigned char *w,
                                   const Py_ssize_t *ws, double scale, int nt)
    int fastsoftmax_log_softmax_ex_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n,
                                       Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys,
                                       const unsigned char *w, const Py_ssize_t *ws, double scale, int nt)
    int fastsoftmax_logsumexp_ex_f64(const double *x, double *y, Py_ssize_t outer, Py_ssize_t n,
                                     Py_ssize_t inner, const Py_ssize_t *xs, const Py_ssize_t *ys,
                                     const unsigned char *w, const Py_ssize_t *ws, double scale, int nt)
    int fastsoftmax_cross_entropy_ex_f32(const float *x, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                                         const Py_ssize_t *xs, const int64_t *target, const Py_ssize_t *ts,
                                         const float *prob, const Py_ssize_t *ps, const float *weight,
                                         int64_t ignore_index, double eps, float *loss, const Py_ssize_t *ls,
                                         float *grad, const Py_ssize_t *gs, double grad_scale,
                                         Py_ssize_t *bad, int nt)
    int fastsoftmax_cross_entropy_ex_f64(const double *x, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                                         const Py_ssize_t *xs, const int64_t *target, const Py_ssize_t *ts,
                                         const double *prob, const Py_ssize_t *ps, const double *weight,
                                         int64_t ignore_index, double eps, double *loss, const Py_ssize_t *ls,
                                         double *grad, const Py_ssize_t *gs, double grad_scale,
                                         Py_ssize_t *bad, int nt)
    int fastsoftmax_softmax_backward_f32(const float *dy, const float *y, float *dx, Py_ssize_t outer,
                                         Py_ssize_t n, Py_ssize_t inner, const Py_ssize_t *dys,
                                         const Py_ssize_t *ys, const Py_ssize_t *dxs, int nt)
    int fastsoftmax_log_softmax_backward_f32(const float *dy, const float *y, float *dx, Py_ssize_t outer,
                                             Py_ssize_t n, Py_ssize_t inner, const Py_ssize_t *dys,
                                             const Py_ssize_t *ys, const Py_ssize_t *dxs, int nt)
    int fastsoftmax_softmax_backward_f64(const double *dy, const double *y, double *dx, Py_ssize_t outer,
                                         Py_ssize_t n, Py_ssize_t inner, const Py_ssize_t *dys,
                                         const Py_ssize_t *ys, const Py_ssize_t *dxs, int nt)
    int fastsoftmax_log_softmax_backward_f64(const double *dy, const double *y, double *dx, Py_ssize_t outer,
                                             Py_ssize_t n, Py_ssize_t inner, const Py_ssize_t *dys,
                                             const Py_ssize_t *ys, const Py_ssize_t *dxs, int nt)
    int fastsoftmax_sigmoid_f32(const float *x, float *y, Py_ssize_t n, int nt)
    int fastsoftmax_log_sigmoid_f32(const float *x, float *y, Py_ssize_t n, int nt)
    int fastsoftmax_sigmoid_f64(const double *x, double *y, Py_ssize_t n, int nt)
    int fastsoftmax_log_sigmoid_f64(const double *x, double *y, Py_ssize_t n, int nt)
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

cdef extern from "_recycle.h":
    int FSR_AVAILABLE
    size_t fsr_min
    cnp.PyDataMem_Handler *fsr_get_handler()
    void fsr_release()
    size_t fsr_kept_bytes()
    size_t fsr_reused()
    size_t fsr_mapped()


# ---------------------------------------------------------------------------------------------------
# Results of fsr_min (32 MiB) and more take their memory from the recycling handler of _recycle.h, which
# keeps the latest freed block for the next result of about its size (no page faults, no zeroing).

cdef object _recycler = PyCapsule_New(<void *>fsr_get_handler(), "mem_handler", NULL) if FSR_AVAILABLE else None
cdef bint _recycling = FSR_AVAILABLE


cdef cnp.ndarray _empty(int nd, cnp.npy_intp *dims, int t):
    """PyArray_EMPTY(nd, dims, t, 0), from the recycler when large (through allocate)."""
    cdef Py_ssize_t nbytes = 8 if t == cnp.NPY_FLOAT64 else 4
    cdef int k
    for k in range(nd):
        nbytes *= dims[k]
    if not (_recycling and <size_t>nbytes >= fsr_min):
        return cnp.PyArray_EMPTY(nd, dims, t, 0)
    return allocate(np.empty, (tuple([dims[k] for k in range(nd)]),
                               np.float64 if t == cnp.NPY_FLOAT64 else np.float32), nbytes)


def allocate(f, args, nbytes):
    """f(*args), a NumPy allocation of nbytes, with the recycler as NumPy's handler when that is large."""
    if not (_recycling and nbytes >= fsr_min):
        return f(*args)
    previous = cnp.PyDataMem_SetHandler(_recycler)
    try:
        return f(*args)
    finally:
        cnp.PyDataMem_SetHandler(previous)


def empty(shape, dtype):
    """np.empty(shape, dtype) for a result (the Python layer's results), from the recycler when large."""
    dt = np.dtype(dtype)
    return allocate(np.empty, (shape, dt), math.prod(shape) * dt.itemsize)


def empty_like(cnp.ndarray a):
    """np.empty_like(a, order="K") for a result, from the recycler when large."""
    return allocate(np.empty_like, (a, None, "K"), a.nbytes)


def recycling_available():
    """Whether this build can recycle large results (mmap and MADV_FREE)."""
    return bool(FSR_AVAILABLE)


def set_recycling(bint on):
    """Turn the recycling of large results on or off (off also unmaps the kept block); returns the
    previous setting.  Arrays already allocated are freed by the handler that allocated them."""
    global _recycling
    previous = _recycling
    _recycling = on and FSR_AVAILABLE
    if not _recycling:
        fsr_release()
    return bool(previous)


def recycling_state():
    """(on, bytes kept, blocks reused, blocks mapped) of the recycler since the start."""
    return bool(_recycling), fsr_kept_bytes(), fsr_reused(), fsr_mapped()


def release_memory():
    """Unmap the block the recycler keeps, if any."""
    fsr_release()


# Operation codes, shared with _api.py.
cdef enum:
    OP_SOFTMAX = 0
    OP_LOG_SOFTMAX = 1
    OP_LOGSUMEXP = 2
SOFTMAX, LOG_SOFTMAX, LOGSUMEXP = OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LOGSUMEXP


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


cdef void _estrides(cnp.ndarray a, Py_ssize_t *s):
    """Strides of a in elements (the Python layer guarantees multiples of the item size)."""
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(a)
    cdef int k
    for k in range(cnp.PyArray_NDIM(a)):
        s[k] = cnp.PyArray_STRIDE(a, k) // item


cdef int _float_type(cnp.ndarray a, int t, str name) except -1:
    if cnp.PyArray_TYPE(a) != t:
        raise TypeError(f"{name} must have the dtype of the logits / input")
    return 0


cdef int _ndim(cnp.ndarray a, int nd, str name) except -1:
    if cnp.PyArray_NDIM(a) != nd:
        raise ValueError(f"{name} must be {nd}-D")
    return 0


def run_ex(int op, cnp.ndarray x, cnp.ndarray y, where, double scale):
    """run() with a mask (a bool 3-D view of x's shape, any strides incl. 0, or None) and a scale."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("run_ex: x must be float32 or float64")
    _float_type(y, t, "y")
    if cnp.PyArray_NDIM(x) != 3 or cnp.PyArray_NDIM(y) != 3:
        raise ValueError("run_ex: x and y must be 3-D")
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    cdef Py_ssize_t ws[3]
    _estrides(x, xs)
    _estrides(y, ys)
    cdef const unsigned char *pw = NULL
    cdef cnp.ndarray w
    if where is not None:
        w = <cnp.ndarray>where
        if cnp.PyArray_TYPE(w) != cnp.NPY_BOOL or cnp.PyArray_NDIM(w) != 3:
            raise TypeError("run_ex: where must be a 3-D bool array")
        _estrides(w, ws)
        pw = <const unsigned char *>cnp.PyArray_DATA(w)
    cdef Py_ssize_t outer = cnp.PyArray_DIM(x, 0), n = cnp.PyArray_DIM(x, 1), inner = cnp.PyArray_DIM(x, 2)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if op == 0:
                status = fastsoftmax_softmax_ex_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys,
                                                    pw, ws, <float>scale, 0)
            elif op == 1:
                status = fastsoftmax_log_softmax_ex_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys,
                                                        pw, ws, <float>scale, 0)
            else:
                status = fastsoftmax_logsumexp_ex_f32(<const float *>px, <float *>py, outer, n, inner, xs, ys,
                                                      pw, ws, <float>scale, 0)
        else:
            if op == 0:
                status = fastsoftmax_softmax_ex_f64(<const double *>px, <double *>py, outer, n, inner, xs, ys,
                                                    pw, ws, scale, 0)
            elif op == 1:
                status = fastsoftmax_log_softmax_ex_f64(<const double *>px, <double *>py, outer, n, inner, xs,
                                                        ys, pw, ws, scale, 0)
            else:
                status = fastsoftmax_logsumexp_ex_f64(<const double *>px, <double *>py, outer, n, inner, xs, ys,
                                                      pw, ws, scale, 0)
    _check(status)


def cross_entropy(cnp.ndarray x, target, prob, weight, ignore_index, double eps, cnp.ndarray loss, grad,
                  double grad_scale):
    """Per-sample losses of the 3-D logits x (classes on axis 1) into the 2-D loss (outer, inner), and
    the gradient into the 3-D grad if not None.  target: int64 2-D (outer, inner) or None; prob: 3-D of
    x's dtype or None; weight: contiguous 1-D of x's dtype or None; ignore_index: int or None.
    Returns -1, or the flat index of the first sample whose class index is out of range."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("cross_entropy: x must be float32 or float64")
    _float_type(loss, t, "loss")
    _ndim(x, 3, "x")
    _ndim(loss, 2, "loss")
    xshape = (<object>x).shape
    samples = (xshape[0], xshape[2])
    if (<object>loss).shape != samples or (target is not None and target.shape != samples) or any(
            a is not None and a.shape != xshape for a in (prob, grad)):
        raise ValueError("cross_entropy: shapes do not match the logits'")
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ts[2]
    cdef Py_ssize_t ps[3]
    cdef Py_ssize_t ls[2]
    cdef Py_ssize_t gs[3]
    _estrides(x, xs)
    _estrides(loss, ls)
    cdef const int64_t *pt = NULL
    cdef const void *pp = NULL
    cdef const void *pwt = NULL
    cdef void *pg = NULL
    cdef cnp.ndarray a
    if target is not None:
        a = <cnp.ndarray>target
        if cnp.PyArray_TYPE(a) != cnp.NPY_INT64:
            raise TypeError("cross_entropy: target must be int64")
        _ndim(a, 2, "target")
        _estrides(a, ts)
        pt = <const int64_t *>cnp.PyArray_DATA(a)
    if prob is not None:
        a = <cnp.ndarray>prob
        _float_type(a, t, "prob")
        _ndim(a, 3, "prob")
        _estrides(a, ps)
        pp = cnp.PyArray_DATA(a)
    if weight is not None:
        a = <cnp.ndarray>weight
        _float_type(a, t, "weight")
        if not cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_SIZE(a) != cnp.PyArray_DIM(x, 1):
            raise ValueError("cross_entropy: weight must be contiguous with one entry per class")
        pwt = cnp.PyArray_DATA(a)
    if grad is not None:
        a = <cnp.ndarray>grad
        _float_type(a, t, "grad")
        _ndim(a, 3, "grad")
        _estrides(a, gs)
        pg = cnp.PyArray_DATA(a)
    cdef int64_t ign = FASTSOFTMAX_NO_IGNORE if ignore_index is None else <int64_t>ignore_index
    cdef Py_ssize_t outer = cnp.PyArray_DIM(x, 0), n = cnp.PyArray_DIM(x, 1), inner = cnp.PyArray_DIM(x, 2)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *pl = cnp.PyArray_DATA(loss)
    cdef Py_ssize_t bad = -1
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT32:
            status = fastsoftmax_cross_entropy_ex_f32(
                <const float *>px, outer, n, inner, xs, pt, ts, <const float *>pp, ps, <const float *>pwt,
                ign, eps, <float *>pl, ls, <float *>pg, gs, grad_scale, &bad, 0)
        else:
            status = fastsoftmax_cross_entropy_ex_f64(
                <const double *>px, outer, n, inner, xs, pt, ts, <const double *>pp, ps, <const double *>pwt,
                ign, eps, <double *>pl, ls, <double *>pg, gs, grad_scale, &bad, 0)
    if status == FASTSOFTMAX_EINDEX:
        return bad
    _check(status)
    return -1


def backward(bint log, cnp.ndarray dy, cnp.ndarray y, cnp.ndarray dx):
    """softmax (log False) or log_softmax (log True) backward over axis 1 of 3-D views of one dtype."""
    cdef int t = cnp.PyArray_TYPE(dy)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("backward: dy must be float32 or float64")
    _float_type(y, t, "y")
    _float_type(dx, t, "dx")
    _ndim(dy, 3, "dy")
    if (<object>y).shape != (<object>dy).shape or (<object>dx).shape != (<object>dy).shape:
        raise ValueError("backward: dy, y and dx must have one 3-D shape")
    cdef Py_ssize_t dys[3]
    cdef Py_ssize_t ys[3]
    cdef Py_ssize_t dxs[3]
    _estrides(dy, dys)
    _estrides(y, ys)
    _estrides(dx, dxs)
    cdef Py_ssize_t outer = cnp.PyArray_DIM(dy, 0), n = cnp.PyArray_DIM(dy, 1), inner = cnp.PyArray_DIM(dy, 2)
    cdef const void *pdy = cnp.PyArray_DATA(dy)
    cdef const void *py = cnp.PyArray_DATA(y)
    cdef void *pdx = cnp.PyArray_DATA(dx)
    cdef int status
    with nogil:
        if t == cnp.NPY_FLOAT32:
            if log:
                status = fastsoftmax_log_softmax_backward_f32(<const float *>pdy, <const float *>py, <float *>pdx,
                                                              outer, n, inner, dys, ys, dxs, 0)
            else:
                status = fastsoftmax_softmax_backward_f32(<const float *>pdy, <const float *>py, <float *>pdx,
                                                          outer, n, inner, dys, ys, dxs, 0)
        else:
            if log:
                status = fastsoftmax_log_softmax_backward_f64(<const double *>pdy, <const double *>py,
                                                              <double *>pdx, outer, n, inner, dys, ys, dxs, 0)
            else:
                status = fastsoftmax_softmax_backward_f64(<const double *>pdy, <const double *>py,
                                                          <double *>pdx, outer, n, inner, dys, ys, dxs, 0)
    _check(status)


cdef int _sigmoid_call(bint log, int t, const void *px, void *py, Py_ssize_t n) noexcept nogil:
    if t == cnp.NPY_FLOAT32:
        return (fastsoftmax_log_sigmoid_f32 if log else fastsoftmax_sigmoid_f32)(<const float *>px, <float *>py, n, 0)
    return (fastsoftmax_log_sigmoid_f64 if log else fastsoftmax_sigmoid_f64)(<const double *>px, <double *>py, n, 0)


def fast_elementwise(bint log, x):
    """sigmoid / log_sigmoid of a plain array (see _plain) into a new array; None for anything else."""
    if type(x) is not np.ndarray:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    if not _plain(a):
        return None
    cdef int t = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray y = _empty(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), t)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a)
    cdef const void *px = cnp.PyArray_DATA(a)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    with nogil:
        status = _sigmoid_call(log, t, px, py, n)
    _check(status)
    return y


def elementwise(bint log, cnp.ndarray x, cnp.ndarray y):
    """sigmoid (log False) or log_sigmoid (log True) of the C-contiguous x into y (same size and dtype;
    y may be x)."""
    cdef int t = cnp.PyArray_TYPE(x)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError("elementwise: x must be float32 or float64")
    _float_type(y, t, "y")
    if (not cnp.PyArray_IS_C_CONTIGUOUS(x) or not cnp.PyArray_IS_C_CONTIGUOUS(y)
            or cnp.PyArray_SIZE(x) != cnp.PyArray_SIZE(y)):
        raise ValueError("elementwise: x and y must be C-contiguous of one size")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef const void *px = cnp.PyArray_DATA(x)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    with nogil:
        status = _sigmoid_call(log, t, px, py, n)
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


cdef enum:
    # Calls on at most this many elements (a few microseconds of work, on one thread) keep the GIL:
    # releasing it and taking it back would cost a noticeable part of such a call.
    _GIL_HELD_UP_TO = 4096


cdef object _fast(int op, x, axis, out, bint keepdims):
    """The common call, with no Python-level normalisation: a plain array (see _plain), axis one int in
    range, and out None or a plain writeable array of the result's shape and dtype that is x itself
    (softmax, log_softmax) or does not overlap x.  Returns None when the call is not of that kind.  A C
    array is (outer, n, inner) over any one axis: rows for the last, columns (inner > 1) for others."""
    if type(x) is not np.ndarray or type(axis) is not int:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>x
    if not _plain(a):
        return None
    cdef int nd = cnp.PyArray_NDIM(a)
    if not -nd <= axis < nd:
        return None  # the Python layer raises AxisError
    cdef int ax = axis + nd if axis < 0 else axis
    cdef cnp.npy_intp *dims = cnp.PyArray_DIMS(a)
    cdef Py_ssize_t outer = 1, inner = 1, n = dims[ax]
    cdef int k, nk = 0
    for k in range(ax):
        outer *= dims[k]
    for k in range(ax + 1, nd):
        inner *= dims[k]
    cdef int t = cnp.PyArray_TYPE(a)
    cdef cnp.ndarray y
    cdef cnp.npy_intp kdims[64]  # NPY_MAXDIMS
    if op == 2:  # the result's shape: the reduced axis dropped, or kept with length 1
        for k in range(nd):
            if k != ax:
                kdims[nk] = dims[k]
                nk += 1
            elif keepdims:
                kdims[nk] = 1
                nk += 1
    if out is None:
        y = _empty(nk, kdims, t) if op == 2 else _empty(nd, dims, t)
    else:
        if type(out) is not np.ndarray:
            return None
        y = <cnp.ndarray>out
        if not _plain(y) or cnp.PyArray_TYPE(y) != t or not cnp.PyArray_ISWRITEABLE(y):
            return None
        if op != 2 and not cnp.PyArray_SAMESHAPE(a, y):
            return None
        if op == 2:
            if cnp.PyArray_NDIM(y) != nk:
                return None
            for k in range(nk):
                if cnp.PyArray_DIMS(y)[k] != kdims[k]:
                    return None
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    xs[0] = n * inner; xs[1] = inner; xs[2] = 1
    ys[0] = inner if op == 2 else n * inner; ys[1] = inner; ys[2] = 1
    cdef const void *px = cnp.PyArray_DATA(a)
    cdef void *py = cnp.PyArray_DATA(y)
    cdef int status
    if outer * n * inner <= _GIL_HELD_UP_TO:
        status = _call(op, t, px, py, outer, n, inner, xs, ys)
    else:
        with nogil:
            status = _call(op, t, px, py, outer, n, inner, xs, ys)
    if status == FASTSOFTMAX_EINVAL:
        return None  # out overlaps x without being x: the C core refused it, before writing anything
    _check(status)
    if op == 2 and nd == 1 and not keepdims:
        return y[()]
    return y


# ---------------------------------------------------------------------------------------------------
# The public softmax, log_softmax and logsumexp (re-exported by the package).  Written here so that the
# common call (a plain array, the last axis, no where= or scale=) costs one call into this module: it
# goes straight to _fast, and anything else to the Python layer (_api._apply), which normalises dtype,
# axis, layout and out= and comes back through run / run_ex.

cdef object _apply_fn = None


cdef object _apply(int op, x, axis, out, bint keepdims, where, scale):
    global _apply_fn
    if _apply_fn is None:  # imported on first use: _api imports this module
        from ._api import _apply as fn
        _apply_fn = fn
    return _apply_fn(op, x, axis, out, keepdims, where=where, scale=scale)


cdef inline bint _default_options(where, scale):
    return where is None and (type(scale) is float or type(scale) is int) and scale == 1


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
    if _default_options(where, scale):
        r = _fast(OP_SOFTMAX, x, axis, out, False)
        if r is not None:
            return r
    return _apply(OP_SOFTMAX, x, axis, out, False, where, scale)


def log_softmax(x, axis=-1, *, out=None, where=None, scale=1.0):
    """Log of the softmax of x over axis: x - max - log(sum(exp(x - max))), computed without forming
    the softmax (no log of an underflowed 0).

    Arguments as for :func:`softmax` (masked-out entries give -inf).  Absolute error at most
    4 * 2**-23 * max(1, |result|) in float32 (2**-52 in float64); -inf only where the exact value lies
    below the float range.  A slice with a NaN, or of -inf only, is NaN; with k entries of +inf those
    give -log(k) and the others -inf; a slice with nothing kept is -inf.
    """
    if _default_options(where, scale):
        r = _fast(OP_LOG_SOFTMAX, x, axis, out, False)
        if r is not None:
            return r
    return _apply(OP_LOG_SOFTMAX, x, axis, out, False, where, scale)


def logsumexp(x, axis=-1, *, keepdims=False, out=None, where=None, scale=1.0):
    """log(sum(exp(x))) over axis, as max + log(sum(exp(x - max))): never overflows for finite x.

    Arguments as for :func:`softmax`; ``keepdims`` keeps the reduced axes with length 1.  A size-0
    axis, or a slice with nothing kept by ``where``, gives -inf; a slice with a NaN gives NaN; all -inf
    gives -inf; any +inf gives +inf.  With ``scale`` the result is logsumexp(scale * x).  A 0-d result
    without ``out`` is returned as a NumPy scalar (as ``np.sum`` does).
    """
    if _default_options(where, scale):
        r = _fast(OP_LOGSUMEXP, x, axis, out, keepdims)
        if r is not None:
            return r
    return _apply(OP_LOGSUMEXP, x, axis, out, keepdims, where, scale)


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
