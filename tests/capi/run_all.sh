#!/usr/bin/env bash
# run_all.sh - the C library end to end:
#   build      configure + build (tests and examples) + ctest               -> $WORK_DIR/build
#   sanitize   the same with -DFASTSOFTMAX_SANITIZE=ON (ASan + UBSan)       -> $WORK_DIR/build-asan
#   install    cmake --install into a temporary prefix                     -> $WORK_DIR/prefix
#              (from $WORK_DIR/build if it exists, else from a library-only build)
#   cpp        examples/cpp, a separate CMake project, against the prefix via find_package
#              (shared and static library; both must print the same)
#   pkgconfig  tests/capi/pkgconfig_smoke.c built with `pkg-config --cflags --libs fastsoftmax`
#              against the prefix and run (shared, then static)
#
# usage: tests/capi/run_all.sh [STEP...]      (default: all of them, in that order)
# Environment: WORK_DIR (default: a temporary directory, removed on exit unless KEEP_WORK_DIR=1),
# JOBS (parallel build jobs, default 2), CMAKE (default cmake), CTEST (default: next to cmake), CC, CXX, PKG_CONFIG (default pkg-config),
# CMAKE_BUILD_TYPE (default Release), extra configure arguments in CMAKE_ARGS.
# Exit status: 0 when every step passed; the first failing step stops the run with a non-zero status.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CMAKE="${CMAKE:-cmake}"
# ctest from the same installation as cmake (pip's cmake puts both in one bin directory)
if [ -z "${CTEST:-}" ]; then
    CTEST=ctest
    _cm="$(command -v "$CMAKE" 2>/dev/null || true)"
    if [ -n "$_cm" ] && [ -x "$(dirname "$_cm")/ctest" ]; then CTEST="$(dirname "$_cm")/ctest"; fi
fi
JOBS="${JOBS:-2}"
PKG_CONFIG="${PKG_CONFIG:-pkg-config}"
BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}"
read -r -a EXTRA <<<"${CMAKE_ARGS:-}"

if [ -n "${WORK_DIR:-}" ]; then
    mkdir -p "$WORK_DIR"
    W="$(cd "$WORK_DIR" && pwd)"
else
    W="$(mktemp -d "${TMPDIR:-/tmp}/fastsoftmax-capi.XXXXXX")"
    [ "${KEEP_WORK_DIR:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
fi
PREFIX="$W/prefix"

say() { printf '\n=== %s\n' "$*"; }
run() {
    printf '+ %s\n' "$*" >&2
    "$@"
}

configure_build() { # dir, configure args...
    local dir="$1"
    shift
    run "$CMAKE" -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "$@" ${EXTRA[@]+"${EXTRA[@]}"}
    run "$CMAKE" --build "$dir" -j "$JOBS"
}

run_ctest() { # dir
    (cd "$1" && run "$CTEST" --output-on-failure -j "$JOBS")
}

step_build() {
    say "build + ctest ($W/build)"
    configure_build "$W/build" -DFASTSOFTMAX_BUILD_TESTS=ON -DFASTSOFTMAX_BUILD_EXAMPLES=ON
    run_ctest "$W/build"
}

step_sanitize() {
    say "sanitizer build + ctest ($W/build-asan)"
    configure_build "$W/build-asan" -DFASTSOFTMAX_SANITIZE=ON -DFASTSOFTMAX_BUILD_TESTS=ON \
        -DFASTSOFTMAX_BUILD_EXAMPLES=ON
    run_ctest "$W/build-asan"
}

step_install() {
    local src="$W/build"
    if [ ! -f "$src/CMakeCache.txt" ]; then
        say "library-only build ($W/build-lib)"
        src="$W/build-lib"
        configure_build "$src" -DFASTSOFTMAX_BUILD_TESTS=OFF -DFASTSOFTMAX_BUILD_EXAMPLES=OFF \
            -DFASTSOFTMAX_INSTALL=ON
    fi
    say "install into $PREFIX"
    rm -rf "$PREFIX"
    run "$CMAKE" --install "$src" --prefix "$PREFIX"
}

need_prefix() {
    [ -f "$PREFIX/include/fastsoftmax.h" ] || step_install
}

step_cpp() {
    need_prefix
    local outs=()
    for kind in shared static; do
        local static=OFF
        [ "$kind" = static ] && static=ON
        say "examples/cpp via find_package, $kind library"
        local dir="$W/build-cpp-$kind"
        run "$CMAKE" -S "$ROOT/examples/cpp" -B "$dir" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
            -DCMAKE_PREFIX_PATH="$PREFIX" -DFASTSOFTMAX_EXAMPLE_STATIC="$static"
        run "$CMAKE" --build "$dir" -j "$JOBS"
        local exe="$dir/sample_token"
        [ -x "$exe" ] || exe="$(find "$dir" -name 'sample_token*' -type f -perm -u+x | head -n 1)"
        local out
        out="$(run "$exe")"
        printf '%s\n' "$out"
        outs+=("$out")
    done
    if [ "${outs[0]}" != "${outs[1]}" ]; then
        echo "FAIL: the shared and static builds of sample_token print different results" >&2
        return 1
    fi
}

step_pkgconfig() {
    need_prefix
    local pc
    pc="$(find "$PREFIX" -name fastsoftmax.pc -print -quit)"
    [ -n "$pc" ] || { echo "FAIL: no fastsoftmax.pc under $PREFIX" >&2; return 1; }
    local pcdir libdir cc="${CC:-cc}"
    pcdir="$(dirname "$pc")"
    export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    libdir="$("$PKG_CONFIG" --variable=libdir fastsoftmax)"
    say "pkg-config program, shared library ($("$PKG_CONFIG" --modversion fastsoftmax))"
    local cflags libs
    cflags="$("$PKG_CONFIG" --cflags fastsoftmax)"
    libs="$("$PKG_CONFIG" --libs fastsoftmax)"
    printf 'pkg-config --cflags --libs fastsoftmax: %s %s\n' "$cflags" "$libs"
    # shellcheck disable=SC2086
    run "$cc" "$HERE/pkgconfig_smoke.c" -o "$W/pkgconfig_smoke" $cflags $libs -lm
    LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run "$W/pkgconfig_smoke"

    say "pkg-config program, static library (pkg-config --static)"
    local slibs
    slibs="$("$PKG_CONFIG" --static --libs fastsoftmax)"
    slibs="${slibs/-lfastsoftmax/$libdir/libfastsoftmax.a}"
    # shellcheck disable=SC2086
    run "$cc" "$HERE/pkgconfig_smoke.c" -o "$W/pkgconfig_smoke_static" $cflags $slibs
    if ldd "$W/pkgconfig_smoke_static" 2>/dev/null | grep -q libfastsoftmax; then
        echo "FAIL: the static build links libfastsoftmax.so" >&2
        return 1
    fi
    run "$W/pkgconfig_smoke_static"
}

steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(build sanitize install cpp pkgconfig)
for s in "${steps[@]}"; do
    case "$s" in
    build | sanitize | install | cpp | pkgconfig) ;;
    *)
        echo "unknown step: $s (build, sanitize, install, cpp, pkgconfig)" >&2
        exit 2
        ;;
    esac
done
command -v "$CMAKE" >/dev/null 2>&1 || { echo "cmake not found ($CMAKE)" >&2; exit 2; }
for s in "${steps[@]}"; do
    SECONDS=0
    "step_$s"
    printf '=== step %s passed (%ds)\n' "$s" "$SECONDS"
done
printf '\nALL PASSED (%s) in %s\n' "${steps[*]}" "$W"
