#!/usr/bin/env bash
# How far a search's vectors drift from the original's measured latency: the same short search (quickstart on
# Fashion-MNIST, one epoch per iteration, six iterations, update_num 3, no gate, FUR without extra repeats) once
# with `search.budget: latency` (a table measured at the start: batch 1, one thread) and once with
# `search.budget: flops`, then each search's vectors timed interleaved by `netadj bench latency --search`.
#   bash scripts/bench/latency_drift.sh [OUT (default runs/latency-drift)] [extra netadj arguments]
# Prints each search's measured ratios to the original and the largest drift; the JSON is kept in OUT.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/latency-drift}
shift || true
mkdir -p "$out"
common=(--config configs/quickstart.json --set train.epochs=1 --set search.iterations=6 --set search.update_num=3
  --set search.select=argmax --set fur.max_repeats=0 --set search.gate=false --set search.latency_threads=1)
for budget in latency flops; do
  run="$out/$budget"
  if [ ! -f "$run/search.json" ] || ! python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("done") else 1)' "$run/search.json"; then
    rm -rf "$run"
    build/netadj --quiet search "${common[@]}" --set search.budget=$budget --out "$run" "$@"
  fi
  build/netadj --quiet bench latency --search "$run" --threads 1 --reps 100 > "$out/$budget.bench.json"
  python3 - "$out/$budget.bench.json" "$budget" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ratios = ", ".join(f"{v['vector']} {v['ratio']:.3f}" for v in d["vectors"])
print(f"budget {sys.argv[2]}: max drift {100 * d['max_abs_drift']:.1f}% ({ratios})")
PY
done
