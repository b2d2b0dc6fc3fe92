//! Bad predictions files fail with a message that names the file, line and column.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::Path;

use fineface_fair::{AuditOptions, CsvSpec, FairError, SensitiveColumns, audit, read_predictions};
use rstest::rstest;

fn read(text: &[u8], spec: &CsvSpec) -> Result<fineface_fair::PredictionTable, FairError> {
    read_predictions(text, Path::new("preds.csv"), spec)
}

fn columns(names: &[&str]) -> CsvSpec {
    CsvSpec {
        sensitive: SensitiveColumns::Columns(names.iter().map(|s| s.to_string()).collect()),
        ..CsvSpec::default()
    }
}

#[rstest]
#[case::empty_file(b"" as &[u8], "preds.csv: the file is empty (expected a header line with y_true,y_pred,group)")]
#[case::missing_column(
    b"y_true,y_pred,race\n1,1,A\n",
    "preds.csv:1: missing column `group` (the header has: y_true,y_pred,race)"
)]
#[case::missing_label_column(
    b"y_true,group\n1,A\n",
    "preds.csv:1: missing column `y_pred` (the header has: y_true,group)"
)]
#[case::duplicate_column(
    b"y_true,y_pred,group,group\n1,1,A,B\n",
    "preds.csv:1: column `group` appears more than once in the header"
)]
#[case::ragged_row(
    b"y_true,y_pred,group\n1,1,A\n1,0\n",
    "preds.csv:3: expected 3 fields as in the header, found 2"
)]
#[case::too_many_fields(
    b"y_true,y_pred,group\n1,1,A,x\n",
    "preds.csv:2: expected 3 fields as in the header, found 4"
)]
#[case::empty_label(
    b"y_true,y_pred,group\n1,1,A\n,1,B\n",
    "preds.csv:3: column `y_true` is empty"
)]
#[case::empty_prediction(
    b"y_true,y_pred,group\n1, ,A\n",
    "preds.csv:2: column `y_pred` is empty"
)]
#[case::empty_group(b"y_true,y_pred,group\n1,1,\n", "preds.csv:2: column `group` is empty")]
#[case::header_only(b"y_true,y_pred,group\n", "preds.csv: no prediction rows")]
#[case::group_arity(
    b"y_true,y_pred,group\n1,1,A|M\n0,1,B\n",
    "preds.csv:3: column `group` value `B` has 1 `|`-separated parts, expected 2 (group_1,group_2)"
)]
fn compound_file_errors(#[case] text: &[u8], #[case] message: &str) {
    let error = read(text, &CsvSpec::default()).unwrap_err();
    assert_eq!(error.to_string(), message);
}

#[test]
fn missing_sensitive_column_is_named() {
    let error = read(
        b"y_true,y_pred,race\n1,1,A\n",
        &columns(&["race", "gender"]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "preds.csv:1: missing column `gender` (the header has: y_true,y_pred,race)"
    );
    let error = read(
        b"y_true,y_pred,race,gender\n1,1,A,\n",
        &columns(&["race", "gender"]),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "preds.csv:2: column `gender` is empty");
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let error = read(
        b"y_true,y_pred,group\n1,1,A\n1,1,\xff\xfe\n",
        &CsvSpec::default(),
    )
    .unwrap_err();
    assert!(
        matches!(error, FairError::NotText { line: 3, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .starts_with("preds.csv:3: not UTF-8 (byte 0xFF)"),
        "{error}"
    );
}

#[test]
fn given_feature_names_fix_the_arity() {
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Compound {
            column: "group".into(),
            feature_names: vec!["race".into(), "gender".into()],
        },
        ..CsvSpec::default()
    };
    let error = read(b"y_true,y_pred,group\n1,1,A\n", &spec).unwrap_err();
    assert_eq!(
        error.to_string(),
        "preds.csv:2: column `group` value `A` has 1 `|`-separated parts, expected 2 (race,gender)"
    );
}

#[test]
fn bom_crlf_quotes_whitespace_and_extra_columns_are_accepted() {
    let text = "\u{feff}path,y_true,y_pred,group,score\r\n\"a,1.jpg\", Male ,Male,Black|Male,0.9\r\nb.jpg,Female,Male,\"Black | Female\",0.4\r\n";
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Compound {
            column: "group".into(),
            feature_names: vec!["race".into(), "gender".into()],
        },
        ..CsvSpec::default()
    };
    let table = read(text.as_bytes(), &spec).unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(table.classes(), vec!["Female", "Male"]);
    let options = AuditOptions {
        pos_label: "Male".into(),
        ..Default::default()
    };
    let report = audit(&table, &options).unwrap();
    assert_eq!(
        report.groups.keys().collect::<Vec<_>>(),
        vec!["Black|Female", "Black|Male"]
    );
    assert_eq!(report.by_feature["gender"].groups["Female"].accuracy, 0.0);
}

#[test]
fn unknown_positive_label_lists_the_labels() {
    let table = read(b"y_true,y_pred,group\nMale,Female,A\n", &CsvSpec::default()).unwrap();
    let error = audit(&table, &AuditOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "positive label `1` occurs in neither y_true nor y_pred (labels: Female, Male)"
    );
}

#[test]
fn unreadable_file_names_its_path() {
    let error = fineface_fair::read_predictions_csv("/nonexistent/preds.csv", &CsvSpec::default())
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cannot read /nonexistent/preds.csv:"),
        "{error}"
    );
}
