"""Batches of short rows (commit 0bea612), on every available ISA, float32 and float64, softmax,
log_softmax and logsumexp.

A short row (n <= 4 vectors: 4W elements, W = 1 scalar, 8/4 AVX2, 16/8 AVX-512, 4/2 NEON for
float32/float64) that comes in a batch is computed W rows at a time by short_lanes (the W rows
transposed so that row r is lane r); rows left over at the end of a call or of a 256-row task, and
every block of W rows in which a row has a non-finite max, go to the per-row kernels (short_pair,
softmax_short).  All of them add a row's terms in element order, as the column kernels do, so a row
must get the same bits whichever kernel takes it.  Covered:

* every n from 1 to 40, split at the short bound 4W (n <= 4W: short_lanes and the per-row short
  kernels; 4W < n <= 40: the row kernels), row counts around multiples of W (1 .. 1000, 256 + 5);
* medium rows (41 .. 257 elements, and lengths about the bound of the paired kernel: unscaled rows of
  up to 8 KiB go two at a time through row_pair, in blocks of about 16384 elements; float32 rows of
  up to 2 KiB, softmax's up to 512 bytes, four at a time through row_quad), with the same checks, and
  special values in one row of a pair;
  rows of different kinds in one batch (narrow and wide spreads, sums dominated by the max so that the
  order of the additions shows in the last bits, maxima beyond 2^14, nearly constant rows);
* the accuracy contract against the high-precision reference of conftest.py;
* the same bits as: any prefix of the batch, the batch started 3 rows later (other blocks of W), each
  row alone (1-D), the column kernel (x.T.copy() along axis 0), Fortran order, a row-strided slice of
  a wider array, x[::2], x[::-1], a gathered slice x_wide[:, ::2], 1 and 2 threads;
* NaN, +-inf, all -inf, 1e30, +-3e38 (float64: +-1e300), +-max planted in a row inside a block of W
  (and in a left-over row, and in several blocks): the block falls back; its other rows keep the
  bits they get in a clean batch, alone and through the columns;
* dominant entries (100, and 200 / 800, above the rest): softmax exactly 1 (and exactly +0 where the
  other terms underflow), log_softmax exactly +0 at the max and exactly x - m elsewhere, logsumexp
  exactly m;
* out= (contiguous, row-strided with gaps that must stay untouched, offset by one element, byte
  misaligned, reversed) and in place (contiguous and strided);
* scale = 0.3, 1 (through the options path) and 2.5 against the scaled reference of
  test_where_scale.py, and the same bits through every path above;
* maxima beyond 2^14 (1e5 + N(0, 1), 2^14 + N(0, 1), -1e5 + ...) and terms in float32's subnormal
  range (rows m, m - 90 + small noise; float64: m - 730 + noise).
"""
import numpy as np
import pytest

import fastsoftmax as fs
from conftest import FUNC_NAMES, assert_matches, call_on_isa, func_by_name, reference, ref_dtype, same_bits
from test_where_scale import ref_ws

DTYPES = [np.float32, np.float64]
DT_IDS = ["f32", "f64"]

# vector width W per ISA and dtype (floats, doubles)
WIDTH = {"scalar": (1, 1), "avx2": (8, 4), "avx512": (16, 8), "neon": (4, 2)}
ROW_COUNTS = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 257, 261, 1000]
LENGTHS = list(range(1, 41))
TASK_ROWS = 256          # FSS_ROW_BLOCK: rows per task of the short-row driver
MIN_PER_THREAD = 16384   # FSS_MIN_ELEMS_PER_THREAD: below 2x this a call runs on one thread


def width(isa, dtype):
    return WIDTH[isa][0 if np.dtype(dtype) == np.float32 else 1]


def short_bound(isa, dtype):
    return 4 * width(isa, dtype)


def spread(dtype):
    return 90.0 if np.dtype(dtype) == np.float32 else 750.0


def make_batch(rng, dtype, rows, n):
    """rows x n, each row of one of six kinds drawn at random:
    0: c + N(0, 1);  1: c + N(0, 8);  2: c + U(-spread, 0) (terms down to the flush threshold);
    3: the max c once, the rest c - U(14, 40) (float64: c - U(30, 80)): the sum is 1 + tiny, whose
       last bits depend on the order of the additions;  4: +-U(2e3, 2e5) (float64 2e6) + N(0, 1),
       beyond 2^14;  5: c + N(0, 1e-3), nearly constant.  c ~ U(-20, 20), 0 for half the rows of kind 3."""
    f32 = np.dtype(dtype) == np.float32
    kind = rng.integers(0, 6, rows)
    c = rng.uniform(-20, 20, rows)
    far = rng.choice([-1.0, 1.0], rows) * rng.uniform(2e3, 2e5 if f32 else 2e6, rows)
    c = np.where(kind == 4, far, c)
    dom = np.flatnonzero(kind == 3)
    c[dom[::2]] = 0.0   # half the dominated rows: max 0, logsumexp = log(sum), every bit of it shows
    sd = np.choose(kind, [1.0, 8.0, 0.0, 0.0, 1.0, 1e-3])
    x = c[:, None] + sd[:, None] * rng.standard_normal((rows, n))
    x = np.where((kind == 2)[:, None], c[:, None] + rng.uniform(-spread(dtype), 0, (rows, n)), x)
    gap = rng.uniform(14, 40, (rows, n)) if f32 else rng.uniform(30, 80, (rows, n))
    x = np.where((kind == 3)[:, None], c[:, None] - gap, x)
    x[dom, rng.integers(0, n, dom.size)] = c[dom]
    return x.astype(dtype)


def _bits_differ(got, want):
    """Boolean array (per element) of positions whose bits differ (NaN matches any NaN)."""
    got = np.asarray(got)
    want = np.asarray(want)
    nan = np.isnan(got) & np.isnan(want)
    return ~nan & ((got != want) | (np.signbit(got) != np.signbit(want)))


def diff_report(name, got, want, W, x=None):
    """None if got and want hold the same bits, else one line naming the slices that differ."""
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"{name}: shape/dtype {got.shape} {got.dtype} vs {want.shape} {want.dtype}"
    if same_bits(got, want):
        return None
    ne = _bits_differ(got, want)
    rows = np.flatnonzero(ne.reshape(ne.shape[0], -1).any(axis=1))
    r = int(rows[0])
    j = int(np.flatnonzero(ne[r].reshape(-1))[0]) if ne.ndim == 2 else 0
    g = np.ravel(got[r])[j]
    w = np.ravel(want[r])[j]
    extra = ""
    if x is not None:
        xr = np.asarray(x)[r]
        extra = f"; that row's max {xr.max()!r}, x[{j}] = {xr[j]!r}"
    return (f"{name}: {rows.size} slice(s) differ, first rows {rows[:6].tolist()} (row {r}: position "
            f"{r % W} in its block of W={W}; element {j}: {g!r} vs {w!r}){extra}")


def alone(f, x, **kw):
    """Each row of x alone (1-D calls), stacked."""
    return np.array([f(x[i], **kw) for i in range(x.shape[0])], dtype=x.dtype)


def column(f, x, func, **kw):
    """The rows of x through the column kernel: x.T.copy() reduced over axis 0."""
    r = f(np.ascontiguousarray(x.T), 0, **kw)
    return r if func == "logsumexp" else r.T


def layouts(f, func, x, **kw):
    """(name, result comparable with f(x)) for the layouts of the same rows that go through the
    short-row driver (row-strided, every other row, reversed), the column kernel (x.T.copy(), Fortran
    order) and the gathered path; each row alone too."""
    R, n = x.shape
    lse = func == "logsumexp"
    out = [("each row alone", alone(f, x, **kw)), ("column kernel (x.T.copy(), axis 0)", column(f, x, func, **kw)),
           ("Fortran order", f(np.asfortranarray(x), -1, **kw))]
    wide = np.full((R, n + 5), np.nan, x.dtype)
    wide[:, 2:2 + n] = x
    out.append(("row-strided x_wide[:, 2:2+n]", f(wide[:, 2:2 + n], -1, **kw)))
    out.append(("reversed x[::-1]", f(x[::-1], -1, **kw)[::-1]))
    if R >= 2:
        twice = np.repeat(x, 2, axis=0)
        twice[1::2] = np.nan
        out.append(("every other row x2[::2]", f(twice[::2], -1, **kw)))
    # gathered (inner stride 2): the per-row kernels on a scratch row (scaled: the options path)
    g = np.zeros((R, 2 * n), x.dtype)
    g[:, ::2] = x
    out.append(("gathered x_wide[:, ::2]", f(g[:, ::2], -1, **kw)))
    if lse:
        out.append(("keepdims", f(x, -1, keepdims=True, **kw)[:, 0]))
    return out


def check_batches(isa, func, dtype, lengths, seed, scale=None, R=None):
    """The body of the batch tests (R rows); returns the failures (strings)."""
    f = func_by_name(func)
    W = width(isa, dtype)
    kw = {} if scale is None else {"scale": scale}
    failures = []
    if R is None:
        R = 1000 if scale is None else 261
    for n in lengths:
        rng = np.random.default_rng([seed, n])
        x = make_batch(rng, dtype, R, n)
        full = call_on_isa(isa, f, x, -1, **kw)
        ref = reference(func, x, -1) if scale is None else ref_ws(func, x, -1, None, scale)
        try:
            assert_matches(func, full, ref, dtype, context=f"[{isa}] n={n} scale={scale} rows={R}", x=x)
        except AssertionError as e:
            failures.append(str(e))
        for rows in ROW_COUNTS:
            for start in (0, 3, W + 1):
                if rows > R or start + rows > R or (start == 0 and rows == R):
                    continue
                got = f(x[start:start + rows], -1, **kw)
                d = diff_report(f"n={n}: rows [{start}:{start + rows}] of the batch", got,
                                full[start:start + rows], W, x[start:start + rows])
                if d:
                    failures.append(d)
        for name, got in layouts(f, func, x, **kw):
            d = diff_report(f"n={n}: {name}", got, full, W, x)
            if d:
                failures.append(d)
        if scale is not None and float(scale) == 1.0:
            d = diff_report(f"n={n}: scale=1 (options path) vs no scale", full, f(x), W, x)
            if d:
                failures.append(d)
    return failures


def fail_if(failures, header):
    assert not failures, header + f" ({len(failures)} failure(s)):\n  " + "\n  ".join(failures[:16])


# ---------------------------------------------------------------- batches: accuracy and the same bits

def beyond_lengths(isa, dtype):
    """n in (4W, 40]: the first 8 past the bound, then every third."""
    B = short_bound(isa, dtype)
    return [n for n in LENGTHS if B < n <= B + 8 or (n > B + 8 and (n - B) % 3 == 0) or n == 40]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_short_row_batches(isa, func, dtype):
    """n <= 4W: short_lanes, leftovers through short_pair / softmax_short, single rows."""
    lengths = [n for n in LENGTHS if n <= short_bound(isa, dtype)]
    fail_if(check_batches(isa, func, dtype, lengths, 1),
            f"[{isa}] {func} {np.dtype(dtype).name} short rows (n <= {short_bound(isa, dtype)})")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_batches_beyond_short_bound(isa, func, dtype):
    """4W < n <= 40: the row kernels (the short-row driver takes n <= 64 in blocks of 256 rows, each row
    by the row kernel), against the reference and, bit for bit, the column kernel and the other layouts.
    The rows of kind 3 (a sum of 1 + tiny: log_softmax at the max is -log(sum), logsumexp with max 0
    is log(sum)) show any difference in the order in which a kernel adds the terms."""
    lengths = beyond_lengths(isa, dtype)
    if not lengths:
        pytest.skip(f"4W = {short_bound(isa, dtype)} >= 40")
    fail_if(check_batches(isa, func, dtype, lengths, 2),
            f"[{isa}] {func} {np.dtype(dtype).name} rows of {lengths[0]}..{lengths[-1]}")


MEDIUM_LENGTHS = [41, 64, 65, 100, 128, 129, 200, 255, 256, 257]
PAIR_ROW_BYTES = 8192    # FSS_PAIR_ROW_BYTES: unscaled rows up to this size go two at a time


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_medium_row_batches(isa, func, dtype):
    """Medium rows go to the short-row driver in blocks of an even number of rows and two at a time to
    row_pair: every row must get the bits it gets alone and through the columns, in any prefix or
    offset of the batch (a row's place in its pair), and meet the reference."""
    fail_if(check_batches(isa, func, dtype, MEDIUM_LENGTHS, 7),
            f"[{isa}] {func} {np.dtype(dtype).name} medium rows")


QUAD_ROW_BYTES, QUAD_SOFTMAX_ROW_BYTES = 2048, 512  # FSS_QUAD_*: float32 rows up to these go four at a time


@pytest.mark.parametrize("func", FUNC_NAMES)
def test_quad_row_batches(isa, func):
    """Float32 rows about the bounds of row_quad (FSS_QUAD_ROW_BYTES, FSS_QUAD_SOFTMAX_ROW_BYTES): four
    at a time below, two at a time above; in prefixes and offsets of the batch a row is first, second,
    third or fourth of its quad, or in a pair or alone after the quads.  The checks of the medium rows."""
    lengths = sorted({b // 4 + d for b in (QUAD_ROW_BYTES, QUAD_SOFTMAX_ROW_BYTES) for d in (-1, 0, 1)})
    fail_if(check_batches(isa, func, np.float32, lengths, 9, R=70),
            f"[{isa}] {func} float32 rows about the quad bounds")


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_wide_pair_row_batches(isa, func, dtype):
    """Rows about the paired kernel's bound, FSS_PAIR_ROW_BYTES (float32 2048, float64 1024 elements),
    rows of 1000 and 4000 bytes (log_softmax's pairs prefetch their output from 2560 bytes on), and
    longer rows, which go to the kernel in blocks of rows, each row's exp pass fused with the next
    row's max pass (rows_seq, with 512-bit vectors): the checks of the medium rows on 70 rows."""
    b = PAIR_ROW_BYTES // np.dtype(dtype).itemsize
    lengths = [1000 // np.dtype(dtype).itemsize, 4000 // np.dtype(dtype).itemsize, b - 1, b, b + 1, 3 * b + 5]
    fail_if(check_batches(isa, func, dtype, lengths, 8, R=70),
            f"[{isa}] {func} {np.dtype(dtype).name} rows about the pair bound")


# ---------------------------------------------------------------- scaled

def scales(dtype):
    return [0.3, np.dtype(dtype).type(1.0), 2.5]


SCALE_IDS = ["s0.3", "s1-options", "s2.5"]


@pytest.mark.parametrize("si", range(3), ids=SCALE_IDS)
@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_scaled_short_row_batches(isa, func, dtype, si):
    """scale != 1 is fused into short_lanes and the short kernels (sc, scaled = (s, 1) or (2s, 2));
    the dtype's scalar 1.0 takes the options path with scale 1 (and must give the bits of the plain
    call).  Against ref_ws (test_where_scale.py); the same bits through the columns, alone, strided."""
    scale = scales(dtype)[si]
    lengths = [n for n in LENGTHS if n <= short_bound(isa, dtype)]
    fail_if(check_batches(isa, func, dtype, lengths, 3, scale=scale),
            f"[{isa}] {func} {np.dtype(dtype).name} scale={scale!r} short rows")


@pytest.mark.parametrize("si", range(3), ids=SCALE_IDS)
@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_scaled_batches_beyond_short_bound(isa, func, dtype, si):
    """4W < n <= 40 with a scale: row_scaled per row (the short-row driver), against the columns."""
    scale = scales(dtype)[si]
    lengths = beyond_lengths(isa, dtype)[::2]
    if not lengths:
        pytest.skip(f"4W = {short_bound(isa, dtype)} >= 40")
    fail_if(check_batches(isa, func, dtype, lengths, 4, scale=scale),
            f"[{isa}] {func} {np.dtype(dtype).name} scale={scale!r} rows of {lengths[0]}..{lengths[-1]}")


# ---------------------------------------------------------------- threads

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_thread_count_same_bits(isa, func, dtype, restore_threads):
    """Enough rows (>= 2 tasks of 256 rows, >= 2 x 16384 elements) for two threads; the rows split at
    task boundaries (multiples of W) whatever the thread count: 1 and 2 threads, plain and scaled,
    rows and columns, give the same bits."""
    f = func_by_name(func)
    W = width(isa, dtype)
    failures = []
    for n in sorted({1, 3, 8, 17, 33, 40, short_bound(isa, dtype) - 1, short_bound(isa, dtype)} - {0}):
        rows = max(1000, -(-2 * MIN_PER_THREAD // n) + 37)
        assert rows > TASK_ROWS and rows * n >= 2 * MIN_PER_THREAD
        x = make_batch(np.random.default_rng([5, n]), dtype, rows, n)
        for kw in ({}, {"scale": 0.3}):
            fs.set_num_threads(1)
            base = call_on_isa(isa, f, x, -1, **kw)
            base_col = column(f, x, func, **kw)
            if n <= short_bound(isa, dtype):   # longer rows against the columns: the beyond tests
                d = diff_report(f"n={n} {kw} 1 thread: columns vs rows", base_col, base, W, x)
                if d:
                    failures.append(d)
            fs.set_num_threads(2)
            for name, got, want in (("rows", call_on_isa(isa, f, x, -1, **kw), base),
                                    ("columns", column(f, x, func, **kw), base_col),
                                    ("rows from row 5", np.concatenate([base[:5], f(x[5:], -1, **kw)]), base)):
                d = diff_report(f"n={n} {kw} 2 threads: {name}", got, want, W, x)
                if d:
                    failures.append(d)
    fail_if(failures, f"[{isa}] {func} {np.dtype(dtype).name} thread counts")


# ---------------------------------------------------------------- special values inside a block of W

def plant(row, kind, rng, dtype):
    """Plant special value(s) of KIND in ROW (in place)."""
    dt = np.dtype(dtype).type
    n = row.size
    p = int(rng.integers(0, n))
    q = (p + 1 + n // 2) % n
    r = (p + 1) % n
    huge = dt(3e38) if dt == np.float32 else dt(1e300)
    big = np.finfo(dtype).max
    if kind == "nan":
        row[p] = np.nan
    elif kind == "+inf":
        row[p] = np.inf
    elif kind == "-inf":
        row[p] = -np.inf
    elif kind == "all -inf":
        row[:] = -np.inf
    elif kind == "all +inf":
        row[:] = np.inf
    elif kind == "nan and +inf":
        row[q] = np.inf
        row[p] = np.nan
    elif kind == "+inf twice, -inf":
        row[p] = np.inf
        row[q] = np.inf
        if r not in (p, q):
            row[r] = -np.inf
    elif kind == "all -inf but one":
        v = row[p]
        row[:] = -np.inf
        row[p] = v
    elif kind == "all -inf, nan":
        row[:] = -np.inf
        row[p] = np.nan
    elif kind == "1e30":
        row[p] = dt(1e30)
    elif kind == "-1e30":
        row[p] = dt(-1e30)
    elif kind == "huge, -huge":
        row[q] = -huge
        row[p] = huge
    elif kind == "-huge":
        row[p] = -huge
    elif kind == "max, -max":
        row[q] = -big
        row[p] = big
    else:
        raise ValueError(kind)


SPECIAL_KINDS = ["nan", "+inf", "-inf", "all -inf", "all +inf", "nan and +inf", "+inf twice, -inf",
                 "all -inf but one", "all -inf, nan", "1e30", "-1e30", "huge, -huge", "-huge", "max, -max"]


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_special_value_in_a_block(isa, func, dtype):
    """R = 3W + 5 rows: blocks of W and five left over.  A special value in row W + 1 (second block),
    row 2W - 1 (the last lane of a block), the last row (left over), or in rows 0, W + 1, 2W + 2 and
    3W - 1 (three blocks; several in one block when W is small): the result to the
    reference; every row the same bits alone and through the columns; rows without the special
    value the same bits as in the clean batch (their block fell back to the per-row kernels; for the
    medium rows n = 65, 128, 256, 1000, the quad or pair holding the special row falls back to SFX(row); for
    n = 3000, the row alone, between rows whose passes are fused)."""
    f = func_by_name(func)
    W = width(isa, dtype)
    R = 3 * W + 5
    B = short_bound(isa, dtype)
    failures = []
    lengths = sorted({1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 65, 128, 256, 1000, 3000, B - 1, B, B + 1} - {0})
    for n in lengths:
        rng = np.random.default_rng([6, n])
        base = make_batch(rng, dtype, R, n)
        for scale in (None, 0.3):
            kw = {} if scale is None else {"scale": scale}
            clean = call_on_isa(isa, f, base, -1, **kw)
            for kind in SPECIAL_KINDS:
                for targets in ((W + 1,), (2 * W - 1,), (R - 1,),
                                (0, W + 1, 2 * W + 2, 3 * W - 1))[0 if scale is None else 3:]:
                    x = base.copy()
                    for t in targets:
                        plant(x[t], kind, rng, dtype)
                    ctx = f"n={n} scale={scale} {kind!r} in rows {targets}"
                    got = call_on_isa(isa, f, x, -1, **kw)
                    ref = reference(func, x, -1) if scale is None else ref_ws(func, x, -1, None, scale)
                    try:
                        with np.errstate(all="ignore"):
                            assert_matches(func, got, ref, dtype, context=f"[{isa}] {ctx}", x=x)
                    except AssertionError as e:
                        failures.append(str(e))
                    keep = np.setdiff1d(np.arange(R), targets)
                    for name, want in (("clean batch", clean[keep]),):
                        d = diff_report(f"{ctx}: rows without it vs the {name}", got[keep], want, W, x[keep])
                        if d:
                            failures.append(d)
                    for name, other in (("alone", alone(f, x, **kw)), ("columns", column(f, x, func, **kw))):
                        d = diff_report(f"{ctx}: {name}", other, got, W, x)
                        if d:
                            failures.append(d)
    fail_if(failures, f"[{isa}] {func} {np.dtype(dtype).name} special values in blocks of W={W}")


# ---------------------------------------------------------------- dominant entries

@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_dominant_entry_rows(isa, dtype):
    """Rows with one entry `gap` above all others (max at position r % n in row r; 261 rows: blocks,
    leftovers, a second task).  gap 100: the sum rounds to exactly 1, so softmax is exactly 1 at the
    max, log_softmax exactly +0 there and exactly x - m (rounded) elsewhere, logsumexp exactly m; the
    other softmax entries to the bound (float32: subnormal, may be flushed).  gap 200 (float32) / 800
    (float64): every other term underflows, softmax exactly +0 there (as tests/test_expx.py)."""
    dt = np.dtype(dtype).type
    wide = ref_dtype(dtype).type
    rng = np.random.default_rng(7)
    R = 261
    maxima = np.array([0.0, 1.5, -3.0, 50.0, -700.25, 1e4, -2e4, 12345.5], dtype)
    failures = []
    for n in LENGTHS:
        for gap in (100.0, 200.0 if dt == np.float32 else 800.0):
            m = maxima[rng.integers(0, maxima.size, R)]
            x = (m.astype(np.float64)[:, None] - gap - rng.uniform(0, 30, (R, n))).astype(dtype)
            pos = np.arange(R) % n
            x[np.arange(R), pos] = m
            at = np.zeros((R, n), bool)
            at[np.arange(R), pos] = True
            want_ls = (x.astype(wide) - m.astype(wide)[:, None]).astype(dtype)
            sm_paths = [("batch", call_on_isa(isa, fs.softmax, x)), ("alone", alone(fs.softmax, x)),
                        ("columns", column(fs.softmax, x, "softmax"))]
            ls_paths = [("batch", call_on_isa(isa, fs.log_softmax, x)), ("alone", alone(fs.log_softmax, x)),
                        ("columns", column(fs.log_softmax, x, "log_softmax"))]
            lse_paths = [("batch", call_on_isa(isa, fs.logsumexp, x)), ("alone", alone(fs.logsumexp, x)),
                         ("columns", column(fs.logsumexp, x, "logsumexp"))]
            ctx = f"n={n} gap={gap}"
            for name, sm in sm_paths:
                if not (sm[at] == 1).all():
                    r = int(np.flatnonzero(sm[at] != 1)[0])
                    failures.append(f"{ctx} {name}: softmax at the max of row {r} is {sm[at][r]!r}, not 1")
                others = sm[~at]
                if gap > 150 and not ((others == 0).all() and not np.signbit(others).any()):
                    failures.append(f"{ctx} {name}: softmax off the max not +0: {others[others != 0][:4]}")
                if (others < 0).any() or np.isnan(others).any():
                    failures.append(f"{ctx} {name}: softmax off the max negative or NaN")
                try:
                    assert_matches("softmax", sm, reference("softmax", x), dtype, context=f"{ctx} {name}", x=x)
                except AssertionError as e:
                    failures.append(str(e))
            for name, ls in ls_paths:
                if not ((ls[at] == 0).all() and not np.signbit(ls[at]).any()):
                    r = int(np.flatnonzero((ls[at] != 0) | np.signbit(ls[at]))[0])
                    failures.append(f"{ctx} {name}: log_softmax at the max of row {r} is {ls[at][r]!r}, not +0")
                if not np.array_equal(ls[~at], want_ls[~at]):
                    bad = np.flatnonzero(ls[~at] != want_ls[~at])
                    failures.append(f"{ctx} {name}: log_softmax off the max != x - m at {bad.size} entries, "
                                    f"e.g. {ls[~at][bad[0]]!r} vs {want_ls[~at][bad[0]]!r}")
            for name, lse in lse_paths:
                if not np.array_equal(lse, m):
                    r = int(np.flatnonzero(lse != m)[0])
                    failures.append(f"{ctx} {name}: logsumexp of row {r} is {lse[r]!r}, not its max {m[r]!r}")
    fail_if(failures, f"[{isa}] {np.dtype(dtype).name} dominant entries")


# ---------------------------------------------------------------- out= and in place

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_out_and_in_place(isa, func, dtype):
    """out= contiguous, row-strided (the gaps and the columns around must stay untouched), offset by
    one element, byte-misaligned, with reversed rows; in place, contiguous and row-strided; the same
    bits as the plain call, plain and scaled."""
    f = func_by_name(func)
    W = width(isa, dtype)
    dt = np.dtype(dtype)
    lse = func == "logsumexp"
    sentinel = dt.type(-7.25)
    failures = []
    B = short_bound(isa, dtype)
    for n in sorted({1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, B - 1, B} - {0}):
        for R in sorted({1, 2, W - 1, W, W + 1, 2 * W + 3, 37, TASK_ROWS + 5} - {0}):
            x = make_batch(np.random.default_rng([8, n, R]), dtype, R, n)
            for kw in ({}, {"scale": 2.5}):
                want = call_on_isa(isa, f, x, -1, **kw)
                ctx = f"n={n} rows={R} {kw}"
                shape = (R,) if lse else (R, n)
                checks = []
                o = np.empty(shape, dt)
                checks.append(("out= contiguous", f(x, -1, out=o, **kw), o, None))
                if lse:
                    buf = np.full(3 * R, sentinel, dt)
                    o = buf[1::3]
                    res = f(x, -1, out=o, **kw)
                    gaps = np.delete(buf, np.arange(1, 3 * R, 3))
                    checks.append(("out= strided (every third)", res, o, gaps))
                    o = np.full((R, 1), sentinel, dt)
                    res = f(x, -1, out=o, keepdims=True, **kw)
                    checks.append(("out= keepdims", res, o, None))
                else:
                    buf = np.full((R, n + 5), sentinel, dt)
                    o = buf[:, 2:2 + n]
                    res = f(x, -1, out=o, **kw)
                    gaps = np.concatenate([buf[:, :2].ravel(), buf[:, 2 + n:].ravel()])
                    checks.append(("out= row-strided", res, o, gaps))
                flat = np.full(R * (1 if lse else n) + 2, sentinel, dt)
                o = flat[1:-1].reshape(shape)
                checks.append(("out= offset by one element", f(x, -1, out=o, **kw), o, flat[[0, -1]]))
                raw = np.zeros(o.size * dt.itemsize + 1, np.uint8)
                o = raw[1:].view(dt).reshape(shape)
                checks.append(("out= byte-misaligned", f(x, -1, out=o, **kw), o, None))
                o = np.empty(shape, dt)[::-1]
                checks.append(("out= reversed rows", f(x, -1, out=o, **kw), o, None))
                if not lse:
                    xc = x.copy()
                    checks.append(("in place", f(xc, -1, out=xc, **kw), xc, None))
                    xw = np.full((R, n + 3), sentinel, dt)
                    xw[:, 1:1 + n] = x
                    v = xw[:, 1:1 + n]
                    res = f(v, -1, out=v, **kw)
                    checks.append(("in place row-strided", res, v,
                                   np.concatenate([xw[:, :1].ravel(), xw[:, 1 + n:].ravel()])))
                for name, res, target, gaps in checks:
                    if res is not target:
                        failures.append(f"{ctx} {name}: did not return out")
                    d = diff_report(f"{ctx} {name}", target.reshape(want.shape), want, W, x)
                    if d:
                        failures.append(d)
                    if gaps is not None and not (gaps == sentinel).all():
                        failures.append(f"{ctx} {name}: wrote outside the output: {gaps[gaps != sentinel][:4]}")
    fail_if(failures, f"[{isa}] {func} {dt.name} out= / in place")


# ---------------------------------------------------------------- large maxima, subnormal terms

@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", DTYPES, ids=DT_IDS)
def test_large_maxima_and_subnormal_terms(isa, func, dtype):
    """Rows whose max lies beyond 2^14 (the float32 expx bound; 2^20 for float64): 1e5 + N(0, 1),
    -1e5 + N(0, 1), 2^14 + N(0, 1), 2^20 + N(0, 1), 1e7 (float64) - interleaved in one batch; and rows
    m, m - 90 + N(0, 0.5) (float64: m - 730 + N(0, 2)) whose other terms are float32 (float64)
    subnormals or flushed, m in {0, -88, 3, 1e5}.  Plain and scaled 0.3 / 2.5: the reference, and
    the same bits alone and through the columns."""
    f = func_by_name(func)
    W = width(isa, dtype)
    dt = np.dtype(dtype).type
    f32 = dt == np.float32
    failures = []
    R = 3 * W + 7
    for n in sorted({1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 32, 33, 40, short_bound(isa, dtype)}):
        rng = np.random.default_rng([9, n])
        centers = [1e5, -1e5, 2.0 ** 14, -2.0 ** 14, 2.0 ** 20] + ([] if f32 else [1e7, -1e12])
        c = np.array(centers)[np.arange(R) % len(centers)]
        big = (c[:, None] + rng.standard_normal((R, n))).astype(dtype)
        sub = np.empty((R, n), dtype)
        m = np.array([0.0, -88.0, 3.0, 1e5])[np.arange(R) % 4]
        low, sd = (90.0, 0.5) if f32 else (730.0, 2.0)
        sub[:] = (m[:, None] - low + sd * rng.standard_normal((R, n))).astype(dtype)
        sub[np.arange(R), np.arange(R) % n] = m.astype(dtype)
        for label, x in (("large max", big), ("subnormal terms", sub)):
            for kw in ({}, {"scale": 0.3}, {"scale": 2.5}):
                ctx = f"{label} n={n} {kw}"
                got = call_on_isa(isa, f, x, -1, **kw)
                ref = reference(func, x, -1) if not kw else ref_ws(func, x, -1, None, kw["scale"])
                try:
                    assert_matches(func, got, ref, dtype, context=f"[{isa}] {ctx}", x=x)
                except AssertionError as e:
                    failures.append(str(e))
                if func == "softmax" and ((got < 0).any() or np.isnan(got).any()):
                    failures.append(f"{ctx}: softmax negative or NaN")
                paths = [("alone", alone(f, x, **kw)),
                         ("rows from row 1", np.concatenate([got[:1], f(x[1:], -1, **kw)]))]
                if n <= short_bound(isa, dtype):   # longer rows against the columns: the beyond tests
                    paths.append(("columns", column(f, x, func, **kw)))
                for name, other in paths:
                    d = diff_report(f"{ctx}: {name}", other, got, W, x)
                    if d:
                        failures.append(d)
    fail_if(failures, f"[{isa}] {func} {np.dtype(dtype).name} large maxima / subnormal terms")
