//! What can go wrong reading or writing a run folder.

use std::path::PathBuf;

/// A run-folder file that cannot be read or written, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A JSON file that does not hold what its name says.
    #[error("{path}: not the file this version writes: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message (the field, line and column).
        message: String,
    },
    /// A value that cannot be written as JSON (a map with non-string keys, say).
    #[error("{path}: cannot be written as JSON: {message}")]
    Serialise {
        /// The file.
        path: PathBuf,
        /// The serialiser's message.
        message: String,
    },
    /// A folder that is not a finished run folder.
    #[error(
        "{dir}: not a finished run folder ({missing} is missing; runs/<experiment>/run-NNN \
         holds it once training ends)"
    )]
    Unfinished {
        /// The folder.
        dir: PathBuf,
        /// The file it lacks.
        missing: PathBuf,
    },
    /// A CSV file with a header or a row this version does not read.
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line (1 is the header; 0 where the reader could not tell).
        line: u64,
        /// What is wrong there.
        message: String,
    },
}

impl RunError {
    /// [`RunError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// [`RunError::Csv`] at `line` of `path`.
    pub(crate) fn csv(path: &std::path::Path, line: u64, message: impl Into<String>) -> Self {
        Self::Csv {
            path: path.to_owned(),
            line,
            message: message.into(),
        }
    }
}

/// The result of run-folder reads and writes.
pub type Result<T, E = RunError> = std::result::Result<T, E>;
