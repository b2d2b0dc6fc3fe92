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
        common::metrics_without_timing(&split),
        common::metrics_without_timing(&whole)
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
