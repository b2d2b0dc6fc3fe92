//! The `fineface` command on whole tiny runs: `eval` records every skipped image, `train`
//! logs plain progress lines off a terminal, `train --resume` continues the run it names and
//! refuses what would change it, a flag that breaks a setting is named (no backtrace), and
//! `study` records its plan and refuses what it would silently change.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

#[path = "../../fineface-train/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use common::tiny_config;
use fineface_fair::SubgroupReport;
use fineface_model::CpuAutodiff;
use fineface_train::{CHECKSUMS_FILE, ExperimentConfig, Method, RunOptions, train};

fn options(run_dir: PathBuf) -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::new(run_dir)
    }
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
    let summary: fineface_train::SplitSummary =
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
    let summary: fineface_train::SplitSummary = serde_json::from_str(
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
        data: fineface_data::DatasetConfig::with_root(
            fineface_data::DatasetKind::Manifest,
            "no-such-dataset".into(),
        ),
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

/// `fineface study` with `args`, in `dir`: (success, stdout + stderr).
fn fineface_study(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
        .arg("study")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn the_command_line_records_the_plan_and_refuses_what_it_would_silently_change() {
    // Nothing here trains: every call stops before the first run or is refused.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("synthface");
    for method in [Method::FineFace, Method::Baseline] {
        let config = tiny_config(&data, method);
        let name = match method {
            Method::FineFace => "tiny.toml",
            Method::Baseline => "tiny-baseline.toml",
        };
        std::fs::write(dir.path().join(name), config.to_toml().unwrap()).unwrap();
    }
    let run = |args: &[&str]| fineface_study(dir.path(), args);

    // A mistyped evaluation fails before anything trains.
    let (ok, text) = run(&["tiny.toml", "--out", "s", "--eval", "celeba"]);
    assert!(!ok && text.contains("no `=`"), "{text}");
    let (ok, text) = run(&[
        "tiny.toml",
        "--out",
        "s",
        "--eval",
        "c=celeba:no/such/folder",
    ]);
    // Named as typed (not made absolute), under the flag that gave it.
    assert!(
        !ok && text.contains("--eval c=celeba:no/such/folder: ")
            && text.contains("`no/such/folder` does not exist")
            && !text.contains(&dir.path().display().to_string()),
        "{text}"
    );
    assert!(!dir.path().join("s/plan.json").exists());

    // Started and stopped before its first run: plan.json holds the resolved configs
    // (`tiny.toml` studies experiment `tiny`; baseline trains `tiny-baseline.toml`).
    let (ok, text) = run(&[
        "tiny.toml",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--out",
        "s",
        "--stop-after-runs",
        "0",
    ]);
    assert!(
        ok && text.contains("stopped with 0 of 4 runs finished"),
        "{text}"
    );
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("s/plan.json")).unwrap())
            .unwrap();
    assert_eq!(plan["experiment"], "tiny");
    assert_eq!(plan["seeds"], serde_json::json!([0, 1]));
    assert_eq!(plan["methods"][1]["name"], "baseline");
    assert_eq!(plan["methods"][1]["config"]["method"], "baseline");
    assert_eq!(plan["methods"][0]["config"]["train"]["epochs"], 1);
    let root = plan["methods"][0]["config"]["data"]["root"]
        .as_str()
        .unwrap();
    assert!(Path::new(root).is_absolute(), "{root}");

    // The same folder with other settings is refused, pointing at --resume.
    let (ok, text) = run(&["tiny.toml", "--seeds", "3", "--epochs", "1", "--out", "s"]);
    assert!(
        !ok && text.contains("holds a study of other settings") && text.contains("--resume s"),
        "{text}"
    );
    // --resume takes the plan as recorded: settings that would change it are refused.
    let (ok, text) = run(&["--resume", "s", "--seeds", "3"]);
    assert!(!ok && text.contains("--seeds"), "{text}");
    let (ok, text) = run(&["--resume", "s", "--stop-after-runs", "0"]);
    assert!(
        ok && text.contains("stopped with 0 of 4 runs finished"),
        "{text}"
    );

    // Too few bootstrap replicates for an interval stop the study before it trains.
    let (ok, text) = run(&["tiny.toml", "--out", "b", "--bootstrap", "5"]);
    assert!(
        !ok && text.contains("--bootstrap 5: a 95 % percentile interval needs at least 40"),
        "{text}"
    );
    assert!(!dir.path().join("b/fineface-seed-0").exists());

    // Configured ImageNet weights that are absent stop the study before it starts.
    let (ok, text) = run(&["tiny.toml", "--out", "w", "--weights", "no/resnet18.pth"]);
    assert!(!ok && text.contains("no/resnet18.pth"), "{text}");
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
    // A launcher (mpirun, mpiexec, srun) that starts several copies of a build without MPI:
    // each would train the whole run alone into the same folder. Refused before the folder
    // is made, whichever launcher's variables say so.
    #[cfg(not(feature = "mpi"))]
    for vars in [
        &[("OMPI_COMM_WORLD_SIZE", "2")][..],
        &[("PMI_SIZE", "3")],
        &[("SLURM_NTASKS", "2"), ("SLURM_STEP_ID", "0")],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fineface"))
            .current_dir(dir.path())
            .args(["train", "--quiet", "tiny.toml", "--out", "launched"])
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let (variable, processes) = vars[0];
        assert!(
            !output.status.success()
                && stderr.contains(&format!("{variable}={processes}: a launcher"))
                && stderr.contains("built without MPI")
                && stderr.contains("--features mpi"),
            "{stderr}"
        );
        assert!(!dir.path().join("launched").exists(), "{stderr}");
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
        common::metrics_without_timing(&moved),
        common::metrics_without_timing(&dir.path().join("home"))
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
