//! MTCNN's cascade (Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task
//! Cascaded Convolutional Networks"), step for step as facenet-pytorch's `detect_face`.

use burn::config::Config;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use fineface_model::FineFaceBackend;
use image::RgbImage;

use crate::boxes::{BoundingBox, Candidate, PixelRegion, nms, nms_min, windows};
use crate::error::{DetectError, Result};
use crate::face::{Face, Landmarks, Point};
use crate::nets::{ONet, PNet, RNet};
use crate::resize::Planes;
use crate::weights::{MtcnnWeights, Network};

/// The side of P-Net's window: the image is scaled so that a face of `min_face_size` fills it.
const WINDOW: f64 = 12.0;
/// R-Net's and O-Net's input sides.
const RNET_SIZE: usize = 24;
const ONET_SIZE: usize = 48;
/// Overlaps above which a candidate is dropped: within one scale of the pyramid, then across
/// scales and after R-Net (intersection over union), and after O-Net (over the smaller box).
const NMS_WITHIN_SCALE: f32 = 0.5;
const NMS_ACROSS: f32 = 0.7;

/// Settings of [`Mtcnn`], facenet-pytorch's `MTCNN` defaults.
#[derive(Config, Debug)]
pub struct MtcnnConfig {
    /// The smallest face searched for, in pixels (the pyramid starts at `12 / min_face_size`).
    #[config(default = 20.0)]
    pub min_face_size: f64,
    /// Face probabilities P-Net, R-Net and O-Net require (P-Net's inclusive, the others'
    /// strict, as facenet-pytorch compares them).
    #[config(default = "[0.6, 0.7, 0.7]")]
    pub thresholds: [f32; 3],
    /// The ratio between the scales of the pyramid.
    #[config(default = 0.709)]
    pub factor: f64,
    /// Photos whose longer side exceeds this many pixels are first shrunk to it (area
    /// resizing) and the faces' coordinates scaled back: this bounds memory (P-Net's first
    /// level of an 8000 x 6000 photo would be 4800 x 3600, gigabytes of activations) at the
    /// cost of faces smaller than `min_face_size * longer side / max_side` pixels (78 px on an
    /// 8000 px photo). facenet-pytorch has no such bound; photos up to this size are detected exactly as it does.
    #[config(default = 2048)]
    pub max_side: usize,
}

impl MtcnnConfig {
    /// The detector with the networks' weights from `weights`, on `device`.
    ///
    /// # Errors
    /// [`DetectError::Config`] for a minimum face under 12 px, a factor outside (0, 1) or a
    /// threshold outside [0, 1]; the weight errors of [`MtcnnWeights`].
    pub fn init<B: FineFaceBackend>(
        &self,
        weights: &MtcnnWeights,
        device: &B::Device,
    ) -> Result<Mtcnn<B>> {
        self.validate()?;
        let pnet = MtcnnWeights::load(PNet::new(device), &weights.pnet, Network::PNet)?;
        let rnet = MtcnnWeights::load(RNet::new(device), &weights.rnet, Network::RNet)?;
        let onet = MtcnnWeights::load(ONet::new(device), &weights.onet, Network::ONet)?;
        Ok(Mtcnn {
            pnet,
            rnet,
            onet,
            min_face_size: self.min_face_size,
            thresholds: self.thresholds,
            factor: self.factor,
            max_side: self.max_side,
            device: device.clone(),
        })
    }

    fn validate(&self) -> Result<()> {
        if self.min_face_size.is_nan() || self.min_face_size < WINDOW {
            return Err(DetectError::Config(format!(
                "min_face_size = {} (at least {WINDOW} px, P-Net's window)",
                self.min_face_size
            )));
        }
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(DetectError::Config(format!(
                "factor = {} (between 0 and 1, exclusive)",
                self.factor
            )));
        }
        if self.max_side < WINDOW as usize {
            return Err(DetectError::Config(format!(
                "max_side = {} (at least {WINDOW} px)",
                self.max_side
            )));
        }
        if let Some(t) = self.thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(DetectError::Config(format!(
                "threshold {t} (probabilities lie in [0, 1])"
            )));
        }
        Ok(())
    }
}

/// The MTCNN face detector: P-Net over an image pyramid proposes windows, R-Net and O-Net
/// refine them on 24 and 48 px crops; O-Net adds five landmarks.
#[derive(Debug)]
pub struct Mtcnn<B: Backend> {
    pnet: PNet<B>,
    rnet: RNet<B>,
    onet: ONet<B>,
    min_face_size: f64,
    thresholds: [f32; 3],
    factor: f64,
    max_side: usize,
    device: B::Device,
}

impl<B: FineFaceBackend> Mtcnn<B> {
    /// The three networks.
    pub fn networks(&self) -> (&PNet<B>, &RNet<B>, &ONet<B>) {
        (&self.pnet, &self.rnet, &self.onet)
    }

    /// Every face in `image`, highest probability first.
    ///
    /// A photo longer than [`MtcnnConfig::max_side`] is shrunk to it straight from its bytes
    /// (memory bounded by the shrunk size) and the faces scaled back to its pixels.
    pub fn detect(&self, image: &RgbImage) -> Vec<Face> {
        let (width, height) = (image.width() as usize, image.height() as usize);
        match self.shrunk_size(width, height) {
            None => self.cascade(&Planes::from_image(image)),
            Some(size) => self.detect_shrunk(&Planes::area_from_image(image, size), width, height),
        }
    }

    /// Every face in `image`, highest probability first.
    ///
    /// A photo longer than [`MtcnnConfig::max_side`] is detected at that size and the faces
    /// scaled back to its pixels.
    pub fn detect_planes(&self, image: &Planes) -> Vec<Face> {
        let (width, height) = (image.width(), image.height());
        match self.shrunk_size(width, height) {
            None => self.cascade(image),
            Some(size) => {
                let small = Planes::from_values(
                    size[1],
                    size[0],
                    image.area_resize(&[image.region()], size),
                );
                self.detect_shrunk(&small, width, height)
            }
        }
    }

    /// `[rows, cols]` of a `width x height` photo shrunk to [`MtcnnConfig::max_side`], or
    /// `None` when it fits.
    fn shrunk_size(&self, width: usize, height: usize) -> Option<[usize; 2]> {
        let longer = width.max(height);
        if longer <= self.max_side {
            return None;
        }
        let shrink = self.max_side as f64 / longer as f64;
        tracing::debug!(
            longer,
            max_side = self.max_side,
            "photo shrunk for detection"
        );
        Some([
            ((height as f64 * shrink).round() as usize).max(1),
            ((width as f64 * shrink).round() as usize).max(1),
        ])
    }

    /// The faces of `small`, a `width x height` photo shrunk, in the photo's pixels.
    fn detect_shrunk(&self, small: &Planes, width: usize, height: usize) -> Vec<Face> {
        let (sx, sy) = (
            width as f32 / small.width() as f32,
            height as f32 / small.height() as f32,
        );
        self.cascade(small)
            .into_iter()
            .map(|face| face.scaled(sx, sy))
            .collect()
    }

    /// The three stages on `image` as it is.
    fn cascade(&self, image: &Planes) -> Vec<Face> {
        let proposals = self.propose(image);
        let refined = self.refine(image, &proposals);
        self.finish(image, &refined)
    }

    /// The scales of the pyramid for an image whose shorter side is `shorter` px.
    ///
    /// As facenet-pytorch computes them: the scale and the scaled shorter side each multiplied
    /// by the factor step by step (not recomputed), so that the last level is the same to the
    /// bit where the side lands on 12 px.
    fn scales(&self, shorter: usize) -> Vec<f64> {
        let first = WINDOW / self.min_face_size;
        let (mut scale, mut side) = (first, shorter as f64 * first);
        let mut scales = Vec::new();
        while side >= WINDOW {
            scales.push(scale);
            scale *= self.factor;
            side *= self.factor;
        }
        scales
    }

    /// Stage 1: P-Net's windows over every scale, suppressed within and across scales,
    /// moved by their offsets and squared.
    fn propose(&self, image: &Planes) -> Vec<Candidate> {
        let (height, width) = (image.height(), image.width());
        let mut found = Vec::new();
        for scale in self.scales(height.min(width)) {
            let size = [
                (height as f64 * scale + 1.0) as usize,
                (width as f64 * scale + 1.0) as usize,
            ];
            let level = image.area_resize(&[image.region()], size);
            let level = TensorData::new(level, [1, 3, size[0], size[1]]);
            let output = self
                .pnet
                .forward(normalise(Tensor::from_data(level, &self.device)));
            let [_, _, map_height, map_width] = output.probability.dims();
            let cells = map_height * map_width;
            let probability = host(output.probability);
            let offsets = host(output.regression);
            let offsets = [0, 1, 2, 3].map(|k| &offsets[k * cells..(k + 1) * cells]);
            let windows = windows(
                &probability[cells..],
                offsets,
                map_width,
                scale as f32,
                self.thresholds[0],
            );
            found.extend(nms(&windows, NMS_WITHIN_SCALE));
        }
        nms(&found, NMS_ACROSS)
            .into_iter()
            .map(|c| Candidate {
                bbox: c.bbox.shifted(c.offsets).squared(),
                ..c
            })
            .collect()
    }

    /// Stage 2: R-Net on 24 px crops; those it passes, suppressed, calibrated and squared.
    fn refine(&self, image: &Planes, proposals: &[Candidate]) -> Vec<Candidate> {
        let Some((kept, crops)) = crops(image, proposals, RNET_SIZE, &self.device) else {
            return Vec::new();
        };
        let output = self.rnet.forward(normalise(crops));
        let (probability, offsets) = (host(output.probability), host(output.regression));
        let passed: Vec<Candidate> = kept
            .iter()
            .enumerate()
            .filter(|(i, _)| probability[2 * i + 1] > self.thresholds[1])
            .map(|(i, c)| Candidate {
                bbox: c.bbox,
                score: probability[2 * i + 1],
                offsets: std::array::from_fn(|k| offsets[4 * i + k]),
            })
            .collect();
        nms(&passed, NMS_ACROSS)
            .into_iter()
            .map(|c| Candidate {
                bbox: c.bbox.calibrated(c.offsets).squared(),
                ..c
            })
            .collect()
    }

    /// Stage 3: O-Net on 48 px crops; the faces it passes with their landmarks, calibrated,
    /// suppressed by overlap over the smaller box.
    fn finish(&self, image: &Planes, refined: &[Candidate]) -> Vec<Face> {
        let Some((kept, crops)) = crops(image, refined, ONET_SIZE, &self.device) else {
            return Vec::new();
        };
        let output = self.onet.forward(normalise(crops));
        let probability = host(output.probability);
        let (offsets, landmarks) = (host(output.regression), host(output.landmarks));
        let faces: Vec<Face> = kept
            .iter()
            .enumerate()
            .filter(|(i, _)| probability[2 * i + 1] > self.thresholds[2])
            .map(|(i, c)| {
                let b = c.bbox;
                let (w, h) = (b.width() + 1.0, b.height() + 1.0);
                let point = |k: usize| Point {
                    x: w * landmarks[10 * i + k] + b.x1 - 1.0,
                    y: h * landmarks[10 * i + 5 + k] + b.y1 - 1.0,
                };
                Face {
                    bbox: b.calibrated(std::array::from_fn(|k| offsets[4 * i + k])),
                    probability: probability[2 * i + 1],
                    landmarks: Landmarks::from_points(std::array::from_fn(point)),
                }
            })
            .collect();
        let boxes: Vec<BoundingBox> = faces.iter().map(|f| f.bbox).collect();
        let scores: Vec<f32> = faces.iter().map(|f| f.probability).collect();
        nms_min(&boxes, &scores, NMS_ACROSS)
            .into_iter()
            .map(|i| faces[i])
            .collect()
    }
}

/// Pixels in [0, 255] as the networks take them: `(x - 127.5) / 128`.
fn normalise<B: Backend>(pixels: Tensor<B, 4>) -> Tensor<B, 4> {
    pixels.sub_scalar(127.5).mul_scalar(0.0078125)
}

/// A tensor's values on the host, row-major.
fn host<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .into_vec()
        .expect("float tensor data")
}

/// The image under each candidate's box (clipped to the image), averaged down or up to
/// `size x size` (PyTorch's `interpolate(mode="area")`, an adaptive average pool), with the
/// candidates whose box covers a pixel of the image; `None` when none does.
///
/// facenet-pytorch skips a crop with nothing inside the image but keeps its box, which puts
/// later boxes beside other boxes' scores; here the box goes with its crop.
fn crops<B: Backend>(
    image: &Planes,
    candidates: &[Candidate],
    size: usize,
    device: &B::Device,
) -> Option<(Vec<Candidate>, Tensor<B, 4>)> {
    let (kept, regions): (Vec<Candidate>, Vec<PixelRegion>) = candidates
        .iter()
        .filter_map(|c| Some((*c, c.bbox.pixels(image.width(), image.height())?)))
        .unzip();
    if kept.is_empty() {
        return None;
    }
    let values = image.area_resize(&regions, [size, size]);
    let data = TensorData::new(values, [kept.len(), 3, size, size]);
    Some((kept, Tensor::from_data(data, device)))
}
