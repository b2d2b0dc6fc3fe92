//! The training run: epochs of iterations, validation, checkpoints, the final test
//! evaluation with its fairness report, and the picture of attention crops.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use fineface_data::{BadImagePolicy, BatchLoader, FaceDataset, ImageBatch, LoaderConfig, Split};
use fineface_model::FineFaceAutodiffBackend;
use fineface_model::{AttentionCrop, AttentionCropConfig};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{
    Checkpoints, TrainState, load_weights, save_weights, write_atomic, write_json,
};
use crate::config::{ExperimentConfig, Method};
use crate::error::{Result, TrainError};
use crate::evaluate::{EvalSettings, Evaluation, predict_samples, write_evaluation};
use crate::iteration::{IterationContext, Predict, Shard, TrainStep};
use crate::metrics::{EpochMetrics, memory_mb, write_history};
use crate::model::{
    build_backbone, build_baseline, build_fineface, initialise_parameters, load_imagenet_weights,
};
use crate::optim::GroupedSgd;
use crate::picture::write_crop_grid;

/// How to run (as opposed to what to train, which is the [`ExperimentConfig`]).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Continue from the folder's latest checkpoint.
    pub resume: bool,
    /// Stop (as if killed) after this many epochs; the run can be resumed.
    pub stop_after_epoch: Option<usize>,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
}

/// What a run folder says about the run, beside its config (`run.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The experiment's name.
    pub name: String,
    /// FineFACE or baseline.
    pub method: Method,
    /// The dataset trained on.
    pub dataset: String,
    /// The target attribute.
    pub target: String,
    /// Class names, in the model's output order.
    pub classes: Vec<String>,
    /// Sensitive attribute names.
    pub sensitive: Vec<String>,
    /// Images per split.
    pub split_sizes: Vec<(String, usize)>,
    /// Version of this crate.
    pub version: String,
}

/// The numbers of one evaluated split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Images evaluated.
    pub n: usize,
    /// Accuracy of the final prediction.
    pub accuracy: f64,
    /// Accuracy of the concat head on the image.
    pub accuracy_concat: f64,
    /// Accuracy of the 4-head sum on the image.
    pub accuracy_heads: f64,
    /// Accuracy of the worst subgroup.
    pub worst_group_accuracy: f64,
    /// The worst subgroup(s).
    pub worst_group: String,
    /// Standard deviation (ddof 0) of the subgroup accuracies.
    pub dob: f64,
    /// Skin/subgroup error ratio (worst error / best error), when defined.
    pub ser: Option<f64>,
}

/// The outcome of a finished run (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// Epochs trained.
    pub epochs: usize,
    /// Best validation value of the selection metric and its epoch (1-based).
    pub best: Option<(f64, usize)>,
    /// The test split under the selected checkpoint; `None` when stopped early.
    pub test: Option<SplitSummary>,
    /// Wall time of this invocation, seconds.
    pub seconds: f64,
}

/// Trains the experiment on `devices` (one, or several for data parallelism).
pub fn train<B: FineFaceAutodiffBackend>(
    config: &ExperimentConfig,
    devices: &[B::Device],
    options: &RunOptions,
) -> Result<RunSummary> {
    let device = devices
        .first()
        .ok_or_else(|| TrainError::Unsupported("no device given".to_owned()))?;
    let dataset = config.data.load(&config.split)?;
    let needed = config.train.batch_size;
    for (split, n) in [(Split::Train, needed), (Split::Val, 1), (Split::Test, 1)] {
        let found = dataset.split(split).len();
        if found < n {
            return Err(TrainError::TooFewImages {
                dataset: dataset.name.clone(),
                split: split.name(),
                found,
                needed: n,
            });
        }
    }
    let run = &options.run_dir;
    std::fs::create_dir_all(run).map_err(|e| TrainError::io(run, e))?;
    write_atomic(&run.join("config.toml"), config.to_toml().as_bytes())?;
    let info = RunInfo {
        name: config.name.clone(),
        method: config.method,
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
    write_json(&run.join("run.json"), &info)?;
    tracing::info!(
        dataset = %dataset.name, train = dataset.split(Split::Train).len(),
        val = dataset.split(Split::Val).len(), test = dataset.split(Split::Test).len(),
        classes = ?dataset.classes, skipped = dataset.skipped.len(), "dataset loaded"
    );
    let n_classes = dataset.classes.len();
    let trainer = Trainer::new(config, &dataset, devices, options);
    match config.method {
        Method::FineFace => {
            let model = seeded_init::<B, _>(config.train.seed, device, || {
                let mut backbone = build_backbone::<B>(&config.model, device)?;
                load_imagenet_weights(&mut backbone, &config.model)?;
                let model = build_fineface(&config.model, n_classes, backbone, device);
                initialise_parameters(&model);
                Ok(model)
            })?;
            trainer.fit(model)
        }
        Method::Baseline => {
            let model = seeded_init::<B, _>(config.train.seed, device, || {
                let mut backbone = build_backbone::<B>(&config.model, device)?;
                load_imagenet_weights(&mut backbone, &config.model)?;
                let model = build_baseline(n_classes, backbone, device);
                initialise_parameters(&model);
                Ok(model)
            })?;
            trainer.fit(model)
        }
    }
}

/// Seeds the backend and builds a model under a process-wide lock: the backend's generator
/// is global, so two runs initialising at once (tests, a sweep in threads) would otherwise
/// draw from each other's sequence and stop being reproducible.
fn seeded_init<B: AutodiffBackend, T>(
    seed: u64,
    device: &B::Device,
    init: impl FnOnce() -> Result<T>,
) -> Result<T> {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    B::seed(device, seed);
    init()
}

struct Trainer<'a, B: FineFaceAutodiffBackend> {
    config: &'a ExperimentConfig,
    dataset: &'a FaceDataset,
    devices: &'a [B::Device],
    options: &'a RunOptions,
    crop: AttentionCrop,
}

impl<'a, B: FineFaceAutodiffBackend> Trainer<'a, B> {
    fn new(
        config: &'a ExperimentConfig,
        dataset: &'a FaceDataset,
        devices: &'a [B::Device],
        options: &'a RunOptions,
    ) -> Self {
        let crop = AttentionCropConfig::new()
            .with_threshold(config.crop.threshold)
            .with_padding(config.crop.padding)
            .init();
        Self {
            config,
            dataset,
            devices,
            options,
            crop,
        }
    }

    fn device(&self) -> &B::Device {
        &self.devices[0]
    }

    fn fit<M>(&self, model: M) -> Result<RunSummary>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let started = Instant::now();
        let run = &self.options.run_dir;
        let settings = &self.config.train;
        let checkpoints = Checkpoints::new(run);
        let mut optimizer = GroupedSgd::<B, M>::new(settings);
        let mut model = model;
        let mut state = TrainState {
            seed: settings.seed,
            ..TrainState::default()
        };
        if self.options.resume {
            let Some(path) = checkpoints.latest()? else {
                return Err(TrainError::Checkpoint {
                    path: run.join("checkpoints"),
                    message: "no checkpoint to resume from".to_owned(),
                });
            };
            (model, optimizer, state) = Checkpoints::load(&path, model, optimizer, self.device())?;
            tracing::info!(checkpoint = %path.display(), epochs_done = state.epochs_done, step = state.step, "resumed");
        }
        let train = self.dataset.split(Split::Train);
        let loader = BatchLoader::new(
            train,
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
        );
        let n_batches = loader.n_batches();
        let last_epoch = self
            .options
            .stop_after_epoch
            .map_or(settings.epochs, |e| e.min(settings.epochs));
        for epoch in state.epochs_done..last_epoch {
            let epoch_started = Instant::now();
            let rates = optimizer.rates(epoch);
            let bar = self.progress_bar(epoch, n_batches);
            let mut sums = vec![0.0; M::LOSS_NAMES.len()];
            let (mut correct, mut seen, mut skipped) = (0, 0, 0);
            // Decode batch k + 1 while batch k trains.
            let mut pending = Some(Ok(loader.batch(epoch as u64, 0)));
            for k in 0..n_batches {
                let (batch, bad) = match pending.take() {
                    Some(Ok(result)) => result.map_err(|e| TrainError::BadImage {
                        path: e.path,
                        message: e.message,
                    })?,
                    _ => loader
                        .batch(epoch as u64, k)
                        .map_err(|e| TrainError::BadImage {
                            path: e.path,
                            message: e.message,
                        })?,
                };
                skipped += bad.len();
                let (next, step) = std::thread::scope(|s| {
                    let next =
                        (k + 1 < n_batches).then(|| s.spawn(|| loader.batch(epoch as u64, k + 1)));
                    let step = if batch.len() < 2 {
                        None
                    } else {
                        let shards = self.shards(batch);
                        let context = IterationContext {
                            epoch,
                            batch: k,
                            seed: settings.seed,
                            lean: settings.lean,
                        };
                        Some(
                            model
                                .clone()
                                .iteration(&mut optimizer, &shards, &self.crop, context),
                        )
                    };
                    (next.map(|h| h.join()), step)
                });
                pending = next;
                let Some(step) = step else {
                    tracing::warn!(
                        epoch = epoch + 1,
                        batch = k,
                        "batch left with fewer than 2 images after skipping undecodable ones"
                    );
                    continue;
                };
                let (updated, losses) = step?;
                model = updated;
                state.step += 1;
                for (sum, (_, value)) in sums.iter_mut().zip(&losses.losses) {
                    *sum += value;
                }
                correct += losses.correct;
                seen += losses.seen;
                bar.set_message(
                    losses
                        .losses
                        .iter()
                        .map(|(name, value)| format!("{name} {value:.3}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                );
                bar.inc(1);
                // Resident memory per iteration in the log: it stays flat over an epoch
                // because nothing outside the five steps builds an autodiff graph.
                tracing::debug!(
                    epoch = epoch + 1,
                    batch = k,
                    losses = ?losses.losses,
                    sources = ?losses.sources,
                    rss_mb = memory_mb().0,
                    "iteration"
                );
            }
            bar.finish_and_clear();
            // Validation under the model as it is now.
            let inner = model.valid();
            let val = self.evaluate(&inner, Split::Val)?;
            let report = val.fairness(
                self.dataset.split(Split::Val),
                &self.dataset.classes,
                &self.dataset.sensitive,
                None,
            )?;
            let (rss, peak) = memory_mb();
            let metrics = EpochMetrics {
                epoch: epoch + 1,
                lr_backbone: rates.backbone,
                lr_new: rates.heads,
                losses: M::LOSS_NAMES
                    .iter()
                    .zip(&sums)
                    .map(|(n, s)| ((*n).to_owned(), s / n_batches.max(1) as f64))
                    .collect(),
                train_accuracy: if seen == 0 {
                    0.0
                } else {
                    correct as f64 / seen as f64
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
                rss_mb: rss,
                peak_rss_mb: peak,
                skipped_images: skipped,
            };
            tracing::info!(
                epoch = epoch + 1,
                losses = ?metrics.losses,
                train_accuracy = metrics.train_accuracy,
                val_accuracy = metrics.val_accuracy,
                val_concat = metrics.val_accuracy_concat,
                val_heads = metrics.val_accuracy_heads,
                worst_group = %metrics.val_worst_group,
                worst_group_accuracy = metrics.val_worst_group_accuracy,
                dob = metrics.val_dob,
                seconds = metrics.seconds,
                rss_mb = metrics.rss_mb,
                "epoch done"
            );
            let value = metrics.selection_value(settings.select_by);
            if state.best.is_none_or(|(best, _)| value > best) {
                state.best = Some((value, epoch + 1));
                save_weights(&inner, &run.join("best.mpk"))?;
                write_json(&run.join("best.json"), &metrics)?;
            }
            state.history.push(metrics);
            state.epochs_done = epoch + 1;
            write_history(run, &state.history)?;
            checkpoints.save(&model, &optimizer, &state)?;
        }
        let finished = state.epochs_done >= settings.epochs;
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
            run_dir: run.clone(),
            epochs: state.epochs_done,
            best: state.best,
            test,
            seconds: started.elapsed().as_secs_f64(),
        };
        write_json(&run.join("summary.json"), &summary)?;
        Ok(summary)
    }

    /// Test evaluation of the selected checkpoint, its reports, and the crop picture.
    fn finish<M>(&self, model: &M) -> Result<SplitSummary>
    where
        M: TrainStep<B>,
        M::InnerModule: Predict<B::InnerBackend>,
    {
        let run = &self.options.run_dir;
        let best = load_weights(model.valid(), &run.join("best.mpk"), self.device())?;
        let test = self.evaluate(&best, Split::Test)?;
        let samples = self.dataset.split(Split::Test);
        let report = write_evaluation(
            &run.join("test"),
            &test,
            samples,
            &self.dataset.classes,
            &self.dataset.sensitive,
        )?;
        let summary = summarise(&test, &report);
        write_json(&run.join("test").join("summary.json"), &summary)?;
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
                &run.join("crops.png"),
                self.device(),
            )?;
        }
        Ok(summary)
    }

    fn evaluate<P: Predict<B::InnerBackend>>(&self, model: &P, split: Split) -> Result<Evaluation> {
        predict_samples(
            model,
            self.dataset.split(split),
            &self.dataset.classes,
            &EvalSettings {
                transform: &self.config.transform,
                crop: &self.crop,
                batch_size: self.config.train.batch_size,
                workers: self.config.train.workers,
            },
            self.device(),
        )
    }

    /// The batch cut into one shard per device.
    fn shards(&self, batch: ImageBatch) -> Vec<Shard<B>> {
        let n = batch.len();
        let per = n.div_ceil(self.devices.len());
        let plane = 3 * batch.size * batch.size;
        let size = batch.size;
        self.devices
            .iter()
            .enumerate()
            .filter_map(|(i, device)| {
                let (start, end) = (i * per, ((i + 1) * per).min(n));
                (start < end).then(|| {
                    let images = batch.images[start * plane..end * plane].to_vec();
                    let targets: Vec<i64> = batch.targets[start..end]
                        .iter()
                        .map(|&t| t as i64)
                        .collect();
                    Shard {
                        images: Tensor::<B::InnerBackend, 4>::from_data(
                            TensorData::new(images, [end - start, 3, size, size]),
                            device,
                        ),
                        targets: Tensor::<B, 1, Int>::from_data(
                            TensorData::new(targets, [end - start]),
                            device,
                        ),
                        device: device.clone(),
                    }
                })
            })
            .collect()
    }

    fn progress_bar(&self, epoch: usize, n: usize) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(n as u64),
            if self.options.progress {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        if let Ok(style) = ProgressStyle::with_template(
            "epoch {prefix} [{bar:25}] {pos}/{len} {elapsed_precise} eta {eta_precise} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("{}/{}", epoch + 1, self.config.train.epochs));
        bar
    }
}

/// The headline numbers of an evaluation and its report.
pub fn summarise(evaluation: &Evaluation, report: &fineface_fair::SubgroupReport) -> SplitSummary {
    SplitSummary {
        n: evaluation.rows.len(),
        accuracy: evaluation.accuracy(),
        accuracy_concat: evaluation.accuracy_concat(),
        accuracy_heads: evaluation.accuracy_heads(),
        worst_group_accuracy: report.aggregates.min_group_accuracy,
        worst_group: report.aggregates.worst_groups.join(" / "),
        dob: report.aggregates.dob_std_ddof0,
        ser: report.aggregates.ser,
    }
}

/// The next free `runs/<name>/run-NNN` folder under `root`.
pub fn next_run_dir(root: &Path, name: &str) -> PathBuf {
    let base = root.join(name);
    (1..)
        .map(|i| base.join(format!("run-{i:03}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| base.join("run"))
}
