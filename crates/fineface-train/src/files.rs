//! Writing run-folder files: atomically (a kill leaves the old file or the new one, never
//! half of one), JSON pretty-printed, CSV through the `csv` crate's writer.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Result, TrainError};

/// Writes `bytes` to `path` through a temporary file and a rename.
///
/// # Errors
/// [`TrainError::Io`] naming the file that could not be written or renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let staging = path.with_extension("tmp");
    std::fs::write(&staging, bytes).map_err(|e| TrainError::io(&staging, e))?;
    if let Ok(file) = std::fs::File::open(&staging) {
        let _ = file.sync_all();
    }
    std::fs::rename(&staging, path).map_err(|e| TrainError::io(path, e))
}

/// Writes `value` as pretty JSON, atomically.
///
/// # Errors
/// [`TrainError::Io`] for the file; [`TrainError::Checkpoint`] when `value` cannot be
/// serialised (a map with non-string keys, say).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::Checkpoint {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Writes `rows` under `header` as CSV (RFC 4180 quoting by the `csv` crate), atomically.
///
/// # Errors
/// [`TrainError::Io`] naming the file.
pub(crate) fn write_csv<R, I, S>(path: &Path, header: &[String], rows: R) -> Result<()>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let csv_error = |e: csv::Error| TrainError::io(path, std::io::Error::other(e.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(row).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| TrainError::io(path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, &bytes)
}

/// `path` made absolute (links resolved where it exists), to compare two spellings of it.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}
