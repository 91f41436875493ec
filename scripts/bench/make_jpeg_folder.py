#!/usr/bin/env python3
"""Writes an ImageNet-style folder of synthetic JPEGs (photo-sized, 500x375 by default) for
`netadj bench data --set data.dataset=imagefolder --set data.root=DIR`.

    /usr/bin/python3 scripts/bench/make_jpeg_folder.py DIR [--classes 4] [--per-class 64]
"""
import argparse
import os
import random

from PIL import Image, ImageDraw


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--classes", type=int, default=4)
    ap.add_argument("--per-class", type=int, default=64)
    ap.add_argument("--size", default="500x375")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    rng = random.Random(0)
    for split, n in (("train", a.per_class), ("val", max(1, a.per_class // 4))):
        for c in range(a.classes):
            d = os.path.join(a.root, split, f"class{c:03d}")
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                img = Image.new("RGB", (w, h), tuple(rng.randrange(256) for _ in range(3)))
                draw = ImageDraw.Draw(img)
                for _ in range(30):
                    x0, y0 = rng.randrange(w), rng.randrange(h)
                    draw.ellipse([x0, y0, x0 + rng.randrange(20, 150), y0 + rng.randrange(20, 150)],
                                 fill=tuple(rng.randrange(256) for _ in range(3)))
                img.save(os.path.join(d, f"{i:05d}.JPEG"), quality=90)


if __name__ == "__main__":
    main()
