//! An image left out of a batch, and why.

use std::path::PathBuf;

/// An image that cannot go into a batch, and why: it could not be decoded (its decoder or
/// transform panicked included), or its target is not one of the classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadImage {
    /// The file.
    pub path: PathBuf,
    /// What went wrong: the decoder's message, the panic's, or the unknown label with the
    /// known classes.
    pub message: String,
}
