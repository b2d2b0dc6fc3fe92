//! Finding a dataset's files when the download was unpacked a level off: the Kaggle CelebA
//! (`img_align_celeba/img_align_celeba/`), UTKFace "in-the-wild" (`part1/ part2/ part3/`),
//! an archive's own top folder around everything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::sample::{Lost, Skipped};

/// The first of `candidates` that is a file.
pub(crate) fn first_file(candidates: &[PathBuf]) -> Option<&PathBuf> {
    candidates.iter().find(|p| p.is_file())
}

/// The first of `folders` holding one of `names` (the first few listed images), else the
/// first that exists.
pub(crate) fn folder_holding(folders: &[PathBuf], names: &[&str]) -> Option<PathBuf> {
    folders
        .iter()
        .find(|f| {
            let mut locator = crate::locate::Locator::new(f);
            names.iter().any(|n| locator.find(n).is_ok())
        })
        .or_else(|| folders.iter().find(|f| f.is_dir()))
        .cloned()
}

/// The folders holding the images under `base`: `base` itself when it holds a file
/// `wanted` accepts, else the shallowest subfolders (one, then two levels down) holding
/// one, all of them (`part1/`, `part2/`, `part3/`); stray files beside them (`.DS_Store`,
/// the archives) do not count. Empty when there is none.
pub(crate) fn image_folders(base: &Path, wanted: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    if has_file(base, &wanted) {
        return vec![base.to_owned()];
    }
    let mut level = subfolders(base);
    for _ in 0..2 {
        let found: Vec<PathBuf> = level
            .iter()
            .filter(|f| has_file(f, &wanted))
            .cloned()
            .collect();
        if !found.is_empty() {
            return found;
        }
        level = level.iter().flat_map(|f| subfolders(f)).collect();
    }
    Vec::new()
}

/// What `folder` holds, for an error: its subfolders and a few file names.
pub(crate) fn describe(folder: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return format!("{} cannot be listed", folder.display());
    };
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() {
            dirs.push(format!("{name}/"));
        } else {
            files.push(name);
        }
    }
    dirs.sort();
    files.sort();
    let few = |v: &[String]| {
        let shown: Vec<&str> = v.iter().take(4).map(String::as_str).collect();
        let more = v.len().saturating_sub(4);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    match (dirs.is_empty(), files.is_empty()) {
        (true, true) => format!("{} is empty", folder.display()),
        (false, true) => format!("{} holds only folders: {}", folder.display(), few(&dirs)),
        (true, false) => format!(
            "{} holds {} files such as {}",
            folder.display(),
            files.len(),
            few(&files)
        ),
        (false, false) => format!(
            "{} holds the folders {} and {} files such as {}",
            folder.display(),
            few(&dirs),
            files.len(),
            few(&files)
        ),
    }
}

/// Where a label file lists its images.
pub(crate) struct Listing<'a> {
    /// The dataset's name.
    pub dataset: &'static str,
    /// The label file, as a message names it (`fairface_label_train.csv`).
    pub listed_in: &'a str,
    /// The folder its paths are relative to.
    pub folder: &'a Path,
    /// Where the dataset is published, for the error.
    pub hint: &'static str,
}

impl Listing<'_> {
    /// Refuses a label file whose listed images are lost: none found
    /// ([`Self::refuse_none_found`]), or some absent as written that are a folder or two off
    /// ([`Self::refuse_found_elsewhere`]).
    ///
    /// # Errors
    /// [`DataError::ImagesNotFound`], [`DataError::ImagesOff`].
    pub(crate) fn refuse_lost<'f>(
        &self,
        found: impl IntoIterator<Item = &'f str>,
        skipped: &[Skipped],
    ) -> Result<()> {
        self.refuse_none_found(found, skipped)?;
        self.refuse_found_elsewhere(skipped)
    }

    /// Refuses a label file some of whose paths are absent as written but name an image a
    /// folder or two off ([`Offsets`]): rows written relative to two folders (half of them to
    /// the label file's own folder) would otherwise lose that half with no error. The
    /// first 20 absent paths are looked for (each costs a look in every folder around).
    ///
    /// # Errors
    /// [`DataError::ImagesOff`], naming the first such path, where its image is and the
    /// number of absent paths.
    fn refuse_found_elsewhere(&self, skipped: &[Skipped]) -> Result<()> {
        // Absent, or leaving the folder (`../imgs/a.jpg` written relative to another one).
        let absent: Vec<&Skipped> = skipped.iter().filter(|s| s.lost.is_some()).collect();
        if absent.is_empty() {
            return Ok(());
        }
        let offsets = Offsets::of(self.folder);
        let found: Vec<(&Skipped, Offset)> = absent
            .iter()
            .take(20)
            .filter_map(|s| offsets.find(&s.file).map(|o| (*s, o)))
            .collect();
        if let Some((first, offset)) = systematic(&found, absent.len().min(20)) {
            return Err(DataError::ImagesOff {
                dataset: self.dataset,
                listed_in: self.listed_in.to_owned(),
                absent: absent.len(),
                folder: format!("`{}`", self.folder.display()),
                hint: format!("{} ({})", offset.describe(&first.file), first.reason),
            });
        }
        if let Some((first, offset)) = found.first() {
            // Another folder holds a file of that name: a deleted image, or a row in the
            // wrong folder; said, never refused.
            tracing::warn!(
                "{}: {} ({})",
                self.listed_in,
                offset.describe(&first.file),
                first.reason
            );
        }
        // Rows naming images outside the folder: a lone one (a stray `../x.jpg`) is skipped
        // and listed; two or more are the label file's way of writing paths.
        let outside: Vec<&Skipped> = absent
            .iter()
            .copied()
            .filter(|s| s.lost == Some(Lost::OutsideRoot))
            .collect();
        let images_outside: Vec<&&Skipped> = outside
            .iter()
            .take(20)
            .filter(|s| {
                let written = crate::locate::file_uri_path(&s.file)
                    .unwrap_or_else(|| s.file.replace('\\', "/"));
                self.folder.join(written).is_file()
            })
            .collect();
        match images_outside[..] {
            [first, _, ..] => Err(DataError::ImagesOutside {
                dataset: self.dataset,
                listed_in: self.listed_in.to_owned(),
                count: outside.len(),
                first: first.file.clone(),
                folder: format!("`{}`", self.folder.display()),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a label file none of whose relative paths names an image (every skipped
    /// file absent or leaving the folder, and of the files `found`, as listed, none
    /// relative): the dataset would be empty, or hold only the few rows written absolute.
    /// The error names the first listed path, where it was looked for, what the folder
    /// holds, and, when the paths carry a leading folder the disk does not have
    /// (`fairface/train/1.jpg` for `train/1.jpg`) or lack one it has, which.
    ///
    /// # Errors
    /// [`DataError::ImagesNotFound`].
    pub(crate) fn refuse_none_found<'f>(
        &self,
        found: impl IntoIterator<Item = &'f str>,
        skipped: &[Skipped],
    ) -> Result<()> {
        let found = found
            .into_iter()
            .filter(|f| !crate::locate::is_absolute(f))
            .count();
        // Absent, or a path that leaves the folder (absolute, `../`): either way not there.
        let absent = |s: &Skipped| s.lost.is_some();
        let Some(first) = skipped.first() else {
            return Ok(());
        };
        if found > 0 || !skipped.iter().all(absent) {
            return Ok(());
        }
        let mut found = describe(self.folder);
        if let Some(mut offset) = Offsets::of(self.folder).find(&first.file) {
            offset.every_row = true;
            let hint = offset.describe(&first.file);
            found = format!("{found}; {hint}");
        }
        Err(DataError::ImagesNotFound {
            dataset: self.dataset,
            expected: format!(
                "image listed in {} ({} listed, the first `{}`)",
                self.listed_in,
                skipped.len(),
                first.file
            ),
            looked_in: self.folder.display().to_string(),
            found,
            hint: self.hint,
        })
    }
}

/// The offset most of the `checked` absent rows share, when it is one to refuse: rows that
/// climb out with `../`; or that carry or lack a leading folder, in at least two rows and
/// half of those checked (or the one absent row). A replaced folder is never one.
pub(crate) fn systematic<'a>(
    found: &'a [(&'a Skipped, Offset)],
    checked: usize,
) -> Option<&'a (&'a Skipped, Offset)> {
    let mut counts: HashMap<&Shift, usize> = HashMap::new();
    for (_, offset) in found {
        *counts.entry(&offset.shift).or_default() += 1;
    }
    let (shift, n) = counts.into_iter().max_by_key(|(_, n)| *n)?;
    let refuse = match shift {
        Shift::Replaces { .. } => false,
        Shift::Climbs => true,
        Shift::Carries { .. } | Shift::Lacks { .. } => checked == 1 || (n >= 2 && 2 * n >= checked),
    };
    refuse
        .then(|| found.iter().find(|(_, o)| &o.shift == shift))
        .flatten()
}

/// The folders a listed path may be off by: the folder itself and the folders one and two
/// levels below it, listed once to look many paths up.
pub(crate) struct Offsets {
    folder: PathBuf,
    bases: Vec<PathBuf>,
}

impl Offsets {
    /// The folders around `folder`.
    pub(crate) fn of(folder: &Path) -> Self {
        let below = subfolders(folder);
        // Two levels down where the first holds few folders (splits, classes), not where it
        // holds thousands (one per identity): each is looked in for every path.
        let further: Vec<PathBuf> = if below.len() <= 100 {
            below.iter().flat_map(|f| subfolders(f)).collect()
        } else {
            Vec::new()
        };
        let bases = std::iter::once(folder.to_owned())
            .chain(below)
            .chain(further)
            .collect();
        Self {
            folder: folder.to_owned(),
            bases,
        }
    }

    /// Where the file listed as `listed` is when its path is a folder or two off: with its
    /// leading folders dropped, or whole, in the folder or one or two folders down.
    pub(crate) fn find(&self, listed: &str) -> Option<Offset> {
        let climbs = listed.split(['/', '\\']).any(|p| p == "..");
        let parts: Vec<&str> = listed
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != "." && *p != "..")
            .collect();
        for base in &self.bases {
            let folder = base.strip_prefix(&self.folder).unwrap_or(base);
            let folder = folder.to_string_lossy().replace('\\', "/");
            for drop in 0..parts.len() {
                let rest = parts[drop..].join("/");
                if !base.join(&rest).is_file() {
                    continue;
                }
                let extra = parts[..drop].join("/");
                let shift = match (base == &self.folder, drop) {
                    (true, 0) if !climbs => continue, // the path as written: not off
                    (true, 0) => Shift::Climbs,
                    (true, _) => Shift::Carries { extra },
                    (false, 0) => Shift::Lacks { folder },
                    (false, _) => Shift::Replaces { extra, folder },
                };
                let at = [shift_folder(&shift), &rest].join("/");
                let at = at.trim_start_matches('/').to_owned();
                return Some(Offset {
                    at,
                    shift,
                    every_row: false,
                });
            }
        }
        None
    }
}

/// The folder a shifted path's file is in, below the dataset folder.
fn shift_folder(shift: &Shift) -> &str {
    match shift {
        Shift::Lacks { folder } | Shift::Replaces { folder, .. } => folder,
        Shift::Climbs | Shift::Carries { .. } => "",
    }
}

/// How a listed path is off, the same for every row a label file writes one way.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Shift {
    /// It climbs out with `../`: written relative to another folder.
    Climbs,
    /// It carries a leading folder the disk does not have.
    Carries {
        /// The leading folders to remove.
        extra: String,
    },
    /// It lacks a leading folder.
    Lacks {
        /// The folder to add.
        folder: String,
    },
    /// It starts with another folder than the disk's: also what a deleted image whose
    /// name another folder holds looks like (FairFace's `train/5.jpg` and `val/5.jpg`), so
    /// never reason enough to refuse.
    Replaces {
        /// The leading folders written.
        extra: String,
        /// The folder that holds the file.
        folder: String,
    },
}

/// Where a listed path's file is, and how the path is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offset {
    /// The file, below the dataset folder.
    pub at: String,
    /// How the path is off.
    pub shift: Shift,
    /// Whether no listed path names an image as written, so that the offset is the label
    /// file's way of writing paths rather than one row's.
    pub every_row: bool,
}

impl Offset {
    /// `` `listed` is at `at`: `` and what to change in the label file.
    pub(crate) fn describe(&self, listed: &str) -> String {
        let advice = match &self.shift {
            Shift::Climbs => "the paths climb out with `../`, written relative to another \
                              folder (the label file's own?); write them relative to the \
                              dataset folder"
                .to_owned(),
            Shift::Carries { extra } => format!(
                "the paths carry a leading `{extra}/` that the folder does not have; remove it \
                 from the label file"
            ),
            Shift::Lacks { folder } => {
                format!("the paths lack the leading `{folder}/`; add it in the label file")
            }
            // Every row off so: the label file's way of writing paths.
            Shift::Replaces { extra, folder } if self.every_row => format!(
                "the paths start with `{extra}/` where the folder has `{folder}/`; write that \
                 in the label file"
            ),
            Shift::Replaces { extra, folder } => format!(
                "a file of that name is in `{folder}/`, not `{extra}/`: an image deleted from \
                 `{extra}/`, or a row whose folder is wrong (check which before changing it)"
            ),
        };
        format!("`{listed}` is at `{}`: {advice}", self.at)
    }
}

fn has_file(folder: &Path, wanted: impl Fn(&str) -> bool) -> bool {
    std::fs::read_dir(folder).is_ok_and(|entries| {
        entries
            .filter_map(|e| e.ok())
            .any(|e| e.path().is_file() && e.file_name().to_str().is_some_and(&wanted))
    })
}

fn subfolders(folder: &Path) -> Vec<PathBuf> {
    // The entry's own type (no `stat` per image); a link followed.
    let is_folder = |e: &std::fs::DirEntry| match e.file_type() {
        Ok(t) if t.is_symlink() => e.path().is_dir(),
        Ok(t) => t.is_dir(),
        Err(_) => false,
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(is_folder)
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}
