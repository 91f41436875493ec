#!/usr/bin/env bash
# The paper's experiments for one suite: search each network, re-train the searched and the original
# channels on the full training set, then print one results table. Finished steps are skipped and an
# interrupted search is resumed, so the script can simply be run again.
#   bash scripts/sweep.sh cifar100|imagenet [extra netadj arguments, e.g. --set runtime.device=cuda:0]
# Data: CIFAR-100 binary files in data/cifar-100-binary (or NETADJ_DATA_ROOT); ImageNet folders
# train/ and val/ in data/imagenet (or NETADJ_DATA_ROOT). NETS and OUT override the network list and
# the output folder.
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:?usage: sweep.sh cifar100|imagenet [netadj arguments]}
shift
case "$suite" in
  cifar100) root=${NETADJ_DATA_ROOT:-data/cifar-100-binary}
            nets=${NETS:-"resnet20 resnet32 resnet56 resnet110 plain20 pyramidnet20 densenet40"} ;;
  imagenet) root=${NETADJ_DATA_ROOT:-data/imagenet}
            nets=${NETS:-"resnet18 resnet18_0.8x mnasnet"} ;;
  *) echo "sweep.sh: unknown suite '$suite' (cifar100 or imagenet)" >&2; exit 2 ;;
esac
# True when a search's search.json (docs/run-directory.md) has schema_version 1 and "done": true; false
# when it is missing, unreadable or not done. Another schema_version counts as not done, so that
# `netadj search --resume` refuses it with its own message (exit 2).
search_done() {
  python3 -c 'import json, sys
try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
except (OSError, ValueError):
    sys.exit(1)
ok = isinstance(doc, dict) and doc.get("schema_version") == 1 and doc.get("done") is True
sys.exit(0 if ok else 1)' "$1"
}
# Trains into DIR unless it holds a result; an interrupted training (config.json, no result) is resumed.
train_once() {
  local dir=$1
  shift
  if [ -f "$dir/result.json" ]; then return 0; fi
  if [ -f "$dir/config.json" ]; then "$bin" train --resume "$dir"; else "$bin" train --out "$dir" "$@"; fi
}
bash scripts/setup.sh
bin=${NETADJ_BUILD_DIR:-build}/netadj
out=${OUT:-runs/$suite-sweep}
mkdir -p "$out"
for n in $nets; do
  cfg=configs/${n}_${suite}.json
  s="$out/$n/search"
  if [ -f "$s/config.json" ]; then
    search_done "$s/search.json" || "$bin" search --resume "$s"
  else
    "$bin" search -c "$cfg" --set data.root="$root" --out "$s" "$@"
  fi
  train_once "$out/$n/original" -c "$cfg" --set data.root="$root" "$@"
  train_once "$out/$n/searched" -c "$cfg" --set data.root="$root" --channels "$s/best_channels.json" "$@"
done
python3 scripts/results_table.py "$out" $nets
