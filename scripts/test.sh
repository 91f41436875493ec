#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (GoogleTest through CTest), then prints
# the ten slowest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/versions.sh
# Python packages only tests use, pinned, in the torch virtualenv the tests use (a Torch_DIR build has none and
# those tests skip): torchvision (with numpy and pillow) for the import tests, tensorboard for the event files,
# onnxruntime for the ONNX exports.
if [ -z "${Torch_DIR:-}" ]; then
  venv=${NETADJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netadj/venv-torch-$NETADJ_TORCH_VERSION}
  for pin in "torchvision==$NETADJ_TORCHVISION_VERSION" "tensorboard==$NETADJ_TENSORBOARD_VERSION" \
             "onnxruntime==$NETADJ_ONNXRUNTIME_VERSION"; do
    name=${pin%%==*} want=${pin##*==}
    if ! "$venv/bin/python" -W ignore -c "import $name, sys
sys.exit($name.__version__.split('+')[0] != '$want')" 2>/dev/null; then
      echo "[test] installing $pin into $venv" >&2
      "$venv/bin/pip" install -q "$pin"
    fi
  done
fi
source scripts/stage.sh
build=${NETADJ_BUILD_DIR:-build}
stage_start
status=0
ctest --test-dir "$build" --output-on-failure -j "${NETADJ_TEST_JOBS:-2}" "$@" 2>&1 | tee "$build/ctest.log" \
  || status=$?
stage_end tests
# CTest's result lines end in "<seconds> sec"; the slowest first (awk reads all of sort's output: a `head` that
# exits early would fail the pipeline with SIGPIPE under pipefail).
echo "The ten slowest tests (seconds):"
grep -E 'Test +#[0-9]+: .* sec$' "$build/ctest.log" | sed -E 's/^.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec$/\2 \1/' \
  | sort -rn | awk 'NR <= 10 { printf "  %8.1f  %s\n", $1, $2 }'
exit $status
