#!/usr/bin/env python3
"""The fairlearn side of `cargo xtask bench fairness`.

Reads the same predictions CSV as `cargo xtask fairness` and computes what our report
computes, with fairlearn 0.15's MetricFrame used as efficiently as we know how: labels encoded
as integers, one MetricFrame per grouping holding every metric (accuracy, count, selection
rate, TPR, FPR), the differences and ratios (between groups and to overall, which give
demographic parity and equalized odds) taken from that frame rather than from the convenience
functions that would rebuild it, and one frame per class for the one-vs-rest rates.
Prints the time of each phase as JSON on stdout.

    python3 tools/bench_fairlearn.py PREDICTIONS.csv --sensitive race,gender --pos-label Male
"""

import argparse
import functools
import json
import time

t0 = time.perf_counter()
import pandas as pd  # noqa: E402
import sklearn.metrics as skm  # noqa: E402
from fairlearn.metrics import (  # noqa: E402
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

t_import = time.perf_counter() - t0


def binary_frame(y_true, y_pred, sf, pos, with_accuracy):
    yt = (y_true == pos).astype(int)
    yp = (y_pred == pos).astype(int)
    metrics = {
        "selection_rate": functools.partial(selection_rate, pos_label=1),
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
    }
    frame = MetricFrame(metrics=metrics, y_true=yt, y_pred=yp, sensitive_features=sf)
    out = summary(frame)
    if with_accuracy:
        acc = MetricFrame(
            metrics={"accuracy": skm.accuracy_score, "n": count},
            y_true=y_true, y_pred=y_pred, sensitive_features=sf,
        )
        out["accuracy"] = summary(acc)
    diff = out["difference_between_groups"]
    out["equalized_odds_difference"] = max(diff["tpr"], diff["fpr"])
    return out


def summary(frame):
    out = {"by_group": frame.by_group.to_dict(), "overall": frame.overall.to_dict(),
           "min": frame.group_min().to_dict(), "max": frame.group_max().to_dict()}
    for method in ("between_groups", "to_overall"):
        out[f"difference_{method}"] = frame.difference(method=method).to_dict()
        out[f"ratio_{method}"] = frame.ratio(method=method).to_dict()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("predictions")
    ap.add_argument("--sensitive", required=True)
    ap.add_argument("--pos-label", default="1")
    args = ap.parse_args()
    features = args.sensitive.split(",")

    t0 = time.perf_counter()
    df = pd.read_csv(args.predictions, dtype=str, keep_default_na=False)
    t_read = time.perf_counter() - t0

    t0 = time.perf_counter()
    # Integer label codes: scikit-learn's label checks are far slower on object arrays.
    classes = sorted(set(df["y_true"]) | set(df["y_pred"]))
    code = {c: i for i, c in enumerate(classes)}
    y_true = df["y_true"].map(code).to_numpy()
    y_pred = df["y_pred"].map(code).to_numpy()
    sf = df[features]
    pos = code[args.pos_label]
    result = {"intersection": binary_frame(y_true, y_pred, sf, pos, True)}
    for f in features:
        result[f] = binary_frame(y_true, y_pred, sf[[f]], pos, True)
    for c in range(len(classes)):
        if c != pos:  # the positive class's rates are already in the frames above
            result[f"class_{classes[c]}"] = binary_frame(y_true, y_pred, sf, c, False)
    t_compute = time.perf_counter() - t0
    print(json.dumps({
        "rows": len(df), "import_s": round(t_import, 3), "read_s": round(t_read, 3),
        "compute_s": round(t_compute, 3),
        "groups": len(result["intersection"]["accuracy"]["by_group"]["accuracy"]),
    }))


if __name__ == "__main__":
    main()
