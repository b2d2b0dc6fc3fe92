//! What the whole-run tests share.

use std::path::Path;

use fineface_data::{DatasetConfig, SplitConfig, SynthFace, TransformConfig};
use fineface_model::BackboneArch;
use fineface_train::{
    BackboneChoice, CropSettings, ExperimentConfig, Method, ModelSettings, TrainSettings,
};

/// A tiny SynthFace run: 96 images of 32 px, a ResNet-18 of width 4 with heads 8 wide,
/// 3 epochs of batch 8.
pub fn tiny_config(data: &Path, method: Method) -> ExperimentConfig {
    ExperimentConfig {
        name: "tiny".to_owned(),
        method,
        data: DatasetConfig::SynthFace(SynthFace {
            root: data.to_owned(),
            images: 96,
            size: 32,
            seed: 3,
        }),
        split: SplitConfig::default(),
        model: ModelSettings {
            backbone: BackboneChoice::Torchvision(BackboneArch::ResNet18),
            width: 4,
            head_width: 8,
            ..ModelSettings::default()
        },
        train: TrainSettings {
            epochs: 3,
            batch_size: 8,
            lr_new: 0.01,
            lr_backbone: 0.01,
            workers: 2,
            crop_grid_images: 2,
            ..TrainSettings::default()
        },
        transform: TransformConfig {
            resize: 34,
            crop: 32,
            pad: 1,
            mean: Some([0.5; 3]),
            std: Some([0.5; 3]),
            ..TransformConfig::default()
        },
        crop: CropSettings::default(),
    }
}
