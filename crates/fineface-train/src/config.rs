//! The experiment file a user edits: `configs/<experiment>.toml`.

use std::path::{Path, PathBuf};

use fineface_data::{DatasetConfig, SplitConfig, TransformConfig};
use fineface_model::{BackboneArch, UnknownArch};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// Which network and iteration to train: the run folder's name for it.
pub use fineface_run::Method;

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

impl SelectBy {
    /// Its value in an epoch's validation numbers.
    pub fn value_in(self, epoch: &fineface_run::EpochMetrics) -> f64 {
        match self {
            Self::Accuracy => epoch.val_accuracy,
            Self::WorstGroup => epoch.val_worst_group_accuracy,
        }
    }
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

/// The backbone an experiment names: one of torchvision's, which the library builds,
/// loads ImageNet weights into and rebuilds from a run folder; or a network of your own,
/// `custom:NAME`, which your program builds and hands to [`Trainer::fit`](crate::Trainer::fit)
/// (examples/custom_backbone.rs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum BackboneChoice {
    /// `resnet18` ... `resnet152`, `mobilenet_v2`.
    Torchvision(BackboneArch),
    /// `custom:NAME`: recorded in the run under NAME.
    Custom(String),
}

impl BackboneChoice {
    /// The torchvision architecture, or an error saying a custom backbone is built by the
    /// program that defines it.
    ///
    /// # Errors
    /// [`TrainError::Unsupported`] for a custom backbone.
    pub fn torchvision(&self) -> Result<BackboneArch> {
        match self {
            Self::Torchvision(arch) => Ok(*arch),
            Self::Custom(name) => Err(TrainError::Unsupported(format!(
                "backbone `custom:{name}` is not one this library builds: the program that \
                 defines it trains it through `Trainer::fit` and evaluates it through \
                 `RunFolder::load_model_over` and `RunFolder::evaluate_model` (see \
                 examples/custom_backbone.rs)"
            ))),
        }
    }
}

impl std::fmt::Display for BackboneChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Torchvision(arch) => write!(f, "{arch}"),
            Self::Custom(name) => write!(f, "custom:{name}"),
        }
    }
}

impl std::str::FromStr for BackboneChoice {
    type Err = String;

    fn from_str(name: &str) -> std::result::Result<Self, String> {
        match name.strip_prefix("custom:") {
            Some(custom) if !custom.trim().is_empty() => Ok(Self::Custom(custom.to_owned())),
            Some(_) => Err("`custom:` needs a name after the colon (custom:my-net)".to_owned()),
            None => name
                .parse()
                .map(Self::Torchvision)
                .map_err(|e: UnknownArch| {
                    format!(
                        "{e}; a network of your own is named `custom:NAME` and trained through \
                     `Trainer::fit` (examples/custom_backbone.rs)"
                    )
                }),
        }
    }
}

impl TryFrom<String> for BackboneChoice {
    type Error = String;

    fn try_from(name: String) -> std::result::Result<Self, String> {
        name.parse()
    }
}

impl From<BackboneChoice> for String {
    fn from(choice: BackboneChoice) -> Self {
        choice.to_string()
    }
}

/// Backbone and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// `resnet18`, `resnet34`, `resnet50` (paper), `resnet101`, `resnet152` or
    /// `mobilenet_v2`, which [`train`](crate::train) builds; `custom:NAME` for a network
    /// handed to [`Trainer::fit`](crate::Trainer::fit).
    pub backbone: BackboneChoice,
    /// A ResNet's stem channels (64 in torchvision); smaller values give small, fast models.
    pub width: usize,
    /// MobileNetV2's width multiplier (torchvision's `width_mult`; 1.0 for the ImageNet
    /// weights).
    pub width_mult: f64,
    /// Feature width of each expert (1024 in the paper).
    pub head_width: usize,
    /// ImageNet weights (`.pth` or `.safetensors`, torchvision names) for the backbone.
    pub weights: Option<PathBuf>,
}

impl ModelSettings {
    /// `model.width` belongs to the ResNets and `model.width_mult` to MobileNetV2: a value
    /// given to the other family would be silently ignored, so it is refused (by
    /// [`ExperimentConfig::validate`] and wherever the backbone is built).
    ///
    /// # Errors
    /// The key and why, naming the family's own key.
    pub fn check_widths(&self) -> std::result::Result<(), String> {
        let width_mult = self.width_mult;
        if !(width_mult.is_finite() && width_mult > 0.0) {
            return Err(format!(
                "model.width_mult must be a positive number, got {width_mult}"
            ));
        }
        match &self.backbone {
            BackboneChoice::Torchvision(BackboneArch::MobileNetV2) if self.width != 64 => {
                Err(format!(
                    "model.width = {} applies to ResNets; MobileNetV2 takes model.width_mult \
                     (torchvision's width multiplier, 1.0 for the ImageNet weights)",
                    self.width
                ))
            }
            BackboneChoice::Torchvision(arch) if arch.is_resnet() && width_mult != 1.0 => {
                Err(format!(
                    "model.width_mult = {width_mult} applies to MobileNetV2; a ResNet takes \
                     model.width (stem channels, 64 in torchvision)"
                ))
            }
            _ => Ok(()),
        }
    }
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            backbone: BackboneChoice::Torchvision(BackboneArch::ResNet50),
            width: 64,
            width_mult: 1.0,
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
    pub backbone: Option<BackboneChoice>,
    /// Training crop size; the resize before it keeps the reference's 460/448 ratio.
    pub image_size: Option<u32>,
    /// ImageNet weights of the backbone.
    pub weights: Option<PathBuf>,
}

impl Overrides {
    /// The overrides given, as the command line spells them (`--epochs 0`, `--data DIR`).
    pub fn flags(&self) -> Vec<String> {
        let flag = |name: &str, value: Option<String>| value.map(|v| format!("--{name} {v}"));
        [
            flag("data", self.data.as_ref().map(|p| p.display().to_string())),
            flag("epochs", self.epochs.map(|v| v.to_string())),
            flag("batch-size", self.batch_size.map(|v| v.to_string())),
            flag("devices", self.devices.as_ref().map(|d| d.join(","))),
            flag("seed", self.seed.map(|v| v.to_string())),
            flag("backbone", self.backbone.as_ref().map(|b| b.to_string())),
            flag("image-size", self.image_size.map(|v| v.to_string())),
            flag(
                "weights",
                self.weights.as_ref().map(|p| p.display().to_string()),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A setting in which two configs differ: `section.key` as in the TOML, and each side's
/// value.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingDifference {
    /// `section.key` (`train.lr_new`), or the section where it is not a table.
    pub key: String,
    /// The value in the config compared.
    pub this: serde_json::Value,
    /// The value in the other config.
    pub other: serde_json::Value,
}

/// A path as a config file writes it that names nothing for a reason the file cannot show:
/// empty, `~` (a shell's, never expanded in a file), spaces around it.
fn check_path_text(key: &str, path: &Path, flag: &str) -> std::result::Result<(), String> {
    let text = path.to_string_lossy();
    if text.is_empty() {
        return Err(format!(
            "{key} is empty: give the folder or file ({flag}, or in the file)"
        ));
    }
    if text == "~" || text.starts_with("~/") {
        return Err(format!(
            "{key} = {text}: `~` is not expanded in a config file; write the full path (or \
             give {flag} {text}, which the shell expands)"
        ));
    }
    let trimmed = text.trim();
    if trimmed != text && !path.exists() && Path::new(trimmed).exists() {
        return Err(format!(
            "{key} = `{text}` has spaces around it, and `{trimmed}` exists: remove them"
        ));
    }
    Ok(())
}

/// Whether `path` is a Windows drive or share path (`C:\data`, `D:/faces`,
/// `\\server\share`) read on another system, where it would be taken as a relative file
/// name and mean nothing (or a new folder named `C:\data`).
fn written_on_windows(path: &Path) -> bool {
    if cfg!(windows) {
        return false;
    }
    let text = path.to_string_lossy();
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    drive || text.starts_with("\\\\")
}

/// The widest backbone `model.width` may ask for.
const MAX_WIDTH: usize = 1024;
/// The widest expert head `model.head_width` may ask for.
const MAX_HEAD_WIDTH: usize = 16384;
/// The largest image side `transform.resize` (and `--image-size`) may ask for, in pixels.
const MAX_IMAGE_SIZE: usize = 4096;

/// The error of the `[data]` table, naming the key: serde reads a table tagged by its
/// `kind` whole, so a wrong value inside it is said to be "in `data`" alone. `None` when the
/// table reads, or its `kind` is unknown (which serde's own message says).
fn data_table_error(config: &toml::Table) -> Option<String> {
    use fineface_data::{CelebA, FairFace, ImageFolder, Lfwa, Manifest, SynthFace, UtkFace};
    fn read<T: serde::de::DeserializeOwned>(table: toml::Table) -> Option<toml::de::Error> {
        toml::Value::Table(table).try_into::<T>().err()
    }
    let data = config.get("data")?.as_table()?;
    let mut fields = data.clone();
    let kind = fields.remove("kind")?;
    let error = match kind.as_str()? {
        "fairface" => read::<FairFace>(fields),
        "utkface" => read::<UtkFace>(fields),
        "celeba" => read::<CelebA>(fields),
        "lfwa" => read::<Lfwa>(fields),
        "manifest" => read::<Manifest>(fields),
        "imagefolder" => read::<ImageFolder>(fields),
        "synthface" => read::<SynthFace>(fields),
        _ => None,
    }?;
    let message = error.message().trim_end().to_owned();
    // toml names the key as a path from the table it read: `sensitive`, `root`.
    let keys = error.to_string();
    let key = keys.lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix("in `")?
            .strip_suffix('`')
            .map(str::to_owned)
    });
    Some(match key {
        Some(key) => format!("data.{key}: {message}"),
        None => format!("[data]: {message}"),
    })
}

impl ExperimentConfig {
    /// The settings in which `other` differs from `self`, up to what does not change what is
    /// trained: the devices, the decoding threads, how the dataset root is spelled and a
    /// normalisation left open that the backbone resolves.
    pub fn differences(&self, other: &Self) -> Vec<SettingDifference> {
        let comparable = |config: &Self| {
            let mut config = config.clone();
            config.resolve_normalisation();
            config.train.devices.clear();
            config.train.workers = 0;
            *config.data.root_mut() = crate::files::absolute(config.data.root());
            serde_json::to_value(&config).unwrap_or_default()
        };
        let (this, other) = (comparable(self), comparable(other));
        let mut differences = Vec::new();
        let null = serde_json::Value::Null;
        for (section, value) in this.as_object().into_iter().flat_map(|o| o.iter()) {
            let wanted = other.get(section).unwrap_or(&null);
            if value == wanted {
                continue;
            }
            match (value.as_object(), wanted.as_object()) {
                (Some(a), Some(b)) => differences.extend(a.iter().filter_map(|(key, v)| {
                    let w = b.get(key).unwrap_or(&null);
                    (v != w).then(|| SettingDifference {
                        key: format!("{section}.{key}"),
                        this: v.clone(),
                        other: w.clone(),
                    })
                })),
                _ => differences.push(SettingDifference {
                    key: section.clone(),
                    this: value.clone(),
                    other: wanted.clone(),
                }),
            }
        }
        differences
    }

    /// Reads an experiment file; the name defaults to the file stem.
    ///
    /// # Errors
    /// [`TrainError::Io`], or [`TrainError::Config`] naming the key for a file that is no
    /// experiment or holds an invalid value ([`validate`](Self::validate)).
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_file_with(path, &Overrides::default())
    }

    /// A run's `config.toml` read to evaluate or predict with the run: as
    /// [`from_file`](Self::from_file), but its dataset root and weights may be another
    /// system's (a run copied from Windows), as they are not read unless asked (`--data`
    /// then gives the dataset).
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), without [`check_paths`](Self::check_paths).
    pub fn from_run_file(path: &Path) -> Result<Self> {
        let config = Self::read_unvalidated(path)?;
        config.validate().map_err(|message| TrainError::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    /// The experiment file at `path` as written, before [`validate`](Self::validate): a
    /// value a flag replaces may be anything.
    fn read_unvalidated(path: &Path) -> Result<Self> {
        if path.is_dir() {
            return Err(TrainError::Config {
                path: path.to_owned(),
                message: "a folder, not an experiment file (a .toml)".to_owned(),
            });
        }
        let bytes = std::fs::read(path).map_err(|source| TrainError::Io {
            path: path.to_owned(),
            source,
        })?;
        // UTF-16 with a byte-order mark (PowerShell 5's default) reads; Latin-1 is named.
        let text = fineface_text::decode(bytes).map_err(|e| TrainError::Config {
            path: path.to_owned(),
            message: format!("line {}: {}", e.line, e.cause),
        })?;
        let mut value: toml::Table = toml::from_str(&text).map_err(|e| TrainError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        if let Some(key) = non_finite_key(&value, "") {
            return Err(TrainError::Config {
                path: path.to_owned(),
                message: format!("{key} is not a finite number (nan or inf)"),
            });
        }
        if !value.contains_key("name") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("run");
            value.insert("name".to_owned(), toml::Value::String(stem.to_owned()));
        }
        let data_error = data_table_error(&value);
        value
            .try_into()
            .map_err(|e: toml::de::Error| TrainError::Config {
                path: path.to_owned(),
                message: data_error.unwrap_or_else(|| e.to_string()),
            })
    }

    /// The experiment read from `path` with `overrides` applied, validated. When the result
    /// is invalid, a file that is invalid by itself is blamed ([`TrainError::Config`]); a
    /// valid file the overrides make invalid blames the flags ([`TrainError::Flags`],
    /// `--devices cpu,tpu:0 (over ...)`). A value in the file that a flag replaces may be
    /// invalid.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file), then either of the above.
    pub fn from_file_with(path: &Path, overrides: &Overrides) -> Result<Self> {
        let file = Self::read_unvalidated(path)?;
        let mut config = file.clone();
        config.apply(overrides);
        // A value the flags replace may be anything in the file (a template's `epochs = 0`).
        let checked = |c: &Self| c.validate().and_then(|()| c.check_paths());
        let Err(message) = checked(&config) else {
            return Ok(config);
        };
        Err(match checked(&file) {
            Err(message) => TrainError::Config {
                path: path.to_owned(),
                message,
            },
            Ok(()) => TrainError::Flags {
                flags: overrides.flags().join(" "),
                path: path.to_owned(),
                message,
            },
        })
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

    /// Checks values serde cannot: positive sizes, devices, the width setting of the
    /// backbone's family. (Backbone names are parsed when the file is read.)
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.train.epochs == 0 {
            return Err("train.epochs = 0: epochs must be >= 1".to_owned());
        }
        if self.train.batch_size < 2 {
            return Err(format!(
                "train.batch_size = {}: it must be >= 2 (BatchNorm needs two samples)",
                self.train.batch_size
            ));
        }
        if self.model.width == 0 || self.model.head_width < 2 {
            return Err(format!(
                "model.width = {}, model.head_width = {}: the width must be >= 1 and the head \
                 width >= 2",
                self.model.width, self.model.head_width
            ));
        }
        self.model.check_widths()?;
        self.check_columns()?;
        // Beyond these the first allocation aborts the process (no error can be caught):
        // torchvision's ResNets are 64 wide, the paper's images 448 px.
        for (key, value, most) in [
            ("model.width", self.model.width, MAX_WIDTH),
            ("model.head_width", self.model.head_width, MAX_HEAD_WIDTH),
            (
                "transform.resize",
                self.transform.resize as usize,
                MAX_IMAGE_SIZE,
            ),
        ] {
            if value > most {
                return Err(format!(
                    "{key} = {value} is more than {most}, which no device holds (memory grows \
                     with its square): torchvision's ResNets are 64 wide, the paper's images \
                     448 px"
                ));
            }
        }
        if self.transform.crop < 32 || self.transform.resize < self.transform.crop {
            return Err(format!(
                "transform: crop {} must be >= 32 and <= resize {}",
                self.transform.crop, self.transform.resize
            ));
        }
        self.check_ranges()?;
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

    /// The dataset root and weights are paths of this system: a Windows drive or share path
    /// read elsewhere (a config written on Windows) names nothing here.
    ///
    /// # Errors
    /// The key, the path and the flag that gives it instead.
    pub fn check_paths(&self) -> std::result::Result<(), String> {
        let paths = [
            ("data.root", Some(self.data.root()), "--data"),
            ("model.weights", self.model.weights.as_deref(), "--weights"),
        ];
        for (key, path, flag) in paths {
            let Some(path) = path else { continue };
            if written_on_windows(path) {
                return Err(format!(
                    "{key} = {} is a Windows path (the config was written on Windows?), which \
                     names nothing here; give the path on this machine ({flag}, or in the file)",
                    path.display()
                ));
            }
            check_path_text(key, path, flag)?;
        }
        Ok(())
    }

    /// The data's target and sensitive columns (a manifest's, CelebA's) name something.
    fn check_columns(&self) -> std::result::Result<(), String> {
        let (target, sensitive) = match &self.data {
            DatasetConfig::Manifest(m) => (&m.target, &m.sensitive),
            DatasetConfig::CelebA(c) => (&c.target, &c.sensitive),
            _ => return Ok(()),
        };
        if target.trim().is_empty() {
            return Err(
                "data.target is empty: name the column (attribute) of the labels".to_owned(),
            );
        }
        if sensitive.is_empty() {
            return Err(
                "data.sensitive is empty: name at least one column of groups (the audit is by \
                 group)"
                    .to_owned(),
            );
        }
        if sensitive.iter().any(|s| s.trim().is_empty()) {
            return Err(format!(
                "data.sensitive = {sensitive:?} holds an empty name: give each column's name"
            ));
        }
        Ok(())
    }

    /// Every real-valued setting within its range, named when it is not.
    fn check_ranges(&self) -> std::result::Result<(), String> {
        let t = &self.train;
        let checks = [
            ("train.lr_new", t.lr_new, t.lr_new >= 0.0, "0 or more"),
            (
                "train.lr_backbone",
                t.lr_backbone,
                t.lr_backbone >= 0.0,
                "0 or more",
            ),
            (
                "train.momentum",
                t.momentum,
                (0.0..1.0).contains(&t.momentum),
                "in [0, 1)",
            ),
            (
                "train.weight_decay",
                t.weight_decay,
                t.weight_decay >= 0.0,
                "0 or more",
            ),
            (
                "crop.threshold",
                self.crop.threshold,
                (0.0..=1.0).contains(&self.crop.threshold),
                "in [0, 1]",
            ),
            (
                "crop.padding",
                self.crop.padding,
                self.crop.padding >= 0.0,
                "0 or more",
            ),
        ];
        for (key, value, ok, range) in checks {
            if !(value.is_finite() && ok) {
                return Err(format!("{key} = {value} (must be {range})"));
            }
        }
        if let Some(std) = self.transform.std
            && std.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err(format!("transform.std = {std:?} (each above 0)"));
        }
        Ok(())
    }

    /// Fills in the input normalisation the config leaves open (`transform.mean`/`std`
    /// absent) with the backbone's own ([`BackboneArch::normalisation`]: ImageNet's for
    /// every torchvision network, and for a custom backbone), so that the run's saved
    /// config records the values it trained with.
    pub fn resolve_normalisation(&mut self) {
        let own = match &self.model.backbone {
            BackboneChoice::Torchvision(arch) => arch.normalisation(),
            BackboneChoice::Custom(_) => fineface_model::Normalisation::IMAGENET,
        };
        self.transform.mean.get_or_insert(own.mean);
        self.transform.std.get_or_insert(own.std);
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

/// The dotted key of the first float in `table` that is NaN or infinite.
fn non_finite_key(table: &toml::Table, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let key = format!("{prefix}{key}");
        non_finite_value(value, &key)
    })
}

fn non_finite_value(value: &toml::Value, key: &str) -> Option<String> {
    match value {
        toml::Value::Float(f) if !f.is_finite() => Some(key.to_owned()),
        toml::Value::Table(t) => non_finite_key(t, &format!("{key}.")),
        toml::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_finite_value(v, &format!("{key}[{i}]"))),
        _ => None,
    }
}
