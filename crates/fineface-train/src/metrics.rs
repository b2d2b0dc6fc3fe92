//! Per-epoch numbers and the files they are written to.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::files::write_csv;

/// What one epoch did, training and validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// 1-based epoch.
    pub epoch: usize,
    /// Backbone learning rate of the epoch.
    pub lr_backbone: f64,
    /// New-layer learning rate of the epoch.
    pub lr_new: f64,
    /// Mean loss of each step over the epoch's batches, in the iteration's order.
    pub losses: Vec<(String, f64)>,
    /// Training accuracy (FineFACE: of step 6's concat logits).
    pub train_accuracy: f64,
    /// Validation accuracy of the final prediction (FineFACE: the 8-logit sum).
    pub val_accuracy: f64,
    /// Validation accuracy of the concat head on the image alone.
    pub val_accuracy_concat: f64,
    /// Validation accuracy of the 4-head sum on the image.
    pub val_accuracy_heads: f64,
    /// Accuracy of the worst validation subgroup.
    pub val_worst_group_accuracy: f64,
    /// The worst subgroup(s), `|`-joined values.
    pub val_worst_group: String,
    /// Degree of bias: standard deviation (ddof 0) of the subgroup accuracies.
    pub val_dob: f64,
    /// Accuracy per validation subgroup.
    pub val_groups: BTreeMap<String, f64>,
    /// Wall time of the epoch (training + validation), seconds.
    pub seconds: f64,
    /// Wall time of the epoch's training loop alone (batch loading, the iterations, the
    /// optimiser steps), seconds. Zero in histories written before it was recorded.
    #[serde(default)]
    pub train_seconds: f64,
    /// Training throughput: images trained over [`train_seconds`](Self::train_seconds).
    #[serde(default)]
    pub train_images_per_second: f64,
    /// Resident memory at the end of the epoch, MB.
    pub rss_mb: f64,
    /// Peak resident memory of the process so far, MB.
    pub peak_rss_mb: f64,
    /// Images skipped because they could not be decoded.
    pub skipped_images: usize,
}

impl EpochMetrics {
    /// The value of the selection metric.
    pub fn selection_value(&self, by: crate::config::SelectBy) -> f64 {
        match by {
            crate::config::SelectBy::Accuracy => self.val_accuracy,
            crate::config::SelectBy::WorstGroup => self.val_worst_group_accuracy,
        }
    }
}

/// Writes `metrics.csv` (one row per epoch) and `val_groups.csv` (epoch, group, accuracy).
///
/// # Errors
/// [`TrainError::Io`](crate::TrainError::Io) naming the file that could not be written.
pub(crate) fn write_history(run: &Path, history: &[EpochMetrics]) -> Result<()> {
    let mut header: Vec<String> = ["epoch", "lr_backbone", "lr_new"]
        .map(String::from)
        .to_vec();
    if let Some(first) = history.first() {
        header.extend(first.losses.iter().map(|(name, _)| format!("loss_{name}")));
    }
    header.extend(
        [
            "train_accuracy",
            "val_accuracy",
            "val_accuracy_concat",
            "val_accuracy_heads",
            "val_worst_group_accuracy",
            "val_dob",
            "seconds",
            "train_seconds",
            "train_images_per_second",
            "rss_mb",
            "peak_rss_mb",
            "skipped_images",
        ]
        .map(String::from),
    );
    let rows = history.iter().map(|m| {
        let mut row = vec![
            m.epoch.to_string(),
            m.lr_backbone.to_string(),
            m.lr_new.to_string(),
        ];
        row.extend(m.losses.iter().map(|(_, value)| value.to_string()));
        row.extend([
            m.train_accuracy.to_string(),
            m.val_accuracy.to_string(),
            m.val_accuracy_concat.to_string(),
            m.val_accuracy_heads.to_string(),
            m.val_worst_group_accuracy.to_string(),
            m.val_dob.to_string(),
            format!("{:.3}", m.seconds),
            format!("{:.3}", m.train_seconds),
            format!("{:.2}", m.train_images_per_second),
            format!("{:.1}", m.rss_mb),
            format!("{:.1}", m.peak_rss_mb),
            m.skipped_images.to_string(),
        ]);
        row
    });
    write_csv(&run.join("metrics.csv"), &header, rows)?;
    let groups = history.iter().flat_map(|m| {
        m.val_groups
            .iter()
            .map(|(group, accuracy)| [m.epoch.to_string(), group.clone(), accuracy.to_string()])
    });
    write_csv(
        &run.join("val_groups.csv"),
        &["epoch", "group", "accuracy"].map(String::from),
        groups,
    )
}

/// Current and peak resident memory of this process in MB (Linux; zeros elsewhere).
pub(crate) fn memory_mb() -> (f64, f64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0.0, 0.0);
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
