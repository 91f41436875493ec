#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (GoogleTest through CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${NETADJ_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${NETADJ_TEST_JOBS:-2}" "$@"
