#!/usr/bin/env bash
# Compile time and peak compiler memory of the rewrite compile-cost sources, with g++ and
# clang++, at -O0 (the template work dominates) and -O2. Prints a Markdown table for
# docs/rewrite-rules.md. Run from the repository root after a build of build/ (for the library).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lib=build/libfusegrad.a
[[ -f "${lib}" ]] || { echo "build the library first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT

measure() {  # compiler, flags, source, extra defines
    local cxx="$1" opt="$2" src="$3" defs="$4"
    local t
    /usr/bin/time -o "${out}/time" -f "%e %M" "${cxx}" -std=c++20 "${opt}" ${defs} -Iinclude "${src}" \
        "${lib}" -o "${out}/a.out" >/dev/null 2>"${out}/err" || true
    t=$(tail -1 "${out}/time")
    if [[ ! -x "${out}/a.out" ]] || grep -q "error" "${out}/err"; then
        echo "| $(basename "${src}" .cpp) ${defs} | ${cxx} ${opt} | failed: $(grep -m1 -o 'error.*' "${out}/err" | cut -c1-80) |"
    else
        local run
        run=$("${out}/a.out" | sed 's/, loss.*//')
        echo "| $(basename "${src}" .cpp) ${defs} | ${cxx} ${opt} | $(awk '{printf "%.1f s, %.0f MB", $1, $2/1024}' <<<"${t}") | ${run} |"
    fi
    rm -f "${out}/a.out"
}

echo "| source | compiler | time, peak memory | graph |"
echo "|---|---|---|---|"
for cxx in g++ clang++; do
    for d in 8 16 32; do measure "${cxx}" -O0 tests/compile_cost/deep_rewrite.cpp "-DFUSEGRAD_DEPTH=${d}"; done
    measure "${cxx}" -O0 tests/compile_cost/wide_rewrite.cpp ""
    measure "${cxx}" -O2 tests/compile_cost/wide_rewrite.cpp ""
done
