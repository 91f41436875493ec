#!/usr/bin/env bash
# Build, test and benchmark netadj on a CUDA machine that has PyTorch (LibTorch) but cannot install
# packages. Two steps:
#   here (with apt):   bash scripts/device_check.sh fetch     # Debian packages' files into .debs/ (ignored)
#   there (the GPU):   bash scripts/device_check.sh run       # unpack, configure, build, ctest, benchmarks
# `run` writes its logs and benchmark JSON lines into $OUT (or ./device-out).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(libcli11-dev nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libgtest-dev googletest
      libturbojpeg0-dev libturbojpeg0 zlib1g-dev)
case "${1:-}" in
  fetch)
    mkdir -p .debs && cd .debs && rm -f ./*.deb
    apt-get download "${pkgs[@]}"
    ls -la
    ;;
  run)
    out=${OUT:-device-out}
    mkdir -p "$out"
    root=$PWD/.debs/root
    mkdir -p "$root"
    for f in .debs/*.deb; do dpkg -x "$f" "$root"; done
    export LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
    export PKG_CONFIG_PATH="$root/usr/lib/x86_64-linux-gnu/pkgconfig:$root/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
    # The packaged pkg-config/CMake files name /usr; point them at the unpacked tree.
    grep -rl "prefix=/usr" "$root/usr/lib/x86_64-linux-gnu/pkgconfig" 2>/dev/null | xargs -r sed -i "s|prefix=/usr|prefix=$root/usr|"
    torch_prefix=$(python3 -W ignore -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
    nvidia-smi -L | tee "$out/gpu.txt" || true
    cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/usr;$torch_prefix" \
      -DCMAKE_CXX_FLAGS="-isystem $root/usr/include" 2>&1 | tee "$out/configure.log" | tail -5
    cmake --build build-device -j "$(nproc)" 2>&1 | tee "$out/build.log" | tail -5
    (cd build-device && ctest --output-on-failure -j 8) 2>&1 | tee "$out/ctest.log" | tail -15
    bin=build-device/netadj
    syn=(--set data.dataset=synthetic --set data.val_size=5000 --set data.synthetic.train_size=50000
         --set data.synthetic.classes=100 --set data.synthetic.channels=3 --set data.synthetic.resolution=32
         --set data.synthetic.test_size=10000)
    for amp in off bf16; do
      "$bin" bench train -c configs/resnet20_cifar100.json "${syn[@]}" --set runtime.amp=$amp --steps 200 --warmup 50 \
        | tee -a "$out/bench_train.jsonl"
    done
    python3 scripts/bench/train_loop.py --device cuda --steps 200 --warmup 50 | tee -a "$out/bench_train.jsonl"
    "$bin" search -c configs/smoke_synthetic.json --set runtime.device=cuda --out "$out/smoke" 2>&1 | tail -3
    ;;
  *)
    echo "usage: $0 fetch|run" >&2
    exit 2
    ;;
esac
