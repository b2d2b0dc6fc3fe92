//! What can go wrong when loading or running the detector.

use std::path::PathBuf;

/// Errors of `fineface-detect`.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A network's weight file is not where it was expected.
    #[error(
        "MTCNN weights not found: {path} (facenet-pytorch 2.6.0's `facenet_pytorch/data/{file}`: \
         `pip download --no-deps facenet-pytorch==2.6.0` and unzip the wheel, or copy the file \
         from an installed facenet-pytorch; the commands take the folder of pnet.pt, rnet.pt \
         and onet.pt as --mtcnn DIR)"
    )]
    WeightsNotFound {
        /// The path tried.
        path: PathBuf,
        /// The file name facenet-pytorch ships it under (`pnet.pt`, ...).
        file: &'static str,
    },
    /// A PyTorch pickle other than facenet-pytorch's published file: burn-store 0.21 reads
    /// pickled tensors as if contiguous, and the published files are not, so the layout of
    /// another pickle cannot be trusted.
    #[error(
        "{path} is not facenet-pytorch 2.6.0's `{file}` (sha256 {digest}): PyTorch pickles are \
         read as if every tensor were contiguous, which the published files are not, so only \
         those are read from `.pt`; save other weights as safetensors \
         (`safetensors.torch.save_file({{k: v.contiguous() for k, v in state_dict.items()}}, \
         \"{file}.safetensors\")`)"
    )]
    UnknownPickle {
        /// The file.
        path: PathBuf,
        /// The network's file name.
        file: &'static str,
        /// The file's SHA-256.
        digest: String,
    },
    /// A weight file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A weight file exists but does not hold the network's tensors.
    #[error("cannot load MTCNN weights from {path}: {source}")]
    Weights {
        /// The file.
        path: PathBuf,
        /// What the weight import found.
        #[source]
        source: Box<fineface_model::ModelError>,
    },
    /// A detector setting out of its range.
    #[error("invalid MTCNN setting: {0}")]
    Config(String),
}

/// `Result` with [`DetectError`].
pub type Result<T, E = DetectError> = std::result::Result<T, E>;
