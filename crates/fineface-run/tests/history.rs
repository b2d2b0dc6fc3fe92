//! `metrics.csv` and `val_groups.csv` written and read back, and every kind of bad file
//! refused with its path, line and cause.

#![allow(clippy::unwrap_used)] // Test fixtures panic on broken set-ups by design.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fineface_run::{
    Column, EpochMetrics, FinishedRun, Loss, RunError, RunFiles, read_history, write_history,
};

fn epoch(epoch: usize, losses: &[Loss]) -> EpochMetrics {
    let e = epoch as f64;
    EpochMetrics {
        epoch,
        lr_backbone: 1e-4 / e,
        lr_new: 1e-3 / e,
        losses: losses
            .iter()
            .enumerate()
            .map(|(i, &l)| (l, 0.7 / e + i as f64 * 0.01))
            .collect(),
        train_accuracy: 0.6 + 0.01 * e,
        val_accuracy: 0.55 + 0.02 * e,
        val_accuracy_concat: 0.5 + 0.02 * e,
        val_accuracy_heads: 0.52 + 0.02 * e,
        val_worst_group_accuracy: 0.4 + 0.01 * e,
        val_worst_group: "Black|Female / Indian|Male".to_owned(),
        val_dob: 0.05 / e,
        val_groups: BTreeMap::from([
            ("Black|Female".to_owned(), 0.4 + 0.01 * e),
            ("White, \"Male\"".to_owned(), 0.75),
        ]),
        seconds: 12.345,
        train_seconds: 10.5,
        train_images_per_second: 171.43,
        rss_mb: 812.3,
        peak_rss_mb: 900.1,
        skipped_images: epoch - 1,
    }
}

/// `text` (a header and one row, no quoted cells) without the column `name`.
fn drop_column(text: &str, name: &str) -> String {
    edit_column(text, name, |_| None)
}

/// `text` with the row's cell of column `name` replaced by `value`.
fn set_cell(text: &str, name: &str, value: &str) -> String {
    edit_column(text, name, |_| Some(value.to_owned()))
}

fn edit_column(text: &str, name: &str, cell: impl Fn(&str) -> Option<String>) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let at = lines[0].iter().position(|c| *c == name).unwrap();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let mut cells: Vec<String> = line.iter().map(|c| (*c).to_owned()).collect();
        match (i, cell(&cells[at])) {
            (0, Some(_)) => {}
            (_, Some(value)) => cells[at] = value,
            (_, None) => {
                cells.remove(at);
            }
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    let files = RunFiles::new(dir);
    (files.metrics(), files.val_groups())
}

#[test]
fn a_history_reads_back_as_it_was_written_for_either_method() {
    let fineface = Loss::FINEFACE;
    for losses in [&fineface[..], &[Loss::CrossEntropy]] {
        let dir = tempfile::tempdir().unwrap();
        let (metrics, groups) = paths(dir.path());
        let history: Vec<EpochMetrics> = (1..=3).map(|e| epoch(e, losses)).collect();
        write_history(&metrics, &groups, &history).unwrap();
        let read = read_history(&metrics, &groups).unwrap();
        assert_eq!(read.epochs, history);
        assert_eq!(read.columns, Column::all(losses));
        let header = std::fs::read_to_string(&metrics).unwrap();
        let header = header.lines().next().unwrap();
        assert!(
            header.starts_with("epoch,lr_backbone,lr_new,loss_"),
            "{header}"
        );
        assert!(
            header.ends_with(",rss_mb,peak_rss_mb,skipped_images,val_worst_group"),
            "{header}"
        );
    }
}

/// The files a run of an earlier version wrote: no `val_worst_group`, `train_seconds` or
/// `train_images_per_second`, the baseline's loss named `loss`.
#[test]
fn files_of_earlier_versions_read_with_what_they_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (metrics, groups) = paths(dir.path());
    std::fs::write(
        &metrics,
        "epoch,lr_backbone,lr_new,loss_loss,train_accuracy,val_accuracy,val_accuracy_concat,\
         val_accuracy_heads,val_worst_group_accuracy,val_dob,seconds,rss_mb,peak_rss_mb,\
         skipped_images\n1,0.0002,0.002,0.61,0.70,0.72,0.72,0.72,0.55,0.06,10.5,300,310,0\n",
    )
    .unwrap();
    std::fs::write(&groups, "epoch,group,accuracy\n1,Black|Female,0.55\n").unwrap();
    let read = read_history(&metrics, &groups).unwrap();
    let only = &read.epochs[0];
    assert_eq!(only.losses, [(Loss::CrossEntropy, 0.61)]);
    assert_eq!(
        (only.train_seconds, only.val_worst_group.as_str()),
        (0.0, "")
    );
    assert_eq!(only.val_groups["Black|Female"], 0.55);
    assert!(!read.columns.contains(&Column::TrainSeconds));
    // Without val_groups.csv (a folder copied without it), no groups: a warning says so.
    std::fs::remove_file(&groups).unwrap();
    assert!(
        read_history(&metrics, &groups).unwrap().epochs[0]
            .val_groups
            .is_empty()
    );
}

/// One broken history: the two files, and where and why it is refused.
struct Bad {
    kind: &'static str,
    metrics: String,
    groups: String,
    file: &'static str,
    line: u64,
    cause: &'static str,
}

/// Each kind of broken `metrics.csv`, as the files of a one-epoch baseline run altered.
fn bad_metrics(good: &str, groups: &str) -> Vec<Bad> {
    let (header, row) = good.trim_end().split_once('\n').unwrap();
    let bad = |kind, metrics: String, line, cause| Bad {
        kind,
        metrics,
        groups: groups.to_owned(),
        file: "metrics.csv",
        line,
        cause,
    };
    let two_losses = good
        .replacen("loss_cross_entropy", "loss_cross_entropy,loss_concat", 1)
        .replacen("\n1,", "\n1,0.1,", 1);
    vec![
        bad(
            "unknown column",
            good.replacen("val_dob", "val_bias", 1),
            1,
            "unknown column `val_bias`",
        ),
        bad(
            "unknown loss",
            good.replacen("loss_cross_entropy", "loss_focal", 1),
            1,
            "unknown column `loss_focal`",
        ),
        bad(
            "repeated column",
            format!("{header},epoch\n{row},1\n"),
            1,
            "column `epoch` appears twice",
        ),
        bad(
            "missing column",
            drop_column(good, "val_accuracy"),
            1,
            "no `val_accuracy` column",
        ),
        bad(
            "trailing comma",
            format!("{header},\n{row},\n"),
            1,
            "an empty column name",
        ),
        bad(
            "no loss",
            drop_column(good, "loss_cross_entropy"),
            1,
            "the loss columns [] are neither",
        ),
        bad(
            "losses of two methods",
            two_losses,
            1,
            "are neither FineFACE's",
        ),
        bad(
            "empty file",
            String::new(),
            1,
            "no header: the file is empty",
        ),
        bad("header only", format!("{header}\n"), 2, "no epochs"),
        bad(
            "not a number",
            set_cell(good, "val_dob", "low"),
            2,
            "`low` in val_dob is not a finite number",
        ),
        bad(
            "empty cell",
            set_cell(good, "seconds", ""),
            2,
            "`` in seconds is not a finite number",
        ),
        bad(
            "not finite",
            set_cell(good, "val_dob", "NaN"),
            2,
            "`NaN` in val_dob is not a finite number",
        ),
        bad(
            "infinite",
            set_cell(good, "seconds", "inf"),
            2,
            "`inf` in seconds is not a finite number",
        ),
        bad(
            "negative count",
            format!("{header}\n{}\n", row.replacen("1,", "-1,", 1)),
            2,
            "`-1` in epoch is not a count",
        ),
        bad(
            "epoch zero",
            set_cell(good, "epoch", "0"),
            2,
            "epoch 0 where epoch 1 was due",
        ),
        bad(
            "epoch repeated",
            format!("{header}\n{row}\n{row}\n"),
            3,
            "epoch 1 where epoch 2 was due",
        ),
        bad(
            "short row",
            format!("{header}\n1,0.1\n"),
            2,
            "found record with 2 fields",
        ),
    ]
}

/// Each kind of broken `val_groups.csv` beside a good `metrics.csv`.
fn bad_groups(metrics: &str, good: &str) -> Vec<Bad> {
    let bad = |kind, groups: String, line, cause| Bad {
        kind,
        metrics: metrics.to_owned(),
        groups,
        file: "val_groups.csv",
        line,
        cause,
    };
    vec![
        bad(
            "groups header",
            "epoch,subgroup,accuracy\n".to_owned(),
            1,
            "the header is not `epoch,group,accuracy`",
        ),
        bad(
            "group of no epoch",
            format!("{good}7,Black|Female,0.5\n"),
            4,
            "epoch 7 is not in",
        ),
        bad(
            "group accuracy",
            format!("{good}1,Black|Male,high\n"),
            4,
            "`high` is not an accuracy",
        ),
        bad(
            "group not finite",
            format!("{good}1,Black|Male,NaN\n"),
            4,
            "`NaN` is not an accuracy",
        ),
        bad(
            "group twice",
            format!("{good}1,Black|Female,0.5\n"),
            4,
            "group `Black|Female` of epoch 1 appears twice",
        ),
    ]
}

/// Each kind of broken `metrics.csv` or `val_groups.csv`, and the line and cause it is
/// refused with.
#[test]
fn every_kind_of_bad_history_is_refused_with_its_file_line_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (metrics, groups) = paths(dir.path());
    write_history(&metrics, &groups, &[epoch(1, &Loss::BASELINE)]).unwrap();
    let good_metrics = std::fs::read_to_string(&metrics).unwrap();
    let good_groups = std::fs::read_to_string(&groups).unwrap();
    let cases = bad_metrics(&good_metrics, &good_groups)
        .into_iter()
        .chain(bad_groups(&good_metrics, &good_groups));
    for case in cases {
        std::fs::write(&metrics, &case.metrics).unwrap();
        std::fs::write(&groups, &case.groups).unwrap();
        let kind = case.kind;
        let error = read_history(&metrics, &groups).unwrap_err();
        let RunError::Csv { path, line, .. } = &error else {
            panic!("{kind}: {error:?}");
        };
        let message = error.to_string();
        assert!(path.ends_with(case.file), "{kind}: {message}");
        assert_eq!(*line, case.line, "{kind}: {message}");
        assert!(message.contains(case.cause), "{kind}: {message}");
    }
    // Bytes that are not UTF-8, and a file that is not there.
    std::fs::write(&metrics, b"epoch\xff,lr\n").unwrap();
    let error = read_history(&metrics, &groups).unwrap_err();
    assert!(matches!(error, RunError::Csv { line: 1, .. }), "{error}");
    std::fs::remove_file(&metrics).unwrap();
    let error = read_history(&metrics, &groups).unwrap_err();
    assert!(
        matches!(&error, RunError::Io { path, .. } if path == &metrics),
        "{error}"
    );
}

#[test]
fn a_history_whose_epochs_report_different_losses_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let (metrics, groups) = paths(dir.path());
    let history = [epoch(1, &Loss::BASELINE), epoch(2, &Loss::FINEFACE)];
    let error = write_history(&metrics, &groups, &history).unwrap_err();
    assert!(
        matches!(&error, RunError::Csv { line: 3, message, .. } if message.contains("epoch 2 reports")),
        "{error}"
    );
    assert!(!metrics.exists());
}

#[test]
fn a_folder_that_is_not_a_finished_run_names_the_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let error = FinishedRun::open(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("run.json") && error.contains("not a finished run folder"),
        "{error}"
    );
    let files = RunFiles::new(dir.path());
    std::fs::write(files.info(), "{}").unwrap();
    let error = FinishedRun::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("summary.json"), "{error}");
}
