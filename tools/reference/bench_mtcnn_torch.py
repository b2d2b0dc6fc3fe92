#!/usr/bin/env python3
"""The facenet-pytorch side of `cargo xtask bench detect`: `MTCNN(keep_all=True).detect` on
each photo (facenet-pytorch 2.6.0's defaults: minimum face 20 px, thresholds 0.6/0.7/0.7,
factor 0.709; its own weights, which are the files `../shared/weights/mtcnn` holds), one
warm-up round, then `--rounds` timed rounds over all photos; prints
`{"case": "detect", "times_s": [...], "faces": N}` as `fineface-detect`'s `bench_detect`
example does.

    pip install torch torchvision && pip install --no-deps facenet-pytorch==2.6.0 requests tqdm
    python3 tools/reference/bench_mtcnn_torch.py --rounds 3 ../shared/data/photos/*.jpg
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from facenet_pytorch import MTCNN
from PIL import Image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("photos", nargs="+")
    args = ap.parse_args()
    detector = MTCNN(keep_all=True, device=torch.device("cpu"))
    photos = [Image.open(p).convert("RGB") for p in args.photos]
    faces = 0
    for photo in photos:
        boxes, _ = detector.detect(photo)
        faces += 0 if boxes is None else len(boxes)
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for photo in photos:
            detector.detect(photo)
        times.append(time.perf_counter() - start)
    print(json.dumps({"case": "detect", "times_s": times, "faces": faces}))


if __name__ == "__main__":
    main()
