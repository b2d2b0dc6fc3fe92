//! Raw photos: every face found, aligned and classified (`fineface predict --detect`), a
//! dataset of photos made into aligned chips (`fineface align`), and the face finder that
//! `fineface eval --detect` runs before the transform.

mod align_dataset;
mod annotate;
mod classify;
mod finder;
mod photo_files;
mod predict;

pub use align_dataset::{
    ALIGN_JSON, ALIGN_REPORT_CSV, ALIGNED, AlignRecord, AlignReport, AlignRow, align_dataset,
};
pub use annotate::{Annotation, EMBEDDED_SIDE, annotated_svg};
pub use classify::{BATCH, Classifier, Prediction, best_class};
pub use finder::{FaceFinder, FaceSettings, FoundFace, KeepFace};
pub use photo_files::{PHOTO_EXTENSIONS, collect_photos, is_photo};
pub use predict::{PhotoNote, PhotoReport, faces_csv_header, predict_photos};
