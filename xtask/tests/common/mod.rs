//! What the command-line tests share.

use std::path::{Path, PathBuf};

/// The repository root (the parent of `xtask/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the repository")
        .to_path_buf()
}
