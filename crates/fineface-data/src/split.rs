//! Seeded, stratified splits.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::sample::{FaceDataset, FaceSample, Skipped, Split};

/// How to carve the splits a dataset does not have officially.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Share of the training images (what remains after a carved test split) moved to
    /// validation when there is no official val split.
    pub val_fraction: f64,
    /// Share of all images held out for testing when there is no official test split.
    pub test_fraction: f64,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            val_fraction: 0.1,
            test_fraction: 0.2,
            seed: 0,
        }
    }
}

/// Splits `samples` into parts of the given fractions plus the rest (returned first),
/// stratified by target x group: within each stratum, shuffled with the seed, the first
/// `round(n * f)` go to each part. Deterministic for a given seed, whatever the input order.
pub fn stratified_split(
    samples: Vec<FaceSample>,
    fractions: &[f64],
    seed: u64,
) -> Vec<Vec<FaceSample>> {
    let mut strata: BTreeMap<(String, String), Vec<FaceSample>> = BTreeMap::new();
    for sample in samples {
        strata
            .entry((sample.target.clone(), sample.group()))
            .or_default()
            .push(sample);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut parts: Vec<Vec<FaceSample>> = vec![Vec::new(); fractions.len() + 1];
    for (_, mut stratum) in strata {
        stratum.sort_by(|a, b| a.file.cmp(&b.file));
        stratum.shuffle(&mut rng);
        let n = stratum.len();
        let mut start = 0;
        for (i, fraction) in fractions.iter().enumerate() {
            let take = ((n as f64 * fraction).round() as usize).min(n - start);
            parts[i + 1].extend(stratum.drain(..take));
            start += take;
        }
        parts[0].extend(stratum);
    }
    for part in &mut parts {
        part.sort_by(|a, b| a.file.cmp(&b.file));
    }
    parts
}

/// Builds a dataset from its official splits, carving test (from all training images) and
/// then validation (from what remains) where the dataset has none.
pub(crate) fn assemble(
    name: &str,
    root: &std::path::Path,
    target: &str,
    sensitive: Vec<String>,
    mut official: BTreeMap<Split, Vec<FaceSample>>,
    skipped: Vec<Skipped>,
    config: &SplitConfig,
) -> FaceDataset {
    let mut train = official.remove(&Split::Train).unwrap_or_default();
    let mut val = official.remove(&Split::Val).unwrap_or_default();
    let mut test = official.remove(&Split::Test).unwrap_or_default();
    let mut empty_splits = BTreeMap::new();
    let n_train_before = train.len();
    if test.is_empty() {
        let source_reason = empty_carve_reason(Split::Test, config.test_fraction, &train);
        let mut parts = stratified_split(train, &[config.test_fraction], config.seed);
        test = parts.pop().unwrap_or_default();
        train = parts.pop().unwrap_or_default();
        tracing::info!(dataset = name, n = test.len(), "carved a test split");
        if test.is_empty() {
            empty_splits.insert(Split::Test, source_reason);
        }
    }
    if val.is_empty() {
        let source_reason = empty_carve_reason(Split::Val, config.val_fraction, &train);
        let mut parts =
            stratified_split(train, &[config.val_fraction], config.seed.wrapping_add(1));
        val = parts.pop().unwrap_or_default();
        train = parts.pop().unwrap_or_default();
        if val.is_empty() {
            empty_splits.insert(Split::Val, source_reason);
        }
    }
    if train.is_empty() {
        let reason = if n_train_before > 0 {
            format!(
                "carving split.test_fraction ({}) and split.val_fraction ({}) of each target x \
                 group stratum took all {n_train_before} training images: every stratum is too \
                 small to leave one",
                config.test_fraction, config.val_fraction
            )
        } else {
            format!("no usable training image ({} files skipped)", skipped.len())
        };
        empty_splits.insert(Split::Train, reason);
    }
    let mut classes: Vec<String> = train
        .iter()
        .chain(&val)
        .chain(&test)
        .map(|s| s.target.clone())
        .collect();
    classes.sort();
    classes.dedup();
    FaceDataset {
        name: name.to_owned(),
        root: root.to_owned(),
        target: target.to_owned(),
        classes,
        sensitive,
        splits: BTreeMap::from([
            (Split::Train, train),
            (Split::Val, val),
            (Split::Test, test),
        ]),
        skipped,
        empty_splits,
    }
}

/// Why carving `fraction` of `source` for `split` leaves it empty: every target x group
/// stratum takes `round(n * fraction)` images, which is 0 below `n = 0.5 / fraction`.
fn empty_carve_reason(split: Split, fraction: f64, source: &[FaceSample]) -> String {
    let key = format!("split.{}_fraction", split.name());
    if source.is_empty() {
        return format!(
            "there is no official {} split and no training image to carve one from",
            split.name()
        );
    }
    if fraction <= 0.0 {
        return format!(
            "there is no official {} split and {key} is {fraction}",
            split.name()
        );
    }
    let mut strata: BTreeMap<(String, String), usize> = BTreeMap::new();
    for sample in source {
        *strata
            .entry((sample.target.clone(), sample.group()))
            .or_insert(0) += 1;
    }
    let largest = strata.values().copied().max().unwrap_or(0);
    let needed = (0.5 / fraction).ceil();
    format!(
        "there is no official {split} split, and {percent} of each target x group stratum \
         rounds to 0 images: the largest of the {n_strata} strata among the {n} images it is \
         carved from has {largest}, and {percent} of a stratum is an image from {needed} on; \
         raise {key} in the experiment's config or add images",
        split = split.name(),
        percent = format!("{}%", (fraction * 1000.0).round() / 10.0),
        n_strata = strata.len(),
        n = source.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: usize, target: &str, group: &str) -> FaceSample {
        FaceSample {
            path: format!("/r/{i}.jpg").into(),
            file: format!("{i:04}.jpg"),
            target: target.to_owned(),
            sensitive: vec![group.to_owned()],
        }
    }

    #[test]
    fn split_is_stratified_seeded_and_complete() {
        let samples: Vec<FaceSample> = (0..200)
            .map(|i| sample(i, ["a", "b"][i % 2], ["x", "y", "y", "z"][i % 4]))
            .collect();
        let parts = stratified_split(samples.clone(), &[0.1, 0.2], 7);
        assert_eq!(parts.iter().map(Vec::len).sum::<usize>(), 200);
        // Each of the 2 strata (a,x) (a,y) (b,y) (b,z) has 50: 5 val, 10 test, 35 rest.
        assert_eq!(
            parts.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![140, 20, 40]
        );
        let mut reversed = samples.clone();
        reversed.reverse();
        assert_eq!(stratified_split(reversed, &[0.1, 0.2], 7), parts);
        assert_ne!(stratified_split(samples, &[0.1, 0.2], 8), parts);
    }
}
