#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (GoogleTest through CTest), then prints
# the ten slowest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/stage.sh
build=${NETADJ_BUILD_DIR:-build}
stage_start
status=0
ctest --test-dir "$build" --output-on-failure -j "${NETADJ_TEST_JOBS:-2}" "$@" 2>&1 | tee "$build/ctest.log" \
  || status=$?
stage_end tests
# CTest's result lines end in "<seconds> sec"; the slowest first.
echo "The ten slowest tests (seconds):"
grep -E 'Test +#[0-9]+: .* sec$' "$build/ctest.log" | sed -E 's/^.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 \1/' \
  | sort -rn | head -10 | awk '{ printf "  %8.1f  %s\n", $1, $2 }'
exit $status
