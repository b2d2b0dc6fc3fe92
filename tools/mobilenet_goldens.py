#!/usr/bin/env python3
"""Goldens for our MobileNetV2 against torchvision's, on the real ImageNet weights and real faces.

Reads (never copies) `../shared/weights/mobilenet_v2-b0353104.pth` and UTKFace images from
`../shared/data/utkface/UTKFace/`; writes only model outputs, no image data:

* `mobilenet_v2_io.safetensors`: for the 4 faces of `MAPS_IMAGES`, decoded by our decoder
  (`cargo run -p fineface-data --example decode_rgb`: JPEG decoders differ from PIL's by a
  level on some pixels, which would hide the model's own error), each centre-cropped to
  160 x 160 (no resampling, so the Rust test rebuilds the exact input), scaled to [0, 1] and
  normalised with ImageNet's mean and std, torchvision's `mobilenet_v2` in eval mode on the
  real weights: `logits` [4, 1000] and the maps `features_6` [4, 32, 20, 20], `features_13`
  [4, 96, 10, 10], `features_18` [4, 1280, 5, 5].
* `mobilenet_v2_pipeline.json`: for the 8 faces of `PIPELINE_IMAGES`, torchvision's whole
  ImageNet pipeline (`Resize(256)`, `CenterCrop(224)`, `ToTensor`, `Normalize`: the
  `IMAGENET1K_V1` transforms) and model: top-1 class, its logit and the runner-up's margin.
* `mobilenet_v2_w025.pth` / `_w025_io.safetensors`: torchvision's `mobilenet_v2(width_mult=0.25)`
  with random weights and perturbed BatchNorm statistics, and its eval-mode logits and maps
  for a random 64 px batch (checks the width multiplier and the key mapping without the
  shared weights).

    pip install torch torchvision safetensors
    python3 tools/mobilenet_goldens.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file

from our_decoder import decode_with_ours
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights/mobilenet_v2-b0353104.pth"
FACES = SHARED / "data/utkface/UTKFace"
OUT = ROOT / "crates/fineface-model/tests/data/torch"

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
CROP = 160
# One face of each of four race x gender groups (file names: age_gender_race_date).
MAPS_IMAGES = [
    "100_0_0_20170112215240346.jpg.chip.jpg",
    "105_1_1_20170112213303693.jpg.chip.jpg",
    "26_0_2_20170103181248536.jpg.chip.jpg",
    "30_1_3_20170104214339133.jpg.chip.jpg",
]
TAPS = (6, 13, 18)


def pipeline_images() -> list[str]:
    """The first 8 UTKFace names in sorted order (deterministic, no choice by result)."""
    return sorted(p.name for p in FACES.iterdir())[:8]


def centre_crop_tensor(pixels: np.ndarray) -> torch.Tensor:
    h, w, _ = pixels.shape
    left, top = (w - CROP) // 2, (h - CROP) // 2
    x = transforms.functional.to_tensor(pixels[top:top + CROP, left:left + CROP].copy())
    return transforms.functional.normalize(x, MEAN, STD)


def taps(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    out = {}
    for i, layer in enumerate(model.features):
        x = layer(x)
        if i in TAPS:
            out[f"features_{i}"] = x.clone()
    out["logits"] = model.classifier(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))
    return out


def imagenet_model() -> torch.nn.Module:
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu"))
    return model.eval()


def real_weights() -> None:
    model = imagenet_model()
    missing = [n for n in MAPS_IMAGES if not (FACES / n).is_file()]
    assert not missing, f"not in {FACES}: {missing}"
    x = torch.stack([centre_crop_tensor(p) for p in decode_with_ours([FACES / n for n in MAPS_IMAGES])])
    with torch.no_grad():
        out = taps(model, x)
        assert torch.allclose(out["logits"], model(x), atol=1e-5)
    save_file({k: v.contiguous() for k, v in out.items()}, OUT / "mobilenet_v2_io.safetensors",
              metadata={"images": json.dumps(MAPS_IMAGES), "crop": str(CROP)})

    pipeline = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize(MEAN, STD),
    ])
    rows = []
    with torch.no_grad():
        for name in pipeline_images():
            logits = model(pipeline(Image.open(FACES / name).convert("RGB"))[None])[0]
            top2 = logits.topk(2)
            rows.append({"image": name, "top1": int(top2.indices[0]),
                         "logit": float(top2.values[0]),
                         "margin": float(top2.values[0] - top2.values[1])})
    (OUT / "mobilenet_v2_pipeline.json").write_text(json.dumps(
        {"torch": torch.__version__, "torchvision": torchvision.__version__,
         "resize": 256, "crop": 224, "images": rows}, indent=1) + "\n")
    for row in rows:
        print(row)


def narrow_random() -> None:
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    model.eval()
    torch.save(model.state_dict(), OUT / "mobilenet_v2_w025.pth")
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = taps(model, x)
    out["input"] = x
    save_file({k: v.contiguous() for k, v in out.items()}, OUT / "mobilenet_v2_w025_io.safetensors")


if __name__ == "__main__":
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    real_weights()
    narrow_random()
