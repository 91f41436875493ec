#!/usr/bin/env python3
"""Checks netadj's ONNX exports with ONNX Runtime, without netadj.

usage: check_onnx.py MODEL.onnx IO.pt [MODEL.onnx IO.pt ...]

Each IO.pt (written with torch::pickle_save) holds the tuple (input, expected output, tolerance) that
netadj's own forward gave; a model may be named with several IO files (batch sizes). The model must declare
one input "input" [N, C, H, W] and one output "logits" [N, classes] with N dynamic. For every pair one JSON
line is printed: the file, the batch, the largest absolute difference, the tolerance and whether it passed.
Exit status 1 when any check fails, 2 on bad usage.
"""
import json
import sys
import warnings

warnings.filterwarnings("ignore")
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402

_sessions = {}


def session(model_file):
    if model_file not in _sessions:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        s = ort.InferenceSession(model_file, opts, providers=["CPUExecutionProvider"])
        (inp,), (out,) = s.get_inputs(), s.get_outputs()
        if inp.name != "input" or out.name != "logits":
            raise ValueError(f"{model_file}: input {inp.name!r} and output {out.name!r}, expected 'input', 'logits'")
        if isinstance(inp.shape[0], int) or isinstance(out.shape[0], int):
            raise ValueError(f"{model_file}: the batch dimension is fixed ({inp.shape}, {out.shape})")
        _sessions[model_file] = s
    return _sessions[model_file]


def check(model_file, io_file):
    x, want, tol = torch.load(io_file)
    got = torch.from_numpy(session(model_file).run(["logits"], {"input": x.numpy()})[0])
    if got.shape != want.shape:
        raise ValueError(f"{model_file}: output shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    diff = (got - want).abs().max().item()
    tol = float(tol)
    return {"model": model_file, "batch": x.shape[0], "max_abs_diff": diff, "tolerance": tol, "ok": diff <= tol}


def main(argv):
    if len(argv) < 2 or len(argv) % 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ok = True
    for model_file, io_file in zip(argv[::2], argv[1::2]):
        try:
            r = check(model_file, io_file)
        except Exception as e:  # one line per pair, whatever went wrong
            r = {"model": model_file, "error": str(e).splitlines()[0] if str(e) else type(e).__name__, "ok": False}
        ok = ok and r["ok"]
        print(json.dumps(r))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
