#!/usr/bin/env python3
"""An independent reading of a netadj graph file (docs/graph-format.md) in PyTorch.

  graph_reference.py GRAPH.json

Builds the network op by op with torch.nn.functional and prints one JSON line: "flops" (half of
torch.utils.flop_counter.FlopCounterMode's count of convolutions and matrix products for one image, that is
multiply-accumulates), "params" (the trainable parameters it created), and "shapes" (every op's output shape
for one image). tests/graph_test.cpp compares these with netadj's own count and shape inference.
"""
import json
import sys

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode


def run(doc, x):
    """Every op's output for the batch x; parameters are made as each op first sees its input."""
    params = []

    def param(*shape):
        p = torch.nn.Parameter(torch.randn(*shape) * 0.1)
        params.append(p)
        return p

    acts = {"relu": F.relu, "relu6": F.relu6, "silu": F.silu, "hardswish": F.hardswish,
            "hardsigmoid": F.hardsigmoid, "sigmoid": torch.sigmoid, "gelu": F.gelu}
    values = {"input": x}
    for op in doc["ops"]:
        a = [values[i] for i in op["inputs"]]
        k = op["op"]
        c = a[0].shape[1]
        if k == "conv2d":
            g = op.get("groups", 1)
            w = param(op["out"], c // g, op["kernel"], op["kernel"])
            b = param(op["out"]) if op.get("bias", False) else None
            y = F.conv2d(a[0], w, b, op.get("stride", 1), op.get("padding", 0), op.get("dilation", 1), g)
        elif k == "batch_norm":
            y = F.batch_norm(a[0], None, None, param(c), param(c), training=True)
        elif k == "linear":
            b = param(op["out"]) if op.get("bias", True) else None
            y = F.linear(a[0], param(op["out"], c), b)
        elif k in ("max_pool", "avg_pool"):
            f = F.max_pool2d if k == "max_pool" else F.avg_pool2d
            y = f(a[0], op["kernel"], op.get("stride", op["kernel"]), op.get("padding", 0),
                  ceil_mode=op.get("ceil_mode", False))
        elif k == "adaptive_avg_pool":
            y = F.adaptive_avg_pool2d(a[0], op.get("output_size", 1))
        elif k == "mean":
            y = a[0].mean((2, 3), keepdim=op.get("keepdim", False))
        elif k == "flatten":
            y = torch.flatten(a[0], 1)
        elif k == "add" and "fit" in op:  # zero padding in front, or the first channels kept
            w = max(t.shape[1] for t in a) if op["fit"] == "max" else a[1].shape[1]
            fit = [F.pad(t, (0, 0, 0, 0, w - t.shape[1], 0)) if t.shape[1] < w else t[:, :w] for t in a]
            y = fit[0] + fit[1]
        elif k == "add":
            y = a[0]
            for t in a[1:]:
                y = y + t
        elif k == "mul":
            y = a[0] * a[1]
        elif k == "cat":
            y = torch.cat(a, 1)
        elif k == "channel_shuffle":
            y = F.channel_shuffle(a[0], op["groups"])
        else:  # activations; dropout, stochastic depth and identity are the identity in eval
            y = acts.get(k, lambda t: t)(a[0])
        values[op["name"]] = y
    return values, params


def main():
    doc = json.load(open(sys.argv[1]))
    i = doc["input"]
    x = torch.randn(2, i["channels"], i["resolution"], i["resolution"])
    counter = FlopCounterMode(display=False)
    with counter:
        values, params = run(doc, x)
    shapes = {name: list(v.shape[1:]) for name, v in values.items() if name != "input"}
    print(json.dumps({"flops": counter.get_total_flops() // 2 // 2,  # two images, two FLOPs per MAC
                      "params": sum(p.numel() for p in params), "shapes": shapes}))


if __name__ == "__main__":
    main()
