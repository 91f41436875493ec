#!/usr/bin/env bash
# netadj vs a plain PyTorch-Python loop: same model (ResNet-20), batch 128, CIFAR-shaped data, same
# LibTorch version, same machine, one after the other. Prints both JSON lines and the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/versions.sh
venv=${NETADJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netadj/venv-torch-$NETADJ_TORCH_VERSION}
bin=${NETADJ_BUILD_DIR:-build}/netadj
steps=${STEPS:-30}
dev=${DEVICE:-auto}
ours=$("$bin" bench train -c configs/resnet20_cifar100.json --steps "$steps" \
  --set data.dataset=synthetic --set data.val_size=1000 --set data.synthetic.train_size=6000 \
  --set data.synthetic.classes=100 --set data.synthetic.channels=3 --set data.synthetic.resolution=32 \
  --set train.drop.rate=0 --set runtime.device="$dev" 2>/dev/null | tail -1)
pydev=$([ "$dev" = auto ] && echo "" || echo "--device $dev")
theirs=$("$venv/bin/python" -W ignore scripts/bench/train_loop.py --steps "$steps" $pydev | tail -1)
theirs_cl=$("$venv/bin/python" -W ignore scripts/bench/train_loop.py --steps "$steps" --channels-last $pydev | tail -1)
echo "$ours"
echo "$theirs"
echo "$theirs_cl"
python3 - "$ours" "$theirs" "$theirs_cl" <<'PY'
import json, sys
a, b, c = (json.loads(x) for x in sys.argv[1:4])
r = a["train_images_per_s"]
print("netadj / pytorch-python (plain loop)         = %.2fx" % (r / b["train_images_per_s"]))
print("netadj / pytorch-python (channels-last loop) = %.2fx" % (r / c["train_images_per_s"]))
PY
