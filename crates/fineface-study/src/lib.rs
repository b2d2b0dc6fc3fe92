//! Seed studies: every method trained over several seeds (paired: a seed fixes
//! initialisation, splits, data order and augmentation), evaluated on the test split and
//! across datasets ([`RunFolder::evaluate`](fineface_train::RunFolder::evaluate)), and
//! summarised with Student-t intervals, paired differences and a verdict (`study.json`,
//! `study.md`, `study.svg`, and the paper's two tables in `paper-tables.md`).
//!
//! [`run_study`] resumes where a study stopped: finished runs are kept, unfinished ones
//! continue from their newest intact checkpoint.

mod error;
mod paper;
mod plan;
mod plot;
mod render;
mod stats;
#[allow(clippy::module_inception)] // Burn's layout: the core type in the file named after it.
mod study;
mod summary;

pub use error::{Result, StudyError};
pub use paper::{PaperResults, PaperRow, paper_tables};
pub use plan::{
    CrossEval, RecordedMethod, StudyMethod, StudyPlan, StudyRecord, StudyRequest, next_study_dir,
};
pub use plot::write_study_svg;
pub use render::study_markdown;
pub use stats::{Interval95, PairedDifference, mean_ci95, sd_ddof1, t_975};
pub use study::{StudyOptions, StudyOutcome, run_study};
pub use summary::{
    EvalSummary, GroupSpread, MethodSummary, Metric, MetricIntervals, MetricValues, PairedSummary,
    RunMetrics, SeedSummary, StudyRun, StudySummary,
};
