#!/usr/bin/env python3
"""The PyTorch side of `cargo xtask bench iteration|baseline|forward|backward|eval|crops`:
the same cases as crates/fineface-train/examples/bench_fineface.rs on the reference
(`fineface_torch.py`), printing `{"case", "times_s": [...]}`.

`--flops` instead counts the floating-point operations of one case with
torch.utils.flop_counter (matmuls and convolutions, forward and backward) and prints
`{"flops": N}`. Case `matmul` times one float32 `[n, n] @ [n, n]` (n = --image-size), the
machine's matmul rate.

    python3 tools/reference/bench_fineface_torch.py --case iteration --backbone resnet50 --image-size 224 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fineface_torch as ref  # noqa: E402


def make_step(args, device):
    shape = (args.batch, 3, args.image_size, args.image_size)
    x = torch.randn(*shape, device=device)
    y = (torch.arange(args.batch) % 2).to(device)
    rng = random.Random(0)
    if args.case == "iteration":
        model = ref.FineFace(2, args.backbone, args.width, args.head_width).to(device)
        opt = ref.optimizer(model)
        return lambda: ref.iteration(model, opt, x, y, rng=rng, crop_mode=args.crops)
    if args.case == "baseline":
        model = ref.Baseline(2, args.backbone, args.width).to(device)
        opt = ref.optimizer(model)
        return lambda: ref.baseline_iteration(model, opt, x, y)
    if args.case == "forward":
        backbone = ref.make_backbone(args.backbone, args.width).to(device).eval()

        def step():
            with torch.no_grad():
                return float(backbone(x)[2].sum())
        return step
    if args.case == "backward":
        backbone = ref.make_backbone(args.backbone, args.width).to(device).train()

        def step():
            backbone.zero_grad(set_to_none=True)
            loss = backbone(x)[2].mean()
            loss.backward()
            return float(loss.detach())
        return step
    if args.case == "eval":
        model = ref.FineFace(2, args.backbone, args.width, args.head_width).to(device).eval()
        return lambda: float(ref.predict(model, x, crop_mode=args.crops)["combined"].sum())
    if args.case == "matmul":
        n = args.image_size
        a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        return lambda: float((a @ b)[0, 0])
    if args.case == "crops":
        s = args.image_size
        maps = [torch.randn(args.batch, s // k, s // k, device=device) for k in (8, 16, 32)]
        return lambda: [float(c.sum()) for c in ref.crops(x, maps, mode=args.crops)]
    raise SystemExit(f"unknown case {args.case}")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", required=True,
                    choices=["iteration", "baseline", "forward", "backward", "eval", "crops", "matmul"])
    ap.add_argument("--backbone", default="resnet50")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--head-width", type=int, default=1024)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--crops", default="loop", choices=["loop", "batched"],
                    help="the reference's per-sample crop loop, or one grid_sample")
    ap.add_argument("--lean", action="store_true", help="accepted for symmetry; the reference has no lean mode")
    ap.add_argument("--flops", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    device = torch.device(args.device.replace("cuda:", "cuda:") if args.device != "cpu" else "cpu")
    step = make_step(args, device)
    if args.flops:
        from torch.utils.flop_counter import FlopCounterMode
        step()  # build optimiser state outside the count
        with FlopCounterMode(display=False) as counter:
            step()
        print(json.dumps({"case": args.case, "flops": counter.get_total_flops()}))
        return
    for _ in range(args.warmup):
        step()
    sync(device)
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    print(json.dumps({"case": args.case, "times_s": times}))


if __name__ == "__main__":
    main()
