//! The report against numbers computed by fairlearn 0.15 (`tools/fairlearn_goldens.py`).

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

mod common;

use fineface_fair::{AuditOptions, CsvSpec, SensitiveColumns, audit, read_predictions_csv};
use rstest::rstest;
use serde_json::Value;

fn golden_case(name: &str) -> Value {
    let text = std::fs::read_to_string(common::golden_path("goldens.json")).unwrap();
    let goldens: Value = serde_json::from_str(&text).unwrap();
    goldens["cases"][name].clone()
}

fn spec_for(case: &Value) -> CsvSpec {
    let features: Vec<String> = case["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    let sensitive = match case["storage"].as_str().unwrap() {
        "compound" => SensitiveColumns::Compound {
            column: "group".to_owned(),
            feature_names: features,
        },
        _ => SensitiveColumns::Columns(features),
    };
    CsvSpec {
        sensitive,
        ..CsvSpec::default()
    }
}

#[rstest]
#[case::balanced("balanced")]
#[case::imbalanced("imbalanced")]
#[case::zero_error_group_ser_inf("zero_error_group")]
#[case::all_perfect_ser_null("all_perfect")]
#[case::group_without_positives("no_positives")]
#[case::fairface_7x2_intersectional("fairface_7x2")]
#[case::multiclass("multiclass")]
#[case::single_sample_group("single_sample_group")]
#[case::empty_intersection("empty_intersection")]
#[case::never_predicts_positive("never_predicts_positive")]
fn report_agrees_with_fairlearn(#[case] name: &str) {
    let case = golden_case(name);
    let path = common::golden_path(case["csv"].as_str().unwrap());
    let table = read_predictions_csv(&path, &spec_for(&case)).unwrap();
    let options = AuditOptions {
        pos_label: case["pos_label"].as_str().unwrap().to_owned(),
        bootstrap: None,
    };
    let report = audit(&table, &options).unwrap();
    let actual = serde_json::to_value(&report).unwrap();
    let mismatches = common::compare(&case["expected"], &actual, 1e-9, name);
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn every_golden_case_is_tested() {
    let text = std::fs::read_to_string(common::golden_path("goldens.json")).unwrap();
    let goldens: Value = serde_json::from_str(&text).unwrap();
    let cases: Vec<&String> = goldens["cases"].as_object().unwrap().keys().collect();
    let source = include_str!("fairlearn_goldens.rs");
    for case in cases {
        assert!(
            source.contains(&format!("(\"{case}\")")),
            "golden case `{case}` has no #[case] here"
        );
    }
}

#[test]
fn undefined_and_infinite_values_have_their_json_spelling() {
    let zero_error = golden_case("zero_error_group");
    let table = read_predictions_csv(
        common::golden_path("zero_error_group.csv"),
        &spec_for(&zero_error),
    )
    .unwrap();
    let report = audit(&table, &AuditOptions::default()).unwrap();
    assert_eq!(report.aggregates.ser, Some(f64::INFINITY));
    assert!(report.to_json().unwrap().contains("\"ser\": \"inf\""));

    let perfect = golden_case("all_perfect");
    let table =
        read_predictions_csv(common::golden_path("all_perfect.csv"), &spec_for(&perfect)).unwrap();
    let report = audit(&table, &AuditOptions::default()).unwrap();
    assert_eq!(report.aggregates.ser, None);
    assert!(report.to_json().unwrap().contains("\"ser\": null"));
    // Every group perfect: the strict FPR ratio is 0/0, the TPR ratio 1, and a combined
    // strict metric is taken over its defined components.
    let strict = &report.aggregates.parity.strict;
    assert_eq!(strict.fpr_ratio, None);
    assert_eq!(strict.tpr_ratio, Some(1.0));
    assert_eq!(strict.equalized_odds_ratio, Some(1.0));
    assert_eq!(strict.equalized_odds_ratio_mean, Some(1.0));
    assert_eq!(strict.equalized_odds_difference, Some(0.0));

    // The JSON reads back into the same report.
    let back: fineface_fair::SubgroupReport =
        serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert_eq!(back, report);
}
