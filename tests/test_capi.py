"""The C library and its C API, built with CMake from the same sources as the extension.

Each test runs steps of tests/capi/run_all.sh in its own tmp_path:

1. test_capi_ctest:          configure + build (tests and examples) + ctest;
2. test_capi_ctest_sanitize: the same with -DFASTSOFTMAX_SANITIZE=ON (AddressSanitizer + UBSan);
3. test_capi_cpp_example:    cmake --install into a prefix, then examples/cpp (its own CMake project)
                             through find_package(fastsoftmax), with the shared and the static library;
4. test_capi_pkgconfig:      cmake --install, then a C program built with
                             `pkg-config --cflags --libs fastsoftmax` (and --static) and run.

They need bash, cmake (any cmake >= 3.16 on PATH, pip's included), a build tool (make or ninja) and a
C compiler (and a C++ compiler for 3, pkg-config for 4); without one they skip and say which.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "capi", "run_all.sh")
TIMEOUT = 600

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or shutil.which("bash") is None,
    reason="the C API tests need bash and a POSIX system",
)


def _first_tool(env_var, candidates):
    """The tool named by env_var (a command, maybe with arguments) or the first candidate on PATH."""
    named = os.environ.get(env_var)
    if named:
        return named if shutil.which(named.split()[0]) else None
    for c in candidates:
        if shutil.which(c):
            return c
    return None


def _environment(need_cxx=False, need_pkg_config=False):
    cmake = os.environ.get("CMAKE", "cmake")
    if shutil.which(cmake) is None:
        pytest.skip("cmake not installed")
    cc = _first_tool("CC", ["cc", "gcc", "clang"])
    if cc is None:
        pytest.skip("no C compiler")
    env = dict(os.environ, CMAKE=cmake, CC=cc, JOBS=os.environ.get("JOBS", "2"))
    if not os.environ.get("CMAKE_GENERATOR"):
        if shutil.which("make") or shutil.which("gmake"):
            pass  # CMake's default generator
        elif shutil.which("ninja"):
            env["CMAKE_GENERATOR"] = "Ninja"
        else:
            pytest.skip("no build tool (make or ninja) for cmake")
    if need_cxx:
        cxx = _first_tool("CXX", ["c++", "g++", "clang++"])
        if cxx is None:
            pytest.skip("no C++ compiler")
        env["CXX"] = cxx
    if need_pkg_config and shutil.which(os.environ.get("PKG_CONFIG", "pkg-config")) is None:
        pytest.skip("pkg-config not installed")
    return env


def _run_steps(tmp_path, *steps, **needs):
    env = _environment(**needs)
    env["WORK_DIR"] = str(tmp_path)
    proc = subprocess.run(
        ["bash", SCRIPT, *steps],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
    )
    out = proc.stdout
    print(out[-20000:])  # shown with -rA / -s and on failure
    assert proc.returncode == 0, f"run_all.sh {' '.join(steps)} failed with status {proc.returncode}:\n{out[-20000:]}"
    assert "ALL PASSED" in out
    return out


def _ctest_summary(out):
    # "100% tests passed out of 8" or "75% tests passed, 2 tests failed out of 8"
    m = re.search(r"(\d+)% tests passed(?:, (\d+) tests failed)? out of (\d+)", out)
    assert m, "no ctest summary in the output"
    return int(m.group(2) or 0), int(m.group(3))


def test_capi_ctest(tmp_path):
    out = _run_steps(tmp_path, "build")
    failed, total = _ctest_summary(out)
    assert failed == 0 and total >= 8
    assert "example_classifier" in out


def test_capi_ctest_sanitize(tmp_path):
    out = _run_steps(tmp_path, "sanitize")
    failed, total = _ctest_summary(out)
    assert failed == 0 and total >= 8
    assert "FASTSOFTMAX_SANITIZE:BOOL=ON" in (tmp_path / "build-asan" / "CMakeCache.txt").read_text()


def test_capi_cpp_example(tmp_path):
    out = _run_steps(tmp_path, "install", "cpp", need_cxx=True)
    prefix = tmp_path / "prefix"
    assert (prefix / "include" / "fastsoftmax.h").is_file()
    assert list(prefix.glob("lib*/cmake/fastsoftmax/fastsoftmaxConfig.cmake")) or \
        list(prefix.glob("lib*/*/cmake/fastsoftmax/fastsoftmaxConfig.cmake"))
    assert re.search(r"sampled token \d+ +p=0\.\d+", out)
    assert re.search(r"top-5:( \d+ \(0\.\d+\)){5}", out)


def test_capi_pkgconfig(tmp_path):
    out = _run_steps(tmp_path, "install", "pkgconfig", need_pkg_config=True)
    assert out.count("via pkg-config") >= 2 and "WRONG" not in out
