#!/usr/bin/env python3
"""Write tests/data/demo_predictions.csv: the predictions file the README audits.

A FairFace-shaped gender classifier's validation predictions (7 races x 2 genders, uneven
group sizes, lower accuracy on some groups), generated from a fixed seed. Synthetic: no real
image or label is involved.

    python3 tools/demo_predictions.py
"""

from pathlib import Path

import numpy as np

RACES = ["White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern", "Latino_Hispanic"]
# Per-race group size and accuracy for (Male, Female); the darker-skinned female groups are
# smaller and less accurate, the pattern the fair face-attribute papers report.
SIZE = {"White": (180, 170), "Black": (130, 90), "East Asian": (140, 130), "Southeast Asian": (110, 100),
        "Indian": (120, 80), "Middle Eastern": (110, 60), "Latino_Hispanic": (120, 110)}
ACC = {"White": (0.96, 0.95), "Black": (0.93, 0.84), "East Asian": (0.95, 0.92), "Southeast Asian": (0.94, 0.90),
       "Indian": (0.95, 0.88), "Middle Eastern": (0.97, 0.87), "Latino_Hispanic": (0.95, 0.93)}


def main():
    rng = np.random.default_rng(20261128)
    rows = []
    for race in RACES:
        for g, gender in enumerate(["Male", "Female"]):
            other = "Female" if gender == "Male" else "Male"
            for _ in range(SIZE[race][g]):
                correct = rng.random() < ACC[race][g]
                p_true = rng.uniform(0.5, 1.0)
                rows.append((gender, gender if correct else other, race, gender, p_true if correct else 1 - p_true))
    order = rng.permutation(len(rows))
    out = Path(__file__).resolve().parent.parent / "tests/data/demo_predictions.csv"
    with out.open("w") as f:
        f.write("path,y_true,y_pred,race,gender,p_pred\n")
        for i, k in enumerate(order):
            t, p, race, gender, prob = rows[k]
            f.write(f"val/{i + 1:05d}.jpg,{t},{p},{race},{gender},{max(prob, 1 - prob):.4f}\n")
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
