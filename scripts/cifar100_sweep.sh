#!/usr/bin/env bash
# Paper's CIFAR-100 experiments: search each network, re-train the searched and the original channels
# on the full training set, and print one results table. CIFAR-100 binary files in data/cifar-100-binary
# (or set NETADJ_CIFAR100). Extra arguments go to every netadj call (e.g. --set runtime.device=cuda:0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=${NETADJ_BUILD_DIR:-build}/netadj
root=${NETADJ_CIFAR100:-data/cifar-100-binary}
nets=${NETS:-"resnet20 resnet32 resnet56 resnet110 plain20 pyramidnet20 densenet40"}
out=${OUT:-runs/cifar100-sweep}
mkdir -p "$out"
for n in $nets; do
  cfg=configs/${n}_cifar100.json
  [ -f "$out/$n/search/search.json" ] && grep -q '"done": true' "$out/$n/search/search.json" \
    || "$bin" search -c "$cfg" --set data.root="$root" --out "$out/$n/search" "$@" \
    || "$bin" search --resume "$out/$n/search"
  [ -f "$out/$n/original/result.json" ] || "$bin" train -c "$cfg" --set data.root="$root" --out "$out/$n/original" "$@"
  [ -f "$out/$n/searched/result.json" ] || "$bin" train -c "$cfg" --set data.root="$root" \
    --channels "$out/$n/search/best_channels.json" --out "$out/$n/searched" "$@"
done
python3 scripts/results_table.py "$out" $nets
