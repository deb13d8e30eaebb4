#!/usr/bin/env bash
# ditto quick start.
#   tools/quickstart.sh run [train flags]   install missing packages, build the `ditto` program
#                                           into build/, then run `build/ditto train` (one epoch
#                                           of Fashion-MNIST on cpu; flags are passed to it)
#   tools/quickstart.sh test                the same set-up, build everything, run every test
# Packages are installed with apt-get (Debian; needs root) only when some are missing, so on a
# machine that has them all the script runs as any user. DITTO_JOBS overrides the build's
# parallelism (default: nproc). Exits non-zero on any failure.
set -euo pipefail

usage() {
  echo "usage: tools/quickstart.sh run [ditto train flags] | tools/quickstart.sh test" >&2
  exit 2
}
[[ $# -ge 1 ]] || usage
mode=$1
shift
[[ $mode == run || ($mode == test && $# -eq 0) ]] || usage

cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(cmake g++ make doctest-dev libeigen3-dev libbenchmark-dev zlib1g-dev
  dataset-fashion-mnist)

install_missing_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "quickstart: no dpkg here; make sure these (or your system's equivalents) are installed:" \
      "${packages[*]}" >&2
    return 0
  fi
  local missing=() p
  for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    echo "quickstart: all packages present (${packages[*]})"
    return 0
  fi
  echo "quickstart: installing ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || {
      echo "quickstart: missing packages (${missing[*]}) and not root: run as root" >&2
      exit 1
    }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends \
    "${missing[@]}"
}

install_missing_packages
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release

case $mode in
  run)
    # Only the program (the test suite is not needed to train).
    cmake --build build -j"${DITTO_JOBS:-$(nproc)}" --target ditto_cli
    exec build/ditto train "$@"
    ;;
  test)
    cmake --build build -j"${DITTO_JOBS:-$(nproc)}"
    ctest --test-dir build --output-on-failure -j"$(nproc)"
    ;;
esac
