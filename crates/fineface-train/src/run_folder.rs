//! A trained run folder read back: its config, what it learnt, and its model for
//! evaluation and prediction.

use std::path::{Path, PathBuf};

use fineface_model::FineFaceBackend;
use fineface_model::{AttentionCrop, AttentionCropConfig};

use crate::checkpoint::load_weights;
use crate::config::{ExperimentConfig, Method};
use crate::error::{Result, TrainError};
use crate::model::{build_backbone, build_baseline, build_fineface};
use fineface_fair::RunInfo;
use fineface_model::Predict;

/// A run folder written by [`Trainer::fit`](crate::Trainer::fit): `config.toml`,
/// `run.json` and the selected weights `best.mpk`.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder.
    pub dir: PathBuf,
    /// The resolved config the run trained with (ImageNet weights cleared: the trained
    /// weights replace them).
    pub config: ExperimentConfig,
    /// Classes, sensitive attributes and splits of the run.
    pub info: RunInfo,
}

impl RunFolder {
    /// Reads `dir/config.toml` and `dir/run.json`.
    ///
    /// # Errors
    /// [`TrainError::Config`] or [`TrainError::Checkpoint`] naming the file that is missing
    /// or unreadable.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut config = ExperimentConfig::from_file(&dir.join("config.toml"))?;
        config.model.weights = None;
        let info_path = dir.join(RunInfo::FILE_NAME);
        let text =
            std::fs::read_to_string(&info_path).map_err(|e| TrainError::io(&info_path, e))?;
        let info = serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
            path: info_path.clone(),
            message: format!("not a run.json: {e}"),
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            config,
            info,
        })
    }

    /// The attention crop the run trained with.
    pub fn crop(&self) -> AttentionCrop {
        AttentionCropConfig::new()
            .with_threshold(self.config.crop.threshold)
            .with_padding(self.config.crop.padding)
            .init()
    }

    /// The run's ResNet model (FineFACE or baseline) on `device` with its selected weights,
    /// for evaluation. A run of a custom backbone is evaluated by the program that defines
    /// the backbone (its model type is not in the config).
    ///
    /// # Errors
    /// An unknown backbone name, or weights that are absent or do not fit.
    pub fn load_model<B: FineFaceBackend>(
        &self,
        device: &B::Device,
    ) -> Result<Box<dyn Predict<B>>> {
        let weights = self.dir.join("best.mpk");
        let n_classes = self.info.classes.len();
        let backbone = build_backbone::<B>(&self.config.model, device)?;
        // `run.json`'s method is what was trained (the model's own); the config agrees for
        // the runs this builds.
        Ok(match self.config.method {
            Method::FineFace => {
                let model = build_fineface(&self.config.model, n_classes, backbone, device);
                Box::new(load_weights(model, &weights, device)?)
            }
            Method::Baseline => {
                let model = build_baseline(n_classes, backbone, device);
                Box::new(load_weights(model, &weights, device)?)
            }
        })
    }
}
