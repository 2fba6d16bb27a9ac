#!/usr/bin/env bash
# Installs fusegrad's dependencies from Debian 12's packages. A no-op (no apt at all) when every
# package is already installed.
#
#   bash scripts/install-deps.sh          what the library and the examples need (the main job)
#   bash scripts/install-deps.sh --tests  that, plus what the tests and benchmarks need
set -euo pipefail

# The library, the examples and the dataset: build tools, xtensor, xsimd, Boost (Hana), zlib,
# stb, CLI11, and Open MPI (fusegrad::dist across processes: mpirun of the main example).
PACKAGES=(
    build-essential cmake ninja-build ccache git
    libxtensor-dev libxsimd-dev xtl-dev libboost-dev
    zlib1g-dev libstb-dev libcli11-dev dataset-fashion-mnist
    openmpi-bin libopenmpi-dev
)
# Tests, benchmarks and fuzzing: Catch2, Google Benchmark, libtorch (and the OpenBLAS it
# needs), Graphviz (the examples' .svg graphs, tested), clang with libFuzzer.
TEST_PACKAGES=(
    catch2 libbenchmark-dev libtorch-dev libopenblas-dev graphviz clang libclang-rt-14-dev
)
case "${1:-}" in
    "") ;;
    --tests) PACKAGES+=("${TEST_PACKAGES[@]}") ;;
    *)
        echo "install-deps: unknown argument '$1' (expected nothing or --tests)" >&2
        exit 2
        ;;
esac

missing=()
for pkg in "${PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
echo "install-deps: installing ${missing[*]}"

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: not root and sudo is not available; install as root: ${missing[*]}" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
