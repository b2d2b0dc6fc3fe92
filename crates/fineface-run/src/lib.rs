//! The FineFACE-rs run folder: where each file lives and what it holds, written by the
//! trainer (`fineface-train`) and read by the tools (`cargo xtask report`, `compare`, seed
//! studies) through the same types. No ML framework: a tool reads a run without Burn.
//!
//! - [`RunFiles`] and [`SplitFiles`]: the path of every file of a run folder.
//! - [`RunInfo`], [`RunSummary`], [`SplitSummary`]: its JSON files; [`Method`] and [`Loss`]:
//!   the names they hold.
//! - [`EpochMetrics`] with [`write_history`] and [`read_history`]: `metrics.csv` and
//!   `val_groups.csv`, both through one list of [`Column`]s.
//! - [`FinishedRun`]: a finished run read back whole.
//! - [`write_atomic`], [`write_json`], [`write_csv`]: every file is written atomically;
//!   [`read_json`] reads a JSON file back into its type.
//!
//! ```no_run
//! use fineface_run::FinishedRun;
//!
//! let run = FinishedRun::open("runs/synthface/run-001".as_ref())?;
//! println!("{} on {}: test accuracy {:.3}", run.info.method, run.info.dataset,
//!     run.test.summary.accuracy);
//! for epoch in &run.history.epochs {
//!     println!("epoch {}: val DoB {:.4}", epoch.epoch, epoch.val_dob);
//! }
//! # Ok::<(), fineface_run::RunError>(())
//! ```

mod atomic;
mod error;
mod finished;
mod history;
mod layout;
mod loss;
mod method;
mod summary;

pub use atomic::{read_json, write_atomic, write_csv, write_json};
pub use error::{Result, RunError};
pub use finished::{EvaluatedSplit, FinishedRun};
pub use history::{Column, EpochMetrics, History, read_history, write_history};
pub use layout::{EVAL_PREFIX, ReportFiles, RunFiles, SplitFiles};
pub use loss::Loss;
pub use method::Method;
pub use summary::{RunInfo, RunSummary, SplitSummary};
