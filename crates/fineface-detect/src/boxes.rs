//! Box arithmetic of MTCNN's three stages, as facenet-pytorch's `detect_face` does it (in
//! float32, with its conventions: windows of P-Net's map, calibration by regression offsets,
//! squaring, clipping to the image, and the two kinds of non-maximum suppression).

use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use burn_vision::{Nms, NmsOptions};

/// A box in pixels of the image: `(x1, y1)` its top left corner, `(x2, y2)` its bottom right.
/// Detections may reach beyond the image's borders (a face cut by the border).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BoundingBox {
    /// `x2 - x1`.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }

    /// `y2 - y1`.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }

    /// Intersection over union with `other` (areas `width * height`, zero for no overlap).
    pub fn iou(&self, other: &Self) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.width() * self.height() + other.width() * other.height() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }

    /// The box moved by regression offsets given in box sizes, `w = x2 - x1` (P-Net's
    /// windows; facenet-pytorch's first stage).
    pub(crate) fn shifted(&self, offsets: [f32; 4]) -> Self {
        let (w, h) = (self.width(), self.height());
        Self {
            x1: self.x1 + offsets[0] * w,
            y1: self.y1 + offsets[1] * h,
            x2: self.x2 + offsets[2] * w,
            y2: self.y2 + offsets[3] * h,
        }
    }

    /// The box moved by regression offsets in box sizes counted inclusively,
    /// `w = x2 - x1 + 1` (facenet-pytorch's `bbreg`, R-Net's and O-Net's).
    pub(crate) fn calibrated(&self, offsets: [f32; 4]) -> Self {
        let (w, h) = (self.width() + 1.0, self.height() + 1.0);
        Self {
            x1: self.x1 + offsets[0] * w,
            y1: self.y1 + offsets[1] * h,
            x2: self.x2 + offsets[2] * w,
            y2: self.y2 + offsets[3] * h,
        }
    }

    /// The square of side `max(w, h)` with the same centre (facenet-pytorch's `rerec`).
    pub(crate) fn squared(&self) -> Self {
        let (w, h) = (self.width(), self.height());
        let side = w.max(h);
        let x1 = self.x1 + w * 0.5 - side * 0.5;
        let y1 = self.y1 + h * 0.5 - side * 0.5;
        Self {
            x1,
            y1,
            x2: x1 + side,
            y2: y1 + side,
        }
    }

    /// The pixels of a `width x height` image the box covers, as facenet-pytorch's `pad`
    /// cuts them (coordinates truncated towards zero, the box's corners counted as
    /// 1-based pixel numbers, clipped to the image), or `None` where nothing is left.
    pub(crate) fn pixels(&self, width: usize, height: usize) -> Option<PixelRegion> {
        // `trunc().int()`: towards zero, as C casts do.
        let (x1, y1) = (self.x1.trunc() as i64, self.y1.trunc() as i64);
        let (x2, y2) = (self.x2.trunc() as i64, self.y2.trunc() as i64);
        let left = x1.max(1) - 1;
        let top = y1.max(1) - 1;
        let right = x2.min(width as i64);
        let bottom = y2.min(height as i64);
        (right > left && bottom > top && left < width as i64 && top < height as i64).then_some(
            PixelRegion {
                left: left as usize,
                top: top as usize,
                right: right as usize,
                bottom: bottom as usize,
            },
        )
    }
}

/// Columns `left..right` and rows `top..bottom` of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelRegion {
    pub left: usize,
    pub top: usize,
    pub right: usize,
    pub bottom: usize,
}

/// A box with its face probability and the regression offsets a network proposed for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub bbox: BoundingBox,
    pub score: f32,
    pub offsets: [f32; 4],
}

/// P-Net's windows over one scale of the pyramid whose face probability reaches `threshold`
/// (facenet-pytorch's `generateBoundingBox`): the output position `(x, y)` is the window
/// `floor((2x + 1) / scale)` to `floor((2x + 12) / scale)` of the image, in row-major order.
///
/// `probability` is the face channel, `offsets` the four regression channels, each
/// `[h', w']` row-major.
pub(crate) fn windows(
    probability: &[f32],
    offsets: [&[f32]; 4],
    map_width: usize,
    scale: f32,
    threshold: f32,
) -> Vec<Candidate> {
    const STRIDE: f32 = 2.0;
    const CELL: f32 = 12.0;
    probability
        .iter()
        .enumerate()
        .filter(|(_, p)| **p >= threshold)
        .map(|(i, &score)| {
            let (x, y) = ((i % map_width) as f32, (i / map_width) as f32);
            let start = |v: f32| ((STRIDE * v + 1.0) / scale).floor();
            let end = |v: f32| ((STRIDE * v + CELL - 1.0 + 1.0) / scale).floor();
            Candidate {
                bbox: BoundingBox {
                    x1: start(x),
                    y1: start(y),
                    x2: end(x),
                    y2: end(y),
                },
                score,
                offsets: offsets.map(|o| o[i]),
            }
        })
        .collect()
}

/// Non-maximum suppression by intersection over union (torchvision's `nms`, through
/// burn-vision): the candidates kept, highest score first; a candidate is dropped when it
/// overlaps a kept one by more than `iou`.
pub(crate) fn nms(candidates: &[Candidate], iou: f32) -> Vec<Candidate> {
    if candidates.is_empty() {
        return Vec::new();
    }
    let n = candidates.len();
    let corners: Vec<f32> = candidates
        .iter()
        .flat_map(|c| [c.bbox.x1, c.bbox.y1, c.bbox.x2, c.bbox.y2])
        .collect();
    let scores: Vec<f32> = candidates.iter().map(|c| c.score).collect();
    let device = Default::default();
    let boxes = Tensor::<Flex, 2>::from_data(TensorData::new(corners, [n, 4]), &device);
    let scores = Tensor::<Flex, 1>::from_data(TensorData::new(scores, [n]), &device);
    let options = NmsOptions {
        iou_threshold: iou,
        score_threshold: f32::NEG_INFINITY,
        max_output_boxes: 0,
    };
    let keep = boxes.nms(scores, options).into_data();
    keep.iter::<i64>().map(|i| candidates[i as usize]).collect()
}

/// Non-maximum suppression by the overlap over the smaller box, areas counted inclusively
/// (`(x2 - x1 + 1) * (y2 - y1 + 1)`): facenet-pytorch's `nms_numpy(..., 'Min')`, its last
/// stage's, which drops a box mostly inside a better one even when their union is large.
/// Returns the indices kept, highest score first.
pub(crate) fn nms_min(boxes: &[BoundingBox], scores: &[f32], threshold: f32) -> Vec<usize> {
    let area = |b: &BoundingBox| (b.x2 - b.x1 + 1.0) * (b.y2 - b.y1 + 1.0);
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut keep = Vec::new();
    while let Some(best) = order.pop() {
        keep.push(best);
        let b = &boxes[best];
        order.retain(|&i| {
            let o = &boxes[i];
            let w = (b.x2.min(o.x2) - b.x1.max(o.x1) + 1.0).max(0.0);
            let h = (b.y2.min(o.y2) - b.y1.max(o.y1) + 1.0).max(0.0);
            w * h / area(b).min(area(o)) <= threshold
        });
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(x1: f32, y1: f32, x2: f32, y2: f32) -> BoundingBox {
        BoundingBox { x1, y1, x2, y2 }
    }

    #[test]
    fn squaring_keeps_the_centre_and_takes_the_longer_side() {
        let b = bbox(10.0, 20.0, 30.0, 60.0).squared();
        assert_eq!(b, bbox(0.0, 20.0, 40.0, 60.0));
    }

    #[test]
    fn pixels_are_cut_as_facenet_pytorch_pads() {
        // Truncated towards zero, 1-based corners, clipped to a 50 x 40 image.
        let region = bbox(-3.7, 2.9, 60.2, 39.9).pixels(50, 40).unwrap();
        assert_eq!(
            region,
            PixelRegion {
                left: 0,
                top: 1,
                right: 50,
                bottom: 39
            }
        );
        assert_eq!(bbox(55.0, 5.0, 70.0, 20.0).pixels(50, 40), None);
        assert_eq!(bbox(10.0, -30.0, 20.0, -1.0).pixels(50, 40), None);
    }

    #[test]
    fn windows_follow_generate_bounding_box() {
        // A 2 x 3 map at scale 0.5: position (x 2, y 1) is the window 10..30, 6..26.
        let p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.9];
        let o: Vec<f32> = (0..6).map(|i| i as f32 / 10.0).collect();
        let found = windows(&p, [&o, &o, &o, &o], 3, 0.5, 0.6);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].bbox, bbox(10.0, 6.0, 32.0, 28.0));
        assert_eq!(found[0].offsets, [0.5; 4]);
    }

    #[test]
    fn nms_drops_overlaps_above_the_threshold_and_keeps_the_best() {
        let c = |x1: f32, score: f32| Candidate {
            bbox: bbox(x1, 0.0, x1 + 10.0, 10.0),
            score,
            offsets: [0.0; 4],
        };
        // IoU of boxes 1 px apart: 90 / 110 = 0.82; 5 px apart: 50 / 150 = 0.33.
        let kept = nms(&[c(0.0, 0.5), c(1.0, 0.9), c(5.0, 0.7), c(40.0, 0.1)], 0.5);
        let scores: Vec<f32> = kept.iter().map(|c| c.score).collect();
        assert_eq!(scores, [0.9, 0.7, 0.1]);
        let kept = nms(&[c(0.0, 0.5), c(1.0, 0.9), c(5.0, 0.7)], 0.3);
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn nms_min_drops_a_box_inside_a_better_one() {
        let boxes = [bbox(0.0, 0.0, 99.0, 99.0), bbox(10.0, 10.0, 29.0, 29.0)];
        // The small box lies wholly inside: overlap over the smaller area 1.0 (its IoU: 0.04).
        assert_eq!(nms_min(&boxes, &[0.9, 0.95], 0.7), [1]);
        assert_eq!(nms_min(&boxes, &[0.95, 0.9], 0.7), [0]);
    }
}
