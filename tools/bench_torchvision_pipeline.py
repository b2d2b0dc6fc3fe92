#!/usr/bin/env python3
"""The torchvision side of `cargo xtask bench data`: the reference's training pipeline
(PIL decode, Resize(460), RandomCrop(448, padding=8), RandomHorizontalFlip, ToTensor,
Normalize(0.5, 0.5)) through a DataLoader with the same number of workers, on the same
UTKFace images (sorted names, first N of the folder). Prints {"images", "times_s"}.

    python3 tools/bench_torchvision_pipeline.py --root ../shared/data/utkface --images 512
"""

import argparse
import json
import os
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class Files(Dataset):
    def __init__(self, paths, transform):
        self.paths, self.transform = paths, transform

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.transform(Image.open(self.paths[i]).convert("RGB")), 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    folder = os.path.join(args.root, "UTKFace") if os.path.isdir(os.path.join(args.root, "UTKFace")) else args.root
    names = sorted(n for n in os.listdir(folder) if n.endswith(".jpg"))[: args.images]
    transform = transforms.Compose([
        transforms.Resize((460, 460)),
        transforms.RandomCrop(448, padding=8),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.5] * 3, [0.5] * 3),
    ])
    torch.set_num_threads(1)
    loader = DataLoader(Files([os.path.join(folder, n) for n in names], transform),
                        batch_size=16, shuffle=True, num_workers=args.workers, drop_last=True,
                        persistent_workers=False)
    times = []
    for round in range(args.rounds + 1):
        start = time.perf_counter()
        n = 0
        for images, _ in loader:
            n += images.shape[0]
        if round > 0:
            times.append(time.perf_counter() - start)
    print(json.dumps({"images": n, "times_s": times}))


if __name__ == "__main__":
    main()
