//! `cargo xtask report` and `cargo xtask compare` on run folders laid out as `fineface train`
//! writes them, with the fairness report computed by `cargo xtask fairness`.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::repo;

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

/// A finished run folder whose test predictions are the demo file, with the given summary.
fn fake_run(dir: &Path, method: &str, accuracy: f64, dob: f64) {
    std::fs::create_dir_all(dir.join("test")).unwrap();
    std::fs::write(
        dir.join("run.json"),
        format!(r#"{{"name": "fairface-{method}", "method": "{method}", "dataset": "fairface", "target": "gender", "classes": ["Female", "Male"], "sensitive": ["race", "gender"], "split_sizes": [], "version": "0.1.0"}}"#),
    )
    .unwrap();
    std::fs::write(
        dir.join("metrics.csv"),
        "epoch,lr_backbone,lr_new,loss_loss,train_accuracy,val_accuracy,val_accuracy_concat,val_accuracy_heads,val_worst_group_accuracy,val_dob,seconds,rss_mb,peak_rss_mb,skipped_images\n\
         1,0.0002,0.002,0.61,0.70,0.72,0.72,0.72,0.55,0.06,10.5,300,310,0\n\
         2,0.0001,0.001,0.45,0.80,0.81,0.81,0.81,0.70,0.04,10.1,301,311,0\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("test/summary.json"),
        format!(r#"{{"n": 1000, "accuracy": {accuracy}, "accuracy_concat": {accuracy}, "accuracy_heads": {accuracy}, "worst_group_accuracy": 0.8, "worst_group": "Black|Female", "dob": {dob}, "ser": 2.5}}"#),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("name = \"fairface-{method}\"\nmethod = \"{method}\"\n"),
    )
    .unwrap();
    let fairness = dir.join("test/fairness.json");
    let output = xtask(&[
        "fairness",
        "tests/data/demo_predictions.csv",
        "--sensitive",
        "race,gender",
        "--pos-label",
        "Male",
        "--out",
        fairness.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn report_writes_markdown_with_curves_and_subgroup_chart() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    let output = xtask(&["report", run.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    // Group names join values with `|`, escaped inside table cells.
    assert!(md.contains("| East Asian\\|Female |"), "{md}");
    assert!(md.contains("| worst group | Black\\|Female |"), "{md}");
    assert!(
        md.contains("| accuracy (final prediction, %) | 93.00 |"),
        "{md}"
    );
    assert!(md.contains("```toml\nname = \"fairface-fineface\""), "{md}");
    let curves = std::fs::read_to_string(run.join("curves.svg")).unwrap();
    assert!(
        curves.starts_with("<svg")
            && curves.contains("loss_loss")
            && curves.contains("val_accuracy")
    );
    let groups = std::fs::read_to_string(run.join("groups.svg")).unwrap();
    // 14 FairFace subgroups, one bar each.
    assert!(groups.contains("Southeast Asian|Male"), "{groups}");
}

#[test]
fn report_reads_an_infinite_ser_and_the_skipped_images() {
    // `test/summary.json` writes an infinite SER as `fairness.json` does: `"inf"`.
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run-001");
    fake_run(&run, "fineface", 0.93, 0.02);
    std::fs::write(
        run.join("test/summary.json"),
        r#"{"n": 1000, "accuracy": 0.93, "accuracy_concat": 0.93, "accuracy_heads": 0.93, "worst_group_accuracy": 0.8, "worst_group": "Black|Female", "dob": 0.02, "ser": "inf", "skipped": 3}"#,
    )
    .unwrap();
    let output = xtask(&["report", run.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.contains("| SER: worst / best group error | inf |"),
        "{md}"
    );
    assert!(
        md.contains("| images skipped (could not be decoded) | 3 |"),
        "{md}"
    );
}

#[test]
fn compare_tables_runs_side_by_side_with_a_scatter() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("fineface");
    let b = dir.path().join("baseline");
    fake_run(&a, "fineface", 0.964, 0.006);
    fake_run(&b, "baseline", 0.932, 0.042);
    let out = dir.path().join("cmp");
    let output = xtask(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.contains(
            "| fairface-fineface (fineface) | fineface | fairface | 96.40 | 0.60 | 2.500 |"
        ),
        "{table}"
    );
    assert!(
        table.contains("| fairface-baseline (baseline) | baseline | fairface | 93.20 | 4.20 |"),
        "{table}"
    );
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(
        svg.contains("fairface-fineface") && svg.contains("<circle"),
        "{svg}"
    );
    assert!(
        std::fs::read_to_string(out.join("compare.md"))
            .unwrap()
            .contains("compare.svg")
    );
}

#[test]
fn report_on_a_folder_that_is_not_a_run_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = xtask(&["report", dir.path().to_str().unwrap()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run.json"), "{stderr}");
}
