#!/usr/bin/env bash
# Installs fusegrad's build, test and example dependencies from Debian 12's packages.
# A no-op (no apt at all) when every package is already installed.
set -euo pipefail

PACKAGES=(
    build-essential cmake ninja-build ccache git
    libxtensor-dev libxsimd-dev xtl-dev libboost-dev
    catch2 libbenchmark-dev zlib1g-dev libtorch-dev libopenblas-dev
    graphviz dataset-fashion-mnist libstb-dev libcli11-dev
)

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
