#!/usr/bin/env python3
"""The PyTorch side of `cargo xtask bench resnet`: the same cases as
crates/fineface-model/examples/bench_resnet.rs, on CPU with all cores, printing JSON.

    python3 tools/bench_torch.py --case forward-backward --batch 8 --size 224
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True,
                    choices=["forward", "forward-backward", "batchnorm", "batchnorm-burn"])
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    shape = (args.batch, 3, args.size, args.size)
    if args.case in ("forward", "forward-backward"):
        model = getattr(torchvision.models, args.arch)(weights=None)
        x = torch.randn(*shape)
        if args.case == "forward":
            model.eval()

            def step():
                with torch.no_grad():
                    return float(model(x).sum())
        else:
            model.train()
            y = torch.zeros(args.batch, dtype=torch.long)

            def step():
                model.zero_grad(set_to_none=True)
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return float(loss.detach())
    else:
        hw = args.size // 4
        bn = torch.nn.BatchNorm2d(256).train()
        x = torch.randn(args.batch, 256, hw, hw, requires_grad=True)

        def step():
            y = bn(x).sum()
            y.backward()
            return float(y.detach())

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"case": args.case, "times_s": times,
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
