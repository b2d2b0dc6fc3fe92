//! `cargo xtask fairness` end to end, as a user runs it.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::process::{Command, Output};

use serde_json::Value;

mod common;

use common::repo;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

const DEMO: &str = "tests/data/demo_predictions.csv";

#[test]
fn readme_command_audits_the_demo_file() {
    let output = xtask(&[
        "fairness",
        DEMO,
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
        "--format",
        "md",
    ]);
    assert!(output.status.success());
    let md = String::from_utf8(output.stdout).unwrap();
    assert!(md.contains("| Indian\\|Female | 80 | 0.8500 |"), "{md}");
    assert!(md.contains("## By race"));
}

#[test]
fn json_has_the_schema_keys_and_fourteen_groups() {
    let report = stdout_json(&xtask(&[
        "fairness",
        DEMO,
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
    ]));
    for key in [
        "schema_version",
        "meta",
        "overall",
        "groups",
        "aggregates",
        "by_feature",
        "empty_intersections",
        "per_class",
    ] {
        assert!(report.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["groups"].as_object().unwrap().len(), 14);
    assert_eq!(report["meta"]["input"], DEMO);
    assert_eq!(report["overall"]["n"], 1650);
    assert!(report.get("bootstrap").is_none());
}

#[test]
fn compound_column_gives_the_same_report_as_separate_columns() {
    let dir = std::env::temp_dir().join(format!("fineface-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let compound = dir.join("compound.csv");
    let text = std::fs::read_to_string(repo().join(DEMO)).unwrap();
    let mut lines = vec!["y_pred,group,y_true".to_owned()];
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        lines.push(format!("{},{}|{},{}", f[2], f[3], f[4], f[1]));
    }
    std::fs::write(&compound, lines.join("\n")).unwrap();
    let separate = stdout_json(&xtask(&[
        "fairness",
        DEMO,
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
    ]));
    let combined = stdout_json(&xtask(&[
        "fairness",
        compound.to_str().unwrap(),
        "--feature-names",
        "race,gender",
        "--pos-label",
        "Male",
    ]));
    for key in ["overall", "groups", "aggregates", "by_feature", "per_class"] {
        assert_eq!(separate[key], combined[key], "{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_file_csv_and_bootstrap() {
    let dir = std::env::temp_dir().join(format!("fineface-cli-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("report.csv");
    let output = xtask(&[
        "fairness",
        DEMO,
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
        "--format",
        "csv",
        "--bootstrap",
        "200",
        "--seed",
        "5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(csv.starts_with("section,group,metric,value\n"));
    assert!(
        csv.contains("\ngroups,Indian|Female,accuracy,0.85\n"),
        "{csv}"
    );
    assert!(csv.contains("\naggregates,,strict.equalized_odds_difference,"));
    assert!(csv.contains("\nbootstrap.group_accuracy,Indian|Female,low,"));
    // Undefined values are empty cells, never 0.
    assert!(csv.contains("\ngroups,Indian|Female,tpr,\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_input_fails_with_file_line_and_column() {
    let output = xtask(&["fairness", DEMO, "--sensitive", "race,age"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("tests/data/demo_predictions.csv:1: missing column `age`"),
        "{stderr}"
    );

    let output = xtask(&["fairness", DEMO, "--sensitive", "race,gender"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("positive label `1` occurs in neither y_true nor y_pred"),
        "{stderr}"
    );

    let output = xtask(&["fairness", "no/such/file.csv"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read no/such/file.csv"));
}

#[test]
fn a_runs_own_predictions_need_no_flags_and_errors_suggest_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    // A run's folder: predictions.csv and the fairness.json written for it.
    let csv = "path,y_true,y_pred,y_pred_concat,y_pred_heads,p_no,p_yes,tone,sex\n\
               a.png,yes,yes,yes,yes,0.1,0.9,I,F\n\
               b.png,no,yes,no,no,0.4,0.6,I,M\n\
               c.png,no,no,no,no,0.8,0.2,II,F\n\
               d.png,yes,no,yes,yes,0.7,0.3,II,M\n";
    let predictions = dir.path().join("predictions.csv");
    std::fs::write(&predictions, csv).unwrap();
    let path = predictions.to_str().unwrap();
    let written = dir.path().join("fairness.json");
    let first = xtask(&[
        "fairness",
        path,
        "--sensitive",
        "tone,sex",
        "--pos-label",
        "yes",
        "--out",
        written.to_str().unwrap(),
    ]);
    assert!(first.status.success());
    let with_flags: Value =
        serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    let without = stdout_json(&xtask(&["fairness", path]));
    assert_eq!(without, with_flags);
    assert_eq!(without["meta"]["pos_label"], "yes");

    // A damaged report beside it is said, not silently passed over.
    let damaged = tempfile::tempdir().unwrap();
    std::fs::write(damaged.path().join("predictions.csv"), csv).unwrap();
    std::fs::write(damaged.path().join("fairness.json"), "{\"meta\": ").unwrap();
    let output = xtask(&[
        "fairness",
        damaged.path().join("predictions.csv").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("fairness.json cannot be read ("),
        "{stderr}"
    );

    // The same file elsewhere, without the report beside it: both errors name the flag and
    // the values present.
    let alone = dir.path().join("alone.csv");
    std::fs::write(&alone, csv).unwrap();
    let output = xtask(&["fairness", alone.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("missing column `group`")
            && stderr.contains(
                "e.g. --sensitive tone,sex, or name a compound group column with --group-column"
            ),
        "{stderr}"
    );
    let output = xtask(&[
        "fairness",
        alone.to_str().unwrap(),
        "--sensitive",
        "tone,sex",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("positive label `1` occurs in neither y_true nor y_pred (labels: no, yes); pass --pos-label with one of them, e.g. --pos-label yes"),
        "{stderr}"
    );
}

#[test]
fn a_file_that_cannot_be_read_is_named_with_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    for (path, cause) in [
        (dir.path().join("nowhere.csv"), "os error 2"),
        (dir.path().to_owned(), "os error 21"),
    ] {
        let output = xtask(&["fairness", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(
            stderr.contains(path.to_str().unwrap()) && stderr.matches(cause).count() == 1,
            "{stderr}"
        );
    }
}

/// `--confidence` as users write it: a level in (0, 1) reads; a percentage (`95`, `95%`),
/// a level out of range and one given without `--bootstrap` (where it sets nothing) are
/// refused, saying what to write.
#[test]
fn confidence_levels_as_users_write_them() {
    let audit = |extra: &[&str]| {
        let mut args = vec![
            "fairness",
            DEMO,
            "--sensitive",
            "race,gender",
            "--pos-label",
            "Male",
        ];
        args.extend_from_slice(extra);
        xtask(&args)
    };
    let ok = audit(&["--bootstrap", "50", "--confidence", "0.9"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(stdout_json(&ok)["bootstrap"]["confidence"], 0.9);
    for (value, says) in [
        ("95", "`95` is a percentage: write it as the fraction 0.95"),
        (
            "95%",
            "`95%` is a percentage: write it as the fraction 0.95",
        ),
        (
            "1",
            "`1` is not a level between 0 and 1 (exclusive), such as 0.95",
        ),
        (
            "0",
            "`0` is not a level between 0 and 1 (exclusive), such as 0.95",
        ),
        (
            "-0.5",
            "`-0.5` is not a level between 0 and 1 (exclusive), such as 0.95",
        ),
        ("high", "`high` is not a number: write a level such as 0.95"),
    ] {
        let output = audit(&["--bootstrap", "50", "--confidence", value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(says),
            "{value}: {stderr}"
        );
    }
    let output = audit(&["--confidence", "0.9"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("--confidence sets the level of the bootstrap intervals"),
        "{stderr}"
    );
}
