//! FineFACE training: the staged expert iteration, the baseline, validation with subgroup
//! fairness numbers, atomic resumable checkpoints, evaluation and prediction.
//!
//! One FineFACE iteration ([`TrainStep::iteration`]) is the paper's five steps, each with its
//! own forward, backward and SGD step over one shared optimiser state:
//! 1. expert 3 on the batch;
//! 2. attention crops from step 1's maps under the classifiers as updated (no gradient);
//! 3. expert 2 on one source chosen for the batch from {crop 3, crop 1, original};
//! 4. expert 1 on one of {crop 3, crop 2, original};
//! 5. every head on the combined crop (weights 1, 1, 1, 2 for the concat head);
//! 6. the concat head on the original (weight 2).
//!
//! [`train`] runs the epochs, validates after each on the carved validation split (8-logit
//! accuracy, concat alone, the 4 heads on the image, per-group accuracy, DoB), keeps the
//! best checkpoint by the configured metric, and ends with the test split's predictions CSV
//! and fairness report. Every forward pass that only feeds attention or evaluation runs on
//! the inner (non-autodiff) backend.

mod checkpoint;
mod config;
mod error;
mod evaluate;
mod iteration;
mod metrics;
mod model;
mod optim;
mod picture;
mod sgd;
mod trainer;

pub use checkpoint::{
    CheckpointRecorder, Checkpoints, TrainState, load_weights, save_weights, write_atomic,
    write_json,
};
pub use config::{
    CropSettings, ExperimentConfig, Method, ModelSettings, Overrides, SelectBy, TrainSettings,
};
pub use error::{Result, TrainError};
pub use evaluate::{
    EvalSettings, Evaluation, PredictionRow, batch_tensor, predict_samples, write_evaluation,
};
pub use iteration::{
    CropSource, FineFaceStep, HeadLogits, IterationContext, IterationLosses, Predict, Shard,
    ShardCrops, StepForward, StepResult, TrainBackbone, TrainStep, fineface_crops, fineface_step,
};
pub use metrics::{EpochMetrics, memory_mb, write_history};
pub use model::{
    BaselineResNet, FineFaceResNet, build_backbone, build_baseline, build_fineface,
    initialise_parameters, load_imagenet_weights,
};
pub use optim::{EpochRates, GroupGradients, GroupedModule, GroupedSgd, cosine_lr};
pub use picture::write_crop_grid;
pub use sgd::{FusedSgd, MomentumState, SgdState};
pub use trainer::{RunInfo, RunOptions, RunSummary, SplitSummary, next_run_dir, summarise, train};
