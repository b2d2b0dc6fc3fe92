//! `fineface predict --detect`: every face of every photo found, aligned and classified;
//! `faces.csv` and one annotated picture per photo.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use fineface_model::FineFaceBackend;
use image::DynamicImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::evaluate::probability_column;
use crate::files::{write_atomic, write_csv};
use crate::photos::annotate::{Annotation, annotated_svg};
use crate::photos::classify::{Classifier, Prediction};
use crate::photos::finder::FaceFinder;

/// The columns of `faces.csv` for a run with `classes`: the face's box, MTCNN's
/// probability and its five landmarks in pixels of the photo as shown (after its EXIF
/// orientation), the predicted class, every class's probability (`p_<class>`, as in
/// `predictions.csv`); `note` says why a photo has no row of its own face.
pub fn faces_csv_header(classes: &[String]) -> Vec<String> {
    let mut header: Vec<String> = [
        "image",
        "face",
        "x1",
        "y1",
        "x2",
        "y2",
        "score",
        "left_eye_x",
        "left_eye_y",
        "right_eye_x",
        "right_eye_y",
        "nose_x",
        "nose_y",
        "mouth_left_x",
        "mouth_left_y",
        "mouth_right_x",
        "mouth_right_y",
        "prediction",
    ]
    .map(String::from)
    .to_vec();
    header.extend(classes.iter().map(|c| probability_column(c)));
    header.push("note".to_owned());
    header
}

/// A photo without a classified face, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoNote {
    /// The photo as given.
    pub image: String,
    /// Why: no face found, or what is wrong with the file.
    pub reason: String,
}

/// What [`predict_photos`] found and wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PhotoReport {
    /// Photos read.
    pub photos: usize,
    /// Faces classified.
    pub faces: usize,
    /// Photos in which no face was found.
    pub without_face: Vec<PhotoNote>,
    /// Photos that could not be decoded.
    pub unreadable: Vec<PhotoNote>,
    /// `faces.csv`.
    pub csv: PathBuf,
    /// The folder of the annotated pictures.
    pub annotated: PathBuf,
}

/// The rows of one photo in `faces.csv` and its faces to draw.
struct PhotoRows {
    rows: Vec<Vec<String>>,
    annotations: Vec<Annotation>,
}

/// Finds, aligns and classifies every face of `photos`; writes `out/faces.csv` and
/// `out/annotated/<photo>.svg`. A photo that cannot be decoded or has no face is listed
/// with the reason (in `faces.csv`'s `note` column and the report) and the others go on.
///
/// # Errors
/// The output folder or a file in it cannot be written; the model's output cannot be read.
pub fn predict_photos<B: FineFaceBackend>(
    classifier: &Classifier<'_, B>,
    finder: &FaceFinder<B>,
    photos: &[PathBuf],
    out: &Path,
    progress: bool,
) -> Result<PhotoReport> {
    let annotated = out.join("annotated");
    std::fs::create_dir_all(&annotated).map_err(|e| TrainError::io(&annotated, e))?;
    let bar = progress_bar(photos.len(), progress);
    let mut report = PhotoReport {
        photos: photos.len(),
        csv: out.join("faces.csv"),
        annotated: annotated.clone(),
        ..PhotoReport::default()
    };
    let columns = faces_csv_header(classifier.classes).len();
    let mut rows = Vec::new();
    let mut names = HashSet::new();
    for path in photos {
        let image = path.display().to_string();
        bar.set_message(image.clone());
        let photo = match fineface_data::open_image(path) {
            Ok(photo) => photo.into_rgb8(),
            Err(error) => {
                let reason = format!("unreadable: {error}");
                tracing::warn!("{image}: {reason}");
                rows.push(note_row(&image, &reason, columns));
                report.unreadable.push(PhotoNote { image, reason });
                bar.inc(1);
                continue;
            }
        };
        let found = classify_photo(classifier, finder, &image, &photo)?;
        if found.annotations.is_empty() {
            let reason = finder.no_face_reason();
            rows.push(note_row(&image, &reason, columns));
            report.without_face.push(PhotoNote {
                image: image.clone(),
                reason,
            });
        }
        report.faces += found.annotations.len();
        rows.extend(found.rows);
        let file = annotated.join(unique_name(path, &mut names));
        let document = annotated_svg(&photo, &image, &found.annotations).map_err(|e| {
            TrainError::io(
                &file,
                std::io::Error::other(format!("cannot encode the photo: {e}")),
            )
        })?;
        write_atomic(&file, document.to_string().as_bytes())?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    let header = faces_csv_header(classifier.classes);
    write_csv(&report.csv, &header, rows)?;
    Ok(report)
}

/// The rows and drawings of one decoded photo.
fn classify_photo<B: FineFaceBackend>(
    classifier: &Classifier<'_, B>,
    finder: &FaceFinder<B>,
    image: &str,
    photo: &image::RgbImage,
) -> Result<PhotoRows> {
    let found = finder.faces(photo)?;
    let chips: Vec<DynamicImage> = found
        .iter()
        .map(|f| DynamicImage::ImageRgb8(f.chip.clone()))
        .collect();
    let predictions = classifier.classify(&chips)?;
    let mut rows = Vec::with_capacity(found.len());
    let mut annotations = Vec::with_capacity(found.len());
    for (k, (f, p)) in found.iter().zip(&predictions).enumerate() {
        rows.push(face_row(image, k, &f.face, p));
        annotations.push(Annotation {
            face: f.face,
            label: format!("{} {:.2}", p.label, p.probability),
        });
    }
    Ok(PhotoRows { rows, annotations })
}

/// A row of `faces.csv` for face `k` of `image`.
fn face_row(image: &str, k: usize, face: &fineface_detect::Face, p: &Prediction) -> Vec<String> {
    let b = face.bbox;
    let mut row = vec![image.to_owned(), k.to_string()];
    row.extend([b.x1, b.y1, b.x2, b.y2].map(|v| format!("{v:.2}")));
    row.push(format!("{:.6}", face.probability));
    for point in face.landmarks.points() {
        row.extend([point.x, point.y].map(|v| format!("{v:.2}")));
    }
    row.push(p.label.clone());
    row.extend(p.probabilities.iter().map(|v| format!("{v:.6}")));
    row.push(String::new());
    row
}

/// A row of `faces.csv` for a photo without a classified face.
fn note_row(image: &str, reason: &str, columns: usize) -> Vec<String> {
    let mut row = vec![String::new(); columns];
    row[0] = image.to_owned();
    row[columns - 1] = reason.to_owned();
    row
}

/// `<stem>.svg`, or `<stem>-2.svg`, ... where photos of different folders share a stem.
fn unique_name(path: &Path, taken: &mut HashSet<String>) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "photo".to_owned());
    let mut name = format!("{stem}.svg");
    let mut n = 1;
    while !taken.insert(name.clone()) {
        n += 1;
        name = format!("{stem}-{n}.svg");
    }
    name
}

/// A bar over the photos on a terminal; hidden otherwise.
pub(crate) fn progress_bar(n: usize, progress: bool) -> ProgressBar {
    if !(progress && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(n as u64), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "[{bar:25}] {pos}/{len} {elapsed_precise} eta {eta_precise} {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
