//! `cargo xtask fairness`: the subgroup fairness audit of a predictions CSV.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, ValueEnum};
use fineface_fair::{
    AuditOptions, BootstrapConfig, CsvSpec, FairError, SensitiveColumns, SubgroupReport,
};

/// Audit a predictions CSV: `y_true,y_pred` plus either a compound `group` column
/// (`Black|Female`) or one column per sensitive feature (`--sensitive race,gender`).
/// Other columns are ignored. A run's own `predictions.csv` needs no flags: the sensitive
/// columns and positive label come from the `fairness.json` the run wrote beside it.
#[derive(Debug, Args)]
pub struct FairnessArgs {
    /// The predictions CSV.
    pub predictions: PathBuf,
    /// The positive label for selection rate, TPR and FPR (default `1`, or the run's for a
    /// run's own predictions file).
    #[arg(long)]
    pub pos_label: Option<String>,
    /// Names of the `|`-separated parts of the compound group column.
    #[arg(long, value_delimiter = ',', conflicts_with = "sensitive")]
    pub feature_names: Vec<String>,
    /// Sensitive feature columns, instead of a compound group column.
    #[arg(long, value_delimiter = ',')]
    pub sensitive: Vec<String>,
    /// The compound group column (default `group`).
    #[arg(long, conflicts_with = "sensitive")]
    pub group_column: Option<String>,
    /// The true-label column.
    #[arg(long, default_value = "y_true")]
    pub y_true: String,
    /// The predicted-label column.
    #[arg(long, default_value = "y_pred")]
    pub y_pred: String,
    /// Drop rows whose sensitive value is missing (empty, `nan`, `NA`, `N/A`, `None`, `null`)
    /// instead of stopping at the first; the report counts them (`meta.n_dropped_missing`).
    #[arg(long)]
    pub drop_missing: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Bootstrap replicates for confidence intervals (0 = none; at least 40 at 95 %, 1,000 or
    /// more for stable bounds).
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Confidence level of the bootstrap intervals, in (0, 1) [default: 0.95]; needs
    /// --bootstrap.
    #[arg(long, value_parser = confidence_level, allow_negative_numbers = true)]
    pub confidence: Option<f64>,
}

/// A confidence level in (0, 1); `95` or `95%` is refused with the fraction to write.
fn confidence_level(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a number: write a level such as 0.95"))?;
    if value > 0.0 && value < 1.0 && !text.contains('%') {
        return Ok(value);
    }
    if value > 1.0 && value < 100.0 {
        return Err(format!(
            "`{text}` is a percentage: write it as the fraction {}",
            value / 100.0
        ));
    }
    Err(format!(
        "`{text}` is not a level between 0 and 1 (exclusive), such as 0.95"
    ))
}

/// Report renderings.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The JSON report (keys and definitions: docs/fairness.md).
    Json,
    /// Long format: section,group,metric,value.
    Csv,
    /// A markdown summary.
    Md,
}

/// Columns of a predictions CSV that are never sensitive features.
/// (`p_<class>`, a class's probability, is not either.)
const NOT_SENSITIVE: [&str; 7] = [
    "path",
    "file",
    "y_true",
    "y_pred",
    "y_pred_concat",
    "y_pred_heads",
    "probability", // The predicted class's, in predictions.csv files written before p_<class>.
];

/// The grouping and positive label of the report a run wrote next to its predictions
/// (`test/fairness.json`, `eval-*/fairness.json`), when `predictions` is such a file.
fn run_report_beside(predictions: &Path) -> Option<(Vec<String>, String, PathBuf)> {
    let path = predictions.with_file_name("fairness.json");
    let text = std::fs::read_to_string(&path).ok()?;
    let report: SubgroupReport = match serde_json::from_str(&text) {
        Ok(report) => report,
        Err(e) => {
            tracing::warn!(
                "{} cannot be read ({e}): its grouping and positive label are not used; pass \
                 --sensitive and --pos-label",
                path.display()
            );
            return None;
        }
    };
    let name = predictions.file_name()?.to_str()?;
    // The run may have been written on another OS: split on either separator.
    let input = report.meta.input.as_deref()?;
    (input.rsplit(['/', '\\']).next()? == name).then_some((
        report.meta.grouping.features,
        report.meta.pos_label,
        path,
    ))
}

impl FairnessArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let (spec, pos_label) = self.spec_and_label();
        let table = fineface_fair::read_predictions_csv(&self.predictions, &spec)
            .map_err(|e| self.explain_read_error(e))?;
        anyhow::ensure!(
            self.confidence.is_none() || self.bootstrap > 0,
            "--confidence sets the level of the bootstrap intervals, which --bootstrap N (1,000 \
             or more) draws: give it too, or drop --confidence"
        );
        let options = AuditOptions {
            pos_label,
            bootstrap: (self.bootstrap > 0).then_some(BootstrapConfig {
                replicates: self.bootstrap,
                seed: self.seed,
                confidence: self.confidence.unwrap_or(0.95),
            }),
        };
        let mut report = fineface_fair::audit(&table, &options).map_err(|e| {
            let hint = match &e {
                FairError::UnknownPosLabel { classes, .. } => {
                    // The last in sorted order, as a run's own reports take it (`Male`, `yes`).
                    let last = classes.split(',').next_back().unwrap_or_default().trim();
                    format!("; pass --pos-label with one of them, e.g. --pos-label {last}")
                }
                _ => String::new(),
            };
            anyhow::anyhow!("auditing {}: {e}{hint}", self.predictions.display())
        })?;
        report.meta.input = Some(self.predictions.display().to_string());
        self.write(&report, table.len())
    }

    /// The columns to read and the positive label: the flags, else the grouping and label of
    /// the report a run wrote beside the predictions, else the compound `group` column and
    /// `1`.
    fn spec_and_label(&self) -> (CsvSpec, String) {
        let flags_given = !self.sensitive.is_empty()
            || self.group_column.is_some()
            || !self.feature_names.is_empty();
        let beside = if flags_given && self.pos_label.is_some() {
            None
        } else {
            run_report_beside(&self.predictions)
        };
        let sensitive = match (&beside, flags_given) {
            (Some((features, _, path)), false) => {
                tracing::info!(
                    columns = %features.join(","),
                    "sensitive columns from {}",
                    path.display()
                );
                SensitiveColumns::Columns(features.clone())
            }
            _ if !self.sensitive.is_empty() => SensitiveColumns::Columns(self.sensitive.clone()),
            _ => SensitiveColumns::Compound {
                column: self
                    .group_column
                    .clone()
                    .unwrap_or_else(|| "group".to_owned()),
                feature_names: self.feature_names.clone(),
            },
        };
        let pos_label = match (&self.pos_label, &beside) {
            (Some(label), _) => label.clone(),
            (None, Some((_, label, path))) => {
                tracing::info!(pos_label = %label, "positive label from {}", path.display());
                label.clone()
            }
            (None, None) => "1".to_owned(),
        };
        let spec = CsvSpec {
            y_true: self.y_true.clone(),
            y_pred: self.y_pred.clone(),
            sensitive,
            drop_missing: self.drop_missing,
        };
        (spec, pos_label)
    }

    /// A missing compound group column explained with the columns that could be sensitive.
    fn explain_read_error(&self, e: FairError) -> anyhow::Error {
        let FairError::MissingColumn {
            column, available, ..
        } = &e
        else {
            return anyhow::Error::new(e);
        };
        if !self.sensitive.is_empty() || *column == self.y_true || *column == self.y_pred {
            return anyhow::Error::new(e);
        }
        let candidates: Vec<&str> = available
            .split(',')
            .map(str::trim)
            .filter(|c| {
                !NOT_SENSITIVE.contains(c)
                    && !c.starts_with("p_")
                    && *c != self.y_true
                    && *c != self.y_pred
            })
            .collect();
        let suggestion = if candidates.is_empty() {
            "name the compound group column with --group-column".to_owned()
        } else {
            format!(
                "pass the sensitive columns, e.g. --sensitive {}, or name a compound group \
                 column with --group-column",
                candidates.join(",")
            )
        };
        anyhow::anyhow!("{e}; {suggestion}")
    }

    /// The report in the asked format, to `--out` or stdout.
    fn write(&self, report: &SubgroupReport, rows: usize) -> anyhow::Result<()> {
        let text = match self.format {
            Format::Json => report.to_json()? + "\n",
            Format::Csv => report.to_csv(),
            Format::Md => report.to_markdown(),
        };
        match &self.out {
            Some(path) => {
                std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(
                    rows,
                    groups = report.groups.len(),
                    "wrote {}",
                    path.display()
                );
            }
            None => std::io::stdout().lock().write_all(text.as_bytes())?,
        }
        Ok(())
    }
}
