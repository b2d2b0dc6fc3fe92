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

// The public API, by what a user does with it. Everything else is the crate's own.

// Training an experiment: [`train`] for the configured network, [`Trainer`] for any model.
pub use config::{
    BackboneChoice, CropSettings, ExperimentConfig, Method, ModelSettings, Overrides, SelectBy,
    SettingDifference, TrainSettings,
};
pub use experiment::Experiment;
pub use trainer::{RunOptions, Trainer, next_free_dir, next_run_dir, train};

// Choosing the backend and devices from their names (`cpu`, `cuda:0`, `wgpu`).
pub use devices::{BackendTask, Devices, on_devices, parse_devices};
pub use probe::{DeviceProbe, PROBE_TOLERANCE, probe_device};

// Building the networks a method trains.
pub use model::{
    BackboneConfig, BaselineResNet, FineFaceResNet, MethodModel, backbone_config, build_baseline,
    build_fineface, build_model, check_imagenet_weights, initialise_parameters,
};

// One training iteration (the spec's steps), for custom models and loops.
pub use iteration::{
    CropSource, FineFaceStep, IterationContext, IterationLosses, Shard, ShardCrops, StepForward,
    StepResult, TrainBackbone, TrainStep, fineface_crops, fineface_step,
};
pub use optim::{EpochRates, GroupGradients, GroupedModule, GroupedSgd, OptimizerRecord};
pub use sgd::{FusedSgd, MomentumState, SgdState};

// Data parallelism: the gradient sum over devices and machines.
pub use parallel::{DataParallel, Launch, NodeSettings, shard_of};
#[cfg(feature = "mpi")]
pub use parallel::{Mpi, NodeLink};
pub use reducer::{GradientReducer, LocalReducer};

// Checkpoints and weights.
pub use checkpoint::{
    CHECKSUMS_FILE, Checkpoints, ResumePoint, TrainState, load_weights, save_weights,
};

// Reading a finished run back: evaluation on any dataset, prediction.
pub use evaluate::probability_column;
pub use run_folder::{EvalData, EvalOutcome, EvalRequest, EvalSplit, RunFolder};
pub use trained_on::Overlap;

// The run folder's files and formats, declared in `fineface-run`.
pub use fineface_run::{EpochMetrics, Loss, RunFiles, RunInfo, RunSummary, SplitSummary};
// Evaluation code reads models through their prediction, declared in `fineface-model`.
pub use fineface_model::Predict;

// Errors.
pub use error::{Damage, Result, TrainError};
pub use files::absolute;
