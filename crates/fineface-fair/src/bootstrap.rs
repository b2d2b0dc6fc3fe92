//! Seeded bootstrap confidence intervals (percentile method).
//!
//! Resampling is stratified by intersectional group: each replicate redraws every group's
//! `n_g` rows with replacement from that group alone, so group sizes stay fixed and no group
//! disappears from a replicate (a plain row bootstrap would drop small groups and make the
//! between-group aggregates undefined). Every metric is a function of the groups' confusion
//! matrices, and redrawing `n_g` rows from a group is the same as drawing its confusion
//! matrix from a multinomial over its cells; a replicate therefore costs `O(groups x k^2)`,
//! not `O(rows)`.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};

use crate::confusion::Confusion;
use crate::core_report::CoreReport;
use crate::error::{FairError, Result};

/// A percentage as a person writes it: `95`, `2.5`, `0.5`, not `2.500000000000002`.
fn percent(value: f64) -> String {
    let text = format!("{value:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// How many replicates, from which seed, at which confidence level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapConfig {
    /// Number of bootstrap replicates (at least [`BootstrapConfig::minimum_replicates`], 40
    /// at 95 %; 1,000 or more for stable intervals).
    pub replicates: usize,
    /// Seed of the ChaCha8 generator: the same seed gives the same intervals.
    pub seed: u64,
    /// Two-sided confidence level in (0, 1), e.g. 0.95.
    pub confidence: f64,
}

impl BootstrapConfig {
    /// The fewest replicates whose percentile interval at this confidence has a replicate
    /// in each tail: `ceil(2 / (1 - confidence))`, 40 at 95 % (below it, one replicate gave
    /// an "interval" that did not contain the estimate).
    pub fn minimum_replicates(&self) -> usize {
        (2.0 / (1.0 - self.confidence) - 1e-9).ceil() as usize
    }

    /// `replicates` replicates from `seed` at 95 % confidence.
    pub fn new(replicates: usize, seed: u64) -> Self {
        Self {
            replicates,
            seed,
            confidence: 0.95,
        }
    }
}

/// A percentile interval over the replicates where the statistic is defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound; `None` when no replicate defines the statistic.
    #[serde(with = "crate::extended_float")]
    pub low: Option<f64>,
    /// Upper bound; `None` when no replicate defines the statistic.
    #[serde(with = "crate::extended_float")]
    pub high: Option<f64>,
    /// Replicates in which the statistic was defined.
    pub n_defined: usize,
}

/// Confidence intervals for the group accuracies and the scalar aggregates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BootstrapReport {
    /// Always `"percentile"`.
    pub method: String,
    /// How rows are redrawn (see the module docs).
    pub resampling: String,
    /// Number of replicates.
    pub replicates: usize,
    /// Generator seed.
    pub seed: u64,
    /// Confidence level.
    pub confidence: f64,
    /// Interval of the pooled accuracy.
    pub overall_accuracy: Interval,
    /// Interval of each intersectional group's accuracy.
    pub group_accuracy: BTreeMap<String, Interval>,
    /// Interval of each scalar entry of `aggregates`, by its JSON key.
    pub aggregates: BTreeMap<String, Interval>,
}

impl BootstrapReport {
    pub(crate) fn compute(
        config: &BootstrapConfig,
        cells: &[Confusion],
        names: &[String],
        pos: usize,
    ) -> Result<Self> {
        if config.replicates == 0 {
            return Err(FairError::InvalidBootstrap(
                "replicates must be at least 1".into(),
            ));
        }
        if !(config.confidence > 0.0 && config.confidence < 1.0) {
            return Err(FairError::InvalidBootstrap(format!(
                "confidence {} is not in (0, 1)",
                config.confidence
            )));
        }
        let minimum = config.minimum_replicates();
        if config.replicates < minimum {
            return Err(FairError::InvalidBootstrap(format!(
                "{} replicate{} cannot give a {} % percentile interval: each tail of {} % needs \
                 a replicate, so at least {minimum} (1,000 or more for stable bounds)",
                config.replicates,
                if config.replicates == 1 { "" } else { "s" },
                percent(config.confidence * 100.0),
                percent((1.0 - config.confidence) * 50.0)
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut overall: Vec<Option<f64>> = Vec::with_capacity(config.replicates);
        let mut groups: Vec<Vec<Option<f64>>> = vec![Vec::new(); names.len()];
        let mut aggregates: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
        let mut resampled = cells.to_vec();
        for _ in 0..config.replicates {
            for (source, target) in cells.iter().zip(resampled.iter_mut()) {
                resample_multinomial(source.cells(), target.cells_mut(), &mut rng);
            }
            let core = CoreReport::compute(&resampled, names, pos);
            overall.push(Some(core.overall.accuracy));
            for (samples, (_, metrics)) in groups.iter_mut().zip(&core.groups) {
                samples.push(Some(metrics.accuracy));
            }
            for (key, value) in scalar_fields(&core.aggregates) {
                aggregates.entry(key).or_default().push(value);
            }
        }
        let level = config.confidence;
        Ok(Self {
            method: "percentile".to_owned(),
            resampling: "stratified by intersectional group".to_owned(),
            replicates: config.replicates,
            seed: config.seed,
            confidence: level,
            overall_accuracy: Interval::percentile(overall, level),
            group_accuracy: names
                .iter()
                .cloned()
                .zip(groups.into_iter().map(|s| Interval::percentile(s, level)))
                .collect(),
            aggregates: aggregates
                .into_iter()
                .map(|(k, s)| (k, Interval::percentile(s, level)))
                .collect(),
        })
    }
}

/// The scalar numeric entries of the aggregates, by JSON key (`n_groups` excluded: it never
/// varies). Going through serde keeps this list in step with the struct by construction.
fn scalar_fields(aggregates: &crate::aggregate::Aggregates) -> Vec<(String, Option<f64>)> {
    let serde_json::Value::Object(map) =
        serde_json::to_value(aggregates).unwrap_or(serde_json::Value::Null)
    else {
        return Vec::new();
    };
    map.into_iter()
        .filter(|(key, _)| key != "n_groups")
        .filter_map(|(key, value)| {
            let value = match value {
                serde_json::Value::Number(n) => Some(n.as_f64()),
                serde_json::Value::Null => Some(None),
                serde_json::Value::String(s) if s == "inf" => Some(Some(f64::INFINITY)),
                _ => None,
            }?;
            Some((key, value))
        })
        .collect()
}

/// Draws `sum(counts)` items from the categorical distribution `counts / sum(counts)` into
/// `out`, as a chain of binomials over the remaining mass.
fn resample_multinomial(counts: &[u64], out: &mut [u64], rng: &mut ChaCha8Rng) {
    let mut remaining_draws: u64 = counts.iter().sum();
    let mut remaining_mass = remaining_draws;
    for (&count, slot) in counts.iter().zip(out.iter_mut()) {
        *slot = if count == 0 || remaining_draws == 0 {
            0
        } else if count == remaining_mass {
            remaining_draws
        } else {
            let p = count as f64 / remaining_mass as f64;
            // p is in (0, 1) here, which `Binomial::new` accepts.
            Binomial::new(remaining_draws, p).map_or(0, |b| b.sample(rng))
        };
        remaining_draws -= *slot;
        remaining_mass -= count;
    }
}

impl Interval {
    /// The `(1 - level) / 2` and `(1 + level) / 2` quantiles of the defined samples, with
    /// numpy's default linear interpolation.
    fn percentile(samples: Vec<Option<f64>>, level: f64) -> Self {
        let mut defined: Vec<f64> = samples.into_iter().flatten().collect();
        defined.sort_by(f64::total_cmp);
        let tail = (1.0 - level) / 2.0;
        Self {
            low: quantile(&defined, tail),
            high: quantile(&defined, 1.0 - tail),
            n_defined: defined.len(),
        }
    }
}

/// Linear-interpolation quantile of sorted `values` (numpy's `method="linear"`); infinite
/// samples are allowed.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let h = last as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(last);
    let (a, b) = (sorted[lo], sorted[hi]);
    let frac = h - lo as f64;
    Some(if frac == 0.0 || a == b {
        a
    } else {
        a + (b - a) * frac
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], [0.025, 0.5, 0.975]) == [1.075, 2.5, 3.925]
        let v = [1.0, 2.0, 3.0, 4.0];
        assert!((quantile(&v, 0.025).unwrap() - 1.075).abs() < 1e-12);
        assert_eq!(quantile(&v, 0.5), Some(2.5));
        assert!((quantile(&v, 0.975).unwrap() - 3.925).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[1.0, f64::INFINITY], 0.9), Some(f64::INFINITY));
        assert_eq!(
            quantile(&[f64::INFINITY, f64::INFINITY], 0.5),
            Some(f64::INFINITY)
        );
    }

    #[test]
    fn multinomial_keeps_total_and_zero_cells() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let counts = [5, 0, 3, 2];
        let mut out = [0; 4];
        let mut mean = [0.0; 4];
        for _ in 0..20_000 {
            resample_multinomial(&counts, &mut out, &mut rng);
            assert_eq!(out.iter().sum::<u64>(), 10);
            assert_eq!(out[1], 0);
            for (m, &o) in mean.iter_mut().zip(&out) {
                *m += o as f64 / 20_000.0;
            }
        }
        // The expected counts are the observed ones.
        for (m, &c) in mean.iter().zip(&counts) {
            assert!((m - c as f64).abs() < 0.05, "{m} vs {c}");
        }
    }
}
