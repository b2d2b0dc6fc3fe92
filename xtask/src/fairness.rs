//! `cargo xtask fairness`: the subgroup fairness audit of a predictions CSV.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use fineface_fair::{AuditOptions, BootstrapConfig, CsvSpec, SensitiveColumns};

/// Audit a predictions CSV: `y_true,y_pred` plus either a compound `group` column
/// (`Black|Female`) or one column per sensitive feature (`--sensitive race,gender`).
/// Other columns are ignored.
#[derive(Debug, Args)]
pub struct FairnessArgs {
    /// The predictions CSV.
    pub predictions: PathBuf,
    /// The positive label for selection rate, TPR and FPR.
    #[arg(long, default_value = "1")]
    pub pos_label: String,
    /// Names of the `|`-separated parts of the compound group column.
    #[arg(long, value_delimiter = ',', conflicts_with = "sensitive")]
    pub feature_names: Vec<String>,
    /// Sensitive feature columns, instead of a compound group column.
    #[arg(long, value_delimiter = ',')]
    pub sensitive: Vec<String>,
    /// The compound group column.
    #[arg(long, default_value = "group")]
    pub group_column: String,
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
    /// Bootstrap replicates for confidence intervals (0 = none).
    #[arg(long, default_value_t = 0)]
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Confidence level of the bootstrap intervals.
    #[arg(long, default_value_t = 0.95)]
    pub confidence: f64,
}

/// Report renderings.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The JSON schema of docs/FAIRNESS.md.
    Json,
    /// Long format: section,group,metric,value.
    Csv,
    /// A markdown summary.
    Md,
}

impl FairnessArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let sensitive = if self.sensitive.is_empty() {
            SensitiveColumns::Compound {
                column: self.group_column.clone(),
                feature_names: self.feature_names.clone(),
            }
        } else {
            SensitiveColumns::Columns(self.sensitive.clone())
        };
        let spec = CsvSpec {
            y_true: self.y_true.clone(),
            y_pred: self.y_pred.clone(),
            sensitive,
            drop_missing: self.drop_missing,
        };
        let table = fineface_fair::read_predictions_csv(&self.predictions, &spec)?;
        let options = AuditOptions {
            pos_label: self.pos_label.clone(),
            bootstrap: (self.bootstrap > 0).then_some(BootstrapConfig {
                replicates: self.bootstrap,
                seed: self.seed,
                confidence: self.confidence,
            }),
        };
        let mut report = fineface_fair::audit(&table, &options)
            .with_context(|| format!("auditing {}", self.predictions.display()))?;
        report.meta.input = Some(self.predictions.display().to_string());
        let text = match self.format {
            Format::Json => report.to_json() + "\n",
            Format::Csv => report.to_csv(),
            Format::Md => report.to_markdown(),
        };
        match &self.out {
            Some(path) => {
                std::fs::write(path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                tracing::info!(
                    rows = table.len(),
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
