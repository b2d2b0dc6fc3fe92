//! Our MobileNetV2 against torchvision's (`tools/mobilenet_goldens.py`): on the real ImageNet
//! weights and real UTKFace faces read from `../shared`, and at width 0.25 on random weights.

#![allow(clippy::unwrap_used)] // Test helpers panic on broken fixtures by design.

mod common;

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use fineface_data::TransformConfig;
use fineface_model::{
    Backbone, BackboneArch, Baseline, BaselineConfig, ImageNetBackbone, MobileNetV2,
    MobileNetV2Config,
};

type B = Flex;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn shared(path: &str) -> PathBuf {
    let path = Path::new(SHARED).join(path);
    assert!(
        path.exists(),
        "{} is missing: these tests read the project's ../shared folder",
        path.display()
    );
    path
}

/// torchvision's ImageNet classifier: our MobileNetV2 and a 1000-class `fc` on the weights.
fn imagenet_classifier() -> Baseline<B, MobileNetV2<B>> {
    let device = Default::default();
    let backbone = MobileNetV2Config::new().init::<B>(&device);
    let mut model = BaselineConfig::new(1000).init(backbone, &device);
    let report = model
        .load_torchvision(&shared("weights/mobilenet_v2-b0353104.pth"))
        .unwrap();
    // 314 tensors: 262 parameters and running statistics, 52 step counters.
    assert_eq!(report.applied, 262, "{report:?}");
    assert_eq!(report.ignored.len(), 52, "{report:?}");
    model
}

/// The centre `crop x crop` of an image as the data pipeline decodes it, scaled to [0, 1]
/// and normalised, as torchvision's `to_tensor` and `normalize` compute it (no resampling).
fn centre_crop(path: &Path, crop: u32) -> Vec<f32> {
    let image = fineface_data::open_image(path).unwrap().to_rgb8();
    let (left, top) = ((image.width() - crop) / 2, (image.height() - crop) / 2);
    let norm = BackboneArch::MobileNetV2.normalisation();
    let mut values = vec![0.0; 3 * (crop * crop) as usize];
    for (i, value) in values.iter_mut().enumerate() {
        let (c, y, x) = (
            i / (crop * crop) as usize,
            i / crop as usize % crop as usize,
            i % crop as usize,
        );
        let byte = image.get_pixel(left + x as u32, top + y as u32)[c];
        *value = (byte as f32 / 255.0 - norm.mean[c]) / norm.std[c];
    }
    values
}

/// The ImageNet head's logits and the three tapped maps on 4 real faces: relative error
/// (max |diff| / max |torchvision|) at most 1e-4.
#[test]
fn imagenet_weights_match_torchvision_on_faces() {
    let device = Default::default();
    let model = imagenet_classifier();
    let golden = common::read_tensors("mobilenet_v2_io.safetensors");
    let metadata = safetensors_metadata("mobilenet_v2_io.safetensors");
    let images: Vec<String> = serde_json::from_str(&metadata["images"]).unwrap();
    let crop: u32 = metadata["crop"].parse().unwrap();
    let values: Vec<f32> = images
        .iter()
        .flat_map(|name| centre_crop(&shared("data/utkface/UTKFace").join(name), crop))
        .collect();
    let input = Tensor::<B, 4>::from_data(
        TensorData::new(values, [images.len(), 3, crop as usize, crop as usize]),
        &device,
    );
    let features = model.backbone.forward_features(input.clone());
    let mut relative = vec![];
    for (name, actual) in [
        ("features_6", features.stride8),
        ("features_13", features.stride16),
        ("features_18", features.stride32),
    ] {
        let expected = common::tensor::<B, 4>(&golden, name, &device);
        relative.push((name, common::relative_diff(actual, expected)));
    }
    let logits = common::tensor::<B, 2>(&golden, "logits", &device);
    relative.push((
        "logits",
        common::relative_diff(model.forward(input), logits),
    ));
    for (name, error) in relative {
        eprintln!("{name}: relative error {error:e}");
        assert!(error <= 1e-4, "{name}: relative error {error:e} > 1e-4");
    }
}

/// From image file to class: our transform (resize 256, centre crop 224, ImageNet
/// normalisation) and model give torchvision's top-1 class on every face.
#[test]
fn image_file_to_class_matches_torchvision() {
    let device = Default::default();
    let model = imagenet_classifier();
    let text = std::fs::read_to_string(common::golden("mobilenet_v2_pipeline.json")).unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let norm = BackboneArch::MobileNetV2.normalisation();
    let transform = TransformConfig {
        resize: 256,
        crop: 224,
        mean: Some(norm.mean),
        std: Some(norm.std),
        ..TransformConfig::default()
    };
    for row in golden["images"].as_array().unwrap() {
        let name = row["image"].as_str().unwrap();
        let image = image::open(shared("data/utkface/UTKFace").join(name)).unwrap();
        let x = transform.eval(&image);
        let input = Tensor::<B, 4>::from_data(TensorData::new(x.values, [1, 3, 224, 224]), &device);
        let logits = model.forward(input);
        let top1 = logits.clone().argmax(1).into_scalar() as u64;
        let logit: f32 = logits.max().into_scalar();
        eprintln!(
            "{name}: ours {top1} ({logit:.3}), torchvision {} ({:.3}, margin {:.3})",
            row["top1"],
            row["logit"].as_f64().unwrap(),
            row["margin"].as_f64().unwrap()
        );
        assert_eq!(top1, row["top1"].as_u64().unwrap(), "{name}");
    }
}

/// torchvision's `mobilenet_v2(width_mult=0.25)` with random weights: the width multiplier's
/// channel rounding and every key of its state dict, without the shared weights.
#[test]
fn narrow_network_matches_torchvision() {
    let device = Default::default();
    let config = MobileNetV2Config::new().with_width_mult(0.25);
    let backbone = config.init::<B>(&device);
    assert_eq!(backbone.tap_channels(), [8, 24, 1280]);
    let mut model = BaselineConfig::new(10).init(backbone, &device);
    model
        .load_torchvision(&common::golden("mobilenet_v2_w025.pth"))
        .unwrap();
    let golden = common::read_tensors("mobilenet_v2_w025_io.safetensors");
    let input: Tensor<B, 4> = common::tensor(&golden, "input", &device);
    let features = model.backbone.forward_features(input.clone());
    common::assert_close(
        "features_6",
        features.stride8,
        common::tensor(&golden, "features_6", &device),
        1e-4,
    );
    common::assert_close(
        "features_13",
        features.stride16,
        common::tensor(&golden, "features_13", &device),
        1e-4,
    );
    common::assert_close(
        "features_18",
        features.stride32,
        common::tensor(&golden, "features_18", &device),
        1e-4,
    );
    common::assert_close(
        "logits",
        model.forward(input.clone()),
        common::tensor(&golden, "logits", &device),
        1e-4,
    );
    // The early stops give the same maps as the whole pass.
    let stride16 = model.backbone.forward_stride16(input.clone());
    common::assert_close(
        "stride16",
        stride16,
        common::tensor(&golden, "features_13", &device),
        1e-4,
    );
    let stride8 = model.backbone.forward_stride8(input);
    common::assert_close(
        "stride8",
        stride8,
        common::tensor(&golden, "features_6", &device),
        1e-4,
    );
}

/// The data crate's default normalisation (no model dependency there) is the model crate's
/// ImageNet one.
#[test]
fn the_data_crates_imagenet_normalisation_is_the_models() {
    assert_eq!(fineface_data::IMAGENET_MEAN, fineface_model::IMAGENET_MEAN);
    assert_eq!(fineface_data::IMAGENET_STD, fineface_model::IMAGENET_STD);
    let norm = BackboneArch::MobileNetV2.normalisation();
    let transform = TransformConfig::default();
    assert_eq!(
        (transform.channel_mean(), transform.channel_std()),
        (norm.mean, norm.std)
    );
}

/// The backbone alone takes the ImageNet file and leaves its classifier out.
#[test]
fn backbone_alone_loads_the_imagenet_file() {
    let device = Default::default();
    let mut backbone = MobileNetV2Config::new().init::<B>(&device);
    let report = backbone
        .load_torchvision(&shared("weights/mobilenet_v2-b0353104.pth"))
        .unwrap();
    assert_eq!(report.applied, 260);
    // burn-store numbers a Sequential's children with parameters from 0: the file's
    // `classifier.1` (after a dropout) is reported as `classifier.0`.
    let classifier: Vec<&String> = report
        .ignored
        .iter()
        .filter(|k| k.starts_with("classifier."))
        .collect();
    assert_eq!(classifier.len(), 2, "{report:?}");
}

fn safetensors_metadata(name: &str) -> std::collections::HashMap<String, String> {
    let bytes = std::fs::read(common::golden(name)).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    metadata.metadata().clone().unwrap_or_default()
}
