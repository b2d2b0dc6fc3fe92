//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong building, loading or saving a model, or choosing a device.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A weights file that does not exist.
    #[error(
        "weights file {path} not found: expected torchvision weights as .pth or .safetensors \
         (torchvision publishes them under https://download.pytorch.org/models/, e.g. \
         resnet50-0676ba61.pth or mobilenet_v2-b0353104.pth; download on a machine with network \
         access and pass the local path)"
    )]
    WeightsNotFound {
        /// The path that was given.
        path: PathBuf,
    },
    /// A weights file with an extension we do not read.
    #[error(
        "weights file {path}: unknown format (expected a PyTorch pickle: .pth, .pt, .ckpt, \
         .bin, .pth.tar; or .safetensors)"
    )]
    UnknownWeightFormat {
        /// The path that was given.
        path: PathBuf,
    },
    /// The file could not be read or parsed.
    #[error("cannot read weights from {path}: {message}")]
    WeightsUnreadable {
        /// The file.
        path: PathBuf,
        /// The reader's explanation.
        message: String,
    },
    /// The file holds the model's tensors twice, under different keys (a model and its EMA
    /// copy): which to load is the user's choice, not ours.
    #[error(
        "weights in {path} hold the model twice, under {prefixes}; save the copy you want as a \
         plain state dict, e.g. for the first: {fix}"
    )]
    WeightsAmbiguous {
        /// The file.
        path: PathBuf,
        /// The key prefixes, quoted and joined.
        prefixes: String,
        /// The PyTorch line that saves the first copy as a plain state dict.
        fix: String,
    },
    /// The file's tensors do not match the model's parameters.
    #[error(
        "weights in {path} do not fit the model: {} missing [{}], {} unexpected [{}], {} mis-shaped [{}]",
        missing.len(), missing.join(", "), unexpected.len(), unexpected.join(", "),
        mismatched.len(), mismatched.join("; ")
    )]
    WeightsMismatch {
        /// The file.
        path: PathBuf,
        /// Model parameters the file lacks.
        missing: Vec<String>,
        /// File tensors the model has no place for.
        unexpected: Vec<String>,
        /// Tensors of the wrong shape or type, with both shapes.
        mismatched: Vec<String>,
    },
    /// Most of the model found no tensor in the file: its keys follow another naming.
    #[error(
        "{n_found} tensors in {} fit nowhere in the model: the file has keys like {found}, \
         the model expects keys like {expected}; {nearest} (a file \
         saved from a wrapper module has a prefix on every key: save the inner model's \
         state_dict)",
        path.display()
    )]
    WeightsKeysUnrelated {
        /// The file.
        path: PathBuf,
        /// How many of the file's tensors the model did not take.
        n_found: usize,
        /// A few of the file's keys.
        found: String,
        /// A few of the keys the model expects.
        expected: String,
        /// Which expected key is nearest to the first file key (the longest common ending).
        nearest: String,
    },
    /// A model could not be written.
    #[error("cannot write {path}: {message}")]
    Save {
        /// The target file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A device that cannot be used here.
    #[error("device `{device}` is not usable: {reason}")]
    DeviceUnavailable {
        /// The device asked for (`cuda:0`, ...).
        device: String,
        /// Why.
        reason: String,
    },
    /// A device string we do not understand.
    #[error("unknown device `{0}` (expected `cpu`, `cuda`, `cuda:N`, `wgpu` or `wgpu:N`)")]
    UnknownDevice(String),
}

/// Short for `Result<T, ModelError>`.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
