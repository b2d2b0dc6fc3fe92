//! Burn's data API: a [`Batcher`] that decodes and transforms [`FaceSample`]s into batch
//! tensors (behind the `burn` feature).

use std::sync::Mutex;

use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bad_image::BadImage;
use crate::loader::decode;
use crate::sample::{FaceSample, class_index};
use crate::transform::TransformConfig;

/// A batch of images and their class indices, for Burn's `DataLoader`.
#[derive(Debug, Clone)]
pub struct FaceBatch<B: Backend> {
    /// Transformed images, `[n, 3, size, size]`.
    pub images: Tensor<B, 4>,
    /// Each image's position in the class list, `[n]`.
    pub targets: Tensor<B, 1, Int>,
    /// The samples of the images, in batch order (paths and sensitive attributes).
    pub samples: Vec<FaceSample>,
    /// Items left out of the batch, with the reason: undecodable images (a panicking decoder
    /// included) and targets that are not one of the classes. `n` is the number of items
    /// given minus these.
    pub skipped: Vec<BadImage>,
}

/// Turns [`FaceSample`]s into a [`FaceBatch`]: decode, then the training transform (random
/// crop and flip) or the evaluation transform (centre crop) of [`TransformConfig`].
///
/// Use it with [`SplitDataset`](crate::SplitDataset) and Burn's `DataLoaderBuilder`, which
/// spreads batches over `num_workers` threads. Training augmentation draws from one seeded
/// generator in the order the workers ask for images, so it is reproducible only with a
/// single worker; [`BatchLoader`](crate::BatchLoader) is the loader whose order and
/// augmentation do not depend on the number of threads.
#[derive(Debug)]
pub struct FaceBatcher {
    classes: Vec<String>,
    transform: TransformConfig,
    augment: Option<Mutex<ChaCha8Rng>>,
}

impl FaceBatcher {
    /// A batcher with the evaluation transform; `classes` are the dataset's target labels
    /// ([`SplitDataset::classes`](crate::SplitDataset::classes)).
    pub fn eval(classes: Vec<String>, transform: TransformConfig) -> Self {
        Self {
            classes,
            transform,
            augment: None,
        }
    }

    /// A batcher with the training transform, its random draws seeded by `seed`.
    pub fn train(classes: Vec<String>, transform: TransformConfig, seed: u64) -> Self {
        Self {
            classes,
            transform,
            augment: Some(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
        }
    }

    /// A seed for one image's augmentation, or `None` for the evaluation transform.
    fn image_seed(&self) -> Option<u64> {
        self.augment.as_ref().map(|rng| {
            // A poisoned lock only means another batch panicked; the generator is still valid.
            let mut rng = rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            rng.random()
        })
    }
}

impl<B: Backend> Batcher<B, FaceSample, FaceBatch<B>> for FaceBatcher {
    /// # Shapes
    /// - `items`: `n` samples
    /// - output: `images` `[n - skipped, 3, crop, crop]`, `targets` `[n - skipped]`
    fn batch(&self, items: Vec<FaceSample>, device: &B::Device) -> FaceBatch<B> {
        let size = self.transform.crop as usize;
        let mut values = Vec::with_capacity(items.len() * 3 * size * size);
        let mut targets = Vec::with_capacity(items.len());
        let mut samples = Vec::with_capacity(items.len());
        let mut skipped = Vec::new();
        for sample in items {
            let seed = self.image_seed();
            let image = class_index(&self.classes, &sample)
                .map_err(|error| BadImage {
                    path: sample.path.clone(),
                    message: error.to_string(),
                })
                .and_then(|class| {
                    let mut rng = seed.map(ChaCha8Rng::seed_from_u64);
                    Ok((class, decode(&sample, &self.transform, rng.as_mut(), None)?))
                });
            match image {
                Ok((class, image)) => {
                    values.extend_from_slice(&image.values);
                    targets.push(class as i64);
                    samples.push(sample);
                }
                Err(bad) => {
                    tracing::warn!(path = %bad.path.display(), "left out of the batch: {}", bad.message);
                    skipped.push(bad);
                }
            }
        }
        let n = samples.len();
        FaceBatch {
            images: Tensor::from_data(TensorData::new(values, [n, 3, size, size]), device),
            targets: Tensor::from_data(TensorData::new(targets, [n]), device),
            samples,
            skipped,
        }
    }
}
