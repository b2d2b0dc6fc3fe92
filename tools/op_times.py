#!/usr/bin/env python3
"""Where one FineFACE training iteration spends its time, op by op, ours against PyTorch's.

Our side: `bench_fineface --op-times FILE` records a tracing span around every kernel
`FineFaceBackend` runs on Flex (convolution forward and gradients with their shapes,
BatchNorm forward and backward, the residual ReLU, the SGD update) and around each optimiser
step, for the timed iterations only. PyTorch's side: `torch.profiler` on the same iteration of
`tools/reference/fineface_torch.py` (self CPU time of `aten::mkldnn_convolution`,
`aten::convolution_backward`, `aten::native_batch_norm[_backward]` and the optimiser step).

    cargo run --release -p fineface-train --example bench_fineface -- \
        --case iteration --iters 1 --op-times ours.log
    python3 tools/op_times.py ours.log --torch

The profiler slows PyTorch down (an iteration took 15-16 s under it against 11 s without on
this project's 2-core CPU), most of all in its memory-bound ops, so compare compute-bound lines
(the convolutions) with care and the rest only in rough terms.
"""

import argparse
import collections
import re
import sys
from pathlib import Path

UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
CLOSE = re.compile(r"(\w+)(?:\{([^}]*)\})?: .*close time\.busy=([\d.]+)(ns|µs|us|ms|s)")


def conv_key(pass_, c_in, c_out, kernel, size):
    """Both sides' name for one convolution; PyTorch's backward is one op for both gradients."""
    what = "conv forward" if pass_ == "forward" else "conv backward"
    return f"{what} {c_in}->{c_out} {kernel}x{kernel} @{size}"


def ours(path):
    """Seconds and calls per op from the span log of `bench_fineface --op-times`."""
    totals = collections.defaultdict(lambda: [0.0, 0])
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = CLOSE.search(line)
        if not match:
            continue
        name, fields, value, unit = match.groups()
        fields = dict(f.split("=", 1) for f in (fields or "").split())
        fields = {k: v.strip('"') for k, v in fields.items()}
        if name == "conv2d":
            key = conv_key(fields["pass"], fields["c_in"], fields["c_out"], fields["kernel"],
                           fields["size"])
            calls = 0 if fields["pass"] == "weight_gradient" else 1
        else:
            key = name.replace("_", " ") + (f" {fields['pass']}" if "pass" in fields else "")
            calls = 1
        totals[key][0] += float(value) * UNITS[unit]
        totals[key][1] += calls
    return totals


def torch_side(args):
    """Seconds and calls per op of one profiled iteration of the PyTorch reference."""
    import random

    import torch
    from torch.profiler import ProfilerActivity, profile

    sys.path.insert(0, str(Path(__file__).resolve().parent / "reference"))
    import fineface_torch as ref

    torch.manual_seed(0)
    size = args.image_size
    x, y = torch.randn(args.batch, 3, size, size), torch.arange(args.batch) % 2
    model = ref.FineFace(2, args.backbone, args.width, args.head_width)
    opt = ref.optimizer(model)
    rng = random.Random(0)
    ref.iteration(model, opt, x, y, rng=rng)  # warm-up, as on our side
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        ref.iteration(model, opt, x, y, rng=rng)
    totals = collections.defaultdict(lambda: [0.0, 0])
    for e in prof.key_averages(group_by_input_shape=True):
        shapes, seconds = e.input_shapes, e.self_cpu_time_total / 1e6
        if e.key in ("aten::mkldnn_convolution", "aten::_conv_depthwise2d"):
            x_shape, w = shapes[0], shapes[1]
            key = conv_key("forward", w[1], w[0], w[2], x_shape[2])
            if w[1] == 1 and w[0] > 1:
                key = "conv2d depthwise forward"
        elif e.key == "aten::convolution_backward":
            x_shape, w = shapes[1], shapes[2]
            key = conv_key("backward", w[1], w[0], w[2], x_shape[2])
            if w[1] == 1 and w[0] > 1:
                key = "conv2d depthwise backward (input and weight)"
        elif e.key == "aten::native_batch_norm":
            key = "batch norm forward"
        elif e.key == "aten::native_batch_norm_backward":
            key = "batch norm backward"
        elif e.key.startswith("Optimizer.step"):
            key = "sgd step"
            seconds = e.cpu_time_total / 1e6
        elif e.key.startswith("aten::") and seconds >= 0.005:
            key = f"other {e.key}"
        else:
            continue
        totals[key][0] += seconds
        totals[key][1] += e.count
    return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ours", help="span log of bench_fineface --op-times")
    parser.add_argument("--torch", action="store_true", help="profile the PyTorch reference too")
    parser.add_argument("--top", type=int, default=80, help="lines to print")
    parser.add_argument("--backbone", default="resnet50", help="the reference's backbone")
    parser.add_argument("--width", type=int, default=64, help="a ResNet's base width")
    parser.add_argument("--head-width", type=int, default=1024)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    mine = ours(args.ours)
    theirs = torch_side(args) if args.torch else {}
    keys = set(mine) | set(theirs)
    rows = [(k, mine.get(k, [0.0, 0]), theirs.get(k, [0.0, 0])) for k in keys]
    rows.sort(key=lambda r: -(r[1][0] - r[2][0]) if theirs else -r[1][0])
    print(f"{'op':36} {'ours s':>8} {'calls':>5} {'torch s':>8} {'calls':>5} {'ours-torch':>10}")
    for key, (a, na), (b, nb) in rows[: args.top]:
        print(f"{key:36} {a:8.4f} {na:5} {b:8.4f} {nb:5} {a - b:10.4f}")
    # The SGD update kernels run inside the optimiser step's span: count them once.
    outer = [r for r in rows if r[0] != "sgd update"]
    print(f"{'all ops (sgd update inside sgd step)':36} {sum(r[1][0] for r in outer):8.4f} "
          f"{'':5} {sum(r[2][0] for r in outer):8.4f}")


if __name__ == "__main__":
    main()
