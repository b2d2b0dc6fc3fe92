//! `data check`: what a dataset folder holds, per split, target and group.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sample::{FaceDataset, Skipped, Split};

/// Counts of one split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitCounts {
    /// Usable images.
    pub n: usize,
    /// Images per group (`<race>|<gender>`, names as the dataset publishes them).
    pub groups: BTreeMap<String, usize>,
    /// Images per target label.
    pub targets: BTreeMap<String, usize>,
    /// Images per target label and group.
    pub targets_by_group: BTreeMap<String, BTreeMap<String, usize>>,
}

/// The report of `cargo xtask data check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCheck {
    /// Dataset kind.
    pub dataset: String,
    /// The folder checked.
    pub root: String,
    /// The target attribute and the sensitive attributes forming the groups.
    pub target: String,
    /// Sensitive attribute names, in group-name order.
    pub sensitive: Vec<String>,
    /// Counts per split.
    pub splits: BTreeMap<String, SplitCounts>,
    /// Files left out, with reasons.
    pub skipped: Vec<Skipped>,
    /// `skipped.len()`.
    pub n_skipped: usize,
    /// Images per `WIDTHxHEIGHT` (read from the image headers), plus `unreadable`.
    pub image_sizes: BTreeMap<String, usize>,
    /// What leaves the dataset usable for evaluation but not for training (an empty
    /// validation or test split, with the reason).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl DataCheck {
    /// Counts `dataset`; with `read_sizes`, opens every image header for the size histogram
    /// and moves images whose header cannot be read to `skipped`.
    pub fn new(dataset: &FaceDataset, read_sizes: bool) -> Self {
        let mut skipped = dataset.skipped.clone();
        let mut image_sizes = BTreeMap::new();
        let mut splits = BTreeMap::new();
        for split in Split::ALL {
            let mut counts = SplitCounts {
                n: 0,
                groups: BTreeMap::new(),
                targets: BTreeMap::new(),
                targets_by_group: BTreeMap::new(),
            };
            for sample in dataset.split(split) {
                if read_sizes {
                    match crate::image_file::image_size(&sample.path) {
                        Ok((w, h)) => *image_sizes.entry(format!("{w}x{h}")).or_insert(0) += 1,
                        Err(e) => {
                            skipped.push(Skipped {
                                lost: None,
                                split: Some(split),
                                file: sample.file.clone(),
                                reason: format!("unreadable image: {e}"),
                            });
                            continue;
                        }
                    }
                }
                counts.n += 1;
                *counts.groups.entry(sample.group()).or_insert(0) += 1;
                *counts.targets.entry(sample.target.clone()).or_insert(0) += 1;
                *counts
                    .targets_by_group
                    .entry(sample.target.clone())
                    .or_default()
                    .entry(sample.group())
                    .or_insert(0) += 1;
            }
            splits.insert(split.name().to_owned(), counts);
        }
        let empty = [Split::Val, Split::Test]
            .into_iter()
            .filter(|split| splits.get(split.name()).is_some_and(|c| c.n == 0))
            .map(|split| {
                let reason = dataset
                    .empty_splits
                    .get(&split)
                    .cloned()
                    .unwrap_or_else(|| "every image of it was skipped".to_owned());
                format!(
                    "the {} split is empty, so training refuses this dataset: {reason}",
                    split.name()
                )
            });
        // The listing's problems, and the classes whose every training image's header does
        // not read (the counts leave those images out): the cause, not its consequence.
        let unreadable: std::collections::HashSet<&str> = skipped
            .iter()
            .filter(|s| s.split == Some(Split::Train))
            .map(|s| s.file.as_str())
            .collect();
        let lost = dataset.classes_lost(|s| !unreadable.contains(s.file.as_str()));
        let classes = dataset
            .class_problems()
            .into_iter()
            .chain(lost)
            .map(|problem| format!("training refuses this dataset: {problem}"));
        let warnings = empty.chain(classes).collect();
        Self {
            warnings,
            dataset: dataset.name.clone(),
            root: dataset.root.display().to_string(),
            target: dataset.target.clone(),
            sensitive: dataset.sensitive.clone(),
            splits,
            n_skipped: skipped.len(),
            skipped,
            image_sizes,
        }
    }

    /// Usable images over all splits.
    pub fn n_usable(&self) -> usize {
        self.splits.values().map(|s| s.n).sum()
    }

    /// Why the dataset cannot be trained on, if it cannot.
    pub fn unusable_reason(&self) -> Option<String> {
        let train = self.splits.get("train").map_or(0, |s| s.n);
        if self.n_usable() == 0 {
            Some(format!(
                "no usable image ({} skipped; first reason: {})",
                self.n_skipped,
                self.skipped.first().map_or("none", |s| s.reason.as_str())
            ))
        } else if train == 0 {
            Some("the training split is empty".to_owned())
        } else {
            None
        }
    }
}
