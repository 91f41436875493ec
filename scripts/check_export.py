#!/usr/bin/env python3
"""Checks netadj's TorchScript exports in Python, without netadj.

usage: check_export.py MODEL.pt IO.pt [MODEL.pt IO.pt ...]

Each MODEL.pt is loaded with torch.jit.load; IO.pt (written with torch::pickle_save) holds the tuple
(input, expected output, tolerance) that netadj's own forward gave. For every pair one JSON line is
printed: the file, the largest absolute difference, the tolerance and whether it passed. The model.json
embedded in the file must name the architecture and the channels, and a model.json beside the file
must equal it. Exit status 1 when any check fails, 2 on bad usage.
"""
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")  # e.g. "Failed to initialize NumPy" on a torch without numpy
import torch  # noqa: E402


def check(model_file, io_file):
    extra = {"model.json": ""}
    model = torch.jit.load(model_file, map_location="cpu", _extra_files=extra)
    model.eval()
    card = json.loads(extra["model.json"])
    for key in ("arch", "channels", "input", "preprocess", "num_classes"):
        if key not in card:
            raise ValueError(f"{model_file}: embedded model.json has no '{key}'")
    beside = os.path.splitext(model_file)[0] + ".json"
    if os.path.exists(beside):
        with open(beside) as f:
            on_disk = json.load(f)
        on_disk.pop("check", None)
        if on_disk != card:
            raise ValueError(f"{beside}: differs from the model.json embedded in {model_file}")
    x, want, tol = torch.load(io_file)
    with torch.no_grad():
        got = model(x)
    if got.shape != want.shape:
        raise ValueError(f"{model_file}: output shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    diff = (got - want).abs().max().item()
    tol = float(tol)
    return {"model": model_file, "arch": card["arch"], "max_abs_diff": diff, "tolerance": tol, "ok": diff <= tol}


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ok = True
    for model_file, io_file in zip(argv[0::2], argv[1::2]):
        try:
            r = check(model_file, io_file)
        except Exception as e:  # one line per failure, then go on with the others
            r = {"model": model_file, "ok": False, "error": str(e).splitlines()[0] if str(e) else repr(e)}
        ok = ok and r["ok"]
        print(json.dumps(r), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
