//! `fineface align`: a dataset of raw photos made into aligned face chips in the same
//! layout, the way FairFace's authors prepared theirs (one chip per photo, at the same
//! relative path, under the same name).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fineface_detect::Mtcnn;
use fineface_model::FineFaceBackend;
use image::ImageFormat;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::files::{write_csv, write_json};
use crate::photos::finder::{FaceFinder, KeepFace};
use crate::photos::photo_files::is_photo;
use crate::photos::predict::progress_bar;

/// The settings a folder of chips was cut with (`align.json`); a resumed alignment must use
/// the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignRecord {
    /// Chip side in pixels.
    pub size: usize,
    /// Padding around the template, a fraction of its width.
    pub padding: f64,
    /// The face kept of a photo with several.
    pub keep: KeepFace,
    /// The smallest face searched for, in pixels.
    pub min_face_size: f64,
    /// MTCNN's three thresholds.
    pub thresholds: [f32; 3],
    /// The pyramid's factor.
    pub factor: f64,
    /// The longer side photos are shrunk to before detection.
    pub max_side: usize,
}

/// One photo's outcome, a row of `align-report.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlignRow {
    /// The photo's path relative to the dataset's root (`/`-separated).
    pub image: String,
    /// Faces MTCNN found (empty when the photo could not be read).
    pub faces: Option<usize>,
    /// The index (MTCNN's order, most probable first) of the face cut.
    pub kept: Option<usize>,
    /// `aligned`, or why no chip was written.
    pub outcome: String,
}

/// The outcome of a photo whose chip was written.
pub const ALIGNED: &str = "aligned";

/// What [`align_dataset`] did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlignReport {
    /// Photos in the dataset.
    pub photos: usize,
    /// Chips written by this call.
    pub aligned: usize,
    /// Photos done by an earlier call and kept as they were.
    pub resumed: usize,
    /// Other files (labels, manifests) copied.
    pub copied: usize,
    /// Photos with several faces (one chip, of the kept face).
    pub several: Vec<AlignRow>,
    /// Photos with no face (no chip).
    pub without_face: Vec<AlignRow>,
    /// Photos that could not be decoded (no chip).
    pub unreadable: Vec<AlignRow>,
}

/// The report's file names in the output folder.
pub const ALIGN_REPORT_CSV: &str = "align-report.csv";
/// See [`ALIGN_REPORT_CSV`].
pub const ALIGN_JSON: &str = "align.json";

/// Photos done between two writes of the report (what a kill can lose).
const CHUNK: usize = 64;

/// Cuts one aligned chip per photo of `root` into `out`, at the same relative path and in
/// the format of its extension (JPEG at quality 95, PNG); every other file (labels,
/// manifests) is copied. Photos with no face get no chip (a manifest then lists them as
/// absent); every photo's outcome is in `out/align-report.csv` and the settings and counts in
/// `out/align.json`.
///
/// Deterministic (a photo's chip depends on the photo alone), parallel over `workers`
/// threads, and resumable: run again on the same folders, it keeps the chips and outcomes
/// already there (chips are written whole through a rename) and does the rest.
///
/// # Errors
/// `out` is `root`; `out` holds chips cut with other settings; a folder or file cannot be
/// read or written.
pub fn align_dataset<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
    workers: usize,
    progress: bool,
) -> Result<AlignReport>
where
    Mtcnn<B>: Sync,
{
    let (photos, others) = dataset_files(root, out)?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let record = check_record(finder, out)?;
    let mut done = read_report(&out.join(ALIGN_REPORT_CSV))?;
    let mut report = AlignReport {
        photos: photos.len(),
        copied: copy_others(root, out, &others)?,
        ..AlignReport::default()
    };
    let bar = progress_bar(photos.len(), progress);
    let mut rows = Vec::with_capacity(photos.len());
    for chunk in photos.chunks(CHUNK) {
        let todo: Vec<&PathBuf> = chunk
            .iter()
            .filter(|p| !reusable(done.get(&shown(p)), &out.join(p)))
            .collect();
        report.resumed += chunk.len() - todo.len();
        let fresh = align_photos(finder, root, out, &todo, workers);
        report.aligned += fresh.iter().filter(|r| r.outcome == ALIGNED).count();
        for row in fresh {
            done.insert(row.image.clone(), row);
        }
        rows.extend(chunk.iter().filter_map(|p| done.get(&shown(p)).cloned()));
        write_rows(&out.join(ALIGN_REPORT_CSV), &rows)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    for row in rows {
        match (&row.faces, row.outcome.as_str()) {
            (None, _) => report.unreadable.push(row),
            (Some(0), _) => report.without_face.push(row),
            (Some(n), ALIGNED) if *n > 1 => report.several.push(row),
            _ => {}
        }
    }
    write_json(
        &out.join(ALIGN_JSON),
        &serde_json::json!({ "settings": record, "report": report }),
    )?;
    Ok(report)
}

/// Whether an earlier outcome stands: a chip that is there, or a photo without a face
/// (detection is deterministic); an unreadable photo is tried again.
fn reusable(row: Option<&AlignRow>, chip: &Path) -> bool {
    match row {
        Some(row) if row.outcome == ALIGNED => chip.is_file(),
        Some(row) => row.faces == Some(0),
        None => false,
    }
}

/// `todo` aligned by `workers` threads pulling photos in turn; rows in `todo`'s order.
fn align_photos<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
    todo: &[&PathBuf],
    workers: usize,
) -> Vec<AlignRow>
where
    Mtcnn<B>: Sync,
{
    let next = AtomicUsize::new(0);
    let mut rows: Vec<(usize, AlignRow)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.clamp(1, todo.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(image) = todo.get(i) else { break };
                        mine.push((i, align_photo(finder, root, out, image)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, row)| row).collect()
}

/// One photo: decoded, its kept face cut and written; the outcome in words otherwise.
fn align_photo<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
    relative: &Path,
) -> AlignRow {
    let row = |faces, kept, outcome: String| AlignRow {
        image: shown(relative),
        faces,
        kept,
        outcome,
    };
    let photo = match fineface_data::open_image(&root.join(relative)) {
        Ok(photo) => photo.into_rgb8(),
        Err(error) => return row(None, None, format!("unreadable: {error}")),
    };
    let faces = match finder.faces(&photo) {
        Ok(faces) => faces,
        Err(error) => return row(None, None, format!("cannot cut a chip: {error}")),
    };
    let detected: Vec<_> = faces.iter().map(|f| f.face).collect();
    let Some(kept) = finder.settings().keep.choose(&detected) else {
        return row(Some(0), None, finder.no_face_reason());
    };
    let target = out.join(relative);
    match save_chip(&faces[kept].chip, &target) {
        Ok(()) => row(Some(faces.len()), Some(kept), ALIGNED.to_owned()),
        Err(error) => row(
            Some(faces.len()),
            Some(kept),
            format!("not written: {error}"),
        ),
    }
}

/// Writes `chip` to `target` in its extension's format, whole or not at all.
fn save_chip(chip: &image::RgbImage, target: &Path) -> std::result::Result<(), String> {
    let format = match ImageFormat::from_path(target) {
        Ok(ImageFormat::Png) => ImageFormat::Png,
        _ => ImageFormat::Jpeg,
    };
    let mut bytes = Vec::new();
    let encoded = match format {
        ImageFormat::Png => chip.write_to(&mut std::io::Cursor::new(&mut bytes), format),
        _ => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(chip),
    };
    encoded.map_err(|e| e.to_string())?;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let mut staging = target.as_os_str().to_owned();
    staging.push(".partial");
    let staging = PathBuf::from(staging);
    std::fs::write(&staging, &bytes).map_err(|e| format!("{}: {e}", staging.display()))?;
    std::fs::rename(&staging, target).map_err(|e| format!("{}: {e}", target.display()))
}

/// A relative path as the report shows it: `/`-separated, non-UTF-8 bytes replaced.
fn shown(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The dataset's photos and other files, relative to `root`, in name order; `out` and what
/// it holds are left out where it lies inside `root`.
fn dataset_files(root: &Path, out: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let canonical = |p: &Path| std::fs::canonicalize(p).map_err(|e| TrainError::io(p, e));
    let root_real = canonical(root)?;
    let out_real = std::fs::canonicalize(out).ok();
    if out_real.as_deref() == Some(root_real.as_path()) {
        return Err(TrainError::Photos {
            path: out.to_owned(),
            message: "the output folder is the dataset itself: the chips would replace the photos"
                .to_owned(),
        });
    }
    let (mut photos, mut others) = (Vec::new(), Vec::new());
    let walk = walkdir::WalkDir::new(&root_real)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| out_real.as_deref() != Some(e.path()));
    for entry in walk {
        let entry = entry.map_err(|e| TrainError::Photos {
            path: e.path().unwrap_or(root).to_owned(),
            message: format!("cannot read the dataset: {e}"),
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(&root_real)
            .unwrap_or(entry.path())
            .to_owned();
        if is_photo(entry.path()) {
            photos.push(relative);
        } else if relative == Path::new(ALIGN_JSON) || relative == Path::new(ALIGN_REPORT_CSV) {
            // An earlier alignment's record (chips aligned again): not this one's.
            continue;
        } else {
            others.push(relative);
        }
    }
    if photos.is_empty() {
        return Err(TrainError::Photos {
            path: root.to_owned(),
            message: "no photo (.jpg, .jpeg, .png, ...) in this folder (searched recursively)"
                .to_owned(),
        });
    }
    Ok((photos, others))
}

/// The settings recorded in `out`, checked against `finder`'s, or recorded there now.
fn check_record<B: FineFaceBackend>(finder: &FaceFinder<B>, out: &Path) -> Result<AlignRecord> {
    let s = finder.settings();
    let record = AlignRecord {
        size: s.align.size,
        padding: s.align.padding,
        keep: s.keep,
        min_face_size: s.detector.min_face_size,
        thresholds: s.detector.thresholds,
        factor: s.detector.factor,
        max_side: s.detector.max_side,
    };
    let path = out.join(ALIGN_JSON);
    if let Ok(text) = std::fs::read_to_string(&path) {
        #[derive(Deserialize)]
        struct Recorded {
            settings: AlignRecord,
        }
        let recorded: Recorded = serde_json::from_str(&text).map_err(|e| TrainError::Config {
            path: path.clone(),
            message: format!("not an alignment record: {e}"),
        })?;
        if recorded.settings != record {
            return Err(TrainError::Config {
                path,
                message: format!(
                    "these chips were cut with {:?}, not {record:?}: align again with those \
                     settings, or into another --out",
                    recorded.settings
                ),
            });
        }
    } else {
        write_json(&path, &serde_json::json!({ "settings": record }))?;
    }
    Ok(record)
}

/// The rows of an earlier call's report, by photo; none when there is no report.
fn read_report(path: &Path) -> Result<HashMap<String, AlignRow>> {
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let bad = |message: String| TrainError::Config {
        path: path.to_owned(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    reader
        .deserialize::<AlignRow>()
        .enumerate()
        .map(|(i, row)| {
            row.map(|r| (r.image.clone(), r))
                .map_err(|e| bad(format!("line {}: {e}", i + 2)))
        })
        .collect()
}

/// Writes the report's rows.
fn write_rows(path: &Path, rows: &[AlignRow]) -> Result<()> {
    let header = ["image", "faces", "kept", "outcome"].map(str::to_owned);
    let text = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
    write_csv(
        path,
        &header,
        rows.iter().map(|r| {
            [
                r.image.clone(),
                text(r.faces),
                text(r.kept),
                r.outcome.clone(),
            ]
        }),
    )
}

/// Copies the dataset's other files (labels, manifests) unless the same bytes are there.
fn copy_others(root: &Path, out: &Path, others: &[PathBuf]) -> Result<usize> {
    let mut copied = 0;
    for file in others {
        let (from, to) = (root.join(file), out.join(file));
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        if size(&from) == size(&to) && std::fs::read(&from).ok() == std::fs::read(&to).ok() {
            continue;
        }
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
        }
        std::fs::copy(&from, &to).map_err(|e| TrainError::io(&from, e))?;
        copied += 1;
    }
    Ok(copied)
}
