//! Face detection and alignment in [Burn](https://burn.dev): MTCNN (Zhang et al. 2016) with five
//! landmarks, the networks and the cascade of facenet-pytorch 2.6.0's `MTCNN`, whose weight
//! files it reads.
//!
//! ```no_run
//! use std::path::Path;
//! use fineface_detect::{MtcnnConfig, MtcnnWeights};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let device = Default::default();
//! let weights = MtcnnWeights::in_dir(Path::new("../shared/weights/mtcnn"));
//! let detector = MtcnnConfig::new().init::<burn::backend::Flex>(&weights, &device)?;
//! let photo = image::open("group.jpg")?.to_rgb8();
//! for face in detector.detect(&photo) {
//!     let b = face.bbox;
//!     println!("{:.0},{:.0} to {:.0},{:.0}: {:.3}", b.x1, b.y1, b.x2, b.y2, face.probability);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # The cascade
//! 1. P-Net, fully convolutional, over a pyramid of the image (scales `12 / min_face_size`
//!    times powers of `factor`, each an area-averaged resize) proposes 12 px windows whose
//!    face probability reaches the first threshold; non-maximum suppression within each scale
//!    (IoU 0.5) and across scales (0.7); each window moved by its regression offsets and
//!    made square.
//! 2. R-Net on 24 px crops keeps those above the second threshold; suppression (0.7),
//!    calibration, squares.
//! 3. O-Net on 48 px crops keeps those above the third threshold, with five landmarks;
//!    calibration; suppression by overlap over the smaller box (0.7).
//!
//! [`AlignConfig`] then cuts upright face chips from the five landmarks (a similarity
//! transform onto dlib's mean face at MTCNN's points, FairFace's padding 0.25).
//!
//! Every step follows `facenet_pytorch/models/utils/detect_face.py` (its float32 box
//! arithmetic, its 1-based crop corners), checked against it on real photos and composed
//! scenes (`tests/parity.rs`, goldens from `tools/mtcnn_goldens.py`). One difference: a box
//! with no pixel inside the image is dropped with its crop (facenet-pytorch drops the crop
//! and keeps the box, misaligning later boxes and scores).

mod align;
mod boxes;
mod detector;
mod error;
mod face;
mod nets;
mod resize;
mod weights;

pub use align::{AlignConfig, MAX_CHIP_SIZE, MAX_PADDING, Similarity, TEMPLATE};
pub use boxes::BoundingBox;
pub use detector::{Mtcnn, MtcnnConfig};
pub use error::{DetectError, Result};
pub use face::{Face, Landmarks, Point};
pub use nets::{ONet, ONetOutput, PNet, PNetOutput, RNet, RNetOutput};
pub use resize::Planes;
pub use weights::MtcnnWeights;
