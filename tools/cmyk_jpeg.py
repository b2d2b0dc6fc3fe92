"""Writes crates/fineface-cli/tests/data/cmyk.jpg: a CMYK JPEG (as print workflows and some
scanners save them, with Adobe's APP14 marker) of a synthetic picture with known colours,
for the photo commands' bad-input tests. No person in it.

    python3 tools/cmyk_jpeg.py   # Pillow
"""

from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "crates/fineface-cli/tests/data/cmyk.jpg"


def main() -> None:
    rgb = Image.new("RGB", (64, 48), (220, 30, 30))  # red left half
    rgb.paste((30, 180, 40), (32, 0, 64, 48))  # green right half
    rgb.paste((30, 40, 200), (24, 16, 40, 32))  # blue square across the middle
    rgb.convert("CMYK").save(OUT, quality=95)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, mode {Image.open(OUT).mode})")


if __name__ == "__main__":
    main()
