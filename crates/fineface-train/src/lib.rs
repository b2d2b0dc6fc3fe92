//! FineFACE training: the staged expert iteration, the baseline, validation with subgroup
//! fairness numbers, atomic resumable checkpoints, evaluation and prediction.
//!
//! One FineFACE iteration ([`TrainStep::iteration`]) is the spec's six stages: five
//! optimiser steps, each with its own forward, backward and SGD step over one shared
//! optimiser state, and the attention crops between the first two (no gradient):
//! 1. expert 3 on the batch;
//! 2. attention crops from step 1's maps under the classifiers as updated (no gradient);
//! 3. expert 2 on one source chosen for the batch from {crop 3, crop 1, original};
//! 4. expert 1 on one of {crop 3, crop 2, original};
//! 5. every head on the combined crop (weights 1, 1, 1, 2 for the concat head);
//! 6. the concat head on the original (weight 2).
//!
//! [`Trainer`] trains any model it can step ([`TrainStep`]: FineFACE or the baseline over
//! any [`Backbone`](fineface_model::Backbone)); [`train`] is the convenience that builds the
//! configured ResNet. Both run the epochs, validate after each on the carved validation
//! split (8-logit accuracy, concat alone, the 4 heads on the image, per-group accuracy,
//! DoB), keep the best checkpoint by the configured metric, and end with the test split's
//! predictions CSV and fairness report. Every forward pass that only feeds attention or evaluation runs on
//! the inner (non-autodiff) backend.
//!
//! With several devices, [`DataParallel`] runs one worker per device at once: each forwards
//! and backwards its shard of every batch, and hands each step's gradients to its
//! [`GradientReducer`] (on one device, [`LocalReducer`] leaves them as they are), which sums
//! them with burn-collective's all-reduce; every replica takes the same step ([`NodeSettings`]
//! extend the sum over several machines).
//!
//! Seed studies over these runs are the `fineface-study` crate's.

mod checkpoint;
mod config;
mod devices;
mod error;
mod evaluate;
mod experiment;
mod files;
mod iteration;
mod metrics;
mod model;
mod optim;
mod parallel;
pub mod photos;
mod picture;
mod probe;
mod reducer;
mod run_folder;
mod sgd;
mod trained_on;
mod trainer;

pub use checkpoint::{
    CHECKSUMS_FILE, CheckpointRecorder, Checkpoints, FileChecksum, ResumePoint, TrainState,
    load_weights, save_weights,
};
pub use config::{
    BackboneChoice, CropSettings, ExperimentConfig, Method, ModelSettings, Overrides, SelectBy,
    SettingDifference, TrainSettings,
};
pub use devices::{BackendTask, Devices, on_devices, parse_devices};
pub use error::{Damage, Result, TrainError};
pub use evaluate::{
    EvalSettings, Evaluation, PredictionRow, batch_tensor, predict_samples, probability_column,
    write_evaluation,
};
pub use experiment::Experiment;
pub use files::{absolute, write_atomic, write_json};
/// FineFACE's prediction lives with the model; re-exported for evaluation code.
pub use fineface_model::{Attention, HeadLogits, Predict};
/// The run folder's files and formats, declared in `fineface-run`.
pub use fineface_run::{
    EpochMetrics, Loss, RunFiles, RunInfo, RunSummary, SplitFiles, SplitSummary,
};
pub use iteration::{
    BatchCrops, CropSource, FineFaceStep, IterationContext, IterationLosses, Shard, ShardCrops,
    StepForward, StepResult, Stepper, TrainBackbone, TrainStep, fineface_crops, fineface_step,
};
pub use model::{
    BackboneConfig, BaselineResNet, FineFaceResNet, backbone_config, build_baseline,
    build_fineface, check_imagenet_weights, initialise_parameters, pretrained,
};
pub use optim::{EpochRates, GroupGradients, GroupedModule, GroupedSgd, cosine_lr};
pub use parallel::{DataParallel, NodeSettings, shard_of};
pub use picture::write_crop_grid;
pub use probe::{DeviceProbe, PROBE_TOLERANCE, probe_device};
pub use reducer::{GradientReducer, LocalReducer};
pub use run_folder::{EvalData, EvalOutcome, EvalRequest, EvalSplit, RunFolder};
pub use sgd::{FusedSgd, MomentumState, SgdState};
pub use trained_on::{Overlap, TrainedOn};
pub use trainer::{RunOptions, Trainer, next_free_dir, next_run_dir, summarise, train};
