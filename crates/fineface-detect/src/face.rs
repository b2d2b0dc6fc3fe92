//! What the detector finds.

use crate::boxes::BoundingBox;

/// A point in pixels of the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
}

/// MTCNN's five landmarks in O-Net's learned order, named for an upright face seen from the
/// front: the "left eye" is the subject's right eye (on the image's left when the face is
/// upright; on a turned face it may lie anywhere).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Landmarks {
    /// The subject's right eye.
    pub left_eye: Point,
    /// The subject's left eye.
    pub right_eye: Point,
    /// The tip of the nose.
    pub nose: Point,
    /// The subject's right mouth corner.
    pub mouth_left: Point,
    /// The subject's left mouth corner.
    pub mouth_right: Point,
}

impl Landmarks {
    /// The five points in O-Net's order.
    pub fn points(&self) -> [Point; 5] {
        [
            self.left_eye,
            self.right_eye,
            self.nose,
            self.mouth_left,
            self.mouth_right,
        ]
    }

    /// From five points in O-Net's order.
    pub fn from_points([left_eye, right_eye, nose, mouth_left, mouth_right]: [Point; 5]) -> Self {
        Self {
            left_eye,
            right_eye,
            nose,
            mouth_left,
            mouth_right,
        }
    }
}

/// One detected face.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Its box in pixels of the image (may reach beyond the border).
    pub bbox: BoundingBox,
    /// O-Net's face probability, in (threshold, 1].
    pub probability: f32,
    /// Its five landmarks in pixels of the image.
    pub landmarks: Landmarks,
}

impl Face {
    /// The face in the pixels of an image `sx` times wider and `sy` times taller than the
    /// one it was found in: box edges multiplied, landmarks (pixel centres) mapped centre to
    /// centre, `(x + 0.5) * sx - 0.5`.
    pub fn scaled(&self, sx: f32, sy: f32) -> Self {
        let point = |p: Point| Point {
            x: (p.x + 0.5) * sx - 0.5,
            y: (p.y + 0.5) * sy - 0.5,
        };
        let b = self.bbox;
        Self {
            bbox: BoundingBox {
                x1: b.x1 * sx,
                y1: b.y1 * sy,
                x2: b.x2 * sx,
                y2: b.y2 * sy,
            },
            probability: self.probability,
            landmarks: Landmarks::from_points(self.landmarks.points().map(point)),
        }
    }
}
