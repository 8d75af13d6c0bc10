"""tools/kernel_bench.py, whose figures the README quotes, builds and runs."""
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_kernel_bench_runs():
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip(f"no C compiler ({cc})")
    cmd = [sys.executable, str(ROOT / "tools" / "kernel_bench.py"), "--rounds", "1", "--target-s", "1e-5",
           "--passes", "100", "--isa", "scalar", "--dtype", "float64", "8x100", "5x3@0"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# scalar, float64, one thread, cycles per element")
    labels = [line for line in lines if not line.startswith(("#", " "))]
    assert labels == ["row of 100:", "8x100:", "5x3@0:"]
    rows = [line.split() for line in lines if line.startswith(" ")]
    names = [r[0] for r in rows]
    assert names == ["max", "exp_sum_for_log", "exp_store_sum", "scale", "log_sub", "softmax", "log_softmax",
                     "logsumexp"] + ["softmax", "log_softmax", "logsumexp"] * 2
    for r in rows:
        assert r[1] == "[0]" and float(r[2]) > 0, r


def test_kernel_bench_rejects_a_bad_axis():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "kernel_bench.py"), "8x100@2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and re.search(r"axis 2 out of range", out.stderr)
