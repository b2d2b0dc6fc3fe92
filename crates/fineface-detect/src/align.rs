//! Face chips from five landmarks: the similarity transform that best carries a template of
//! the five points onto a face's landmarks, and the image sampled through it. This
//! approximates how FairFace's authors cut their aligned faces (dlib's `get_face_chips(...,
//! padding=0.25)` over dlib's 5-point landmarks, eye corners and the nose base, whose own
//! template differs): MTCNN gives other points, so the template here is dlib's 68-point mean
//! face at MTCNN's points.
//!
//! The template is dlib's mean face (`get_face_chip_details`, `dlib/image_transforms/
//! interpolation.h`: the average positions of the 68-point model's points 17-67 in a unit
//! square), at MTCNN's five points: each eye's centre as the mean of its six points (36-41
//! and 42-47), the nose tip (30) and the mouth corners (48 and 54). A chip of `size` pixels
//! with `padding` holds the template at `(padding + t) / (2 padding + 1) * size`, as dlib
//! places it: padding 0.25 leaves a quarter of the face's width around it on each side.

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{GridSampleOptions, GridSamplePaddingMode, InterpolateMode};
use burn::tensor::{Tensor, TensorData};
use image::RgbImage;

use crate::error::{DetectError, Result};
use crate::face::{Landmarks, Point};

/// dlib's mean face at MTCNN's five points, in the unit square: `[x, y]` of the image-left
/// eye, the image-right eye, the nose tip, the image-left and image-right mouth corners.
pub const TEMPLATE: [[f64; 2]; 5] = {
    // Points 36-41 and 42-47 of dlib's `mean_face_shape_x/_y`.
    const LEFT_EYE: [[f64; 2]; 6] = [
        [0.121737, 0.216423],
        [0.187122, 0.178758],
        [0.265825, 0.179852],
        [0.334606, 0.231733],
        [0.260918, 0.245099],
        [0.182743, 0.244077],
    ];
    const RIGHT_EYE: [[f64; 2]; 6] = [
        [0.645647, 0.231733],
        [0.714428, 0.179852],
        [0.793132, 0.178758],
        [0.858516, 0.216423],
        [0.79751, 0.244077],
        [0.719335, 0.245099],
    ];
    const fn centre(points: [[f64; 2]; 6]) -> [f64; 2] {
        let mut sum = [0.0, 0.0];
        let mut i = 0;
        while i < 6 {
            sum[0] += points[i][0];
            sum[1] += points[i][1];
            i += 1;
        }
        [sum[0] / 6.0, sum[1] / 6.0]
    }
    [
        centre(LEFT_EYE),
        centre(RIGHT_EYE),
        [0.490127, 0.515625], // point 30, the nose tip
        [0.254149, 0.780233], // point 48
        [0.726104, 0.780233], // point 54
    ]
};

/// The largest chip side [`AlignConfig::validate`] accepts, in pixels.
pub const MAX_CHIP_SIZE: usize = 4096;
/// The largest padding [`AlignConfig::validate`] accepts: room of four face widths on each
/// side (FairFace published chips at 0.25 and 1.25).
pub const MAX_PADDING: f64 = 4.0;

/// How face chips are cut.
#[derive(Config, Debug)]
pub struct AlignConfig {
    /// The chip's side in pixels (the size the classifier was trained at).
    #[config(default = 224)]
    pub size: usize,
    /// Room around the template, as a fraction of its width on each side (FairFace's 0.25).
    #[config(default = 0.25)]
    pub padding: f64,
}

/// `p -> [a -b; b a] p + t`: rotation, uniform scale and translation (from chip pixels to
/// image pixels).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity {
    /// `scale * cos(angle)`.
    pub a: f64,
    /// `scale * sin(angle)`.
    pub b: f64,
    /// Translation along x.
    pub tx: f64,
    /// Translation along y.
    pub ty: f64,
}

impl Similarity {
    /// The least-squares similarity carrying `from` onto `to` (the closed form of Umeyama
    /// 1991 without reflection, what dlib's `find_similarity_transform` computes).
    ///
    /// # Panics
    /// If `from` and `to` differ in length, or every `from` point is the same.
    pub fn fit(from: &[[f64; 2]], to: &[[f64; 2]]) -> Self {
        assert_eq!(from.len(), to.len(), "as many points to as from");
        let n = from.len() as f64;
        let mean = |p: &[[f64; 2]]| {
            let s = p.iter().fold([0.0, 0.0], |s, q| [s[0] + q[0], s[1] + q[1]]);
            [s[0] / n, s[1] / n]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
        for (f, t) in from.iter().zip(to) {
            let (fx, fy) = (f[0] - mf[0], f[1] - mf[1]);
            let (tx, ty) = (t[0] - mt[0], t[1] - mt[1]);
            dot += fx * tx + fy * ty;
            cross += fx * ty - fy * tx;
            norm += fx * fx + fy * fy;
        }
        assert!(norm > 0.0, "the from points coincide");
        let (a, b) = (dot / norm, cross / norm);
        Self {
            a,
            b,
            tx: mt[0] - (a * mf[0] - b * mf[1]),
            ty: mt[1] - (b * mf[0] + a * mf[1]),
        }
    }

    /// The image of `p`.
    pub fn apply(&self, [x, y]: [f64; 2]) -> [f64; 2] {
        [
            self.a * x - self.b * y + self.tx,
            self.b * x + self.a * y + self.ty,
        ]
    }
}

impl AlignConfig {
    /// The template's five points in chip pixels.
    pub fn chip_points(&self) -> [[f64; 2]; 5] {
        let (p, size) = (self.padding, self.size as f64);
        TEMPLATE.map(|[x, y]| {
            [
                (p + x) / (2.0 * p + 1.0) * size,
                (p + y) / (2.0 * p + 1.0) * size,
            ]
        })
    }

    /// The transform from chip pixels to image pixels for a face's landmarks.
    pub fn transform(&self, landmarks: &Landmarks) -> Similarity {
        let to = landmarks
            .points()
            .map(|Point { x, y }| [f64::from(x), f64::from(y)]);
        Similarity::fit(&self.chip_points(), &to)
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`DetectError::Config`] for a size outside 1 to [`MAX_CHIP_SIZE`] px (a chip of
    /// 20000 px takes 18 GB to cut) or a padding outside 0 to [`MAX_PADDING`] (dlib's
    /// `get_face_chip_details` requires it positive; far above, the template's points
    /// coincide in float arithmetic and the chip is background).
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_CHIP_SIZE).contains(&self.size) {
            return Err(DetectError::Config(format!(
                "align size = {} (1 to {MAX_CHIP_SIZE} px)",
                self.size
            )));
        }
        if !(self.padding.is_finite() && (0.0..=MAX_PADDING).contains(&self.padding)) {
            return Err(DetectError::Config(format!(
                "align padding = {} (a fraction of the face's width, 0 to {MAX_PADDING})",
                self.padding
            )));
        }
        Ok(())
    }

    /// One chip per face, sampled bilinearly through [`AlignConfig::transform`] in one
    /// `grid_sample_2d` over the single image (no copy of it per face); what falls outside
    /// the image is zero.
    ///
    /// # Shapes
    /// - `image`: `[1, channels, height, width]`
    /// - output: `[faces, channels, size, size]`
    ///
    /// # Errors
    /// The settings' errors ([`AlignConfig::validate`]); [`DetectError::Config`] for an
    /// image batch other than 1.
    pub fn chips<B: Backend>(
        &self,
        image: Tensor<B, 4>,
        faces: &[Landmarks],
    ) -> Result<Tensor<B, 4>> {
        self.validate()?;
        let [batch, channels, height, width] = image.dims();
        if batch != 1 {
            return Err(DetectError::Config(format!(
                "chips are cut from one image at a time, not a batch of {batch}"
            )));
        }
        let (n, size) = (faces.len(), self.size);
        let device = image.device();
        if n == 0 || height == 0 || width == 0 {
            return Ok(Tensor::zeros([n, channels, size, size], &device));
        }
        // Grid coordinates with corners not aligned: pixel centre p is (2 p + 1) / extent - 1.
        let normal = |p: f64, extent: usize| ((2.0 * p + 1.0) / extent as f64 - 1.0) as f32;
        let mut grid = Vec::with_capacity(n * size * size * 2);
        for face in faces {
            let t = self.transform(face);
            for y in 0..size {
                for x in 0..size {
                    let [u, v] = t.apply([x as f64, y as f64]);
                    grid.extend([normal(u, width), normal(v, height)]);
                }
            }
        }
        // The faces' grids stacked as rows of one grid over the one image.
        let grid =
            Tensor::<B, 4>::from_data(TensorData::new(grid, [1, n * size, size, 2]), &device);
        let options = GridSampleOptions::new(InterpolateMode::Bilinear)
            .with_padding_mode(GridSamplePaddingMode::Zeros)
            .with_align_corners(false);
        Ok(image
            .grid_sample_2d(grid, options) // [1, c, n * size, size]
            .reshape([channels, n, size, size])
            .swap_dims(0, 1))
    }

    /// One upright 8-bit chip per face of `image`, sampled on `device` as
    /// [`AlignConfig::chips`] samples them (values rounded to the nearest byte).
    ///
    /// Each face is sampled from its own part of the photo (the chip's footprint and two
    /// pixels around it), so memory follows the faces, not the photo: a face in an
    /// 8000 x 6000 px photo costs its footprint, not 576 MB of `f32` planes.
    ///
    /// # Errors
    /// The settings' errors ([`AlignConfig::validate`]).
    pub fn cut<B: Backend>(
        &self,
        image: &RgbImage,
        faces: &[Landmarks],
        device: &B::Device,
    ) -> Result<Vec<RgbImage>> {
        self.validate()?;
        faces
            .iter()
            .map(|face| self.cut_one::<B>(image, face, device))
            .collect()
    }

    fn cut_one<B: Backend>(
        &self,
        image: &RgbImage,
        face: &Landmarks,
        device: &B::Device,
    ) -> Result<RgbImage> {
        let size = self.size as u32;
        let Some(part) = self.footprint(image, face) else {
            // Nothing of the photo under the chip: zero padding, as `chips` gives.
            return Ok(RgbImage::new(size, size));
        };
        let region = image::imageops::crop_imm(image, part.left, part.top, part.width, part.height)
            .to_image();
        let (w, h) = (part.width as usize, part.height as usize);
        let mut planes = vec![0.0f32; 3 * w * h];
        for (i, pixel) in region.pixels().enumerate() {
            for c in 0..3 {
                planes[c * w * h + i] = f32::from(pixel[c]);
            }
        }
        let region = Tensor::<B, 4>::from_data(TensorData::new(planes, [1, 3, h, w]), device);
        let (dx, dy) = (part.left as f32, part.top as f32);
        let moved = Landmarks::from_points(face.points().map(|p| Point {
            x: p.x - dx,
            y: p.y - dy,
        }));
        let values = self
            .chips(region, &[moved])?
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| DetectError::Config(format!("chip values unreadable: {e:?}")))?;
        let plane = (size * size) as usize;
        let mut chip = RgbImage::new(size, size);
        for (i, pixel) in chip.pixels_mut().enumerate() {
            for c in 0..3 {
                pixel[c] = values[c * plane + i].round().clamp(0.0, 255.0) as u8;
            }
        }
        Ok(chip)
    }

    /// The part of `image` a face's chip samples: the chip's corners mapped into the image,
    /// two pixels of margin for the bilinear neighbours, clipped to the image; `None` when
    /// the chip falls wholly outside it.
    fn footprint(&self, image: &RgbImage, face: &Landmarks) -> Option<Footprint> {
        let t = self.transform(face);
        let s = self.size as f64;
        let corners = [
            [-0.5, -0.5],
            [s - 0.5, -0.5],
            [-0.5, s - 0.5],
            [s - 0.5, s - 0.5],
        ]
        .map(|p| t.apply(p));
        let lowest = |k: usize| corners.iter().map(|p| p[k]).fold(f64::INFINITY, f64::min);
        let highest = |k: usize| {
            corners
                .iter()
                .map(|p| p[k])
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let clip = |v: f64, extent: u32| v.clamp(0.0, f64::from(extent)) as u32;
        let (w, h) = image.dimensions();
        let (left, right) = (
            clip(lowest(0).floor() - 2.0, w),
            clip(highest(0).ceil() + 2.0, w),
        );
        let (top, bottom) = (
            clip(lowest(1).floor() - 2.0, h),
            clip(highest(1).ceil() + 2.0, h),
        );
        (right > left && bottom > top).then_some(Footprint {
            left,
            top,
            width: right - left,
            height: bottom - top,
        })
    }
}

/// A rectangle of whole pixels inside an image.
#[derive(Debug, Clone, Copy)]
struct Footprint {
    left: u32,
    top: u32,
    width: u32,
    height: u32,
}
