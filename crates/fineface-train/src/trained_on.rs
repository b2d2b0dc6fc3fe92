//! The images a run trained and chose its checkpoint on (its train and val splits), kept in
//! the run folder by file name and size, so that an evaluation on another dataset that
//! holds them again (UTKFace's whole folder after a run on part of it) says so: their
//! scores are not held out.

use std::collections::HashSet;
use std::path::Path;

use fineface_data::FaceSample;

use crate::error::{Result, TrainError};
use crate::files::write_atomic;

/// The file in a run folder: `name<TAB>bytes` per image, one line each.
pub const FILE_NAME: &str = "trained-on.tsv";

/// The train and val images of a run, by file name and size in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainedOn {
    images: HashSet<ImageKey>,
}

/// One image file as a run remembers it: the name on disk (no folder: the dataset may lie
/// elsewhere) and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ImageKey {
    name: String,
    bytes: u64,
}

impl ImageKey {
    /// The key of the file at `path`; `None` when it has no name or cannot be read.
    fn of(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().into_owned();
        let bytes = std::fs::metadata(path).ok()?.len();
        Some(Self { name, bytes })
    }
}

/// How many images of an evaluation a run trained or chose its checkpoint on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// Images evaluated that the run saw (same file name and size).
    pub seen: usize,
    /// Images evaluated.
    pub of: usize,
    /// The first of them, as the dataset lists it.
    pub first: String,
}

impl TrainedOn {
    /// The images of `samples` (a `stat` each).
    pub fn of<'a>(samples: impl IntoIterator<Item = &'a FaceSample>) -> Self {
        let images = samples
            .into_iter()
            .filter_map(|s| ImageKey::of(&s.path))
            .collect();
        Self { images }
    }

    /// Writes [`FILE_NAME`] into the run folder `dir`.
    ///
    /// # Errors
    /// [`TrainError::Io`] when it cannot be written.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let mut lines: Vec<String> = self
            .images
            .iter()
            // A name holding a tab or a line break would break the table: left out.
            .filter(|k| !k.name.contains(['\t', '\n', '\r']))
            .map(|k| format!("{}\t{}\n", k.name, k.bytes))
            .collect();
        lines.sort();
        write_atomic(&dir.join(FILE_NAME), lines.concat().as_bytes())
    }

    /// The images of the run folder `dir`; `None` for a run written before this file was
    /// (nothing to compare with).
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the line of a file that is not `name<TAB>bytes`.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TrainError::io(&path, e)),
        };
        let mut images = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let key = line
                .rsplit_once('\t')
                .and_then(|(name, bytes)| Some((name, bytes.parse().ok()?)))
                .map(|(name, bytes)| ImageKey {
                    name: name.to_owned(),
                    bytes,
                });
            let Some(key) = key else {
                return Err(TrainError::Config {
                    path,
                    message: format!("line {}: expected `name<TAB>bytes`, found `{line}`", i + 1),
                });
            };
            images.insert(key);
        }
        Ok(Some(Self { images }))
    }

    /// Which of `samples` the run saw; `None` when none.
    pub fn overlap(&self, samples: &[FaceSample]) -> Option<Overlap> {
        let seen: Vec<&FaceSample> = samples
            .iter()
            .filter(|s| ImageKey::of(&s.path).is_some_and(|k| self.images.contains(&k)))
            .collect();
        let first = seen.first()?.file.clone();
        Some(Overlap {
            seen: seen.len(),
            of: samples.len(),
            first,
        })
    }
}
