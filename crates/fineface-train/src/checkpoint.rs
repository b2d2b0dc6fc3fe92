//! Checkpoints: model, optimiser and training state, written so that a kill at any moment
//! leaves the previous checkpoint usable.
//!
//! Layout under `<run>/checkpoints/`:
//! - `epoch-NNN/` with `model.mpk`, `optimizer.mpk` (Burn's named MessagePack records),
//!   `state.json` (epoch, step, best so far, metric history) and `checksums.json` (size and
//!   SHA-256 of each of the three, taken when they were written);
//! - `latest`: the name of the newest complete `epoch-NNN` folder.
//!
//! A checkpoint is written into a staging folder, renamed into place, and only then does
//! `latest` (itself replaced by rename) point at it; folders older than the previous
//! checkpoint are removed last. Resuming verifies the checksums and falls back from a
//! damaged checkpoint to the newest intact one. The
//! scheduler needs no state of its own (the rate is a function of the epoch), and every
//! random draw (data order, augmentation, crop sources) is a function of (seed, epoch,
//! batch), so epoch and step are the whole of the RNG and data-order state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use fineface_model::FineFaceAutodiffBackend;
use serde::{Deserialize, Serialize};

use crate::config::ExperimentConfig;
use crate::error::{Damage, Result, TrainError};
use crate::files::{write_atomic, write_json};
use crate::optim::{GroupedModule, GroupedSgd};
use fineface_run::EpochMetrics;

/// The recorder of every checkpoint file.
pub(crate) type CheckpointRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// The files of a checkpoint folder that `checksums.json` must cover.
const CHECKPOINT_FILES: [&str; 3] = ["model.mpk", "optimizer.mpk", "state.json"];

/// The file in each checkpoint folder recording its other files' sizes and SHA-256.
pub const CHECKSUMS_FILE: &str = "checksums.json";

/// Size and SHA-256 of a checkpoint file as it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileChecksum {
    /// Length in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// The checkpoint a resume starts from, and the newer ones passed over as damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// The checkpoint folder.
    pub path: PathBuf,
    /// Damaged newer checkpoints, newest first.
    pub damaged: Vec<Damage>,
    /// Older checkpoints, newest first, their checksums not yet verified: where a resume goes
    /// on when `path` passes its checksums but does not decode (written before checksums
    /// existed, half copied).
    pub older: Vec<PathBuf>,
}

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
    /// The config the run trains with, so that a resume notices a `config.toml` edited
    /// since (`None` in checkpoints written before it was recorded).
    #[serde(default)]
    pub config: Option<ExperimentConfig>,
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
            dir: fineface_run::RunFiles::new(run).checkpoints(),
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
        let mut sums = BTreeMap::new();
        for file in CHECKPOINT_FILES {
            sums.insert(file.to_owned(), checksum(&staging.join(file))?);
        }
        write_json(&staging.join(CHECKSUMS_FILE), &sums)?;
        sync_dir(&staging);
        let target = self.dir.join(&name);
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| TrainError::io(&target, e))?;
        }
        std::fs::rename(&staging, &target).map_err(|e| TrainError::io(&target, e))?;
        write_atomic(&self.dir.join("latest"), name.as_bytes())?;
        // Only now are other checkpoints redundant: two are kept, this one and the newest
        // older one, so that a damaged newest checkpoint costs an epoch, not the run (folders
        // of a later epoch left by an earlier run in this folder go too).
        let written = state.epochs_done;
        let folders = self.epoch_folders();
        let previous = folders.iter().map(|(e, _)| *e).find(|e| *e < written);
        for (epoch, path) in folders {
            if epoch != written && Some(epoch) != previous {
                let _ = std::fs::remove_dir_all(path);
            }
        }
        Ok(target)
    }

    /// Whether the run has written no checkpoint at all (no `latest`, no `epoch-NNN`
    /// folder): a look at names, not the checksum verification of
    /// [`resume_point`](Self::resume_point), which a resume then does once.
    pub fn is_empty(&self) -> bool {
        !self.dir.join("latest").exists() && self.epoch_folders().is_empty()
    }

    /// The `epoch-NNN` folders, newest first.
    fn epoch_folders(&self) -> Vec<(usize, PathBuf)> {
        let mut folders: Vec<(usize, PathBuf)> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name();
                        let epoch = name.to_str()?.strip_prefix("epoch-")?.parse().ok()?;
                        Some((epoch, e.path()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        folders.sort_by_key(|f| std::cmp::Reverse(f.0));
        folders
    }

    /// Where a resume starts: the newest checkpoint (the one `latest` names, or an older
    /// one) whose files match the checksums recorded when they were written. Checkpoints
    /// written before checksums existed count as intact.
    ///
    /// # Errors
    /// [`TrainError::NoIntactCheckpoint`] when every checkpoint is damaged, naming each
    /// damaged file; `Ok(None)` when there is no checkpoint at all.
    pub fn resume_point(&self) -> Result<Option<ResumePoint>> {
        let mut damaged = Vec::new();
        let pointer = self.dir.join("latest");
        let newest = match std::fs::read_to_string(&pointer) {
            Ok(name) => name
                .trim()
                .strip_prefix("epoch-")
                .and_then(|n| n.parse::<usize>().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // A damaged pointer: the checkpoint folders still say which is newest.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                damaged.push(Damage {
                    file: pointer,
                    reason: "it is not text (damaged)".to_owned(),
                });
                None
            }
            Err(e) => return Err(TrainError::io(&pointer, e)),
        };
        let folders = self.epoch_folders();
        let mut newest = newest;
        if let Some(n) = newest
            && !folders.iter().any(|(e, _)| *e == n)
        {
            damaged.push(Damage {
                file: self.dir.join(format!("epoch-{n:03}")),
                reason: "`latest` names it, but it is absent".to_owned(),
            });
            // The pointer is wrong: every folder is a candidate, its checksums the judge.
            newest = None;
        }
        let mut candidates = Vec::new();
        for (epoch, path) in folders {
            if newest.is_some_and(|n| epoch > n) {
                continue; // written after `latest` was last updated: never completed
            }
            if path.join("state.json").is_file() {
                candidates.push(path);
            } else {
                damaged.push(Damage {
                    file: path.join("state.json"),
                    reason: "it is missing (the checkpoint is incomplete)".to_owned(),
                });
            }
        }
        if candidates.is_empty() && damaged.is_empty() {
            return Ok(None);
        }
        // The newest that passes its checksums; the older ones are verified only if a
        // resume needs them (each checksum reads the whole checkpoint).
        let mut candidates = candidates.into_iter();
        let path = loop {
            let Some(path) = candidates.next() else {
                return Err(TrainError::NoIntactCheckpoint {
                    dir: self.dir.clone(),
                    damaged,
                });
            };
            match verify(&path) {
                Ok(()) => break path,
                Err(d) => damaged.push(d),
            }
        };
        let intact: Vec<PathBuf> = candidates.collect();
        for d in &damaged {
            tracing::warn!(
                "{d}; resuming from {}, the newest intact checkpoint",
                path.display()
            );
        }
        Ok(Some(ResumePoint {
            path,
            damaged,
            older: intact,
        }))
    }

    /// The state saved with the checkpoint at `path` (`state.json`): the epochs done, the
    /// selection so far, and the config the run trained with.
    ///
    /// # Errors
    /// The file cannot be read or is not a state.
    pub fn state(path: &Path) -> Result<TrainState> {
        let state_path = path.join("state.json");
        let text =
            std::fs::read_to_string(&state_path).map_err(|e| TrainError::io(&state_path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: state_path,
            message: e.to_string(),
        })
    }

    /// The folder of epoch `epoch`'s checkpoint (`checkpoints/epoch-007`), whether or not
    /// it is kept.
    pub fn folder(&self, epoch: usize) -> PathBuf {
        self.dir.join(format!("epoch-{epoch:03}"))
    }

    /// The model file of epoch `epoch`'s checkpoint, when that checkpoint is kept and
    /// intact.
    pub fn intact_model(&self, epoch: usize) -> Option<PathBuf> {
        let folder = self.folder(epoch);
        (folder.join("model.mpk").is_file() && verify(&folder).is_ok())
            .then(|| folder.join("model.mpk"))
    }

    /// Loads the checkpoint at `path` into a freshly built model and optimiser.
    pub fn load<B: FineFaceAutodiffBackend, M: GroupedModule<B>>(
        path: &Path,
        model: M,
        optimizer: GroupedSgd<B, M>,
        device: &B::Device,
    ) -> Result<(M, GroupedSgd<B, M>, TrainState)> {
        let model = load_fitting(model, &path.join("model.mpk"), device)?;
        let optimizer_file = path.join("optimizer.mpk");
        let record = without_panic_message(|| {
            CheckpointRecorder::new().load(optimizer_file.clone(), device)
        })
        .unwrap_or_else(|_| Err(undecodable()))
        .map_err(|e| decode_error(&optimizer_file, e))?;
        let state = Self::state(path)?;
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
    load_fitting(model, path, device)
}

/// `model` with the record at `file` (a `.mpk`) loaded, or why it does not fit. Burn 0.21's
/// `load_record` asserts (panics) when the record's lists of layers are not the module's,
/// and takes tensors of any shape, which fail later in the forward pass; both are checked
/// here, so that the record of another model (a `config.toml` whose backbone or widths were
/// edited since the run) is an error naming the file.
fn load_fitting<B: burn::tensor::backend::Backend, M: Module<B>>(
    model: M,
    file: &Path,
    device: &B::Device,
) -> Result<M> {
    let expected = parameter_shapes(&model);
    let record = without_panic_message(|| {
        CheckpointRecorder::new().load::<M::Record>(file.to_owned(), device)
    })
    .unwrap_or_else(|_| Err(undecodable()))
    .map_err(|e| decode_error(file, e))?;
    let loaded = without_panic_message(|| model.load_record(record));
    match loaded {
        Ok(model) if parameter_shapes(&model) == expected => Ok(model),
        _ => Err(TrainError::Checkpoint {
            path: file.to_owned(),
            message: "its weights do not fit the model the run's config.toml describes (the \
                      backbone, widths or classes edited since it was written?)"
                .to_owned(),
        }),
    }
}

/// The shape of every parameter of `module`, in visiting order.
fn parameter_shapes<B: burn::tensor::backend::Backend, M: Module<B>>(
    module: &M,
) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl<B: burn::tensor::backend::Backend> burn::module::ModuleVisitor<B> for Shapes {
        fn visit_float<const D: usize>(
            &mut self,
            param: &burn::module::Param<burn::tensor::Tensor<B, D>>,
        ) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut shapes = Shapes(Vec::new());
    module.visit(&mut shapes);
    shapes.0
}

/// `f`'s value, or `Err` when it panics, without the panic's message on stderr: Burn 0.21's
/// record decoding panics on some damaged files (`ParamId`'s "Invalid id."), and its
/// `load_record` asserts; the caller names the file and the cause. Calls are serialised, as
/// the panic hook is the process's; a panic elsewhere during one loses its message.
fn without_panic_message<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _only_one = HOOK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}

/// What a record that made Burn's decoder panic is.
fn undecodable() -> burn::record::RecorderError {
    burn::record::RecorderError::DeserializeError("the decoder stopped on it".to_owned())
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

/// Size and SHA-256 of `path`.
fn checksum(path: &Path) -> Result<FileChecksum> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|e| TrainError::io(path, e))?;
    let mut hasher = sha2::Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| TrainError::io(path, e))?;
    Ok(FileChecksum {
        bytes,
        sha256: format!("{:x}", hasher.finalize()),
    })
}

/// Checks every file of the checkpoint at `path` against its `checksums.json` (one written
/// before checksums existed counts as intact).
///
/// # Errors
/// The first file that differs, with how.
pub(crate) fn verify(path: &Path) -> std::result::Result<(), Damage> {
    let sums_path = path.join(CHECKSUMS_FILE);
    let text = match std::fs::read_to_string(&sums_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::debug!(checkpoint = %path.display(), "no checksums (written before they existed)");
            return Ok(());
        }
        Err(e) => {
            return Err(Damage {
                file: sums_path,
                reason: format!("it cannot be read ({e})"),
            });
        }
    };
    let sums: BTreeMap<String, FileChecksum> = serde_json::from_str(&text).map_err(|e| Damage {
        file: sums_path.clone(),
        reason: format!("it is not a checksum list ({e})"),
    })?;
    if let Some(absent) = CHECKPOINT_FILES.iter().find(|f| !sums.contains_key(**f)) {
        return Err(Damage {
            file: sums_path,
            reason: format!("it lists no checksum for {absent}"),
        });
    }
    for (name, expected) in sums {
        let file = path.join(&name);
        let damage = |reason: String| Damage {
            file: file.clone(),
            reason,
        };
        let actual =
            checksum(&file).map_err(|_| damage("it is missing or unreadable".to_owned()))?;
        if actual.bytes != expected.bytes {
            return Err(damage(format!(
                "it has {} bytes, {} were written",
                actual.bytes, expected.bytes
            )));
        }
        if actual.sha256 != expected.sha256 {
            return Err(damage(
                "its SHA-256 differs from the one recorded when it was written".to_owned(),
            ));
        }
    }
    Ok(())
}

/// A record that does not decode. Burn's message for a damaged file suggests its
/// `record-backward-compat` feature, which does not apply to files this crate wrote; the
/// message is kept in the debug log only.
fn decode_error(file: &Path, error: burn::record::RecorderError) -> TrainError {
    tracing::debug!(file = %file.display(), "Burn's record decoder: {error}");
    TrainError::Checkpoint {
        path: file.to_owned(),
        message: "cannot decode it: the file is damaged, or it is not a FineFACE-rs checkpoint \
                  of this model"
            .to_owned(),
    }
}

fn record_error(path: &Path, error: burn::record::RecorderError) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_owned(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use fineface_run::Loss;

    use super::TrainState;

    #[test]
    fn an_old_baselines_loss_reads_under_its_new_name_and_an_unknown_one_is_refused() {
        let epoch = |losses: &str| {
            format!(
                r#"{{"epoch": 1, "lr_backbone": 0.1, "lr_new": 0.1, "losses": {losses},
                "train_accuracy": 0.5, "val_accuracy": 0.5, "val_accuracy_concat": 0.5,
                "val_accuracy_heads": 0.5, "val_worst_group_accuracy": 0.5,
                "val_worst_group": "a", "val_dob": 0.0, "val_groups": {{}}, "seconds": 1.0,
                "rss_mb": 1.0, "peak_rss_mb": 1.0, "skipped_images": 0}}"#
            )
        };
        let state = |losses: &str| {
            let text = format!(
                r#"{{"epochs_done": 1, "step": 4, "seed": 0, "best": null, "history": [{}]}}"#,
                epoch(losses)
            );
            serde_json::from_str::<TrainState>(&text)
        };
        let old = state(r#"[["loss", 0.7]]"#).unwrap();
        assert_eq!(old.history[0].losses, [(Loss::CrossEntropy, 0.7)]);
        let fineface = state(r#"[["expert3", 0.7], ["crop_all", 0.1]]"#).unwrap();
        assert_eq!(
            fineface.history[0].losses,
            [(Loss::Expert3, 0.7), (Loss::CropAll, 0.1)]
        );
        let unknown = state(r#"[["expert4", 0.7]]"#).unwrap_err().to_string();
        assert!(unknown.contains("expert4"), "{unknown}");
    }
}
