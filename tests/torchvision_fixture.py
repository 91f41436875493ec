#!/usr/bin/env python3
"""Test fixture (CTest FIXTURES_SETUP): imports the sixteen torchvision models once per test run.

    torchvision_fixture.py OUT_DIR [FIRST LAST]   (the models MODELS[FIRST:LAST]; all by default)

For each model, with random weights (seeded, nothing downloaded): OUT_DIR/<name>/graph.json and weights.bin
from scripts/import_torch.py, or refused.txt with the importer's one line; and the independent reference:
reference.bin (netadj-weights: "x", a random batch at 64x64, and "y", torchvision's eval output) and
reference.json {"macs_224": FlopCounterMode's count of convolutions and matrix products at 224x224 on the meta
device, halved; "params": the traced module's parameters, which leaves out submodules the eval forward does
not use, such as GoogLeNet's auxiliary heads}. Without torchvision, OUT_DIR/unavailable.txt says so and the
tests skip.
"""
import json
import os
import sys
import time

MODELS = ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "vgg11_bn", "mobilenet_v2",
          "mobilenet_v3_large", "mnasnet1_0", "efficientnet_b0", "regnet_y_400mf", "densenet121",
          "shufflenet_v2_x1_0", "squeezenet1_1", "googlenet", "convnext_tiny", "alexnet"]


def main():
    out = sys.argv[1]
    first, last = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (0, len(MODELS))
    os.makedirs(out, exist_ok=True)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
    try:
        import torch
        import torchvision
        from torch import fx
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError as e:
        open(os.path.join(out, "unavailable.txt"), "w").write(f"{e}\n")
        return 0
    import import_torch
    if os.path.exists(os.path.join(out, "unavailable.txt")):
        os.remove(os.path.join(out, "unavailable.txt"))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in MODELS[first:last]:
        t0 = time.time()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        for stale in ("graph.json", "weights.bin", "refused.txt", "reference.json", "reference.bin"):
            if os.path.exists(os.path.join(d, stale)):
                os.remove(os.path.join(d, stale))
        ctor = getattr(torchvision.models, name)
        torch.manual_seed(0)
        model = ctor().eval()
        try:
            import_torch.import_module(torch, model, [3, 224, 224], d)
            status = "imported"
        except import_torch.Unsupported as e:
            open(os.path.join(d, "refused.txt"), "w").write(f"netadj import: torchvision.models:{name}: {e}\n")
            status = "refused"
        torch.manual_seed(1)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            y = model(x)
        import_torch.write_weights(os.path.join(d, "reference.bin"), {"x": x, "y": y})
        traced = fx.symbolic_trace(model)
        params = sum(p.numel() for p in traced.parameters())
        meta = model.to("meta")  # counted without data (the last use of the model)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            meta(torch.empty(1, 3, 224, 224, device="meta"))
        flops = counter.get_total_flops()
        json.dump({"macs_224": flops // 2, "params": params, "status": status, "torch": torch.__version__,
                   "torchvision": torchvision.__version__}, open(os.path.join(d, "reference.json"), "w"))
        print(name, status, round(time.time() - t0, 2), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
