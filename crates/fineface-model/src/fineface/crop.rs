//! Attention crops: from an expert's map to a zoomed crop of the image, for a whole batch at
//! once on the device (FINEFACE.md, "Attention crop").

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{
    GridSampleOptions, GridSamplePaddingMode, InterpolateMode, InterpolateOptions,
};
use burn::tensor::{Int, Tensor};

/// Added to `max - min` in the min-max normalisation, as in the reference.
const NORM_EPS: f64 = 1e-6;

/// Settings of the attention crop.
#[derive(Config, Debug)]
pub struct AttentionCropConfig {
    /// Pixels of the normalised map at or above this value form the region.
    #[config(default = 0.5)]
    pub threshold: f64,
    /// The region's box is widened by this share of the image size on each side.
    #[config(default = 0.1)]
    pub padding: f64,
}

/// Crop boxes of a batch, in pixels of the image: rows `top..bottom`, columns
/// `left..right` (end exclusive), each `[batch]`.
#[derive(Debug, Clone)]
pub struct CropBoxes<B: Backend> {
    /// First row.
    pub top: Tensor<B, 1, Int>,
    /// One past the last row.
    pub bottom: Tensor<B, 1, Int>,
    /// First column.
    pub left: Tensor<B, 1, Int>,
    /// One past the last column.
    pub right: Tensor<B, 1, Int>,
}

impl<B: Backend> CropBoxes<B> {
    /// `[top, bottom, left, right]` per sample, on the host.
    pub fn to_vec(&self) -> Vec<[i64; 4]> {
        let get = |t: &Tensor<B, 1, Int>| -> Vec<i64> {
            t.clone()
                .into_data()
                .convert::<i64>()
                .to_vec()
                .unwrap_or_default()
        };
        let (t, b, l, r) = (
            get(&self.top),
            get(&self.bottom),
            get(&self.left),
            get(&self.right),
        );
        (0..t.len()).map(|i| [t[i], b[i], l[i], r[i]]).collect()
    }
}

/// Turns attention maps into zoomed crops.
#[derive(Debug, Clone)]
pub struct AttentionCrop {
    threshold: f64,
    padding: f64,
}

impl AttentionCropConfig {
    /// The cropper.
    pub fn init(&self) -> AttentionCrop {
        AttentionCrop {
            threshold: self.threshold,
            padding: self.padding,
        }
    }
}

impl AttentionCrop {
    /// Upsamples maps to the image size (bilinear, corners aligned) and min-max normalises
    /// each: `(a - min) / (max - min + 1e-6)`.
    ///
    /// # Shapes
    /// - `maps`: `[batch, h, w]`
    /// - output: `[batch, height, width]`
    pub fn normalised<B: Backend>(maps: Tensor<B, 3>, size: [usize; 2]) -> Tensor<B, 3> {
        let [b, h, w] = maps.dims();
        let options = InterpolateOptions::new(InterpolateMode::Bilinear).with_align_corners(true);
        let up =
            interpolate(maps.reshape([b, 1, h, w]), size, options).reshape([b, size[0], size[1]]);
        min_max(up)
    }

    /// The combined map of three experts: each upsampled and normalised, summed, and the
    /// sum normalised again.
    pub fn combined<B: Backend>(maps: [Tensor<B, 3>; 3], size: [usize; 2]) -> Tensor<B, 3> {
        let [a, b, c] = maps.map(|m| Self::normalised(m, size));
        min_max(a + b + c)
    }

    /// The boxes of normalised maps: bounding box of `map >= threshold`, widened by
    /// `padding * size` on each side (truncated to whole pixels) and clamped to the image.
    /// A map without any pixel over the threshold (a constant map) keeps the whole image; a
    /// box is at least one pixel high and wide.
    ///
    /// # Shapes
    /// - `normalised`: `[batch, height, width]`
    pub fn boxes<B: Backend>(&self, normalised: Tensor<B, 3>) -> CropBoxes<B> {
        let [_, height, width] = normalised.dims();
        let mask = normalised.greater_equal_elem(self.threshold).float(); // [b, h, w]
        let rows = mask.clone().max_dim(2).squeeze_dim::<2>(2); // [b, h]: any pixel in the row
        let cols = mask.max_dim(1).squeeze_dim::<2>(1); // [b, w]
        let (top, bottom) = self.span(rows, height);
        let (left, right) = self.span(cols, width);
        CropBoxes {
            top,
            bottom,
            left,
            right,
        }
    }

    /// `(start, end)` of the marked positions of each row of `marks` (`[b, n]`, 0/1), widened.
    fn span<B: Backend>(
        &self,
        marks: Tensor<B, 2>,
        n: usize,
    ) -> (Tensor<B, 1, Int>, Tensor<B, 1, Int>) {
        let [b, _] = marks.dims();
        let device = marks.device();
        let index = Tensor::<B, 1, Int>::arange(0..n as i64, &device)
            .float()
            .reshape([1, n]);
        // last = max(i * mark); first = n - max((n - i) * mark); none marked -> whole axis.
        let last = (marks.clone() * index.clone()).max_dim(1).reshape([b]);
        let from_end = (marks.clone() * index.neg().add_scalar(n as f64))
            .max_dim(1)
            .reshape([b]);
        let any = marks.max_dim(1).reshape([b]);
        let first = from_end.neg().add_scalar(n as f64);
        let none = any.clone().equal_elem(0.0);
        let first = first.mask_fill(none.clone(), 0.0);
        let last = last.mask_fill(none, (n - 1) as f64);
        let pad = self.padding * n as f64;
        let start = (first - pad).floor().clamp_min(0.0);
        let end = (last + pad).floor().clamp_max(n as f64);
        // At least one pixel, even with zero padding.
        let end = end
            .clone()
            .max_pair(start.clone().add_scalar(1.0))
            .clamp_max(n as f64);
        let start = start.min_pair(end.clone().sub_scalar(1.0));
        (start.int(), end.int())
    }

    /// Crops every image to its box and resizes it back to the image size (bilinear,
    /// corners aligned), in one `grid_sample_2d` over the batch.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, height, width]`
    /// - output: same
    pub fn crop<B: Backend>(&self, images: Tensor<B, 4>, boxes: &CropBoxes<B>) -> Tensor<B, 4> {
        let [b, _, height, width] = images.dims();
        let device = images.device();
        // Output pixel i of a box [s, e) samples source position s + i * (e - 1 - s) / (n - 1):
        // `interpolate(crop, n, align_corners = true)`. In grid_sample's corner-aligned
        // coordinates, position p is 2 p / (n - 1) - 1.
        let axis = |start: &Tensor<B, 1, Int>, end: &Tensor<B, 1, Int>, n: usize| {
            let start = start.clone().float().reshape([b, 1]);
            let span = (end.clone().float().reshape([b, 1]) - start.clone()).sub_scalar(1.0);
            let step = if n > 1 { 1.0 / (n - 1) as f64 } else { 0.0 };
            let i = Tensor::<B, 1, Int>::arange(0..n as i64, &device)
                .float()
                .reshape([1, n]);
            let position = start + span * i.mul_scalar(step); // [b, n]
            if n > 1 {
                position.mul_scalar(2.0 / (n - 1) as f64).sub_scalar(1.0)
            } else {
                position.mul_scalar(0.0)
            }
        };
        let ys = axis(&boxes.top, &boxes.bottom, height)
            .reshape([b, height, 1, 1])
            .repeat_dim(2, width);
        let xs = axis(&boxes.left, &boxes.right, width)
            .reshape([b, 1, width, 1])
            .repeat_dim(1, height);
        let grid = Tensor::cat(vec![xs, ys], 3); // [b, h, w, 2] as (x, y)
        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Border)
            .with_align_corners(true);
        images.grid_sample_2d(grid, options)
    }

    /// Crop of each image from its own expert's map.
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, height, width]`; `map`: `[batch, h, w]`
    pub fn crop_from_map<B: Backend>(
        &self,
        images: Tensor<B, 4>,
        map: Tensor<B, 3>,
    ) -> Tensor<B, 4> {
        let [_, _, height, width] = images.dims();
        let boxes = self.boxes(Self::normalised(map, [height, width]));
        self.crop(images, &boxes)
    }

    /// Crop of each image from the combination of three experts' maps.
    pub fn crop_from_maps<B: Backend>(
        &self,
        images: Tensor<B, 4>,
        maps: [Tensor<B, 3>; 3],
    ) -> Tensor<B, 4> {
        let [_, _, height, width] = images.dims();
        let boxes = self.boxes(Self::combined(maps, [height, width]));
        self.crop(images, &boxes)
    }
}

impl AttentionCrop {
    /// The four crops of a FineFACE iteration: from each of the three maps and from their
    /// combination, each map upsampled and normalised once (what `crop_from_map` three times
    /// and `crop_from_maps` once would compute, with a third of the map work).
    ///
    /// # Shapes
    /// - `images`: `[batch, channels, height, width]`; each map `[batch, h_k, w_k]`
    /// - output: four tensors shaped like `images`: crops 1, 2, 3 and the combined crop
    pub fn crops_all<B: Backend>(
        &self,
        images: Tensor<B, 4>,
        maps: [Tensor<B, 3>; 3],
    ) -> [Tensor<B, 4>; 4] {
        let [_, _, height, width] = images.dims();
        let [a, b, c] = maps.map(|m| Self::normalised(m, [height, width]));
        let combined = min_max(a.clone() + b.clone() + c.clone());
        [a, b, c, combined].map(|n| {
            let boxes = self.boxes(n);
            self.crop(images.clone(), &boxes)
        })
    }
}

/// Per-sample min-max normalisation of `[b, h, w]`.
fn min_max<B: Backend>(maps: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, h, w] = maps.dims();
    let flat = maps.reshape([b, h * w]);
    let min = flat.clone().min_dim(1); // [b, 1]
    let max = flat.clone().max_dim(1);
    let range = (max - min.clone()).add_scalar(NORM_EPS);
    ((flat - min) / range).reshape([b, h, w])
}
