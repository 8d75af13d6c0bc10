"""A row's bits do not depend on where its input and output lie in memory.  The max pass and the output
pass of the row kernels take the elements before the first vector boundary first (a masked head), so
that their other loads and stores are aligned; the exp pass keeps its order.  Checked here on every ISA:
rows at every element offset within a vector (x and y apart and together, in place), with the max, a NaN
or an infinity in the head, against the same row computed from aligned memory."""
import numpy as np
import pytest

import fastsoftmax as fs
from conftest import FUNC_NAMES, assert_matches, call_on_isa, reference, same_bits

VECTOR_BYTES = 64  # the widest vector (AVX-512); narrower ones divide it


def _at(n, dtype, offset):
    """An empty 1-D array of n elements starting `offset` elements past a 64-byte boundary."""
    item = np.dtype(dtype).itemsize
    raw = np.empty(n * item + 2 * VECTOR_BYTES, np.uint8)
    start = (-raw.ctypes.data) % VECTOR_BYTES + offset * item
    return raw[start:start + n * item].view(dtype)


def _rows(n, dtype):
    """Rows of length n: ordinary ones, and ones whose max, NaN or infinity sits in the first elements
    (the masked head of a misaligned row) or at the end."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((8, n)) * 5).astype(dtype)
    x[1, 2] = 40          # the max in the head, far above the rest
    x[2, 0] = 40          # the max at the first element
    x[3, n - 1] = 40      # the max at the last element
    x[4, 3] = np.nan
    x[5, 1] = np.inf
    x[6, :] = -np.inf
    x[6, 5] = -1.0        # one finite element, in the head
    x[7, :2] = 7          # a tied max in the head
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [65, 67, 130, 1000, 4099])
@pytest.mark.parametrize("func", FUNC_NAMES)
def test_row_bits_independent_of_alignment(isa, func, n, dtype):
    f = getattr(fs, func)
    rows = _rows(n, dtype)
    lanes = VECTOR_BYTES // np.dtype(dtype).itemsize
    for r, row in enumerate(rows):
        x0 = _at(n, dtype, 0)
        x0[...] = row
        if func == "logsumexp":
            want = call_on_isa(isa, f, x0)
        else:
            want = _at(n, dtype, 0)
            call_on_isa(isa, f, x0, out=want)
        for xo in range(lanes):
            x = _at(n, dtype, xo)
            x[...] = row
            if func == "logsumexp":
                assert same_bits(call_on_isa(isa, f, x), want), f"row {r}, x at +{xo}"
                continue
            for yo in sorted({xo, 0, (xo + 5) % lanes}):
                y = _at(n, dtype, yo)
                call_on_isa(isa, f, x, out=y)
                assert same_bits(y, want), f"row {r}, x at +{xo}, y at +{yo}"
            call_on_isa(isa, f, x, out=x)
            assert same_bits(x, want), f"row {r}, in place at +{xo}"
    ordinary = rows[:4]
    assert_matches(func, f(ordinary[:, 1:]), reference(func, ordinary[:, 1:], -1), np.dtype(dtype))


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_batch_rows_at_every_alignment(isa, func, restore_threads):
    """A batch whose rows are one element longer than a multiple of a vector starts each row at another
    alignment; every row gets the bits it gets alone, with 1 and 2 threads."""
    n = 16 * 40 + 1
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((40, n)) * 4).astype(np.float32)
    x[np.arange(40), np.arange(40) % 16] = 30     # each row's max in its first 16 elements
    f = getattr(fs, func)
    want = np.stack([call_on_isa(isa, f, x[r].copy()) for r in range(40)])
    for nt in (1, 2):
        fs.set_num_threads(nt)
        assert same_bits(call_on_isa(isa, f, x), want), f"nt={nt}"
