//! The photos a command is given: files as they are, folders searched for image files.

use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// Extensions of the files taken from a folder as photos (any case): those this build
/// decodes (`fineface_data::FORMATS`: JPEG, PNG, WebP, BMP, GIF, TIFF), and the other image
/// formats, so that a `.heic` or `.avif` photo in a folder is listed as unreadable with the reason instead of passing unnoticed. A file named
/// on the command line is read whatever its name, its format found from its bytes.
pub const PHOTO_EXTENSIONS: [&str; 19] = [
    "jpg", "jpeg", "png", "jpe", "jfif", "bmp", "gif", "webp", "tif", "tiff", "heic", "heif",
    "avif", "jp2", "jxl", "pnm", "ppm", "pgm", "qoi",
];

/// Whether `path` has one of [`PHOTO_EXTENSIONS`].
pub fn is_photo(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| PHOTO_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// `paths` with each folder replaced by its photos (searched recursively, links followed,
/// in name order; a broken link named as a photo is kept, to be listed as unreadable).
///
/// # Errors
/// [`TrainError::Photos`] for a path that does not exist, a folder without a photo or one
/// that cannot be read.
pub fn collect_photos(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut photos = Vec::new();
    for path in paths {
        let metadata = std::fs::metadata(path).map_err(|e| TrainError::Photos {
            path: path.clone(),
            message: match fineface_data::broken_link(path) {
                Some(link) => link.to_string(),
                None => format!("no such photo or folder ({e})"),
            },
        })?;
        if !metadata.is_dir() {
            photos.push(path.clone());
            continue;
        }
        let before = photos.len();
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry = match entry {
                Ok(entry) => entry,
                // A broken link or a loop: a photo's name goes on to be listed as
                // unreadable with the reason, anything else is said and passed over.
                Err(error) => match error.path() {
                    Some(bad) => {
                        if is_photo(bad) {
                            // Listed once, as unreadable, with where the link points.
                            photos.push(bad.to_owned());
                        } else if let Some(link) = fineface_data::broken_link(bad) {
                            tracing::warn!("{}: {link}: passed over", bad.display());
                        } else {
                            tracing::warn!("{}: {error}", bad.display());
                        }
                        continue;
                    }
                    None => {
                        return Err(TrainError::Photos {
                            path: path.clone(),
                            message: format!("cannot read the folder: {error}"),
                        });
                    }
                },
            };
            if entry.file_type().is_file() && is_photo(entry.path()) {
                photos.push(entry.into_path());
            }
        }
        if photos.len() == before {
            return Err(TrainError::Photos {
                path: path.clone(),
                message: "no photo (.jpg, .jpeg, .png, ...) in this folder (searched recursively)"
                    .to_owned(),
            });
        }
    }
    Ok(photos)
}
