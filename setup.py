"""Build of the fastsoftmax extension: the C core in src/libfastsoftmax plus the Cython wrapper.

Each ISA's kernels are compiled from their own file with their own target flags (never flags that tune
for the build machine or relax IEEE arithmetic), so one build runs on any CPU of its architecture and
picks its kernels at run time.
OpenMP is used when a small test program builds and runs with -fopenmp; otherwise the build is serial.
"""
import os
import platform
import shutil
import subprocess
import sys
import tempfile

import numpy

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE = os.path.join("src", "libfastsoftmax")
MACHINE = platform.machine().lower()
IS_X86 = MACHINE in ("x86_64", "amd64", "i386", "i686", "x86")
IS_ARM64 = MACHINE in ("aarch64", "arm64")

# Flags every C file gets.  -ffp-contract=off: the kernels place their fused multiply-adds by hand; a
# compiler-contracted a*b+c elsewhere would change the error-free steps of the algorithm.
COMMON_FLAGS = ["-O2", "-ffp-contract=off", "-fno-math-errno"]

# (source, flags, macro it enables) per ISA of this architecture.
if IS_X86:
    ISA_SOURCES = [
        ("isa_avx2.c", ["-mavx2", "-mfma"], "FSS_HAVE_AVX2"),
        ("isa_avx512.c", ["-mavx2", "-mfma", "-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl"],
         "FSS_HAVE_AVX512"),
    ]
elif IS_ARM64:
    ISA_SOURCES = [("isa_neon.c", [], "FSS_HAVE_NEON")]
else:
    ISA_SOURCES = []

OMP_TEST = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
#pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n > 0);
    return n > 0 ? 0 : 1;
}
"""


def _try_build_and_run(compiler, source, cflags, ldflags, run=True):
    """Compile (and run) a small C program; True if it works."""
    tmp = tempfile.mkdtemp(prefix="fss-probe-")
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        if not run:
            return True
        exe = os.path.join(tmp, "probe")
        compiler.link_executable(objs, "probe", output_dir=tmp, extra_postargs=ldflags)
        return subprocess.run([exe], capture_output=True, timeout=60).returncode == 0
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _openmp_flags(compiler):
    if os.environ.get("FASTSOFTMAX_DISABLE_OPENMP"):
        return None
    if compiler.compiler_type == "msvc":
        candidates = [(["/openmp"], [])]
    elif sys.platform == "darwin":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, ldflags in candidates:
        if _try_build_and_run(compiler, OMP_TEST, cflags, ldflags):
            return cflags, ldflags
    return None


class BuildExt(build_ext):
    def build_extension(self, ext):
        cc = self.compiler
        common = [] if cc.compiler_type == "msvc" else list(COMMON_FLAGS)
        include_dirs = ["include", CORE]
        macros = []
        objects = []
        for source, flags, macro in ISA_SOURCES:
            path = os.path.join(CORE, source)
            probe = "#include <stddef.h>\nint main(void){return 0;}\n"
            if not _try_build_and_run(cc, probe, common + flags, [], run=False):
                print(f"fastsoftmax: compiler rejects {flags}; {source} left out", file=sys.stderr)
                continue
            objects += cc.compile([path], output_dir=self.build_temp, include_dirs=include_dirs,
                                  extra_postargs=common + flags)
            macros.append((macro, "1"))
        omp = _openmp_flags(cc)
        if omp:
            ext.extra_compile_args += omp[0]
            ext.extra_link_args += omp[1]
        else:
            print("fastsoftmax: OpenMP not found; building serial", file=sys.stderr)
        ext.extra_compile_args += common
        ext.define_macros += macros
        ext.extra_objects += objects
        super().build_extension(ext)


ext = Extension(
    "fastsoftmax._core",
    sources=[
        os.path.join("src", "fastsoftmax", "_core.pyx"),
        os.path.join(CORE, "dispatch.c"),
        os.path.join(CORE, "driver.c"),
        os.path.join(CORE, "isa_scalar.c"),
    ],
    include_dirs=["include", CORE, numpy.get_include()],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
    depends=[os.path.join(CORE, f) for f in os.listdir(CORE)]
    + [os.path.join("include", "fastsoftmax.h"), os.path.join("src", "fastsoftmax", "_recycle.h")],
)

setup(ext_modules=[ext], cmdclass={"build_ext": BuildExt})
