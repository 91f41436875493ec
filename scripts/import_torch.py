#!/usr/bin/env python3
"""netadj import: a PyTorch image classifier as a netadj network file and its weights.

    import_torch.py TARGET --input C,H,W --out DIR [--mean m,m,m --std s,s,s]

TARGET is "module.path:callable" returning an nn.Module (torchvision.models:resnet50, mypkg.net:build).
The module is put in eval mode and traced with torch.fx (symbolic tracing: it records the module calls and
tensor functions of one forward pass without running it, and keeps each nn.Module call as one node, so a
Conv2d's weights stay attached to its node). DIR receives graph.json (docs/graph-format.md) and weights.bin
(the netadj-weights format below), which netadj reads without Python.

An op the format cannot express exactly gives one line naming the node, its op and the supported ops, and
exit 2; nothing is written then. Runs under any Python with torch (no numpy needed).

netadj-weights, version 1: the 8 bytes "NETADJW1", a little-endian uint64 n, n bytes of JSON
{"format": "netadj-weights", "version": 1, "tensors": {name: {"dtype": "float32", "shape": [...],
"offset": bytes from the start of the data}}}, then the data (float32, little-endian, C order).
"""
import argparse
import ctypes
import importlib
import json
import operator
import os
import struct
import sys

# netadj's activations (src/ir/activation.cpp lists them; a test holds these keys equal to that list) and the
# nn module class of each (GELU: only its exact form, approximate="none").
ACTIVATIONS = {"relu": "ReLU", "relu6": "ReLU6", "silu": "SiLU", "hardswish": "Hardswish",
               "hardsigmoid": "Hardsigmoid", "sigmoid": "Sigmoid", "gelu": "GELU"}

SUPPORTED = ("Conv2d, BatchNorm2d, " + ", ".join(ACTIVATIONS.values()) + " (modules), MaxPool2d, AvgPool2d, "
             "AdaptiveAvgPool2d, Linear, Dropout, Identity, Flatten, add, mul, cat (dim 1), flatten (from dim 1), "
             "mean over H and W, relu, adaptive_avg_pool2d, dropout, stochastic_depth (row)")


class Unsupported(Exception):
    pass


def square(v, what, node):
    if isinstance(v, int):
        return v
    if isinstance(v, (tuple, list)) and len(v) == 2 and v[0] == v[1] and isinstance(v[0], int):
        return v[0]
    raise Unsupported(f"node '{node.name}' ({what}): {v!r} is not square")


class Importer:
    def __init__(self, torch, module):
        self.torch = torch
        self.module = module
        self.ops = []
        self.tensors = {}  # name -> tensor

    def add(self, node, op, inputs, **attrs):
        d = {"name": node.name, "op": op, "inputs": inputs}
        d.update(attrs)
        self.ops.append(d)

    def weights(self, node, **named):
        for k, t in named.items():
            if t is not None:
                self.tensors[f"{node.name}.{k}"] = t.detach()

    def module_op(self, node, m, ins):
        nn = self.torch.nn
        for name, cls in ACTIVATIONS.items():
            if type(m) is getattr(nn, cls) and getattr(m, "approximate", "none") == "none":
                return self.add(node, name, ins)
        if isinstance(m, nn.Conv2d) and m.padding_mode == "zeros" and not isinstance(m.padding, str):
            self.add(node, "conv2d", ins, out=m.out_channels, kernel=square(m.kernel_size, "kernel", node),
                     stride=square(m.stride, "stride", node), padding=square(m.padding, "padding", node),
                     dilation=square(m.dilation, "dilation", node), groups=m.groups, bias=m.bias is not None)
            return self.weights(node, weight=m.weight, bias=m.bias)
        if isinstance(m, nn.BatchNorm2d) and m.affine and m.track_running_stats:
            self.add(node, "batch_norm", ins, eps=m.eps)
            return self.weights(node, weight=m.weight, bias=m.bias, running_mean=m.running_mean,
                                running_var=m.running_var)
        if isinstance(m, nn.Linear):
            self.add(node, "linear", ins, out=m.out_features, bias=m.bias is not None)
            return self.weights(node, weight=m.weight, bias=m.bias)
        if isinstance(m, nn.MaxPool2d) and square(m.dilation, "dilation", node) == 1 and not m.return_indices:
            k = square(m.kernel_size, "kernel", node)
            return self.add(node, "max_pool", ins, kernel=k, stride=square(m.stride or k, "stride", node),
                            padding=square(m.padding, "padding", node), ceil_mode=bool(m.ceil_mode))
        if isinstance(m, nn.AvgPool2d) and m.divisor_override is None and (m.count_include_pad or m.padding == 0):
            k = square(m.kernel_size, "kernel", node)
            return self.add(node, "avg_pool", ins, kernel=k, stride=square(m.stride or k, "stride", node),
                            padding=square(m.padding, "padding", node), ceil_mode=bool(m.ceil_mode))
        if isinstance(m, nn.AdaptiveAvgPool2d):
            return self.add(node, "adaptive_avg_pool", ins, output_size=square(m.output_size, "output_size", node))
        if isinstance(m, nn.Dropout):
            return self.add(node, "dropout", ins, p=float(m.p))
        if isinstance(m, nn.Identity):
            return self.add(node, "identity", ins)
        if isinstance(m, nn.Flatten) and m.start_dim == 1 and m.end_dim == -1:
            return self.add(node, "flatten", ins)
        raise Unsupported(f"node '{node.name}' (module {type(m).__name__}) is not supported; supported: {SUPPORTED}")

    def function_op(self, node, fn, args, kwargs, name):
        torch, F = self.torch, self.torch.nn.functional
        tensors = [a for a in args if hasattr(a, "name") and hasattr(a, "op")]
        if fn in (operator.add, torch.add, operator.iadd) and len(tensors) == 2 and len(args) == 2 and not kwargs:
            return self.add(node, "add", [name(a) for a in args])
        if fn in (operator.mul, torch.mul, operator.imul) and len(tensors) == 2 and len(args) == 2 and not kwargs:
            return self.add(node, "mul", [name(a) for a in args])
        if fn is torch.cat:
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            if dim == 1 and isinstance(args[0], (list, tuple)):
                return self.add(node, "cat", [name(a) for a in args[0]])
        if fn is torch.flatten and (args[1:] + (kwargs.get("start_dim", 0),))[0] == 1:
            if (args[2:] + (kwargs.get("end_dim", -1),))[0] == -1:
                return self.add(node, "flatten", [name(args[0])])
        if fn in (F.relu, torch.relu):
            return self.add(node, "relu", [name(args[0])])
        if fn is F.adaptive_avg_pool2d:
            size = args[1] if len(args) > 1 else kwargs["output_size"]
            return self.add(node, "adaptive_avg_pool", [name(args[0])],
                            output_size=square(size, "output_size", node))
        if fn is F.dropout:
            return self.add(node, "dropout", [name(args[0])], p=float(args[1] if len(args) > 1 else kwargs.get("p", .5)))
        if getattr(fn, "__name__", "") == "stochastic_depth":
            p = args[1] if len(args) > 1 else kwargs["p"]
            mode = args[2] if len(args) > 2 else kwargs["mode"]
            if mode == "row":
                return self.add(node, "stochastic_depth", [name(args[0])], p=float(p))
        raise Unsupported(f"node '{node.name}' (function {getattr(fn, '__name__', fn)}) is not supported; "
                          f"supported: {SUPPORTED}")

    def method_op(self, node, args, kwargs, name):
        m = node.target
        if m == "mean":
            dims = args[1] if len(args) > 1 else kwargs.get("dim")
            keep = args[2] if len(args) > 2 else kwargs.get("keepdim", False)
            if dims is not None and sorted(d % 4 for d in dims) == [2, 3]:
                return self.add(node, "mean", [name(args[0])], keepdim=bool(keep))
        if m == "flatten" and (args[1:] + (kwargs.get("start_dim", 0),))[0] == 1:
            if (args[2:] + (kwargs.get("end_dim", -1),))[0] == -1:
                return self.add(node, "flatten", [name(args[0])])
        if m in ("relu", "relu_"):
            return self.add(node, "relu", [name(args[0])])
        raise Unsupported(f"node '{node.name}' (method {m}) is not supported; supported: {SUPPORTED}")

    def check_in_place(self, gm, node, order):
        """An in-place op whose input is read again later: the file would give those readers the value before
        the change, so the import stops rather than write a different function."""
        inplace = (node.op == "call_module" and getattr(gm.get_submodule(node.target), "inplace", False)) or \
            (node.op == "call_function" and (node.target in (operator.iadd, operator.imul) or
                                             node.kwargs.get("inplace", False))) or \
            (node.op == "call_method" and str(node.target).endswith("_"))
        if not inplace or not node.args or not hasattr(node.args[0], "users"):
            return
        changed = node.args[0]
        later = [u.name for u in changed.users if u is not node and order[u] > order[node]]
        if later:
            raise Unsupported(f"node '{node.name}' changes its input '{changed.name}' in place, and '{later[0]}' "
                              "reads it afterwards; make the op out of place")

    def run(self, gm):
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise Unsupported(f"the module takes {len(placeholders)} inputs; netadj imports single-input networks")
        renamed = {placeholders[0].name: "input"}

        def name(a):
            if not (hasattr(a, "name") and hasattr(a, "op")):
                raise Unsupported(f"a constant {a!r} where a tensor was expected")
            return renamed.get(a.name, a.name)

        order = {n: i for i, n in enumerate(gm.graph.nodes)}
        output = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                continue
            self.check_in_place(gm, node, order)
            if node.op == "output":
                out = node.args[0]
                if not (hasattr(out, "name") and hasattr(out, "op")):
                    raise Unsupported("the module's output is not one tensor (netadj imports single-output networks)")
                output = name(out)
            elif node.op == "call_module":
                self.module_op(node, gm.get_submodule(node.target), [name(a) for a in node.args])
            elif node.op == "call_function":
                self.function_op(node, node.target, tuple(node.args), dict(node.kwargs), name)
            elif node.op == "call_method":
                self.method_op(node, tuple(node.args), dict(node.kwargs), name)
            else:
                raise Unsupported(f"node '{node.name}' ({node.op} {node.target}) is not supported; "
                                  f"supported: {SUPPORTED}")
        return output


def write_weights(path, tensors):
    header, offset, blobs = {}, 0, []
    for k, t in tensors.items():
        t = t.detach().to("cpu").float().contiguous()
        header[k] = {"dtype": "float32", "shape": list(t.shape), "offset": offset}
        blobs.append(t)
        offset += t.numel() * 4
    head = json.dumps({"format": "netadj-weights", "version": 1, "tensors": header}).encode()
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"NETADJW1" + struct.pack("<Q", len(head)) + head)
        for t in blobs:
            if t.numel():
                f.write(ctypes.string_at(t.data_ptr(), t.numel() * 4))
    os.replace(tmp, path)


def import_module(torch, module, input_shape, out_dir, mean=None, std=None):
    """Traces `module` and writes out_dir/graph.json and out_dir/weights.bin. Raises Unsupported."""
    from torch import fx
    module = module.eval()
    gm = fx.symbolic_trace(module)
    imp = Importer(torch, gm)
    output = imp.run(gm)
    c, h, w = input_shape
    if h != w:
        raise Unsupported(f"--input {c},{h},{w}: netadj imports square inputs")
    doc = {"format": "netadj-graph", "version": 1, "input": {"channels": c, "resolution": h}, "ops": imp.ops,
           "output": output}
    if mean and std:
        doc["normalize"] = {"mean": mean, "std": std}
    os.makedirs(out_dir, exist_ok=True)
    write_weights(os.path.join(out_dir, "weights.bin"), imp.tensors)
    tmp = os.path.join(out_dir, "graph.json.tmp")
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, os.path.join(out_dir, "graph.json"))
    return doc


def load_target(target):
    if ":" not in target:
        raise ValueError(f"{target}: expected module.path:callable (e.g. torchvision.models:resnet50)")
    mod, fn = target.split(":", 1)
    obj = importlib.import_module(mod)
    for part in fn.split("."):
        obj = getattr(obj, part)
    return obj()


def floats(text):
    return [float(v) for v in text.split(",")] if text else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target")
    ap.add_argument("--input", required=True, help="C,H,W of one input image")
    ap.add_argument("--out", required=True)
    ap.add_argument("--mean")
    ap.add_argument("--std")
    a = ap.parse_args()
    try:
        shape = [int(v) for v in a.input.split(",")]
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError
    except ValueError:
        print(f"netadj import: --input {a.input}: expected C,H,W (e.g. 3,224,224)", file=sys.stderr)
        return 2
    import torch
    try:
        module = load_target(a.target)
    except Exception as e:  # the user's code: any failure is theirs to see, on one line
        print(f"netadj import: {a.target}: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    if not isinstance(module, torch.nn.Module):
        print(f"netadj import: {a.target} returned a {type(module).__name__}, not an nn.Module", file=sys.stderr)
        return 2
    try:
        import_module(torch, module, shape, a.out, floats(a.mean), floats(a.std))
    except Unsupported as e:
        print(f"netadj import: {a.target}: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # torch.fx cannot trace it (data-dependent control flow, ...)
        print(f"netadj import: {a.target}: tracing failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    return 0  # netadj reads the folder back, then prints what it holds


if __name__ == "__main__":
    sys.exit(main())
