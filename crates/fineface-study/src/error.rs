//! What can go wrong in a study.

use std::path::{Path, PathBuf};

/// The failures of a seed study.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A run's training or evaluation failed (the runs finished before it are kept).
    #[error(transparent)]
    Train(Box<fineface_train::TrainError>),
    /// A dataset of the plan (a run's, or a cross-dataset evaluation's) cannot be read.
    #[error(transparent)]
    Data(Box<fineface_data::DataError>),
    /// A run's predictions cannot be audited again (the bootstrap of `study.md`).
    #[error(transparent)]
    Fair(Box<fineface_fair::FairError>),
    /// A study that cannot run as asked (no seed, a repeated method, a run folder in the
    /// way trained with another config).
    #[error("study: {0}")]
    Invalid(String),
    /// A file or folder of the study that cannot be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A run's `fairness.json` that does not read as a fairness report.
    #[error("{path}: not a fairness report: {message}")]
    Report {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
}

// Boxed: a study's `Result` stays small whatever the libraries' errors hold.
impl From<fineface_train::TrainError> for StudyError {
    fn from(error: fineface_train::TrainError) -> Self {
        Self::Train(Box::new(error))
    }
}

/// A run-folder file: through the trainer's error, which keeps an I/O failure an I/O one.
impl From<fineface_run::RunError> for StudyError {
    fn from(error: fineface_run::RunError) -> Self {
        Self::from(fineface_train::TrainError::from(error))
    }
}

impl From<fineface_data::DataError> for StudyError {
    fn from(error: fineface_data::DataError) -> Self {
        Self::Data(Box::new(error))
    }
}

impl From<fineface_fair::FairError> for StudyError {
    fn from(error: fineface_fair::FairError) -> Self {
        Self::Fair(Box::new(error))
    }
}

impl StudyError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Short for `Result<T, StudyError>`.
pub type Result<T, E = StudyError> = std::result::Result<T, E>;
