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
    /// The dataset's folder, links resolved: chips of another dataset are not mixed in.
    pub root: PathBuf,
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
    /// The photo's size in bytes when it was aligned.
    pub bytes: u64,
    /// Its modification time then, in seconds since 1970 (a changed photo is aligned again).
    pub modified: u64,
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
    /// Chips written by an earlier call and kept (their photos unchanged).
    pub resumed: usize,
    /// Chips of an earlier call whose photo is no longer in the dataset, removed.
    pub removed: usize,
    /// Other files (labels, manifests) copied.
    pub copied: usize,
    /// Photos with several faces (one chip, of the kept face).
    pub several: Vec<AlignRow>,
    /// Photos with no face (no chip).
    pub without_face: Vec<AlignRow>,
    /// Photos that could not be decoded (no chip).
    pub unreadable: Vec<AlignRow>,
    /// Photos whose chip could not be written (a full disk, a permission).
    pub failed: Vec<AlignRow>,
}

/// The report's file names in the output folder.
pub const ALIGN_REPORT_CSV: &str = "align-report.csv";
/// See [`ALIGN_REPORT_CSV`].
pub const ALIGN_JSON: &str = "align.json";

/// Photos handed to the workers at a time.
const CHUNK: usize = 64;
/// The longest time between two writes of the report.
const REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Cuts one aligned chip per photo of `root` into `out`, at the same relative path and in
/// the format of its extension (JPEG at quality 95; PNG, BMP, TIFF and WebP lossless; GIF;
/// JPEG for an extension no encoder writes); every other file (labels,
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
    check_out_folder(out)?;
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let record = check_record(finder, root, out)?;
    let previous = read_report(&out.join(ALIGN_REPORT_CSV))?;
    let mut report = AlignReport {
        photos: photos.len(),
        copied: copy_others(root, out, &others)?,
        removed: remove_orphans(out, &previous, &photos),
        ..AlignReport::default()
    };
    let bar = progress_bar(photos.len(), progress);
    let mut rows = Vec::with_capacity(photos.len());
    let mut last_write = std::time::Instant::now();
    for chunk in photos.chunks(CHUNK) {
        let mut todo = Vec::new();
        for photo in chunk {
            let stamp = Stamp::of(&root.join(photo));
            match previous.get(&shown(photo)) {
                Some(row) if reusable(row, stamp, &out.join(photo)) => {
                    report.resumed += usize::from(row.outcome == ALIGNED);
                    rows.push(row.clone());
                }
                _ => {
                    todo.push((photo, stamp));
                    rows.push(AlignRow::pending(photo));
                }
            }
        }
        let fresh = align_photos(finder, root, out, &todo, workers);
        report.aligned += fresh.iter().filter(|r| r.outcome == ALIGNED).count();
        for row in fresh {
            if let Some(slot) = rows.iter_mut().rev().find(|r| r.image == row.image) {
                *slot = row;
            }
        }
        // Written every few seconds (what a kill can lose), not after every chunk: a 97,000-
        // photo dataset would rewrite a report of megabytes 1,500 times.
        if last_write.elapsed() >= REPORT_EVERY {
            write_rows(&out.join(ALIGN_REPORT_CSV), &rows)?;
            last_write = std::time::Instant::now();
        }
        bar.inc(chunk.len() as u64);
    }
    write_rows(&out.join(ALIGN_REPORT_CSV), &rows)?;
    bar.finish_and_clear();
    for row in rows {
        match (&row.faces, row.outcome.as_str()) {
            (None, _) => report.unreadable.push(row),
            (Some(0), _) => report.without_face.push(row),
            (Some(n), ALIGNED) if *n > 1 => report.several.push(row),
            (Some(_), ALIGNED) => {}
            (Some(_), _) => report.failed.push(row),
        }
    }
    write_json(
        &out.join(ALIGN_JSON),
        &serde_json::json!({ "settings": record, "report": report }),
    )?;
    Ok(report)
}

/// A photo's size and modification time: an earlier outcome stands only for the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    bytes: u64,
    modified: u64,
}

impl Stamp {
    /// The file's stamp; zeros where it cannot be read (its outcome then says why).
    fn of(path: &Path) -> Self {
        let metadata = std::fs::metadata(path).ok();
        let modified = metadata
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        Self {
            bytes: metadata.map_or(0, |m| m.len()),
            modified,
        }
    }
}

impl AlignRow {
    /// A row not yet done (kept only if a kill comes before its photo is).
    fn pending(photo: &Path) -> Self {
        Self {
            image: shown(photo),
            bytes: 0,
            modified: 0,
            faces: None,
            kept: None,
            outcome: "not done yet".to_owned(),
        }
    }
}

/// Whether an earlier outcome stands: the same photo (size and modification time), and a
/// chip that is there or no face (detection is deterministic); an unreadable photo is tried
/// again.
fn reusable(row: &AlignRow, stamp: Stamp, chip: &Path) -> bool {
    let same = row.bytes == stamp.bytes && row.modified == stamp.modified;
    same && match row.outcome.as_str() {
        ALIGNED => chip.is_file(),
        _ => row.faces == Some(0),
    }
}

/// Removes the chips an earlier call wrote for photos no longer in the dataset (what a
/// fresh alignment would not hold); returns how many.
fn remove_orphans(out: &Path, previous: &HashMap<String, AlignRow>, photos: &[PathBuf]) -> usize {
    let current: std::collections::HashSet<String> = photos.iter().map(|p| shown(p)).collect();
    let mut removed = 0;
    for row in previous.values() {
        let inside = Path::new(&row.image)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if row.outcome != ALIGNED || current.contains(&row.image) || !inside {
            continue;
        }
        let chip = out.join(&row.image);
        if std::fs::remove_file(&chip).is_ok() {
            tracing::info!(chip = %chip.display(), "removed: its photo is no longer in the dataset");
            removed += 1;
        }
    }
    removed
}

/// An output folder that holds files no alignment wrote (no `align.json`) is refused: its
/// files could be overwritten by chips of the same names.
fn check_out_folder(out: &Path) -> Result<()> {
    let used = std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some());
    if used && !out.join(ALIGN_JSON).is_file() {
        return Err(TrainError::Photos {
            path: out.to_owned(),
            message: format!(
                "the output folder holds files and no {ALIGN_JSON}: it is not an alignment \
                 to resume, and chips could overwrite its files; give an empty or new folder"
            ),
        });
    }
    Ok(())
}

/// `todo` aligned by `workers` threads pulling photos in turn; rows in `todo`'s order.
fn align_photos<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
    todo: &[(&PathBuf, Stamp)],
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
                        let Some(&(photo, stamp)) = todo.get(i) else {
                            break;
                        };
                        mine.push((i, align_photo(finder, root, out, photo, stamp)));
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
    stamp: Stamp,
) -> AlignRow {
    let row = cut_chip(finder, root, out, relative, stamp);
    if row.outcome != ALIGNED {
        // An earlier chip of this path (the photo changed since) must not outlive it.
        let _ = std::fs::remove_file(out.join(relative));
    }
    row
}

/// The chip of one photo written, or why not.
fn cut_chip<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
    relative: &Path,
    stamp: Stamp,
) -> AlignRow {
    let row = |faces, kept, outcome: String| AlignRow {
        image: shown(relative),
        bytes: stamp.bytes,
        modified: stamp.modified,
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
    // The bytes are what the name says: a reader that trusts the extension reads the chip.
    let format = ImageFormat::from_path(target)
        .ok()
        .filter(ImageFormat::writing_enabled)
        .unwrap_or(ImageFormat::Jpeg);
    let mut bytes = Vec::new();
    let encoded = match format {
        ImageFormat::Jpeg => {
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(chip)
        }
        other => chip.write_to(&mut std::io::Cursor::new(&mut bytes), other),
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

/// Whether a walk error is a link's: a loop, or a link to nothing.
fn link_trouble(error: &walkdir::Error) -> bool {
    error.loop_ancestor().is_some()
        || error
            .io_error()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// `path` with links resolved as far as it exists (the rest appended as written).
fn resolved(path: &Path) -> PathBuf {
    // `a/../b` spelled out first: a `..` after a part that does not exist would otherwise
    // stay and hide where the path leads.
    let mut absolute = PathBuf::new();
    for part in crate::files::absolute(path).components() {
        match part {
            std::path::Component::ParentDir => {
                absolute.pop();
            }
            std::path::Component::CurDir => {}
            other => absolute.push(other),
        }
    }
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while std::fs::canonicalize(existing).is_err() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
    let mut real = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_owned());
    real.extend(rest.iter().rev());
    real
}

/// The dataset's photos and other files, relative to `root`, in name order; `out` may be
/// neither `root`, nor inside it, nor around it.
fn dataset_files(root: &Path, out: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let root_real = std::fs::canonicalize(root).map_err(|e| TrainError::io(root, e))?;
    let out_real = resolved(out);
    if out_real.starts_with(&root_real) || root_real.starts_with(&out_real) {
        return Err(TrainError::Photos {
            path: out.to_owned(),
            message: format!(
                "the output folder is the dataset {} itself, inside it or around it: chips \
                 would replace photos; give a folder outside it",
                root.display()
            ),
        });
    }
    let (mut photos, mut others) = (Vec::new(), Vec::new());
    let walk = walkdir::WalkDir::new(&root_real)
        .follow_links(true)
        .sort_by_file_name();
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            // A broken link or a loop: a photo's name is listed as unreadable, anything
            // else said and passed over; the rest of the dataset goes on.
            Err(error) => {
                let Some(path) = error.path() else {
                    return Err(TrainError::Photos {
                        path: root.to_owned(),
                        message: format!("cannot read the dataset: {error}"),
                    });
                };
                if !link_trouble(&error) {
                    // An unreadable folder would drop its photos, and their chips with them.
                    return Err(TrainError::Photos {
                        path: path.to_owned(),
                        message: format!("cannot read the dataset: {error}"),
                    });
                }
                tracing::warn!("{}: {error}", path.display());
                if let (true, Ok(relative)) = (is_photo(path), path.strip_prefix(&root_real)) {
                    photos.push(relative.to_owned());
                }
                continue;
            }
        };
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
fn check_record<B: FineFaceBackend>(
    finder: &FaceFinder<B>,
    root: &Path,
    out: &Path,
) -> Result<AlignRecord> {
    let s = finder.settings();
    let record = AlignRecord {
        root: resolved(root),
        size: s.align.size,
        padding: s.align.padding,
        keep: s.keep,
        min_face_size: s.detector.min_face_size,
        thresholds: s.detector.thresholds,
        factor: s.detector.factor,
        max_side: s.detector.max_side,
    };
    let path = out.join(ALIGN_JSON);
    let recorded = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(TrainError::io(&path, e)),
    };
    if let Some(text) = recorded {
        #[derive(Deserialize)]
        struct Recorded {
            settings: AlignRecord,
        }
        let recorded: Recorded = serde_json::from_str(&text).map_err(|e| TrainError::Config {
            path: path.clone(),
            message: format!("not an alignment record: {e}"),
        })?;
        if recorded.settings != record {
            let (was, asked) = (
                serde_json::to_value(&recorded.settings).unwrap_or_default(),
                serde_json::to_value(&record).unwrap_or_default(),
            );
            let changed: Vec<String> = was
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(key, value)| asked.get(key.as_str()) != Some(*value))
                .map(|(key, value)| format!("{key} {value} (asked: {})", asked[key.as_str()]))
                .collect();
            return Err(TrainError::Config {
                path,
                message: format!(
                    "these chips were cut with other settings: {}; align again with those, or \
                     into another --out",
                    changed.join(", ")
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
    let header = ["image", "bytes", "modified", "faces", "kept", "outcome"].map(str::to_owned);
    let text = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
    Ok(write_csv(
        path,
        &header,
        rows.iter().map(|r| {
            [
                r.image.clone(),
                r.bytes.to_string(),
                r.modified.to_string(),
                text(r.faces),
                text(r.kept),
                r.outcome.clone(),
            ]
        }),
    )?)
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
