//! Checkpoints: model, optimiser and training state, written so that a kill at any moment
//! leaves the previous checkpoint usable.
//!
//! Layout under `<run>/checkpoints/`:
//! - `epoch-NNN/` with `model.mpk`, `optimizer.mpk` (Burn's named MessagePack records) and
//!   `state.json` (epoch, step, best so far, metric history);
//! - `latest`: the name of the newest complete `epoch-NNN` folder.
//!
//! A checkpoint is written into a staging folder, renamed into place, and only then does
//! `latest` (itself replaced by rename) point at it; older folders are removed last. The
//! scheduler needs no state of its own (the rate is a function of the epoch), and every
//! random draw (data order, augmentation, crop sources) is a function of (seed, epoch,
//! batch), so epoch and step are the whole of the RNG and data-order state.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use fineface_model::FineFaceAutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::files::{write_atomic, write_json};
use crate::metrics::EpochMetrics;
use crate::optim::{GroupedModule, GroupedSgd};

/// The recorder of every checkpoint file.
pub type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Where training stands, saved beside the weights.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epochs_done: usize,
    /// Optimiser iterations completed.
    pub step: u64,
    /// The seed the run started with.
    pub seed: u64,
    /// The best validation value of the selection metric so far, and its epoch (1-based).
    pub best: Option<(f64, usize)>,
    /// One entry per completed epoch.
    pub history: Vec<EpochMetrics>,
}

/// The checkpoints folder of a run.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
}

impl Checkpoints {
    /// The checkpoints of the run folder `run`.
    pub fn new(run: &Path) -> Self {
        Self {
            dir: run.join("checkpoints"),
        }
    }

    /// The newest complete checkpoint, if any.
    pub fn latest(&self) -> Result<Option<PathBuf>> {
        let pointer = self.dir.join("latest");
        match std::fs::read_to_string(&pointer) {
            Ok(name) => {
                let path = self.dir.join(name.trim());
                if path.join("state.json").is_file() {
                    Ok(Some(path))
                } else {
                    Err(TrainError::Checkpoint {
                        path: pointer,
                        message: format!("points at {}, which is incomplete", path.display()),
                    })
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TrainError::io(&pointer, e)),
        }
    }

    /// Writes a checkpoint of the end of `state.epochs_done`.
    pub fn save<B: FineFaceAutodiffBackend, M: GroupedModule<B>>(
        &self,
        model: &M,
        optimizer: &GroupedSgd<B, M>,
        state: &TrainState,
    ) -> Result<PathBuf> {
        let name = format!("epoch-{:03}", state.epochs_done);
        let staging = self.dir.join(format!(".staging-{name}"));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| TrainError::io(&staging, e))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| TrainError::io(&staging, e))?;
        let recorder = CheckpointRecorder::new();
        model
            .clone()
            .save_file(staging.join("model"), &recorder)
            .map_err(|e| record_error(&staging, e))?;
        recorder
            .record(optimizer.to_record(), staging.join("optimizer"))
            .map_err(|e| record_error(&staging, e))?;
        write_json(&staging.join("state.json"), state)?;
        sync_dir(&staging);
        let target = self.dir.join(&name);
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| TrainError::io(&target, e))?;
        }
        std::fs::rename(&staging, &target).map_err(|e| TrainError::io(&target, e))?;
        write_atomic(&self.dir.join("latest"), name.as_bytes())?;
        // Only now are older checkpoints redundant.
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let other = file_name.to_string_lossy();
                if other.starts_with("epoch-") && other != name.as_str() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        Ok(target)
    }

    /// Loads the checkpoint at `path` into a freshly built model and optimiser.
    pub fn load<B: FineFaceAutodiffBackend, M: GroupedModule<B>>(
        path: &Path,
        model: M,
        optimizer: GroupedSgd<B, M>,
        device: &B::Device,
    ) -> Result<(M, GroupedSgd<B, M>, TrainState)> {
        let recorder = CheckpointRecorder::new();
        let model = model
            .load_file(path.join("model"), &recorder, device)
            .map_err(|e| record_error(path, e))?;
        let record = recorder
            .load(path.join("optimizer"), device)
            .map_err(|e| record_error(path, e))?;
        let state_path = path.join("state.json");
        let text =
            std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        let state = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: state_path,
            message: e.to_string(),
        })?;
        Ok((model, optimizer.load_record(record), state))
    }
}

/// Saves model weights alone (`best.mpk`), atomically.
pub fn save_weights<B: burn::tensor::backend::Backend, M: Module<B>>(
    model: &M,
    path: &Path,
) -> Result<()> {
    // The recorder sets the `.mpk` extension itself; a dot-file name keeps it from
    // replacing part of ours, so the rename below is the only write to `path`.
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("weights");
    let staging = path.with_file_name(format!(".{stem}-staging"));
    model
        .clone()
        .save_file(&staging, &CheckpointRecorder::new())
        .map_err(|e| record_error(path, e))?;
    std::fs::rename(staging.with_file_name(format!(".{stem}-staging.mpk")), path)
        .map_err(|e| TrainError::io(path, e))
}

/// Loads weights saved by [`save_weights`] into `model`.
pub fn load_weights<B: burn::tensor::backend::Backend, M: Module<B>>(
    model: M,
    path: &Path,
    device: &B::Device,
) -> Result<M> {
    if !path.is_file() {
        return Err(TrainError::Checkpoint {
            path: path.to_owned(),
            message: "no weights file (was the run trained to the end of an epoch?)".to_owned(),
        });
    }
    model
        .load_file(path, &CheckpointRecorder::new(), device)
        .map_err(|e| record_error(path, e))
}

fn sync_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if let Ok(file) = std::fs::File::open(entry.path()) {
                let _ = file.sync_all();
            }
        }
    }
}

fn record_error(path: &Path, error: burn::record::RecorderError) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_owned(),
        message: error.to_string(),
    }
}
