#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_<name>.cpp with clang (libFuzzer, ASan, UBSan)
# and fuzzes each for SECONDS (default 60), the two at once, starting from the seed corpus
# tests/fuzz/corpus/<name>/ (read only: new inputs go to build-fuzz/corpus_<name>/). Exits
# non-zero on a finding: a crash, a sanitizer report, a leak, an input slower than 10 s, or a
# single allocation over 256 MB (-malloc_limit_mb: the readers must never size a buffer from a
# number in the file). The crashing input is kept as build-fuzz/crash-*; add it to the corpus
# once fixed. Needs clang++ and libFuzzer (Debian: clang, libclang-rt-14-dev).
#
#   bash tests/fuzz/run-fuzzers.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
cxx="${FUZZ_CXX:-clang++}"
out="${FUZZ_BUILD_DIR:-${root}/build-fuzz}"
mkdir -p "${out}"

flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -I"${root}/include")
# Each target and the library sources it exercises.
declare -A sources=(
    [npy]="${root}/src/nn/npy.cpp"
    [idx]="${root}/src/nn/idx.cpp -lz"
)
for name in "${!sources[@]}"; do
    echo "run-fuzzers: building fuzz_${name}"
    # shellcheck disable=SC2086 # the library sources and link flags split on purpose
    "${cxx}" "${flags[@]}" "${root}/tests/fuzz/fuzz_${name}.cpp" ${sources[$name]} \
        -o "${out}/fuzz_${name}"
done

pids=()
for name in "${!sources[@]}"; do
    mkdir -p "${out}/corpus_${name}"
    "${out}/fuzz_${name}" -max_total_time="${seconds}" -max_len=4096 -timeout=10 \
        -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="${out}/" "${out}/corpus_${name}" "${root}/tests/fuzz/corpus/${name}" \
        > "${out}/fuzz_${name}.log" 2>&1 &
    pids+=("$!:${name}")
done
status=0
for entry in "${pids[@]}"; do
    pid="${entry%%:*}"
    name="${entry#*:}"
    if wait "${pid}"; then
        runs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "${out}/fuzz_${name}.log" | grep -o '[0-9]*$' || echo '?')"
        cov="$(grep -o 'cov: [0-9]*' "${out}/fuzz_${name}.log" | tail -1 | grep -o '[0-9]*$' || echo '?')"
        corpus="$(find "${out}/corpus_${name}" "${root}/tests/fuzz/corpus/${name}" -type f | wc -l)"
        echo "run-fuzzers: fuzz_${name}: ${seconds} s, ${runs} inputs, ${cov} coverage points, corpus ${corpus} files: no finding"
    else
        echo "run-fuzzers: fuzz_${name}: FINDING (log: ${out}/fuzz_${name}.log)"
        tail -40 "${out}/fuzz_${name}.log"
        status=1
    fi
done
exit "${status}"
