#!/usr/bin/env python3
"""The PyTorch side of crates/fineface-kernels/examples/kernel_probe.rs: the same convolution
shapes (forward, and the input and weight gradients through `aten.convolution_backward`, the
kernel autograd runs) and a
training-mode BatchNorm2d forward+backward, on CPU with all cores, one JSON line each.

    python3 tools/kernel_probe_torch.py
"""

import json
import os
import time

import torch
import torch.nn.functional as F

CONVS = [
    (8, 3, 64, 224, 7, 2),
    (8, 64, 64, 56, 3, 1),
    (8, 256, 64, 56, 1, 1),
    (8, 64, 256, 56, 1, 1),
    (8, 256, 512, 56, 1, 2),
    (8, 128, 128, 56, 3, 2),
    (8, 128, 128, 28, 3, 1),
    (8, 256, 256, 14, 3, 1),
    (8, 1024, 512, 14, 1, 1),
    (8, 512, 512, 7, 3, 1),
    (8, 512, 1024, 28, 3, 1),
]


def median_seconds(f):
    f()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return sorted(times)[2]


def report(op, shape, seconds):
    print(json.dumps({"op": op, "shape": shape, "seconds": round(seconds, 5)}), flush=True)


def main():
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    for batch, cin, cout, size, kernel, stride in CONVS:
        padding = kernel // 2
        x = torch.randn(batch, cin, size, size)
        w = torch.randn(cout, cin, kernel, kernel)
        out = (size + 2 * padding - kernel) // stride + 1
        g = torch.randn(batch, cout, out, out)
        shape = f"{batch}x{cin}x{size}x{size} -> {cout}, {kernel}x{kernel}/{stride}"
        with torch.no_grad():
            report("conv forward", shape,
                   median_seconds(lambda: F.conv2d(x, w, None, stride, padding).sum()))

        def backward(mask, index):
            grads = torch.ops.aten.convolution_backward(
                g, x, w, None, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1, mask)
            return grads[index].sum()

        report("conv input gradient", shape,
               median_seconds(lambda: backward([True, False, False], 0)))
        report("conv weight gradient", shape,
               median_seconds(lambda: backward([False, True, False], 1)))

    x = torch.randn(8, 256, 56, 56, requires_grad=True)
    r = torch.randn(8, 256, 56, 56)
    bn = torch.nn.BatchNorm2d(256).train()

    def bn_step():
        x.grad = None
        (bn(x) * r).sum().backward()
        return x.grad.sum()

    report("batchnorm train forward+backward", "8x256x56x56", median_seconds(bn_step))


if __name__ == "__main__":
    main()
