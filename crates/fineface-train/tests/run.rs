//! Whole runs on a tiny generated SynthFace: resume equals an uninterrupted run, a kill
//! during a checkpoint write leaves the previous one usable, and the predictions CSV feeds
//! the fairness report unchanged.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::{Path, PathBuf};

use fineface_fair::{AuditOptions, CsvSpec, SensitiveColumns, SubgroupReport};
use fineface_model::CpuAutodiff;
use fineface_train::{
    CHECKSUMS_FILE, Checkpoints, ExperimentConfig, Method, RunOptions, TrainState, train,
};

mod common;

use common::{assert_documented, files_under, tiny_config};

fn options(run_dir: PathBuf) -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::new(run_dir)
    }
}

/// `config` trained on with `--resume` in the run folder `run`.
fn resume(
    config: &ExperimentConfig,
    devices: &[burn::tensor::Device<CpuAutodiff>],
    run: PathBuf,
) -> fineface_train::Result<fineface_train::RunSummary> {
    train::<CpuAutodiff>(
        config,
        devices,
        &RunOptions {
            resume: true,
            ..options(run)
        },
    )
}

/// `metrics.csv` without the columns that measure the machine (time, memory).
fn metrics_without_timing(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let keep: Vec<usize> = header
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            ![
                "seconds",
                "train_seconds",
                "train_images_per_second",
                "rss_mb",
                "peak_rss_mb",
            ]
            .contains(h)
        })
        .map(|(i, _)| i)
        .collect();
    std::iter::once(text.lines().next().unwrap().to_owned())
        .chain(lines.map(|l| {
            let fields: Vec<&str> = l.split(',').collect();
            keep.iter()
                .map(|&i| fields[i])
                .collect::<Vec<_>>()
                .join(",")
        }))
        .collect()
}

#[test]
fn a_resumed_run_ends_exactly_like_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let config = tiny_config(&data, Method::FineFace);
    let device = vec![Default::default()];

    let whole = dir.path().join("whole");
    let summary = train::<CpuAutodiff>(&config, &device, &options(whole.clone())).unwrap();
    assert_eq!(summary.epochs, 3);
    let test = summary.test.unwrap();

    // The same run, killed after epoch 1 ...
    let split = dir.path().join("split");
    let stopped = train::<CpuAutodiff>(
        &config,
        &device,
        &RunOptions {
            stop_after_epoch: Some(1),
            ..options(split.clone())
        },
    )
    .unwrap();
    assert_eq!(stopped.epochs, 1);
    assert!(stopped.test.is_none());
    // ... in the middle of writing epoch 2's checkpoint: a half-written staging folder.
    let staging = split.join("checkpoints").join(".staging-epoch-002");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::write(staging.join("model.mpk"), b"half a model").unwrap();
    let latest = Checkpoints::new(&split).latest().unwrap().unwrap();
    assert!(latest.ends_with("epoch-001"), "{}", latest.display());

    // ... and resumed.
    let resumed = resume(&config, &device, split.clone()).unwrap();
    assert_eq!(resumed.epochs, 3);
    assert_eq!(resumed.best, summary.best);
    assert_eq!(resumed.test.unwrap(), test);
    assert_eq!(
        metrics_without_timing(&split),
        metrics_without_timing(&whole)
    );
    let predictions =
        |run: &Path| std::fs::read_to_string(run.join("test/predictions.csv")).unwrap();
    assert_eq!(predictions(&split), predictions(&whole));
    let state: TrainState = serde_json::from_str(
        &std::fs::read_to_string(split.join("checkpoints/epoch-003/state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state.epochs_done, 3);
    assert_eq!(state.step, 3 * 8, "3 epochs of 8 full batches");
    // The newest checkpoint and the one before it are kept.
    let mut kept: Vec<_> = std::fs::read_dir(split.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("epoch-"))
        .collect();
    kept.sort();
    assert_eq!(kept, ["epoch-002", "epoch-003"]);
}

/// A copy of the folder `from` at `to`.
fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Checkpoints as an older version wrote them (no checksums) and a damaged `best.mpk`, each
/// found at the start of a resume: a newest checkpoint that does not decode falls back to
/// the older one; a `best.mpk` that does not load is written again from its epoch's
/// checkpoint, or refused before training when that checkpoint is gone; a width edited
/// since the run is named from the run's state, not blamed on its weights.
#[test]
fn a_resume_checks_what_it_will_need_before_it_trains() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.crop_grid_images = 0;
    let device = vec![Default::default()];
    let whole = dir.path().join("whole");
    train::<CpuAutodiff>(&config, &device, &options(whole.clone())).unwrap();
    let predictions =
        |run: &Path| std::fs::read_to_string(run.join("test/predictions.csv")).unwrap();
    let stopped = dir.path().join("stopped");
    train::<CpuAutodiff>(
        &config,
        &device,
        &RunOptions {
            stop_after_epoch: Some(2),
            ..options(stopped.clone())
        },
    )
    .unwrap();
    let copy = |name: &str| {
        let run = dir.path().join(name);
        copy_dir(&stopped, &run);
        run
    };
    let cut = |file: &Path| {
        let bytes = std::fs::read(file).unwrap();
        std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
    };

    // No checksums (an older version), the newest model cut short: epoch 1's is used.
    let unsummed = copy("unsummed");
    for epoch in ["epoch-001", "epoch-002"] {
        std::fs::remove_file(
            unsummed
                .join("checkpoints")
                .join(epoch)
                .join(CHECKSUMS_FILE),
        )
        .unwrap();
    }
    cut(&unsummed.join("checkpoints/epoch-002/model.mpk"));
    resume(&config, &device, unsummed.clone()).unwrap();
    assert_eq!(predictions(&unsummed), predictions(&whole));

    // best.mpk cut short while its epoch's checkpoint is kept: written again from it.
    let restorable = copy("restorable");
    let best = restorable.join("best.mpk");
    let selected = std::fs::read(&best).unwrap();
    cut(&best);
    resume(&config, &device, restorable.clone()).unwrap();
    assert_eq!(predictions(&restorable), predictions(&whole));
    let mut extended = config.clone();
    extended.train.epochs = 2;
    let again = copy("again");
    cut(&again.join("best.mpk"));
    // Resumed with nothing left to train: the restored file is the selected one, byte for byte.
    resume(&extended, &device, again.clone()).unwrap();
    assert_eq!(std::fs::read(again.join("best.mpk")).unwrap(), selected);

    // best.mpk of another epoch than the resumed state selected (a newer checkpoint lost
    // after it was written): written again from the selected epoch's checkpoint.
    let stale = copy("stale");
    let newest = stale.join("checkpoints/epoch-002");
    std::fs::remove_file(newest.join(CHECKSUMS_FILE)).unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(newest.join("state.json")).unwrap()).unwrap();
    state["best"][1] = serde_json::json!(1);
    std::fs::write(newest.join("state.json"), state.to_string()).unwrap();
    let mut best_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stale.join("best.json")).unwrap()).unwrap();
    best_json["epoch"] = serde_json::json!(2);
    std::fs::write(stale.join("best.json"), best_json.to_string()).unwrap();
    resume(&extended, &device, stale.clone()).unwrap();
    let best_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stale.join("best.json")).unwrap()).unwrap();
    assert_eq!(best_json["epoch"], 1);

    // best.mpk cut short, its epoch's checkpoint gone: refused before any training.
    let lost = copy("lost");
    let newest = lost.join("checkpoints/epoch-002");
    std::fs::remove_file(newest.join(CHECKSUMS_FILE)).unwrap();
    let state_file = newest.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    state["best"][1] = serde_json::json!(1);
    std::fs::write(&state_file, state.to_string()).unwrap();
    std::fs::remove_dir_all(lost.join("checkpoints/epoch-001")).unwrap();
    cut(&lost.join("best.mpk"));
    let metrics = std::fs::read_to_string(lost.join("metrics.csv")).unwrap();
    let error = resume(&config, &device, lost.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "{}: the weights selected at epoch 1 do not load (",
            lost.join("best.mpk").display()
        )) && error.ends_with(
            "and the checkpoint of that epoch is pruned: restore best.mpk from a copy of the \
             run, or train it again"
        ),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(lost.join("metrics.csv")).unwrap(),
        metrics
    );

    // A width edited since: named as the setting, not as weights that do not fit.
    let edited = copy("edited");
    let mut wider = config.clone();
    wider.model.width = 8;
    let error = resume(&wider, &device, edited).unwrap_err().to_string();
    assert!(
        error.contains("model.width = 8 (the run trained with 4)") && !error.contains("mpk"),
        "{error}"
    );

    // No checksums and every model cut short: each checkpoint named, and what to do.
    let ruined = copy("ruined");
    for epoch in ["epoch-001", "epoch-002"] {
        let folder = ruined.join("checkpoints").join(epoch);
        std::fs::remove_file(folder.join(CHECKSUMS_FILE)).unwrap();
        cut(&folder.join("model.mpk"));
    }
    let error = resume(&config, &device, ruined.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "no intact checkpoint in {} to resume from: {} is damaged: ",
            ruined.join("checkpoints").display(),
            ruined.join("checkpoints/epoch-002/model.mpk").display()
        )) && error.contains(&format!(
            "; {} is damaged: ",
            ruined.join("checkpoints/epoch-001/model.mpk").display()
        )) && error.ends_with("restore the run from a copy, or start it again"),
        "{error}"
    );

    // best.mpk cut short and its epoch's checkpoint kept but damaged: said as damaged.
    let damaged = copy("damaged");
    let newest = damaged.join("checkpoints/epoch-002");
    std::fs::remove_file(newest.join(CHECKSUMS_FILE)).unwrap();
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(newest.join("state.json")).unwrap()).unwrap();
    state["best"][1] = serde_json::json!(1);
    std::fs::write(newest.join("state.json"), state.to_string()).unwrap();
    cut(&damaged.join("checkpoints/epoch-001/model.mpk"));
    cut(&damaged.join("best.mpk"));
    let error = resume(&config, &device, damaged).unwrap_err().to_string();
    assert!(
        error.contains("and the checkpoint of that epoch is damaged too: restore best.mpk"),
        "{error}"
    );

    // Images lost from the data since the run started (a folder half copied): refused.
    let labels = dir.path().join("synthface/labels.csv");
    let text = std::fs::read_to_string(&labels).unwrap();
    let fewer: String = text.lines().take(60).map(|l| format!("{l}\n")).collect();
    std::fs::write(&labels, fewer).unwrap();
    let shrunk = copy("shrunk");
    let error = resume(&config, &device, shrunk.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "{}: the run's splits held other numbers of images (",
            shrunk.join("run.json").display()
        )) && error.contains("train "),
        "{error}"
    );
    std::fs::write(&labels, &text).unwrap();
    // The labels renamed in the data since the run started: output 1 would change meaning.
    std::fs::write(&labels, text.replace(",yes,", ",smiley,")).unwrap();
    let renamed = copy("renamed");
    let error = resume(&config, &device, renamed.clone())
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}: the run trained on the classes `no`, `yes` but its dataset now has `no`, \
             `smiley`: the labels changed since the run started; resume on the data it trained \
             on, or start a new run",
            renamed.join("run.json").display()
        )
    );
}

#[test]
fn a_damaged_checkpoint_is_named_and_the_resume_falls_back_to_the_newest_intact_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.epochs = 2;
    config.train.crop_grid_images = 0;
    let device = vec![Default::default()];
    let run = dir.path().join("run");
    // A later epoch's folder left in the run folder by an earlier run: removed at the first
    // save, never counted as one of the two kept.
    let stale = run.join("checkpoints/epoch-009");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("state.json"), "{}").unwrap();
    let whole = train::<CpuAutodiff>(&config, &device, &options(run.clone())).unwrap();
    assert!(!stale.exists());
    let predictions = || std::fs::read_to_string(run.join("test/predictions.csv")).unwrap();
    let uninterrupted = predictions();
    let checkpoints = run.join("checkpoints");
    for epoch in ["epoch-001", "epoch-002"] {
        assert!(
            checkpoints.join(epoch).join(CHECKSUMS_FILE).is_file(),
            "{epoch}"
        );
    }

    // Epoch 2's model cut to half its size, as a full disk or a killed copy leaves it.
    let model = checkpoints.join("epoch-002/model.mpk");
    let bytes = std::fs::read(&model).unwrap();
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let point = Checkpoints::new(&run).resume_point().unwrap().unwrap();
    assert!(
        point.path.ends_with("epoch-001"),
        "{}",
        point.path.display()
    );
    assert_eq!(
        point.damaged[0].to_string(),
        format!(
            "{} is damaged: it has {} bytes, {} were written",
            model.display(),
            bytes.len() / 2,
            bytes.len()
        )
    );
    // The resume redoes epoch 2 from epoch 1's checkpoint and ends where the run did.
    let resumed = resume(&config, &device, run.clone()).unwrap();
    assert_eq!(resumed.epochs, 2);
    assert_eq!(resumed.test, whole.test);
    assert_eq!(predictions(), uninterrupted);

    // Both checkpoints damaged (one byte of epoch 1's optimiser flipped): a clear stop.
    std::fs::write(&model, &bytes[..bytes.len() / 2]).unwrap();
    let optimizer = checkpoints.join("epoch-001/optimizer.mpk");
    let mut flipped = std::fs::read(&optimizer).unwrap();
    flipped[10] ^= 0x01;
    std::fs::write(&optimizer, flipped).unwrap();
    let error = resume(&config, &device, run.clone())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "no intact checkpoint in {} to resume from: {} is damaged: it has",
            checkpoints.display(),
            model.display()
        )) && error.ends_with(&format!(
            "{} is damaged: its SHA-256 differs from the one recorded when it was written; \
             restore the run from a copy, or start it again",
            optimizer.display()
        )),
        "{error}"
    );
    assert!(!error.contains("record-backward-compat"), "{error}");

    // A checksum list that covers nothing, or a checkpoint without its state, is damaged too.
    std::fs::write(&model, &bytes).unwrap();
    std::fs::write(checkpoints.join("epoch-002").join(CHECKSUMS_FILE), "{}").unwrap();
    std::fs::remove_file(checkpoints.join("epoch-001/state.json")).unwrap();
    let error = Checkpoints::new(&run)
        .resume_point()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("epoch-002/checksums.json is damaged: it lists no checksum for model.mpk")
            && error.contains("epoch-001/state.json is damaged: it is missing"),
        "{error}"
    );
}

#[test]
fn the_predictions_csv_feeds_the_fairness_report_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let mut config = tiny_config(&data, Method::Baseline);
    config.train.epochs = 1;
    let run = dir.path().join("run");
    train::<CpuAutodiff>(&config, &[Default::default()], &options(run.clone())).unwrap();
    for file in [
        "config.toml",
        "run.json",
        "metrics.csv",
        "val_groups.csv",
        "train.log",
        "best.mpk",
        "summary.json",
        "test/fairness.md",
    ] {
        if file != "train.log" {
            assert!(run.join(file).is_file(), "{file} missing");
        }
    }
    // What `cargo xtask fairness test/predictions.csv --sensitive tone,sex --pos-label yes` reads.
    let spec = CsvSpec {
        sensitive: SensitiveColumns::Columns(vec!["tone".to_owned(), "sex".to_owned()]),
        ..CsvSpec::default()
    };
    let table =
        fineface_fair::read_predictions_csv(run.join("test/predictions.csv"), &spec).unwrap();
    let options = AuditOptions {
        pos_label: "yes".to_owned(),
        bootstrap: None,
    };
    let recomputed = fineface_fair::audit(&table, &options).unwrap();
    let written: SubgroupReport =
        serde_json::from_str(&std::fs::read_to_string(run.join("test/fairness.json")).unwrap())
            .unwrap();
    assert_eq!(recomputed.groups, written.groups);
    assert_eq!(recomputed.aggregates, written.aggregates);
    assert_eq!(recomputed.overall, written.overall);
    assert_eq!(written.meta.grouping.features, ["tone", "sex"]);
    // The run's own config reads back as it was written (deny_unknown_fields, defaults).
    let reread = ExperimentConfig::from_file(&run.join("config.toml")).unwrap();
    assert_eq!(reread, config);
    // Each class's probability, not the predicted class's: P(yes) below 0.5 where `no` is
    // predicted, as scikit-learn's predict_proba[:, 1] would be.
    let mut reader = csv::Reader::from_path(run.join("test/predictions.csv")).unwrap();
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "path",
            "y_true",
            "y_pred",
            "y_pred_concat",
            "y_pred_heads",
            "p_no",
            "p_yes",
            "tone",
            "sex"
        ]
    );
    let mut predicted_no = 0;
    for record in reader.records() {
        let record = record.unwrap();
        let (p_no, p_yes): (f64, f64) = (record[5].parse().unwrap(), record[6].parse().unwrap());
        assert!((p_no + p_yes - 1.0).abs() <= 2e-6, "{record:?}");
        assert_eq!(
            &record[2],
            if p_yes > p_no { "yes" } else { "no" },
            "{record:?}"
        );
        predicted_no += usize::from(&record[2] == "no");
    }
    assert!(predicted_no > 0, "the test needs both predictions");
    // Every file and every CSV column of the run is documented.
    let classes = ["no".to_owned(), "yes".to_owned()];
    let sensitive = ["tone".to_owned(), "sex".to_owned()];
    assert_documented(&run, &files_under(&run), &classes, &sensitive);
}

#[test]
fn eval_records_every_skipped_image_with_its_reason_in_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let mut config = tiny_config(&data, Method::Baseline);
    config.train.epochs = 1;
    config.train.crop_grid_images = 0;
    let run = dir.path().join("run");
    train::<CpuAutodiff>(&config, &[Default::default()], &options(run.clone())).unwrap();
    // Damage four test images: truncated, empty, not an image, a corrupted byte.
    let dataset = config.data.load(&config.split).unwrap();
    let test = dataset.split(fineface_data::Split::Test);
    let n_test = test.len();
    let bytes = std::fs::read(&test[0].path).unwrap();
    std::fs::write(&test[0].path, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(&test[1].path, b"").unwrap();
    std::fs::write(&test[2].path, b"not an image").unwrap();
    let mut bytes = std::fs::read(&test[3].path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&test[3].path, bytes).unwrap();
    let damaged: Vec<String> = test[..4].iter().map(|s| s.file.clone()).collect();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .args(["eval", "--run", run.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("({} images scored, 4 skipped)", n_test - 4)),
        "{stdout}"
    );
    let out = run.join("eval-synthface-test");
    let summary: fineface_fair::SplitSummary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!((summary.n, summary.skipped), (n_test - 4, 4));
    let report: SubgroupReport =
        serde_json::from_str(&std::fs::read_to_string(out.join("fairness.json")).unwrap()).unwrap();
    assert_eq!(report.meta.n_rows as usize, n_test - 4);
    assert_eq!(report.meta.skipped, summary.skipped_images);
    let mut files: Vec<&str> = report
        .meta
        .skipped
        .iter()
        .map(|s| s.file.as_str())
        .collect();
    files.sort();
    let mut expected: Vec<&str> = damaged.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(files, expected);
    let reason = |file: &str| {
        report
            .meta
            .skipped
            .iter()
            .find(|s| s.file == file)
            .unwrap()
            .reason
            .clone()
    };
    assert!(
        reason(&damaged[0]).contains("truncated"),
        "{}",
        reason(&damaged[0])
    );
    assert!(
        reason(&damaged[1]).contains("empty"),
        "{}",
        reason(&damaged[1])
    );
    let markdown = std::fs::read_to_string(out.join("fairness.md")).unwrap();
    assert!(
        markdown.contains("- skipped before scoring: 4 (the rows above are the scored ones)"),
        "{markdown}"
    );
    for file in &damaged {
        assert!(markdown.contains(&format!("  - `{file}`: ")), "{markdown}");
    }
    // A second evaluation into the same folder is refused unless asked for: a result is
    // never overwritten silently.
    let again = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
            .args([&["eval", "--run", run.to_str().unwrap()], extra].concat())
            .output()
            .unwrap()
    };
    let output = again(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("eval-synthface-test already holds an evaluation")
            && stderr.contains("--replace"),
        "{stderr}"
    );
    assert!(again(&["--replace"]).status.success());

    // Over the whole dataset, a file the reader left out (listed, absent) is recorded too.
    std::fs::remove_file(&dataset.split(fineface_data::Split::Train)[0].path).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .args(["eval", "--run", run.to_str().unwrap(), "--split", "all"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let summary: fineface_fair::SplitSummary = serde_json::from_str(
        &std::fs::read_to_string(run.join("eval-synthface-all/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary.skipped, 5);
    assert!(
        summary
            .skipped_images
            .iter()
            .any(|s| s.reason.contains("absent")),
        "{:?}",
        summary.skipped_images
    );
}

#[test]
fn two_cpu_replicas_train_a_whole_run_data_parallel() {
    // The update itself is compared with one device in tests/steps.rs; here the run
    // around it: two replicas through every epoch, validation and the test report.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let mut config = tiny_config(&data, Method::FineFace);
    config.train.epochs = 1;
    config.train.devices = vec!["cpu".to_owned(), "cpu".to_owned()];
    config.train.crop_grid_images = 0;
    let run = dir.path().join("run");
    let summary = train::<CpuAutodiff>(
        &config,
        &[Default::default(), Default::default()],
        &options(run.clone()),
    )
    .unwrap();
    let test = summary.test.unwrap();
    assert!(test.n > 0);
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{metrics}");
}

#[test]
fn unknown_keys_and_bad_values_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n[train]\nepochs = 2\nlearning_rate = 0.1\n").unwrap();
    let message = ExperimentConfig::from_file(&path).unwrap_err().to_string();
    assert!(
        message.contains("bad.toml") && message.contains("learning_rate"),
        "{message}"
    );
    // An unknown backbone name is refused where the file is read, naming it, the accepted
    // ones and how a network of one's own is named.
    std::fs::write(&path, "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n[model]\nbackbone = \"vgg16\"\n").unwrap();
    let message = ExperimentConfig::from_file(&path).unwrap_err().to_string();
    assert!(
        message.contains("bad.toml")
            && message.contains("vgg16")
            && message.contains("mobilenet_v2")
            && message.contains("custom:"),
        "{message}"
    );
    // A custom backbone reads (it trains through `Trainer::fit`); the convenience path
    // refuses it, naming it.
    std::fs::write(&path, "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n[model]\nbackbone = \"custom:vgg16\"\n").unwrap();
    let config = ExperimentConfig::from_file(&path).unwrap();
    let message = fineface_train::backbone_config(&config.model)
        .unwrap_err()
        .to_string();
    assert!(message.contains("custom:vgg16"), "{message}");
    let message = train::<CpuAutodiff>(
        &config,
        &[Default::default()],
        &options(dir.path().join("run")),
    )
    .unwrap_err()
    .to_string();
    assert!(message.contains("vgg16"), "{message}");
    std::fs::write(
        &path,
        "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n",
    )
    .unwrap();
    let config = ExperimentConfig::from_file(&path).unwrap();
    assert_eq!(config.name, "bad", "the name defaults to the file stem");
    assert_eq!(config.train.epochs, 25, "the paper's defaults");
    assert_eq!(config.train.lr_backbone, 0.0002);
}

#[test]
fn a_diverging_loss_stops_the_run_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let mut config = tiny_config(&data, Method::Baseline);
    config.train.crop_grid_images = 0;
    let run = dir.path().join("run");
    let device = vec![Default::default()];
    train::<CpuAutodiff>(
        &config,
        &device,
        &RunOptions {
            stop_after_epoch: Some(1),
            ..options(run.clone())
        },
    )
    .unwrap();
    // An absurd learning rate from epoch 2 on (a change a resume accepts only when told
    // to): the weights overflow within a few steps.
    config.train.lr_new = 1e30;
    config.train.lr_backbone = 1e30;
    let changed = RunOptions {
        resume: true,
        allow_changed_config: true,
        ..options(run.clone())
    };
    let refused = resume(&config, &device, run.clone())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("train.lr_new = 1e+30 (the run trained with 0.01)"),
        "{refused}"
    );
    let error = train::<CpuAutodiff>(&config, &device, &changed).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            fineface_train::TrainError::NonFiniteLoss { epoch: 2, .. }
        ),
        "{message}"
    );
    assert!(
        message.starts_with("the cross_entropy loss is ")
            && message.contains("at epoch 2, batch ")
            && message.contains("stopped before the update, the checkpoint of epoch 1 is intact"),
        "{message}"
    );
    // Diverging in the first epoch, there is nothing to resume from, and it says so.
    let mut fresh = config.clone();
    fresh.train.epochs = 1;
    let error = train::<CpuAutodiff>(&fresh, &device, &options(dir.path().join("fresh")))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("at epoch 1, batch ") && error.contains("no checkpoint yet"),
        "{error}"
    );
    // The last good checkpoint is still the one to resume from, and it loads.
    let latest = Checkpoints::new(&run).latest().unwrap().unwrap();
    assert!(latest.ends_with("epoch-001"));
    config.train.lr_new = 0.01;
    config.train.lr_backbone = 0.01;
    let resumed = resume(&config, &device, run).unwrap();
    assert_eq!(resumed.epochs, 3);
}

#[test]
fn the_binary_logs_plain_progress_lines_off_a_terminal() {
    // Under a batch scheduler stderr is a file: no colour codes, and a progress line with
    // images/s and the ETA between epochs (every 30 s by default; every batch here).
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.epochs = 1;
    config.train.crop_grid_images = 0;
    let toml = dir.path().join("tiny.toml");
    std::fs::write(&toml, config.to_toml().unwrap()).unwrap();
    let run = dir.path().join("run");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .args([
            "train",
            toml.to_str().unwrap(),
            "--out",
            run.to_str().unwrap(),
        ])
        .args(["--progress-every", "0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    for (name, text) in [("stderr", &*stderr), ("train.log", &*log)] {
        assert!(!text.contains('\x1b'), "colour codes in {name}: {text}");
        assert!(
            text.contains("images_per_second") && text.contains("eta_s"),
            "no progress line in {name}: {text}"
        );
        // Losses as `name:value`, not Rust's debug output.
        assert!(
            text.contains("losses=cross_entropy:") && !text.contains("Some(["),
            "losses in {name}: {text}"
        );
    }
}

/// The error `config` stops training with, in a fresh folder.
fn training_error(config: &ExperimentConfig, dir: &Path) -> String {
    train::<CpuAutodiff>(config, &[Default::default()], &options(dir.join("run")))
        .unwrap_err()
        .to_string()
}

#[test]
fn configured_imagenet_weights_that_are_absent_stop_the_run_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::FineFace);
    config.model.weights = Some(dir.path().join("resnet18-typo.pth"));
    let error = training_error(&config, dir.path());
    assert!(
        error.contains("resnet18-typo.pth")
            && error.contains("resnet18-f37072fd.pth")
            && error.contains("--no-weights"),
        "{error}"
    );
    assert!(!dir.path().join("run").exists(), "nothing trained");
}

#[test]
fn an_empty_validation_split_stops_the_run_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::FineFace);
    // ~5 images per target x group stratum after the test split: 5 % of each rounds to 0.
    config.split.val_fraction = 0.05;
    let error = training_error(&config, dir.path());
    assert!(
        error.starts_with("the val split of synthface has 0 images; at least 1 are needed: ")
            && error.contains("5% of each target x group stratum rounds to 0 images")
            && error.contains("raise split.val_fraction"),
        "{error}"
    );
    assert!(!dir.path().join("run").exists(), "nothing trained");

    config.split.val_fraction = 0.0;
    let error = training_error(&config, dir.path());
    assert!(
        error.ends_with(": there is no official val split and split.val_fraction is 0"),
        "{error}"
    );
}

#[cfg(unix)]
#[test]
fn a_config_without_a_toml_form_is_an_error_not_a_commented_config_toml() {
    // A non-UTF-8 path has no TOML form; writing `# cannot serialise` into config.toml
    // instead would only fail later, at `--resume`.
    use std::os::unix::ffi::OsStrExt;
    let root = Path::new(std::ffi::OsStr::from_bytes(b"data-\xff"));
    let config = tiny_config(root, Method::FineFace);
    let error = config.to_toml().unwrap_err();
    assert!(error.contains("TOML"), "{error}");
}

/// `fineface <args>` in `dir`: its status, stdout and stderr.
fn fineface_in(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn resume_from_the_command_line_continues_the_run_it_names_and_refuses_what_would_change_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.epochs = 2;
    config.train.crop_grid_images = 0;
    std::fs::write(dir.path().join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    let other = ExperimentConfig {
        name: "other".to_owned(),
        ..config.clone()
    };
    std::fs::write(dir.path().join("other.toml"), other.to_toml().unwrap()).unwrap();
    let absent = ExperimentConfig {
        data: fineface_data::DatasetConfig::with_root("manifest", "no-such-dataset".into())
            .unwrap(),
        ..config.clone()
    };
    std::fs::write(dir.path().join("absent.toml"), absent.to_toml().unwrap()).unwrap();
    let run = |args: &[&str]| fineface_in(dir.path(), &[&["train", "--quiet"], args].concat());

    // The hint printed after --stop-after-epoch is a command that works.
    let (ok, stdout, stderr) = run(&["tiny.toml", "--out", "run", "--stop-after-epoch", "1"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("continue with `--resume run`"), "{stdout}");
    // Flags that would change what is trained, another experiment, an edited config: refused,
    // each named, and nothing trained.
    let (ok, _, stderr) = run(&["--resume", "run", "--batch-size", "4", "--seed", "9"]);
    assert!(!ok);
    for part in [
        "--batch-size: train.batch_size = 4 (the run trains with 8)",
        "--seed: train.seed = 9",
    ] {
        assert!(stderr.contains(part), "{part} in {stderr}");
    }
    let (ok, _, stderr) = run(&["other.toml", "--resume", "run"]);
    assert!(
        !ok && stderr.contains("that run trains experiment `tiny`, not `other.toml` (`other`)"),
        "{stderr}"
    );
    // The same experiment name with other settings: refused, naming them.
    let same_name = dir.path().join("copy");
    std::fs::create_dir_all(&same_name).unwrap();
    let mut edited = config.clone();
    edited.train.lr_new = 0.5;
    std::fs::write(same_name.join("tiny.toml"), edited.to_toml().unwrap()).unwrap();
    let (ok, _, stderr) = run(&["copy/tiny.toml", "--resume", "run"]);
    assert!(
        !ok && stderr.contains(
            "`copy/tiny.toml` is not the experiment the run trains: train.lr_new = 0.5 (the run \
             trains with 0.01)"
        ),
        "{stderr}"
    );
    let toml = dir.path().join("run/config.toml");
    let original = std::fs::read_to_string(&toml).unwrap();
    let edited = original.replace("lr_new = 0.01", "lr_new = 0.5");
    assert_ne!(edited, original);
    std::fs::write(&toml, &edited).unwrap();
    let (ok, _, stderr) = run(&["--resume", "run"]);
    assert!(
        !ok && stderr.contains("train.lr_new = 0.5 (the run trained with 0.01)"),
        "{stderr}"
    );
    std::fs::write(&toml, &original).unwrap();
    let history =
        |name: &str| std::fs::read_to_string(dir.path().join(name).join("metrics.csv")).unwrap();
    assert_eq!(history("run").lines().count(), 2, "one epoch so far");

    // `--resume RUN` alone finishes it; more epochs continue it; fewer are refused.
    let (ok, stdout, stderr) = run(&["--resume", "run"]);
    assert!(ok && stdout.contains("test ("), "{stdout}{stderr}");
    assert_eq!(history("run").lines().count(), 3);
    let (ok, _, stderr) = run(&["--resume", "run", "--epochs", "3"]);
    assert!(ok, "{stderr}");
    assert_eq!(history("run").lines().count(), 4);
    // The experiment named beside it again: its fewer epochs are no other experiment.
    let (ok, _, stderr) = run(&["tiny.toml", "--resume", "run", "--stop-after-epoch", "3"]);
    assert!(ok, "{stderr}");
    let settings = std::fs::read(dir.path().join("run/config.toml")).unwrap();
    let (ok, _, stderr) = run(&["--resume", "run", "--epochs", "1"]);
    assert!(
        !ok && stderr.contains(
            "run: 1 epochs asked (--epochs, or train.epochs), but the run has done 3: give \
             --epochs 3 or more"
        ) && !stderr.contains("config.toml"),
        "{stderr}"
    );
    // Only the first start trained the backbone from scratch; the resumes loaded it.
    let log = std::fs::read_to_string(dir.path().join("run/train.log")).unwrap();
    assert_eq!(
        log.matches("training the backbone from scratch").count(),
        1,
        "{log}"
    );
    // A refused resume leaves the run's config as it was: a plain resume still works.
    assert_eq!(
        std::fs::read(dir.path().join("run/config.toml")).unwrap(),
        settings
    );

    // A finished run is never overwritten by a new one.
    let log = std::fs::read_to_string(dir.path().join("run/train.log")).unwrap();
    let (ok, _, stderr) = run(&["tiny.toml", "--out", "run"]);
    assert!(
        !ok && stderr.contains("--out run: the folder already holds files"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("run/train.log")).unwrap(),
        log
    );

    // A start that fails leaves nothing behind.
    for bad in [
        &["tiny.toml", "--out", "bad1", "--progress-every", "-1"][..],
        &["tiny.toml", "--out", "bad2", "--device", "cuda:7"],
        &["absent.toml", "--out", "bad3"],
    ] {
        let (ok, _, stderr) = run(bad);
        assert!(!ok, "{bad:?}");
        assert!(
            !dir.path().join(bad[2]).exists(),
            "{bad:?} left {}: {stderr}",
            bad[2]
        );
    }
}

#[test]
fn a_nan_infinite_or_negative_setting_is_refused_at_load_naming_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let head = "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n";
    for (section, line, key) in [
        ("train", "lr_new = nan", "train.lr_new"),
        ("train", "lr_backbone = -0.1", "train.lr_backbone"),
        ("train", "momentum = inf", "train.momentum"),
        ("train", "momentum = 1.0", "train.momentum"),
        ("train", "weight_decay = -1e-4", "train.weight_decay"),
        ("crop", "threshold = 1.5", "crop.threshold"),
        ("crop", "padding = -inf", "crop.padding"),
        ("transform", "std = [0.5, nan, 0.5]", "transform.std[1]"),
        ("transform", "std = [0.5, 0.0, 0.5]", "transform.std"),
    ] {
        std::fs::write(&path, format!("{head}[{section}]\n{line}\n")).unwrap();
        let message = ExperimentConfig::from_file(&path).unwrap_err().to_string();
        assert!(
            message.contains("bad.toml") && message.contains(key),
            "{line}: {message}"
        );
    }
    // The values at the edges of their ranges are fine.
    std::fs::write(
        &path,
        format!("{head}[train]\nlr_backbone = 0.0\nmomentum = 0.0\n"),
    )
    .unwrap();
    assert!(ExperimentConfig::from_file(&path).is_ok());
}

#[test]
fn a_flag_that_breaks_a_setting_is_named_not_the_config_and_no_error_prints_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    let good = dir.path().join("good.toml");
    std::fs::write(&good, config.to_toml().unwrap()).unwrap();
    let mut broken = config.clone();
    broken.train.epochs = 0;
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, broken.to_toml().unwrap()).unwrap();
    // The library: the file is blamed for its own values, the flags for theirs.
    let overrides = fineface_train::Overrides {
        devices: Some(vec!["cpu".to_owned(), "tpu:0".to_owned()]),
        ..Default::default()
    };
    let error = ExperimentConfig::from_file_with(&good, &overrides).unwrap_err();
    assert!(
        matches!(error, fineface_train::TrainError::Flags { .. }),
        "{error}"
    );
    let error = ExperimentConfig::from_file_with(&bad, &overrides).unwrap_err();
    assert!(
        matches!(error, fineface_train::TrainError::Config { .. }),
        "{error}"
    );
    // The command line, with RUST_BACKTRACE=1 as many users keep it: one line each.
    let run_logging = |args: &[&str], log: &str| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
            .current_dir(dir.path())
            .args(args)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .env("RUST_LOG", log)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !stderr.contains("acktrace")
                && !stderr.contains("at ./")
                && stderr.lines().count() <= 3,
            "{args:?}: {stderr}"
        );
        stderr
    };
    let run = |args: &[&str]| run_logging(args, "info");
    // A device is checked as typed, under the flag given.
    for flag in ["--device", "--devices"] {
        let stderr = run(&["train", "good.toml", flag, "tpu:0"]);
        assert!(
            stderr.contains(&format!("invalid value 'tpu:0' for '{flag} <"))
                && stderr.contains("unknown device `tpu:0`"),
            "{stderr}"
        );
    }
    let stderr = run(&["train", "bad.toml"]);
    assert!(
        stderr.starts_with("error: bad.toml: train.epochs = 0: epochs must be >= 1"),
        "{stderr}"
    );
    // Out-of-range numbers are refused by the flag's own parser, naming it.
    for (flag, value, says) in [
        ("--epochs", "0", "1 or more"),
        (
            "--batch-size",
            "1",
            "2 or more (BatchNorm needs two samples)",
        ),
        ("--image-size", "7", "32 or more px"),
        ("--epochs", "two", "not a whole number"),
    ] {
        let stderr = run(&["train", "good.toml", flag, value]);
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag}"))
                && stderr.contains(says),
            "{stderr}"
        );
    }
    // An I/O error's cause is said once, not repeated as a "Caused by" list.
    let stderr = run(&["eval", "--run", "no-such-run"]);
    assert!(
        stderr.contains("no-such-run is not a run folder: cannot access no-such-run/config.toml")
            && stderr.matches("os error 2").count() == 1,
        "{stderr}"
    );
    // The last word reaches the user whatever RUST_LOG filters out.
    for log in ["off", "fineface_train=debug"] {
        let stderr = run_logging(&["eval", "--run", "no-such-run"], log);
        assert!(
            stderr.starts_with("error: no-such-run is not a run folder"),
            "{log}: {stderr}"
        );
    }
}

#[test]
fn a_start_that_fails_leaves_no_dead_end_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = tiny_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.epochs = 1;
    config.train.crop_grid_images = 0;
    std::fs::write(dir.path().join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    let run = |args: &[&str]| fineface_in(dir.path(), &[&["train", "--quiet"], args].concat());
    // Too small a batch for the workers: refused before any folder exists, naming the flag.
    let (ok, _, stderr) = run(&[
        "tiny.toml",
        "--out",
        "small",
        "--devices",
        "cpu,cpu",
        "--batch-size",
        "3",
    ]);
    assert!(
        !ok && stderr.contains(
            "a batch of 3 images (--batch-size or train.batch_size) cannot give each of 2 workers"
        ) && stderr.contains("use --batch-size 4 or more"),
        "{stderr}"
    );
    assert!(!dir.path().join("small").exists());
    // Stopping after epoch 0 would leave nothing to continue: refused.
    let (ok, _, stderr) = run(&["tiny.toml", "--out", "zero", "--stop-after-epoch", "0"]);
    assert!(!ok && stderr.contains("--stop-after-epoch"), "{stderr}");
    // A node 0 that cannot listen fails after its folder is made (the dataset, weights and
    // settings were fine): the folder goes, and the same command can be given again.
    let nodes = [
        "tiny.toml",
        "--out",
        "nodes",
        "--nodes",
        "2",
        "--node-rank",
        "0",
        "--hub",
        "192.0.2.1:29500",
    ];
    for _ in 0..2 {
        let (ok, _, stderr) = run(&nodes);
        assert!(
            !ok && stderr.contains("cannot listen on 192.0.2.1:29500"),
            "{stderr}"
        );
        assert!(!dir.path().join("nodes").exists(), "{stderr}");
    }
    // A run killed in its first epoch (its settings written, no checkpoint yet) resumes from
    // the start, saying so.
    let (ok, _, stderr) = run(&["tiny.toml", "--out", "killed"]);
    assert!(ok, "{stderr}");
    let killed = dir.path().join("killed");
    for entry in std::fs::read_dir(&killed).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !["config.toml", "run.json", "train.log"].contains(&name.as_str()) {
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    let (ok, _, stderr) = run(&["--resume", "killed"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("killed has no checkpoint yet: training it from the start"),
        "{stderr}"
    );
    assert!(killed.join("test/predictions.csv").is_file());
    // A finished run copied without its checkpoints is not trained again over its results.
    std::fs::remove_dir_all(killed.join("checkpoints")).unwrap();
    let results = std::fs::read(killed.join("best.mpk")).unwrap();
    let (ok, _, stderr) = run(&["--resume", "killed"]);
    assert!(
        !ok && stderr.contains(
            "the run holds results (best.mpk, summary.json, metrics.csv, test) but no checkpoint"
        ),
        "{stderr}"
    );
    assert_eq!(std::fs::read(killed.join("best.mpk")).unwrap(), results);
}

/// A run folder as it arrives from elsewhere: moved to another folder, its `config.toml`
/// written on Windows (a drive path for the dataset, CRLF line endings), its checkpoint
/// written by an older version (no `checksums.json`, no config in `state.json`) with a
/// `latest` ending in CRLF. The Windows path is refused, naming the key and `--data`; with
/// `--data` the run continues where it stopped and ends like a run that never moved. A
/// model file cut short, which no checksum guards here, is named.
#[test]
fn a_run_written_on_another_system_or_by_an_older_version_resumes_or_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    let mut config = tiny_config(&data, Method::Baseline);
    config.train.epochs = 2;
    config.train.crop_grid_images = 0;
    std::fs::write(dir.path().join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    let run = |args: &[&str]| fineface_in(dir.path(), &[&["train", "--quiet"], args].concat());
    for out in ["home", "away"] {
        let (ok, _, stderr) = run(&["tiny.toml", "--out", out, "--stop-after-epoch", "1"]);
        assert!(ok, "{stderr}");
    }
    let (ok, _, stderr) = run(&["--resume", "home"]);
    assert!(ok, "{stderr}");

    // `away` goes to another machine's folder, as Windows and an older version wrote it.
    let moved = dir.path().join("elsewhere/run");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(dir.path().join("away"), &moved).unwrap();
    let toml = moved.join("config.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let windows = text
        .replace(
            &format!("\"{}\"", data.display()),
            "'C:\\Users\\ana\\synthface'",
        )
        .replace('\n', "\r\n");
    assert!(windows.contains("C:\\Users"), "{text}");
    std::fs::write(&toml, windows).unwrap();
    let checkpoint = moved.join("checkpoints/epoch-001");
    std::fs::remove_file(checkpoint.join(CHECKSUMS_FILE)).unwrap();
    let state_path = checkpoint.join("state.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("config").unwrap();
    std::fs::write(&state_path, state.to_string()).unwrap();
    std::fs::write(moved.join("checkpoints/latest"), "epoch-001\r\n").unwrap();
    let run_dir = moved.to_str().unwrap();

    let (ok, _, stderr) = run(&["--resume", run_dir]);
    assert!(
        !ok && stderr.contains("data.root = C:\\Users\\ana\\synthface is a Windows path")
            && stderr.contains("--data"),
        "{stderr}"
    );
    assert!(!dir.path().join("C:\\Users\\ana\\synthface").exists());
    // Evaluating the moved run needs its dataset only where asked: `--data` gives it.
    let eval =
        |args: &[&str]| fineface_in(dir.path(), &[&["eval", "--run", run_dir], args].concat());
    let (ok, _, stderr) = eval(&[]);
    assert!(
        !ok && stderr.contains("data.root = C:\\Users\\ana\\synthface is a Windows path")
            && stderr.contains("--data"),
        "{stderr}"
    );
    assert!(!dir.path().join("C:\\Users\\ana\\synthface").exists());
    let (ok, _, stderr) = eval(&["--data", data.to_str().unwrap(), "--out", "moved-eval"]);
    assert!(ok, "{stderr}");
    // A model file cut short (a copy that stopped halfway) is named, and nothing trains.
    let model = checkpoint.join("model.mpk");
    let whole = std::fs::read(&model).unwrap();
    std::fs::write(&model, &whole[..whole.len() / 2]).unwrap();
    let (ok, _, stderr) = run(&["--resume", run_dir, "--data", data.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains(&format!("{} is damaged: cannot decode it", model.display())),
        "{stderr}"
    );
    std::fs::write(&model, &whole).unwrap();
    let (ok, _, stderr) = run(&["--resume", run_dir, "--data", data.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert_eq!(
        metrics_without_timing(&moved),
        metrics_without_timing(&dir.path().join("home"))
    );
}

/// A run whose dataset moved since it stopped: `--resume` alone names the run's dataset as
/// the cause and `--data` as the way out (it named only the first file the loader lacked);
/// with `--data` it resumes.
#[test]
fn a_resumed_run_whose_dataset_moved_says_to_give_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("faces");
    let mut csv = String::from("path,label,group,split\n");
    for (split, n) in [("train", 16), ("val", 4), ("test", 4)] {
        for i in 0..n {
            let name = format!("{split}/{i}.png");
            let path = data.join(&name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::RgbImage::from_pixel(40, 40, image::Rgb([(i * 20) as u8, 80, 140]))
                .save(&path)
                .unwrap();
            csv.push_str(&format!(
                "{name},{},{},{split}\n",
                ["no", "yes"][i % 2],
                ["a", "b"][i / 2 % 2]
            ));
        }
    }
    std::fs::write(data.join("manifest.csv"), csv).unwrap();
    let mut config = tiny_config(Path::new("unused"), Method::Baseline);
    config.data = fineface_data::DatasetConfig::Manifest(fineface_data::Manifest {
        target: "label".into(),
        sensitive: vec!["group".into()],
        ..fineface_data::Manifest::new(data.clone())
    });
    config.train.epochs = 2;
    config.train.crop_grid_images = 0;
    std::fs::write(dir.path().join("tiny.toml"), config.to_toml().unwrap()).unwrap();
    let run = |args: &[&str]| fineface_in(dir.path(), &[&["train", "--quiet"], args].concat());
    let (ok, _, stderr) = run(&["tiny.toml", "--out", "r", "--stop-after-epoch", "1"]);
    assert!(ok, "{stderr}");
    let moved = dir.path().join("moved");
    std::fs::rename(&data, &moved).unwrap();
    let (ok, _, stderr) = run(&["--resume", "r"]);
    assert!(
        !ok && stderr.contains("the run's dataset (data.root in")
            && stderr.contains("give where it is here with --data"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["--resume", "r", "--data", moved.to_str().unwrap()]);
    assert!(ok, "{stderr}");
}
