#!/usr/bin/env python3
"""Generate the fairlearn goldens that `crates/fineface-fair/tests/fairlearn_goldens.rs` checks.

For every case this writes a small predictions CSV and, into `goldens.json`, the report
numbers computed by fairlearn 0.15 (MetricFrame and its fairness functions) wherever fairlearn
defines them, and by plain numpy where it does not (DoB, SER, strict TPR/FPR, empty
intersections). The Rust test compares its own report against these to 1e-9.

    pip install fairlearn==0.15.0 pandas numpy scikit-learn
    python3 tools/fairlearn_goldens.py            # rewrites crates/fineface-fair/tests/data/fairlearn/
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from pathlib import Path

import fairlearn
import numpy as np
import pandas as pd
import sklearn.metrics as skm
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

OUT = Path(__file__).resolve().parent.parent / "crates/fineface-fair/tests/data/fairlearn"
SEP = "|"


def num(x):
    """JSON value of a metric: null for NaN/None, "inf" for +infinity."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def names_of(index) -> list[str]:
    return [SEP.join(map(str, k)) if isinstance(k, tuple) else str(k) for k in index]


def frames(y_true, y_pred, sf, pos):
    """fairlearn MetricFrames: accuracy on the raw labels, the binary rates on y == pos."""
    yt_b = (y_true == pos).astype(int)
    yp_b = (y_pred == pos).astype(int)
    acc = MetricFrame(
        metrics={
            "accuracy": skm.accuracy_score,
            "error_rate": lambda t, p: 1.0 - skm.accuracy_score(t, p),
            "n": count,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sf,
    )
    rates = MetricFrame(
        metrics={
            "selection_rate": functools.partial(selection_rate, pos_label=1),
            "tpr_fairlearn": functools.partial(true_positive_rate, pos_label=1),
            "fpr_fairlearn": functools.partial(false_positive_rate, pos_label=1),
        },
        y_true=yt_b,
        y_pred=yp_b,
        sensitive_features=sf,
    )
    return acc, rates, yt_b, yp_b


def counts(yt_b, yp_b, y_true, y_pred):
    """Counts and strict rates from numpy (fairlearn has no undefined rates)."""
    tp = int(((yt_b == 1) & (yp_b == 1)).sum())
    fn = int(((yt_b == 1) & (yp_b == 0)).sum())
    fp = int(((yt_b == 0) & (yp_b == 1)).sum())
    tn = int(((yt_b == 0) & (yp_b == 0)).sum())
    n_pos, n_neg = tp + fn, fp + tn
    n = n_pos + n_neg
    return {
        "n": n,
        "n_correct": int((y_true == y_pred).sum()),
        "n_pos": n_pos,
        "n_neg": n_neg,
        "n_pred_pos": tp + fp,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "tn": tn,
        "base_rate": n_pos / n,
        "tpr": tp / n_pos if n_pos else None,
        "fpr": fp / n_neg if n_neg else None,
    }


def group_masks(sf: pd.DataFrame):
    keys = sf.astype(str).agg(SEP.join, axis=1)
    for name in sorted(keys.unique()):
        yield name, (keys == name).to_numpy()


def strict_block(groups: dict, overall: dict) -> dict:
    tpr = [g["tpr"] for g in groups.values() if g["tpr"] is not None]
    fpr = [g["fpr"] for g in groups.values() if g["fpr"] is not None]

    def between(v):
        # A gap needs two groups: a rate defined in one group compares nothing.
        if len(v) < 2:
            return None, None
        lo, hi = min(v), max(v)
        return hi - lo, (None if hi == 0 else lo / hi)

    def to_overall(v, o):
        # One group defining the rate is the overall rate itself: nothing to compare.
        if len(v) < 2 or o is None:
            return None, None
        diff = max(abs(x - o) for x in v)
        rs = [x / o if o else (math.inf if x else math.nan) for x in v]
        rs = [1 / r if r > 1 else r for r in rs if not math.isnan(r)]
        return diff, (min(rs) if rs else None)

    def both(a, b, f):
        # Over the defined components: all-perfect groups have FPR ratio 0/0 and TPR ratio 1,
        # so their equalized odds ratio is 1.
        if a is None or b is None:
            return b if a is None else a
        return f(a, b)

    td, tr = between(tpr)
    fd, fr = between(fpr)
    tdo, tro = to_overall(tpr, overall["tpr"])
    fdo, fro = to_overall(fpr, overall["fpr"])
    mean = lambda a, b: (a + b) / 2  # noqa: E731
    return {
        "n_groups_tpr_defined": len(tpr),
        "n_groups_fpr_defined": len(fpr),
        "tpr_difference": td,
        "fpr_difference": fd,
        "tpr_ratio": tr,
        "fpr_ratio": fr,
        "equal_opportunity_difference": td,
        "equal_opportunity_ratio": tr,
        "equalized_odds_difference": both(td, fd, max),
        "equalized_odds_difference_mean": both(td, fd, mean),
        "equalized_odds_ratio": both(tr, fr, min),
        "equalized_odds_ratio_mean": both(tr, fr, mean),
        "equalized_odds_difference_to_overall": both(tdo, fdo, max),
        "equalized_odds_ratio_to_overall": both(tro, fro, min),
    }


def parity_block(yt_b, yp_b, sf, rates: MetricFrame, groups: dict, overall: dict) -> dict:
    """fairlearn's own fairness functions on the binarised labels."""
    kw = dict(sensitive_features=sf)
    return {
        "demographic_parity_difference": demographic_parity_difference(yt_b, yp_b, **kw),
        "demographic_parity_ratio": demographic_parity_ratio(yt_b, yp_b, **kw),
        "demographic_parity_difference_to_overall": demographic_parity_difference(
            yt_b, yp_b, method="to_overall", **kw
        ),
        "demographic_parity_ratio_to_overall": demographic_parity_ratio(
            yt_b, yp_b, method="to_overall", **kw
        ),
        "tpr_difference": rates.difference()["tpr_fairlearn"],
        "fpr_difference": rates.difference()["fpr_fairlearn"],
        "tpr_ratio": rates.ratio()["tpr_fairlearn"],
        "fpr_ratio": rates.ratio()["fpr_fairlearn"],
        "equal_opportunity_difference": equal_opportunity_difference(yt_b, yp_b, **kw),
        "equal_opportunity_ratio": equal_opportunity_ratio(yt_b, yp_b, **kw),
        "equalized_odds_difference": equalized_odds_difference(yt_b, yp_b, **kw),
        "equalized_odds_difference_mean": equalized_odds_difference(yt_b, yp_b, agg="mean", **kw),
        "equalized_odds_ratio": equalized_odds_ratio(yt_b, yp_b, **kw),
        "equalized_odds_ratio_mean": equalized_odds_ratio(yt_b, yp_b, agg="mean", **kw),
        "equalized_odds_difference_to_overall": equalized_odds_difference(
            yt_b, yp_b, method="to_overall", **kw
        ),
        "equalized_odds_ratio_to_overall": equalized_odds_ratio(
            yt_b, yp_b, method="to_overall", **kw
        ),
        "strict": strict_block(groups, overall),
    }


def report(y_true, y_pred, sf: pd.DataFrame, pos: str) -> dict:
    """The groups/aggregates pair of one grouping."""
    acc, rates, yt_b, yp_b = frames(y_true, y_pred, sf, pos)
    by_acc = acc.by_group.dropna(subset=["n"])
    by_acc = by_acc[by_acc["n"] > 0]
    by_rates = rates.by_group.loc[by_acc.index]
    names = names_of(by_acc.index)
    groups = {}
    for name, (idx, row) in zip(names, by_acc.iterrows()):
        g = {k: row[k] for k in ("accuracy", "error_rate")}
        g["n"] = int(row["n"])
        g.update({k: by_rates.loc[idx][k] for k in by_rates.columns})
        groups[name] = g
    # Counts and strict rates per group from numpy, on the same grouping.
    for name, mask in group_masks(sf):
        groups[name].update(counts(yt_b[mask], yp_b[mask], y_true[mask], y_pred[mask]))
    overall = {k: acc.overall[k] for k in ("accuracy", "error_rate")}
    overall.update({k: rates.overall[k] for k in rates.overall.index})
    overall.update(counts(yt_b, yp_b, y_true, y_pred))

    accuracies = by_acc["accuracy"].to_numpy(dtype=float)
    errors = by_acc["error_rate"].to_numpy(dtype=float)
    lo_acc, hi_acc = acc.group_min()["accuracy"], acc.group_max()["accuracy"]
    lo_err, hi_err = acc.group_min()["error_rate"], acc.group_max()["error_rate"]

    def over(hi, lo):
        if lo == 0:
            return None if hi == 0 else math.inf
        return hi / lo

    aggregates = {
        "n_groups": len(names),
        "min_group_accuracy": lo_acc,
        "max_group_accuracy": hi_acc,
        "mean_group_accuracy": float(np.mean(accuracies)),
        "worst_groups": sorted(n for n, a in zip(names, accuracies) if a == accuracies.min()),
        "best_groups": sorted(n for n, a in zip(names, accuracies) if a == accuracies.max()),
        "min_group_error": lo_err,
        "max_group_error": hi_err,
        "dob_std_ddof0": float(np.std(accuracies, ddof=0)),
        "dob_std_ddof1": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else None,
        "ser": over(hi_err, lo_err),
        "max_min_accuracy_ratio": over(hi_acc, lo_acc),
        "accuracy_difference": acc.difference()["accuracy"],
        "accuracy_ratio": acc.ratio()["accuracy"],
        "accuracy_difference_to_overall": acc.difference(method="to_overall")["accuracy"],
        "accuracy_ratio_to_overall": acc.ratio(method="to_overall")["accuracy"],
        "error_rate_difference": acc.difference()["error_rate"],
        "error_rate_ratio": acc.ratio()["error_rate"],
        "error_rate_difference_to_overall": acc.difference(method="to_overall")["error_rate"],
        "error_rate_ratio_to_overall": acc.ratio(method="to_overall")["error_rate"],
    }
    aggregates.update(parity_block(yt_b, yp_b, sf, rates, groups, overall))
    return {"overall": overall, "groups": groups, "aggregates": aggregates}


def per_class(y_true, y_pred, sf, classes) -> dict:
    out = {}
    for c in classes:
        r = report(y_true, y_pred, sf, c)
        keep = ("n_pos", "n_pred_pos", "selection_rate", "tpr", "tpr_fairlearn", "fpr", "fpr_fairlearn")
        agg = {k: v for k, v in r["aggregates"].items() if k.startswith(("demographic", "equal", "tpr", "fpr", "strict"))}
        out[c] = {
            "overall": {k: r["overall"][k] for k in keep},
            "groups": {g: {k: m[k] for k in keep} for g, m in r["groups"].items()},
            "aggregates": agg,
        }
    return out


def expected(df: pd.DataFrame, features: list[str], pos: str) -> dict:
    y_true = df["y_true"].astype(str).to_numpy()
    y_pred = df["y_pred"].astype(str).to_numpy()
    sf = df[features].astype(str)
    classes = sorted(set(y_true) | set(y_pred))
    main = report(y_true, y_pred, sf, pos)
    main["overall"].update({"n_classes": len(classes), "classes": classes})
    observed = set(sf.agg(SEP.join, axis=1))
    values = [sorted(sf[f].unique()) for f in features]
    main["empty_intersections"] = sorted(
        SEP.join(combo) for combo in itertools.product(*values) if SEP.join(combo) not in observed
    )
    main["by_feature"] = {
        f: {k: v for k, v in report(y_true, y_pred, sf[[f]], pos).items() if k != "overall"}
        for f in features
    }
    main["per_class"] = per_class(y_true, y_pred, sf, classes)
    main["meta"] = {"n_rows": len(df), "pos_label": pos, "grouping": {"features": features}}
    return main


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (str, bool)) or x is None:
        return x
    if isinstance(x, (int, np.integer)):
        return int(x)
    return num(x)


# ---------------------------------------------------------------------------------------
# Cases. Every case is (rows, sensitive features, positive label, how the CSV stores groups).


def binary_rows(rng, spec):
    """spec: {group tuple: (n, base rate, accuracy)} -> DataFrame."""
    rows = []
    for group, (n, base, acc) in spec.items():
        y = (rng.random(n) < base).astype(int)
        wrong = rng.random(n) >= acc
        p = np.where(wrong, 1 - y, y)
        for t, q in zip(y, p):
            rows.append((str(t), str(q), *group))
    return rows


def case_frame(rows, features):
    return pd.DataFrame(rows, columns=["y_true", "y_pred", *features])


def cases():
    rng = np.random.default_rng(20261128)
    rg = ["race", "gender"]
    out = {}

    out["balanced"] = (
        case_frame(binary_rows(rng, {
            ("White", "Male"): (50, 0.5, 0.92), ("White", "Female"): (50, 0.5, 0.88),
            ("Black", "Male"): (50, 0.5, 0.85), ("Black", "Female"): (50, 0.5, 0.78),
        }), rg), rg, "1", "columns")

    out["imbalanced"] = (
        case_frame(binary_rows(rng, {
            ("White", "Male"): (500, 0.6, 0.95), ("White", "Female"): (120, 0.4, 0.9),
            ("Asian", "Male"): (30, 0.5, 0.8), ("Asian", "Female"): (7, 0.3, 0.6),
        }), rg), rg, "1", "compound")

    df = case_frame(binary_rows(rng, {("A",): (40, 0.5, 0.8), ("B",): (25, 0.5, 0.7)}), ["group"])
    perfect = pd.DataFrame({"y_true": ["1", "0", "1", "1", "0"], "y_pred": ["1", "0", "1", "1", "0"], "group": "C"})
    out["zero_error_group"] = (pd.concat([df, perfect], ignore_index=True), ["group"], "1", "compound")

    t = rng.integers(0, 2, 60).astype(str)
    out["all_perfect"] = (
        pd.DataFrame({"y_true": t, "y_pred": t, "sex": np.repeat(["F", "M", "X"], 20)}),
        ["sex"], "1", "columns")

    df = case_frame(binary_rows(rng, {("A", "u"): (30, 0.5, 0.8), ("B", "u"): (30, 0.0, 0.8),
                                      ("A", "v"): (20, 1.0, 0.9), ("B", "v"): (25, 0.5, 0.7)}), ["f1", "f2"])
    out["no_positives"] = (df, ["f1", "f2"], "1", "columns")

    races = ["White", "Black", "East Asian", "Southeast Asian", "Indian", "Middle Eastern", "Latino_Hispanic"]
    rows = []
    for i, race in enumerate(races):
        for gender in ["Male", "Female"]:
            n = int(rng.integers(15, 60))
            acc = 0.97 - 0.02 * i - (0.04 if gender == "Female" else 0.0)
            wrong = rng.random(n) >= acc
            other = "Female" if gender == "Male" else "Male"
            rows += [(gender, other if w else gender, race, gender) for w in wrong]
    out["fairface_7x2"] = (case_frame(rows, rg), rg, "Male", "columns")

    classes = np.array(["0-19", "20-39", "40+"])
    rows = []
    for race, acc in [("White", 0.8), ("Black", 0.65), ("Asian", 0.7)]:
        n = 80
        t = rng.integers(0, 3, n)
        p = np.where(rng.random(n) < acc, t, rng.integers(0, 3, n))
        rows += [(classes[a], classes[b], race) for a, b in zip(t, p)]
    out["multiclass"] = (case_frame(rows, ["race"]), ["race"], "20-39", "columns")

    df = case_frame(binary_rows(rng, {("A",): (30, 0.5, 0.8), ("B",): (30, 0.5, 0.9)}), ["group"])
    single = pd.DataFrame({"y_true": ["1"], "y_pred": ["0"], "group": ["Z"]})
    out["single_sample_group"] = (pd.concat([df, single], ignore_index=True), ["group"], "1", "compound")

    out["empty_intersection"] = (
        case_frame(binary_rows(rng, {
            ("White", "Male"): (40, 0.5, 0.9), ("White", "Female"): (40, 0.5, 0.85),
            ("Black", "Male"): (40, 0.5, 0.8), ("Black", "Female"): (40, 0.5, 0.82),
            ("Indian", "Male"): (40, 0.5, 0.75),
        }), rg), rg, "1", "compound")

    df = case_frame(binary_rows(rng, {("A",): (30, 0.5, 0.5), ("B",): (30, 0.4, 0.6)}), ["group"])
    df["y_pred"] = "0"
    out["never_predicts_positive"] = (df, ["group"], "1", "columns")
    return out


def write_csv(path: Path, df: pd.DataFrame, features: list[str], storage: str):
    if storage == "compound":
        body = pd.DataFrame({
            "path": [f"img/{i:05d}.jpg" for i in range(len(df))],
            "y_true": df["y_true"],
            "y_pred": df["y_pred"],
            "group": df[features].astype(str).agg(SEP.join, axis=1),
        })
    else:
        body = df[["y_true", "y_pred", *features]].copy()
        body.insert(2, "score", np.round(np.linspace(0, 1, len(df)), 4))  # ignored column
    body.to_csv(path, index=False, lineterminator="\n")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    goldens = {"generator": {"fairlearn": fairlearn.__version__, "numpy": np.__version__,
                             "pandas": pd.__version__, "script": "tools/fairlearn_goldens.py"},
               "cases": {}}
    for name, (df, features, pos, storage) in cases().items():
        write_csv(OUT / f"{name}.csv", df, features, storage)
        goldens["cases"][name] = {
            "csv": f"{name}.csv",
            "features": features,
            "storage": storage,
            "pos_label": pos,
            "expected": jsonable(expected(df, features, pos)),
        }
    (OUT / "goldens.json").write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(goldens['cases'])} cases to {OUT}")


if __name__ == "__main__":
    main()
