#!/usr/bin/env python3
"""One results table for a sweep folder: original vs searched test accuracy and FLOPs per network."""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    out, nets = sys.argv[1], sys.argv[2:]
    print(f"| network | original top1 | searched top1 | delta | FLOPs original | FLOPs searched |")
    print(f"|---|---|---|---|---|---|")
    for n in nets:
        o = load(os.path.join(out, n, "original", "result.json"))
        s = load(os.path.join(out, n, "searched", "result.json"))
        if not o or not s:
            print(f"| {n} | (missing) | | | | |")
            continue
        a, b = 100 * o["test"]["top1"], 100 * s["test"]["top1"]
        print(f"| {n} | {a:.2f} | {b:.2f} | {b - a:+.2f} | {o['flops'] / 1e6:.2f}M | {s['flops'] / 1e6:.2f}M |")


if __name__ == "__main__":
    main()
