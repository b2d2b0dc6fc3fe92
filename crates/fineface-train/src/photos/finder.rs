//! Faces of raw photos made into what a classifier was trained on: MTCNN finds them
//! (`fineface-detect`), and each becomes an upright chip aligned on its five landmarks at the
//! size the run resizes to, so the run's evaluation transform sees what it saw in training.

use std::path::PathBuf;

use fineface_data::PrepareImage;
use fineface_detect::{AlignConfig, Face, Mtcnn, MtcnnConfig, MtcnnWeights};
use fineface_model::FineFaceBackend;
use image::{DynamicImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Which face stands for a photo that has several, where a photo carries one label (a
/// dataset of portraits whose subject shares the picture with others).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeepFace {
    /// The face with the largest box: a portrait's subject is usually the nearest face
    /// (default).
    #[default]
    Largest,
    /// The face MTCNN is surest of.
    MostProbable,
}

impl KeepFace {
    /// The index of the face kept among `faces` (`None` for no face); ties go to the
    /// earlier face (MTCNN lists them by probability).
    pub fn choose(self, faces: &[Face]) -> Option<usize> {
        let key = |face: &Face| match self {
            Self::Largest => face.bbox.width() * face.bbox.height(),
            Self::MostProbable => face.probability,
        };
        (0..faces.len()).reduce(|best, i| {
            if key(&faces[i]) > key(&faces[best]) {
                i
            } else {
                best
            }
        })
    }
}

/// How faces are found and cut.
#[derive(Debug, Clone)]
pub struct FaceSettings {
    /// The MTCNN weight files (facenet-pytorch 2.6.0's `pnet.pt`, `rnet.pt`, `onet.pt`).
    pub weights: MtcnnWeights,
    /// The detector's settings (facenet-pytorch's defaults).
    pub detector: MtcnnConfig,
    /// The chips' size and padding; the size should be the run's `transform.resize`.
    pub align: AlignConfig,
    /// The face kept where one face per photo is wanted.
    pub keep: KeepFace,
}

impl FaceSettings {
    /// facenet-pytorch's detector with the weights in `dir`, chips of `size` px with
    /// FairFace's padding 0.25, the largest face kept.
    pub fn new(dir: impl Into<PathBuf>, size: usize) -> Self {
        Self {
            weights: MtcnnWeights::in_dir(&dir.into()),
            detector: MtcnnConfig::new(),
            align: AlignConfig::new().with_size(size),
            keep: KeepFace::Largest,
        }
    }
}

/// A face of a photo and its aligned chip.
#[derive(Debug, Clone)]
pub struct FoundFace {
    /// The box, probability and landmarks in the photo's pixels.
    pub face: Face,
    /// The upright chip, `align.size` px square.
    pub chip: RgbImage,
}

/// MTCNN and the alignment on one device, shared by the threads that decode photos (the
/// networks are only read).
pub struct FaceFinder<B: FineFaceBackend> {
    detector: Mtcnn<B>,
    settings: FaceSettings,
    device: B::Device,
}

impl<B: FineFaceBackend> std::fmt::Debug for FaceFinder<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceFinder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<B: FineFaceBackend> FaceFinder<B> {
    /// The detector loaded on `device`.
    ///
    /// # Errors
    /// Missing or unreadable weight files (the error names them and where to get them);
    /// detector or alignment settings out of range.
    pub fn new(settings: FaceSettings, device: &B::Device) -> Result<Self> {
        settings.align.validate()?;
        let detector = settings.detector.init::<B>(&settings.weights, device)?;
        Ok(Self {
            detector,
            settings,
            device: device.clone(),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &FaceSettings {
        &self.settings
    }

    /// Every face of `photo` with its chip, highest probability first.
    ///
    /// # Errors
    /// A chip that cannot be cut (the alignment settings, checked in [`FaceFinder::new`]).
    pub fn faces(&self, photo: &RgbImage) -> Result<Vec<FoundFace>> {
        let faces = self.detector.detect(photo);
        let landmarks: Vec<_> = faces.iter().map(|f| f.landmarks).collect();
        let chips = self
            .settings
            .align
            .cut::<B>(photo, &landmarks, &self.device)?;
        Ok(faces
            .into_iter()
            .zip(chips)
            .map(|(face, chip)| FoundFace { face, chip })
            .collect())
    }

    /// The face that stands for `photo` ([`FaceSettings::keep`]) and how many it has.
    ///
    /// # Errors
    /// As [`FaceFinder::faces`].
    pub fn main_face(&self, photo: &RgbImage) -> Result<Option<(FoundFace, usize)>> {
        let mut faces = self.faces(photo)?;
        let n = faces.len();
        let detected: Vec<Face> = faces.iter().map(|f| f.face).collect();
        Ok(self
            .settings
            .keep
            .choose(&detected)
            .map(|i| (faces.swap_remove(i), n)))
    }

    /// Why a photo yields no face, in words.
    pub fn no_face_reason(&self) -> String {
        format!(
            "no face found (MTCNN, faces of {} px and more)",
            self.settings.detector.min_face_size
        )
    }
}

/// A raw photo becomes the chip of its kept face; a photo with none is skipped with the
/// reason.
impl<B: FineFaceBackend> PrepareImage for FaceFinder<B> {
    fn prepare(&self, image: DynamicImage) -> std::result::Result<DynamicImage, String> {
        match self.main_face(&image.into_rgb8()) {
            Ok(Some((found, _))) => Ok(DynamicImage::ImageRgb8(found.chip)),
            Ok(None) => Err(self.no_face_reason()),
            Err(error) => Err(error.to_string()),
        }
    }
}
