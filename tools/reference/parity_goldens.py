#!/usr/bin/env python3
"""Goldens that show our Burn FineFACE computes what the PyTorch reference computes.

1. Our Rust code writes a seeded tiny FineFACE (ResNet-18 at width 4, heads of width 8)
   through `export_torchvision_safetensors` (example `export_reference_model`).
2. The reference (`fineface_torch.py`) loads exactly those tensors and computes, on a fixed
   batch: eval-mode logits of the four heads, the feature maps, the attention maps, the four
   crops and their boxes, the 8-logit prediction; then one training iteration (the five
   steps with the sources fixed to crop 1 for expert 2 and crop 3 for expert 1), after which
   every parameter and running statistic is saved.

`crates/fineface-train/tests/reference_parity.rs` compares the Rust side with all of it.

    pip install torch torchvision safetensors
    python3 tools/reference/parity_goldens.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fineface_torch as ref  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates/fineface-train/tests/data/reference"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    weights = OUT / "model.safetensors"
    subprocess.run(["cargo", "run", "--release", "--quiet", "-p", "fineface-train", "--example",
                    "export_reference_model", "--", str(weights)], cwd=ROOT, check=True)
    torch.manual_seed(0)
    model = ref.FineFace(n_classes=2, arch="resnet18", width=4, head_width=8)
    missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("num_batches_tracked") for k in missing), missing
    gen = torch.Generator().manual_seed(20261128)
    x = torch.randn(4, 3, 64, 64, generator=gen)
    y = torch.tensor([0, 1, 1, 0])
    io = {"input": x, "targets": y}

    model.eval()
    with torch.no_grad():
        out = model(x)
        maps = ref.attention_maps(model, out)
        crops = ref.crops(x, maps)
        pred = ref.predict(model, x)
    for k in ["expert1", "expert2", "expert3", "concat"]:
        io[f"eval.{k}"] = out[k]
    for i in range(3):
        io[f"eval.map{i + 1}"] = out["maps"][i]
        io[f"eval.attention{i + 1}"] = maps[i]
    for name, c in zip(["crop1", "crop2", "crop3", "crop_all"], crops):
        io[f"eval.{name}"] = c
    size = x.shape[2:]
    norms = [ref._normalise(a, size) for a in maps]
    combined = sum(norms)
    flat = combined.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    combined = ((flat - lo) / (hi - lo + 1e-6)).view_as(combined)
    for i, n in enumerate(norms + [combined]):
        io[f"eval.boxes{i + 1}"] = torch.tensor(ref.boxes(n))
    for k, v in pred.items():
        io[f"predict.{k}"] = v

    # Crops of peaked maps (a random tiny network's maps are spread out, so its boxes are the
    # whole image): one Gaussian bump per sample at its own place, at the three resolutions.
    blob_maps = []
    for side in (8, 4, 2):
        grid = torch.arange(side, dtype=torch.float32)
        maps_k = []
        for i in range(4):
            cy, cx = (i * 0.23 + 0.15) * side, (0.8 - i * 0.19) * side
            bump = torch.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2) / (0.06 * side * side))
            maps_k.append(bump + 0.05 * torch.randn(side, side, generator=gen))
        blob_maps.append(torch.stack(maps_k))
    blob_crops = ref.crops(x, blob_maps)
    blob_norms = [ref._normalise(a, size) for a in blob_maps]
    blob_combined = sum(blob_norms)
    flat = blob_combined.flatten(1)
    lo, hi = flat.min(1, keepdim=True).values, flat.max(1, keepdim=True).values
    blob_combined = ((flat - lo) / (hi - lo + 1e-6)).view_as(blob_combined)
    for i in range(3):
        io[f"blob.map{i + 1}"] = blob_maps[i]
    for i, n in enumerate(blob_norms + [blob_combined]):
        io[f"blob.boxes{i + 1}"] = torch.tensor(ref.boxes(n))
    for i, c in enumerate(blob_crops):
        io[f"blob.crop{i + 1}"] = c
    # The batched grid_sample crop of the reference equals its per-sample loop.
    for mode_crop, loop_crop in zip(ref.crops(x, blob_maps, mode="batched"), blob_crops):
        assert torch.allclose(mode_crop, loop_crop, atol=1e-4), (mode_crop - loop_crop).abs().max()

    opt = ref.optimizer(model)
    losses, _ = ref.iteration(model, opt, x, y, sources=("crop1", "crop3"))
    for k, v in losses.items():
        io[f"loss.{k}"] = torch.tensor([v], dtype=torch.float64)
    for k, v in model.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            io[f"after.{k}"] = v
    save_file({k: v.contiguous() for k, v in io.items()}, OUT / "io.safetensors")
    print("losses", losses)
    for i in range(1, 5):
        print(f"blob boxes{i}", io[f"blob.boxes{i}"].tolist())


if __name__ == "__main__":
    main()
