//! Area resizing of an image and of regions of it on the host, in parallel: what PyTorch's
//! `interpolate(mode="area")` (an adaptive average pool) computes, which facenet-pytorch uses
//! for the pyramid and for every R-Net and O-Net crop. Through Burn's `adaptive_avg_pool2d`
//! each crop was a slice, a copy and a pool of its own (about 2 ms a crop on Flex: R-Net and
//! O-Net's hundreds of crops took most of a detection); here a stage's crops are one parallel
//! sweep into one buffer. `tests/parity.rs` checks it against Burn's op.

use rayon::prelude::*;

use crate::boxes::PixelRegion;
use crate::error::{DetectError, Result};

/// An RGB image as `f32` planes, `[3, height, width]`, values in [0, 255].
#[derive(Debug, Clone)]
pub struct Planes {
    width: usize,
    height: usize,
    values: Vec<f32>,
}

impl Planes {
    /// The planes of an RGB image.
    pub fn from_image(image: &image::RgbImage) -> Self {
        let (width, height) = (image.width() as usize, image.height() as usize);
        Self::from_rgb(width, height, image.as_raw()).expect("an RgbImage holds 3 bytes a pixel")
    }

    /// The planes of interleaved RGB bytes (`image::RgbImage`'s layout), `3 * width *
    /// height` of them.
    ///
    /// # Errors
    /// [`DetectError::Config`] when the bytes are not three per pixel.
    pub fn from_rgb(width: usize, height: usize, rgb: &[u8]) -> Result<Self> {
        let plane = width.checked_mul(height);
        if plane.and_then(|p| p.checked_mul(3)) != Some(rgb.len()) {
            return Err(DetectError::Config(format!(
                "{} bytes are not the RGB pixels of a {width} x {height} image",
                rgb.len()
            )));
        }
        let plane = width * height;
        let mut values = vec![0.0; 3 * plane];
        for (i, pixel) in rgb.chunks_exact(3).enumerate() {
            for (c, &v) in pixel.iter().enumerate() {
                values[c * plane + i] = f32::from(v);
            }
        }
        Ok(Self {
            width,
            height,
            values,
        })
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The red, green and blue planes one after the other, rows in order.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The image area-averaged to `[rows, cols]` straight from its bytes: the same values,
    /// to the bit, as [`Planes::from_image`] followed by an area resize of the whole image,
    /// without the `f32` copy of the whole photo (576 MB for 8000 x 6000 px).
    ///
    /// # Panics
    /// If `rows` or `cols` is 0.
    pub fn area_from_image(image: &image::RgbImage, [rows, cols]: [usize; 2]) -> Self {
        assert!(rows > 0 && cols > 0, "an area resize to {rows} x {cols}");
        let (width, height) = (image.width() as usize, image.height() as usize);
        let raw = image.as_raw();
        let window = |i: usize, input: usize, output: usize| {
            (i * input / output, ((i + 1) * input).div_ceil(output))
        };
        let mut values = vec![0.0; 3 * rows * cols];
        values
            .par_chunks_mut(cols)
            .enumerate()
            .for_each(|(i, out)| {
                let (c, oy) = (i / rows, i % rows);
                let (y0, y1) = window(oy, height, rows);
                for (ox, out) in out.iter_mut().enumerate() {
                    let (x0, x1) = window(ox, width, cols);
                    // The same running sum as `resize_row`, so the result is the same.
                    let mut sum = 0.0f32;
                    for y in y0..y1 {
                        let row = &raw[(y * width + x0) * 3..(y * width + x1) * 3];
                        for pixel in row.chunks_exact(3) {
                            sum += f32::from(pixel[c]);
                        }
                    }
                    *out = sum / (y1 - y0) as f32 / (x1 - x0) as f32;
                }
            });
        Self::from_values(cols, rows, values)
    }

    /// Planes of the given size from `[3, height, width]` values made here.
    pub(crate) fn from_values(width: usize, height: usize, values: Vec<f32>) -> Self {
        debug_assert_eq!(values.len(), 3 * width * height);
        Self {
            width,
            height,
            values,
        }
    }

    /// The whole image as a region.
    pub(crate) fn region(&self) -> PixelRegion {
        PixelRegion {
            left: 0,
            top: 0,
            right: self.width,
            bottom: self.height,
        }
    }

    /// Each region averaged to `[rows, cols]` (PyTorch's adaptive average pool: output
    /// pixel `i` averages input `floor(i * in / out)` to `ceil((i + 1) * in / out)`), as
    /// `[regions, 3, rows, cols]` values; in parallel over the regions, or over the rows of
    /// a single one (a level of the pyramid).
    pub(crate) fn area_resize(&self, regions: &[PixelRegion], size: [usize; 2]) -> Vec<f32> {
        let [rows, cols] = size;
        let mut out = vec![0.0; regions.len() * 3 * rows * cols];
        if out.is_empty() {
            return out;
        }
        if let [region] = regions {
            out.par_chunks_mut(cols).enumerate().for_each(|(i, row)| {
                self.resize_row(region, size, i / rows, i % rows, row);
            });
        } else {
            out.par_chunks_mut(3 * rows * cols)
                .zip(regions)
                .for_each(|(out, region)| {
                    for (i, row) in out.chunks_mut(cols).enumerate() {
                        self.resize_row(region, size, i / rows, i % rows, row);
                    }
                });
        }
        out
    }

    /// Output row `oy` of channel `c` of a region averaged to `[rows, cols]`.
    fn resize_row(
        &self,
        r: &PixelRegion,
        [rows, cols]: [usize; 2],
        c: usize,
        oy: usize,
        out: &mut [f32],
    ) {
        let (h, w) = (r.bottom - r.top, r.right - r.left);
        let window = |i: usize, input: usize, output: usize| {
            (i * input / output, ((i + 1) * input).div_ceil(output))
        };
        let plane = self.width * self.height;
        let values = &self.values[c * plane..(c + 1) * plane];
        let (y0, y1) = window(oy, h, rows);
        for (ox, out) in out.iter_mut().enumerate() {
            let (x0, x1) = window(ox, w, cols);
            // One running sum, divided by the window's height and then its width: PyTorch's
            // `adaptive_avg_pool2d` CPU kernel, so that a level matches it to the last bit.
            let mut sum = 0.0f32;
            for y in r.top + y0..r.top + y1 {
                let row = &values[y * self.width + r.left..y * self.width + r.right];
                for &v in &row[x0..x1] {
                    sum += v;
                }
            }
            *out = sum / (y1 - y0) as f32 / (x1 - x0) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::module::adaptive_avg_pool2d;
    use burn::tensor::{Tensor, TensorData};

    use super::*;

    /// Burn's `adaptive_avg_pool2d` of a slice of the planes.
    fn burns(planes: &Planes, r: &PixelRegion, size: [usize; 2]) -> Vec<f32> {
        let data = TensorData::new(planes.values.clone(), [1, 3, planes.height, planes.width]);
        let image = Tensor::<Flex, 4>::from_data(data, &Default::default());
        let crop = image.slice([0..1, 0..3, r.top..r.bottom, r.left..r.right]);
        adaptive_avg_pool2d(crop, size)
            .into_data()
            .to_vec()
            .unwrap()
    }

    #[test]
    fn shrinking_from_the_bytes_equals_shrinking_the_planes() {
        for (width, height, size) in [(53, 37, [15, 22]), (8, 5, [8, 5]), (97, 13, [1, 1])] {
            let rgb: Vec<u8> = (0..width * height * 3)
                .map(|i| (i * 7919 % 251) as u8)
                .collect();
            let image = image::RgbImage::from_raw(width as u32, height as u32, rgb).unwrap();
            let planes = Planes::from_image(&image);
            let direct = Planes::area_from_image(&image, size);
            assert_eq!(direct.values, planes.area_resize(&[planes.region()], size));
            assert_eq!((direct.height, direct.width), (size[0], size[1]));
        }
    }

    #[test]
    fn area_resizing_matches_burns_adaptive_average_pool() {
        let (width, height) = (53, 37);
        let rgb: Vec<u8> = (0..width * height * 3)
            .map(|i| (i * 7919 % 251) as u8)
            .collect();
        let planes = Planes::from_rgb(width, height, &rgb).unwrap();
        let region = |left, top, right, bottom| PixelRegion {
            left,
            top,
            right,
            bottom,
        };
        let cases = [
            (vec![planes.region()], [15, 22]),
            (vec![planes.region()], [37, 53]),
            (
                vec![
                    region(3, 4, 13, 11),
                    region(0, 0, 53, 37),
                    region(20, 30, 21, 31),
                ],
                [24, 24],
            ),
            (vec![region(40, 2, 53, 37)], [48, 48]),
        ];
        for (regions, size) in cases {
            let ours = planes.area_resize(&regions, size);
            let per_region = 3 * size[0] * size[1];
            for (i, r) in regions.iter().enumerate() {
                let theirs = burns(&planes, r, size);
                let ours = &ours[i * per_region..(i + 1) * per_region];
                for (a, b) in ours.iter().zip(&theirs) {
                    assert!((a - b).abs() <= 1e-4, "{r:?} to {size:?}: {a} against {b}");
                }
            }
        }
    }
}
