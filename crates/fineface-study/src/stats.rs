//! Statistics over seeds: the mean with its Student-t 95 % interval, and paired differences.
//!
//! Seeds are few (3 to 10), so intervals use Student's t with `n - 1` degrees of freedom
//! (`mean +/- t(0.975, n - 1) * sd / sqrt(n)`, `sd` with ddof 1), not the normal 1.96.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A two-sided 95 % interval `[low, high]`.
pub type Interval95 = [f64; 2];

/// The mean of `values` and its Student-t 95 % interval, over the defined values (`None`
/// are left out). An infinite value (a SER whose best group made no error) makes the mean
/// infinite and the interval undefined; fewer than 2 finite values give no interval.
///
/// # Examples
/// ```
/// use fineface_study::mean_ci95;
/// let (mean, ci) = mean_ci95(&[Some(0.80), Some(0.82), Some(0.84)]);
/// assert!((mean.unwrap() - 0.82).abs() < 1e-12);
/// // t(0.975, 2) = 4.303, sd = 0.02, half-width = 4.303 * 0.02 / sqrt(3) = 0.0497
/// let [low, high] = ci.unwrap();
/// assert!((high - low - 2.0 * 0.049_68).abs() < 1e-4);
/// ```
pub fn mean_ci95(values: &[Option<f64>]) -> (Option<f64>, Option<Interval95>) {
    let defined: Vec<f64> = values.iter().flatten().copied().collect();
    if defined.is_empty() {
        return (None, None);
    }
    if defined.iter().any(|v| v.is_infinite()) {
        let sum: f64 = defined.iter().sum();
        return (Some(sum), None);
    }
    let n = defined.len() as f64;
    let mean = defined.iter().sum::<f64>() / n;
    let Some(sd) = sd_ddof1(&defined) else {
        return (Some(mean), None);
    };
    let half = t_975(defined.len() - 1) * sd / n.sqrt();
    (Some(mean), Some([mean - half, mean + half]))
}

/// The sample standard deviation (ddof 1) of `values`; `None` for fewer than 2.
pub fn sd_ddof1(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some(variance.sqrt())
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom (12.706 for 1, 4.303
/// for 2, 2.776 for 4, 1.960 in the limit).
pub fn t_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df.max(1) as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// The paired difference `first - second` of a metric over the seeds both define.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedDifference {
    /// Mean of the per-seed differences; `None` when no seed defines both.
    pub mean_diff: Option<f64>,
    /// Student-t 95 % interval of that mean; `None` for fewer than 2 seeds.
    pub ci95: Option<Interval95>,
    /// Seeds whose difference is defined and finite.
    pub n_seeds: usize,
}

impl PairedDifference {
    /// The differences `first[i] - second[i]` where both are defined and finite.
    pub fn of(first: &[Option<f64>], second: &[Option<f64>]) -> Self {
        let differences: Vec<Option<f64>> = first
            .iter()
            .zip(second)
            .filter_map(|(a, b)| match (a, b) {
                (Some(a), Some(b)) if a.is_finite() && b.is_finite() => Some(Some(a - b)),
                _ => None,
            })
            .collect();
        let (mean_diff, ci95) = mean_ci95(&differences);
        Self {
            mean_diff,
            ci95,
            n_seeds: differences.len(),
        }
    }

    /// `Some(true)` when the interval lies above 0, `Some(false)` below, `None` when it
    /// includes 0 or is undefined.
    pub fn sign(&self) -> Option<bool> {
        let [low, high] = self.ci95?;
        if low > 0.0 {
            Some(true)
        } else if high < 0.0 {
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `scipy.stats.t.ppf(0.975, df)` (scipy 1.17) for df = 1, 2, 4, 9, 29, 1000.
    #[test]
    fn t_quantiles_match_scipy() {
        for (df, expected) in [
            (1, 12.706_204_736_174_694),
            (2, 4.302_652_729_749_462),
            (4, 2.776_445_105_197_793_4),
            (9, 2.262_157_162_798_205),
            (29, 2.045_229_642_132_703),
            (1000, 1.962_339_080_826_408_3),
        ] {
            assert!(
                (t_975(df) - expected).abs() < 1e-9,
                "df {df}: {}",
                t_975(df)
            );
        }
    }

    #[test]
    fn undefined_values_are_left_out_and_infinity_has_no_interval() {
        let (mean, ci) = mean_ci95(&[Some(1.0), None, Some(3.0)]);
        assert_eq!(mean, Some(2.0));
        let half = 12.706_204_736_174_694 * (2.0f64 / 2.0).sqrt();
        let [low, high] = ci.unwrap();
        assert!((low - (2.0 - half)).abs() < 1e-9 && (high - (2.0 + half)).abs() < 1e-9);
        assert_eq!(
            mean_ci95(&[Some(2.0), Some(f64::INFINITY)]),
            (Some(f64::INFINITY), None)
        );
        assert_eq!(mean_ci95(&[None, None]), (None, None));
        assert_eq!(mean_ci95(&[Some(0.5)]), (Some(0.5), None));
    }

    #[test]
    fn paired_differences_use_the_seeds_both_define() {
        let paired = PairedDifference::of(
            &[Some(0.9), Some(0.8), Some(f64::INFINITY), Some(0.7)],
            &[Some(0.8), Some(0.7), Some(0.5), None],
        );
        assert_eq!(paired.n_seeds, 2);
        assert!((paired.mean_diff.unwrap() - 0.1).abs() < 1e-12);
        // Both differences are 0.1: sd 0, a zero-width interval above 0.
        assert_eq!(paired.sign(), Some(true));
    }
}
