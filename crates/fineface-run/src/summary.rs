//! The run folder's JSON files, declared once for the trainer that writes them and the tools
//! that read them (`cargo xtask report`, `compare`, seed studies).
//!
//! A run folder holds [`RunInfo`] in `run.json`, [`RunSummary`] in `summary.json`, and a
//! [`SplitSummary`] in each evaluated split's `<split>/summary.json`, beside that split's
//! `fairness.json` ([`SubgroupReport`](fineface_fair::SubgroupReport)). Both files write an infinite
//! Skewed Error Ratio the same way: a number when finite, `"inf"` for infinity, `null` when
//! undefined.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::method::Method;

/// What a run folder says about the run, beside its config (`run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The experiment's name.
    pub name: String,
    /// The method trained (`"fineface"` or `"baseline"` in the file).
    pub method: Method,
    /// The dataset trained on.
    pub dataset: String,
    /// The target attribute.
    pub target: String,
    /// Class names, in the model's output order.
    pub classes: Vec<String>,
    /// Sensitive attribute names.
    pub sensitive: Vec<String>,
    /// Images per split, as `[split, count]` pairs.
    pub split_sizes: Vec<(String, usize)>,
    /// Version of the software that trained the run.
    pub version: String,
}

impl RunInfo {
    /// Its file name in the run folder.
    pub const FILE_NAME: &'static str = "run.json";
}

/// The headline numbers of one evaluated split (`<split>/summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Images scored (the rows of `predictions.csv`).
    pub n: usize,
    /// Accuracy of the final prediction.
    pub accuracy: f64,
    /// Accuracy of the concat head on the image.
    pub accuracy_concat: f64,
    /// Accuracy of the 4-head sum on the image.
    pub accuracy_heads: f64,
    /// Accuracy of the worst subgroup.
    pub worst_group_accuracy: f64,
    /// The worst subgroup(s).
    pub worst_group: String,
    /// Standard deviation (ddof 0) of the subgroup accuracies.
    pub dob: f64,
    /// Skewed Error Ratio (worst group error / best group error): `"inf"` in JSON when only
    /// the best group is error-free, `None` (`null`) when every group is.
    #[serde(default, with = "fineface_fair::extended_float")]
    pub ser: Option<f64>,
    /// Images of the split that could not be decoded and were left out (0 in files written
    /// before this field existed).
    #[serde(default)]
    pub skipped: usize,
    /// Those images, each with the reason it was left out.
    #[serde(default)]
    pub skipped_images: Vec<fineface_fair::SkippedItem>,
}

impl SplitSummary {
    /// Its file name in the split's folder.
    pub const FILE_NAME: &'static str = "summary.json";
}

/// The outcome of a finished run (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Epochs trained.
    pub epochs: usize,
    /// Best validation value of the selection metric and its epoch (1-based).
    pub best: Option<(f64, usize)>,
    /// The test split under the selected checkpoint; `None` when stopped early.
    pub test: Option<SplitSummary>,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
}

impl RunSummary {
    /// Its file name in the run folder.
    pub const FILE_NAME: &'static str = "summary.json";
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn split(ser: Option<f64>) -> SplitSummary {
        SplitSummary {
            n: 600,
            accuracy: 0.825,
            accuracy_concat: 0.82,
            accuracy_heads: 0.81,
            worst_group_accuracy: 0.767,
            worst_group: "Asian|Female".to_owned(),
            dob: 0.04,
            ser,
            skipped: 2,
            skipped_images: Vec::new(),
        }
    }

    #[test]
    fn ser_is_written_as_fairness_json_writes_it_and_read_back() {
        for (ser, written) in [
            (Some(2.5), json!(2.5)),
            (Some(f64::INFINITY), json!("inf")),
            (None, Value::Null),
        ] {
            let summary = split(ser);
            let text = serde_json::to_string(&summary).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["ser"], written, "{text}");
            assert_eq!(
                serde_json::from_str::<SplitSummary>(&text).unwrap(),
                summary
            );
        }
    }

    #[test]
    fn ser_agrees_with_the_fairness_report() {
        // The report's aggregates write the same SER as the summary.
        let mut table = fineface_fair::PredictionTable::new(["gender"]).unwrap();
        for (t, p, g) in [("1", "1", "F"), ("0", "1", "F"), ("1", "1", "M")] {
            table.push(t, p, &[g]).unwrap();
        }
        let report = fineface_fair::audit(&table, &fineface_fair::AuditOptions::default()).unwrap();
        let aggregates = serde_json::to_value(&report.aggregates).unwrap();
        let summary = serde_json::to_value(split(report.aggregates.ser)).unwrap();
        assert_eq!(aggregates["ser"], json!("inf"));
        assert_eq!(summary["ser"], aggregates["ser"]);
    }

    #[test]
    fn files_written_before_skipped_and_inf_still_read() {
        // `test/summary.json` as the trainer wrote it: no `skipped`, SER `null` or a number.
        let old = r#"{"n": 1000, "accuracy": 0.9, "accuracy_concat": 0.9, "accuracy_heads": 0.9,
            "worst_group_accuracy": 0.8, "worst_group": "Black|Female", "dob": 0.02, "ser": null}"#;
        let summary: SplitSummary = serde_json::from_str(old).unwrap();
        assert_eq!((summary.ser, summary.skipped), (None, 0));
        let finite = old.replace("null", "2.5");
        let summary: SplitSummary = serde_json::from_str(&finite).unwrap();
        assert_eq!(summary.ser, Some(2.5));
    }

    #[test]
    fn run_files_keep_the_trainers_layout() {
        let info = r#"{"name": "utkface-cpu", "method": "baseline", "dataset": "utkface",
            "target": "gender", "classes": ["Female", "Male"], "sensitive": ["race", "gender"],
            "split_sizes": [["train", 1800], ["val", 600], ["test", 600]], "version": "0.1.0"}"#;
        let parsed: RunInfo = serde_json::from_str(info).unwrap();
        assert_eq!(parsed.method, Method::Baseline);
        assert_eq!(parsed.split_sizes[2], ("test".to_owned(), 600));
        let reparsed: Value = serde_json::to_value(&parsed).unwrap();
        assert_eq!(reparsed, serde_json::from_str::<Value>(info).unwrap());

        let summary = RunSummary {
            run_dir: PathBuf::from("runs/synthface/run-001"),
            epochs: 10,
            best: Some((0.83, 7)),
            test: Some(split(Some(f64::INFINITY))),
            seconds: 12.5,
        };
        let value = serde_json::to_value(&summary).unwrap();
        assert_eq!(value["best"], json!([0.83, 7]));
        assert_eq!(value["test"]["ser"], json!("inf"));
        let text = serde_json::to_string(&summary).unwrap();
        assert_eq!(serde_json::from_str::<RunSummary>(&text).unwrap(), summary);
    }
}
