//! The image pipeline: decode, resize, crop, flip, normalise, as torchvision's
//! `Resize`/`RandomCrop`/`RandomHorizontalFlip`/`CenterCrop`/`Normalize` on PIL images.

use fast_image_resize as fr;
use image::imageops::FilterType;
use image::{DynamicImage, RgbImage};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Sizes and normalisation of the pipeline (defaults: the reference's 448-px setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformConfig {
    /// Images are first resized to `resize x resize` (bilinear, antialiased when shrinking).
    pub resize: u32,
    /// Then cropped to `crop x crop` (random in training, centred in evaluation).
    pub crop: u32,
    /// Zero padding around the resized image before the random crop.
    pub pad: u32,
    /// Random horizontal flip in training.
    pub flip: bool,
    /// Per-channel mean subtracted after scaling to [0, 1]; `None`: the model's own, which
    /// an experiment takes from its backbone (ImageNet's, [`IMAGENET_MEAN`], for every
    /// torchvision network), and ImageNet's where nothing resolves it.
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation divided by; `None` as for `mean`
    /// ([`IMAGENET_STD`]).
    pub std: Option<[f32; 3]>,
}

/// ImageNet's per-channel mean of RGB in [0, 1] (torchvision's `Normalize` for its
/// ImageNet-pretrained models).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation (see [`IMAGENET_MEAN`]).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

impl Default for TransformConfig {
    fn default() -> Self {
        Self {
            resize: 460,
            crop: 448,
            pad: 8,
            flip: true,
            mean: None,
            std: None,
        }
    }
}

/// A decoded, transformed image: `[3, crop, crop]` in channel-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageTensor {
    /// Values, `3 * size * size`.
    pub values: Vec<f32>,
    /// Side length.
    pub size: u32,
}

impl TransformConfig {
    /// The mean subtracted per channel: `mean`, or ImageNet's where it is `None`.
    pub fn channel_mean(&self) -> [f32; 3] {
        self.mean.unwrap_or(IMAGENET_MEAN)
    }

    /// The standard deviation divided by per channel: `std`, or ImageNet's where `None`.
    pub fn channel_std(&self) -> [f32; 3] {
        self.std.unwrap_or(IMAGENET_STD)
    }

    /// Resize to `resize x resize` with a bilinear (triangle) convolution whose support grows
    /// with the shrink factor, as PIL's `BILINEAR` does (torchvision's `antialias=True`), in
    /// 8-bit fixed point like PIL (fast_image_resize, SIMD).
    pub fn resize(&self, image: &RgbImage) -> RgbImage {
        let (w, h) = (self.resize, self.resize);
        let resized = fr::images::ImageRef::new(
            image.width(),
            image.height(),
            image.as_raw(),
            fr::PixelType::U8x3,
        )
        .ok()
        .and_then(|src| {
            let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x3);
            let options = fr::ResizeOptions::new()
                .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
            fr::Resizer::new().resize(&src, &mut dst, &options).ok()?;
            RgbImage::from_raw(w, h, dst.into_vec())
        });
        // A valid RGB buffer always resizes; fall back to the image crate's filter otherwise.
        resized.unwrap_or_else(|| image::imageops::resize(image, w, h, FilterType::Triangle))
    }

    /// The training transform: resize, pad with zeros, random crop, random flip, normalise.
    pub fn train<R: Rng + ?Sized>(&self, image: &DynamicImage, rng: &mut R) -> ImageTensor {
        let resized = self.resize(&image.to_rgb8());
        let padded = self.resize + 2 * self.pad;
        let max_offset = padded.saturating_sub(self.crop);
        let top = rng.random_range(0..=max_offset);
        let left = rng.random_range(0..=max_offset);
        let flip = self.flip && rng.random_bool(0.5);
        self.window(
            &resized,
            top as i64 - self.pad as i64,
            left as i64 - self.pad as i64,
            flip,
        )
    }

    /// The evaluation transform: resize, centre crop, normalise.
    pub fn eval(&self, image: &DynamicImage) -> ImageTensor {
        let resized = self.resize(&image.to_rgb8());
        // torchvision's CenterCrop: offset round((size - crop) / 2).
        let offset = ((self.resize as f64 - self.crop as f64) / 2.0).round() as i64;
        self.window(&resized, offset, offset, false)
    }

    /// The `crop x crop` window at (`top`, `left`) of `image` (zeros outside), optionally
    /// mirrored, scaled to [0, 1] and normalised.
    fn window(&self, image: &RgbImage, top: i64, left: i64, flip: bool) -> ImageTensor {
        let n = self.crop as usize;
        let (w, h) = (image.width() as i64, image.height() as i64);
        // One lookup per byte instead of a division per value; zero padding happens before
        // normalisation, as in torchvision, so padded pixels take the value of 0.
        let (mean, std) = (self.channel_mean(), self.channel_std());
        let lut: [[f32; 256]; 3] =
            std::array::from_fn(|c| std::array::from_fn(|v| (v as f32 / 255.0 - mean[c]) / std[c]));
        let mut values = vec![0.0f32; 3 * n * n];
        for (c, plane) in values.chunks_exact_mut(n * n).enumerate() {
            plane.fill(lut[c][0]);
        }
        let raw = image.as_raw();
        // Columns of the window that fall inside the image.
        let x_from = (-left).clamp(0, n as i64) as usize;
        let x_to = (w - left).clamp(0, n as i64) as usize;
        for y in 0..n {
            let sy = top + y as i64;
            if !(0..h).contains(&sy) {
                continue;
            }
            let row = &raw[(sy * w * 3) as usize..((sy + 1) * w * 3) as usize];
            for x in x_from..x_to {
                let sx = (left + x as i64) as usize;
                let dx = if flip { n - 1 - x } else { x };
                let px = &row[sx * 3..sx * 3 + 3];
                for c in 0..3 {
                    values[(c * n + y) * n + dx] = lut[c][px[c] as usize];
                }
            }
        }
        ImageTensor {
            values,
            size: self.crop,
        }
    }
}
