#!/usr/bin/env bash
# One place that installs what netadj needs, then configures and builds it.
# Idempotent: a second run skips what is already there.
#
# Environment:
#   NETADJ_VENV       torch virtualenv (default: ${XDG_CACHE_HOME:-~/.cache}/netadj/venv-torch-<version>)
#   Torch_DIR         use this LibTorch (e.g. the official zip) instead of the PyPI wheel
#   CMAKE_PREFIX_PATH searched before the wheel's prefix
#   NETADJ_BUILD_DIR  build folder (default: build)
#   NETADJ_BUILD_TYPE CMake build type (default: Release)
#   NETADJ_JOBS       parallel build jobs (default: nproc)
#   NETADJ_CMAKE_ARGS more CMake arguments (e.g. -DNETADJ_SANITIZE=address,undefined)
#   NETADJ_TARGETS    build only these targets (space-separated; default: all)
#   NETADJ_STAGE_LOG  append "<stage> <seconds>" lines to this file (.ci/run prints them as a table)
#   NETADJ_STAGE      name of the stage in those lines (default: empty, giving "setup" and "build")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
source scripts/versions.sh

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
source scripts/stage.sh
stage_start

# --- system packages (Debian/Ubuntu) -----------------------------------------
apt_pkgs=(build-essential cmake ninja-build ccache python3 python3-venv python3-pip
          libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libgtest-dev
          zlib1g-dev libturbojpeg0-dev libgloo-dev dataset-fashion-mnist python3-matplotlib)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# --- LibTorch ------------------------------------------------------------------
cmake_args=()
cmake_bin=cmake
if [ -n "${Torch_DIR:-}" ]; then
  say "using Torch_DIR=$Torch_DIR"
  cmake_args+=("-DTorch_DIR=$Torch_DIR")
  py=python3
else
  venv=${NETADJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netadj/venv-torch-$NETADJ_TORCH_VERSION}
  py="$venv/bin/python"
  if ! "$py" -W ignore -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$NETADJ_TORCH_VERSION')" 2>/dev/null; then
    say "installing torch==$NETADJ_TORCH_VERSION into $venv (one time, several GiB)"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q "torch==$NETADJ_TORCH_VERSION"
  fi
  abi=$("$py" -W ignore -c 'import torch; print(int(torch.compiled_with_cxx11_abi()))')
  [ "$abi" = 1 ] || die "torch in $venv was built without the C++11 ABI; Debian's libraries use it (set Torch_DIR to a cxx11-ABI LibTorch)"
  prefix=$("$py" -W ignore -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
  cmake_args+=("-DCMAKE_PREFIX_PATH=${CMAKE_PREFIX_PATH:+$CMAKE_PREFIX_PATH;}$prefix")
  # torch's CMake files may want a newer CMake than the distribution's.
  need=$NETADJ_MIN_CMAKE
  have=$(cmake --version 2>/dev/null | head -1 | awk '{print $3}')
  if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" != "$need" ]; then
    [ -x "$venv/bin/cmake" ] || { say "installing cmake>=$need from PyPI into $venv"; "$venv/bin/pip" install -q "cmake>=$need"; }
    cmake_bin="$venv/bin/cmake"
  fi
fi

stage_end "${NETADJ_STAGE:+$NETADJ_STAGE }setup"

# --- configure and build -------------------------------------------------------
stage_start
if [ -n "${NETADJ_CMAKE_ARGS:-}" ]; then
  read -ra extra_args <<<"$NETADJ_CMAKE_ARGS"
  cmake_args+=("${extra_args[@]}")
fi
build=${NETADJ_BUILD_DIR:-build}
mkdir -p "$build"
gen=()
if [ ! -f "$build/CMakeCache.txt" ]; then
  command -v ninja >/dev/null && gen=(-G Ninja)
fi
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so fresh clones elsewhere hit the same (default) cache; the
  # sloppiness lets ccache cache translation units that use the precompiled torch header. Both go into the
  # launcher, so a later `cmake --build` in this folder caches the same way.
  # CCACHE_NOHASHDIR: the sanitizer build's debug info (-g1) would otherwise tie each object to the build
  # folder's absolute path, and a fresh clone would miss the cache.
  sloppiness="${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}"
  cmake_args+=("-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_BASEDIR=$here;CCACHE_SLOPPINESS=$sloppiness;CCACHE_NOHASHDIR=1;ccache")
fi
"$cmake_bin" -S . -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE="${NETADJ_BUILD_TYPE:-Release}" \
  -DPython3_EXECUTABLE="$py" "${cmake_args[@]}" >"$build/configure.log" 2>&1 \
  || { cat "$build/configure.log" >&2; die "cmake configure failed (log above)"; }
targets=()
[ -n "${NETADJ_TARGETS:-}" ] && targets=(--target ${NETADJ_TARGETS})
"$cmake_bin" --build "$build" -j "${NETADJ_JOBS:-$(nproc)}" "${targets[@]}"
stage_end "${NETADJ_STAGE:+$NETADJ_STAGE }build"
say "built ${NETADJ_TARGETS:-netadj} in $build"
