#!/usr/bin/env bash
# build_and_run.sh - build tests/c/kernel_check.c against the kernel files and run it.
#
# usage: tests/c/build_and_run.sh [native|avx512-emu|neon-qemu|all] [harness options...]
#
#   native      isa_scalar.c + the host's ISA files (x86-64: isa_avx2.c and isa_avx512.c with their
#               package flags, each table skipped at run time if the CPU lacks it; AArch64: isa_neon.c)
#   avx512-emu  isa_avx512.c over SIMDe (-DFSS_EMULATE_AVX512 -mavx2 -mfma); needs libsimde-dev, an
#               x86-64 host with AVX2+FMA
#   neon-qemu   isa_neon.c cross-compiled (aarch64-linux-gnu-gcc -static) and run with qemu-aarch64
#   all         the three in turn (default)
#
# Environment: CC (default cc), CROSS_CC (default aarch64-linux-gnu-gcc), QEMU (default qemu-aarch64),
# BUILD_DIR (default: a fresh temporary directory, removed afterwards), FSS_SRC (kernel sources, default
# src/libfastsoftmax).
# Harness options (after the variant) replace the variant's defaults, e.g. --worst, --only scalar.
# Exit status: 0 passed, 77 skipped (a tool is missing; "SKIP: reason" is printed), other: failed.
set -u

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SRC="${FSS_SRC:-$ROOT/src/libfastsoftmax}"
CC="${CC:-cc}"
CROSS_CC="${CROSS_CC:-aarch64-linux-gnu-gcc}"
QEMU="${QEMU:-qemu-aarch64}"
COMMON=(-O2 -ffp-contract=off -fno-math-errno -I"$SRC")
SKIP=77

variant="${1:-all}"
[ $# -gt 0 ] && shift
EXTRA=("$@")

if [ -n "${BUILD_DIR:-}" ]; then
    mkdir -p "$BUILD_DIR" || exit 2
    B="$BUILD_DIR"
else
    B="$(mktemp -d "${TMPDIR:-/tmp}/fss-kernel-check.XXXXXX")" || exit 2
    trap 'rm -rf "$B"' EXIT
fi

skip() {
    echo "SKIP: $*"
    return $SKIP
}

have() { command -v "$1" >/dev/null 2>&1; }

# does $1 (a compiler) accept the flags ${@:2} on an empty C file?
accepts() {
    local cc="$1"
    shift
    echo 'int fss_probe;' | "$cc" "$@" -x c -c -o /dev/null - >/dev/null 2>&1
}

run() {
    echo "+ $*"
    "$@"
}

# compile and link: out, harness defines, then "file|flags" pairs
build() {
    local cc="$1" out="$2" defs="$3"
    shift 3
    local objs=() spec file flags obj
    for spec in "$@"; do
        file="${spec%%|*}"
        flags="${spec#*|}"
        obj="$B/$(basename "$out")-$(basename "$file" .c).o"
        # shellcheck disable=SC2086
        run "$cc" "${COMMON[@]}" $flags -c "$file" -o "$obj" || return 1
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    run "$cc" "${COMMON[@]}" $defs -c "$HERE/kernel_check.c" -o "$B/$(basename "$out")-main.o" || return 1
    run "$cc" "${COMMON[@]}" $defs "$B/$(basename "$out")-main.o" "${objs[@]}" -lm -o "$out" || return 1
}

is_x86_64() { "$1" -dM -E -x c /dev/null 2>/dev/null | grep -q '__x86_64__'; }
is_aarch64() { "$1" -dM -E -x c /dev/null 2>/dev/null | grep -q '__aarch64__'; }

host_has_avx2() {
    # the emulated AVX-512 build is compiled with -mavx2 -mfma: the host must run those
    local probe="$B/cpu_probe"
    printf '#include <stdio.h>\nint main(void){__builtin_cpu_init();return !(__builtin_cpu_supports("avx2")&&__builtin_cpu_supports("fma"));}\n' |
        "$CC" -x c - -o "$probe" >/dev/null 2>&1 && "$probe"
}

run_native() {
    echo "=== native ==="
    have "$CC" || { skip "C compiler '$CC' not found"; return; }
    local specs=("$SRC/isa_scalar.c|") defs=""
    if is_x86_64 "$CC"; then
        if accepts "$CC" -mavx2 -mfma; then
            specs+=("$SRC/isa_avx2.c|-mavx2 -mfma")
            defs+=" -DFSS_HAVE_AVX2"
        else
            echo "note: $CC rejects -mavx2 -mfma; avx2 table left out"
        fi
        local f512="-mavx2 -mfma -mavx512f -mavx512dq -mavx512bw -mavx512vl"
        # shellcheck disable=SC2086
        if accepts "$CC" $f512; then
            specs+=("$SRC/isa_avx512.c|$f512")
            defs+=" -DFSS_HAVE_AVX512"
        else
            echo "note: $CC rejects the AVX-512 flags; avx512 table left out"
        fi
    elif is_aarch64 "$CC"; then
        specs+=("$SRC/isa_neon.c|")
        defs+=" -DFSS_HAVE_NEON"
    fi
    build "$CC" "$B/kernel_check_native" "$defs" "${specs[@]}" || return 1
    local args=("${EXTRA[@]}")
    run "$B/kernel_check_native" "${args[@]}"
}

run_avx512_emu() {
    echo "=== avx512-emu ==="
    have "$CC" || { skip "C compiler '$CC' not found"; return; }
    is_x86_64 "$CC" || { skip "not an x86-64 compiler ($CC): the SIMDe build uses -mavx2 -mfma"; return; }
    echo '#include <simde/x86/avx512.h>' | "$CC" -mavx2 -mfma -x c -fsyntax-only - >/dev/null 2>&1 ||
        { skip "SIMDe headers not installed (apt-get install libsimde-dev)"; return; }
    host_has_avx2 || { skip "host CPU lacks AVX2/FMA (needed by the SIMDe build)"; return; }
    build "$CC" "$B/kernel_check_avx512emu" "-DFSS_HAVE_AVX512 -DFSS_EMULATE_AVX512" \
        "$SRC/isa_scalar.c|" "$SRC/isa_avx512.c|-DFSS_EMULATE_AVX512 -mavx2 -mfma -Wno-psabi" || return 1
    local args=("${EXTRA[@]}")
    [ ${#args[@]} -eq 0 ] && args=(--only avx512 --big 2)
    run "$B/kernel_check_avx512emu" "${args[@]}"
}

run_neon_qemu() {
    echo "=== neon-qemu ==="
    { have "$CROSS_CC" && have "$QEMU"; } ||
        { skip "aarch64 cross compiler or qemu-aarch64 not installed ($CROSS_CC, $QEMU; apt-get install gcc-aarch64-linux-gnu qemu-user)"; return; }
    COMMON+=(-static)
    build "$CROSS_CC" "$B/kernel_check_neon" "-DFSS_HAVE_NEON" "$SRC/isa_scalar.c|" "$SRC/isa_neon.c|" || return 1
    local args=("${EXTRA[@]}")
    [ ${#args[@]} -eq 0 ] && args=(--lite --big 1 --exp-stride 1024 --exp64-n 100000 --sig-stride 8191 --sig64-n 100000)
    run "$QEMU" "$B/kernel_check_neon" "${args[@]}"
}

case "$variant" in
native) run_native ;;
avx512-emu) run_avx512_emu ;;
neon-qemu) (run_neon_qemu) ;;
all)
    status=0
    for v in run_native run_avx512_emu run_neon_qemu; do
        ($v)
        rc=$?
        if [ $rc -ne 0 ] && [ $rc -ne $SKIP ]; then status=1; fi
        echo
    done
    exit $status
    ;;
*)
    echo "usage: $0 [native|avx512-emu|neon-qemu|all] [harness options...]" >&2
    exit 2
    ;;
esac
