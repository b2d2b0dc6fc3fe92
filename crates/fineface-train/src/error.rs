//! The crate's error type.

use std::path::PathBuf;

/// What stops a run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A run-folder file (other than an unreadable or unwritable one: [`TrainError::Io`])
    /// that does not hold what its name says.
    #[error(transparent)]
    RunFile(fineface_run::RunError),
    /// An experiment file that cannot be read into a configuration.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Command-line settings that make a valid experiment file invalid: the flags are
    /// named, not the file.
    #[error("{flags} (over {path}): {message}")]
    Flags {
        /// The flags given, as typed (`--epochs 0 --image-size 7`).
        flags: String,
        /// The experiment file they override.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An output folder that already holds a result, not asked to be replaced
    /// ([`EvalRequest::replace`](crate::EvalRequest::replace)).
    #[error(
        "{path} already holds an evaluation; results are not overwritten unless asked \
         (--replace), or give another --out"
    )]
    WouldOverwrite {
        /// The folder.
        path: PathBuf,
    },
    /// A file or folder that cannot be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The dataset cannot be loaded.
    #[error(transparent)]
    Data(#[from] fineface_data::DataError),
    /// The run's own dataset, where its `config.toml` says, cannot be read (the run was
    /// copied from elsewhere, or the dataset moved).
    #[error(
        "the run's dataset (data.root in {config}) cannot be read: {source}; give where it is \
         here with --data",
        config = config.display()
    )]
    RunDataset {
        /// The run's `config.toml`.
        config: PathBuf,
        /// Why the dataset cannot be read.
        source: Box<fineface_data::DataError>,
    },
    /// Weights or devices.
    #[error(transparent)]
    Model(#[from] fineface_model::ModelError),
    /// The fairness report cannot be computed.
    #[error(transparent)]
    Fair(#[from] fineface_fair::FairError),
    /// The face detector cannot be loaded or a face cannot be cut.
    #[error(transparent)]
    Detect(#[from] fineface_detect::DetectError),
    /// An evaluation in which no image could be scored.
    #[error(
        "none of the {total} images of {dataset} could be scored ({reasons}); nothing to audit"
    )]
    NothingScored {
        /// The dataset's name.
        dataset: String,
        /// Images asked for.
        total: usize,
        /// The reasons, counted (`12 x no face found (...)`).
        reasons: String,
    },
    /// A path given to a photo command that is neither an image file nor a folder.
    #[error("{path}: {message}")]
    Photos {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Configured ImageNet weights that are not there.
    #[error(
        "no ImageNet weights at {path}: the {backbone} backbone expects torchvision's {expected} \
         (https://download.pytorch.org/models/{expected}); pass --weights PATH to where it is, \
         or --no-weights to train from scratch"
    )]
    MissingWeights {
        /// The configured path.
        path: PathBuf,
        /// The backbone architecture.
        backbone: String,
        /// The torchvision file name expected for it.
        expected: String,
    },
    /// A collective operation of data parallelism (register, broadcast, all-reduce) failed.
    #[error("data parallelism: {operation} failed for peer {peer}: {message}")]
    Collective {
        /// The operation.
        operation: &'static str,
        /// The worker's global rank.
        peer: u32,
        /// burn-collective's error.
        message: String,
    },
    /// A run over several nodes cannot go on: a node that did not come within the timeout,
    /// nodes that disagree (settings, devices, batch), or an MPI that cannot serve.
    #[error("over several nodes: {0}")]
    Nodes(String),
    /// A split the run needs has no images.
    #[error(
        "the {split} split of {dataset} has {found} images; at least {needed} are needed: {reason}"
    )]
    TooFewImages {
        /// Dataset name.
        dataset: String,
        /// Split name.
        split: &'static str,
        /// Images in it.
        found: usize,
        /// Images needed.
        needed: usize,
        /// Why the split is that small and what to change.
        reason: String,
    },
    /// The target cannot be learned from the train split: one class, or classes only
    /// validation or test hold.
    #[error("{dataset}: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Classes {
        /// Dataset name.
        dataset: String,
        /// Each problem, in [`FaceDataset::class_problems`](fineface_data::FaceDataset::class_problems) order.
        problems: Vec<fineface_data::ClassProblem>,
    },
    /// No batch of an epoch could be trained.
    #[error(
        "no batch of epoch {epoch} could be trained: {skipped} images were undecodable and each of the {batches} batches was left with fewer than 2"
    )]
    NothingTrained {
        /// 1-based epoch.
        epoch: usize,
        /// Batches in the epoch.
        batches: usize,
        /// Images skipped as undecodable.
        skipped: usize,
    },
    /// An image could not be decoded and the policy says stop.
    #[error("cannot decode {path}: {message}")]
    BadImage {
        /// The image.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A loss became NaN or infinite; the last good checkpoint is kept.
    #[error("{}", non_finite_loss(*step, *value, *epoch, *batch))]
    NonFiniteLoss {
        /// Which of the iteration's losses.
        step: fineface_run::Loss,
        /// Its value.
        value: f64,
        /// 1-based epoch.
        epoch: usize,
        /// 0-based batch in the epoch.
        batch: usize,
    },
    /// A checkpoint or run folder that cannot be used.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Every checkpoint of a run fails its checksums or does not load: nothing to resume
    /// from.
    #[error(
        "no intact checkpoint in {dir} to resume from: {}; restore the run from a copy, or start it again",
        damaged.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NoIntactCheckpoint {
        /// The checkpoints folder.
        dir: PathBuf,
        /// What is wrong with each checkpoint, newest first.
        damaged: Vec<Damage>,
    },
    /// A resumed run's dataset has other classes than the run trained on: output `i` would
    /// change meaning.
    #[error(
        "{}: the run trained on the classes {} but its dataset now has {}: the labels changed since the run started; resume on the data it trained on, or start a new run",
        run_info.display(),
        quoted(trained.iter()),
        quoted(now.iter())
    )]
    ClassesChanged {
        /// The run's `run.json`, which records the classes trained on.
        run_info: PathBuf,
        /// Those classes.
        trained: Vec<String>,
        /// The dataset's classes now.
        now: Vec<String>,
    },
    /// A resumed run's dataset holds other numbers of images than the run trained on.
    #[error(
        "{}: the run's splits held other numbers of images ({changed}): the dataset changed since the run started (images added or lost, a folder half copied?); resume on the data it trained on, or start a new run",
        run_info.display()
    )]
    DatasetChanged {
        /// The run's `run.json`, which records the split sizes.
        run_info: PathBuf,
        /// Each split that changed, `train 48 -> 28`.
        changed: String,
    },
    /// A path given as a run folder that is a file.
    #[error(
        "{}: a file, not a run folder (runs/<experiment>/run-NNN, holding config.toml and run.json)",
        path.display()
    )]
    NotARunFolder {
        /// The path given.
        path: PathBuf,
    },
    /// The run's classes and the evaluated dataset's do not match.
    #[error(
        "{dataset} has targets the run never learned: {} (the run predicts {}){}",
        quoted(found.iter().filter(|c| !run.contains(c))),
        quoted(run.iter()),
        case_hint(run, found)
    )]
    ClassMismatch {
        /// Classes of the trained model.
        run: Vec<String>,
        /// The evaluated dataset.
        dataset: String,
        /// Its classes.
        found: Vec<String>,
    },
    /// A tensor that cannot be read back from its device as the values expected.
    #[error("cannot read the {what} back from the device: {message}")]
    TensorData {
        /// Which tensor.
        what: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The model gave NaN among an image's logits: broken weights or input, never read as
    /// class 0.
    #[error(
        "the model gave NaN {what} for {image}: its weights or this input are broken (a NaN \
         is never read as a class)"
    )]
    NanLogits {
        /// Which logits (`logits`, `concat logits`, `head logits`).
        what: &'static str,
        /// The image's file, as its dataset lists it.
        image: String,
    },
    /// A request the configuration cannot serve (e.g. a CUDA device without the feature).
    #[error("{0}")]
    Unsupported(String),
    /// An experiment with a setting out of range, built in code (a file's is
    /// [`TrainError::Config`], naming the file).
    #[error("experiment `{name}`: {message}")]
    InvalidExperiment {
        /// The experiment's name.
        name: String,
        /// The setting and why.
        message: String,
    },
    /// The device probe computed something else on the device than on Flex.
    #[error(
        "device `{device}` computes the probe differently from Flex: relative error {error:e} \
         (tolerance {tolerance:e})"
    )]
    ProbeMismatch {
        /// The device probed.
        device: String,
        /// The largest relative error seen.
        error: f64,
        /// The tolerance it exceeded.
        tolerance: f64,
    },
}

/// A checkpoint file that no longer matches what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The file.
    pub file: PathBuf,
    /// What differs: missing, the size, or the SHA-256.
    pub reason: String,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is damaged: {}", self.file.display(), self.reason)
    }
}

impl From<fineface_run::RunError> for TrainError {
    fn from(error: fineface_run::RunError) -> Self {
        match error {
            fineface_run::RunError::Io { path, source } => Self::Io { path, source },
            other => Self::RunFile(other),
        }
    }
}

/// Short for `Result<T, TrainError>`.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The message of [`TrainError::NonFiniteLoss`]: which loss, as `metrics.csv` names it
/// (`the cross_entropy loss`, `the crop_all loss`), where, and what is left to resume from
/// (no checkpoint in the first epoch).
fn non_finite_loss(step: fineface_run::Loss, value: f64, epoch: usize, batch: usize) -> String {
    let loss = format!("the {step} loss");
    let kept = if epoch > 1 {
        format!(
            "the checkpoint of epoch {} is intact to resume from",
            epoch - 1
        )
    } else {
        "no checkpoint yet (the first is written after epoch 1)".to_owned()
    };
    format!(
        "{loss} is {value} at epoch {epoch}, batch {batch}; stopped before the update, {kept} \
         (lower the learning rate or check the data)"
    )
}

/// What to do about classes the run never learned: where they differ from the run's only in
/// letter case (`Female` against `female`), say so; else evaluate another run.
fn case_hint(run: &[String], found: &[String]) -> &'static str {
    let unknown: Vec<&String> = found.iter().filter(|c| !run.contains(c)).collect();
    let like = |c: &String| run.iter().find_map(|r| fineface_text::look_alike(c, r));
    let all_like = !unknown.is_empty() && unknown.iter().all(|c| like(c).is_some());
    let case_only = all_like
        && unknown
            .iter()
            .all(|c| like(c) == Some(fineface_text::LookAlike::LetterCase));
    if case_only {
        "; they differ from the run's only in letter case: spell the dataset's labels as the \
         run's (a manifest, or --dataset manifest)"
    } else if all_like {
        "; they look like the run's but differ in letter case or in characters that look \
         alike (another script's letter, a full-width or invisible one): spell the dataset's \
         labels as the run's (a manifest, or --dataset manifest)"
    } else {
        "; evaluate a run trained on these classes"
    }
}

/// Class names as a message lists them: `` `Female`, `Male` ``.
fn quoted<'a>(classes: impl Iterator<Item = &'a String>) -> String {
    classes
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
