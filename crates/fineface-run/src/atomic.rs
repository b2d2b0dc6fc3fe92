//! Writing run-folder files atomically (a kill leaves the old file or the new one, never
//! half of one), JSON pretty-printed, CSV through the `csv` crate's writer; and reading
//! the JSON back into its type.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, RunError};

/// Writes `bytes` to `path` through a temporary file and a rename.
///
/// # Errors
/// [`RunError::Io`] naming the file that could not be written or renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let staging = path.with_extension("tmp");
    std::fs::write(&staging, bytes).map_err(|e| RunError::io(&staging, e))?;
    if let Ok(file) = std::fs::File::open(&staging) {
        let _ = file.sync_all();
    }
    std::fs::rename(&staging, path).map_err(|e| RunError::io(path, e))
}

/// Writes `value` as pretty JSON, atomically.
///
/// # Errors
/// [`RunError::Io`] for the file; [`RunError::Serialise`] when `value` cannot be written
/// as JSON.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RunError::Serialise {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    write_atomic(path, text.as_bytes())
}

/// Reads the JSON file `path` as a `T`.
///
/// # Errors
/// [`RunError::Io`] when it cannot be read, [`RunError::Json`] when it is not a `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| RunError::Json {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Writes `rows` under `header` as CSV (RFC 4180 quoting by the `csv` crate), atomically.
///
/// # Errors
/// [`RunError::Io`] naming the file.
pub fn write_csv<R, I, S>(path: &Path, header: &[String], rows: R) -> Result<()>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let csv_error = |e: csv::Error| RunError::io(path, std::io::Error::other(e.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(csv_error)?;
    for row in rows {
        writer.write_record(row).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| RunError::io(path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, &bytes)
}
