"""The recycling of large results' memory (src/fastsoftmax/_recycle.h).

Results of 32 MiB and more come from a NumPy memory handler that keeps the latest freed block for the
next result of about its size.  These tests check that every way a result is allocated goes through it,
that a reused block gives the same values as fresh memory, that the arrays behave as NumPy's own
(resize, copy, pickle), and that small results, other sizes and the off switch leave it alone.
"""
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
from numpy._core.multiarray import get_handler_name

import fastsoftmax as fs
from fastsoftmax import _core

pytestmark = pytest.mark.skipif(
    not _core.recycling_available(),
    reason="no mmap with MADV_FREE on this platform: results come from NumPy's own allocator")

MIN = 32 << 20
ROWS, COLS = 1100, 8192  # float32: 36 MB, above MIN


@pytest.fixture(autouse=True)
def recycler():
    """Recycling on, nothing kept, before and after each test."""
    previous = _core.set_recycling(True)
    _core.release_memory()
    yield
    _core.release_memory()
    _core.set_recycling(previous)


def state():
    on, kept, reused, mapped = _core.recycling_state()
    return {"on": on, "kept": kept, "reused": reused, "mapped": mapped}


def owner(a):
    """The array that owns a's memory (a result may be a view of the array the library allocated)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def handler(a):
    return get_handler_name(owner(a))


def address(a):
    return owner(a).__array_interface__["data"][0]


def data(seed, shape=(ROWS, COLS), dtype=np.float32):
    return (np.random.default_rng(seed).standard_normal(shape) * 4).astype(dtype)


def _ce_grad(x):
    target = np.arange(x.shape[0]) % x.shape[1]
    return fs.cross_entropy_with_grad(x, target)[1]


def _ce_grad_axis0(x):
    target = np.arange(x.shape[1]) % x.shape[0]
    return fs.cross_entropy_with_grad(x, target, axis=0)[1]


# Every allocation site of a full-size result: the Cython fast path (any one axis), the Python layer
# (tuple axes, options, backward passes), the elementwise functions (contiguous and strided) and the
# gradient of cross_entropy (fast path and general path).
CALLS = {
    "softmax": lambda x: fs.softmax(x),
    "log_softmax": lambda x: fs.log_softmax(x),
    "softmax axis 0": lambda x: fs.softmax(x, axis=0),
    "softmax axes (0,)": lambda x: fs.softmax(x, axis=(0,)),
    "log_softmax scale": lambda x: fs.log_softmax(x, scale=0.5),
    "softmax_backward": lambda x: fs.softmax_backward(x, x),
    "sigmoid": lambda x: fs.sigmoid(x),
    "log_sigmoid strided": lambda x: fs.log_sigmoid(np.asfortranarray(x)[:, ::-1]),
    "cross_entropy grad": _ce_grad,
    "cross_entropy grad axis 0": _ce_grad_axis0,
    "logsumexp over a length-1 axis": lambda x: fs.logsumexp(x[..., None]),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_freed_result_is_reused_and_gives_the_same_values(name):
    call = CALLS[name]
    x1, x2 = data(1), data(2)
    _core.set_recycling(False)
    expected = call(x2)
    assert handler(expected) != "fastsoftmax_recycle"
    _core.set_recycling(True)

    first = call(x1)
    assert handler(first) == "fastsoftmax_recycle"
    where = address(first)
    before = state()
    del first
    assert state()["kept"] >= MIN
    second = call(x2)
    after = state()
    assert handler(second) == "fastsoftmax_recycle"
    assert address(second) == where
    assert after["reused"] == before["reused"] + 1 and after["mapped"] == before["mapped"]
    np.testing.assert_array_equal(second, expected)


def test_float64_and_keepdims_results():
    x = data(3, (ROWS // 2, COLS), np.float64)
    first = fs.softmax(x)
    del first
    reused = state()["reused"]
    y = fs.softmax(x)
    assert state()["reused"] == reused + 1
    np.testing.assert_array_equal(y, fs.softmax(x, out=np.empty_like(x)))
    pairs = data(4, (MIN // 4 + 16, 2))
    r = fs.logsumexp(pairs, axis=-1, keepdims=True)
    assert r.shape == (pairs.shape[0], 1) and handler(r) == "fastsoftmax_recycle"


def test_small_results_use_numpys_allocator():
    x = data(5, (ROWS // 2, COLS))  # 18 MB
    before = state()
    y = fs.softmax(x)
    del y
    assert handler(fs.log_softmax(x)) != "fastsoftmax_recycle"
    assert state() == before


def test_a_size_that_does_not_fit_maps_afresh():
    y = fs.softmax(data(6))
    del y
    kept = state()["kept"]
    assert kept >= MIN
    before = state()
    bigger = fs.softmax(data(7, (ROWS * 2, COLS)))  # does not fit: the kept block is unmapped
    after = state()
    assert after["reused"] == before["reused"] and after["mapped"] == before["mapped"] + 1
    assert after["kept"] == 0
    del bigger
    # up to an eighth smaller reuses the block; half the size does not
    smaller = fs.softmax(data(8, (ROWS * 2 - ROWS // 5, COLS)))
    assert state()["reused"] == after["reused"] + 1
    del smaller
    half = fs.softmax(data(9, (ROWS, COLS)))
    assert state()["reused"] == after["reused"] + 1
    del half


def test_recycled_arrays_behave_as_numpys():
    x = data(10)
    y = fs.softmax(x)
    assert y.flags.owndata and y.flags.writeable and y.flags.c_contiguous
    assert y.__array_interface__["data"][0] % 4096 == 0
    copy = y.copy()
    y[:] = 1.5  # writeable everywhere
    y[:] = copy
    assert pickle.loads(pickle.dumps(y)).tobytes() == copy.tobytes()
    # resize calls the handler's realloc: growing moves the data, shrinking keeps them in place
    y.resize((ROWS * 2, COLS), refcheck=False)
    np.testing.assert_array_equal(y[:ROWS], copy)
    assert not y[ROWS:].any()  # NumPy zero-fills the grown part
    y.resize((ROWS // 4, COLS), refcheck=False)
    np.testing.assert_array_equal(y, copy[: ROWS // 4])
    del y
    assert state()["kept"] >= 2 * ROWS * COLS * 4


def test_calloc_gives_zeros_even_when_a_used_block_is_kept():
    y = fs.softmax(data(11))  # nonzero everywhere
    del y
    z = _core.allocate(np.zeros, ((ROWS, COLS), np.float32), ROWS * COLS * 4)
    assert handler(z) == "fastsoftmax_recycle"
    assert not z.any()


def test_off_switch():
    assert _core.set_recycling(False) is True
    before = state()
    assert before["on"] is False and before["kept"] == 0
    y = fs.softmax(data(12))
    assert handler(y) != "fastsoftmax_recycle"
    del y
    assert state() == before
    assert _core.set_recycling(True) is False


def test_arrays_outlive_the_off_switch():
    y = fs.softmax(data(13))
    expected = y.copy()
    _core.set_recycling(False)  # unmaps only the kept block, not live arrays
    np.testing.assert_array_equal(y, expected)
    del y  # freed by the handler that allocated it
    assert state()["kept"] >= MIN
    _core.release_memory()
    assert state()["kept"] == 0


def test_threads_allocating_and_freeing_at_once(restore_threads):
    fs.set_num_threads(1)
    inputs = [data(20 + i) for i in range(2)]
    _core.set_recycling(False)
    expected = [fs.softmax(x) for x in inputs]
    _core.set_recycling(True)
    errors = []

    def work(k):
        try:
            for _ in range(6):
                y = fs.softmax(inputs[k])
                if not np.array_equal(y, expected[k]):
                    errors.append(k)
                del y
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize("value, on", [("0", False), ("1", True), ("", True)])
def test_environment_variable(value, on):
    env = dict(os.environ, FASTSOFTMAX_RECYCLE=value)
    code = "from fastsoftmax import _core; print(_core.recycling_state()[0])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(on)


def test_environment_variable_rejects_other_values():
    env = dict(os.environ, FASTSOFTMAX_RECYCLE="yes")
    out = subprocess.run([sys.executable, "-c", "import fastsoftmax"], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "FASTSOFTMAX_RECYCLE='yes' is not 0 or 1" in out.stderr
