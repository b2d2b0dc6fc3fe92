//! FineFACE's prediction (`../shared/docs/FINEFACE.md`, "Inference"): the 8-logit sum of
//! the four heads on the image and on its combined attention crop, and the baseline's
//! logits behind the same interface, so that evaluation, prediction and the crop picture
//! take any model.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::crop::AttentionCrop;
use super::model::FineFace;
use crate::FineFaceBackend;
use crate::backbone::Backbone;
use crate::baseline::Baseline;

/// Evaluation-time predictions of a model (no autodiff graph).
pub trait Predict<B: Backend> {
    /// The logits of the final prediction and of the reported alternatives.
    fn predict(&self, images: Tensor<B, 4>, crop: &AttentionCrop) -> HeadLogits<B>;

    /// The attention maps and crops of the images, when the model makes them.
    fn attention(&self, _images: Tensor<B, 4>, _crop: &AttentionCrop) -> Option<Attention<B>> {
        None
    }
}

/// What FineFACE's experts attend to on a batch of images.
#[derive(Debug, Clone)]
pub struct Attention<B: Backend> {
    /// Expert 1, 2 and 3's attention maps ([`attention_map`](crate::attention_map)), `[batch, h / s, w / s]` for
    /// strides 8, 16 and 32.
    pub maps: [Tensor<B, 3>; 3],
    /// The crops of expert 1, 2 and 3's maps and the combined crop, `[batch, 3, h, w]`.
    pub crops: [Tensor<B, 4>; 4],
}

/// The logits evaluation reads.
#[derive(Debug, Clone)]
pub struct HeadLogits<B: Backend> {
    /// The final prediction: FineFACE's 8-logit sum (4 heads on the image + 4 on its
    /// combined crop); the baseline's logits.
    pub combined: Tensor<B, 2>,
    /// The concat head on the image alone (the baseline's logits).
    pub concat: Tensor<B, 2>,
    /// The sum of the 4 heads on the image (the baseline's logits).
    pub heads_on_image: Tensor<B, 2>,
    /// How many logit vectors `combined` sums (8 for FineFACE, 1 for the baseline).
    pub terms: usize,
}

impl<B: Backend> HeadLogits<B> {
    /// Class probabilities of the final prediction: the softmax of the *mean* of the summed
    /// logits (a sum of 8 logit vectors would saturate the softmax). A score for ranking
    /// and thresholds, not a calibrated probability.
    ///
    /// # Shapes
    /// - output: `[batch, n_classes]`
    pub fn probabilities(&self) -> Tensor<B, 2> {
        burn::tensor::activation::softmax(self.combined.clone().div_scalar(self.terms as f64), 1)
    }
}

/// The predicted class of one image's logits or probabilities, read on the host: the index of
/// the largest value, the first of equal ones (as `torch.argmax`). `None` for an empty row or
/// one holding NaN: a NaN logit is a fault to report, never read as class 0.
///
/// ```
/// use fineface_model::argmax;
/// assert_eq!(argmax(&[0.2, 0.7, 0.7]), Some(1));
/// assert_eq!(argmax(&[f32::NAN, 0.1]), None);
/// ```
pub fn argmax(row: &[f32]) -> Option<usize> {
    if row.is_empty() || row.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut best = 0;
    for (i, &value) in row.iter().enumerate() {
        if value > row[best] {
            best = i;
        }
    }
    Some(best)
}

impl<B: FineFaceBackend, M: Backbone<B>> Predict<B> for FineFace<B, M> {
    fn predict(&self, images: Tensor<B, 4>, crop: &AttentionCrop) -> HeadLogits<B> {
        let on_image = self.forward(images.clone());
        let maps = self.attention_maps(&on_image);
        let combined_crop = crop.crop_from_maps(images, [maps.expert1, maps.expert2, maps.expert3]);
        let on_crop = self.forward(combined_crop);
        let heads_on_image = on_image.logit_sum();
        HeadLogits {
            combined: heads_on_image.clone() + on_crop.logit_sum(),
            concat: on_image.concat,
            heads_on_image,
            terms: 8,
        }
    }

    fn attention(&self, images: Tensor<B, 4>, crop: &AttentionCrop) -> Option<Attention<B>> {
        let maps = self.attention_maps(&self.forward(images.clone()));
        let maps = [maps.expert1, maps.expert2, maps.expert3];
        let crops = crop.crops_all(images, maps.clone());
        Some(Attention { maps, crops })
    }
}

impl<B: Backend, M: Backbone<B>> Predict<B> for Baseline<B, M> {
    fn predict(&self, images: Tensor<B, 4>, _crop: &AttentionCrop) -> HeadLogits<B> {
        let logits = self.forward(images);
        HeadLogits {
            combined: logits.clone(),
            concat: logits.clone(),
            heads_on_image: logits,
            terms: 1,
        }
    }
}
