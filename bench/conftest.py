"""pytest-benchmark suites for fastsoftmax; see bench/README.md.

Cases, peers, inputs, reference and thread handling all come from
``fastsoftmax._bench`` (the engine behind ``python -m fastsoftmax bench``).
Every test function benchmarks one contender (fastsoftmax, a peer, or the
np.copyto roof) on one (function, case, dtype, threads) unit; all contenders
of a unit share one ``benchmark.group``.  A test module names its function
with ``FUNCTION = "softmax"``, or (several functions in one module) each test
is named ``test_<function>``.

Selection (command line option, or environment variable):
  --fs-cases NAME,...     FASTSOFTMAX_BENCH_CASES    (default: all but the large case;
                                                      the loss family: its own cases)
  --fs-large              FASTSOFTMAX_BENCH_LARGE=1  (add the 512 MiB case 4096x32768)
  --fs-dtypes DT,...      FASTSOFTMAX_BENCH_DTYPES   (default: each case's own dtype)
  --fs-threads N,...      FASTSOFTMAX_BENCH_THREADS  (default: 1 and fastsoftmax's default)
  --fs-peers P,...        FASTSOFTMAX_BENCH_PEERS    (default: numpy,scipy,torch,onnxruntime)
  --fs-out                FASTSOFTMAX_BENCH_OUT=1    (write into preallocated outputs)
"""

import os

import pytest

import fastsoftmax as fs
from fastsoftmax import _bench as B


def pytest_addoption(parser):
    g = parser.getgroup("fastsoftmax bench", "fastsoftmax benchmark selection (bench/)")
    g.addoption("--fs-cases", metavar="NAME,...", default=None,
                help="cases by name or shape, e.g. 4096x1000,64x32000 or 2048x512@0 "
                     "(env FASTSOFTMAX_BENCH_CASES; default: all but the large one)")
    g.addoption("--fs-large", action="store_true", default=False,
                help="include the 512 MiB out-of-cache case 4096x32768 (GiBs of RAM, minutes) "
                     "(env FASTSOFTMAX_BENCH_LARGE=1)")
    g.addoption("--fs-dtypes", metavar="DT,...", default=None,
                help="run each case in these dtypes (env FASTSOFTMAX_BENCH_DTYPES)")
    g.addoption("--fs-threads", metavar="N,...", default=None,
                help="thread counts (env FASTSOFTMAX_BENCH_THREADS; default: 1 and "
                     "fastsoftmax's default)")
    g.addoption("--fs-peers", metavar="P,...", default=None,
                help="peers (env FASTSOFTMAX_BENCH_PEERS; default: all of "
                     + ",".join(B.PEERS) + ", skipped when not installed)")
    g.addoption("--fs-out", action="store_true", default=False,
                help="write into preallocated outputs (env FASTSOFTMAX_BENCH_OUT=1)")


def _opt(config, name, env):
    v = config.getoption(name)
    if v in (None, False):
        v = os.environ.get(env) or None
    return v


def _csv(s):
    return [i.strip() for i in s.split(",") if i.strip()] if s else None


def _truthy(v):
    return bool(v) and str(v).lower() not in ("0", "false", "no", "")


def _selection(config, function):
    names = _csv(_opt(config, "--fs-cases", "FASTSOFTMAX_BENCH_CASES"))
    large = _truthy(_opt(config, "--fs-large", "FASTSOFTMAX_BENCH_LARGE"))
    if names is None:  # the function's own default cases (B.FUNCTION_CASES)
        cases = B.default_cases(function, include_large=large)
    else:
        cases = B.select_cases(names, include_large=large)
    dtypes = _csv(_opt(config, "--fs-dtypes", "FASTSOFTMAX_BENCH_DTYPES"))
    threads = _csv(_opt(config, "--fs-threads", "FASTSOFTMAX_BENCH_THREADS"))
    threads = [int(t) for t in threads] if threads else sorted({1, fs.get_num_threads()})
    peers = _csv(_opt(config, "--fs-peers", "FASTSOFTMAX_BENCH_PEERS")) or list(B.PEERS)
    unknown = [p for p in peers if p not in B.PEERS]
    if unknown:
        raise pytest.UsageError(f"unknown peer(s) {unknown}; known: {', '.join(B.PEERS)}")
    out = _truthy(_opt(config, "--fs-out", "FASTSOFTMAX_BENCH_OUT"))
    return B.case_units(cases, dtypes), threads, peers, out


class Unit:
    """One contender on one (function, case, dtype, threads) unit."""

    def __init__(self, function, case, dtype, threads, contender, out):
        self.function, self.case, self.dtype = function, case, dtype
        self.threads, self.contender, self.out = threads, contender, out

    @property
    def group(self):
        return (f"{self.function} {B.case_label(self.case, self.dtype)} "
                f"t={self.threads}" + (" out" if self.out else ""))


def _function_of(metafunc):
    function = getattr(metafunc.module, "FUNCTION", None)
    if function is None:
        name = metafunc.function.__name__
        function = name[len("test_"):] if name.startswith("test_") else name
    if function not in B.ALL_FUNCTIONS:
        raise pytest.UsageError(f"{metafunc.function.__name__}: unknown function {function!r} "
                                f"(known: {', '.join(B.ALL_FUNCTIONS)})")
    return function


def pytest_generate_tests(metafunc):
    if "fs_unit" not in metafunc.fixturenames:
        return
    function = _function_of(metafunc)
    try:
        units, threads, peers, out = _selection(metafunc.config, function)
    except ValueError as e:
        raise pytest.UsageError(str(e))
    params = []
    names = [B.FASTSOFTMAX] + peers + [B.ROOF]
    for case, dtype in units:
        unit_why = B.unit_unsupported(function, case)
        for t in threads:
            for name in names:
                why = unit_why or B.get_contender(name).unavailable()
                u = Unit(function, case, dtype, t, name, out)
                pid = f"{case.name}-{dtype}-t{t}-{name}"
                marks = [pytest.mark.skip(reason=why)] if why else []
                params.append(pytest.param(u, id=pid, marks=marks))
    metafunc.parametrize("fs_unit", params)


# One input at a time: the units are ordered case by case, so consecutive
# tests reuse it (the large case's input is 512 MiB), with the operands and
# reference of each function on it.
_INPUT = {}


def _input(case, dtype):
    key = (case.shape, case.axis, dtype)
    if key not in _INPUT:
        _INPUT.clear()
        _INPUT[key] = (B.make_input(case, dtype), {}, {})
    return _INPUT[key]


def _operands(u):
    x, ops, refs = _input(u.case, u.dtype)
    if u.function not in ops:
        ops[u.function] = B.make_operands(u.function, x, u.case.axis)
    return ops[u.function], refs


@pytest.fixture
def run_unit(benchmark):
    """Call ``run_unit(fs_unit)``: check, then benchmark one contender."""

    def run(u):
        ops, refs = _operands(u)
        x = ops.x
        c = B.get_contender(u.contender)
        why = c.unsupported_ops(u.function, ops, u.out)
        if why:
            pytest.skip(why)
        benchmark.group = u.group
        with B.threads_set([c], u.threads):
            try:
                p = c.prepare_ops(u.function, ops, u.threads, u.out)
                r = p.call()
            except Exception as e:
                if u.contender == B.FASTSOFTMAX:
                    raise
                pytest.skip(f"{u.contender} cannot run this case: {type(e).__name__}: {e}")
            if not c.is_roof:
                if u.function not in refs:
                    refs[u.function] = B.reference(u.function, ops)
                bad = B.check_result(u.function, p.to_numpy(r), refs[u.function], x.dtype)
                if bad and u.contender == B.FASTSOFTMAX:
                    pytest.fail(f"fastsoftmax gives a wrong result: {bad}")
                if bad:
                    pytest.skip(f"{u.contender} gives a wrong result: {bad}")
            written = B.result_nbytes(u.function, x, u.case.axis,
                                      None if c.is_roof else p.to_numpy(r))
            del r
            benchmark.extra_info.update({
                "contender": u.contender, "function": u.function, "case": u.case.name,
                "shape": list(u.case.shape), "axis": u.case.axis, "dtype": u.dtype,
                "threads": u.threads, "out": u.out,
                "bytes_read": int(x.nbytes if c.is_roof else ops.nbytes_read),
                "bytes_written": int(x.nbytes if c.is_roof else written),
            })
            if p.note:
                benchmark.extra_info["note"] = p.note
            benchmark(p.call)
        stats = getattr(benchmark, "stats", None)
        if stats:  # None under --benchmark-disable
            med = stats["median"]
            moved = benchmark.extra_info["bytes_read"] + benchmark.extra_info["bytes_written"]
            benchmark.extra_info["elements_per_s"] = x.size / med
            benchmark.extra_info["GB/s"] = moved / med / 1e9

    return run
