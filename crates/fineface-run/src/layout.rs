//! Where each file of a run folder lives: one name per file, for the trainer that writes
//! them and every tool that reads them.
//!
//! ```text
//! runs/<experiment>/run-NNN/
//!   config.toml       the resolved experiment config
//!   run.json          RunInfo: classes, groups, splits
//!   trained-on.tsv    the train and val images by size and first bytes
//!   train.log         the log (train-node<R>.log on node R > 0)
//!   metrics.csv       one row per epoch (History)
//!   val_groups.csv    epoch, group, validation accuracy
//!   best.mpk          the weights selected on validation
//!   best.json         that epoch's EpochMetrics
//!   checkpoints/      resumable epochs
//!   crops.png         attention crops of validation images (FineFACE)
//!   test/             predictions.csv, fairness.json, fairness.md, summary.json
//!   eval-<name>/      the same four files for another split or dataset
//!   summary.json      RunSummary, written last
//!   report.md         cargo xtask report, with curves.svg and groups.svg
//! ```
//!
//! Inside `checkpoints/` the layout is the trainer's own (`epoch-NNN/` with Burn records,
//! `latest`).

use std::path::{Path, PathBuf};

use crate::error::{Result, RunError};

/// The prefix of an evaluation folder's name (`eval-utkface-all`).
pub const EVAL_PREFIX: &str = "eval-";

/// The files of one run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFiles {
    dir: PathBuf,
}

impl RunFiles {
    /// The run folder `dir` (nothing is read).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.toml`: the resolved experiment config.
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    /// `run.json`: [`RunInfo`](crate::RunInfo).
    pub fn info(&self) -> PathBuf {
        self.dir.join(crate::RunInfo::FILE_NAME)
    }

    /// `summary.json`: [`RunSummary`](crate::RunSummary), the last file a run writes.
    pub fn summary(&self) -> PathBuf {
        self.dir.join(crate::RunSummary::FILE_NAME)
    }

    /// `metrics.csv`: one row per epoch.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.csv")
    }

    /// `val_groups.csv`: each epoch's validation accuracy per group.
    pub fn val_groups(&self) -> PathBuf {
        self.dir.join("val_groups.csv")
    }

    /// `best.mpk`: the weights selected on validation.
    pub fn best_weights(&self) -> PathBuf {
        self.dir.join("best.mpk")
    }

    /// `best.json`: the selected epoch's [`EpochMetrics`](crate::EpochMetrics).
    pub fn best_epoch(&self) -> PathBuf {
        self.dir.join("best.json")
    }

    /// `checkpoints/`: one folder per saved epoch.
    pub fn checkpoints(&self) -> PathBuf {
        self.dir.join("checkpoints")
    }

    /// `train.log`: the log of node 0 (the only node of most runs); `train-node<R>.log` for
    /// node `R` > 0 of a run over several machines.
    pub fn log(&self, node_rank: u32) -> PathBuf {
        match node_rank {
            0 => self.dir.join("train.log"),
            rank => self.dir.join(format!("train-node{rank}.log")),
        }
    }

    /// Whether a file named `name` in a run folder is a node's log ([`RunFiles::log`]):
    /// `train.log` or `train-node<R>.log`. Logs are written before a run starts, so a folder
    /// that holds only logs holds no run yet.
    pub fn is_log(name: &str) -> bool {
        name == "train.log"
            || name
                .strip_prefix("train-node")
                .and_then(|rest| rest.strip_suffix(".log"))
                .is_some_and(|rank| !rank.is_empty() && rank.bytes().all(|b| b.is_ascii_digit()))
    }

    /// `trained-on.tsv`: what the run trained and selected on, to tell an evaluation that
    /// scores those images again.
    pub fn trained_on(&self) -> PathBuf {
        self.dir.join("trained-on.tsv")
    }

    /// `report.md`, with its charts `curves.svg` and `groups.svg` (`cargo xtask report`).
    pub fn report(&self) -> ReportFiles {
        ReportFiles {
            markdown: self.dir.join("report.md"),
            curves: self.dir.join("curves.svg"),
            groups: self.dir.join("groups.svg"),
        }
    }

    /// `crops.png`: attention crops of validation images.
    pub fn crops(&self) -> PathBuf {
        self.dir.join("crops.png")
    }

    /// `test/`: the test split under the selected weights.
    pub fn test(&self) -> SplitFiles {
        SplitFiles::new(self.dir.join("test"))
    }

    /// `eval-<name>/`: another split or dataset under the selected weights.
    pub fn evaluation(&self, name: &str) -> SplitFiles {
        SplitFiles::new(self.dir.join(format!("{EVAL_PREFIX}{name}")))
    }

    /// Every `eval-*` folder whose `summary.json` is written (the last file of an
    /// evaluation), by folder name; unfinished ones are logged and left out.
    ///
    /// # Errors
    /// [`RunError::Io`] when the run folder cannot be listed.
    pub fn evaluations(&self) -> Result<Vec<(String, SplitFiles)>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| RunError::io(&self.dir, e))?;
        let mut found = Vec::new();
        for entry in entries {
            let dir = entry.map_err(|e| RunError::io(&self.dir, e))?.path();
            let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.starts_with(EVAL_PREFIX) || !dir.is_dir() {
                continue;
            }
            let name = name.to_owned();
            let files = SplitFiles::new(dir);
            if files.summary().is_file() {
                found.push((name, files));
            } else {
                tracing::warn!(
                    "{}: unfinished evaluation (no summary.json), left out",
                    files.dir().display()
                );
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

/// The report `cargo xtask report` writes into a run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFiles {
    /// `report.md`.
    pub markdown: PathBuf,
    /// `curves.svg`: losses and accuracies per epoch.
    pub curves: PathBuf,
    /// `groups.svg`: the test accuracy per group.
    pub groups: PathBuf,
}

/// The files of one evaluated split: `test/` or `eval-<name>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFiles {
    dir: PathBuf,
}

impl SplitFiles {
    /// The split folder `dir` (nothing is read).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `predictions.csv`: one row per scored image.
    pub fn predictions(&self) -> PathBuf {
        self.dir.join("predictions.csv")
    }

    /// `fairness.json`: the [`SubgroupReport`](fineface_fair::SubgroupReport).
    pub fn fairness(&self) -> PathBuf {
        self.dir.join("fairness.json")
    }

    /// `fairness.md`: the report as markdown.
    pub fn fairness_markdown(&self) -> PathBuf {
        self.dir.join("fairness.md")
    }

    /// `summary.json`: [`SplitSummary`](crate::SplitSummary), the split's last file.
    pub fn summary(&self) -> PathBuf {
        self.dir.join(crate::SplitSummary::FILE_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::RunFiles;

    #[test]
    fn every_nodes_log_is_a_log_and_nothing_else_is() {
        let run = RunFiles::new("runs/x");
        for rank in [0, 1, 12] {
            let path = run.log(rank);
            let name = path.file_name().unwrap().to_string_lossy();
            assert!(RunFiles::is_log(&name), "{name}");
        }
        for name in [
            "train-node.log",
            "train-node1a.log",
            "train-node-1.log",
            "train.log.1",
            "train-node1.log.tmp",
            "config.toml",
            "metrics.csv",
            "Train.log",
        ] {
            assert!(!RunFiles::is_log(name), "{name}");
        }
    }
}
