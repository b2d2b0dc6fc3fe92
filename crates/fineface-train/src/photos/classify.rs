//! Images classified by a trained run: the evaluation transform, one forward pass for all of
//! them, the most probable class of FineFACE's 8-logit sum (or the baseline's logits).

use burn::tensor::backend::Backend;
use fineface_data::{ImageBatch, TransformConfig};
use fineface_model::{AttentionCrop, Predict, argmax};
use image::DynamicImage;

use crate::error::{Result, TrainError};
use crate::evaluate::{batch_tensor, host};

/// Images per forward pass of [`Classifier::classify`].
pub const BATCH: usize = 32;

/// A class given to an image.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The class's index among the run's classes.
    pub class: usize,
    /// Its name.
    pub label: String,
    /// Its probability (softmax of the summed logits: a score, not calibrated).
    pub probability: f32,
    /// Every class's probability, in the order of the run's classes.
    pub probabilities: Vec<f32>,
}

/// What classifying needs from a run: its model, transform, attention crop and classes.
pub struct Classifier<'a, B: Backend> {
    /// The model (no autodiff).
    pub model: &'a dyn Predict<B>,
    /// The run's evaluation transform.
    pub transform: &'a TransformConfig,
    /// The run's attention crop.
    pub crop: &'a AttentionCrop,
    /// The run's classes.
    pub classes: &'a [String],
    /// Where the model is.
    pub device: &'a B::Device,
}

impl<B: Backend> Classifier<'_, B> {
    /// The most probable class of each image, [`BATCH`] images a forward pass (a crowd of
    /// 1600 faces costs what 32 do).
    ///
    /// # Errors
    /// [`TrainError::TensorData`] when the model's output cannot be read or has another
    /// number of classes than the run.
    pub fn classify(&self, images: &[DynamicImage]) -> Result<Vec<Prediction>> {
        let mut predictions = Vec::with_capacity(images.len());
        for batch in images.chunks(BATCH) {
            predictions.extend(self.classify_batch(batch)?);
        }
        Ok(predictions)
    }

    fn classify_batch(&self, images: &[DynamicImage]) -> Result<Vec<Prediction>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.transform.crop as usize;
        let mut values = Vec::with_capacity(images.len() * 3 * size * size);
        for image in images {
            values.extend(self.transform.eval(image).values);
        }
        let batch = ImageBatch {
            images: values,
            size,
            targets: vec![0; images.len()],
            indices: (0..images.len()).collect(),
        };
        let logits = self
            .model
            .predict(batch_tensor::<B>(batch, self.device), self.crop);
        let probabilities = host(logits.probabilities(), "probabilities")?;
        let n = self.classes.len();
        if probabilities.len() != n * images.len() {
            return Err(TrainError::TensorData {
                what: "probabilities",
                message: format!(
                    "{} values for {} images of {n} classes",
                    probabilities.len(),
                    images.len()
                ),
            });
        }
        probabilities
            .chunks(n)
            .enumerate()
            .map(|(i, row)| {
                let (class, probability) =
                    best_class(row).ok_or_else(|| TrainError::NanLogits {
                        what: "probabilities",
                        image: format!("face {} of the batch", i + 1),
                    })?;
                Ok(Prediction {
                    class,
                    label: self.classes[class].clone(),
                    probability,
                    probabilities: row.to_vec(),
                })
            })
            .collect()
    }
}

/// The most probable class and its probability ([`argmax`]: the first of equal ones);
/// `None` for an empty vector or one holding NaN.
pub fn best_class(probabilities: &[f32]) -> Option<(usize, f32)> {
    argmax(probabilities).map(|class| (class, probabilities[class]))
}

#[cfg(test)]
mod tests {
    use super::best_class;

    #[test]
    fn the_best_class_of_no_probabilities_is_none_not_the_first_class() {
        assert_eq!(best_class(&[]), None);
        assert_eq!(best_class(&[f32::NAN]), None);
        assert_eq!(best_class(&[0.2, 0.7, 0.1]), Some((1, 0.7)));
        assert_eq!(
            best_class(&[f32::NAN, 0.1, 0.3]),
            None,
            "a NaN is a fault, not skipped"
        );
        assert_eq!(
            best_class(&[0.4, 0.4, 0.2]),
            Some((0, 0.4)),
            "ties go to the first"
        );
    }
}
