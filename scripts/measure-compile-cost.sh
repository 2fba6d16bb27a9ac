#!/usr/bin/env bash
# Compile cost of fusegrad models: wall time and peak compiler memory of one TU, compiled and
# linked against build/libfusegrad_core.a, for
#   - a TU that only includes <fusegrad/fusegrad.hpp> (the baseline every ratio is taken to);
#   - tests/compile_cost/mlp.cpp: a D-layer relu(linear) MLP under the textbook loss (D = 8 to
#     128), with FUSEGRAD_RESIDUAL a residual chain h + relu(linear(h)) (D = 8 to 64), and with
#     FUSEGRAD_GRADCHECK a fast-mode gradcheck of the same model;
#   - the older rewrite sources (deep_rewrite.cpp, wide_rewrite.cpp).
# Prints a Markdown table for docs/rewrite-rules.md, with each time as a multiple of the
# include-only TU's. Run from the repository root after building build/ (for the library).
#   COMPILERS="g++ clang++" OPT=-O2 bash scripts/measure-compile-cost.sh
# With STAGES=1 it prints instead, for g++ and one model (STAGE_DEPTH, default 128; with
# STAGE_RESIDUAL=1 the residual chain), what each stage of the pipeline adds: building the
# expression, rewriting it, compiling the graph, its forward, the run and a gradient
# (tests/compile_cost/mlp.cpp, FUSEGRAD_STAGE). Each row gives g++'s user time and the memory
# its garbage collector allocated (-ftime-report's GGC total): that number does not depend on
# the machine's load, so two trees compare on it when timings are too noisy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lib=build/libfusegrad_core.a
[[ -f "${lib}" ]] || { echo "build the library first: cmake -S . -B build -G Ninja && cmake --build build" >&2; exit 1; }
COMPILERS="${COMPILERS:-g++ clang++}"
OPT="${OPT:--O2}"
MLP_DEPTHS="${MLP_DEPTHS:-8 16 32 64 128}"
RES_DEPTHS="${RES_DEPTHS:-8 16 32 64}"
out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT
printf '#include <fusegrad/fusegrad.hpp>\nint main() { return 0; }\n' > "${out}/include_only.cpp"

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 '^model' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo

if [[ "${STAGES:-0}" == 1 ]]; then
    depth="${STAGE_DEPTH:-128}"
    model="MLP"
    flags=(-DFUSEGRAD_DEPTH="${depth}")
    if [[ "${STAGE_RESIDUAL:-0}" == 1 ]]; then
        model="residual chain"
        flags+=(-DFUSEGRAD_RESIDUAL)
    fi
    echo "${model} of depth ${depth}, g++ ${OPT} -c, one run each"
    echo
    echo "| stage | g++ user s | GGC allocated |"
    echo "|---|---:|---:|"
    stage() {  # label, source, extra flags...
        local label="$1" src="$2"
        shift 2
        if ! /usr/bin/time -o "${out}/time" -f "%U" g++ -std=c++20 "${OPT}" -ftime-report "$@" -Iinclude \
            -Ibuild/generated/include -c "${src}" -o "${out}/stage.o" 2>"${out}/report"; then
            echo "| ${label} | failed | |"
            return
        fi
        echo "| ${label} | $(tail -1 "${out}/time") | $(grep -E '^ TOTAL' "${out}/report" | awk '{print $NF}') |"
    }
    stage "include only" "${out}/include_only.cpp"
    stage "+ build the expression" tests/compile_cost/mlp.cpp "${flags[@]}" -DFUSEGRAD_STAGE=1
    stage "+ fg::rewrite" tests/compile_cost/mlp.cpp "${flags[@]}" -DFUSEGRAD_STAGE=2
    stage "+ fg::compile" tests/compile_cost/mlp.cpp "${flags[@]}" -DFUSEGRAD_STAGE=3
    stage "+ forward()" tests/compile_cost/mlp.cpp "${flags[@]}" -DFUSEGRAD_STAGE=4
    stage "+ run(), grad<\"W0\">() (the full test)" tests/compile_cost/mlp.cpp "${flags[@]}"
    exit 0
fi
echo "| source | compiler | time, peak memory | × include-only | run |"
echo "|---|---|---|---|---|"

base=1
measure() {  # compiler, label, source, extra flags...
    local cxx="$1" label="$2" src="$3"
    shift 3
    local t secs mb run ratio
    if ! /usr/bin/time -o "${out}/time" -f "%e %M" "${cxx}" -std=c++20 "${OPT}" "$@" -Iinclude -Ibuild/generated/include "${src}" \
        "${lib}" -fopenmp -o "${out}/a.out" >/dev/null 2>"${out}/err"; then
        echo "| ${label} | ${cxx} ${OPT} | failed: $(grep -m1 -o 'error.*' "${out}/err" | cut -c1-80) | | |"
        return
    fi
    t=$(tail -1 "${out}/time")
    secs=$(awk '{print $1}' <<<"${t}")
    mb=$(awk '{printf "%.0f", $2/1024}' <<<"${t}")
    [[ "${label}" == "include only" ]] && base="${secs}"
    ratio=$(awk -v s="${secs}" -v b="${base}" 'BEGIN {printf "%.1f", s / b}')
    run=$("${out}/a.out" 2>&1 | tail -1 | cut -c1-60 || true)
    echo "| ${label} | ${cxx} ${OPT} | ${secs} s, ${mb} MB | ${ratio} | ${run} |"
    rm -f "${out}/a.out"
}

for cxx in ${COMPILERS}; do
    command -v "${cxx}" >/dev/null || continue
    measure "${cxx}" "include only" "${out}/include_only.cpp"
    for d in ${MLP_DEPTHS}; do measure "${cxx}" "MLP depth ${d}" tests/compile_cost/mlp.cpp "-DFUSEGRAD_DEPTH=${d}"; done
    measure "${cxx}" "MLP depth 64 + gradcheck" tests/compile_cost/mlp.cpp -DFUSEGRAD_DEPTH=64 -DFUSEGRAD_GRADCHECK
    for d in ${RES_DEPTHS}; do measure "${cxx}" "residual depth ${d}" tests/compile_cost/mlp.cpp "-DFUSEGRAD_DEPTH=${d}" -DFUSEGRAD_RESIDUAL; done
    measure "${cxx}" "residual depth 32 + gradcheck" tests/compile_cost/mlp.cpp -DFUSEGRAD_DEPTH=32 -DFUSEGRAD_RESIDUAL -DFUSEGRAD_GRADCHECK
    measure "${cxx}" "deep_rewrite (32 levels)" tests/compile_cost/deep_rewrite.cpp
    measure "${cxx}" "wide_rewrite (11 heads)" tests/compile_cost/wide_rewrite.cpp
done
