"""Instructions per element of fastsoftmax and its peers, counted by valgrind's callgrind.

A noisy, shared machine moves timings by 15-25% from run to run; instruction counts move little.  For
each (case, function, contender) this runs the bench engine's contender (fastsoftmax._bench, one
thread, each side allocating its result) under callgrind twice, once with N calls and once with none
(N: --calls, or more, up to 100000, so that the calls cover 2^26 elements: what differs
between two runs of the interpreter, some million instructions, is then below 0.05 per element), and
reports the difference per call and per element: the call's whole cost in instructions, Python
overhead and allocation included.

Valgrind 3.19 runs no AVX-512: under it fastsoftmax, ONNX Runtime (MLAS) and PyTorch all pick their
AVX2 + FMA kernels, so the counts compare like with like at that width (they are not AVX-512's).

Usage: python tools/instr_count.py [--cases 64x32000,...] [--functions softmax,...]
                                   [--contenders fastsoftmax,onnxruntime,...] [--calls 4]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

DEFAULT_CASES = "64x32000,512x2048,4096x1000,1x1048576"
DEFAULT_CONTENDERS = "fastsoftmax,numpy,torch,onnxruntime"

# The child: prepare one contender as the bench does, call it once (warm-up), then `calls` times.
CHILD = r"""
import sys
from fastsoftmax import _bench
name, function, case, calls = sys.argv[1], sys.argv[2], _bench.parse_case(sys.argv[3]), int(sys.argv[4])
c = _bench.get_contender(name)
ops = _bench.make_operands(function, _bench.make_input(case), case.axis)
with _bench.threads_set([c], 1):
    p = c.prepare_ops(function, ops, 1, False)
    p.call()
    for _ in range(calls):
        p.call()
"""


def instructions(name, function, case, calls):
    """Instructions callgrind counts in the child process."""
    # a fixed hash seed: the two runs then differ by the calls alone, not by the interpreter's start
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "callgrind.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               sys.executable, "-c", CHILD, name, function, case, str(calls)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"{name} {function} {case}: valgrind exited {r.returncode}: "
                               f"{r.stderr.strip().splitlines()[-1:]}")
        with open(out) as f:
            m = re.search(r"^totals:\s*(\d+)", f.read(), re.M)
        return int(m.group(1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--functions", default="softmax,log_softmax")
    ap.add_argument("--contenders", default=DEFAULT_CONTENDERS)
    ap.add_argument("--calls", type=int, default=4,
                    help="calls counted (at least; cases take more, up to 100000, so that the "
                         "calls cover 2^26 elements)")
    a = ap.parse_args(argv)
    if not shutil.which("valgrind"):
        sys.exit("instr_count: valgrind not found (Debian: apt-get install valgrind)")
    from fastsoftmax import _bench
    names = [n for n in a.contenders.split(",") if not _bench.get_contender(n).unavailable()]
    print(f"{'case':18s} {'function':12s} " + " ".join(f"{n:>12s}" for n in names)
          + "   (instructions per element per call; in brackets: / fastsoftmax's)")
    for case in a.cases.split(","):
        elements = _bench.parse_case(case).size
        calls = max(a.calls, min(100000, -(-(1 << 26) // elements)))
        for function in a.functions.split(","):
            per = {}
            for n in names:
                per[n] = (instructions(n, function, case, calls)
                          - instructions(n, function, case, 0)) / calls / elements
            base = per.get("fastsoftmax")
            cells = [f"{v:6.2f}" + (f" ({v / base:.2f})" if base and n != "fastsoftmax" else "       ")
                     for n, v in per.items()]
            print(f"{case:18s} {function:12s} " + " ".join(f"{c:>12s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
