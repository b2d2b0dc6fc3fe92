//! Parallel, reproducible decoding and augmentation of a split into batches.

use std::panic::AssertUnwindSafe;

use image::DynamicImage;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::bad_image::BadImage;
use crate::sample::{FaceSample, class_index};
use crate::transform::{ImageTensor, TransformConfig};

/// What to do with an image that cannot be decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BadImagePolicy {
    /// Leave it out of its batch and count it (default).
    #[default]
    Skip,
    /// Stop with an error naming the file.
    Error,
}

/// Settings of a [`BatchLoader`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoaderConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Decoding threads.
    pub workers: usize,
    /// Drop the incomplete last batch (training) or keep it (evaluation).
    pub drop_last: bool,
    /// What to do with undecodable images.
    pub bad_images: BadImagePolicy,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        Self {
            batch_size: 16,
            workers: 2,
            drop_last: true,
            bad_images: BadImagePolicy::Skip,
        }
    }
}

/// A batch of transformed images with their labels and the samples they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageBatch {
    /// `[batch, 3, size, size]` values, sample-major.
    pub images: Vec<f32>,
    /// Side length of the images.
    pub size: usize,
    /// Index of each image's target in the dataset's class list.
    pub targets: Vec<usize>,
    /// Index of each image in the split (to recover path and sensitive attributes).
    pub indices: Vec<usize>,
}

impl ImageBatch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

/// A step between decoding an image and transforming it, for images that need more than
/// the transform: raw photos whose face must first be found and aligned (`fineface-train`'s
/// `FaceFinder`). Runs on the loader's worker threads.
pub trait PrepareImage: Sync {
    /// The image the transform receives, or why this image cannot be used (it is then
    /// skipped and listed with that reason, like an undecodable one).
    ///
    /// # Errors
    /// The reason, in words, without the path (the loader adds it).
    fn prepare(&self, image: DynamicImage) -> Result<DynamicImage, String>;
}

/// Decodes and transforms a split into batches with `workers` threads: the loader training
/// uses.
///
/// Reproducible whatever the number of workers: the order of an epoch is a seeded shuffle
/// of `(seed, epoch)`, and each image's augmentation draws from its own generator seeded by
/// `(seed, epoch, index)`. A run therefore gives the same batches, augmentations and
/// losses on a laptop with 2 threads and a server with 32, and a resumed run continues
/// exactly where it stopped. Burn's `DataLoader` hands batches to its workers as they free
/// up, so there the order in which images meet a random generator depends on the thread
/// count.
#[derive(Clone)]
pub struct BatchLoader<'a> {
    samples: &'a [FaceSample],
    classes: &'a [String],
    transform: TransformConfig,
    config: LoaderConfig,
    train: bool,
    seed: u64,
    prepare: Option<&'a dyn PrepareImage>,
}

impl std::fmt::Debug for BatchLoader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchLoader")
            .field("samples", &self.samples.len())
            .field("transform", &self.transform)
            .field("config", &self.config)
            .field("train", &self.train)
            .field("seed", &self.seed)
            .field("prepare", &self.prepare.is_some())
            .finish()
    }
}

impl<'a> BatchLoader<'a> {
    /// A loader over `samples`; `train` selects the random training transform and a shuffled
    /// order, otherwise the evaluation transform in file order.
    pub fn new(
        samples: &'a [FaceSample],
        classes: &'a [String],
        transform: TransformConfig,
        config: LoaderConfig,
        train: bool,
        seed: u64,
    ) -> Self {
        Self {
            samples,
            classes,
            transform,
            config,
            train,
            seed,
            prepare: None,
        }
    }

    /// The loader with `prepare` run on each decoded image before its transform.
    pub fn with_prepare(mut self, prepare: &'a dyn PrepareImage) -> Self {
        self.prepare = Some(prepare);
        self
    }

    /// The sample order of an epoch.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        if self.train {
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(
                self.seed,
                epoch,
                u64::MAX,
            )));
        }
        order
    }

    /// Number of batches per epoch.
    pub fn n_batches(&self) -> usize {
        let (n, b) = (self.samples.len(), self.config.batch_size.max(1));
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Batch `k` of `epoch`, and the images of it that could not be decoded.
    ///
    /// An image whose decoder or transform panics counts as undecodable (its message says
    /// so): skipped and listed, or the error, as the [`BadImagePolicy`] says.
    ///
    /// # Errors
    /// The first undecodable image under [`BadImagePolicy::Error`]; under any policy, a
    /// sample whose target is not one of the classes (the message names its file, the label
    /// and the classes).
    pub fn batch(&self, epoch: u64, k: usize) -> Result<(ImageBatch, Vec<BadImage>), BadImage> {
        let b = self.config.batch_size.max(1);
        let order = self.order(epoch);
        let end = ((k + 1) * b).min(order.len());
        let indices = &order[(k * b).min(end)..end];
        // Labels first: a wrong class list is a configuration error, found before decoding.
        let targets = indices
            .iter()
            .map(|&i| {
                let sample = &self.samples[i];
                class_index(self.classes, sample).map_err(|error| BadImage {
                    path: sample.path.clone(),
                    message: error.to_string(),
                })
            })
            .collect::<Result<Vec<usize>, BadImage>>()?;
        let workers = self.config.workers.max(1).min(indices.len().max(1));
        let chunk = indices.len().div_ceil(workers).max(1);
        let decoded: Vec<(usize, Result<ImageTensor, BadImage>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = indices
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|&i| (i, self.load(epoch, i)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // `load` turns a panic into that image's error; a thread that panics anyway has
            // lost its images, so its panic goes on to the caller.
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let size = self.transform.crop as usize;
        let mut batch = ImageBatch {
            images: Vec::with_capacity(indices.len() * 3 * size * size),
            size,
            targets: Vec::with_capacity(indices.len()),
            indices: Vec::with_capacity(indices.len()),
        };
        let mut bad = Vec::new();
        for ((index, result), target) in decoded.into_iter().zip(targets) {
            match result {
                Ok(image) => {
                    batch.images.extend_from_slice(&image.values);
                    batch.targets.push(target);
                    batch.indices.push(index);
                }
                Err(error) if self.config.bad_images == BadImagePolicy::Skip => {
                    tracing::warn!(path = %error.path.display(), "skipping image: {}", error.message);
                    bad.push(error);
                }
                Err(error) => return Err(error),
            }
        }
        Ok((batch, bad))
    }

    fn load(&self, epoch: u64, index: usize) -> Result<ImageTensor, BadImage> {
        let sample = &self.samples[index];
        let mut rng = self
            .train
            .then(|| ChaCha8Rng::seed_from_u64(mix(self.seed, epoch, index as u64)));
        decode(sample, &self.transform, rng.as_mut(), self.prepare)
    }
}

/// Decodes `sample` and applies the training transform with `rng`, or the evaluation
/// transform without, after `prepare` where one is given. A panic while decoding or transforming becomes this image's error,
/// so the image is skipped and listed or stops the run like any undecodable one, instead of
/// vanishing with its thread.
pub(crate) fn decode(
    sample: &FaceSample,
    transform: &TransformConfig,
    rng: Option<&mut ChaCha8Rng>,
    prepare: Option<&dyn PrepareImage>,
) -> Result<ImageTensor, BadImage> {
    let bad = |message: String| BadImage {
        path: sample.path.clone(),
        message,
    };
    // Nothing outlives a panic here: the generator is per image and dropped with the result.
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut image =
            crate::image_file::open_image(&sample.path).map_err(|e| bad(e.to_string()))?;
        if let Some(prepare) = prepare {
            image = prepare.prepare(image).map_err(bad)?;
        }
        Ok(match rng {
            Some(rng) => transform.train(&image, rng),
            None => transform.eval(&image),
        })
    }))
    .unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(bad(format!("decoding panicked: {message}")))
    })
}

/// A 64-bit mix of three numbers (SplitMix64 steps), for per-image seeds.
fn mix(seed: u64, epoch: u64, index: u64) -> u64 {
    let mut x = seed
        ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
