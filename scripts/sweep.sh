#!/usr/bin/env bash
# The paper's experiments for one suite: search each network, then `netadj compare` its original
# channels, the searched ones and the uniform and random controls (rescaled to the original's budget),
# each trained like `netadj train` for seeds 1..SEEDS, then print one results table
# (scripts/results_table.py). Finished steps are skipped and an interrupted search or compare is
# resumed, so the script can simply be run again.
#   bash scripts/sweep.sh cifar100|imagenet [extra netadj arguments, e.g. --set runtime.device=cuda:0]
# Data: CIFAR-100 binary files in data/cifar-100-binary (or NETADJ_DATA_ROOT); ImageNet folders
# train/ and val/ in data/imagenet (or NETADJ_DATA_ROOT). NETS, OUT and SEEDS (default 3) override the
# network list, the output folder and the number of seeds. The extra arguments go to the first
# `netadj search` and `netadj compare` of each network; a resumed one goes on as it was started.
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
# True when a record with "done" (search.json or compare.json, docs/run-directory.md) has schema_version 1
# and "done": true; false when it is missing, unreadable or not done. Another schema_version counts as
# not done, so that `netadj search|compare --resume` refuses it with its own message (exit 2).
record_done() {
  python3 -c 'import json, sys
try:
    with open(sys.argv[1]) as f:
        doc = json.load(f)
except (OSError, ValueError):
    sys.exit(1)
ok = isinstance(doc, dict) and doc.get("schema_version") == 1 and doc.get("done") is True
sys.exit(0 if ok else 1)' "$1"
}
bash scripts/setup.sh
bin=${NETADJ_BUILD_DIR:-build}/netadj
out=${OUT:-runs/$suite-sweep}
mkdir -p "$out"
for n in $nets; do
  cfg=configs/${n}_${suite}.json
  s="$out/$n/search"
  if [ -f "$s/config.json" ]; then
    record_done "$s/search.json" || "$bin" search --resume "$s"
  else
    "$bin" search -c "$cfg" --set data.root="$root" --out "$s" "$@"
  fi
  c="$out/$n/compare"
  if [ -f "$c/config.json" ]; then
    record_done "$c/compare.json" || "$bin" compare --resume "$c"
  else
    "$bin" compare -c "$cfg" --set data.root="$root" --channels searched="$s/best_channels.json" \
      --seeds "${SEEDS:-3}" --controls uniform,random --out "$c" "$@"
  fi
done
python3 scripts/results_table.py "$out" $nets
