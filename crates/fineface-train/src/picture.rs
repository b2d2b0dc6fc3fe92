//! The picture of attention crops in a run's report (`crops.png`): one row per image and
//! labelled columns: the input, each expert's attention map laid over the input it crops
//! (red where the expert looks), each expert's crop and the combined crop.

use std::path::Path;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use fineface_data::{BadImagePolicy, BatchLoader, FaceSample, LoaderConfig, TransformConfig};
use fineface_model::AttentionCrop;
use image::{Rgb, RgbImage};

use crate::error::{Result, TrainError};
use crate::evaluate::{batch_tensor, host};
use fineface_model::Predict;

/// Gap between tiles, pixels.
const GAP: u32 = 4;
/// The column labels, left to right.
pub const COLUMNS: [&str; 8] = [
    "INPUT", "ATTN 1", "ATTN 2", "ATTN 3", "CROP 1", "CROP 2", "CROP 3", "COMBINED",
];
/// Opacity of the attention map at its maximum.
const OVERLAY: f32 = 0.6;

/// Writes `path` (PNG) for `samples`; does nothing for a model without attention (the
/// baseline).
///
/// # Errors
/// An image that cannot be decoded, a tensor that cannot be read back, or the PNG that
/// cannot be written.
pub(crate) fn write_crop_grid<B: Backend, P: Predict<B> + ?Sized>(
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
    let size = batch.size;
    let n = batch.len();
    if n == 0 {
        return Ok(());
    }
    let images = batch_tensor::<B>(batch, device);
    let Some(attention) = model.attention(images.clone(), crop) else {
        return Ok(());
    };
    let input = Tiles::read(images, size, transform)?;
    let crops = attention
        .crops
        .into_iter()
        .map(|c| Tiles::read(c, size, transform))
        .collect::<Result<Vec<_>>>()?;
    let maps = attention
        .maps
        .into_iter()
        .map(|m| {
            let [_, h, w] = m.dims();
            Ok(HeatMaps {
                values: host(m, "attention map")?,
                height: h,
                width: w,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    let grid = Grid { input, maps, crops };
    let canvas = grid.draw(size, n);
    canvas
        .save(path)
        .map_err(|e| TrainError::io(path, std::io::Error::other(e.to_string())))
}

/// The grid's columns read back to the host: the inputs, the three attention maps and the
/// three crops (the combined crop is the last of `crops`).
struct Grid<'a> {
    input: Tiles<'a>,
    maps: Vec<HeatMaps>,
    crops: Vec<Tiles<'a>>,
}

impl Grid<'_> {
    /// The picture: a labelled header, then a row per image of `size` px tiles.
    fn draw(&self, size: usize, n: usize) -> RgbImage {
        let (input, maps, crops) = (&self.input, &self.maps, &self.crops);
        let scale = (size as u32 / 40).max(1);
        let header = GLYPH_HEIGHT * scale + 2 * GAP;
        let tile = size as u32 + GAP;
        let mut canvas = RgbImage::from_pixel(
            COLUMNS.len() as u32 * tile + GAP,
            header + n as u32 * tile,
            Rgb([255, 255, 255]),
        );
        for (c, label) in COLUMNS.iter().enumerate() {
            draw_label(
                &mut canvas,
                GAP + c as u32 * tile,
                GAP,
                label,
                scale,
                size as u32,
            );
        }
        for i in 0..n {
            let top = header + i as u32 * tile;
            for y in 0..size {
                for x in 0..size {
                    let pixel = input.pixel(i, y, x);
                    let mut put = |column: usize, rgb: [u8; 3]| {
                        canvas.put_pixel(
                            GAP + column as u32 * tile + x as u32,
                            top + y as u32,
                            Rgb(rgb),
                        );
                    };
                    put(0, pixel);
                    for (k, map) in maps.iter().enumerate() {
                        put(1 + k, map.overlay(i, y, x, size, pixel));
                    }
                    for (k, tiles) in crops.iter().enumerate() {
                        put(4 + k, tiles.pixel(i, y, x));
                    }
                }
            }
        }
        canvas
    }
}

/// Normalised images read back to the host.
struct Tiles<'a> {
    values: Vec<f32>,
    size: usize,
    transform: &'a TransformConfig,
}

impl<'a> Tiles<'a> {
    fn read<B: Backend>(
        images: Tensor<B, 4>,
        size: usize,
        transform: &'a TransformConfig,
    ) -> Result<Self> {
        Ok(Self {
            values: host(images, "images")?,
            size,
            transform,
        })
    }

    /// The 8-bit colour of pixel `(y, x)` of image `i`, normalisation undone.
    fn pixel(&self, i: usize, y: usize, x: usize) -> [u8; 3] {
        let plane = self.size * self.size;
        [0, 1, 2].map(|ch| {
            let v = self.values[(i * 3 + ch) * plane + y * self.size + x];
            ((v * self.transform.channel_std()[ch] + self.transform.channel_mean()[ch]) * 255.0)
                .clamp(0.0, 255.0) as u8
        })
    }
}

/// One expert's attention maps, `[batch, height, width]`.
struct HeatMaps {
    values: Vec<f32>,
    height: usize,
    width: usize,
}

impl HeatMaps {
    /// `pixel` of an image `size` wide with the map laid over it: the map bilinearly
    /// upsampled to the image (half-pixel centres, as the crops upsample it), scaled to
    /// [0, 1] per image, drawn in red with opacity up to [`OVERLAY`].
    fn overlay(&self, i: usize, y: usize, x: usize, size: usize, pixel: [u8; 3]) -> [u8; 3] {
        let plane = self.height * self.width;
        let map = &self.values[i * plane..(i + 1) * plane];
        let (lo, hi) = map
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let sample = |pos: usize, n: usize| {
            let at = ((pos as f32 + 0.5) * n as f32 / size as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let low = at.floor() as usize;
            (low, (low + 1).min(n - 1), at - low as f32)
        };
        let (y0, y1, fy) = sample(y, self.height);
        let (x0, x1, fx) = sample(x, self.width);
        let v = |yy: usize, xx: usize| map[yy * self.width + xx];
        let value = (v(y0, x0) * (1.0 - fx) + v(y0, x1) * fx) * (1.0 - fy)
            + (v(y1, x0) * (1.0 - fx) + v(y1, x1) * fx) * fy;
        let heat = if hi > lo {
            (value - lo) / (hi - lo)
        } else {
            0.0
        };
        let alpha = OVERLAY * heat;
        let red = [255.0, 0.0, 0.0];
        [0, 1, 2].map(|ch| (pixel[ch] as f32 * (1.0 - alpha) + red[ch] * alpha) as u8)
    }
}

/// Rows of a glyph.
const GLYPH_HEIGHT: u32 = 5;

/// 3x5 capitals and digits, one row of three bits each (most significant bit left).
fn glyph(c: char) -> [u8; 5] {
    match c {
        'A' => [0b010, 0b101, 0b111, 0b101, 0b101],
        'B' => [0b110, 0b101, 0b110, 0b101, 0b110],
        'C' => [0b011, 0b100, 0b100, 0b100, 0b011],
        'D' => [0b110, 0b101, 0b101, 0b101, 0b110],
        'E' => [0b111, 0b100, 0b110, 0b100, 0b111],
        'I' => [0b111, 0b010, 0b010, 0b010, 0b111],
        'M' => [0b101, 0b111, 0b111, 0b101, 0b101],
        'N' => [0b110, 0b101, 0b101, 0b101, 0b101],
        'O' => [0b010, 0b101, 0b101, 0b101, 0b010],
        'P' => [0b110, 0b101, 0b110, 0b100, 0b100],
        'R' => [0b110, 0b101, 0b110, 0b101, 0b101],
        'T' => [0b111, 0b010, 0b010, 0b010, 0b010],
        'U' => [0b101, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b110, 0b001, 0b010, 0b100, 0b111],
        '3' => [0b110, 0b001, 0b010, 0b001, 0b110],
        _ => [0; 5],
    }
}

/// Draws `text` in black at `(left, top)`, `scale` pixels per glyph pixel, clipped to
/// `width` pixels.
fn draw_label(canvas: &mut RgbImage, left: u32, top: u32, text: &str, scale: u32, width: u32) {
    for (k, c) in text.chars().enumerate() {
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3u32 {
                if bits & (0b100 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = (k as u32 * 4 + col) * scale + dx;
                        if x < width {
                            canvas.put_pixel(
                                left + x,
                                top + row as u32 * scale + dy,
                                Rgb([0, 0, 0]),
                            );
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_label_has_a_glyph_for_each_character() {
        for label in COLUMNS {
            for c in label.chars().filter(|c| *c != ' ') {
                assert_ne!(glyph(c), [0; 5], "no glyph for {c:?} in {label}");
            }
        }
    }

    #[test]
    fn the_overlay_is_red_where_the_map_peaks_and_untouched_where_it_is_lowest() {
        // A 2x2 map with its peak top-left, over a 4x4 grey image.
        let maps = HeatMaps {
            values: vec![1.0, 0.0, 0.0, 0.0],
            height: 2,
            width: 2,
        };
        let grey = [100, 100, 100];
        let peak = maps.overlay(0, 0, 0, 4, grey);
        assert!(peak[0] > 150 && peak[1] < 50, "{peak:?}");
        assert_eq!(maps.overlay(0, 3, 3, 4, grey), grey);
    }
}
