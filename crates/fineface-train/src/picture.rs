//! The picture of attention crops in a run's report: one row per image, columns original,
//! expert 1, 2 and 3's crops and the combined crop.

use std::path::Path;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_data::{BadImagePolicy, BatchLoader, FaceSample, LoaderConfig, TransformConfig};
use fineface_model::AttentionCrop;
use image::{Rgb, RgbImage};

use crate::error::{Result, TrainError};
use crate::evaluate::batch_tensor;
use crate::iteration::Predict;

/// Gap between tiles, pixels.
const GAP: u32 = 4;

/// Writes `path` (PNG) for `samples`; does nothing for a model without attention crops.
pub fn write_crop_grid<B: Backend, P: Predict<B> + ?Sized>(
    model: &P,
    samples: &[FaceSample],
    classes: &[String],
    transform: &TransformConfig,
    crop: &AttentionCrop,
    path: &Path,
    device: &B::Device,
) -> Result<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let loader = BatchLoader::new(
        samples,
        classes,
        transform.clone(),
        LoaderConfig {
            batch_size: samples.len(),
            workers: 1,
            drop_last: false,
            bad_images: BadImagePolicy::Skip,
        },
        false,
        0,
    );
    let (batch, _) = loader.batch(0, 0).map_err(|e| TrainError::BadImage {
        path: e.path,
        message: e.message,
    })?;
    let size = batch.size as u32;
    let n = batch.len() as u32;
    let images = batch_tensor::<B>(batch, device);
    let Some(crops) = model.attention_crops(images.clone(), crop) else {
        return Ok(());
    };
    let columns: Vec<Tensor<B, 4>> = std::iter::once(images).chain(crops).collect();
    let mut canvas = RgbImage::from_pixel(
        columns.len() as u32 * (size + GAP) + GAP,
        n * (size + GAP) + GAP,
        Rgb([255, 255, 255]),
    );
    for (c, column) in columns.into_iter().enumerate() {
        let values = column
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default();
        let plane = (size * size) as usize;
        for i in 0..n as usize {
            for y in 0..size {
                for x in 0..size {
                    let at = |ch: usize| {
                        let v = values[(i * 3 + ch) * plane + (y * size + x) as usize];
                        ((v * transform.std[ch] + transform.mean[ch]) * 255.0).clamp(0.0, 255.0)
                            as u8
                    };
                    canvas.put_pixel(
                        GAP + c as u32 * (size + GAP) + x,
                        GAP + i as u32 * (size + GAP) + y,
                        Rgb([at(0), at(1), at(2)]),
                    );
                }
            }
        }
    }
    canvas
        .save(path)
        .map_err(|e| TrainError::io(path, std::io::Error::other(e.to_string())))
}
