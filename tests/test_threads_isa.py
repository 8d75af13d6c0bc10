"""Threading and ISA dispatch: get/set_num_threads (values and errors),
bit-identical results for 1, 2 and 3 threads on large inputs (last and
non-last axes, tuple/None axes, NaN/inf sprinkled in), the environment
variables FASTSOFTMAX_NUM_THREADS and FASTSOFTMAX_MAX_ISA (checked in
subprocesses, including the import failures for bad values), get_isa /
available_isas / _set_isa / _last_isa, show_config output and __version__.
"""
import os
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core
from conftest import ALL_ISAS, FUNC_NAMES, call_on_isa, func_by_name, same_bits

X86_ORDER = ["scalar", "avx2", "avx512"]
ARM_ORDER = ["scalar", "neon"]


def isa_order():
    avail = set(fs.available_isas())
    if avail & {"avx2", "avx512"}:
        return X86_ORDER
    if "neon" in avail:
        return ARM_ORDER
    m = platform.machine().lower()
    return ARM_ORDER if m in ("aarch64", "arm64") else X86_ORDER


def best_available():
    avail = set(fs.available_isas())
    return [i for i in isa_order() if i in avail][-1]


# ---------------------------------------------------------------- threads

def test_get_num_threads_positive_int():
    n = fs.get_num_threads()
    assert isinstance(n, int) and n >= 1


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_set_get_num_threads(restore_threads, n):
    fs.set_num_threads(n)
    assert fs.get_num_threads() == n
    x = np.random.default_rng(n).standard_normal((50, 300))
    np.testing.assert_allclose(fs.softmax(x).sum(axis=1), 1, rtol=1e-13)


@pytest.mark.parametrize("bad", [0, -1, -100])
def test_set_num_threads_value_error(restore_threads, bad):
    before = fs.get_num_threads()
    with pytest.raises(ValueError):
        fs.set_num_threads(bad)
    assert fs.get_num_threads() == before


@pytest.mark.parametrize("bad", [1.0, 2.5, "2", None, [2], b"2"])
def test_set_num_threads_type_error(restore_threads, bad):
    before = fs.get_num_threads()
    with pytest.raises(TypeError):
        fs.set_num_threads(bad)
    assert fs.get_num_threads() == before


def _sprinkle(x, rng):
    flat = x.reshape(-1)
    n = flat.size
    flat[rng.integers(0, n, 20)] = np.nan
    flat[rng.integers(0, n, 20)] = np.inf
    flat[rng.integers(0, n, 200)] = -np.inf
    return x


def _thread_inputs(dtype):
    rng = np.random.default_rng(123)
    a = (rng.standard_normal((64, 32000)) * 20).astype(dtype)
    _sprinkle(a, rng)
    a[5] = -np.inf                          # an all -inf row
    a[6, :] = rng.uniform(90, 100, 32000)
    yield "64x32000 axis=-1", a, -1
    yield "64x32000 axis=0", a, 0
    yield "64x32000 axis=None", a, None
    b = (rng.standard_normal((4, 3000, 33)) * 5).astype(dtype)
    yield "4x3000x33 axis=1", b, 1
    yield "4x3000x33 axis=(0,1)", b, (0, 1)
    c = (rng.uniform(-50, 50, 1_000_003)).astype(dtype)
    yield "1e6 row", c, -1
    e = (rng.standard_normal((2, 300_001)) * 30).astype(dtype)  # long rows: fewer rows than threads
    e[1, 200_000] = np.inf
    yield "2x300001 (one +inf)", e, -1
    d = c[::-1][:900_000].reshape(300, 3000)
    yield "strided reversed 300x3000 axis=0", d, 0


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bit_identical_across_thread_counts(isa, restore_threads, func, dtype):
    f = func_by_name(func)
    for name, x, axis in _thread_inputs(dtype):
        results = {}
        for nt in (1, 2, 3):
            fs.set_num_threads(nt)
            results[nt] = call_on_isa(isa, f, x, axis)
        for nt in (2, 3):
            assert same_bits(results[1], results[nt]), (
                f"{func} {np.dtype(dtype)} {name}: {nt} threads differ from 1 thread "
                f"at {np.argwhere(~((results[1] == results[nt]) | (np.isnan(results[1]) & np.isnan(results[nt]))))[:5].tolist()}")
        # out= and in-place go through the same partitioning
        if func != "logsumexp":
            fs.set_num_threads(2)
            y = x.copy()
            f(y, axis, out=y)
            assert same_bits(results[1], y), f"{func} {name}: in place with 2 threads"


@pytest.mark.parametrize("dtype", [np.float16])
def test_bit_identical_float16(restore_threads, dtype):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((64, 20000)) * 4).astype(dtype)
    for func in FUNC_NAMES:
        for axis in (-1, 0):
            fs.set_num_threads(1)
            r1 = func_by_name(func)(x, axis)
            fs.set_num_threads(2)
            r2 = func_by_name(func)(x, axis)
            assert same_bits(r1, r2), (func, axis)


# ---------------------------------------------------------------- ISA

def test_available_isas():
    avail = fs.available_isas()
    assert isinstance(avail, tuple)
    assert "scalar" in avail
    assert set(avail) <= set(ALL_ISAS)
    assert len(set(avail)) == len(avail)
    assert fs.get_isa() in avail


def test_get_isa_default_is_best_in_clean_env():
    code = "import fastsoftmax as fs; print(fs.get_isa()); print(','.join(fs.available_isas()))"
    r = _run(code, {})
    assert r.returncode == 0, r.stderr
    chosen, avail = r.stdout.split()
    avail = avail.split(",")
    order = X86_ORDER if set(avail) & {"avx2", "avx512"} else ARM_ORDER
    assert chosen == [i for i in order if i in avail][-1]


def test_set_isa_returns_previous_and_validates():
    prev = _core._set_isa("scalar")
    try:
        assert prev in fs.available_isas()
        assert _core._set_isa("scalar") == "scalar"
        fs.softmax(np.ones(40, np.float32))
        assert _core._last_isa() == "scalar"
        for name in ALL_ISAS:
            if name not in fs.available_isas():
                with pytest.raises(ValueError):
                    _core._set_isa(name)
        for bogus in ["sse2", "AVX9", "", "scalar "]:
            with pytest.raises(ValueError):
                _core._set_isa(bogus)
        # a failed call leaves the forced ISA unchanged
        fs.logsumexp(np.ones(40))
        assert _core._last_isa() == "scalar"
    finally:
        _core._set_isa(prev)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_last_isa_tracks_forced_isa(isa, func, dtype):
    f = func_by_name(func)
    for shape, axis in [((100,), -1), ((3, 50), -1), ((50, 3), 0), ((4, 5, 6), (0, 2)),
                        ((4, 5), None), ((1,), -1)]:
        call_on_isa(isa, f, np.ones(shape, dtype), axis)


def test_switching_isa_changes_last_isa():
    avail = fs.available_isas()
    if len(avail) < 2:
        pytest.skip(f"only one ISA available: {avail}")
    prev = _core._set_isa(avail[0])
    try:
        for name in list(avail) + list(avail[::-1]):
            _core._set_isa(name)
            fs.softmax(np.ones((2, 64), np.float32))
            assert _core._last_isa() == name
    finally:
        _core._set_isa(prev)


@pytest.mark.parametrize("func", FUNC_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_isas_agree(func, dtype):
    """All ISAs meet the same bound, so they agree to within twice of it."""
    avail = fs.available_isas()
    x = (np.random.default_rng(9).standard_normal((7, 1001)) * 30).astype(dtype)
    res = {}
    prev = _core._set_isa("scalar")
    try:
        for name in avail:
            _core._set_isa(name)
            res[name] = call_on_isa(name, func_by_name(func), x, -1)
    finally:
        _core._set_isa(prev)
    eps = np.finfo(dtype).eps
    for name in avail:
        np.testing.assert_allclose(res[name], res["scalar"], rtol=16 * eps, atol=16 * eps,
                                   err_msg=f"{name} vs scalar")


# ---------------------------------------------------------------- env vars

def _clean_env(extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FASTSOFTMAX_")}
    env.update(extra)
    return env


def _run(code, extra_env):
    return subprocess.run([sys.executable, "-c", code], env=_clean_env(extra_env),
                          capture_output=True, text=True, timeout=120)


def _names_value(stderr, value):
    pat = r"(?<![\w.+-])" + re.escape(value) + r"(?![\w.])"
    return re.search(pat, stderr) is not None


@pytest.mark.parametrize("value", ["0", "-3", "abc", "2.5", "1x"])
def test_bad_num_threads_env_fails_import(value):
    r = _run("import fastsoftmax", {"FASTSOFTMAX_NUM_THREADS": value})
    assert r.returncode != 0, f"import succeeded with FASTSOFTMAX_NUM_THREADS={value!r}"
    assert "FASTSOFTMAX_NUM_THREADS" in r.stderr, r.stderr
    assert _names_value(r.stderr, value), f"value {value!r} not named in:\n{r.stderr}"


@pytest.mark.parametrize("value", ["1", "2", "3"])
def test_num_threads_env(value):
    r = _run("import fastsoftmax as fs; print(fs.get_num_threads())",
             {"FASTSOFTMAX_NUM_THREADS": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == value


@pytest.mark.parametrize("value", ["sse4", "avx", "avx1024", "fast", "scalar2"])
def test_bad_max_isa_env_fails_import(value):
    r = _run("import fastsoftmax", {"FASTSOFTMAX_MAX_ISA": value})
    assert r.returncode != 0, f"import succeeded with FASTSOFTMAX_MAX_ISA={value!r}"
    assert "FASTSOFTMAX_MAX_ISA" in r.stderr, r.stderr
    assert _names_value(r.stderr, value), f"value {value!r} not named in:\n{r.stderr}"


CHECK_ISA = ("import numpy as np, fastsoftmax as fs; from fastsoftmax import _core; "
             "fs.softmax(np.ones((3, 100), np.float32)); "
             "print(fs.get_isa(), _core._last_isa())")


@pytest.mark.parametrize("value", ["scalar", "SCALAR", "Scalar"])
def test_max_isa_scalar(value):
    r = _run(CHECK_ISA, {"FASTSOFTMAX_MAX_ISA": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["scalar", "scalar"]


@pytest.mark.parametrize("value", ["AVX2", "avx2", "Avx2"])
def test_max_isa_avx2_case_insensitive(value):
    if "avx2" not in fs.available_isas():
        pytest.skip(f"CPU/build lacks avx2 (available: {', '.join(fs.available_isas())})")
    r = _run(CHECK_ISA, {"FASTSOFTMAX_MAX_ISA": value})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["avx2", "avx2"]


def test_max_isa_above_available_caps_at_best():
    order = isa_order()
    top = order[-1]
    r = _run(CHECK_ISA, {"FASTSOFTMAX_MAX_ISA": top.upper()})
    assert r.returncode == 0, r.stderr
    best = best_available()
    assert r.stdout.split() == [best, best]


def test_max_isa_each_level():
    avail = set(fs.available_isas())
    order = isa_order()
    for i, cap in enumerate(order):
        r = _run(CHECK_ISA, {"FASTSOFTMAX_MAX_ISA": cap})
        assert r.returncode == 0, (cap, r.stderr)
        want = [x for x in order[:i + 1] if x in avail][-1]
        assert r.stdout.split() == [want, want], cap


# ---------------------------------------------------------------- misc

def test_show_config(capsys):
    ret = fs.show_config()
    assert ret is None
    out = capsys.readouterr().out
    low = out.lower()
    for word in ["compiler", "compiled", "chosen", "isa", "openmp", "thread"]:
        assert word in low, f"show_config output lacks {word!r}:\n{out}"
    # the version: the number itself must be there (the word is optional)
    assert fs.__version__ in out, out
    assert fs.get_isa() in low
    assert str(fs.get_num_threads()) in out


def test_version():
    v = fs.__version__
    assert isinstance(v, str) and v
    assert re.match(r"^\d+(\.\d+)*", v), v


def test_bit_identical_many_threads(restore_threads):
    """More threads than cores or than slices: still bit-identical."""
    rng = np.random.default_rng(77)
    for shape, axis in [((1000, 3), 0), ((3, 1000), -1), ((1, 4099), -1),
                        ((5, 7, 9), (0, 2)), ((2, 100003), -1), ((100003, 2), 0)]:
        for dtype in (np.float32, np.float64):
            x = (rng.standard_normal(shape) * 10).astype(dtype)
            x.reshape(-1)[::97] = np.nan
            x.reshape(-1)[5::89] = -np.inf
            for func in FUNC_NAMES:
                fs.set_num_threads(1)
                r1 = func_by_name(func)(x, axis)
                for nt in (2, 5, 16):
                    fs.set_num_threads(nt)
                    assert same_bits(r1, func_by_name(func)(x, axis)), (shape, axis, func, nt)


def test_concurrent_python_threads(restore_threads):
    """Calls from several Python threads at once give the serial results."""
    import threading
    fs.set_num_threads(2)
    rng = np.random.default_rng(0)
    xs = [(rng.standard_normal((200, 3000)) * 10).astype(dt)
          for dt in (np.float32, np.float64, np.float16)]
    jobs = [(func, x, axis) for func in FUNC_NAMES for x in xs for axis in (-1, 0)]
    serial = [func_by_name(f)(x, a) for f, x, a in jobs]
    results = [[] for _ in jobs]
    errors = []

    def work(i):
        try:
            f, x, a = jobs[i]
            for _ in range(3):
                results[i].append(func_by_name(f)(x, a))
        except Exception as e:          # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for (f, x, a), want, got in zip(jobs, serial, results):
        for g in got:
            assert same_bits(want, g), (f, x.dtype, a)
