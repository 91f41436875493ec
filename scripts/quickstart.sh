#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs a real Network Adjustment search on
# Fashion-MNIST (the embedded default dataset), then writes the report of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
build=${NETADJ_BUILD_DIR:-build}
out=${1:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}
"$build/netadj" search --config configs/quickstart.json --out "$out"
"$build/netadj" report "$out" || echo "[quickstart] report failed; the search results are in $out"
echo "[quickstart] done: $out/best_channels.json, $out/report/report.md"
