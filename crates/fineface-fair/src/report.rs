//! The fairness report and the function that computes it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::aggregate::{Aggregates, ParityAggregates};
use crate::bootstrap::{BootstrapConfig, BootstrapReport};
use crate::confusion::{CellConfusions, Confusion};
use crate::core_report::CoreReport;
use crate::error::{FairError, Result};
use crate::group::{ClassRates, GroupMetrics};
use crate::table::PredictionTable;

/// Version of the JSON layout written by [`SubgroupReport`].
pub const SCHEMA_VERSION: u32 = 1;

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditOptions {
    /// The positive label of the binary metrics (selection rate, TPR, FPR, ...).
    pub pos_label: String,
    /// Seeded bootstrap confidence intervals, if wanted.
    pub bootstrap: Option<BootstrapConfig>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            pos_label: "1".to_owned(),
            bootstrap: None,
        }
    }
}

/// Per-subgroup metrics and their aggregates, as described in `docs/fairness.md`.
///
/// Serialises to the schema's JSON (`null` = undefined, `"inf"` = infinity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubgroupReport {
    /// Version of this layout ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Where the numbers come from.
    pub meta: Meta,
    /// Metrics over all rows pooled (not the mean of the groups).
    pub overall: OverallMetrics,
    /// Metrics per intersectional group, keyed by the `|`-joined values.
    pub groups: BTreeMap<String, GroupMetrics>,
    /// Aggregates over the intersectional groups.
    pub aggregates: Aggregates,
    /// For each sensitive feature alone, the report of its marginal groups.
    pub by_feature: BTreeMap<String, FeatureReport>,
    /// Combinations of observed values that never occur together (no rows), sorted.
    pub empty_intersections: Vec<String>,
    /// For every class, the one-vs-rest rates with that class as the positive label.
    pub per_class: BTreeMap<String, ClassReport>,
    /// Confidence intervals, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<BootstrapReport>,
}

/// Provenance of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The predictions file (or another name of the input), when known.
    pub input: Option<String>,
    /// Number of prediction rows.
    pub n_rows: u64,
    /// Rows of the input left out because a sensitive value was missing (`--drop-missing`).
    #[serde(default)]
    pub n_dropped_missing: u64,
    /// Items of the evaluated data that were never scored (an undecodable image), with the
    /// reason; `n_rows` counts only the scored ones. Empty when the caller left none out.
    #[serde(default)]
    pub skipped: Vec<SkippedItem>,
    /// The positive label used for the binary metrics.
    pub pos_label: String,
    /// How groups are formed.
    pub grouping: Grouping,
    /// Versions of the software that computed the report.
    pub versions: BTreeMap<String, String>,
}

/// An item of the evaluated data left out before scoring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// The file (as the dataset lists it).
    pub file: String,
    /// Why it was left out (the decoder's message).
    pub reason: String,
}

/// How the report's groups are formed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grouping {
    /// The sensitive features, in the order their values are joined in group names.
    pub features: Vec<String>,
    /// Separator of the values in a group name.
    pub separator: String,
}

/// The pooled metrics plus the label set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverallMetrics {
    /// Metrics of all rows.
    #[serde(flatten)]
    pub metrics: GroupMetrics,
    /// Number of distinct labels in `y_true` and `y_pred`.
    pub n_classes: usize,
    /// The distinct labels, sorted.
    pub classes: Vec<String>,
}

/// Groups and aggregates of one sensitive feature's marginal groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureReport {
    /// Metrics per value of the feature.
    pub groups: BTreeMap<String, GroupMetrics>,
    /// Aggregates over those groups.
    pub aggregates: Aggregates,
}

/// One class treated as the positive label against all others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Rates over all rows.
    pub overall: ClassRates,
    /// Rates per intersectional group.
    pub groups: BTreeMap<String, ClassRates>,
    /// Parity aggregates over the groups.
    pub aggregates: ParityAggregates,
}

/// Computes the fairness report of `table`.
///
/// ```
/// use fineface_fair::{audit, AuditOptions, PredictionTable};
///
/// let mut table = PredictionTable::new(["gender"])?;
/// for (t, p, g) in [("1", "1", "F"), ("0", "1", "F"), ("1", "1", "M"), ("0", "0", "M")] {
///     table.push(t, p, &[g])?;
/// }
/// let report = audit(&table, &AuditOptions::default())?;
/// assert_eq!(report.groups["F"].accuracy, 0.5);
/// assert_eq!(report.aggregates.ser, Some(f64::INFINITY)); // M makes no error
/// # Ok::<(), fineface_fair::FairError>(())
/// ```
pub fn audit(table: &PredictionTable, options: &AuditOptions) -> Result<SubgroupReport> {
    if table.is_empty() {
        return Err(FairError::NoRows {
            source_name: "<table>".to_owned(),
        });
    }
    table.check_labels()?;
    let counts = CellConfusions::count(table);
    // The positive label is compared as the labels are: `1.0` finds class `1`.
    let (pos_label, _) = crate::table::canonical_label(&options.pos_label);
    let pos = counts
        .classes
        .iter()
        .position(|c| *c == pos_label)
        .ok_or_else(|| FairError::UnknownPosLabel {
            pos_label: options.pos_label.clone(),
            classes: counts.classes.join(", "),
        })?;
    let cell_names: Vec<String> = (0..table.n_cells()).map(|c| table.cell_name(c)).collect();
    let core = CoreReport::compute(&counts.cells, &cell_names, pos);
    let by_feature = by_feature(table, &counts, pos);
    let per_class = per_class(&counts, &core, &cell_names);
    let bootstrap = options
        .bootstrap
        .as_ref()
        .map(|config| BootstrapReport::compute(config, &counts.cells, &cell_names, pos))
        .transpose()?;
    Ok(SubgroupReport {
        schema_version: SCHEMA_VERSION,
        meta: Meta::of(table, options),
        overall: OverallMetrics {
            metrics: core.overall,
            n_classes: counts.classes.len(),
            classes: counts.classes.clone(),
        },
        groups: core.groups.into_iter().collect(),
        aggregates: core.aggregates,
        by_feature,
        empty_intersections: table.empty_intersections(),
        per_class,
        bootstrap,
    })
}

/// Each feature's marginal groups (race alone, gender alone) and their aggregates.
fn by_feature(
    table: &PredictionTable,
    counts: &CellConfusions,
    pos: usize,
) -> BTreeMap<String, FeatureReport> {
    table
        .feature_names()
        .iter()
        .enumerate()
        .map(|(feature, name)| {
            let mut marginal: BTreeMap<String, Confusion> = BTreeMap::new();
            for (cell, confusion) in counts.cells.iter().enumerate() {
                marginal
                    .entry(table.cell_value(cell, feature).to_owned())
                    .or_insert_with(|| Confusion::zeros(counts.classes.len()))
                    .add(confusion);
            }
            let (names, confusions): (Vec<String>, Vec<Confusion>) = marginal.into_iter().unzip();
            let report = CoreReport::compute(&confusions, &names, pos);
            (
                name.clone(),
                FeatureReport {
                    groups: report.groups.into_iter().collect(),
                    aggregates: report.aggregates,
                },
            )
        })
        .collect()
}

/// Each class's rates and parity, one-vs-rest.
fn per_class(
    counts: &CellConfusions,
    core: &CoreReport,
    cell_names: &[String],
) -> BTreeMap<String, ClassReport> {
    counts
        .classes
        .iter()
        .enumerate()
        .map(|(class, label)| {
            let groups: Vec<GroupMetrics> = counts
                .cells
                .iter()
                .map(|c| GroupMetrics::from_confusion(c, class))
                .collect();
            let overall = GroupMetrics::from_confusion(&core.pooled, class);
            let refs: Vec<&GroupMetrics> = groups.iter().collect();
            let report = ClassReport {
                overall: ClassRates::from(&overall),
                groups: cell_names
                    .iter()
                    .cloned()
                    .zip(groups.iter().map(ClassRates::from))
                    .collect(),
                aggregates: ParityAggregates::compute(&refs, &overall),
            };
            (label.clone(), report)
        })
        .collect()
}

impl Meta {
    /// What the report says of its input: rows, what was dropped, the grouping, versions.
    fn of(table: &PredictionTable, options: &AuditOptions) -> Self {
        Self {
            input: None,
            n_rows: table.len() as u64,
            n_dropped_missing: table.dropped_missing(),
            skipped: Vec::new(),
            pos_label: options.pos_label.clone(),
            grouping: Grouping {
                features: table.feature_names().to_vec(),
                separator: crate::table::GROUP_SEPARATOR.to_string(),
            },
            versions: BTreeMap::from([(
                env!("CARGO_PKG_NAME").to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            )]),
        }
    }
}
