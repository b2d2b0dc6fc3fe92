//! Metrics of one group of rows (an intersectional cell, a marginal group or all rows).

use serde::{Deserialize, Serialize};

use crate::confusion::Confusion;

/// Counts and rates of one group, with `pos_label` as the positive class for the binary ones.
///
/// Rates are fractions. `tpr`/`fpr` are `None` when the group has no positives/negatives;
/// `tpr_fairlearn`/`fpr_fairlearn` report 0.0 there, as scikit-learn and fairlearn do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// Rows in the group.
    pub n: u64,
    /// Rows with `y_pred == y_true`.
    pub n_correct: u64,
    /// Rows whose true label is the positive one.
    pub n_pos: u64,
    /// Rows whose true label is not the positive one.
    pub n_neg: u64,
    /// Rows predicted as the positive label.
    pub n_pred_pos: u64,
    /// True positives.
    pub tp: u64,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// False positives.
    pub fp: u64,
    /// True negatives.
    pub tn: u64,
    /// `n_correct / n` (multi-class accuracy when there are more than two classes).
    pub accuracy: f64,
    /// `1 - accuracy`.
    pub error_rate: f64,
    /// `P(pred = pos)`.
    pub selection_rate: f64,
    /// `P(true = pos)`.
    pub base_rate: f64,
    /// `tp / n_pos`; `None` without positives.
    pub tpr: Option<f64>,
    /// `fp / n_neg`; `None` without negatives.
    pub fpr: Option<f64>,
    /// `tpr`, or 0.0 where it is undefined (fairlearn's value).
    pub tpr_fairlearn: f64,
    /// `fpr`, or 0.0 where it is undefined (fairlearn's value).
    pub fpr_fairlearn: f64,
}

impl GroupMetrics {
    /// Metrics of a non-empty confusion matrix with positive class index `pos`.
    pub(crate) fn from_confusion(confusion: &Confusion, pos: usize) -> Self {
        let n = confusion.n();
        let n_correct = confusion.n_correct();
        let n_pos = confusion.n_true(pos);
        let n_pred_pos = confusion.n_pred(pos);
        let tp = confusion.get(pos, pos);
        let fn_ = n_pos - tp;
        let fp = n_pred_pos - tp;
        let n_neg = n - n_pos;
        let tn = n_neg - fp;
        let rate = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
        let accuracy = n_correct as f64 / n as f64;
        let tpr = rate(tp, n_pos);
        let fpr = rate(fp, n_neg);
        Self {
            n,
            n_correct,
            n_pos,
            n_neg,
            n_pred_pos,
            tp,
            fn_,
            fp,
            tn,
            accuracy,
            error_rate: 1.0 - accuracy,
            selection_rate: n_pred_pos as f64 / n as f64,
            base_rate: n_pos as f64 / n as f64,
            tpr,
            fpr,
            tpr_fairlearn: tpr.unwrap_or(0.0),
            fpr_fairlearn: fpr.unwrap_or(0.0),
        }
    }
}

/// The one-vs-rest rates of one group for one class (a `per_class` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassRates {
    /// Rows whose true label is the class.
    pub n_pos: u64,
    /// Rows predicted as the class.
    pub n_pred_pos: u64,
    /// `P(pred = class)`.
    pub selection_rate: f64,
    /// Recall of the class; `None` without rows of the class.
    pub tpr: Option<f64>,
    /// `tpr`, or 0.0 where undefined (fairlearn's value).
    pub tpr_fairlearn: f64,
    /// `P(pred = class | true != class)`; `None` when every row is of the class.
    pub fpr: Option<f64>,
    /// `fpr`, or 0.0 where undefined (fairlearn's value).
    pub fpr_fairlearn: f64,
}

impl From<&GroupMetrics> for ClassRates {
    fn from(m: &GroupMetrics) -> Self {
        Self {
            n_pos: m.n_pos,
            n_pred_pos: m.n_pred_pos,
            selection_rate: m.selection_rate,
            tpr: m.tpr,
            tpr_fairlearn: m.tpr_fairlearn,
            fpr: m.fpr,
            fpr_fairlearn: m.fpr_fairlearn,
        }
    }
}
