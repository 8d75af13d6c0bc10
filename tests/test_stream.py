"""Row-parallel calls with an output of at least 32 MiB write it by non-temporal stores, through a scratch
row (softmax) or straight from the input (log_softmax); those with an output of 8 to 32 MiB (in rows of
at least 2560 bytes, one or two at a time) prefetch it for writing; every other row call prefetches the
next row.  Those paths must give the bits of the ordinary row kernels: checked here against the same
rows computed one call per row (small outputs: plain stores), on every ISA, for aligned and unaligned
outputs, in place, and with 1 and 2 threads."""
import numpy as np
import pytest

import fastsoftmax as fs
from conftest import assert_matches, call_on_isa, reference, same_bits

STREAM_BYTES = 32 << 20
PREFETCH_BYTES = 8 << 20


def _rows(dtype, n, nbytes):
    rows = -(-nbytes // (n * np.dtype(dtype).itemsize))   # just past the threshold
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((rows, n)) * 6).astype(dtype)
    x[3, 5] = np.nan                      # a NaN row
    x[4] = -np.inf                        # an all -inf row
    x[5, 7] = np.inf                      # a +inf row
    x[6] += dtype(3e4)                    # a max beyond the fast exp's range (float: 2^14)
    x[7, 11] = dtype(300 if dtype == np.float32 else 1000)  # dominant: exactly 1 and 0 (underflow)
    return x


@pytest.mark.parametrize("nbytes,pairs", [(STREAM_BYTES, False), (PREFETCH_BYTES, False), (PREFETCH_BYTES, True)],
                         ids=["streamed", "prefetched", "prefetched-pairs"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", ["softmax", "log_softmax"])
def test_streamed_rows_match_row_kernels(isa, restore_threads, dtype, func, nbytes, pairs):
    # odd lengths: rows start at every alignment; rows of up to 8 KiB go two at a time (row_pair)
    if pairs:
        n = 1001 if dtype == np.float32 else 501
    else:
        n = 4099 if dtype == np.float32 else 1031
    x = _rows(dtype, n, nbytes)
    f = getattr(fs, func)
    # one row per call: a 16 KiB / 8 KiB output, written by plain stores
    check = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, x.shape[0] // 2, x.shape[0] - 1]
    want = np.stack([call_on_isa(isa, f, x[r]) for r in check])
    for nt in (1, 2):
        fs.set_num_threads(nt)
        got = call_on_isa(isa, f, x)
        assert same_bits(got[check], want), f"{func} {np.dtype(dtype)} nt={nt}"
        # an output one element off every vector alignment: heads and tails stored plainly
        big = np.empty(x.size + 1, dtype)
        out = big[1:].reshape(x.shape)
        call_on_isa(isa, f, x, out=out)
        assert same_bits(out[check], want), f"{func} unaligned out= nt={nt}"
        y = x.copy()
        call_on_isa(isa, f, y, out=y)
        assert same_bits(y[check], want), f"{func} in place nt={nt}"
    assert_matches(func, got[8:12], reference(func, x[8:12], -1), np.dtype(dtype))
    if func == "softmax":
        assert got[7, 11] == 1 and not got[7, np.arange(n) != 11].any()


def test_prefetch_beyond_last_row(isa, restore_threads):
    """The last row of a block has no next row to prefetch; a view ending at the last row of a larger
    array, and rows of every length class, give the per-row bits."""
    rng = np.random.default_rng(9)
    base = rng.standard_normal((70, 3000)).astype(np.float32) * 5
    x = base[:33]
    for nt in (1, 2, 3):
        fs.set_num_threads(nt)
        for f in (fs.softmax, fs.log_softmax, fs.logsumexp):
            got = call_on_isa(isa, f, x, axis=-1)
            for r in (0, 16, 32):
                assert same_bits(got[r], call_on_isa(isa, f, x[r])), (f.__name__, nt, r)
