//! Targets a run cannot learn or a model never learned (`docs/inputs.md`, "Values"): a
//! train split of one class, classes that only validation or test hold, and, at
//! evaluation, labels the run never saw, each refused naming the classes; groups the run
//! never saw are audited as their own groups (the model never sees groups).

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::Path;

use fineface_data::{DatasetConfig, Manifest, SplitConfig};
use fineface_model::CpuAutodiff;
use fineface_train::{EvalData, EvalRequest, Method, RunFolder, RunOptions, TrainError, Trainer};

mod common;

/// One manifest row: the image's path, its label, group and split.
type Row<'a> = (String, &'a str, &'a str, &'a str);

/// A manifest of `rows` (`path,label,group,split`) under `root`, each image a real PNG.
fn manifest(root: &Path, rows: &[Row<'_>]) -> DatasetConfig {
    let mut csv = String::from("path,label,group,split\n");
    for (i, (name, label, group, split)) in rows.iter().enumerate() {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(40, 40, image::Rgb([(i * 30 % 250) as u8, 90, 160]))
            .save(&path)
            .unwrap();
        csv.push_str(&format!("{name},{label},{group},{split}\n"));
    }
    std::fs::write(root.join("manifest.csv"), csv).unwrap();
    DatasetConfig::Manifest(Manifest {
        target: "label".into(),
        sensitive: vec!["group".into()],
        ..Manifest::new(root.to_owned())
    })
}

/// `rows` with each class and group in every split, `n` images per class and split.
fn balanced<'a>(classes: &[&'a str], splits: &[&'a str], n: usize) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for split in splits {
        for class in classes {
            for i in 0..n {
                let group = ["a", "b"][i % 2];
                rows.push((format!("{split}/{class}/{i}.png"), *class, group, *split));
            }
        }
    }
    rows
}

/// The run evaluated on a manifest of `rows` written under `root`.
fn evaluate(
    folder: &RunFolder,
    root: &Path,
    rows: &[Row<'_>],
) -> fineface_train::Result<fineface_train::EvalOutcome> {
    let request = EvalRequest {
        out: Some(root.join("eval")),
        ..EvalRequest::new(EvalData::Other(manifest(root, rows)))
    };
    folder.evaluate::<CpuAutodiff>(&request, &Default::default())
}

fn trainer_error(data: DatasetConfig) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::tiny_config(Path::new("unused"), Method::Baseline);
    config.data = data;
    config.split = SplitConfig::default();
    let options = RunOptions::new(dir.path().join("run"));
    let experiment = fineface_train::Experiment::new(config, vec![Default::default()]).unwrap();
    match Trainer::<CpuAutodiff>::new(experiment, options) {
        Err(e @ TrainError::Classes { .. }) => e.to_string(),
        Err(other) => panic!("not a class error: {other}"),
        Ok(_) => panic!("a target it cannot learn was accepted"),
    }
}

#[test]
fn a_train_split_of_one_class_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rows = balanced(&["smiling"], &["train", "val", "test"], 8);
    let error = trainer_error(manifest(dir.path(), &rows));
    assert_eq!(
        error,
        "manifest: the train split holds one class of the target, `smiling`: a classifier needs \
         two or more (choose another target, or add images of the other classes)"
    );
}

#[test]
fn classes_only_validation_or_test_hold_are_refused_naming_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = balanced(&["no", "yes"], &["train", "val", "test"], 8);
    rows.extend(balanced(&["maybe"], &["test"], 3));
    rows.extend(balanced(&["unsure"], &["val"], 2));
    let error = trainer_error(manifest(dir.path(), &rows));
    assert_eq!(
        error,
        "manifest: class `unsure` has 2 image(s) in the val split but none in train: the model \
         cannot learn it (add training images of it, or leave its rows out); class `maybe` has \
         3 image(s) in the test split but none in train: the model cannot learn it (add \
         training images of it, or leave its rows out)"
    );
    // `data check` warns of the same, in the same words.
    let dataset = manifest(dir.path(), &rows)
        .load(&SplitConfig::default())
        .unwrap();
    let check = fineface_data::DataCheck::new(&dataset, false);
    assert!(
        check
            .warnings
            .iter()
            .any(|w| w.starts_with("training refuses this dataset: class `maybe` has 3 image(s)")),
        "{:?}",
        check.warnings
    );
}

#[test]
fn evaluation_names_the_labels_a_run_never_learned_and_audits_new_groups() {
    let run = common::trained_once(Method::Baseline);
    let folder = RunFolder::open(run).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // SynthFace's classes are `no` and `yes` (smiling); `maybe` was never learned.
    let rows = balanced(&["no", "yes", "maybe"], &["test"], 2);
    let error = evaluate(&folder, &dir.path().join("x"), &rows).unwrap_err();
    assert_eq!(
        error.to_string(),
        "manifest has targets the run never learned: `maybe` (the run predicts `no`, `yes`); \
         evaluate a run trained on these classes"
    );
    // Labels among the run's, in groups SynthFace never had: audited by those groups.
    let rows = balanced(&["no", "yes"], &["test"], 2);
    let outcome = evaluate(&folder, &dir.path().join("y"), &rows).unwrap();
    let fairness = std::fs::read_to_string(outcome.dir.join("fairness.json")).unwrap();
    assert!(
        fairness.contains("\"a\"") && fairness.contains("\"b\""),
        "{fairness}"
    );
}

/// A dataset given to `eval --data` that holds the run's own training or validation images
/// (the whole folder a run trained on part of): the outcome says how many, since their
/// scores are not held out; a dataset of new images says nothing.
#[test]
fn evaluation_says_when_another_dataset_holds_the_runs_training_images() {
    let run = common::trained_once(Method::Baseline);
    let folder = RunFolder::open(run).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let request = EvalRequest {
        out: Some(dir.path().join("again")),
        ..EvalRequest::new(EvalData::Other(folder.config.data.clone()))
    };
    let outcome = folder
        .evaluate::<CpuAutodiff>(&request, &Default::default())
        .unwrap();
    let size = |split: &str| {
        folder
            .info
            .split_sizes
            .iter()
            .find(|(s, _)| s == split)
            .unwrap()
            .1
    };
    let overlap = outcome.trained_on.expect("the run's own images are found");
    assert_eq!(overlap.seen, size("train") + size("val"));
    assert_eq!(overlap.of, size("train") + size("val") + size("test"));
    let rows = balanced(&["no", "yes"], &["test"], 2);
    let outcome = evaluate(&folder, &dir.path().join("new"), &rows).unwrap();
    assert_eq!(outcome.trained_on, None);
}

/// A class whose training images are all listed but none decodes (garbage saved as PNG):
/// the listing cannot tell, so `data check`'s header reads and the first epoch do, and
/// both refuse the class by name instead of training on the others alone.
#[test]
fn a_class_whose_training_images_never_decode_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let rows = balanced(&["no", "yes"], &["train", "val", "test"], 8);
    let data = manifest(dir.path(), &rows);
    for (path, label, _, split) in &rows {
        if *label == "yes" && *split == "train" {
            std::fs::write(dir.path().join(path), b"not a png at all").unwrap();
        }
    }
    let dataset = data.load(&SplitConfig::default()).unwrap();
    let check = fineface_data::DataCheck::new(&dataset, true);
    assert!(
        check.warnings.iter().any(|w| w
            == "training refuses this dataset: none of the 8 training image(s) of class `yes` \
                decodes, so the model cannot learn it (replace the files; the run's log names \
                each)"),
        "{:?}",
        check.warnings
    );
    let mut config = common::tiny_config(Path::new("unused"), Method::Baseline);
    config.data = data;
    config.train.epochs = 1;
    let run = dir.path().join("run");
    let error = fineface_train::train::<CpuAutodiff>(
        &config,
        &[Default::default()],
        &RunOptions {
            progress: false,
            ..RunOptions::new(run)
        },
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "manifest: none of the 8 training image(s) of class `yes` decodes, so the model cannot \
         learn it (replace the files; the run's log names each)"
    );
}

/// A validation split that holds one class only (a small carved or official split): the
/// run validates and selects by it, the positive class's rates undefined there, instead of
/// stopping at the first validation.
#[test]
fn a_validation_split_of_one_class_trains() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows = balanced(&["no", "yes"], &["train", "test"], 8);
    rows.extend(balanced(&["no"], &["val"], 4));
    let mut config = common::tiny_config(Path::new("unused"), Method::Baseline);
    config.data = manifest(dir.path(), &rows);
    config.train.epochs = 2;
    config.train.crop_grid_images = 0;
    let run = dir.path().join("run");
    let summary = fineface_train::train::<CpuAutodiff>(
        &config,
        &[Default::default()],
        &RunOptions {
            progress: false,
            ..RunOptions::new(run.clone())
        },
    )
    .unwrap();
    assert_eq!(summary.epochs, 2);
    assert!(run.join("test/fairness.json").is_file());
}
