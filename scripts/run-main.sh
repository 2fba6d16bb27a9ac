#!/usr/bin/env bash
# The main job: build the main example (Release) and train softmax regression on the full
# Fashion-MNIST (batch 256, lr 0.1, 10 epochs). Installs the dependencies, the dataset included
# (Debian's dataset-fashion-mnist), if missing. Extra arguments go to the example, e.g.
# `bash scripts/run-main.sh --model mlp`; the outputs go to build/fashion_mnist_out unless --out
# is given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

MAIN_EXAMPLE=fashion_mnist   # examples/<name>.cpp -> build/examples/example_<name>

bash scripts/install-deps.sh  # the library's and the example's packages (run-tests.sh adds --tests)

generator=()
[[ -f build/CMakeCache.txt ]] || generator=(-G Ninja)
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DFUSEGRAD_BUILD_TESTS=OFF -DFUSEGRAD_BUILD_EXAMPLES=ON
cmake --build build -j2 --target "example_${MAIN_EXAMPLE}"
args=("$@")
if [[ " ${args[*]-} " != *" --out "* && " ${args[*]-} " != *" --out="* ]]; then
    args+=(--out build/fashion_mnist_out)
fi
echo "run-main: build/examples/example_${MAIN_EXAMPLE} ${args[*]}"
"./build/examples/example_${MAIN_EXAMPLE}" "${args[@]}"
