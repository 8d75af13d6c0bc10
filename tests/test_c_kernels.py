"""The C kernel tables checked directly by tests/c/kernel_check.c, one test per build variant:

* native:      isa_scalar.c + the host's ISA files (AVX2 / AVX-512 tables skipped at run time when the
               CPU lacks them; NEON on an AArch64 host);
* avx512-emu:  isa_avx512.c built over SIMDe (-DFSS_EMULATE_AVX512), so the AVX-512 kernels are tested
               on CPUs without AVX-512;
* neon-qemu:   isa_neon.c cross-compiled for AArch64 and run under qemu-aarch64.

Each builds the harness into tmp_path with tests/c/build_and_run.sh and requires exit status 0; a
variant whose tools are missing is skipped with the reason (status 77 from the script).
"""
import os
import platform
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "c", "build_and_run.sh")
SKIP_STATUS = 77

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None,
    reason="the C kernel harness needs bash, a POSIX system and mmap",
)


def _run_variant(variant, tmp_path, timeout=300):
    env = dict(os.environ, BUILD_DIR=str(tmp_path))
    proc = subprocess.run(
        ["bash", SCRIPT, variant],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    out = proc.stdout
    if proc.returncode == SKIP_STATUS:
        reasons = [line[len("SKIP: "):] for line in out.splitlines() if line.startswith("SKIP: ")]
        pytest.skip(reasons[0] if reasons else f"{variant}: a required tool is missing")
    # the summary is useful in -rA / -s runs and on failure
    print(out)
    assert proc.returncode == 0, f"kernel_check ({variant}) failed with status {proc.returncode}:\n{out[-20000:]}"
    assert "PASSED" in out
    return out


def test_c_kernels_native(tmp_path):
    if shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("C compiler not found (set CC)")
    _run_variant("native", tmp_path)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="the SIMDe AVX-512 build needs an x86-64 host with AVX2")
def test_c_kernels_avx512_emulated(tmp_path):
    _run_variant("avx512-emu", tmp_path)


def test_c_kernels_neon_qemu(tmp_path):
    if shutil.which(os.environ.get("CROSS_CC", "aarch64-linux-gnu-gcc")) is None or \
            shutil.which(os.environ.get("QEMU", "qemu-aarch64")) is None:
        pytest.skip("aarch64 cross compiler or qemu-aarch64 not installed "
                    "(apt-get install gcc-aarch64-linux-gnu qemu-user)")
    _run_variant("neon-qemu", tmp_path)
