#!/usr/bin/env bash
# Deterministic proxies for compile cost (wall time is too noisy for CI): the object size and
# the longest mangled symbol of the generated deep MLP (mlp.cpp) at depths 16, 32 and 64,
# compiled with -O2 -c. A representation that spells the whole graph in per-value names, or
# walks it per path, makes these grow quadratically or worse; each doubling of the depth may
# multiply them by at most the bounds below (2 is linear). Measured on g++ 12.2 (2026-12-07,
# one constant per table, tensor_ref::of out of line): object 292 / 507 / 1116 KB, longest
# symbol 5299 / 10164 / 19956 characters (the object is mostly symbol and section names; what
# is left is mostly the model's own per-layer functions, each named after its input, so the
# object grows 2.20x from 32 to 64; earlier that day, builders without make_value_node: 416 /
# 747 / 1589 KB, 5307 / 10172 / 19964 characters; 2026-12-06, no slot per
# value in the graph: 431 / 780 / 1659 KB, 5755 / 11132 / 22012 characters; before, 409 / 725 /
# 1550 KB; with the loops in the header 471 / 822 / 1719 KB; 2026-12-02: 339 / 669 / 1511 KB).
# With a fast gradcheck (-DFUSEGRAD_GRADCHECK) the object at depth 32 and 64 may also grow at
# most 2.3x: 987 / 1941 KB at depth 32 / 64 (2026-12-07, one constant per table; 1517 / 2958
# KB before that; 1679 / 3268 KB 2026-12-06; earlier
# 940 / 1613 / 3099 KB at
# depth 16 / 32 / 64); before the checker's
# copies stopped instantiating a function per leaf named after the whole model, 1231 / 2371 /
# 6619 KB (2.79x from 32 to 64).
#   proxies.sh <c++ compiler> <repository root> <generated include dir (build/generated/include)>
set -euo pipefail
cxx="$1"
root="$2"
generated="$3"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
size_bound=2.3
symbol_bound=2.2
declare -A size sym
for d in 16 32 64; do
    "${cxx}" -std=c++20 -O2 -c -I"${root}/include" -I"${generated}" -DFUSEGRAD_DEPTH=${d} \
        "${root}/tests/compile_cost/mlp.cpp" -o "${work}/mlp${d}.o"
    size[$d]=$(stat -c %s "${work}/mlp${d}.o")
    sym[$d]=$(nm "${work}/mlp${d}.o" | awk '{ if (length($NF) > m) m = length($NF) } END { print m }')
    echo "depth ${d}: object ${size[$d]} bytes, longest symbol ${sym[$d]} characters"
done
for d in 32 64; do
    "${cxx}" -std=c++20 -O2 -c -I"${root}/include" -I"${generated}" -DFUSEGRAD_DEPTH=${d} \
        -DFUSEGRAD_GRADCHECK "${root}/tests/compile_cost/mlp.cpp" -o "${work}/check${d}.o"
    size[check$d]=$(stat -c %s "${work}/check${d}.o")
    echo "depth ${d} with a gradcheck: object ${size[check$d]} bytes"
done
fail=0
# check <label> <smaller> <larger> <bound>: the growth larger / smaller is at most bound.
check() {
    local ratio
    ratio=$(awk -v x="$3" -v y="$2" 'BEGIN { printf "%.2f", x / y }')
    if awk -v r="${ratio}" -v m="$4" 'BEGIN { exit !(r > m) }'; then
        echo "FAIL: $1 grows ${ratio}x (at most $4x allowed)"
        fail=1
    else
        echo "ok: $1 grows ${ratio}x (at most $4x)"
    fi
}
for pair in "16 32" "32 64"; do
    read -r a b <<<"${pair}"
    check "size from depth ${a} to ${b}" "${size[$a]}" "${size[$b]}" "${size_bound}"
    check "sym from depth ${a} to ${b}" "${sym[$a]}" "${sym[$b]}" "${symbol_bound}"
done
check "the gradcheck object from depth 32 to 64" "${size[check32]}" "${size[check64]}" "${size_bound}"
exit ${fail}
