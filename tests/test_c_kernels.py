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


# The flags setup.py compiles each ISA file with, on this architecture (COMMON_FLAGS, ISA_SOURCES).
COMMON_FLAGS = ["-O2", "-ffp-contract=off", "-fno-math-errno"]
if platform.machine().lower() in ("x86_64", "amd64"):
    ISA_FILES = [("isa_scalar.c", []), ("isa_avx2.c", ["-mavx2", "-mfma"]),
                 ("isa_avx512.c", ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"])]
elif platform.machine().lower() in ("aarch64", "arm64"):
    ISA_FILES = [("isa_scalar.c", []), ("isa_neon.c", [])]
else:
    ISA_FILES = [("isa_scalar.c", [])]


@pytest.mark.skipif(platform.system() != "Linux", reason="reads the ELF assembly listing of GCC or Clang")
@pytest.mark.parametrize("source,flags", ISA_FILES, ids=[s for s, _ in ISA_FILES])
def test_row_kernels_keep_their_prefetches(source, flags, tmp_path):
    """The row kernels prefetch the next row (and, for large outputs, the output) while they compute: a
    hint that changes no result, so no other test sees it vanish.  GCC 12 once dropped every one of them
    from row_f32 and row_f64 (a prefetch-only helper that it did not inline counted as free of side
    effects, and its calls as dead), and (512, 2048) softmax ran 1.2x slower.  Each row kernel's assembly
    must still hold prefetch instructions."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        pytest.skip("C compiler not found (set CC)")
    src = os.path.join(HERE, os.pardir, "src", "libfastsoftmax", source)
    asm = tmp_path / (source + ".s")
    subprocess.run([cc, *COMMON_FLAGS, *flags, "-S", src, "-o", str(asm)], check=True, timeout=300)
    text = asm.read_text().splitlines()
    missing = []
    # row_quad has one caller, rows(), into which GCC may inline it (it does for the scalar ISA)
    quad = "row_quad_f32" if "row_quad_f32:" in text else "rows_f32"
    for fn in ("row_f32", "row_f64", "row_pair_f32", "row_pair_f64", quad):
        start = text.index(fn + ":")  # the function's label: it must be there
        end = next(i for i in range(start, len(text)) if text[i].strip().startswith(".size") and fn in text[i])
        body = text[start:end]
        if not any(("prefetch" in line or "prfm" in line) for line in body):
            missing.append(fn)
    assert not missing, f"{source}: no prefetch instruction left in {missing}"
