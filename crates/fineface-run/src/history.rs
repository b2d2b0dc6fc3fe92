//! Per-epoch numbers and the two files that hold them: `metrics.csv` (one row per epoch)
//! and `val_groups.csv` (epoch, group, accuracy). Both are written from and read back into
//! [`EpochMetrics`] through one list of [`Column`]s.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_csv;
use crate::error::{Result, RunError};
use crate::loss::Loss;

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
    pub losses: Vec<(Loss, f64)>,
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
    /// The worst subgroup(s), ` / `-joined group names.
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

/// A run's history as `metrics.csv` and `val_groups.csv` hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The columns of `metrics.csv`, in file order (files of earlier versions lack some).
    pub columns: Vec<Column>,
    /// One entry per epoch, with its validation groups.
    pub epochs: Vec<EpochMetrics>,
}

/// One column of `metrics.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// `epoch`.
    Epoch,
    /// `lr_backbone`.
    LrBackbone,
    /// `lr_new`.
    LrNew,
    /// `loss_<name>`, one per loss of the iteration.
    Loss(Loss),
    /// `train_accuracy`.
    TrainAccuracy,
    /// `val_accuracy`.
    ValAccuracy,
    /// `val_accuracy_concat`.
    ValAccuracyConcat,
    /// `val_accuracy_heads`.
    ValAccuracyHeads,
    /// `val_worst_group_accuracy`.
    ValWorstGroupAccuracy,
    /// `val_worst_group` (text; absent in files written before it was).
    ValWorstGroup,
    /// `val_dob`.
    ValDob,
    /// `seconds`.
    Seconds,
    /// `train_seconds` (absent in older files).
    TrainSeconds,
    /// `train_images_per_second` (absent in older files).
    TrainImagesPerSecond,
    /// `rss_mb`.
    RssMb,
    /// `peak_rss_mb`.
    PeakRssMb,
    /// `skipped_images`.
    SkippedImages,
}

/// The columns after the losses, in file order (`val_worst_group`, the newest, last: a
/// reader of columns by position keeps working).
const AFTER_LOSSES: [Column; 13] = [
    Column::TrainAccuracy,
    Column::ValAccuracy,
    Column::ValAccuracyConcat,
    Column::ValAccuracyHeads,
    Column::ValWorstGroupAccuracy,
    Column::ValDob,
    Column::Seconds,
    Column::TrainSeconds,
    Column::TrainImagesPerSecond,
    Column::RssMb,
    Column::PeakRssMb,
    Column::SkippedImages,
    Column::ValWorstGroup,
];

impl Column {
    /// The columns of a history whose epochs report `losses`, in file order.
    pub fn all(losses: &[Loss]) -> Vec<Self> {
        let mut columns = vec![Self::Epoch, Self::LrBackbone, Self::LrNew];
        columns.extend(losses.iter().map(|&l| Self::Loss(l)));
        columns.extend(AFTER_LOSSES);
        columns
    }

    /// Its header in `metrics.csv`.
    pub fn name(self) -> String {
        let name = match self {
            Self::Loss(loss) => return format!("loss_{loss}"),
            Self::Epoch => "epoch",
            Self::LrBackbone => "lr_backbone",
            Self::LrNew => "lr_new",
            Self::TrainAccuracy => "train_accuracy",
            Self::ValAccuracy => "val_accuracy",
            Self::ValAccuracyConcat => "val_accuracy_concat",
            Self::ValAccuracyHeads => "val_accuracy_heads",
            Self::ValWorstGroupAccuracy => "val_worst_group_accuracy",
            Self::ValWorstGroup => "val_worst_group",
            Self::ValDob => "val_dob",
            Self::Seconds => "seconds",
            Self::TrainSeconds => "train_seconds",
            Self::TrainImagesPerSecond => "train_images_per_second",
            Self::RssMb => "rss_mb",
            Self::PeakRssMb => "peak_rss_mb",
            Self::SkippedImages => "skipped_images",
        };
        name.to_owned()
    }

    /// The column headed `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        if let Some(loss) = name.strip_prefix("loss_") {
            return Loss::from_name(loss).map(Self::Loss);
        }
        [Self::Epoch, Self::LrBackbone, Self::LrNew]
            .into_iter()
            .chain(AFTER_LOSSES)
            .find(|c| c.name() == name)
    }

    /// Whether files written by earlier versions may lack it.
    fn optional(self) -> bool {
        matches!(
            self,
            Self::ValWorstGroup | Self::TrainSeconds | Self::TrainImagesPerSecond
        )
    }

    /// Its number in `m`; `None` for the one text column, [`Column::ValWorstGroup`], and
    /// for a loss the epoch does not report.
    pub fn value(self, m: &EpochMetrics) -> Option<f64> {
        Some(match self {
            Self::Epoch => m.epoch as f64,
            Self::LrBackbone => m.lr_backbone,
            Self::LrNew => m.lr_new,
            Self::Loss(loss) => return m.losses.iter().find(|(l, _)| *l == loss).map(|p| p.1),
            Self::TrainAccuracy => m.train_accuracy,
            Self::ValAccuracy => m.val_accuracy,
            Self::ValAccuracyConcat => m.val_accuracy_concat,
            Self::ValAccuracyHeads => m.val_accuracy_heads,
            Self::ValWorstGroupAccuracy => m.val_worst_group_accuracy,
            Self::ValWorstGroup => return None,
            Self::ValDob => m.val_dob,
            Self::Seconds => m.seconds,
            Self::TrainSeconds => m.train_seconds,
            Self::TrainImagesPerSecond => m.train_images_per_second,
            Self::RssMb => m.rss_mb,
            Self::PeakRssMb => m.peak_rss_mb,
            Self::SkippedImages => m.skipped_images as f64,
        })
    }

    /// Its cell in `m`'s row: times to the millisecond, memory to 0.1 MB, rates and
    /// accuracies as they are.
    fn cell(self, m: &EpochMetrics) -> String {
        match self {
            Self::ValWorstGroup => m.val_worst_group.clone(),
            Self::Epoch => m.epoch.to_string(),
            Self::SkippedImages => m.skipped_images.to_string(),
            Self::Seconds => format!("{:.3}", m.seconds),
            Self::TrainSeconds => format!("{:.3}", m.train_seconds),
            Self::TrainImagesPerSecond => format!("{:.2}", m.train_images_per_second),
            Self::RssMb => format!("{:.1}", m.rss_mb),
            Self::PeakRssMb => format!("{:.1}", m.peak_rss_mb),
            _ => self
                .value(m)
                .expect("write_history checks that every epoch reports its columns' losses")
                .to_string(),
        }
    }

    /// Sets its field of `m` from `cell`.
    fn set(self, m: &mut EpochMetrics, cell: &str) -> std::result::Result<(), String> {
        let number = || {
            cell.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{cell}` in {} is not a finite number", self.name()))
        };
        let count = || {
            cell.parse::<usize>()
                .map_err(|_| format!("`{cell}` in {} is not a count", self.name()))
        };
        match self {
            Self::Epoch => m.epoch = count()?,
            Self::SkippedImages => m.skipped_images = count()?,
            Self::ValWorstGroup => cell.clone_into(&mut m.val_worst_group),
            Self::Loss(loss) => m.losses.push((loss, number()?)),
            Self::LrBackbone => m.lr_backbone = number()?,
            Self::LrNew => m.lr_new = number()?,
            Self::TrainAccuracy => m.train_accuracy = number()?,
            Self::ValAccuracy => m.val_accuracy = number()?,
            Self::ValAccuracyConcat => m.val_accuracy_concat = number()?,
            Self::ValAccuracyHeads => m.val_accuracy_heads = number()?,
            Self::ValWorstGroupAccuracy => m.val_worst_group_accuracy = number()?,
            Self::ValDob => m.val_dob = number()?,
            Self::Seconds => m.seconds = number()?,
            Self::TrainSeconds => m.train_seconds = number()?,
            Self::TrainImagesPerSecond => m.train_images_per_second = number()?,
            Self::RssMb => m.rss_mb = number()?,
            Self::PeakRssMb => m.peak_rss_mb = number()?,
        }
        Ok(())
    }
}

/// Writes `metrics.csv` (one row per epoch) and `val_groups.csv` (epoch, group, accuracy)
/// at the given paths, atomically.
///
/// # Errors
/// [`RunError::Io`] naming the file that could not be written; [`RunError::Csv`] for an
/// epoch whose losses are not the first epoch's (its row would not fit the header).
pub fn write_history(metrics: &Path, val_groups: &Path, history: &[EpochMetrics]) -> Result<()> {
    let names = |m: &EpochMetrics| m.losses.iter().map(|(l, _)| *l).collect::<Vec<Loss>>();
    let losses = history.first().map(names).unwrap_or_default();
    if let Some((row, m)) = history.iter().enumerate().find(|(_, m)| names(m) != losses) {
        return Err(RunError::csv(
            metrics,
            row as u64 + 2,
            format!(
                "epoch {} reports the losses {:?}, the first epoch {losses:?}",
                m.epoch,
                names(m)
            ),
        ));
    }
    let columns = Column::all(&losses);
    let header: Vec<String> = columns.iter().map(|c| c.name()).collect();
    let rows = history
        .iter()
        .map(|m| columns.iter().map(|c| c.cell(m)).collect::<Vec<_>>());
    write_csv(metrics, &header, rows)?;
    let groups = history.iter().flat_map(|m| {
        m.val_groups
            .iter()
            .map(|(group, accuracy)| [m.epoch.to_string(), group.clone(), accuracy.to_string()])
    });
    write_csv(
        val_groups,
        &["epoch", "group", "accuracy"].map(String::from),
        groups,
    )
}

/// Reads `metrics.csv` and `val_groups.csv` back into the history [`write_history`] wrote.
/// A run folder without `val_groups.csv` (copied without it) reads with no groups, and a
/// warning says so.
///
/// # Errors
/// [`RunError::Io`] for a file that cannot be read; [`RunError::Csv`] naming the file and
/// line of an unknown, repeated or missing column, a cell that is not a number, a row of
/// the wrong length, or a group row of an epoch `metrics.csv` does not have.
pub fn read_history(metrics: &Path, val_groups: &Path) -> Result<History> {
    let (columns, mut history) = read_metrics(metrics)?;
    if history.is_empty() {
        return Err(RunError::csv(metrics, 2, "no epochs: the header alone"));
    }
    if !val_groups.exists() {
        tracing::warn!(
            "{}: not found, the history is read without validation groups",
            val_groups.display()
        );
        return Ok(History {
            columns,
            epochs: history,
        });
    }
    for (line, [epoch, group, accuracy]) in csv_rows(val_groups, &["epoch", "group", "accuracy"])? {
        let at = |message: String| RunError::csv(val_groups, line, message);
        let epoch: usize = epoch
            .parse()
            .map_err(|_| at(format!("`{epoch}` is not an epoch")))?;
        let accuracy: f64 = accuracy
            .parse()
            .map_err(|_| at(format!("`{accuracy}` is not an accuracy")))?;
        if !accuracy.is_finite() {
            return Err(at(format!("`{accuracy}` is not an accuracy")));
        }
        // Epochs run 1, 2, ... (read_metrics checks): epoch e is entry e - 1.
        let Some(m) = epoch.checked_sub(1).and_then(|i| history.get_mut(i)) else {
            return Err(at(format!("epoch {epoch} is not in {}", metrics.display())));
        };
        if m.val_groups.insert(group.clone(), accuracy).is_some() {
            return Err(at(format!(
                "group `{group}` of epoch {epoch} appears twice"
            )));
        }
    }
    Ok(History {
        columns,
        epochs: history,
    })
}

/// The epochs of `metrics.csv`, without their groups.
fn read_metrics(path: &Path) -> Result<(Vec<Column>, Vec<EpochMetrics>)> {
    let mut reader = csv_reader(path)?;
    let header = reader
        .headers()
        .map_err(|e| RunError::csv(path, 1, e.to_string()))?
        .clone();
    let columns = header_columns(path, &header)?;
    let mut history = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        let mut m = EpochMetrics::empty();
        for (column, cell) in columns.iter().zip(record.iter()) {
            column
                .set(&mut m, cell)
                .map_err(|message| RunError::csv(path, line, message))?;
        }
        let expected = history.len() + 1;
        if m.epoch != expected {
            return Err(RunError::csv(
                path,
                line,
                format!("epoch {} where epoch {expected} was due", m.epoch),
            ));
        }
        history.push(m);
    }
    Ok((columns, history))
}

/// The columns of a `metrics.csv` header: each known, none twice, none missing, and the
/// losses of one method.
fn header_columns(path: &Path, header: &csv::StringRecord) -> Result<Vec<Column>> {
    if header.iter().all(str::is_empty) {
        return Err(RunError::csv(path, 1, "no header: the file is empty"));
    }
    let mut columns: Vec<Column> = Vec::new();
    for name in header {
        let column = Column::from_name(name).ok_or_else(|| {
            let message = if name.is_empty() {
                "an empty column name (a trailing comma?)".to_owned()
            } else {
                format!("unknown column `{name}`")
            };
            RunError::csv(path, 1, message)
        })?;
        if columns.contains(&column) {
            return Err(RunError::csv(
                path,
                1,
                format!("column `{name}` appears twice"),
            ));
        }
        columns.push(column);
    }
    if let Some(missing) = Column::all(&[])
        .into_iter()
        .find(|c| !c.optional() && !columns.contains(c))
    {
        return Err(RunError::csv(path, 1, format!("no `{missing}` column")));
    }
    let losses: Vec<Loss> = columns
        .iter()
        .filter_map(|c| match c {
            Column::Loss(loss) => Some(*loss),
            _ => None,
        })
        .collect();
    if losses != Loss::FINEFACE && losses != Loss::BASELINE {
        return Err(RunError::csv(
            path,
            1,
            format!(
                "the loss columns {losses:?} are neither FineFACE's {:?} nor the baseline's {:?}",
                Loss::FINEFACE,
                Loss::BASELINE
            ),
        ));
    }
    Ok(columns)
}

/// The rows of a CSV whose header must be `header`, with their 1-based lines.
fn csv_rows<const N: usize>(path: &Path, header: &[&str; N]) -> Result<Vec<(u64, [String; N])>> {
    let mut reader = csv_reader(path)?;
    let found = reader
        .headers()
        .map_err(|e| RunError::csv(path, 1, e.to_string()))?;
    if found.iter().ne(header.iter().copied()) {
        return Err(RunError::csv(
            path,
            1,
            format!("the header is not `{}`", header.join(",")),
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        let line = record.position().map_or(0, |p| p.line());
        let cells = std::array::from_fn(|i| record[i].to_owned());
        rows.push((line, cells));
    }
    Ok(rows)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|e| RunError::io(path, e))?;
    Ok(csv::ReaderBuilder::new().from_reader(file))
}

/// A CSV error at its line (a row of the wrong length, bytes that are not UTF-8).
fn csv_error(path: &Path, error: &csv::Error) -> RunError {
    let line = error.position().map_or(0, csv::Position::line);
    RunError::csv(path, line, error.to_string())
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl EpochMetrics {
    /// An epoch with every number zero, filled in column by column.
    fn empty() -> Self {
        Self {
            epoch: 0,
            lr_backbone: 0.0,
            lr_new: 0.0,
            losses: Vec::new(),
            train_accuracy: 0.0,
            val_accuracy: 0.0,
            val_accuracy_concat: 0.0,
            val_accuracy_heads: 0.0,
            val_worst_group_accuracy: 0.0,
            val_worst_group: String::new(),
            val_dob: 0.0,
            val_groups: BTreeMap::new(),
            seconds: 0.0,
            train_seconds: 0.0,
            train_images_per_second: 0.0,
            rss_mb: 0.0,
            peak_rss_mb: 0.0,
            skipped_images: 0,
        }
    }
}
