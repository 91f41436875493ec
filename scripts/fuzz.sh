#!/usr/bin/env bash
# Runs one libFuzzer target: scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]
#   TARGET: config, channels, fur, idx, cifar, jpeg, records or graph (fuzz/targets.cpp); `list` prints them.
# Builds netadj with clang, libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/
# (NETADJ_FUZZ_BUILD_DIR), starts from tests/corpus/TARGET/ and keeps what it learns in
# build-fuzz/corpus/TARGET/. A crashing input is written to build-fuzz/findings/TARGET/; once fixed,
# copy it into tests/corpus/TARGET/ so the GoogleTest replay keeps it (FuzzCorpus.*).
# Environment: NETADJ_FUZZ_RUNS=N stops after N executions instead of SECONDS (default 60 s).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
build=${NETADJ_FUZZ_BUILD_DIR:-build-fuzz}
command -v clang++-14 >/dev/null || command -v clang++ >/dev/null || {
  echo "fuzz.sh: needs clang with libFuzzer (Debian: apt-get install clang-14)" >&2; exit 2; }
cxx=$(command -v clang++-14 || command -v clang++)
NETADJ_BUILD_DIR=$build NETADJ_BUILD_TYPE=RelWithDebInfo \
  NETADJ_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=$cxx -DNETADJ_FUZZ=ON -DNETADJ_SANITIZE=address,undefined -DNETADJ_BUILD_TESTS=OFF" \
  NETADJ_TARGETS=netadj_fuzz bash scripts/setup.sh
if [ "$target" = list ]; then
  sed -n 's/^ *{"\([a-z]*\)", "\(.*\)", .*/\1: \2/p' fuzz/targets.cpp
  exit 0
fi
[ -d "tests/corpus/$target" ] || { echo "fuzz.sh: no target '$target' (scripts/fuzz.sh list)" >&2; exit 2; }
mkdir -p "$build/corpus/$target" "$build/findings/$target"
export NETADJ_FUZZ_TARGET=$target
# As in scripts/sanitize.sh: LibTorch is not instrumented, and its one-time allocations are never freed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_container_overflow=0:detect_leaks=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limit=(-max_total_time="$seconds")
[ -n "${NETADJ_FUZZ_RUNS:-}" ] && limit=(-runs="$NETADJ_FUZZ_RUNS")
exec "$build/netadj_fuzz" "${limit[@]}" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$build/findings/$target/" "$@" "$build/corpus/$target" "tests/corpus/$target"
