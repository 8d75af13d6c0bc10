"""Agreement with scipy.special.softmax / log_softmax / logsumexp for several
shapes, axes (ints, tuples, None) and dtypes, within a loose tolerance
(scipy computes in the input precision and is itself less exact)."""
import numpy as np
import pytest
import scipy.special as sps

import fastsoftmax as fs
from conftest import FUNC_NAMES, func_by_name

CASES = [((10,), -1), ((10,), 0), ((10,), None), ((4, 5), -1), ((4, 5), 0),
         ((4, 5), (0, 1)), ((4, 5), None), ((3, 4, 5), 1), ((3, 4, 5), (0, 2)),
         ((3, 4, 5), (2, 1)), ((3, 4, 5), None), ((2, 3, 4, 5), -2),
         ((2, 3, 4, 5), (0, 3)), ((2, 3, 4, 5), (1, 2, 3)), ((1, 1000), -1),
         ((1000, 3), 0)]

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", CASES, ids=repr)
def test_agrees_with_scipy(func, dtype, shape, axis):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    for scale in (1.0, 20.0):
        x = (rng.standard_normal(shape) * scale).astype(dtype)
        got = np.asarray(func_by_name(func)(x, axis))
        want = np.asarray(getattr(sps, func)(x.astype(np.float64), axis=axis))
        tol = TOL[dtype]
        assert got.shape == want.shape
        if func == "softmax":
            np.testing.assert_allclose(got, want, rtol=tol, atol=1e-30)
        else:
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_keepdims_agrees_with_scipy(dtype):
    x = np.random.default_rng(0).standard_normal((3, 4, 5)).astype(dtype)
    for axis in [0, 1, 2, (0, 2), None]:
        got = np.asarray(fs.logsumexp(x, axis, keepdims=True))
        want = sps.logsumexp(x.astype(np.float64), axis=axis, keepdims=True)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_special_values_agree_with_scipy(func):
    # (rows with +inf are left out: scipy gives NaN there, fastsoftmax 1/k)
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, -np.inf, 3.0],
                  [0.5, np.nan, 1.0], [1e300, -1e300, 0.0]])
    with np.errstate(all="ignore"):
        want = np.asarray(getattr(sps, func)(x, axis=-1))
    got = np.asarray(func_by_name(func)(x, -1))
    np.testing.assert_allclose(got, want, rtol=1e-14, equal_nan=True)
