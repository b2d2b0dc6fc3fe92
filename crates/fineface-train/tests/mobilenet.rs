//! MobileNetV2 through the library as a ResNet goes: a tiny FineFACE run killed after an
//! epoch and resumed ends like an uninterrupted one, the run folder rebuilds MobileNetV2 for
//! evaluation, ImageNet weights load into it in training, and its settings are checked.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::{Path, PathBuf};

use fineface_model::{
    BackboneArch, Cpu, CpuAutodiff, IMAGENET_MEAN, IMAGENET_STD, ImageNetBackbone,
    MobileNetV2Config, MobileNetV2Layer,
};
use fineface_train::{
    BackboneChoice, EvalData, EvalRequest, ExperimentConfig, Method, RunFolder, RunOptions,
    build_baseline, load_weights, train,
};

mod common;

/// torchvision's `mobilenet_v2(width_mult=0.25, num_classes=10)` state dict
/// (`tools/mobilenet_goldens.py`).
const NARROW_WEIGHTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fineface-model/tests/data/torch/mobilenet_v2_w025.pth"
);

/// The tiny SynthFace run of the other tests on a MobileNetV2 of width 0.25 at 64 px
/// (stride-32 maps of 2 x 2), 2 epochs, normalisation left to the backbone.
fn mobilenet_config(data: &Path, method: Method) -> ExperimentConfig {
    let mut config = common::tiny_config(data, method);
    config.model.backbone = BackboneChoice::Torchvision(BackboneArch::MobileNetV2);
    config.model.width = 64;
    config.model.width_mult = 0.25;
    config.train.epochs = 2;
    config.transform.resize = 66;
    config.transform.crop = 64;
    config.transform.mean = None;
    config.transform.std = None;
    if let fineface_data::DatasetConfig::SynthFace(synth) = &mut config.data {
        synth.size = 64;
    }
    config
}

fn options(run_dir: PathBuf) -> RunOptions {
    RunOptions {
        progress: false,
        ..RunOptions::new(run_dir)
    }
}

#[test]
fn a_resumed_mobilenet_run_ends_like_an_uninterrupted_one_and_evaluates_from_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = mobilenet_config(&dir.path().join("synthface"), Method::FineFace);
    config.validate().unwrap();
    let device = vec![Default::default()];

    let whole = dir.path().join("whole");
    let summary = train::<CpuAutodiff>(&config, &device, &options(whole.clone())).unwrap();
    let split = dir.path().join("split");
    let stopped = RunOptions {
        stop_after_epoch: Some(1),
        ..options(split.clone())
    };
    assert_eq!(
        train::<CpuAutodiff>(&config, &device, &stopped)
            .unwrap()
            .epochs,
        1
    );
    let resumed = RunOptions {
        resume: true,
        ..options(split.clone())
    };
    let resumed = train::<CpuAutodiff>(&config, &device, &resumed).unwrap();
    assert_eq!(resumed.epochs, 2);
    assert_eq!(resumed.test, summary.test);
    let predictions =
        |run: &Path| std::fs::read_to_string(run.join("test/predictions.csv")).unwrap();
    assert_eq!(predictions(&split), predictions(&whole));

    // The saved config names the backbone and the normalisation it resolved to.
    let folder = RunFolder::open(&whole).unwrap();
    assert_eq!(
        folder.config.model.backbone,
        BackboneChoice::Torchvision(BackboneArch::MobileNetV2)
    );
    assert_eq!(folder.config.transform.mean, Some(IMAGENET_MEAN));
    assert_eq!(folder.config.transform.std, Some(IMAGENET_STD));
    // The folder rebuilds MobileNetV2 and scores the test split as training did.
    let outcome = folder
        .evaluate::<fineface_model::Cpu>(
            &EvalRequest {
                out: Some(dir.path().join("eval")),
                ..EvalRequest::new(EvalData::Own)
            },
            &Default::default(),
        )
        .unwrap();
    assert_eq!(outcome.summary.accuracy, summary.test.unwrap().accuracy);
    assert_eq!(
        std::fs::read_to_string(outcome.dir.join("predictions.csv")).unwrap(),
        predictions(&whole)
    );
}

#[test]
fn imagenet_weights_load_into_a_mobilenet_in_training_and_a_missing_file_names_torchvisions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = mobilenet_config(&dir.path().join("synthface"), Method::Baseline);
    config.train.epochs = 1;
    config.train.crop_grid_images = 0;
    config.model.weights = Some(NARROW_WEIGHTS.into());
    // Learning rates of 0: the trained weights are the file's.
    config.train.lr_new = 0.0;
    config.train.lr_backbone = 0.0;
    let device = vec![Default::default()];
    let run = dir.path().join("run");
    train::<CpuAutodiff>(&config, &device, &options(run.clone())).unwrap();
    let cpu = Default::default();
    let fresh = || {
        MobileNetV2Config::new()
            .with_width_mult(0.25)
            .init::<Cpu>(&cpu)
    };
    let trained = load_weights(
        build_baseline(2, fresh(), &cpu),
        &run.join("best.mpk"),
        &cpu,
    )
    .unwrap()
    .backbone;
    let mut imagenet = fresh();
    imagenet
        .load_torchvision(Path::new(NARROW_WEIGHTS))
        .unwrap();
    let stem = |net: &fineface_model::MobileNetV2<Cpu>| match &net.features[0] {
        MobileNetV2Layer::Conv(layer) => layer.conv.weight.val().into_data(),
        MobileNetV2Layer::InvertedResidual(_) => unreachable!("features.0 is a convolution"),
    };
    assert_eq!(stem(&trained), stem(&imagenet));
    assert_ne!(
        stem(&trained),
        stem(&fresh()),
        "the file is not the initialisation"
    );

    config.model.weights = Some(dir.path().join("mobilenet-typo.pth"));
    let error = train::<CpuAutodiff>(&config, &device, &options(dir.path().join("other")))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("mobilenet-typo.pth") && error.contains("mobilenet_v2-b0353104.pth"),
        "{error}"
    );
}

#[test]
fn width_settings_of_the_other_family_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = mobilenet_config(&dir.path().join("synthface"), Method::FineFace);
    config.model.width = 16;
    let error = config.validate().unwrap_err();
    assert!(
        error.contains("model.width") && error.contains("width_mult"),
        "{error}"
    );
    // A config built in code, never validated, is refused where the backbone is built.
    let error = fineface_train::backbone_config(&config.model)
        .unwrap_err()
        .to_string();
    assert!(error.contains("model.width = 16"), "{error}");
    let run = options(dir.path().join("refused"));
    let error = train::<CpuAutodiff>(&config, &[Default::default()], &run)
        .unwrap_err()
        .to_string();
    assert!(error.contains("model.width = 16"), "{error}");

    let mut config = common::tiny_config(&dir.path().join("synthface"), Method::FineFace);
    config.model.width_mult = 0.5;
    let error = config.validate().unwrap_err();
    assert!(error.contains("model.width_mult = 0.5"), "{error}");
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let mut config = mobilenet_config(&dir.path().join("synthface"), Method::FineFace);
        config.model.width_mult = bad;
        assert!(
            config.validate().unwrap_err().contains("width_mult"),
            "{bad}"
        );
    }
}

#[test]
fn backbone_names_parse_once_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mnv2.toml");
    for (name, expected) in [
        (
            "mobilenet_v2",
            Ok(BackboneChoice::Torchvision(BackboneArch::MobileNetV2)),
        ),
        (
            "MobileNetV2",
            Ok(BackboneChoice::Torchvision(BackboneArch::MobileNetV2)),
        ),
        (
            "resnet50",
            Ok(BackboneChoice::Torchvision(BackboneArch::ResNet50)),
        ),
        (
            "custom:my-net",
            Ok(BackboneChoice::Custom("my-net".to_owned())),
        ),
        ("mobilenet_v3", Err("mobilenet_v3")),
        ("custom:", Err("custom:")),
        ("", Err("unknown backbone ``")),
    ] {
        let text = format!(
            "method = \"fineface\"\n[data]\nkind = \"synthface\"\nroot = \"x\"\n[model]\nbackbone = \"{name}\"\n"
        );
        std::fs::write(&path, text).unwrap();
        match (ExperimentConfig::from_file(&path), expected) {
            (Ok(config), Ok(expected)) => assert_eq!(config.model.backbone, expected),
            (Err(error), Err(fragment)) => {
                let error = error.to_string();
                assert!(
                    error.contains("mnv2.toml") && error.contains(fragment),
                    "{error}"
                );
            }
            (got, expected) => panic!("{name}: {got:?} against {expected:?}"),
        }
    }
}
