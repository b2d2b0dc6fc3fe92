//! A finished run folder read back whole, for reports and comparisons.

use std::path::Path;

use fineface_fair::SubgroupReport;

use crate::atomic::read_json;
use crate::error::{Result, RunError};
use crate::history::{EpochMetrics, History, read_history};
use crate::layout::{RunFiles, SplitFiles};
use crate::summary::{RunInfo, SplitSummary};

/// A run folder whose training finished: what it trained, each epoch, the selected epoch and
/// the test split's numbers.
#[derive(Debug, Clone)]
pub struct FinishedRun {
    /// Its files.
    pub files: RunFiles,
    /// `run.json`.
    pub info: RunInfo,
    /// `metrics.csv` and `val_groups.csv`.
    pub history: History,
    /// `best.json`: the epoch selected on validation (absent when training stopped before
    /// an epoch was selected).
    pub best: Option<EpochMetrics>,
    /// `test/`.
    pub test: EvaluatedSplit,
}

/// One evaluated split of a run: `test/` or `eval-<name>/`.
#[derive(Debug, Clone)]
pub struct EvaluatedSplit {
    /// The folder's name (`test`, `eval-utkface-all`).
    pub name: String,
    /// `summary.json`.
    pub summary: SplitSummary,
    /// `fairness.json`.
    pub fairness: SubgroupReport,
}

impl FinishedRun {
    /// Reads the run folder `dir`.
    ///
    /// # Errors
    /// [`RunError::Unfinished`] when `dir` lacks `run.json` or `test/summary.json` (not a run
    /// folder, or one still training); [`RunError::Io`], [`RunError::Json`] or
    /// [`RunError::Csv`] naming a file that cannot be read.
    pub fn open(dir: &Path) -> Result<Self> {
        let files = RunFiles::new(dir);
        for needed in [files.info(), files.test().summary()] {
            if !needed.is_file() {
                return Err(RunError::Unfinished {
                    dir: dir.to_owned(),
                    missing: needed,
                });
            }
        }
        let best_path = files.best_epoch();
        let best = if best_path.is_file() {
            Some(read_json(&best_path)?)
        } else {
            None
        };
        Ok(Self {
            info: read_json(&files.info())?,
            history: read_history(&files.metrics(), &files.val_groups())?,
            best,
            test: EvaluatedSplit::read("test", &files.test())?,
            files,
        })
    }

    /// Every finished `eval-*` evaluation of the run, by folder name.
    ///
    /// # Errors
    /// As [`FinishedRun::open`], for the evaluations' files.
    pub fn evaluations(&self) -> Result<Vec<EvaluatedSplit>> {
        self.files
            .evaluations()?
            .into_iter()
            .map(|(name, files)| EvaluatedSplit::read(&name, &files))
            .collect()
    }
}

impl EvaluatedSplit {
    /// Reads `summary.json` and `fairness.json` of `files`.
    ///
    /// # Errors
    /// [`RunError::Io`] or [`RunError::Json`] naming the file.
    pub fn read(name: &str, files: &SplitFiles) -> Result<Self> {
        Ok(Self {
            name: name.to_owned(),
            summary: read_json(&files.summary())?,
            fairness: read_json(&files.fairness())?,
        })
    }
}
