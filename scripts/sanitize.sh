#!/usr/bin/env bash
# Builds the tests with AddressSanitizer + UndefinedBehaviorSanitizer (NETADJ_SANITIZE) in build-asan/
# and runs the ones whose code takes bytes from outside: file readers (IDX, CIFAR, JPEG folders, damaged
# files), config and --set parsing, channel and FUR files, run records, adjust/rescale and FLOPs.
# LibTorch itself is not instrumented; tests that train through it for long are left to the plain run.
set -euo pipefail
cd "$(dirname "$0")/.."
export NETADJ_BUILD_DIR=${NETADJ_ASAN_BUILD_DIR:-build-asan}
# Only the test binary (and the netadj binary it runs); its objects cannot come from the plain build's, whose
# flags differ, but both builds use ccache's default cache, so a fresh clone rebuilds from it.
NETADJ_CMAKE_ARGS="-DNETADJ_SANITIZE=address,undefined" NETADJ_BUILD_TYPE=Sanitize NETADJ_STAGE=sanitizer \
  NETADJ_TARGETS=netadj_tests bash scripts/setup.sh
source scripts/stage.sh
# detect_container_overflow: libstdc++ containers cross between instrumented code and uninstrumented
# LibTorch, which gives false reports; leaks: LibTorch's one-time allocations are never freed.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_container_overflow=0:detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
filter='Idx.*:Cifar.*:Split.*:Augment.*:Loader.*:Synthetic.*:ImageFolder.*:Corrupt.*:Config.*'
filter+=':*ConfigValidation*:Files.*:ChannelFiles.*:Flops.*:*EveryArch.SpecFlops*:*EveryArch.Gradient*'
filter+=':Failpoints.Names*:Dist.*:DistCli.Incomplete*:*FuzzCorpus.*:Checksum.*:*EveryArch.Json*:*EveryArch.Adjust*:Padding.*:DropPlan.*:Adjust.*:Rescale.*:Golden.*:Records.*:Graph.*:GraphSpec.*:Weights.*'
bin="$NETADJ_BUILD_DIR/netadj_tests"
# Every pattern must name a test: a renamed test must not silently leave the sanitized run.
mapfile -t names < <("$bin" --gtest_list_tests | awk '/^[^ ]/ { suite = $1 } /^  / { print suite $1 }')
IFS=':' read -ra patterns <<<"$filter"
for pattern in "${patterns[@]}"; do
  found=0
  for n in "${names[@]}"; do
    # shellcheck disable=SC2053 # the pattern is a glob, as gtest's
    if [[ $n == $pattern ]]; then found=1 && break; fi
  done
  [ $found = 1 ] || { echo "[sanitize] error: the filter pattern '$pattern' matches no test" >&2; exit 1; }
done
stage_start
"$bin" --gtest_filter="$filter"
stage_end "sanitizer tests"
