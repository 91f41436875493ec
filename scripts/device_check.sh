#!/usr/bin/env bash
# Build, test and benchmark netadj on a CUDA machine that has PyTorch (LibTorch) but cannot install
# packages. Two steps:
#   here (with apt):   bash scripts/device_check.sh fetch     # Debian packages' files into .debs/ (ignored)
#   there (the GPU):   bash scripts/device_check.sh run       # unpack, configure, build, ctest, benchmarks
# `run` writes its logs, benchmark JSON lines and a summary into $OUT (or ./device-out). It is meant to fit in one
# 10-minute call on a 16-core machine. Environment:
#   PYTHON                     the interpreter that has torch (default python3)
#   NETADJ_DEVICE_CMAKE_ARGS   extra CMake arguments, e.g. -DCMAKE_IGNORE_PREFIX_PATH=/usr to check on a
#                              machine that has the packages installed that only the unpacked files are used
#   NETADJ_DEVICE_STEPS        timed training steps per benchmark (default 200; NETADJ_DEVICE_WARMUP: 50)
set -uo pipefail
cd "$(dirname "$0")/.."
pkgs=(libcli11-dev nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libgtest-dev googletest
      libturbojpeg0-dev libturbojpeg0 zlib1g-dev zlib1g libgloo-dev)
case "${1:-}" in
  fetch)
    set -e
    mkdir -p .debs && cd .debs && rm -f ./*.deb
    apt-get download "${pkgs[@]}"
    ls -la
    ;;
  run)
    out=${OUT:-device-out}
    py=${PYTHON:-python3}
    steps=${NETADJ_DEVICE_STEPS:-200}
    warmup=${NETADJ_DEVICE_WARMUP:-50}
    mkdir -p "$out"
    summary="$out/summary.txt"
    : >"$summary"
    note() { echo "$*" | tee -a "$summary"; }
    ls .debs/*.deb >/dev/null 2>&1 || { note "no .debs/*.deb: run 'scripts/device_check.sh fetch' first and carry .debs"; exit 2; }
    root=$PWD/.debs/root
    mkdir -p "$root"
    if command -v dpkg >/dev/null; then
      for f in .debs/*.deb; do dpkg -x "$f" "$root"; done
    else
      # No dpkg (a non-Debian machine): a .deb is an ar archive holding data.tar.*; unpack it with Python.
      "$py" - "$root" .debs/*.deb <<'PY' || { note "cannot unpack .debs"; exit 2; }
import io, sys, tarfile
root = sys.argv[1]
for deb in sys.argv[2:]:
    blob = open(deb, "rb").read()
    assert blob.startswith(b"!<arch>\n"), deb + ": not a .deb"
    pos = 8
    while pos < len(blob):
        name, size = blob[pos:pos + 16].decode().strip().rstrip("/"), int(blob[pos + 48:pos + 58])
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(blob[pos + 60:pos + 60 + size])) as t:
                # Debian's own archives: keep their links as they are (Python >= 3.12 filters by default).
                kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
                t.extractall(root, **kw)
        pos += 60 + size + (size & 1)
PY
    fi
    lib="$root/usr/lib/x86_64-linux-gnu"
    # zlib's runtime lives in /lib on Debian; the -dev symlink points at it relatively.
    [ -d "$root/lib/x86_64-linux-gnu" ] && cp -a "$root"/lib/x86_64-linux-gnu/libz.so* "$lib/" 2>/dev/null
    export LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"
    export PKG_CONFIG_PATH="$lib/pkgconfig:$root/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
    # The packaged pkg-config files name /usr; point them at the unpacked tree.
    grep -rl "=/usr" "$lib/pkgconfig" 2>/dev/null | xargs -r sed -i "s|=/usr|=$root/usr|"
    torch_prefix=$("$py" -W ignore -c 'import torch.utils; print(torch.utils.cmake_prefix_path)') \
      || { note "$py cannot import torch (set PYTHON)"; exit 2; }
    note "torch: $("$py" -W ignore -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())')"
    nvidia-smi -L 2>/dev/null | tee "$out/gpu.txt" | tee -a "$summary"
    gen=()
    command -v ninja >/dev/null && gen=(-G Ninja)
    t0=$(date +%s)
    # shellcheck disable=SC2086
    cmake -S . -B build-device "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/usr;$torch_prefix" \
      -DCMAKE_CXX_FLAGS="-isystem $root/usr/include" ${NETADJ_DEVICE_CMAKE_ARGS:-} >"$out/configure.log" 2>&1 \
      || { tail -30 "$out/configure.log"; note "configure failed"; exit 1; }
    cmake --build build-device -j "$(nproc)" >"$out/build.log" 2>&1 \
      || { grep -m 20 -E "error|Error" "$out/build.log"; note "build failed"; exit 1; }
    note "configure + build: $(($(date +%s) - t0)) s"
    bin=build-device/netadj
    (cd build-device && ctest --output-on-failure -j "$(nproc)" --timeout 300) >"$out/ctest.log" 2>&1
    note "ctest (exit $?): $(grep -E 'tests passed|tests failed' "$out/ctest.log")"
    grep -E "^\s+[0-9]+ - " "$out/ctest.log" | awk "NR <= 20" | tee -a "$summary"  # failed or skipped tests
    syn=(--set data.dataset=synthetic --set data.val_size=5000 --set data.synthetic.train_size=50000
         --set data.synthetic.classes=100 --set data.synthetic.channels=3 --set data.synthetic.resolution=32
         --set data.synthetic.test_size=10000 --set train.drop.rate=0)
    "$bin" bench optim -c configs/resnet20_cifar100.json "${syn[@]}" | tee -a "$out/bench_optim.jsonl" >>"$summary"
    for amp in off bf16 fp16; do
      for batch in 128 512; do
        "$bin" bench train -c configs/resnet20_cifar100.json "${syn[@]}" --set runtime.amp=$amp \
          --set train.batch_size=$batch --steps "$steps" --warmup "$warmup" 2>>"$out/bench.err" \
          | tee -a "$out/bench_train.jsonl" >>"$summary"
      done
    done
    for extra in "" "--channels-last" "--channels-last --amp bf16"; do
      # shellcheck disable=SC2086
      "$py" -W ignore scripts/bench/train_loop.py --device cuda --steps "$steps" --warmup "$warmup" $extra 2>>"$out/bench.err" \
        | tee -a "$out/bench_train.jsonl" >>"$summary"
    done
    "$bin" search -c configs/smoke_synthetic.json --set runtime.device=cuda --out "$out/smoke" >"$out/smoke.log" 2>&1
    note "smoke search on cuda (exit $?): $(tail -1 "$out/smoke.log")"
    # The CUDA-trained best network's TorchScript export, loaded on the GPU in Python, and its latency.
    if [ -f "$out/smoke/export/model.pt" ]; then
      "$py" -W ignore -c "import json, sys, torch; m = torch.jit.load(sys.argv[1], map_location='cuda'); \
c = json.load(open(sys.argv[2])); s = c['input']['shape']; s[0] = 2; \
y = m(torch.randn(*s, device='cuda')); print('export on cuda: output', tuple(y.shape), 'check', c['check'])" \
        "$out/smoke/export/model.pt" "$out/smoke/export/model.json" 2>&1 | tail -1 | tee -a "$summary"
    else
      note "smoke search wrote no export/model.pt"
    fi
    # NCCL: a job of one rank started as torchrun starts it, then every GPU of the machine as ranks.
    RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 LOCAL_WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29631 \
      "$bin" train -c configs/smoke_synthetic.json --set runtime.device=cuda --out "$out/nccl1" >"$out/nccl1.log" 2>&1
    note "train as rank 0 of 1 on cuda (exit $?): $(grep -o '"world_size":[0-9]*,"backend":"[a-z]*"' "$out/nccl1/result.json" 2>/dev/null)"
    gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
    if [ "$gpus" -gt 1 ]; then
      "$bin" search -c configs/smoke_synthetic.json --set runtime.device=cuda --nproc "$gpus" --out "$out/nccl_search" \
        >"$out/nccl_search.log" 2>&1
      note "search --nproc $gpus on cuda (exit $?)"
      "$bin" bench train -c configs/resnet20_cifar100.json "${syn[@]}" --set train.batch_size=512 --steps "$steps" \
        --warmup "$warmup" --nproc "$gpus" 2>>"$out/bench.err" | tee -a "$out/bench_scaling.jsonl" >>"$summary"
    fi
    "$bin" bench latency -c configs/resnet20_cifar100.json "${syn[@]}" --set runtime.device=cuda --reps 100 \
      2>>"$out/bench.err" | tee -a "$out/bench_latency.jsonl" >>"$summary"
    note "total: $(($(date +%s) - t0)) s"
    ;;
  *)
    echo "usage: $0 fetch|run" >&2
    exit 2
    ;;
esac
