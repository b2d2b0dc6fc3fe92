//! The images a run trained and chose its checkpoint on (its train and val splits), kept in
//! the run folder by their content, so that an evaluation on another dataset that holds them
//! again (UTKFace's whole folder after a run on part of it, a renamed copy) says so: their
//! scores are not held out.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use fineface_data::FaceSample;

use crate::error::Result;
use crate::files::write_atomic;
use fineface_run::RunFiles;

/// How much of each image's start its checksum covers: enough to tell two photos apart
/// (their headers and first scan lines differ), little enough to read every image quickly.
const CHECKED_BYTES: u64 = 4096;

/// The train and val images of a run, by content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrainedOn {
    images: HashSet<ImageKey>,
}

/// One image file as a run remembers it: its size in bytes and the CRC-32 of its first
/// [`CHECKED_BYTES`], whatever its name or folder (a copy elsewhere, renamed, is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ImageKey {
    checksum: u32,
    bytes: u64,
}

impl ImageKey {
    /// The key of the file at `path`; `None` when it cannot be read.
    fn of(path: &Path) -> Option<Self> {
        let file = std::fs::File::open(path).ok()?;
        let bytes = file.metadata().ok()?.len();
        let mut start = Vec::with_capacity(CHECKED_BYTES as usize);
        file.take(CHECKED_BYTES).read_to_end(&mut start).ok()?;
        Some(Self {
            checksum: crc32fast::hash(&start),
            bytes,
        })
    }
}

/// How many images of an evaluation a run trained or chose its checkpoint on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlap {
    /// Images evaluated that the run saw (same size and first bytes).
    pub seen: usize,
    /// Images evaluated.
    pub of: usize,
    /// The first of them, as the dataset lists it.
    pub first: String,
}

impl TrainedOn {
    /// The images of `samples` (their first 4 KiB read).
    pub fn of<'a>(samples: impl IntoIterator<Item = &'a FaceSample>) -> Self {
        let images = samples
            .into_iter()
            .filter_map(|s| ImageKey::of(&s.path))
            .collect();
        Self { images }
    }

    /// Writes the run folder's `trained-on.tsv` ([`RunFiles::trained_on`]).
    ///
    /// # Errors
    /// [`TrainError::Io`](crate::TrainError::Io) when it cannot be written.
    pub fn write(&self, run: &RunFiles) -> Result<()> {
        let mut lines: Vec<String> = self
            .images
            .iter()
            .map(|k| format!("{:08x}\t{}\n", k.checksum, k.bytes))
            .collect();
        lines.sort();
        Ok(write_atomic(&run.trained_on(), lines.concat().as_bytes())?)
    }

    /// The images of the run folder `run`; `None` for a run written before this file was,
    /// or whose file does not read (it only serves a warning: said, and passed over).
    pub fn read(run: &RunFiles) -> Option<Self> {
        let path = run.trained_on();
        let text = std::fs::read_to_string(&path).ok()?;
        let mut images = HashSet::new();
        for (i, line) in text.lines().enumerate() {
            let key = line.split_once('\t').and_then(|(checksum, bytes)| {
                Some(ImageKey {
                    checksum: u32::from_str_radix(checksum, 16).ok()?,
                    bytes: bytes.parse().ok()?,
                })
            });
            let Some(key) = key else {
                tracing::warn!(
                    "{}:{}: expected `checksum<TAB>bytes`: the run's training images are not \
                     compared with the evaluated ones",
                    path.display(),
                    i + 1
                );
                return None;
            };
            images.insert(key);
        }
        Some(Self { images })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two files of one size that differ in their first bytes are two images; the same bytes
    /// under another name are one.
    #[test]
    fn images_are_known_by_content_not_name() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            FaceSample {
                path,
                file: name.to_owned(),
                target: "x".to_owned(),
                sensitive: Vec::new(),
            }
        };
        let trained = [
            write("a.jpg", b"first image"),
            write("b.jpg", b"other image"),
        ];
        let seen = TrainedOn::of(&trained);
        let run = RunFiles::new(dir.path());
        seen.write(&run).unwrap();
        let read = TrainedOn::read(&run).unwrap();
        assert_eq!(read, seen);
        let evaluated = [
            write("renamed.jpg", b"first image"),
            write("same-size.jpg", b"third image"),
        ];
        let overlap = read.overlap(&evaluated).unwrap();
        assert_eq!((overlap.seen, overlap.of), (1, 2));
        assert_eq!(overlap.first, "renamed.jpg");
        std::fs::write(run.trained_on(), "not a table\n").unwrap();
        assert_eq!(TrainedOn::read(&run), None);
    }
}
