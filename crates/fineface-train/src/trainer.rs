//! The training run: epochs of iterations, validation, checkpoints, the final test
//! evaluation with its fairness report, and the picture of attention crops.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::module::Module;
use fineface_data::{BadImagePolicy, BatchLoader, FaceDataset, ImageBatch, LoaderConfig, Split};
use fineface_model::FineFaceAutodiffBackend;
use fineface_model::{AttentionCrop, AttentionCropConfig};
use fineface_run::{
    EpochMetrics, Loss, RunFiles, RunInfo, RunSummary, SplitSummary, write_history,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::checkpoint::{Checkpoints, ResumePoint, TrainState, load_weights, save_weights};
use crate::config::{ExperimentConfig, Method};
use crate::error::{Damage, Result, TrainError};
use crate::evaluate::{EvalSettings, Evaluation, predict_samples, write_evaluation};
use crate::experiment::Experiment;
use crate::files::{write_atomic, write_json};
use crate::iteration::{IterationContext, IterationLosses, TrainBackbone, TrainStep};
use crate::metrics::memory_mb;
use crate::model::{
    BackboneConfig, MethodModel, backbone_config, build_model, check_imagenet_weights,
    initialise_parameters, pretrained,
};
use crate::optim::GroupedSgd;
use crate::parallel::{DataParallel, NodeSettings, shard_of};
use crate::picture::write_crop_grid;
use crate::reducer::LocalReducer;
use crate::trained_on::TrainedOn;
use fineface_model::Predict;

/// Stack of the thread [`Trainer::fit`] trains on.
const FIT_STACK_BYTES: usize = 64 << 20;

/// How to run (as opposed to what to train, which is the [`ExperimentConfig`]).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Continue from the folder's latest checkpoint.
    pub resume: bool,
    /// Stop (as if killed) after this many epochs; the run can be resumed.
    pub stop_after_epoch: Option<usize>,
    /// Draw a progress bar when standard error is a terminal.
    pub progress: bool,
    /// Off a terminal (or without the bar), how often a progress line is logged.
    pub progress_every: Duration,
    /// This machine's part in a run over several machines (`None`: the run is this
    /// machine's alone).
    pub nodes: Option<NodeSettings>,
    /// On resume, train on with settings other than those the run started with (a
    /// learning-rate change mid-run, on purpose) instead of stopping with an error naming
    /// them. The command line never sets it.
    pub allow_changed_config: bool,
}

impl RunOptions {
    /// Options for a fresh run in `run_dir`: no resume, no early stop, a progress bar when
    /// standard error is a terminal, otherwise a progress line in the log every 30 s.
    pub fn new(run_dir: impl Into<PathBuf>) -> Self {
        Self {
            run_dir: run_dir.into(),
            resume: false,
            stop_after_epoch: None,
            progress: true,
            progress_every: Duration::from_secs(30),
            nodes: None,
            allow_changed_config: false,
        }
    }
}

/// Trains the experiment's own network: a torchvision backbone (`model.backbone`: a ResNet
/// or MobileNetV2, with its ImageNet weights when `model.weights` names them) under
/// FineFACE or the baseline (`method`), on `devices` (one, or several for data
/// parallelism). The convenience over [`Trainer`], which trains any model.
///
/// # Errors
/// Everything [`Trainer::new`] and [`Trainer::fit`] report, a custom backbone name, and
/// configured ImageNet weights that are absent ([`TrainError::MissingWeights`]).
pub fn train<B: FineFaceAutodiffBackend>(
    config: &ExperimentConfig,
    devices: &[B::Device],
    options: &RunOptions,
) -> Result<RunSummary> {
    // Before the dataset is read: a mistyped path should not cost a dataset scan.
    let backbone = backbone_config(&config.model)?;
    // A resumed run takes its weights from its checkpoint: the ImageNet file it started
    // from may have moved or be on another machine, and is not read.
    let resume = options.resume;
    if !resume {
        check_imagenet_weights(&config.model)?;
    }
    let experiment = Experiment::new(config.clone(), devices.to_vec())?;
    let trainer = Trainer::<B>::new(experiment, options.clone())?;
    let settings = &config.model;
    match backbone {
        BackboneConfig::ResNet(c) => {
            fit_new(&trainer, |d| starting_backbone(settings, c.init(d), resume))
        }
        BackboneConfig::MobileNetV2(c) => {
            fit_new(&trainer, |d| starting_backbone(settings, c.init(d), resume))
        }
    }
}

/// The backbone a run starts from: with its ImageNet weights for a new run, as it is for a
/// resumed one (the checkpoint replaces every weight).
fn starting_backbone<B: burn::tensor::backend::Backend, N: fineface_model::ImageNetBackbone<B>>(
    settings: &crate::config::ModelSettings,
    backbone: N,
    resume: bool,
) -> Result<N> {
    if resume {
        Ok(backbone)
    } else {
        pretrained(settings, backbone)
    }
}

/// Builds the configured method over the backbone `build` gives and trains it.
fn fit_new<B, N>(
    trainer: &Trainer<B>,
    build: impl Fn(&B::Device) -> Result<N>,
) -> Result<RunSummary>
where
    B: FineFaceAutodiffBackend,
    N: TrainBackbone<B>,
{
    let n_classes = trainer.n_classes();
    let config = trainer.config();
    let model = trainer.init_model(|device| {
        let backbone = build(device)?;
        Ok(build_model(
            config.method,
            &config.model,
            n_classes,
            backbone,
            device,
        ))
    })?;
    match model {
        MethodModel::FineFace(model) => trainer.fit(model),
        MethodModel::Baseline(model) => trainer.fit(model),
    }
}

/// Trains, validates, checkpoints, resumes and audits any model the library can step: a
/// [`FineFace`](fineface_model::FineFace) or [`Baseline`](fineface_model::Baseline) over any
/// [`Backbone`](fineface_model::Backbone) (see [`TrainStep`]), writing the same run folder
/// for every one:
///
/// ```no_run
/// # use fineface_train::{Experiment, ExperimentConfig, RunOptions, Trainer};
/// # use fineface_model::{CpuAutodiff, FineFaceConfig, ResNetConfig};
/// # fn main() -> fineface_train::Result<()> {
/// let config = ExperimentConfig::from_file("configs/synthface.toml".as_ref())?;
/// let experiment = Experiment::new(config, vec![Default::default()])?;
/// let trainer = Trainer::<CpuAutodiff>::new(experiment, RunOptions::new("runs/mine"))?;
/// let n_classes = trainer.n_classes();
/// // Any `Backbone` goes here: examples/custom_backbone.rs builds one that is not a ResNet.
/// let model = trainer.init_model(|device| {
///     let backbone = ResNetConfig::resnet18().with_width(16).init(device);
///     Ok(FineFaceConfig::new(n_classes).init(backbone, device))
/// })?;
/// let summary = trainer.fit(model)?;
/// # Ok(()) }
/// ```
pub struct Trainer<B: FineFaceAutodiffBackend> {
    config: ExperimentConfig,
    dataset: FaceDataset,
    devices: Vec<B::Device>,
    options: RunOptions,
    /// The files of `options.run_dir`.
    files: RunFiles,
    /// Its `checkpoints/` folder.
    checkpoints: Checkpoints,
    crop: AttentionCrop,
}

/// What one epoch's training did.
#[derive(Debug, Clone, Default)]
struct EpochTraining {
    /// Per loss name, the sum over the trained batches.
    loss_sums: Vec<f64>,
    /// Batches that ran an iteration (a batch left with fewer than 2 decodable images does
    /// not).
    batches: usize,
    correct: usize,
    seen: usize,
    skipped: usize,
    /// The images left out as undecodable.
    undecodable: HashSet<PathBuf>,
    /// Wall time of the training loop (loading, the iterations, the optimiser), seconds.
    seconds: f64,
}

/// One iteration's losses and the resident memory in the log: it stays flat over an epoch
/// because nothing outside the five steps builds an autodiff graph.
fn log_iteration(context: IterationContext, losses: &IterationLosses) {
    tracing::debug!(
        epoch = context.epoch + 1,
        batch = context.batch,
        losses = %losses_text(&losses.losses),
        sources = ?losses.sources,
        rss_mb = memory_mb().0,
        "iteration"
    );
}

impl EpochTraining {
    /// Counts one trained batch.
    fn add(&mut self, losses: &IterationLosses) {
        self.batches += 1;
        for (sum, (_, value)) in self.loss_sums.iter_mut().zip(&losses.losses) {
            *sum += value;
        }
        self.correct += losses.correct;
        self.seen += losses.seen;
    }

    /// Mean of each loss over the batches that were trained.
    fn mean_losses(&self, names: &[Loss]) -> Vec<(Loss, f64)> {
        names
            .iter()
            .zip(&self.loss_sums)
            .map(|(&name, sum)| (name, sum / self.batches.max(1) as f64))
            .collect()
    }
}

impl<B: FineFaceAutodiffBackend> Trainer<B> {
    /// Loads the configured dataset and checks that every split can serve the run.
    ///
    /// # Errors
    /// [`TrainError::Data`] when the dataset cannot be read, [`TrainError::TooFewImages`]
    /// when the train split holds less than a batch or validation or test is empty,
    /// and [`TrainError::Classes`] when the train split holds one class or lacks one that
    /// validation or test hold.
    pub fn new(experiment: Experiment<B::Device>, options: RunOptions) -> Result<Self> {
        let (config, devices) = experiment.into_parts();
        let dataset = config.data.load(&config.split)?;
        let needed = config.train.batch_size;
        for (split, n) in [(Split::Train, needed), (Split::Val, 1), (Split::Test, 1)] {
            let found = dataset.split(split).len();
            if found < n {
                let reason = match dataset.empty_splits.get(&split) {
                    Some(reason) => reason.clone(),
                    None if split == Split::Train => format!(
                        "a batch is train.batch_size = {needed} images; lower it or add images"
                    ),
                    None => "every image of it was skipped".to_owned(),
                };
                return Err(TrainError::TooFewImages {
                    dataset: dataset.name.clone(),
                    split: split.name(),
                    found,
                    needed: n,
                    reason,
                });
            }
        }
        let problems = dataset.class_problems();
        if !problems.is_empty() {
            return Err(TrainError::Classes {
                dataset: dataset.name.clone(),
                problems,
            });
        }
        tracing::info!(
            dataset = %dataset.name, train = dataset.split(Split::Train).len(),
            val = dataset.split(Split::Val).len(), test = dataset.split(Split::Test).len(),
            classes = ?dataset.classes, skipped = dataset.skipped.len(), "dataset loaded"
        );
        let crop = AttentionCropConfig::new()
            .with_threshold(config.crop.threshold)
            .with_padding(config.crop.padding)
            .init();
        Ok(Self {
            config,
            dataset,
            devices,
            files: RunFiles::new(&options.run_dir),
            checkpoints: Checkpoints::new(&options.run_dir),
            options,
            crop,
        })
    }

    /// The experiment trained.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The loaded dataset with its splits.
    pub fn dataset(&self) -> &FaceDataset {
        &self.dataset
    }

    /// Number of target classes: the size of the model's output.
    pub fn n_classes(&self) -> usize {
        self.dataset.classes.len()
    }

    /// The first device: where the model is built, validated and checkpointed.
    pub fn device(&self) -> &B::Device {
        &self.devices[0]
    }

    /// Builds a model with the backend seeded by `train.seed`, then draws every lazily
    /// initialised parameter, so that the same seed gives the same weights whatever runs
    /// before or beside it. Models are built under a process-wide lock: the backend's
    /// generator is global, so two runs initialising at once (tests, a sweep in threads)
    /// would otherwise draw from each other's sequence.
    ///
    /// # Errors
    /// Whatever `build` returns.
    pub fn init_model<M: Module<B>>(
        &self,
        build: impl FnOnce(&B::Device) -> Result<M>,
    ) -> Result<M> {
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        B::seed(self.device(), self.config.train.seed);
        let model = build(self.device())?;
        initialise_parameters(&model);
        Ok(model)
    }

    /// Trains `model` for the configured epochs (or continues the run folder's latest
    /// checkpoint with [`RunOptions::resume`]): validation after each epoch, the best
    /// checkpoint by `train.select_by`, and at the end the test split's predictions,
    /// fairness report and the picture of attention crops. Writes `summary.json`.
    ///
    /// # Errors
    /// I/O on the run folder, a checkpoint that cannot be read, an image that cannot be
    /// decoded under a stopping policy, a non-finite loss ([`TrainError::NonFiniteLoss`]).
    pub fn fit<M>(&self, model: M) -> Result<RunSummary>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        // The epochs run on a thread of known stack, whatever thread calls `fit` (a test
        // harness thread, a worker pool's): unoptimised builds keep several copies of the
        // model in each frame of the iteration (a ResNet-18 run measured 2.0-2.5 MiB deep
        // in a test build, over a spawned thread's default 2 MiB).
        std::thread::scope(|scope| {
            let training = std::thread::Builder::new()
                .name("fineface-fit".to_owned())
                .stack_size(FIT_STACK_BYTES)
                .spawn_scoped(scope, || self.fit_on_this_thread(model))
                .map_err(|e| TrainError::io(&self.options.run_dir, e))?;
            training
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn fit_on_this_thread<M>(&self, model: M) -> Result<RunSummary>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let started = Instant::now();
        let first_node = self
            .options
            .nodes
            .as_ref()
            .is_none_or(NodeSettings::is_first);
        // A resume is checked against its checkpoint before the run's files are rewritten:
        // a refused one leaves `config.toml` as it was.
        let (model, mut optimizer, mut state) = self.start(model)?;
        if first_node {
            self.write_run_files(M::METHOD)?;
        }
        let loader = self.train_loader();
        let last_epoch = self
            .options
            .stop_after_epoch
            .map_or(self.config.train.epochs, |e| {
                e.min(self.config.train.epochs)
            });
        let model = self.run_epochs(model, &mut optimizer, &mut state, &loader, last_epoch)?;
        if !first_node {
            tracing::info!(
                epochs_done = state.epochs_done,
                "node done: node 0 writes the run folder"
            );
            return Ok(RunSummary {
                run_dir: self.options.run_dir.clone(),
                epochs: state.epochs_done,
                best: None,
                test: None,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let finished = state.epochs_done >= self.config.train.epochs;
        let test = if finished {
            Some(self.finish(&model)?)
        } else {
            tracing::info!(
                epochs_done = state.epochs_done,
                "stopped before the last epoch; continue with --resume"
            );
            None
        };
        let summary = RunSummary {
            run_dir: self.options.run_dir.clone(),
            epochs: state.epochs_done,
            best: state.best,
            test,
            seconds: started.elapsed().as_secs_f64(),
        };
        write_json(&self.files.summary(), &summary)?;
        Ok(summary)
    }

    /// `config.toml` (the resolved config, with the model's method) and `run.json`.
    fn write_run_files(&self, method: Method) -> Result<()> {
        let run = &self.options.run_dir;
        std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
        let mut config = self.config.clone();
        config.method = method;
        let files = &self.files;
        let path = files.config();
        let text = config.to_toml().map_err(|message| TrainError::Config {
            path: path.clone(),
            message,
        })?;
        write_atomic(&path, text.as_bytes())?;
        let dataset = &self.dataset;
        let info = RunInfo {
            name: config.name.clone(),
            method,
            dataset: dataset.name.clone(),
            target: dataset.target.clone(),
            classes: dataset.classes.clone(),
            sensitive: dataset.sensitive.clone(),
            split_sizes: dataset
                .splits
                .iter()
                .map(|(s, v)| (s.name().to_owned(), v.len()))
                .collect(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        };
        write_json(&files.info(), &info)?;
        let seen = [Split::Train, Split::Val].map(|s| dataset.split(s));
        TrainedOn::of(seen.into_iter().flatten()).write(&self.files)
    }

    /// A fresh optimiser and state, or the latest checkpoint's with `resume`.
    fn start<M: TrainStep<B>>(&self, model: M) -> Result<(M, GroupedSgd<B, M>, TrainState)> {
        let optimizer = GroupedSgd::<B, M>::new(&self.config.train);
        let state = TrainState {
            seed: self.config.train.seed,
            config: Some(self.config.clone()),
            ..TrainState::default()
        };
        if !self.options.resume {
            return Ok((model, optimizer, state));
        }
        let Some(point) = self.checkpoints.resume_point()? else {
            return Err(TrainError::Checkpoint {
                path: self.files.checkpoints(),
                message: "no checkpoint to resume from".to_owned(),
            });
        };
        // The settings first: weights of an edited width would not fit, and the edit, not
        // the weights file, is what to name; then the classes (the data under the settings).
        let newest = point.path.clone();
        if let Ok(state) = Checkpoints::state(&newest) {
            self.check_resumed_config(&state)?;
        }
        self.check_resumed_dataset()?;
        let (model, optimizer, mut state, path) = self.load_newest(point, model)?;
        if path != newest {
            self.check_resumed_config(&state)?;
        }
        self.check_best(&model, &state)?;
        state.config = Some(self.config.clone());
        tracing::info!(checkpoint = %path.display(), epochs_done = state.epochs_done, step = state.step, "resumed");
        Ok((model, optimizer, state))
    }

    /// A resumed run's dataset has the classes the run trained on, in its order (output `i`
    /// of the model means the same label before and after: a label renamed in the data
    /// since would silently swap what the outputs mean), and its splits the sizes they had.
    fn check_resumed_dataset(&self) -> Result<()> {
        let path = self.files.info();
        // A run without its run.json (written by an older version) has nothing to compare.
        let Some(info) = fineface_run::read_json::<RunInfo>(&path).ok() else {
            return Ok(());
        };
        if info.classes != self.dataset.classes {
            return Err(TrainError::ClassesChanged {
                run_info: path,
                trained: info.classes,
                now: self.dataset.classes.clone(),
            });
        }
        // Images gained or lost (a folder half copied): the epochs left would train on
        // other data than those done, and the splits would differ from the ones selected by.
        let now: Vec<(String, usize)> = self
            .dataset
            .splits
            .iter()
            .map(|(split, samples)| (split.name().to_owned(), samples.len()))
            .collect();
        let recorded: std::collections::BTreeMap<&str, usize> = info
            .split_sizes
            .iter()
            .map(|(s, n)| (s.as_str(), *n))
            .collect();
        let changed: Vec<String> = now
            .iter()
            .filter_map(|(split, n)| {
                let before = *recorded.get(split.as_str())?;
                (before != *n).then(|| format!("{split} {before} -> {n}"))
            })
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        Err(TrainError::DatasetChanged {
            run_info: path,
            changed: changed.join(", "),
        })
    }

    /// The newest checkpoint of `point` that loads: one that passes its checksums but does
    /// not decode (written before checksums existed, half copied) is passed over for an
    /// older intact one, with a warning naming it.
    fn load_newest<M: TrainStep<B>>(
        &self,
        point: ResumePoint,
        model: M,
    ) -> Result<(M, GroupedSgd<B, M>, TrainState, PathBuf)> {
        let mut damaged: Vec<Damage> = Vec::new();
        let older = point.older.into_iter().map(|path| (path, true));
        for (path, unverified) in std::iter::once((point.path, false)).chain(older) {
            // The resume point passed its checksums; an older one is checked now.
            if let Some(d) = unverified
                .then(|| crate::checkpoint::verify(&path).err())
                .flatten()
            {
                damaged.push(d);
                continue;
            }
            let optimizer = GroupedSgd::<B, M>::new(&self.config.train);
            match Checkpoints::load(&path, model.clone(), optimizer, self.device()) {
                Ok((model, optimizer, state)) => {
                    for d in &damaged {
                        tracing::warn!(
                            "{d}; resuming from {}, the newest checkpoint that loads",
                            path.display()
                        );
                    }
                    return Ok((model, optimizer, state, path));
                }
                // Undecodable: an older checkpoint may do. Anything else (a disk that
                // cannot be read) is no reason to train over the newer one.
                Err(TrainError::Checkpoint { path, message }) => damaged.push(Damage {
                    file: path,
                    reason: message,
                }),
                Err(other) => return Err(other),
            }
        }
        Err(TrainError::NoIntactCheckpoint {
            dir: self.files.checkpoints(),
            damaged: point.damaged.into_iter().chain(damaged).collect(),
        })
    }

    /// `best.mpk` loads, or is written again from its epoch's checkpoint, which holds the
    /// same weights: found damaged only when the run ends, it would fail the test
    /// evaluation after that checkpoint is pruned.
    ///
    /// # Errors
    /// It does not load and its epoch's checkpoint is gone: the selection cannot be
    /// restored, and training on would select among the later epochs alone.
    fn check_best<M: TrainStep<B>>(&self, model: &M, state: &TrainState) -> Result<()> {
        let Some((_, epoch)) = state.best else {
            return Ok(());
        };
        let best = self.files.best_weights();
        let damage = match load_weights(model.valid(), &best, self.device()) {
            Ok(_) => return self.check_best_epoch(model, epoch),
            Err(damage) => damage,
        };
        if !self.restore_best(model, epoch)? {
            let kept = self.checkpoints.folder(epoch).is_dir();
            return Err(TrainError::Checkpoint {
                path: best,
                message: format!(
                    "the weights selected at epoch {epoch} do not load ({damage}), and the \
                     checkpoint of that epoch is {}: restore best.mpk from a copy of the run, \
                     or train it again",
                    if kept { "damaged too" } else { "pruned" }
                ),
            });
        }
        tracing::warn!(
            "{damage}; best.mpk written again from the checkpoint of epoch {epoch}, which \
             holds the same weights"
        );
        Ok(())
    }

    /// Writes `best.mpk` again from the checkpoint of `epoch`: `false` where that checkpoint
    /// is pruned or does not load.
    fn restore_best<M: TrainStep<B>>(&self, model: &M, epoch: usize) -> Result<bool> {
        let restored = self
            .checkpoints
            .intact_model(epoch)
            .and_then(|file| load_weights(model.clone(), &file, self.device()).ok());
        let Some(restored) = restored else {
            return Ok(false);
        };
        save_weights(&restored.valid(), &self.files.best_weights())?;
        Ok(true)
    }

    /// `best.mpk` holds the weights of the epoch the resumed state selected: after a resume
    /// from an older checkpoint it may hold a later epoch's (written before the newer
    /// checkpoint was lost), which the final test would then evaluate. Written again from
    /// the selected epoch's checkpoint where it is kept; otherwise a later epoch that wins
    /// the selection writes it again, which the warning says.
    fn check_best_epoch<M: TrainStep<B>>(&self, model: &M, epoch: usize) -> Result<()> {
        let best = self.files.best_epoch();
        let written = fineface_run::read_json::<EpochMetrics>(&best)
            .ok()
            .map(|metrics| metrics.epoch);
        let Some(written) = written.filter(|w| *w != epoch) else {
            return Ok(());
        };
        if !self.restore_best(model, epoch)? {
            tracing::warn!(
                "best.mpk holds epoch {written}'s weights, but the checkpoint resumed from \
                 selected epoch {epoch}, whose checkpoint is gone: a later epoch that wins the \
                 selection replaces it"
            );
            return Ok(());
        }
        tracing::warn!(
            "best.mpk held epoch {written}'s weights: written again from epoch {epoch}'s checkpoint, the one the resumed state selected"
        );
        if let Some(metrics) = self.history_of(epoch) {
            write_json(&best, &metrics)?;
        }
        Ok(())
    }

    /// The metrics of `epoch` as its checkpoint's state recorded them, if it is kept.
    fn history_of(&self, epoch: usize) -> Option<EpochMetrics> {
        let folder = self.checkpoints.folder(epoch);
        let state = Checkpoints::state(&folder).ok()?;
        state.history.into_iter().find(|m| m.epoch == epoch)
    }

    /// A resumed run continues with the settings it trained with: a `config.toml` edited
    /// since (a learning rate, a batch size) is an error naming each change. More epochs are
    /// a way to continue training (the cosine schedule then spans the new count), fewer than
    /// those done are an error; another dataset root is allowed (the dataset moved), with a
    /// warning.
    fn check_resumed_config(&self, state: &TrainState) -> Result<()> {
        let path = self.files.config();
        let epochs = self.config.train.epochs;
        if epochs < state.epochs_done {
            // `--epochs` or the file: either way the run's count, not the file, is at fault.
            return Err(TrainError::Checkpoint {
                path: self.options.run_dir.clone(),
                message: format!(
                    "{epochs} epochs asked (--epochs, or train.epochs), but the run has done \
                     {0}: give --epochs {0} or more",
                    state.epochs_done
                ),
            });
        }
        let Some(trained) = &state.config else {
            return Ok(());
        };
        let mut refused = Vec::new();
        for change in trained.differences(&self.config) {
            match change.key.as_str() {
                "train.epochs" => tracing::info!(
                    from = %change.this,
                    to = %change.other,
                    "training to another number of epochs: the cosine schedule spans the new count"
                ),
                // The checkpoint holds the weights; where the ImageNet file lies is moot.
                "model.weights" => {}
                "data.root" => tracing::warn!(
                    from = %change.this,
                    to = %change.other,
                    "resuming on another dataset root: it must hold the same dataset"
                ),
                _ => refused.push(format!(
                    "{} = {} (the run trained with {})",
                    change.key, change.other, change.this
                )),
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        if self.options.allow_changed_config {
            tracing::warn!("resuming with changed settings: {}", refused.join("; "));
            return Ok(());
        }
        Err(TrainError::Config {
            path,
            message: format!(
                "the run's settings changed since it started: {}; a resumed run continues \
                 with the settings it trained with (restore them, or start a new run)",
                refused.join("; ")
            ),
        })
    }

    /// The shuffled, augmented training batches (our deterministic loader: the order and
    /// the augmentation are functions of seed, epoch and batch, not of the worker count).
    fn train_loader(&self) -> BatchLoader<'_> {
        let settings = &self.config.train;
        BatchLoader::new(
            self.dataset.split(Split::Train),
            &self.dataset.classes,
            self.config.transform.clone(),
            LoaderConfig {
                batch_size: settings.batch_size,
                workers: settings.workers,
                drop_last: true,
                bad_images: BadImagePolicy::Skip,
            },
            true,
            settings.seed,
        )
    }

    /// The epochs from `state.epochs_done` to `last_epoch`: on this device or on every
    /// data-parallel worker; validation and checkpoints on the first node.
    fn run_epochs<M>(
        &self,
        model: M,
        optimizer: &mut GroupedSgd<B, M>,
        state: &mut TrainState,
        loader: &BatchLoader<'_>,
        last_epoch: usize,
    ) -> Result<M>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let first_node = self
            .options
            .nodes
            .as_ref()
            .is_none_or(NodeSettings::is_first);
        std::thread::scope(|scope| -> Result<M> {
            let (mut parallel, mut model) =
                if self.devices.len() > 1 || self.options.nodes.is_some() {
                    let (parallel, model) = DataParallel::start(
                        scope,
                        model,
                        optimizer,
                        &self.config.train,
                        &self.devices,
                        &self.crop,
                        self.options.nodes.as_ref(),
                    )?;
                    (Some(parallel), model)
                } else {
                    (None, model)
                };
            for epoch in state.epochs_done..last_epoch {
                let epoch_started = Instant::now();
                let training;
                (model, training) =
                    self.train_epoch(model, optimizer, loader, epoch, parallel.as_mut())?;
                state.step += training.batches as u64;
                if first_node {
                    // Validation and checkpoints on the first worker; the others wait at
                    // the next iteration's first all-reduce.
                    let metrics =
                        self.validate(&model, optimizer, epoch, &training, epoch_started)?;
                    self.checkpoint(&model, optimizer, state, metrics)?;
                } else {
                    state.epochs_done = epoch + 1;
                }
            }
            Ok(model)
        })
    }

    /// One epoch of iterations; the next batch decodes while the current one trains.
    fn train_epoch<'p, M: TrainStep<B> + 'p>(
        &self,
        mut model: M,
        optimizer: &mut GroupedSgd<B, M>,
        loader: &BatchLoader<'_>,
        epoch: usize,
        mut parallel: Option<&mut DataParallel<'p, B, M>>,
    ) -> Result<(M, EpochTraining)> {
        // Every worker needs 2 images of each batch (BatchNorm over one image is undefined).
        let min_images = 2 * parallel.as_ref().map_or(1, |p| p.total_workers());
        let started = Instant::now();
        let n_batches = loader.n_batches();
        let mut progress = Progress::new(self, epoch, n_batches);
        let mut training = EpochTraining {
            loss_sums: vec![0.0; M::LOSSES.len()],
            ..EpochTraining::default()
        };
        let mut pending = Some(loader.batch(epoch as u64, 0));
        for k in 0..n_batches {
            let (batch, bad) = pending
                .take()
                .unwrap_or_else(|| loader.batch(epoch as u64, k))
                .map_err(|e| TrainError::BadImage {
                    path: e.path,
                    message: e.message,
                })?;
            training.skipped += bad.len();
            training.undecodable.extend(bad.into_iter().map(|b| b.path));
            let context = IterationContext {
                epoch,
                batch: k,
                seed: self.config.train.seed,
                lean: self.config.train.lean,
            };
            let (next, step) = std::thread::scope(|s| {
                let next =
                    (k + 1 < n_batches).then(|| s.spawn(|| loader.batch(epoch as u64, k + 1)));
                let step = (batch.len() >= min_images).then(|| {
                    self.iterate(&model, optimizer, parallel.as_deref_mut(), batch, context)
                });
                (next.and_then(|h| h.join().ok()), step)
            });
            if k + 1 < n_batches && next.is_none() {
                return Err(TrainError::Unsupported(format!(
                    "the thread decoding batch {} of epoch {} panicked",
                    k + 1,
                    epoch + 1
                )));
            }
            pending = next;
            let Some(step) = step else {
                tracing::warn!(
                    epoch = epoch + 1,
                    batch = k,
                    min_images,
                    "batch left with fewer than 2 images per worker after skipping undecodable ones"
                );
                progress.advance(k, None);
                continue;
            };
            let (updated, losses) = step?;
            model = updated;
            training.add(&losses);
            log_iteration(context, &losses);
            progress.advance(k, Some(&losses));
        }
        progress.finish();
        training.seconds = started.elapsed().as_secs_f64();
        if training.batches == 0 {
            return Err(TrainError::NothingTrained {
                epoch: epoch + 1,
                batches: n_batches,
                skipped: training.skipped,
            });
        }
        self.refuse_classes_lost(&training.undecodable)?;
        Ok((model, training))
    }

    /// One iteration on `batch`: on this device, or on every data-parallel worker.
    fn iterate<'p, M: TrainStep<B> + 'p>(
        &self,
        model: &M,
        optimizer: &mut GroupedSgd<B, M>,
        parallel: Option<&mut DataParallel<'p, B, M>>,
        batch: ImageBatch,
        context: IterationContext,
    ) -> Result<(M, IterationLosses)> {
        match parallel {
            Some(parallel) => parallel.iteration(model.clone(), optimizer, batch, context),
            None => {
                let shard = shard_of::<B>(&batch, 0..batch.len(), self.device());
                model
                    .clone()
                    .iteration(optimizer, &[shard], &self.crop, context, &mut LocalReducer)
            }
        }
    }

    /// Every class still has a training image that decodes: an epoch visits every one, so
    /// a class whose images all failed to decode was not learned (the listing had it, so
    /// [`Trainer::new`] could not tell).
    fn refuse_classes_lost(&self, undecodable: &HashSet<PathBuf>) -> Result<()> {
        if undecodable.is_empty() {
            return Ok(());
        }
        let problems = self
            .dataset
            .classes_lost(|s| !undecodable.contains(&s.path));
        if problems.is_empty() {
            return Ok(());
        }
        Err(TrainError::Classes {
            dataset: self.dataset.name.clone(),
            problems,
        })
    }

    /// Validation under the model as it is now, and the epoch's numbers.
    fn validate<M>(
        &self,
        model: &M,
        optimizer: &GroupedSgd<B, M>,
        epoch: usize,
        training: &EpochTraining,
        epoch_started: Instant,
    ) -> Result<EpochMetrics>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let rates = optimizer.rates(epoch);
        let val = self.evaluate(&model.valid(), Split::Val)?;
        let report = val.fairness(&self.dataset.sensitive, None)?;
        let (rss, peak) = memory_mb();
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr_backbone: rates.backbone,
            lr_new: rates.heads,
            losses: training.mean_losses(M::LOSSES),
            train_accuracy: if training.seen == 0 {
                0.0
            } else {
                training.correct as f64 / training.seen as f64
            },
            val_accuracy: val.accuracy(),
            val_accuracy_concat: val.accuracy_concat(),
            val_accuracy_heads: val.accuracy_heads(),
            val_worst_group_accuracy: report.aggregates.min_group_accuracy,
            val_worst_group: report.aggregates.worst_groups.join(" / "),
            val_dob: report.aggregates.dob_std_ddof0,
            val_groups: report
                .groups
                .iter()
                .map(|(g, m)| (g.clone(), m.accuracy))
                .collect(),
            seconds: epoch_started.elapsed().as_secs_f64(),
            train_seconds: training.seconds,
            train_images_per_second: training.seen as f64 / training.seconds.max(1e-9),
            rss_mb: rss,
            peak_rss_mb: peak,
            skipped_images: training.skipped,
        };
        tracing::info!(
            epoch = epoch + 1,
            losses = %losses_text(&metrics.losses),
            train_accuracy = metrics.train_accuracy,
            val_accuracy = metrics.val_accuracy,
            val_concat = metrics.val_accuracy_concat,
            val_heads = metrics.val_accuracy_heads,
            worst_group = %metrics.val_worst_group,
            worst_group_accuracy = metrics.val_worst_group_accuracy,
            dob = metrics.val_dob,
            seconds = metrics.seconds,
            train_images_per_second = metrics.train_images_per_second,
            rss_mb = metrics.rss_mb,
            "epoch done"
        );
        Ok(metrics)
    }

    /// Keeps the best weights, the history files and the epoch's checkpoint.
    fn checkpoint<M: TrainStep<B>>(
        &self,
        model: &M,
        optimizer: &GroupedSgd<B, M>,
        state: &mut TrainState,
        metrics: EpochMetrics,
    ) -> Result<()> {
        let files = &self.files;
        let value = self.config.train.select_by.value_in(&metrics);
        if state.best.is_none_or(|(best, _)| value > best) {
            state.best = Some((value, metrics.epoch));
            save_weights(&model.valid(), &files.best_weights())?;
            write_json(&files.best_epoch(), &metrics)?;
        }
        state.epochs_done = metrics.epoch;
        state.history.push(metrics);
        write_history(&files.metrics(), &files.val_groups(), &state.history)?;
        self.checkpoints.save(model, optimizer, state)?;
        Ok(())
    }

    /// Test evaluation of the selected checkpoint, its reports, and the crop picture.
    fn finish<M>(&self, model: &M) -> Result<SplitSummary>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let files = &self.files;
        let best = load_weights(model.valid(), &files.best_weights(), self.device())?;
        let mut test = self.evaluate(&best, Split::Test)?;
        // Listed test images the reader left out are the report's too.
        test.bad_images
            .extend(self.dataset.skipped_from(Split::Test));
        let report = write_evaluation(files.test().dir(), &test, &self.dataset.sensitive)?;
        let summary = summarise(&test, &report);
        write_json(&files.test().summary(), &summary)?;
        tracing::info!(
            accuracy = summary.accuracy, accuracy_concat = summary.accuracy_concat,
            accuracy_heads = summary.accuracy_heads, worst_group = %summary.worst_group,
            worst_group_accuracy = summary.worst_group_accuracy, dob = summary.dob,
            "test split (selected checkpoint)"
        );
        let n = self.config.train.crop_grid_images;
        if n > 0 {
            let val = self.dataset.split(Split::Val);
            write_crop_grid(
                &best,
                &val[..n.min(val.len())],
                &self.dataset.classes,
                &self.config.transform,
                &self.crop,
                &files.crops(),
                self.device(),
            )?;
        }
        Ok(summary)
    }

    fn evaluate<P: Predict<B::InnerBackend>>(
        &self,
        model: &P,
        split: Split,
    ) -> Result<Evaluation<'_>> {
        predict_samples(
            model,
            self.dataset.split(split),
            &self.dataset.classes,
            &EvalSettings {
                transform: &self.config.transform,
                crop: &self.crop,
                batch_size: self.config.train.batch_size,
                workers: self.config.train.workers,
                prepare: None,
            },
            self.device(),
        )
    }
}

/// Progress of an epoch: a bar on a terminal; otherwise (a file, a pipe, a batch
/// scheduler's log) an info line about every [`RunOptions::progress_every`] with the
/// iteration, images per second and the epoch's remaining time, so a long epoch shows
/// signs of life.
struct Progress {
    bar: Option<ProgressBar>,
    every: Duration,
    started: Instant,
    last_line: Instant,
    epoch: usize,
    n_batches: usize,
    batch_size: usize,
}

impl Progress {
    fn new<B: FineFaceAutodiffBackend>(
        trainer: &Trainer<B>,
        epoch: usize,
        n_batches: usize,
    ) -> Self {
        let terminal = trainer.options.progress && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(n_batches as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "epoch {prefix} [{bar:25}] {pos}/{len} {elapsed_precise} eta {eta_precise} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("{}/{}", epoch + 1, trainer.config.train.epochs));
            bar
        });
        let now = Instant::now();
        Self {
            bar,
            every: trainer.options.progress_every,
            started: now,
            last_line: now,
            epoch,
            n_batches,
            batch_size: trainer.config.train.batch_size,
        }
    }

    /// Batch `k` (0-based) is done.
    fn advance(&mut self, k: usize, losses: Option<&IterationLosses>) {
        if let Some(bar) = &self.bar {
            if let Some(losses) = losses {
                bar.set_message(
                    losses
                        .losses
                        .iter()
                        .map(|(name, value)| format!("{name} {value:.3}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
            }
            bar.inc(1);
            return;
        }
        if self.last_line.elapsed() < self.every {
            return;
        }
        self.last_line = Instant::now();
        let done = k + 1;
        let elapsed = self.started.elapsed().as_secs_f64();
        let images_per_second = (done * self.batch_size) as f64 / elapsed.max(1e-9);
        let eta = elapsed / done as f64 * (self.n_batches - done) as f64;
        tracing::info!(
            epoch = self.epoch + 1,
            iteration = done,
            of = self.n_batches,
            images_per_second = format!("{images_per_second:.1}"),
            eta_s = eta.round(),
            losses = %losses.map_or_else(|| "-".to_owned(), |l| losses_text(&l.losses)),
            "training"
        );
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The headline numbers of an evaluation and its report.
pub(crate) fn summarise(
    evaluation: &Evaluation<'_>,
    report: &fineface_fair::SubgroupReport,
) -> SplitSummary {
    SplitSummary {
        n: evaluation.rows.len(),
        accuracy: evaluation.accuracy(),
        accuracy_concat: evaluation.accuracy_concat(),
        accuracy_heads: evaluation.accuracy_heads(),
        worst_group_accuracy: report.aggregates.min_group_accuracy,
        worst_group: report.aggregates.worst_groups.join(" / "),
        dob: report.aggregates.dob_std_ddof0,
        ser: report.aggregates.ser,
        skipped: evaluation.bad_images.len(),
        skipped_images: report.meta.skipped.clone(),
    }
}

/// The next free `runs/<name>/run-NNN` folder under `root`.
pub fn next_run_dir(root: &Path, name: &str) -> PathBuf {
    next_free_dir(&root.join(name), "run")
}

/// The first `<base>/<prefix>-NNN` (from 001) that does not exist.
pub fn next_free_dir(base: &Path, prefix: &str) -> PathBuf {
    (1..)
        .map(|i| base.join(format!("{prefix}-{i:03}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| base.join(prefix))
}

/// Losses for a log line: `expert3:0.5177,expert2:0.2735,...` (four decimals, no Rust
/// debug syntax).
fn losses_text(losses: &[(Loss, f64)]) -> String {
    losses
        .iter()
        .map(|(name, value)| format!("{name}:{value:.4}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_losses_are_means_over_the_batches_that_trained() {
        // Two of four batches trained (two were left with too few decodable images): the
        // mean is over the two, not the four.
        let training = EpochTraining {
            loss_sums: vec![3.0, 1.0],
            batches: 2,
            ..EpochTraining::default()
        };
        assert_eq!(
            training.mean_losses(&[Loss::Expert3, Loss::Expert2]),
            [(Loss::Expert3, 1.5), (Loss::Expert2, 0.5)]
        );
    }
}
