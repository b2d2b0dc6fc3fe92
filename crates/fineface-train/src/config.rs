//! The experiment file a user edits: `configs/<experiment>.toml`.

use std::path::{Path, PathBuf};

use fineface_data::{DatasetConfig, SplitConfig, TransformConfig};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Which network and iteration to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Three experts, attention crops, the five-step iteration.
    FineFace,
    /// The plain classifier on the deepest layer.
    Baseline,
}

impl Method {
    /// The name in config files and `run.json`: `fineface` or `baseline`.
    pub fn name(self) -> &'static str {
        match self {
            Self::FineFace => "fineface",
            Self::Baseline => "baseline",
        }
    }
}

/// Which validation number picks the checkpoint kept as `best`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectBy {
    /// Overall accuracy of the final prediction (default).
    #[default]
    Accuracy,
    /// Accuracy of the worst subgroup.
    WorstGroup,
}

/// A whole experiment: data, model, optimisation. Every table has defaults (the paper's
/// settings); unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// The experiment's name (the run folder is named after it).
    pub name: String,
    /// FineFACE or the baseline.
    pub method: Method,
    /// The dataset (`kind` and `root`, and the kind's options).
    pub data: DatasetConfig,
    /// How missing splits are carved.
    #[serde(default)]
    pub split: SplitConfig,
    /// Backbone and heads.
    #[serde(default)]
    pub model: ModelSettings,
    /// Optimiser, schedule, batches, devices.
    #[serde(default)]
    pub train: TrainSettings,
    /// Image sizes and normalisation.
    #[serde(default)]
    pub transform: TransformConfig,
    /// Attention-crop threshold and padding.
    #[serde(default)]
    pub crop: CropSettings,
}

/// Backbone and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// `resnet18`, `resnet34`, `resnet50` (paper), `resnet101` or `resnet152` for the
    /// convenience path ([`train`](crate::train)); a model handed to
    /// [`Trainer::fit`](crate::Trainer::fit) is recorded under the name given here.
    pub backbone: String,
    /// Channels of the stem (64 in torchvision); smaller values give small, fast models.
    pub width: usize,
    /// Feature width of each expert (1024 in the paper).
    pub head_width: usize,
    /// ImageNet weights (`.pth` or `.safetensors`, torchvision names) for the backbone.
    pub weights: Option<PathBuf>,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            backbone: "resnet50".to_owned(),
            width: 64,
            head_width: 1024,
            weights: None,
        }
    }
}

/// Optimiser, schedule, batches, devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// Epochs (the cosine schedule spans them).
    pub epochs: usize,
    /// Images per batch (the incomplete last batch is dropped).
    pub batch_size: usize,
    /// Learning rate of the new layers (heads, conv blocks, classifiers).
    pub lr_new: f64,
    /// Learning rate of the backbone.
    pub lr_backbone: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Seed of initialisation, data order, augmentation and crop-source choices.
    pub seed: u64,
    /// Image-decoding threads.
    pub workers: usize,
    /// Which validation number selects the kept checkpoint.
    pub select_by: SelectBy,
    /// Devices: `["cpu"]`, `["cuda:0"]`, or several GPUs for data parallelism.
    pub devices: Vec<String>,
    /// Images of the validation split shown in the report's crop grid.
    pub crop_grid_images: usize,
    /// The lean iteration (off by default): expert 2's step runs the backbone only up to
    /// layer3 and expert 2's head, expert 1's step only up to layer2 and expert 1's head.
    /// The losses, gradients and updates are the same; what differs is that those two
    /// forward passes do not update the BatchNorm running statistics of the parts they
    /// skip (layer3/layer4 and the other heads), so evaluation-mode statistics differ.
    pub lean: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 25,
            batch_size: 16,
            lr_new: 0.002,
            lr_backbone: 0.0002,
            momentum: 0.9,
            weight_decay: 5e-4,
            seed: 0,
            workers: 2,
            select_by: SelectBy::Accuracy,
            devices: vec!["cpu".to_owned()],
            crop_grid_images: 6,
            lean: false,
        }
    }
}

/// Attention-crop settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CropSettings {
    /// Normalised-map threshold of the region.
    pub threshold: f64,
    /// Widening of the box on each side, as a share of the image size.
    pub padding: f64,
}

impl Default for CropSettings {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            padding: 0.1,
        }
    }
}

/// Command-line overrides of an experiment file; `None` keeps the file's value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Dataset root.
    pub data: Option<PathBuf>,
    /// Epochs.
    pub epochs: Option<usize>,
    /// Batch size.
    pub batch_size: Option<usize>,
    /// Devices.
    pub devices: Option<Vec<String>>,
    /// Seed (initialisation, order, augmentation; also the split seed).
    pub seed: Option<u64>,
    /// Backbone architecture.
    pub backbone: Option<String>,
    /// Training crop size; the resize before it keeps the reference's 460/448 ratio.
    pub image_size: Option<u32>,
    /// ImageNet weights of the backbone.
    pub weights: Option<PathBuf>,
}

impl ExperimentConfig {
    /// Reads an experiment file; the name defaults to the file stem.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut value: toml::Table = toml::from_str(&text).map_err(|e| TrainError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if !value.contains_key("name") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
            value.insert("name".to_owned(), toml::Value::String(stem.to_owned()));
        }
        let config: Self = value
            .try_into()
            .map_err(|e: toml::de::Error| TrainError::Config {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        config.validate().map_err(|message| TrainError::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// Applies command-line overrides.
    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(root) = &overrides.data {
            *self.data.root_mut() = root.clone();
        }
        if let Some(epochs) = overrides.epochs {
            self.train.epochs = epochs;
        }
        if let Some(batch) = overrides.batch_size {
            self.train.batch_size = batch;
        }
        if let Some(devices) = &overrides.devices {
            self.train.devices = devices.clone();
        }
        if let Some(seed) = overrides.seed {
            self.train.seed = seed;
            self.split.seed = seed;
        }
        if let Some(backbone) = &overrides.backbone {
            self.model.backbone = backbone.clone();
        }
        if let Some(size) = overrides.image_size {
            self.transform.crop = size;
            self.transform.resize = (size as f64 * 460.0 / 448.0).round() as u32;
            self.transform.pad = (size as f64 * 8.0 / 448.0).round() as u32;
        }
        if let Some(weights) = &overrides.weights {
            self.model.weights = Some(weights.clone());
        }
    }

    /// Checks values serde cannot: positive sizes, devices. (Backbone names are checked
    /// where a ResNet is built, [`resnet_config`](crate::resnet_config): other networks
    /// train through [`Trainer::fit`](crate::Trainer::fit).)
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.train.epochs == 0 || self.train.batch_size < 2 {
            return Err(format!(
                "epochs must be >= 1 and batch_size >= 2 (BatchNorm needs two samples), got {} and {}",
                self.train.epochs, self.train.batch_size
            ));
        }
        if self.model.width == 0 || self.model.head_width < 2 {
            return Err("model width and head_width must be positive".to_owned());
        }
        if self.transform.crop < 32 || self.transform.resize < self.transform.crop {
            return Err(format!(
                "transform: crop {} must be >= 32 and <= resize {}",
                self.transform.crop, self.transform.resize
            ));
        }
        if self.train.devices.is_empty() {
            return Err("train.devices is empty".to_owned());
        }
        for device in &self.train.devices {
            device
                .parse::<fineface_model::DeviceSpec>()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The resolved configuration as TOML, saved into every run folder (and read back by
    /// `--resume`).
    ///
    /// # Errors
    /// The serialiser's message when a value has no TOML form (a path that is not UTF-8).
    pub fn to_toml(&self) -> std::result::Result<String, String> {
        toml::to_string_pretty(self).map_err(|e| format!("cannot write the config as TOML: {e}"))
    }
}
