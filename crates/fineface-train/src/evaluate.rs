//! Evaluation: predictions of a split, their accuracies, the predictions CSV and the
//! fairness report.

use std::path::Path;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use fineface_data::{
    BadImage, BadImagePolicy, BatchLoader, FaceSample, ImageBatch, LoaderConfig, PrepareImage,
    TransformConfig,
};
use fineface_fair::{AuditOptions, PredictionTable, SkippedItem, SubgroupReport, audit};
use fineface_model::AttentionCrop;

use crate::error::{Result, TrainError};
use crate::files::{write_atomic, write_csv};
use fineface_model::Predict;

/// The images of a batch as a `[n, 3, size, size]` tensor on `device`.
pub(crate) fn batch_tensor<B: Backend>(batch: ImageBatch, device: &B::Device) -> Tensor<B, 4> {
    let n = batch.len();
    let size = batch.size;
    Tensor::from_data(TensorData::new(batch.images, [n, 3, size, size]), device)
}

/// One evaluated image.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PredictionRow<'a> {
    /// The image's sample (its file and sensitive attributes).
    pub sample: &'a FaceSample,
    /// True class index.
    pub y_true: usize,
    /// Predicted class (FineFACE: argmax of the 8-logit sum).
    pub y_pred: usize,
    /// Prediction of the concat head on the image alone.
    pub y_pred_concat: usize,
    /// Prediction of the 4-head sum on the image.
    pub y_pred_heads: usize,
    /// The probability of every class, in the order of the run's classes: the softmax of
    /// the final logits
    /// ([`HeadLogits::probabilities`](fineface_model::HeadLogits::probabilities); a score
    /// for ranking and thresholds, not calibrated). For two classes, the second is the
    /// positive one (`Male`, `yes`): scikit-learn's `predict_proba(X)[:, 1]`.
    pub probabilities: Vec<f64>,
}

/// The column of class `class`'s probability in `predictions.csv` and `faces.csv`:
/// `p_Male` is P(y = Male).
pub fn probability_column(class: &str) -> String {
    format!("p_{class}")
}

/// The predictions of a split, borrowing the samples and classes they were made on.
#[derive(Debug, Clone)]
pub(crate) struct Evaluation<'a> {
    /// The samples evaluated, in split order.
    pub samples: &'a [FaceSample],
    /// The run's classes, in the model's output order (`y_true`, `y_pred` index them).
    pub classes: &'a [String],
    /// One row per decoded image, in split order.
    pub rows: Vec<PredictionRow<'a>>,
    /// Images that could not be decoded (left out of the rows).
    pub bad_images: Vec<BadImage>,
}

/// How to batch an evaluation.
#[derive(Clone)]
pub(crate) struct EvalSettings<'a> {
    /// The evaluation transform (resize, centre crop, normalise).
    pub transform: &'a TransformConfig,
    /// The attention crop of FineFACE's inference.
    pub crop: &'a AttentionCrop,
    /// Images per forward pass.
    pub batch_size: usize,
    /// Decoding threads.
    pub workers: usize,
    /// A step between decoding and the transform: raw photos' faces found and aligned
    /// ([`FaceFinder`](crate::photos::FaceFinder)); an image it refuses is skipped with its
    /// reason.
    pub prepare: Option<&'a dyn PrepareImage>,
}

impl std::fmt::Debug for EvalSettings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalSettings")
            .field("transform", self.transform)
            .field("crop", self.crop)
            .field("batch_size", &self.batch_size)
            .field("workers", &self.workers)
            .field("prepare", &self.prepare.is_some())
            .finish()
    }
}

/// Predicts every image of `samples` with `model` (no autodiff: pass an inner module).
pub(crate) fn predict_samples<'a, B: Backend, P: Predict<B> + ?Sized>(
    model: &P,
    samples: &'a [FaceSample],
    classes: &'a [String],
    settings: &EvalSettings<'_>,
    device: &B::Device,
) -> Result<Evaluation<'a>> {
    let mut loader = BatchLoader::new(
        samples,
        classes,
        settings.transform.clone(),
        LoaderConfig {
            batch_size: settings.batch_size,
            workers: settings.workers,
            drop_last: false,
            bad_images: BadImagePolicy::Skip,
        },
        false,
        0,
    );
    if let Some(prepare) = settings.prepare {
        loader = loader.with_prepare(prepare);
    }
    let mut evaluation = Evaluation {
        samples,
        classes,
        rows: Vec::new(),
        bad_images: Vec::new(),
    };
    for k in 0..loader.n_batches() {
        let (batch, bad) = loader.batch(0, k).map_err(|e| TrainError::BadImage {
            path: e.path,
            message: e.message,
        })?;
        evaluation.bad_images.extend(bad);
        if batch.is_empty() {
            continue;
        }
        let indices = batch.indices.clone();
        let targets = batch.targets.clone();
        let logits = model.predict(batch_tensor(batch, device), settings.crop);
        let n_classes = logits.combined.dims()[1];
        let probabilities = host(logits.probabilities(), "probabilities")?;
        let argmax = |t: Tensor<B, 2>, what| -> Result<Vec<usize>> {
            host(t, what)?
                .chunks(n_classes)
                .zip(&indices)
                .map(|(row, &sample)| {
                    fineface_model::argmax(row).ok_or_else(|| TrainError::NanLogits {
                        what,
                        image: samples[sample].file.clone(),
                    })
                })
                .collect()
        };
        let combined = argmax(logits.combined, "logits")?;
        let concat = argmax(logits.concat, "concat logits")?;
        let heads = argmax(logits.heads_on_image, "head logits")?;
        for (i, &sample) in indices.iter().enumerate() {
            evaluation.rows.push(PredictionRow {
                sample: &samples[sample],
                y_true: targets[i],
                y_pred: combined[i],
                y_pred_concat: concat[i],
                y_pred_heads: heads[i],
                probabilities: probabilities[i * n_classes..(i + 1) * n_classes]
                    .iter()
                    .map(|&p| f64::from(p))
                    .collect(),
            });
        }
    }
    Ok(evaluation)
}

/// The values of `t` on the host as `f32`.
pub(crate) fn host<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &'static str,
) -> Result<Vec<f32>> {
    let n = t.shape().num_elements();
    let values = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| TrainError::TensorData {
            what,
            message: format!("{e:?}"),
        })?;
    if values.len() == n {
        Ok(values)
    } else {
        Err(TrainError::TensorData {
            what,
            message: format!("expected {n} values, read {}", values.len()),
        })
    }
}

impl Evaluation<'_> {
    fn share(&self, correct: impl Fn(&PredictionRow<'_>) -> bool) -> f64 {
        if self.rows.is_empty() {
            return 0.0;
        }
        self.rows.iter().filter(|r| correct(r)).count() as f64 / self.rows.len() as f64
    }

    /// Accuracy of the final prediction.
    pub fn accuracy(&self) -> f64 {
        self.share(|r| r.y_pred == r.y_true)
    }

    /// Accuracy of the concat head on the image.
    pub fn accuracy_concat(&self) -> f64 {
        self.share(|r| r.y_pred_concat == r.y_true)
    }

    /// Accuracy of the 4-head sum on the image.
    pub fn accuracy_heads(&self) -> f64 {
        self.share(|r| r.y_pred_heads == r.y_true)
    }

    /// The final predictions with their sensitive attributes (named `sensitive`), for
    /// fineface-fair.
    pub fn table(&self, sensitive: &[String]) -> Result<PredictionTable> {
        let classes = self.classes;
        let mut table = PredictionTable::new(sensitive.iter().map(String::as_str))?;
        // Every class the model predicts, even one no row of this split holds.
        table.declare_classes(classes);
        for row in &self.rows {
            let values: Vec<&str> = row.sample.sensitive.iter().map(String::as_str).collect();
            table.push(&classes[row.y_true], &classes[row.y_pred], &values)?;
        }
        Ok(table)
    }

    /// The fairness report of the final predictions; the positive label of the binary
    /// rates is the last class in sorted order (`Male`, `yes`).
    pub fn fairness(&self, sensitive: &[String], input: Option<String>) -> Result<SubgroupReport> {
        let table = self.table(sensitive)?;
        let options = AuditOptions {
            pos_label: self
                .classes
                .last()
                .cloned()
                .unwrap_or_else(|| "1".to_owned()),
            bootstrap: None,
        };
        let mut report = audit(&table, &options)?;
        report.meta.input = input;
        let files: std::collections::HashMap<&Path, &str> = self
            .samples
            .iter()
            .map(|s| (s.path.as_path(), s.file.as_str()))
            .collect();
        report.meta.skipped = self
            .bad_images
            .iter()
            .map(|bad| SkippedItem {
                file: files
                    .get(bad.path.as_path())
                    .map_or_else(|| bad.path.display().to_string(), |f| (*f).to_owned()),
                reason: bad.message.clone(),
            })
            .collect();
        Ok(report)
    }

    /// Writes the predictions CSV: `path,y_true,y_pred,y_pred_concat,y_pred_heads,
    /// p_<class>...,<sensitive...>` (one probability column per class, [`probability_column`]),
    /// which `cargo xtask fairness` reads as it is.
    pub fn write_csv(&self, path: &Path, sensitive: &[String]) -> Result<()> {
        let classes = self.classes;
        let mut header: Vec<String> = ["path", "y_true", "y_pred", "y_pred_concat", "y_pred_heads"]
            .map(String::from)
            .to_vec();
        header.extend(classes.iter().map(|c| probability_column(c)));
        header.extend(sensitive.iter().cloned());
        let rows = self.rows.iter().map(|row| {
            let sample = row.sample;
            let mut fields = vec![
                sample.file.clone(),
                classes[row.y_true].clone(),
                classes[row.y_pred].clone(),
                classes[row.y_pred_concat].clone(),
                classes[row.y_pred_heads].clone(),
            ];
            fields.extend(row.probabilities.iter().map(|p| format!("{p:.6}")));
            fields.extend(sample.sensitive.iter().cloned());
            fields
        });
        Ok(write_csv(path, &header, rows)?)
    }
}

/// Writes `predictions.csv`, `fairness.json` and `fairness.md` of an evaluation into `dir`,
/// its groups formed by the `sensitive` attributes of its samples.
pub(crate) fn write_evaluation(
    dir: &Path,
    evaluation: &Evaluation<'_>,
    sensitive: &[String],
) -> Result<SubgroupReport> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let files = fineface_run::SplitFiles::new(dir);
    let predictions = files.predictions();
    evaluation.write_csv(&predictions, sensitive)?;
    let report = evaluation.fairness(sensitive, Some(predictions.display().to_string()))?;
    write_atomic(&files.fairness(), report.to_json()?.as_bytes())?;
    write_atomic(&files.fairness_markdown(), report.to_markdown().as_bytes())?;
    Ok(report)
}
