//! The predictions reader against the variants the real world writes of one valid file
//! (issue 27): the same audit, or the refusal named in `tests/support/variants.rs`.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::Path;

use fineface_fair::{AuditOptions, CsvSpec, FairError, SensitiveColumns, audit, read_predictions};

#[path = "../../../tests/support/variants.rs"]
mod variants;

const PREDICTIONS: &str = "image,y_true,y_pred,race,gender\n\
                           café.jpg,1,1,White,Male\nb.jpg,0,1,White,Female\n\
                           c.jpg,1,0,Black,Male\nd.jpg,0,0,Black,Female\n\
                           e.jpg,1,1,Black,Female\nf.jpg,0,0,White,Male\n";

fn spec() -> CsvSpec {
    CsvSpec {
        sensitive: SensitiveColumns::Columns(vec!["race".into(), "gender".into()]),
        ..CsvSpec::default()
    }
}

/// The audit of `bytes`, as the JSON report (undefined numbers compare as `null`).
fn audited(bytes: &[u8]) -> Result<String, FairError> {
    let table = read_predictions(bytes, Path::new("predictions.csv"), &spec())?;
    let report = audit(&table, &AuditOptions::default())?;
    Ok(serde_json::to_string(&report).unwrap())
}

#[test]
fn predictions_in_every_variant_audit_the_same() {
    let expected = audited(PREDICTIONS.as_bytes()).unwrap();
    assert!(expected.contains("\"accuracy\""), "{expected}");
    let failures = variants::check_all(
        &variants::csv_variants(PREDICTIONS, "y_true"),
        &expected,
        audited,
    );
    variants::assert_all_handled("predictions", failures);
}

#[test]
fn scores_where_labels_are_expected_are_refused_with_their_line() {
    let scored = PREDICTIONS.replace("b.jpg,0,1,", "b.jpg,0,0.73,");
    let e = audited(scored.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with("predictions.csv:3: column `y_pred` holds `0.73`, a score"),
        "{e}"
    );
    // Labels written as floats are labels.
    let floats = PREDICTIONS.replace(",1,1,", ",1.0,1.0,");
    assert_eq!(
        audited(floats.as_bytes()).unwrap(),
        audited(PREDICTIONS.as_bytes()).unwrap()
    );
}

#[test]
fn a_column_named_twice_in_different_case_is_refused_with_both() {
    // Even with an exact match: which of the two is meant is the user's to say.
    let twice = PREDICTIONS.replacen("image,", "Y_TRUE,", 1);
    let e = audited(twice.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with(
            "predictions.csv:1: columns `Y_TRUE` and `y_true` differ only in letter case"
        ),
        "{e}"
    );
}

/// Line endings as classic Mac OS and some Excel exports write them (a lone CR), with a
/// comment preamble, semicolons and a decimal comma: read, and an error names its line.
#[test]
fn lone_cr_files_with_a_preamble_read_and_errors_name_their_line() {
    let semicolons = PREDICTIONS
        .replace(',', ";")
        .replace("café.jpg", "Smith, J.jpg");
    let mac = format!("# exported 2026-12-05\n{semicolons}").replace('\n', "\r");
    assert_eq!(
        audited(mac.as_bytes()).unwrap(),
        audited(PREDICTIONS.as_bytes()).unwrap()
    );
    let scored = mac.replacen(";0;1;White", ";0;0,73;White", 1);
    let e = audited(scored.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with("predictions.csv:4: column `y_pred` holds `0,73`, a score"),
        "{e}"
    );
}

/// What users' own tables hold beside the variants: Excel's `sep=` line, labels `-1`/`1`
/// (two classes), a missing label (refused with its line), a header line as long as a file.
#[test]
fn excel_sep_lines_signed_labels_missing_labels_and_huge_headers() {
    let declared = format!("sep=;\n{}", PREDICTIONS.replace(',', ";"));
    assert_eq!(
        audited(declared.as_bytes()).unwrap(),
        audited(PREDICTIONS.as_bytes()).unwrap()
    );
    let signed = PREDICTIONS.replace(",0,", ",-1,");
    let report = audited(signed.as_bytes()).unwrap();
    assert!(report.contains("\"-1\""), "{report}");
    for missing in ["nan", "NA"] {
        let e = audited(
            PREDICTIONS
                .replacen("b.jpg,0,1,", &format!("b.jpg,0,{missing},"), 1)
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(&format!(
                "predictions.csv:3: column `y_pred` holds `{missing}`, a missing value"
            )),
            "{e}"
        );
    }
    let huge = format!("{}\n1\n", "x".repeat(1 << 20));
    let e = audited(huge.as_bytes()).unwrap_err().to_string();
    assert!(
        e.contains("missing column `y_true`") && e.len() < 400,
        "{} bytes",
        e.len()
    );
}

/// The second round of users' tables: the header repeated (two files concatenated), Excel's
/// `#N/A`, `sep=` with a tab or a pipe or quoted, whole numbers with a decimal comma (`1,0`,
/// one label with `1`), and `inf` (no label).
#[test]
fn repeated_headers_excel_na_declared_delimiters_and_decimal_comma_labels() {
    let expected = audited(PREDICTIONS.as_bytes()).unwrap();
    let body = PREDICTIONS.split_once('\n').unwrap().1;
    let twice = format!("{PREDICTIONS}{PREDICTIONS}");
    let e = audited(twice.as_bytes()).unwrap_err().to_string();
    assert!(
        e.starts_with("predictions.csv:8: this row repeats the header"),
        "{e}"
    );
    let e = audited(PREDICTIONS.replacen(",0,1,", ",0,#N/A,", 1).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":3: column `y_pred` holds `#N/A`, a missing value"),
        "{e}"
    );
    for (declared, delimiter) in [("sep=\t", "\t"), ("sep=|", "|"), ("\"sep=;\"", ";")] {
        let text = format!("{declared}\n{}", PREDICTIONS.replace(',', delimiter));
        assert_eq!(audited(text.as_bytes()).unwrap(), expected, "{declared}");
    }
    let comma = format!(
        "image;y_true;y_pred;race;gender\n{}",
        body.replace(',', ";").replace(";1;", ";1,0;")
    );
    assert_eq!(audited(comma.as_bytes()).unwrap(), expected);
    let e = audited(PREDICTIONS.replacen(",0,1,", ",0,inf,", 1).as_bytes())
        .unwrap_err()
        .to_string();
    assert!(e.contains(":3: column `y_pred` holds `inf`"), "{e}");
}
