//! The crate's error type.

use std::path::PathBuf;

/// What makes a dataset unusable. Problems with single images are not errors: those images
/// are skipped and listed with their reason (see [`Skipped`](crate::Skipped)).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder the layout requires is absent.
    #[error("{dataset}: expected {expected} at {path} ({hint})")]
    MissingFile {
        /// Dataset name.
        dataset: &'static str,
        /// What was expected there.
        expected: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// Where the dataset is published or how the layout looks.
        hint: &'static str,
    },
    /// The layout's folder exists, but no image is where the layout puts them nor in the
    /// usual variants of it.
    #[error("{dataset}: no {expected} in {looked_in}; {found} ({hint})")]
    ImagesNotFound {
        /// Dataset name.
        dataset: &'static str,
        /// The images looked for.
        expected: String,
        /// The folders looked in.
        looked_in: String,
        /// What is there instead.
        found: String,
        /// Where the dataset is published or how the layout looks.
        hint: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A label file line that cannot be understood.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong, with the offending value.
        message: String,
    },
    /// A sample's target label is not one of the classes it should index into.
    #[error("{file}: unknown target label {value:?} (known classes: {})", classes.join(", "))]
    UnknownTarget {
        /// The sample's file, as the dataset lists it.
        file: String,
        /// Its label.
        value: String,
        /// The labels known.
        classes: Vec<String>,
    },
    /// A configuration value that does not fit the dataset.
    #[error("{0}")]
    Config(String),
}

/// Short for `Result<T, DataError>`.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn parse(path: &std::path::Path, line: u64, message: impl Into<String>) -> Self {
        Self::Parse {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}
