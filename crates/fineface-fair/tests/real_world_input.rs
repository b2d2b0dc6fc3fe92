//! Inputs as real tools write them (pandas, R), audited to the right numbers or refused with
//! the reason (issue 17).

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::Path;

use fineface_fair::{
    AuditOptions, CsvSpec, FairError, NotALabel, PredictionTable, audit, canonical_label,
    read_predictions,
};

fn audit_text(text: &str) -> Result<fineface_fair::SubgroupReport, FairError> {
    let table = read_predictions(text.as_bytes(), Path::new("preds.csv"), &CsvSpec::default())?;
    audit(&table, &AuditOptions::default())
}

/// pandas writes an int column holding a missing value as floats: `y_pred` 0.0/1.0 beside a
/// `y_true` of 0/1. 6 of the 8 rows agree, as scikit-learn and fairlearn count them.
#[test]
fn numeric_labels_written_as_floats_compare_by_value() {
    let report = audit_text(
        "y_true,y_pred,group\n\
         0,0.0,A\n1,1.0,A\n1,1.0,A\n0,1.0,A\n\
         0,0.0,B\n1,1.0,B\n1,0.0,B\n0,0.0,B\n",
    )
    .unwrap();
    assert_eq!(report.overall.classes, ["0", "1"]);
    assert_eq!(report.overall.metrics.accuracy, 0.75);
    assert_eq!(report.groups["A"].accuracy, 0.75);
    assert_eq!(report.groups["B"].accuracy, 0.75);
    // The positive label is found however it is written.
    let table = read_predictions(
        "y_true,y_pred,group\n1,1.0,A\n0,0.0,B\n".as_bytes(),
        Path::new("preds.csv"),
        &CsvSpec::default(),
    )
    .unwrap();
    let options = AuditOptions {
        pos_label: "1.0".to_owned(),
        ..AuditOptions::default()
    };
    assert_eq!(
        audit(&table, &options).unwrap().overall.metrics.accuracy,
        1.0
    );
}

#[test]
fn numbers_have_one_spelling_and_text_keeps_its_own() {
    for (written, canonical) in [
        ("1", "1"),
        ("1.0", "1"),
        ("01", "1"),
        ("1e0", "1"),
        ("+1", "1"),
        ("-0.0", "0"),
        ("0.50", "0.5"),
        ("2.25", "2.25"),
    ] {
        assert_eq!(
            canonical_label(written),
            (canonical.into(), true),
            "{written}"
        );
    }
    for text in ["yes", "Male", "nan", "inf", "1a", ""] {
        assert_eq!(canonical_label(text), (text.into(), false), "{text}");
    }
}

#[test]
fn labels_mixing_numbers_and_text_are_an_error_naming_both() {
    let error = audit_text("y_true,y_pred,group\n1,1.0,A\nyes,0,B\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "preds.csv: labels mix numbers and text (`1` and `yes`): numeric labels are compared \
         by value (`1` = `1.0`), so every label of y_true and y_pred must be a number, or none \
         (`1` first on line 2, `yes` on line 3)"
    );
}

#[test]
fn labels_or_groups_differing_only_in_case_or_spaces_are_an_error_naming_both() {
    for (text, what, spellings) in [
        (
            "y_true,y_pred,group\nMale,Male,A\nmale,Female,B\n",
            "the labels",
            "\"Male\", \"male\"",
        ),
        (
            "y_true,y_pred,group\nyes,no,White\nno,no,white\n",
            "sensitive feature group",
            "\"White\", \"white\"",
        ),
        (
            "y_true,y_pred,group\nyes,no,Black|F\nno,no,BLACK|F\n",
            "sensitive feature group_1",
            "\"Black\", \"BLACK\"",
        ),
        // Inner spaces, and the separators mirrors swap (FairFace's `Latino_Hispanic`).
        (
            "y_true,y_pred,group\nyes,no,Black  Female\nno,no,Black Female\n",
            "sensitive feature group",
            "\"Black  Female\", \"Black Female\"",
        ),
        (
            "y_true,y_pred,group\nyes,no,Latino_Hispanic\nno,no,Latino Hispanic\n",
            "sensitive feature group",
            "\"Latino_Hispanic\", \"Latino Hispanic\"",
        ),
        (
            "y_true,y_pred,group\nyes,no,east-asian\nno,no,East Asian\n",
            "sensitive feature group",
            "\"east-asian\", \"East Asian\"",
        ),
    ] {
        let error = audit_text(text).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "preds.csv: {what}: values that differ only in case, spaces, `_`, dashes or Unicode form: \
                 {spellings}"
            )),
            "{error}"
        );
        assert!(
            error.contains("` first on line 2, `") && error.ends_with("` on line 3)"),
            "{error}"
        );
    }
    // Distinct values that merely share letters are fine.
    let fine = audit_text("y_true,y_pred,group\n1,0,A\n0,0,AB\n1,1,A\n0,1,AB\n");
    assert!(fine.is_ok(), "{:?}", fine.err());
}

/// `astype(str)` writes a missing race as `nan`, R as `NA`: neither is a group.
#[test]
fn missing_sensitive_values_written_as_text_are_an_error_or_dropped_and_counted() {
    let text = "y_true,y_pred,race,gender\n\
                1,1,White,F\n0,0,White,M\n1,0,nan,F\n0,0,Black,F\n1,1,NA,M\n0,1,Black,M\n";
    let spec = CsvSpec {
        sensitive: fineface_fair::SensitiveColumns::Columns(vec!["race".into(), "gender".into()]),
        ..CsvSpec::default()
    };
    let error = read_predictions(text.as_bytes(), Path::new("preds.csv"), &spec)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "preds.csv:4: missing value `nan` in sensitive column `race`: a missing value is no \
         group; fill it in, or drop such rows (`--drop-missing`, `CsvSpec::drop_missing`)"
    );
    let drop = CsvSpec {
        drop_missing: true,
        ..spec
    };
    let table = read_predictions(text.as_bytes(), Path::new("preds.csv"), &drop).unwrap();
    assert_eq!((table.len(), table.dropped_missing()), (4, 2));
    let report = audit(&table, &AuditOptions::default()).unwrap();
    let groups: Vec<&str> = report.groups.keys().map(String::as_str).collect();
    assert_eq!(groups, ["Black|F", "Black|M", "White|F", "White|M"]);
    assert_eq!(report.meta.n_dropped_missing, 2);
    assert!(
        report
            .to_markdown()
            .contains("- dropped: 2 row(s) with a missing sensitive value")
    );
    // Every usual spelling, any case, and in a compound group.
    for missing in ["nan", "NaN", "NA", "N/A", "None", "null", "<NA>"] {
        assert!(fineface_fair::is_missing(missing), "{missing}");
        let compound = format!("y_true,y_pred,group\n1,1,White|F\n1,1,{missing}|M\n");
        let error = read_predictions(compound.as_bytes(), Path::new("p.csv"), &CsvSpec::default())
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(&format!(
                "p.csv:3: missing value `{missing}|M` in sensitive column `group`"
            )),
            "{error}"
        );
    }
    assert!(!fineface_fair::is_missing("Native American"));
}

/// `| metric | value |` of the markdown's aggregates.
fn aggregate_cell(markdown: &str, metric: &str) -> String {
    let prefix = format!("| {metric} | ");
    markdown
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {metric} in {markdown}"))
        .trim_end_matches(" |")
        .to_owned()
}

#[test]
fn rate_metrics_no_group_defines_are_undefined_and_one_group_compares_nothing() {
    // Gender predicted and grouped by gender: no group has both classes, so TPR and FPR are
    // each defined in one group; fairlearn's numbers (0 and 0.83 here) would mislead.
    let text = "y_true,y_pred,group\n1,1,M\n1,1,M\n1,0,M\n0,0,F\n0,1,F\n0,0,F\n";
    let markdown = audit_text(text).unwrap().to_markdown();
    for metric in [
        "equalized odds difference",
        "equalized odds ratio",
        "equalized odds difference (strict)",
    ] {
        assert_eq!(
            aggregate_cell(&markdown, metric),
            "undefined (TPR defined in 1 of 2 groups, FPR defined in 1 of 2 groups)"
        );
    }
    assert_eq!(
        aggregate_cell(&markdown, "equal opportunity difference"),
        "undefined (TPR defined in 1 of 2 groups)"
    );
    // Demographic parity then compares a TPR with an FPR: said so.
    assert!(
        aggregate_cell(&markdown, "demographic parity difference")
            .ends_with("(every group holds one class: selection rate is its TPR or FPR, an error rate, not a disparity)"),
        "{markdown}"
    );
    // A rate defined in one group is no gap of 0: the strict block has none, and neither
    // has the per-class table.
    let report = audit_text(text).unwrap();
    let strict = &report.aggregates.parity.strict;
    assert_eq!(
        (
            strict.tpr_difference,
            strict.fpr_ratio,
            strict.equalized_odds_difference
        ),
        (None, None, None)
    );
    assert!(
        markdown.contains("| 1 | 0.3333 (every group holds one class: selection rate is its TPR or FPR, an error rate, not a disparity) | undefined (TPR defined in 1 of 2 groups) |"),
        "{markdown}"
    );
    // Rates defined in some groups only: fairlearn's number, said to be.
    let text = "y_true,y_pred,group\n1,1,A\n0,0,A\n1,0,B\n0,0,B\n0,1,C\n0,0,C\n";
    let markdown = audit_text(text).unwrap().to_markdown();
    let cell = aggregate_cell(&markdown, "equal opportunity difference");
    assert!(
        cell.ends_with(
            "(fairlearn's: an undefined rate counts as 0; TPR defined in 2 of 3 groups)"
        ),
        "{cell}"
    );
    // A combined strict metric over the one rate that two groups define says which.
    let text = "y_true,y_pred,group\n1,1,A\n0,0,A\n0,1,B\n0,0,B\n0,0,C\n0,0,C\n";
    let report = audit_text(text).unwrap();
    assert_eq!(report.aggregates.parity.strict.tpr_difference, None);
    assert_eq!(
        report.aggregates.parity.strict.equal_opportunity_ratio,
        None
    );
    assert_eq!(
        aggregate_cell(&report.to_markdown(), "equalized odds difference (strict)"),
        "0.5000 (FPR only: TPR defined in 1 of 3 groups, FPR defined in 3 of 3 groups)"
    );
    // Every group perfect: SER is 0 / 0, said so, not a dash.
    let markdown = audit_text("y_true,y_pred,group\n1,1,A\n0,0,A\n1,1,B\n0,0,B\n")
        .unwrap()
        .to_markdown();
    assert_eq!(
        aggregate_cell(&markdown, "SER (max error / min error)"),
        "undefined (no group makes an error: 0 / 0)"
    );
    // One group: nothing to compare.
    let markdown = audit_text("y_true,y_pred,group\n1,1,A\n0,1,A\n")
        .unwrap()
        .to_markdown();
    for metric in [
        "DoB x100 (std of group accuracy, ddof 0)",
        "demographic parity difference",
        "equalized odds ratio",
    ] {
        assert_eq!(
            aggregate_cell(&markdown, metric),
            "— (one group: nothing to compare)"
        );
    }
}

/// Every kind of cell that holds no label, in a label column and in a group column, as
/// pandas, R, Excel and text copied from a web page write it: refused with its line, the
/// right error, and never read as a class or group of its own.
#[test]
fn cells_that_hold_no_label_are_refused_by_kind_with_their_line() {
    let missing = [
        "nan", "-nan", "NA", "#N/A", "<NA>", "NaT", "None", "?", "-", ".", "1.#QNAN",
    ];
    let scores = ["0.73", "0,73", "73%", "inf"];
    let excel = ["#VALUE!", "#DIV/0!", "#NAME?", "#REF!"];
    let invisible = ["Bl\u{200B}ack", "\u{200E}1", "1\u{FEFF}", "Wo\u{00AD}man"];
    let read = |text: String| {
        read_predictions(text.as_bytes(), Path::new("p.csv"), &CsvSpec::default()).unwrap_err()
    };
    for value in missing
        .iter()
        .chain(&scores)
        .chain(&excel)
        .chain(&invisible)
    {
        let error = read(format!("y_true,y_pred,group\n1,1,A\n\"{value}\",1,B\n"));
        let expected = match &error {
            FairError::MissingLabel { line: 3, .. } => missing.contains(value),
            FairError::ScoreNotLabel { line: 3, .. } => scores.contains(value),
            FairError::NotALabel { line: 3, why, .. } => match why {
                NotALabel::SpreadsheetError => excel.contains(value),
                NotALabel::Invisible(_) => invisible.contains(value),
                _ => false,
            },
            _ => false,
        };
        assert!(expected, "{value:?} as a label: {error:?}");
        assert!(
            error.to_string().starts_with("p.csv:3: column `y_true`"),
            "{error}"
        );
    }
    for value in excel.iter().chain(&invisible) {
        let error = read(format!("y_true,y_pred,group\n1,1,A|F\n1,0,\"{value}|M\"\n"));
        assert!(
            matches!(error, FairError::NotALabel { line: 3, .. }),
            "{value:?} as a group: {error:?}"
        );
    }
    for value in missing {
        let error = read(format!("y_true,y_pred,group\n1,1,A\n1,0,\"{value}\"\n"));
        assert!(
            matches!(error, FairError::MissingSensitiveValue { line: 3, .. }),
            "{value:?} as a group: {error:?}"
        );
    }
    // Separate columns: `|` in a value would merge groups; a score is no group either.
    let columns = CsvSpec {
        sensitive: fineface_fair::SensitiveColumns::Columns(vec!["race".into(), "gender".into()]),
        ..CsvSpec::default()
    };
    for (value, says) in [
        ("A|B", "`|` joins the parts of a group"),
        ("73%", "a score"),
    ] {
        let text = format!("y_true,y_pred,race,gender\n1,1,A,B\n0,1,\"{value}\",C\n");
        let error = read_predictions(text.as_bytes(), Path::new("p.csv"), &columns).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("p.csv:3: column `race` holds") && message.contains(says),
            "{message}"
        );
    }
    // A header name that looks right but holds an invisible character.
    let error = read("y_true\u{200B},y_pred,group\n1,1,A\n".to_owned()).to_string();
    assert!(
        error.contains("missing column `y_true`") && error.contains("invisible character U+200B"),
        "{error}"
    );
    let mut table = fineface_fair::PredictionTable::new(["race", "gender"]).unwrap();
    assert!(matches!(
        table.push("1", "1", &["A|B", "C"]),
        Err(FairError::ValueHoldsSeparator { .. })
    ));
    let error = read("y_true,y_pred,group\n1,1,A\n1,0,Bl\u{200B}ack\n".to_owned());
    assert!(
        error.to_string().contains("U+200B (zero-width space)"),
        "{error}"
    );
}

/// A model's split where the positive class occurs in no row (a small validation split):
/// with the model's classes declared, the audit reports it with undefined rates rather than
/// refusing an unknown positive label.
#[test]
fn a_declared_class_no_row_holds_is_audited_with_undefined_rates() {
    let mut table = PredictionTable::new(["group"]).unwrap();
    table.declare_classes(&["no", "yes"]);
    for group in ["a", "b"] {
        table.push("no", "no", &[group]).unwrap();
        table.push("no", "no", &[group]).unwrap();
    }
    let options = AuditOptions {
        pos_label: "yes".to_owned(),
        ..AuditOptions::default()
    };
    let report = audit(&table, &options).unwrap();
    assert_eq!(report.overall.classes, ["no", "yes"]);
    assert_eq!(report.groups["a"].accuracy, 1.0);
    assert_eq!(report.groups["a"].tpr, None);
    assert_eq!(report.groups["a"].fpr, Some(0.0));
    // Undeclared, the same rows name the label as unknown.
    let mut bare = PredictionTable::new(["group"]).unwrap();
    bare.push("no", "no", &["a"]).unwrap();
    assert!(audit(&bare, &options).is_err());
}

/// numpy's `savetxt(header=...)` writes the header as a `#` comment: said as such on its
/// line, rather than a missing column on the first row; a comment that is no header stays one.
#[test]
fn a_header_written_as_a_comment_is_named() {
    let error = audit_text("# y_true,y_pred,group\n0,0,A\n1,1,B\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "preds.csv:1: the header is written as a comment (`# y_true,y_pred,group`, as numpy's \
         savetxt writes it unless given comments=''): delete its `#` (line 2 was read as the \
         header)"
    );
    let report = audit_text("# exported by a notebook\ny_true,y_pred,group\n0,0,A\n1,1,B\n");
    assert!(report.is_ok(), "{report:?}");
}

/// Errors name the line as an editor numbers it, whatever comes before: a preamble before
/// the header, blank lines among the rows.
#[test]
fn errors_name_the_line_an_editor_shows() {
    let error = audit_text("# exported\n\ny_true,y_pred\n0,0\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("preds.csv:3: missing column `group`"),
        "{error}"
    );
    let error = audit_text("y_true,y_pred,group\n0,0,A\n\n\n1,1\n")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("preds.csv:5:"), "{error}");
    let error = audit_text("y_true,y_pred,group\n0,0,A\n\n\n1,nan,B\n")
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("preds.csv:5:"), "{error}");
}

/// A `#` line among the rows (a row commented out, a note) is no comment to a CSV reader:
/// refused on its line, whatever it holds; Excel's `#N/A` stays a missing value. A group
/// value mixing Latin and Cyrillic letters is refused as labels are.
#[test]
fn commented_rows_and_mixed_script_groups_are_refused() {
    for row in ["#male,female,c", "#1,0,c", "# a note"] {
        let error = audit_text(&format!("y_true,y_pred,group\nmale,male,a\n{row}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("preds.csv:3: a `#` line among the rows"),
            "{row}: {error}"
        );
    }
    let error = audit_text("y_true,y_pred,group\n1,1,East Asian\n0,1,\u{415}ast Asian\n")
        .unwrap_err()
        .to_string();
    assert!(error.contains("Cyrillic `\u{415}` (U+0415)"), "{error}");
}
