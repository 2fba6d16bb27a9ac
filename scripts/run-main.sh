#!/usr/bin/env bash
# The main job: build and run the main example (Release). Extra arguments go to the example.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAIN_EXAMPLE=softmax_regression   # examples/<name>.cpp -> build/examples/example_<name>

bash scripts/install-deps.sh

generator=()
[[ -f build/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DFUSEGRAD_BUILD_TESTS=OFF -DFUSEGRAD_BUILD_EXAMPLES=ON
cmake --build build -j2 --target "example_${MAIN_EXAMPLE}"
"./build/examples/example_${MAIN_EXAMPLE}" "$@"
