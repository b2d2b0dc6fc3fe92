//! Files: the run folder's atomic writers (`fineface-run`'s: a kill leaves the old file or
//! the new one, never half of one; their errors convert into [`TrainError`](crate::TrainError)
//! by `?`), and paths made comparable.

use std::path::{Path, PathBuf};

pub(crate) use fineface_run::{write_atomic, write_csv, write_json};

/// `path` made absolute (links resolved where it exists), to compare two spellings of it.
pub fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}
