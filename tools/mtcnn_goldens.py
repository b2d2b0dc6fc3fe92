#!/usr/bin/env python3
"""Goldens for our MTCNN (`crates/fineface-detect`) against facenet-pytorch 2.6.0's.

Reads (never copies) the three networks in `../shared/weights/mtcnn/`, the raw photos in
`../shared/data/photos/` and UTKFace faces in `../shared/data/utkface/UTKFace/`; writes only
model outputs and scene recipes, no image data, to `crates/fineface-detect/tests/data/`:

* `mtcnn_nets.safetensors`: each network on seeded random inputs in [-1, 1] (what the
  detector feeds them: pixels as `(x - 127.5) / 128`): `pnet_input` [2, 3, 31, 45] ->
  `pnet_reg` [2, 4, 10, 17], `pnet_prob` [2, 2, 10, 17]; `rnet_input` [5, 3, 24, 24] ->
  `rnet_reg` [5, 4], `rnet_prob` [5, 2]; `onet_input` [5, 3, 48, 48] -> `onet_reg` [5, 4],
  `onet_landmarks` [5, 10], `onet_prob` [5, 2].
* `mtcnn_detections.json`: facenet-pytorch's `detect_face` (the function behind
  `MTCNN.detect`, with `MTCNN`'s defaults: minimum face 20 px, thresholds 0.6/0.7/0.7,
  factor 0.709) on each photo and on scenes composed here from UTKFace faces: every face's
  box `[x1, y1, x2, y2]`, probability and five landmarks `[x, y]` (left eye, right eye, nose,
  left and right mouth corners), in the order `detect_face` returns them.

Pixels come from our decoder (`cargo run -p fineface-data --example decode_rgb`: JPEG
decoders differ from PIL's by a level on some pixels, which would hide the detector's own
differences). A scene is a recipe both sides follow with integer pixel operations only (no
resampling): a textured background, and faces subsampled by a whole step, enlarged by
repeating pixels, turned by quarter turns (`np.rot90`, counter-clockwise) and pasted at
integer positions; the Rust test composes the same pixels from the recipe.

    pip install torch torchvision safetensors
    pip install --no-deps facenet-pytorch==2.6.0 && pip install requests tqdm
    python3 tools/mtcnn_goldens.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from facenet_pytorch.models.mtcnn import ONet, PNet, RNet
from facenet_pytorch.models.utils.detect_face import detect_face
from safetensors.torch import save_file

from our_decoder import decode_with_ours

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
WEIGHTS = SHARED / "weights/mtcnn"
PHOTOS = SHARED / "data/photos"
FACES = SHARED / "data/utkface/UTKFace"
OUT = ROOT / "crates/fineface-detect/tests/data"

MIN_FACE = 20
THRESHOLDS = [0.6, 0.7, 0.7]
FACTOR = 0.709

# Faces of four race x gender groups (UTKFace names: age_gender_race_date).
SCENE_FACES = [
    "100_0_0_20170112215240346.jpg.chip.jpg",
    "105_1_1_20170112213303693.jpg.chip.jpg",
    "26_0_2_20170103181248536.jpg.chip.jpg",
    "30_1_3_20170104214339133.jpg.chip.jpg",
]

# name -> (width, height, [(face index, left, top, step, repeat, quarter turns)]).
SCENES = {
    # One face at 200, 100, 67 and 50 px, and one enlarged to 400 px cut by the border.
    "scene_sizes": (760, 520, [
        (0, 10, 10, 1, 1, 0),
        (1, 260, 40, 2, 1, 0),
        (2, 420, 60, 3, 1, 0),
        (3, 560, 300, 4, 1, 0),
        (1, 40, 300, 1, 2, 0),
    ]),
    # Upright, a quarter turn each way, upside down.
    "scene_rotated": (460, 460, [
        (0, 20, 20, 2, 1, 0),
        (1, 240, 20, 2, 1, 1),
        (2, 20, 240, 2, 1, 3),
        (3, 240, 240, 2, 1, 2),
    ]),
    # Twelve faces of 40 px in a grid (step 5).
    "scene_crowd": (400, 260, [
        (i % 4, 20 + (i % 4) * 95, 20 + (i // 4) * 80, 5, 1, 0) for i in range(12)
    ]),
    # The background only.
    "scene_none": (320, 240, []),
}


def background(width: int, height: int) -> np.ndarray:
    """A texture of diagonal bands: `96 + (7x + 3y) mod 64` in red, `(5x + 11y) mod 97 + 80`
    in green, `(x xor y) mod 61 + 90` in blue."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([
        96 + (7 * x + 3 * y) % 64,
        80 + (5 * x + 11 * y) % 97,
        90 + (x ^ y) % 61,
    ], axis=-1).astype(np.uint8)


def compose(width: int, height: int, placements, faces: list[np.ndarray]) -> np.ndarray:
    """The scene of a recipe: each face subsampled (`[::step, ::step]`), enlarged
    (`repeat` x `repeat` per pixel), turned (`np.rot90(face, turns)`) and pasted with its top
    left corner at (`left`, `top`), cut at the border."""
    scene = background(width, height)
    for index, left, top, step, repeat, turns in placements:
        face = faces[index][::step, ::step]
        face = face.repeat(repeat, axis=0).repeat(repeat, axis=1)
        face = np.rot90(face, turns)
        h = min(face.shape[0], height - top)
        w = min(face.shape[1], width - left)
        scene[top:top + h, left:left + w] = face[:h, :w]
    return scene


def networks():
    nets = []
    for cls, name in [(PNet, "pnet"), (RNet, "rnet"), (ONet, "onet")]:
        net = cls(pretrained=False)
        net.load_state_dict(torch.load(WEIGHTS / f"{name}.pt"))
        nets.append(net.eval())
    return nets


def net_goldens(pnet, rnet, onet) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)

    def uniform(*shape):
        return torch.rand(*shape, generator=generator) * 2 - 1

    out = {"pnet_input": uniform(2, 3, 31, 45), "rnet_input": uniform(5, 3, 24, 24),
           "onet_input": uniform(5, 3, 48, 48)}
    with torch.no_grad():
        out["pnet_reg"], out["pnet_prob"] = pnet(out["pnet_input"])
        out["rnet_reg"], out["rnet_prob"] = rnet(out["rnet_input"])
        out["onet_reg"], out["onet_landmarks"], out["onet_prob"] = onet(out["onet_input"])
    return {k: v.contiguous() for k, v in out.items()}


def detections(pixels: np.ndarray, pnet, rnet, onet) -> list[dict]:
    with torch.no_grad():
        boxes, points = detect_face(pixels, MIN_FACE, pnet, rnet, onet, THRESHOLDS, FACTOR, "cpu")
    boxes, points = np.asarray(boxes[0], dtype=np.float64), np.asarray(points[0], dtype=np.float64)
    return [{"box": [round(float(v), 4) for v in box[:4]], "probability": float(box[4]),
             "landmarks": [[round(float(x), 4), round(float(y), 4)] for x, y in point]}
            for box, point in zip(boxes.reshape(-1, 5), points.reshape(-1, 5, 2))]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pnet, rnet, onet = networks()
    save_file(net_goldens(pnet, rnet, onet), str(OUT / "mtcnn_nets.safetensors"))

    photos = sorted(p for p in PHOTOS.iterdir() if p.suffix == ".jpg")
    decoded = decode_with_ours(photos + [FACES / name for name in SCENE_FACES])
    photo_pixels, faces = decoded[:len(photos)], decoded[len(photos):]
    images = []
    for path, pixels in zip(photos, photo_pixels):
        images.append({"name": path.name, "photo": path.name,
                       "faces": detections(pixels, pnet, rnet, onet)})
    for name, (width, height, placements) in SCENES.items():
        pixels = compose(width, height, placements, faces)
        images.append({"name": name, "scene": {
            "width": width, "height": height, "faces": SCENE_FACES,
            "placements": [dict(zip(["face", "left", "top", "step", "repeat", "turns"], p))
                           for p in placements]},
            "faces": detections(pixels, pnet, rnet, onet)})
    golden = {"facenet_pytorch": "2.6.0", "torch": torch.__version__,
              "min_face_size": MIN_FACE, "thresholds": THRESHOLDS, "factor": FACTOR,
              "images": images}
    (OUT / "mtcnn_detections.json").write_text(json.dumps(golden, indent=1) + "\n")
    for image in images:
        print(image["name"], len(image["faces"]))


if __name__ == "__main__":
    main()
