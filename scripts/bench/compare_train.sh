#!/usr/bin/env bash
# netadj vs a plain PyTorch-Python loop: same model (ResNet-20), batch 128, CIFAR-shaped data, same
# per-sample crop + flip on the device, same LibTorch version, same machine. The three programs run in
# turn, ROUNDS times, so slow spells of a shared machine hit all of them; each round gives a ratio and
# the median ratio is the result.
#   ROUNDS=5 STEPS=30 DEVICE=auto|cpu|cuda AMP=off|bf16|fp16 PYTHON=... bash scripts/bench/compare_train.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/versions.sh
venv=${NETADJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netadj/venv-torch-$NETADJ_TORCH_VERSION}
py=${PYTHON:-$venv/bin/python}
bin=${NETADJ_BUILD_DIR:-build}/netadj
steps=${STEPS:-30}
rounds=${ROUNDS:-5}
dev=${DEVICE:-auto}
amp=${AMP:-off}
pydev=()
[ "$dev" = auto ] || pydev=(--device "$dev")
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for r in $(seq "$rounds"); do
  ours=$("$bin" bench train -c configs/resnet20_cifar100.json --steps "$steps" \
    --set data.dataset=synthetic --set data.val_size=1000 --set data.synthetic.train_size=6000 \
    --set data.synthetic.classes=100 --set data.synthetic.channels=3 --set data.synthetic.resolution=32 \
    --set train.drop.rate=0 --set runtime.device="$dev" --set runtime.amp="$amp" 2>/dev/null | tail -1)
  theirs=$("$py" -W ignore scripts/bench/train_loop.py --steps "$steps" --amp "$amp" "${pydev[@]}" | tail -1)
  theirs_cl=$("$py" -W ignore scripts/bench/train_loop.py --steps "$steps" --amp "$amp" --channels-last "${pydev[@]}" | tail -1)
  printf '%s\t%s\t%s\n' "$ours" "$theirs" "$theirs_cl" >>"$results"
  echo "round $r: $ours" >&2
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [[json.loads(c) for c in line.rstrip("\n").split("\t")] for line in open(sys.argv[1])]
ips = lambda d: d["train_images_per_s"]
ours = [ips(a) for a, _, _ in rows]
plain = [ips(a) / ips(b) for a, b, _ in rows]
cl = [ips(a) / ips(c) for a, _, c in rows]
print(f"device {rows[0][0]['device']}, amp {rows[0][0]['amp']}, torch {rows[0][1]['torch']}, {len(rows)} rounds")
print("netadj img/s per round:            " + " ".join(f"{x:.0f}" for x in ours))
print("python plain img/s per round:      " + " ".join(f"{ips(b):.0f}" for _, b, _ in rows))
print("python channels-last img/s:        " + " ".join(f"{ips(c):.0f}" for _, _, c in rows))
print("netadj / python plain, per round:  " + " ".join(f"{x:.2f}" for x in plain) + f"  median {statistics.median(plain):.2f}x")
print("netadj / python channels-last:     " + " ".join(f"{x:.2f}" for x in cl) + f"  median {statistics.median(cl):.2f}x")
PY
