#!/usr/bin/env python3
"""Goldens for crates/fineface-data/tests/transform.rs: torchvision's evaluation transform
(Resize, CenterCrop, ToTensor, Normalize(0.5, 0.5)) on synthetic PNG images, upscaling (as
UTKFace's 200 px to 460) and downscaling (antialiased), at small sizes to keep files tiny.

    pip install torch torchvision safetensors pillow
    python3 tools/torchvision_transform_goldens.py
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from torchvision import transforms

OUT = Path(__file__).resolve().parent.parent / "crates/fineface-data/tests/data/torchvision"


def synthetic(w, h, seed):
    """Gradients, a sharp-edged disc and noise: smooth and abrupt content for the filters."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 / max(w - 1, 1)).astype(np.float64)
    g = (y * 255 / max(h - 1, 1)).astype(np.float64)
    disc = ((x - w / 2) ** 2 + (y - h / 2) ** 2) < (min(w, h) / 3) ** 2
    b = np.where(disc, 230.0, 20.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, (w, h, resize, crop) in {"up": (40, 32, 60, 56), "down": (150, 120, 60, 56)}.items():
        image = synthetic(w, h, seed=len(name))
        image.save(OUT / f"{name}.png")
        pipeline = transforms.Compose([
            transforms.Resize((resize, resize)),
            transforms.CenterCrop(crop),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * 3, [0.5] * 3),
        ])
        tensors[name] = pipeline(image).contiguous()
    save_file(tensors, OUT / "eval_transform.safetensors")
    print({k: tuple(v.shape) for k, v in tensors.items()})


if __name__ == "__main__":
    main()
