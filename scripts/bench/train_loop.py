#!/usr/bin/env python3
"""Plain PyTorch (Python) training loop with the same model, batch and augmentation as
`netadj bench train` on CIFAR-shaped data: the baseline for the training-speed comparison.

    python scripts/bench/train_loop.py --depth 20 --batch 128 --steps 30 [--device cuda]

Prints one JSON line with train_images_per_s. Run both on the same machine, one after the other, and compare.
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cell(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.stride, self.cin, self.cout = stride, cin, cout

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = self.b2(self.c2(h))
        s = F.avg_pool2d(x, 2, 2, ceil_mode=True) if self.stride == 2 else x
        if self.cout > self.cin:
            s = F.pad(s, (0, 0, 0, 0, self.cout - self.cin, 0))
        return F.relu(s + h)


class ResNet(nn.Module):
    def __init__(self, depth, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16))
        cells, cin = [], 16
        for stage, w in enumerate([16, 32, 64]):
            for i in range(n):
                cells.append(Cell(cin, w, 2 if stage > 0 and i == 0 else 1))
                cin = w
        self.cells = nn.Sequential(*cells)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.cells(self.stem(x)).mean((2, 3)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true", help="channels-last model and inputs")
    ap.add_argument("--amp", choices=["off", "bf16", "fp16"], default="off",
                    help="autocast on CUDA (fp16 with torch's GradScaler), like netadj's runtime.amp")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    model = ResNet(a.depth, 100).to(dev)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=3e-4)
    data = torch.randint(0, 256, (5000, 3, 32, 32), dtype=torch.uint8, device=dev)
    labels = torch.randint(0, 100, (5000,), device=dev)
    mean = torch.tensor([0.507, 0.487, 0.441], device=dev).view(1, 3, 1, 1) * 255
    std = torch.tensor([0.267, 0.256, 0.276], device=dev).view(1, 3, 1, 1) * 255

    ar = torch.arange(32, device=dev)
    bi = torch.arange(a.batch, device=dev).view(-1, 1, 1, 1)
    ci = torch.arange(3, device=dev).view(1, 3, 1, 1)

    def batch():
        # Per-sample random crop (4-pixel zero padding) and flip, batched on the device: the same
        # augmentation as netadj's (and as torchvision's RandomCrop + RandomHorizontalFlip per image).
        idx = torch.randint(0, 5000, (a.batch,), device=dev)
        x = F.pad(data[idx], (4, 4, 4, 4))
        off = torch.randint(0, 9, (a.batch, 2), device=dev)
        rows = off[:, :1] + ar
        cols = off[:, 1:] + ar
        flip = torch.rand(a.batch, device=dev) < 0.5
        cols = torch.where(flip.view(-1, 1), cols.flip(1), cols)
        x = x[bi, ci, rows.view(-1, 1, 32, 1), cols.view(-1, 1, 1, 32)]
        x = (x.float() - mean) / std
        if a.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, labels[idx]

    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=a.amp == "fp16")

    def step():
        x, y = batch()
        with torch.autocast(dev.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    for _ in range(a.warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    print(json.dumps({"impl": "pytorch-python", "torch": torch.__version__, "device": str(dev), "depth": a.depth,
                      "batch": a.batch, "threads": torch.get_num_threads(), "channels_last": a.channels_last, "amp": a.amp,
                      "train_images_per_s": a.steps * a.batch / dt}))


if __name__ == "__main__":
    main()
