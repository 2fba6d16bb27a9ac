#!/usr/bin/env bash
# All tests: a Release tree (build/), the fuzz targets (60 s each, clang + libFuzzer), and an
# ASan+UBSan tree (build-asan/), each configured, built and run with ctest. Exits non-zero on the
# first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS="${JOBS:-2}"
# Worker threads sleep instead of spinning while they wait (see docs/kernels.md, threads).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
timings=()

# phase <label> <command...>: runs the command and records its wall time.
phase() {
    local label="$1"
    shift
    echo
    echo "=== ${label}: $*"
    local start end
    start=$(date +%s)
    "$@"
    end=$(date +%s)
    timings+=("$(printf '%-28s %5ds' "${label}" $((end - start)))")
    echo "=== ${label}: done in $((end - start))s"
}

print_timings() {
    echo
    echo "=== timings"
    local t
    for t in "${timings[@]}"; do echo "  ${t}"; done
}
trap print_timings EXIT

# configure <dir> <cmake args...>: passes -G Ninja only for a fresh tree.
configure() {
    local dir="$1"
    shift
    local generator=()
    [[ -f "${dir}/CMakeCache.txt" ]] || generator=(-G Ninja)
    cmake -S . -B "${dir}" "${generator[@]}" "$@"
}

phase "install deps" bash scripts/install-deps.sh --tests

# ---- Release ----
phase "release: configure" configure build -DCMAKE_BUILD_TYPE=Release \
    -DFUSEGRAD_BUILD_TESTS=ON -DFUSEGRAD_BUILD_EXAMPLES=ON -DFUSEGRAD_SANITIZE=OFF \
    -DFUSEGRAD_BUILD_BENCHMARKS=ON  # built (not run) so that they keep compiling
phase "release: build" cmake --build build -j"${JOBS}"
phase "release: ctest" ctest --test-dir build --output-on-failure -j"${JOBS}"

# ---- fuzzing: the .npy and IDX readers (tests/fuzz/) ----
phase "fuzz: build + 60 s each" bash tests/fuzz/run-fuzzers.sh 60

# ---- AddressSanitizer + UndefinedBehaviorSanitizer ----
# Exported before the build too: catch_discover_tests runs the sanitized test binaries post-build.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# -O1 -g1 (line tables: sanitizer reports keep file:line) rather than RelWithDebInfo's -O2 -g:
# the sanitized build was two thirds of CI's time, and most of that was -O2 and full debug
# info on template-heavy TUs (docs/design.md, "Build and CI time"). The libtorch comparisons
# run in the Release tree only: they check our numbers against torch's, which do not change
# under a sanitizer, and the unit tests run our code under it.
phase "asan: configure" configure build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DFUSEGRAD_WITH_TORCH=OFF \
    -DFUSEGRAD_BUILD_TESTS=ON -DFUSEGRAD_BUILD_EXAMPLES=ON -DFUSEGRAD_SANITIZE=ON
phase "asan: build" cmake --build build-asan -j"${JOBS}"
phase "asan: ctest" ctest --test-dir build-asan --output-on-failure -j"${JOBS}"
