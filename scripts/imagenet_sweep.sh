#!/usr/bin/env bash
# Paper's ImageNet experiments: search each network, re-train the searched and the original channels
# on the full training set, and print one results table. ImageNet folders (train/, val/) in data/imagenet
# (or set NETADJ_IMAGENET). Extra arguments go to every netadj call (e.g. --set runtime.device=cuda:0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bin=${NETADJ_BUILD_DIR:-build}/netadj
root=${NETADJ_IMAGENET:-data/imagenet}
nets=${NETS:-"resnet18 resnet18_0.8x mnasnet"}
out=${OUT:-runs/imagenet-sweep}
mkdir -p "$out"
for n in $nets; do
  cfg=configs/${n}_imagenet.json
  [ -f "$out/$n/search/search.json" ] && grep -q '"done": true' "$out/$n/search/search.json" \
    || "$bin" search -c "$cfg" --set data.root="$root" --out "$out/$n/search" "$@" \
    || "$bin" search --resume "$out/$n/search"
  [ -f "$out/$n/original/result.json" ] || "$bin" train -c "$cfg" --set data.root="$root" --out "$out/$n/original" "$@"
  [ -f "$out/$n/searched/result.json" ] || "$bin" train -c "$cfg" --set data.root="$root" \
    --channels "$out/$n/search/best_channels.json" --out "$out/$n/searched" "$@"
done
python3 scripts/results_table.py "$out" $nets
