"""The pixels our data pipeline decodes, for the golden scripts (`mobilenet_goldens.py`,
`mtcnn_goldens.py`): JPEG decoders differ from PIL's by a level on some pixels, which would
hide the model's own differences, so the references see the very pixels our decoder gives
(`cargo run -p fineface-data --example decode_rgb`)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def decode_with_ours(paths: list[Path]) -> list[np.ndarray]:
    """`[h, w, 3]` uint8 pixels of each image as our data pipeline decodes it."""
    with tempfile.TemporaryDirectory() as out:
        listing = subprocess.run(
            ["cargo", "run", "-q", "-p", "fineface-data", "--example", "decode_rgb", "--", out,
             *map(str, paths)], cwd=ROOT, check=True, capture_output=True, text=True).stdout
        images = []
        for line in listing.splitlines():
            name, w, h = line.rsplit(" ", 2)
            raw = np.fromfile(Path(out) / f"{name}.rgb", dtype=np.uint8)
            images.append(raw.reshape(int(h), int(w), 3))
        return images
