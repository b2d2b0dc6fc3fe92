//! Subgroup fairness audit of classifier predictions.
//!
//! `fineface-fair` turns a table of predictions with sensitive attributes into a
//! [`SubgroupReport`]: per-group counts and rates, the fair face-attribute papers' Degree of
//! Bias (DoB), Skewed Error Ratio (SER) and max/min accuracy ratio, and fairlearn's
//! demographic parity, equal opportunity and equalized odds, with which it agrees to 1e-9
//! (fairlearn 0.15). Undefined numbers are `None` (JSON `null`), never a silent 0. It depends
//! on no ML framework: any model's predictions can be audited.
//!
//! ```
//! use fineface_fair::{audit, AuditOptions, PredictionTable};
//!
//! let mut table = PredictionTable::new(["race", "gender"])?;
//! table.push("Male", "Male", &["Black", "Male"])?;
//! table.push("Female", "Male", &["Black", "Female"])?;
//! table.push("Female", "Female", &["White", "Female"])?;
//! let options = AuditOptions { pos_label: "Male".into(), ..Default::default() };
//! let report = audit(&table, &options)?;
//! assert_eq!(report.aggregates.worst_groups, ["Black|Female"]);
//! assert_eq!(report.empty_intersections, ["White|Male"]);
//! println!("{}", report.to_markdown());
//! # Ok::<(), fineface_fair::FairError>(())
//! ```
//!
//! Files: [`read_predictions_csv`] reads `y_true,y_pred` plus either one column per sensitive
//! feature or a compound `group` column (`Black|Female`); other columns are ignored. The
//! definitions and the JSON schema are in the crate README.

mod aggregate;
mod bootstrap;
mod confusion;
mod core_report;
mod error;
pub mod extended_float;
mod group;
mod reader;
mod render;
mod report;
mod table;

pub use aggregate::{Aggregates, ParityAggregates, StrictRateAggregates};
pub use bootstrap::{BootstrapConfig, BootstrapReport, Interval};
pub use error::{FairError, Result};
/// Why a label or group cell holds no value (in [`FairError::NotALabel`]).
pub use fineface_text::NotALabel;
pub use group::{ClassRates, GroupMetrics};
pub use reader::{
    CsvSpec, MISSING_SPELLINGS, SensitiveColumns, is_missing, read_predictions,
    read_predictions_csv,
};
/// User text in markdown: line breaks and a cell's `|` that would break a line or a table.
pub use render::{markdown_cell, markdown_inline};
pub use report::{
    AuditOptions, ClassReport, FeatureReport, Grouping, Meta, OverallMetrics, SCHEMA_VERSION,
    SkippedItem, SubgroupReport, audit,
};
pub use table::{GROUP_SEPARATOR, PredictionTable, canonical_label};

/// The README's examples, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
