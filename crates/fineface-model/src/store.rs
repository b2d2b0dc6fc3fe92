//! Saving and loading whole models in Burn's own format (burnpack, via burn-store).

use std::path::Path;

use burn::tensor::backend::Backend;
use burn_store::{BurnpackStore, ModuleSnapshot};

use crate::error::{ModelError, Result};

/// Writes every parameter and running statistic of `module` to `path` (`.bpk`), replacing
/// an existing file.
pub fn save_model<B: Backend, M: ModuleSnapshot<B>>(module: &M, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path)
        .auto_extension(false)
        .overwrite(true);
    module.save_into(&mut store).map_err(|e| ModelError::Save {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Loads a file written by [`save_model`] into a module of the same structure; every tensor
/// must be present and of the same shape.
pub fn load_model<B: Backend, M: ModuleSnapshot<B>>(module: &mut M, path: &Path) -> Result<()> {
    if !path.exists() {
        return Err(ModelError::WeightsNotFound {
            path: path.to_owned(),
        });
    }
    let mut store = BurnpackStore::from_file(path)
        .auto_extension(false)
        .allow_partial(false)
        .validate(true);
    let result = module
        .load_from(&mut store)
        .map_err(|e| ModelError::WeightsUnreadable {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if !result.unused.is_empty() {
        return Err(ModelError::WeightsMismatch {
            path: path.to_owned(),
            missing: Vec::new(),
            unexpected: result.unused,
            mismatched: Vec::new(),
        });
    }
    Ok(())
}
