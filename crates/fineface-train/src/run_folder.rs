//! A trained run folder read back: its config, what it learnt, and its model for
//! evaluation and prediction.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use burn::module::ModuleDisplay;
use fineface_data::{
    BadImage, DatasetConfig, FaceDataset, FaceSample, PrepareImage, Skipped, Split,
};
use fineface_model::Predict;
use fineface_model::{AttentionCrop, AttentionCropConfig};
use fineface_model::{Backbone, FineFaceBackend};
use fineface_run::{RunFiles, RunInfo, SplitFiles, SplitSummary};

use crate::checkpoint::load_weights;
use crate::config::{ExperimentConfig, Overrides};
use crate::error::{Result, TrainError};
use crate::evaluate::{EvalSettings, Evaluation, predict_samples, write_evaluation};
use crate::files::write_json;
use crate::model::{BackboneConfig, MethodModel, backbone_config, build_model};
use crate::photos::{FaceFinder, FaceSettings};
use crate::trained_on::{Overlap, TrainedOn};
use crate::trainer::summarise;

/// A run folder written by [`Trainer::fit`](crate::Trainer::fit): `config.toml`,
/// `run.json` and the selected weights `best.mpk`.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder's files.
    pub files: RunFiles,
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
    /// [`TrainError::NotARunFolder`] for a file; [`TrainError::Config`] for a `config.toml`
    /// that is no experiment; [`TrainError::Io`] naming a file that is missing or
    /// unreadable; [`TrainError::RunFile`] for a `run.json` that is not this version's.
    pub fn open(dir: &Path) -> Result<Self> {
        if dir.is_file() {
            return Err(TrainError::NotARunFolder {
                path: dir.to_owned(),
            });
        }
        let files = RunFiles::new(dir);
        let mut config = ExperimentConfig::from_run_file(&files.config())?;
        config.model.weights = None;
        let info = fineface_run::read_json(&files.info())?;
        Ok(Self {
            files,
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

    /// The run's model (FineFACE or baseline over the torchvision backbone it trained) on
    /// `device` with its selected weights, for evaluation. A run of a custom backbone (its
    /// type is not in the config) is loaded by the program that defines the backbone, with
    /// [`RunFolder::load_model_over`].
    ///
    /// # Errors
    /// A custom backbone ([`TrainError::Unsupported`]), or weights that are absent or do not
    /// fit.
    pub fn load_model<B: FineFaceBackend>(
        &self,
        device: &B::Device,
    ) -> Result<Box<dyn Predict<B>>> {
        match backbone_config(&self.config.model)? {
            BackboneConfig::ResNet(c) => self.load_model_over(c.init(device), device),
            BackboneConfig::MobileNetV2(c) => self.load_model_over(c.init(device), device),
        }
    }

    /// The run's method (FineFACE or the baseline, as it trained) over `backbone`, with the
    /// selected weights (`best.mpk`): how a run of any backbone, a custom one included, is
    /// read back. `backbone` must be built as the run built it (its architecture and widths;
    /// its weights are replaced).
    ///
    /// # Errors
    /// Weights that are absent or do not fit `backbone` ([`TrainError::Checkpoint`]).
    pub fn load_model_over<B: FineFaceBackend, N: Backbone<B> + ModuleDisplay + 'static>(
        &self,
        backbone: N,
        device: &B::Device,
    ) -> Result<Box<dyn Predict<B>>> {
        let weights = self.files.best_weights();
        let n_classes = self.info.classes.len();
        // `run.json`'s method is what was trained: the model's own, whatever a config
        // edited since says.
        let method = self.info.method;
        Ok(
            match build_model(method, &self.config.model, n_classes, backbone, device) {
                MethodModel::FineFace(model) => Box::new(load_weights(model, &weights, device)?),
                MethodModel::Baseline(model) => Box::new(load_weights(model, &weights, device)?),
            },
        )
    }
}

/// The dataset a run is evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalData {
    /// The run's own dataset, where it trained.
    Own,
    /// The run's own kind of dataset, read from another root.
    OwnAt(PathBuf),
    /// Another dataset: a cross-dataset audit (train on FairFace, evaluate on UTKFace). Its
    /// groups are its own sensitive attributes; its classes must be among the run's.
    Other(DatasetConfig),
}

/// Which images of the dataset are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalSplit {
    /// One split.
    One(Split),
    /// Train, val and test together.
    All,
}

impl EvalSplit {
    /// `train`, `val`, `test` or `all`.
    pub fn name(self) -> &'static str {
        match self {
            Self::One(split) => split.name(),
            Self::All => "all",
        }
    }

    fn samples(self, dataset: &FaceDataset) -> Vec<FaceSample> {
        let splits = match self {
            Self::One(split) => vec![split],
            Self::All => vec![Split::Train, Split::Val, Split::Test],
        };
        splits
            .into_iter()
            .flat_map(|s| dataset.split(s).to_vec())
            .collect()
    }
}

impl FromStr for EvalSplit {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        Ok(match text {
            "train" => Self::One(Split::Train),
            "val" => Self::One(Split::Val),
            "test" => Self::One(Split::Test),
            "all" => Self::All,
            other => return Err(format!("split `{other}`: expected train, val, test or all")),
        })
    }
}

/// What [`RunFolder::evaluate`] scores and where it writes.
#[derive(Debug, Clone)]
pub struct EvalRequest {
    /// The dataset.
    pub data: EvalData,
    /// The images; `None`: `test` of the run's own dataset, `all` of another one.
    pub split: Option<EvalSplit>,
    /// The output folder; `None`: `<run>/eval-<dataset>-<split>`, with `-detect` for raw
    /// photos.
    pub out: Option<PathBuf>,
    /// Images per forward pass.
    pub batch_size: usize,
    /// Raw photos: each image's face found and aligned before the transform (the kept one
    /// of several, [`FaceSettings::keep`]); an image without a face is skipped with the
    /// reason. `None`: the images are chips already.
    pub faces: Option<FaceSettings>,
    /// Write over an evaluation already in the output folder; `false`: such a folder is
    /// refused ([`TrainError::WouldOverwrite`]), as a finished result is never lost
    /// silently.
    pub replace: bool,
}

impl EvalRequest {
    /// The default split (`test` of the run's own dataset, `all` of another), written to
    /// `<run>/eval-<dataset>-<split>`, 32 images a pass.
    pub fn new(data: EvalData) -> Self {
        Self {
            data,
            split: None,
            out: None,
            batch_size: 32,
            faces: None,
            replace: false,
        }
    }
}

/// An evaluation checked and ready to score: its dataset, images and output folder.
struct PlannedEvaluation {
    dataset: FaceDataset,
    split: EvalSplit,
    samples: Vec<FaceSample>,
    out: PathBuf,
    trained_on: Option<Overlap>,
}

/// What [`RunFolder::evaluate`] wrote.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    /// The folder of `predictions.csv`, `fairness.json`, `fairness.md` and `summary.json`.
    pub dir: PathBuf,
    /// The dataset's name.
    pub dataset: String,
    /// The split scored.
    pub split: EvalSplit,
    /// The numbers of `summary.json`.
    pub summary: SplitSummary,
    /// The images scored that the run trained or chose its checkpoint on: another dataset
    /// holding them, the run's own kind at another root that holds more images (so that
    /// its carved test split differs), or `--split all` (same size and first bytes;
    /// runs written before `trained-on.tsv` are not compared).
    pub trained_on: Option<Overlap>,
}

impl RunFolder {
    /// Evaluates the run's selected weights (`best.mpk`) on a dataset: the 8-logit
    /// prediction of every image, then `predictions.csv`, `fairness.json`/`.md` (groups by
    /// that dataset's sensitive attributes) and `summary.json` in the output folder. Images
    /// that cannot be decoded are skipped and listed with their reason; with
    /// [`EvalSplit::All`] so are the files the dataset reader left out.
    ///
    /// # Errors
    /// The dataset cannot be read, its classes are not the run's
    /// ([`TrainError::ClassMismatch`]), the weights do not load, or the output cannot be
    /// written.
    pub fn evaluate<B: FineFaceBackend>(
        &self,
        request: &EvalRequest,
        device: &B::Device,
    ) -> Result<EvalOutcome> {
        // The dataset and the output folder first: their errors are the user's to mend
        // before any weights are read.
        let planned = self.plan_evaluation(request)?;
        let model = self.load_model::<B>(device)?;
        self.score(planned, &*model, request, device)
    }

    /// [`RunFolder::evaluate`] with a model the caller loaded: a run of a custom backbone,
    /// through [`RunFolder::load_model_over`].
    ///
    /// # Errors
    /// As [`RunFolder::evaluate`], but for the weights, which the caller loaded.
    pub fn evaluate_model<B: FineFaceBackend>(
        &self,
        model: &dyn Predict<B>,
        request: &EvalRequest,
        device: &B::Device,
    ) -> Result<EvalOutcome> {
        let planned = self.plan_evaluation(request)?;
        self.score(planned, model, request, device)
    }

    /// What an evaluation scores and where it writes, checked before the model is read.
    fn plan_evaluation(&self, request: &EvalRequest) -> Result<PlannedEvaluation> {
        let (dataset, other) = self.eval_dataset(&request.data)?;
        let split = request.split.unwrap_or(if other {
            EvalSplit::All
        } else {
            EvalSplit::One(Split::Test)
        });
        let samples = split.samples(&dataset);
        // Another dataset, or the run's own kind at another root (a whole folder the run
        // trained on part of), may hold the images it trained and selected on.
        let trained_on = TrainedOn::read(&self.files).and_then(|t| t.overlap(&samples));
        if let Some(o) = &trained_on {
            tracing::warn!(
                seen = o.seen, of = o.of, first = %o.first,
                "images the run trained or chose its checkpoint on are scored again (same size \
                 and first bytes): these scores are not held out"
            );
        }
        let out = self.eval_folder(request, &dataset.name, split)?;
        Ok(PlannedEvaluation {
            dataset,
            split,
            samples,
            out,
            trained_on,
        })
    }

    /// Scores the planned images with `model` and writes the evaluation's files.
    fn score<B: FineFaceBackend>(
        &self,
        planned: PlannedEvaluation,
        model: &dyn Predict<B>,
        request: &EvalRequest,
        device: &B::Device,
    ) -> Result<EvalOutcome> {
        let PlannedEvaluation {
            dataset,
            split,
            samples,
            out,
            trained_on,
        } = planned;
        let mut evaluation = self.predict(model, request, &samples, device)?;
        // Files the dataset reader already left out never reached the model either.
        match split {
            EvalSplit::All => evaluation
                .bad_images
                .extend(dataset.skipped.iter().map(Skipped::as_bad_image)),
            EvalSplit::One(one) => evaluation.bad_images.extend(dataset.skipped_from(one)),
        }
        if evaluation.rows.is_empty() {
            return Err(nothing_scored(&dataset.name, &evaluation.bad_images));
        }
        let report = write_evaluation(&out, &evaluation, &dataset.sensitive)?;
        let summary = summarise(&evaluation, &report);
        write_json(&SplitFiles::new(&out).summary(), &summary)?;
        Ok(EvalOutcome {
            dir: out,
            dataset: dataset.name,
            split,
            summary,
            trained_on,
        })
    }

    /// The dataset an evaluation reads, with the run's classes, and whether it is another
    /// dataset than the run's.
    fn eval_dataset(&self, data: &EvalData) -> Result<(FaceDataset, bool)> {
        let (config, other) = match data {
            EvalData::Own => {
                // Another system's path names nothing here (SynthFace would generate there).
                self.config
                    .check_paths()
                    .map_err(|message| TrainError::Config {
                        path: self.files.config(),
                        message,
                    })?;
                (self.config.data.clone(), false)
            }
            EvalData::OwnAt(root) => {
                let mut config = self.config.clone();
                config.apply(&Overrides {
                    data: Some(root.clone()),
                    ..Overrides::default()
                });
                (config.data, false)
            }
            EvalData::Other(data) => (data.clone(), true),
        };
        let dataset = config
            .load(&self.config.split)
            .map_err(|source| match data {
                // The run's own dataset, where its config says: `--data` gives it when it moved.
                EvalData::Own => TrainError::RunDataset {
                    config: self.files.config(),
                    source: Box::new(source),
                },
                _ => TrainError::Data(source),
            })?;
        if dataset
            .classes
            .iter()
            .any(|c| !self.info.classes.contains(c))
        {
            return Err(TrainError::ClassMismatch {
                run: self.info.classes.clone(),
                dataset: dataset.name.clone(),
                found: dataset.classes.clone(),
            });
        }
        Ok((dataset, other))
    }

    /// Where an evaluation writes (`eval-<dataset>-<split>[-detect]` in the run folder
    /// unless `request.out`), refused when it holds an earlier evaluation and
    /// `request.replace` is not set.
    fn eval_folder(
        &self,
        request: &EvalRequest,
        dataset: &str,
        split: EvalSplit,
    ) -> Result<PathBuf> {
        let out = request.out.clone().unwrap_or_else(|| {
            // Raw photos get their own folder: the chips' evaluation is not overwritten.
            let detect = if request.faces.is_some() {
                "-detect"
            } else {
                ""
            };
            let name = format!("{dataset}-{}{detect}", split.name());
            self.files.evaluation(&name).dir().to_owned()
        });
        let files = SplitFiles::new(&out);
        let earlier = [files.predictions(), files.summary()]
            .iter()
            .any(|f| f.is_file());
        if earlier && !request.replace {
            return Err(TrainError::WouldOverwrite { path: out });
        }
        Ok(out)
    }

    /// The run's best model's predictions of `samples` (each photo's face found and cut
    /// first with `request.faces`).
    fn predict<'a, B: FineFaceBackend>(
        &'a self,
        model: &dyn Predict<B>,
        request: &EvalRequest,
        samples: &'a [FaceSample],
        device: &B::Device,
    ) -> Result<Evaluation<'a>> {
        let crop = self.crop();
        let finder = match &request.faces {
            Some(faces) => Some(FaceFinder::<B>::new(faces.clone(), device)?),
            None => None,
        };
        let settings = EvalSettings {
            transform: &self.config.transform,
            crop: &crop,
            batch_size: request.batch_size,
            workers: self.config.train.workers,
            prepare: finder.as_ref().map(|f| f as &dyn PrepareImage),
        };
        predict_samples(model, samples, &self.info.classes, &settings, device)
    }
}

/// The error of an evaluation that scored nothing: each reason with its count, most common
/// first (paths left out: a reason is shared by many files).
fn nothing_scored(dataset: &str, bad: &[BadImage]) -> TrainError {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for image in bad {
        *counts.entry(image.message.as_str()).or_default() += 1;
    }
    let mut counted: Vec<(&str, usize)> = counts.into_iter().collect();
    counted.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let reasons = if counted.is_empty() {
        "the split is empty".to_owned()
    } else {
        counted
            .iter()
            .take(5)
            .map(|(reason, n)| format!("{n} x {reason}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    TrainError::NothingScored {
        dataset: dataset.to_owned(),
        total: bad.len(),
        reasons,
    }
}
