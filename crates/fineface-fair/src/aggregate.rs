//! Aggregates over groups: spreads, ratios, Degree of Bias, SER and fairlearn's parity metrics.

use serde::{Deserialize, Serialize};

use crate::group::GroupMetrics;

/// Accuracy-based aggregates over the non-empty groups, plus the parity metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    /// Number of non-empty groups.
    pub n_groups: usize,
    /// Lowest group accuracy.
    pub min_group_accuracy: f64,
    /// Highest group accuracy.
    pub max_group_accuracy: f64,
    /// Unweighted mean of the group accuracies.
    pub mean_group_accuracy: f64,
    /// Groups at the lowest accuracy, sorted (ties kept).
    pub worst_groups: Vec<String>,
    /// Groups at the highest accuracy, sorted (ties kept).
    pub best_groups: Vec<String>,
    /// Lowest group error rate.
    pub min_group_error: f64,
    /// Highest group error rate.
    pub max_group_error: f64,
    /// Degree of Bias: population standard deviation of the group accuracies.
    pub dob_std_ddof0: f64,
    /// Degree of Bias with the sample standard deviation; `None` for one group.
    pub dob_std_ddof1: Option<f64>,
    /// Skewed Error Ratio `max_group_error / min_group_error`: infinite when only the minimum
    /// is 0, `None` when both are.
    #[serde(with = "crate::extended_float")]
    pub ser: Option<f64>,
    /// `max_group_accuracy / min_group_accuracy` (the papers' Max/Min); infinite when only the
    /// minimum is 0, `None` when both are.
    #[serde(with = "crate::extended_float")]
    pub max_min_accuracy_ratio: Option<f64>,
    /// `max - min` of the group accuracies.
    pub accuracy_difference: f64,
    /// `min / max` of the group accuracies; `None` for 0/0.
    pub accuracy_ratio: Option<f64>,
    /// Largest `|acc_g - acc_overall|`.
    pub accuracy_difference_to_overall: f64,
    /// Smallest `min(r, 1/r)` with `r = acc_g / acc_overall`.
    pub accuracy_ratio_to_overall: Option<f64>,
    /// `max - min` of the group error rates.
    pub error_rate_difference: f64,
    /// `min / max` of the group error rates; `None` for 0/0.
    pub error_rate_ratio: Option<f64>,
    /// Largest `|err_g - err_overall|`.
    pub error_rate_difference_to_overall: f64,
    /// Smallest `min(r, 1/r)` with `r = err_g / err_overall`.
    pub error_rate_ratio_to_overall: Option<f64>,
    /// Demographic parity and TPR/FPR-based metrics for the positive label.
    #[serde(flatten)]
    pub parity: ParityAggregates,
}

/// Demographic parity, equal opportunity and equalized odds over groups, as fairlearn 0.15
/// computes them (undefined TPR/FPR counted as 0), plus a `strict` block without that rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityAggregates {
    /// `max - min` of the selection rates.
    pub demographic_parity_difference: f64,
    /// `min / max` of the selection rates; `None` for 0/0.
    pub demographic_parity_ratio: Option<f64>,
    /// Largest `|sel_g - sel_overall|`.
    pub demographic_parity_difference_to_overall: f64,
    /// Smallest `min(r, 1/r)` with `r = sel_g / sel_overall`.
    pub demographic_parity_ratio_to_overall: Option<f64>,
    /// `max - min` of `tpr_fairlearn`.
    pub tpr_difference: f64,
    /// `max - min` of `fpr_fairlearn`.
    pub fpr_difference: f64,
    /// `min / max` of `tpr_fairlearn`; `None` for 0/0.
    pub tpr_ratio: Option<f64>,
    /// `min / max` of `fpr_fairlearn`; `None` for 0/0.
    pub fpr_ratio: Option<f64>,
    /// Equal to `tpr_difference`.
    pub equal_opportunity_difference: f64,
    /// Equal to `tpr_ratio`.
    pub equal_opportunity_ratio: Option<f64>,
    /// `max(tpr_difference, fpr_difference)` (fairlearn's `agg="worst_case"`).
    pub equalized_odds_difference: f64,
    /// Mean of `tpr_difference` and `fpr_difference` (fairlearn's `agg="mean"`).
    pub equalized_odds_difference_mean: f64,
    /// `min(tpr_ratio, fpr_ratio)` with fairlearn's handling of an undefined ratio.
    pub equalized_odds_ratio: Option<f64>,
    /// Mean of the defined ones of `tpr_ratio` and `fpr_ratio`.
    pub equalized_odds_ratio_mean: Option<f64>,
    /// The worst of the TPR and FPR differences to overall.
    pub equalized_odds_difference_to_overall: f64,
    /// The worst of the TPR and FPR ratios to overall.
    pub equalized_odds_ratio_to_overall: Option<f64>,
    /// The TPR/FPR metrics over only the groups where each rate is defined.
    pub strict: StrictRateAggregates,
}

/// TPR/FPR-based aggregates that skip groups where the rate is undefined (no positives for
/// TPR, no negatives for FPR) instead of counting them as 0. A combined metric (equalized
/// odds: the max, min or mean of a TPR and an FPR number) is taken over its defined parts:
/// when every group is perfect, FPR's ratio is 0/0 (undefined) and TPR's is 1, so the
/// equalized odds ratio is 1. It is `None` only when both parts are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrictRateAggregates {
    /// Groups with at least one positive.
    pub n_groups_tpr_defined: usize,
    /// Groups with at least one negative.
    pub n_groups_fpr_defined: usize,
    /// `max - min` of the defined TPRs.
    pub tpr_difference: Option<f64>,
    /// `max - min` of the defined FPRs.
    pub fpr_difference: Option<f64>,
    /// `min / max` of the defined TPRs.
    pub tpr_ratio: Option<f64>,
    /// `min / max` of the defined FPRs.
    pub fpr_ratio: Option<f64>,
    /// Equal to `tpr_difference`.
    pub equal_opportunity_difference: Option<f64>,
    /// Equal to `tpr_ratio`.
    pub equal_opportunity_ratio: Option<f64>,
    /// `max(tpr_difference, fpr_difference)` over the defined ones.
    pub equalized_odds_difference: Option<f64>,
    /// Mean of the defined ones of `tpr_difference` and `fpr_difference`.
    pub equalized_odds_difference_mean: Option<f64>,
    /// `min(tpr_ratio, fpr_ratio)` over the defined ones.
    pub equalized_odds_ratio: Option<f64>,
    /// Mean of the defined ones of `tpr_ratio` and `fpr_ratio`.
    pub equalized_odds_ratio_mean: Option<f64>,
    /// The worst of the TPR and FPR differences to overall.
    pub equalized_odds_difference_to_overall: Option<f64>,
    /// The worst of the TPR and FPR ratios to overall.
    pub equalized_odds_ratio_to_overall: Option<f64>,
}

/// `max - min` and `min / max` of non-empty `values` (fairlearn's `between_groups`).
fn between_groups(values: &[f64]) -> (f64, Option<f64>) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - min, ratio(min, max))
}

/// `a / b` where 0/0 is undefined.
fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0 || a != 0.0).then(|| a / b)
}

/// fairlearn's `to_overall`: the largest `|v - overall|` and the smallest `min(r, 1/r)` with
/// `r = v / overall`, where a 0/0 ratio is skipped (pandas skips NaN) and `v/0` counts as 0.
fn to_overall(values: &[f64], overall: f64) -> (f64, Option<f64>) {
    let difference = values
        .iter()
        .map(|v| (v - overall).abs())
        .fold(f64::NEG_INFINITY, f64::max);
    let ratio = values
        .iter()
        .map(|v| v / overall)
        .filter(|r| !r.is_nan())
        .map(|r| if r > 1.0 { 1.0 / r } else { r })
        .reduce(f64::min);
    (difference, ratio)
}

/// Python's builtin `min(a, b)` where `None` plays NaN: the first argument wins unless the
/// second compares smaller, and NaN never compares smaller. fairlearn's
/// `equalized_odds_ratio` is `min(eo.ratio())` over `[tpr, fpr]`, so this is exactly its
/// behaviour when one of the ratios is undefined.
fn python_min(first: Option<f64>, second: Option<f64>) -> Option<f64> {
    match (first, second) {
        (Some(a), Some(b)) => Some(if b < a { b } else { a }),
        (first, _) => first,
    }
}

/// pandas' `Series.mean()` over the defined values.
fn mean_defined(values: &[Option<f64>]) -> Option<f64> {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64)
}

/// Standard deviation with `ddof` delta degrees of freedom (numpy's `std`), `None` when
/// `n <= ddof`.
fn std_dev(values: &[f64], ddof: usize) -> Option<f64> {
    let n = values.len();
    if n <= ddof {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    Some((ss / (n - ddof) as f64).sqrt())
}

/// `max / min` for a non-negative pair: infinite when only `min` is 0, `None` when both are.
fn max_over_min(max: f64, min: f64) -> Option<f64> {
    if min == 0.0 {
        (max != 0.0).then_some(f64::INFINITY)
    } else {
        Some(max / min)
    }
}

fn names_where(
    groups: &[(String, &GroupMetrics)],
    pick: impl Fn(&GroupMetrics) -> bool,
) -> Vec<String> {
    let mut names: Vec<String> = groups
        .iter()
        .filter(|(_, m)| pick(m))
        .map(|(n, _)| n.clone())
        .collect();
    names.sort();
    names
}

impl Aggregates {
    /// Aggregates over `groups` (non-empty, each with `n > 0`) and the pooled `overall`.
    pub(crate) fn compute(groups: &[(String, &GroupMetrics)], overall: &GroupMetrics) -> Self {
        let accuracy: Vec<f64> = groups.iter().map(|(_, m)| m.accuracy).collect();
        let error: Vec<f64> = groups.iter().map(|(_, m)| m.error_rate).collect();
        let (accuracy_difference, accuracy_ratio) = between_groups(&accuracy);
        let (accuracy_difference_to_overall, accuracy_ratio_to_overall) =
            to_overall(&accuracy, overall.accuracy);
        let (error_rate_difference, error_rate_ratio) = between_groups(&error);
        let (error_rate_difference_to_overall, error_rate_ratio_to_overall) =
            to_overall(&error, overall.error_rate);
        let min_group_accuracy = accuracy.iter().copied().fold(f64::INFINITY, f64::min);
        let max_group_accuracy = accuracy.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min_group_error = error.iter().copied().fold(f64::INFINITY, f64::min);
        let max_group_error = error.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let metrics: Vec<&GroupMetrics> = groups.iter().map(|(_, m)| *m).collect();
        Self {
            n_groups: groups.len(),
            min_group_accuracy,
            max_group_accuracy,
            mean_group_accuracy: accuracy.iter().sum::<f64>() / accuracy.len() as f64,
            worst_groups: names_where(groups, |m| m.accuracy == min_group_accuracy),
            best_groups: names_where(groups, |m| m.accuracy == max_group_accuracy),
            min_group_error,
            max_group_error,
            dob_std_ddof0: std_dev(&accuracy, 0).unwrap_or(0.0),
            dob_std_ddof1: std_dev(&accuracy, 1),
            ser: max_over_min(max_group_error, min_group_error),
            max_min_accuracy_ratio: max_over_min(max_group_accuracy, min_group_accuracy),
            accuracy_difference,
            accuracy_ratio,
            accuracy_difference_to_overall,
            accuracy_ratio_to_overall,
            error_rate_difference,
            error_rate_ratio,
            error_rate_difference_to_overall,
            error_rate_ratio_to_overall,
            parity: ParityAggregates::compute(&metrics, overall),
        }
    }
}

impl ParityAggregates {
    /// Parity metrics over `groups` (non-empty) and the pooled `overall`, all computed with
    /// the same positive class.
    pub(crate) fn compute(groups: &[&GroupMetrics], overall: &GroupMetrics) -> Self {
        let column = |f: fn(&GroupMetrics) -> f64| groups.iter().map(|m| f(m)).collect::<Vec<_>>();
        let selection = column(|m| m.selection_rate);
        let tpr = column(|m| m.tpr_fairlearn);
        let fpr = column(|m| m.fpr_fairlearn);
        let (dp_diff, dp_ratio) = between_groups(&selection);
        let (dp_diff_overall, dp_ratio_overall) = to_overall(&selection, overall.selection_rate);
        let (tpr_difference, tpr_ratio) = between_groups(&tpr);
        let (fpr_difference, fpr_ratio) = between_groups(&fpr);
        let (tpr_diff_overall, tpr_ratio_overall) = to_overall(&tpr, overall.tpr_fairlearn);
        let (fpr_diff_overall, fpr_ratio_overall) = to_overall(&fpr, overall.fpr_fairlearn);
        Self {
            demographic_parity_difference: dp_diff,
            demographic_parity_ratio: dp_ratio,
            demographic_parity_difference_to_overall: dp_diff_overall,
            demographic_parity_ratio_to_overall: dp_ratio_overall,
            tpr_difference,
            fpr_difference,
            tpr_ratio,
            fpr_ratio,
            equal_opportunity_difference: tpr_difference,
            equal_opportunity_ratio: tpr_ratio,
            equalized_odds_difference: tpr_difference.max(fpr_difference),
            equalized_odds_difference_mean: (tpr_difference + fpr_difference) / 2.0,
            equalized_odds_ratio: python_min(tpr_ratio, fpr_ratio),
            equalized_odds_ratio_mean: mean_defined(&[tpr_ratio, fpr_ratio]),
            equalized_odds_difference_to_overall: tpr_diff_overall.max(fpr_diff_overall),
            equalized_odds_ratio_to_overall: python_min(tpr_ratio_overall, fpr_ratio_overall),
            strict: StrictRateAggregates::compute(groups, overall),
        }
    }
}

impl StrictRateAggregates {
    fn compute(groups: &[&GroupMetrics], overall: &GroupMetrics) -> Self {
        let tpr: Vec<f64> = groups.iter().filter_map(|m| m.tpr).collect();
        let fpr: Vec<f64> = groups.iter().filter_map(|m| m.fpr).collect();
        // A gap between groups needs two of them: a rate defined in one group compares
        // nothing (not a gap of 0), not even with the overall rate, which is then its own.
        let between = |v: &[f64]| (v.len() >= 2).then(|| between_groups(v));
        let against = |v: &[f64], o: Option<f64>| match o {
            Some(o) if v.len() >= 2 => Some(to_overall(v, o)),
            _ => None,
        };
        let (tpr_difference, tpr_ratio) = split(between(&tpr));
        let (fpr_difference, fpr_ratio) = split(between(&fpr));
        let (tpr_diff_overall, tpr_ratio_overall) = split(against(&tpr, overall.tpr));
        let (fpr_diff_overall, fpr_ratio_overall) = split(against(&fpr, overall.fpr));
        let both = |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| over_defined(a, b, f);
        Self {
            n_groups_tpr_defined: tpr.len(),
            n_groups_fpr_defined: fpr.len(),
            tpr_difference,
            fpr_difference,
            tpr_ratio,
            fpr_ratio,
            equal_opportunity_difference: tpr_difference,
            equal_opportunity_ratio: tpr_ratio,
            equalized_odds_difference: both(tpr_difference, fpr_difference, f64::max),
            equalized_odds_difference_mean: both(tpr_difference, fpr_difference, mean2),
            equalized_odds_ratio: both(tpr_ratio, fpr_ratio, f64::min),
            equalized_odds_ratio_mean: both(tpr_ratio, fpr_ratio, mean2),
            equalized_odds_difference_to_overall: both(
                tpr_diff_overall,
                fpr_diff_overall,
                f64::max,
            ),
            equalized_odds_ratio_to_overall: both(tpr_ratio_overall, fpr_ratio_overall, f64::min),
        }
    }
}

/// Combines two components with `f`, over the defined ones only: one undefined component
/// leaves the other (all-perfect groups: FPR's ratio is 0/0, TPR's is 1, the equalized odds
/// ratio is 1), two leave `None`.
fn over_defined(a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (one, None) | (None, one) => one,
    }
}

fn mean2(a: f64, b: f64) -> f64 {
    (a + b) / 2.0
}

/// Splits an optional (difference, ratio) pair; the ratio may itself be undefined.
fn split(pair: Option<(f64, Option<f64>)>) -> (Option<f64>, Option<f64>) {
    match pair {
        Some((difference, ratio)) => (Some(difference), ratio),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_follow_fairlearn_edge_rules() {
        assert_eq!(between_groups(&[0.0, 0.0]), (0.0, None));
        assert_eq!(between_groups(&[0.0, 0.5]), (0.5, Some(0.0)));
        // v/0 is inf -> 1/inf = 0; 0/0 is skipped.
        assert_eq!(to_overall(&[0.0, 0.5], 0.0), (0.5, Some(0.0)));
        assert_eq!(to_overall(&[0.0, 0.0], 0.0), (0.0, None));
        assert_eq!(
            to_overall(&[0.5, 1.0], 0.8),
            (0.30000000000000004, Some(0.625))
        );
    }

    #[test]
    fn python_min_keeps_nan_in_first_place_only() {
        assert_eq!(python_min(None, Some(0.5)), None);
        assert_eq!(python_min(Some(0.5), None), Some(0.5));
        assert_eq!(python_min(Some(0.5), Some(0.25)), Some(0.25));
    }

    #[test]
    fn combined_strict_metrics_use_the_defined_components() {
        assert_eq!(over_defined(Some(1.0), None, f64::min), Some(1.0));
        assert_eq!(over_defined(None, Some(0.25), f64::max), Some(0.25));
        assert_eq!(over_defined(Some(1.0), Some(0.5), mean2), Some(0.75));
        assert_eq!(over_defined(None, None, f64::min), None);
    }

    #[test]
    fn error_ratio_edges() {
        assert_eq!(max_over_min(0.0, 0.0), None);
        assert_eq!(max_over_min(0.2, 0.0), Some(f64::INFINITY));
        assert_eq!(max_over_min(0.2, 0.1), Some(2.0));
        assert_eq!(std_dev(&[0.5], 1), None);
        assert_eq!(std_dev(&[0.5], 0), Some(0.0));
    }
}
