//! The authors' layout: `train/<class>/*.jpg`, `test/<class>/*.jpg` (optional `val/`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::layout::{Offset, Shift};
use crate::error::{DataError, Result, TwoListings};
use crate::sample::{FaceSample, Skipped, Split};
use crate::split::{SplitConfig, assemble};

/// Class folders per split. Sensitive attributes come from an optional side CSV
/// (`path,<attr>...`, paths relative to `root` such as `train/Male/1.jpg`); without one every
/// image is in the group `all`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolder {
    /// The folder holding `train/` and `test/`.
    pub root: PathBuf,
    /// Side CSV with the sensitive attributes (relative to `root` unless absolute).
    #[serde(default)]
    pub groups_csv: Option<PathBuf>,
    /// Its attribute columns (default: every column but `path`).
    #[serde(default)]
    pub sensitive: Vec<String>,
}

/// Why an image is skipped when the groups CSV has no row for it.
const NO_ROW: &str = "no row in the groups CSV";

/// The sensitive attributes of the side CSV: their names and, per image path, the values.
struct SideGroups {
    names: Vec<String>,
    by_path: HashMap<String, Vec<String>>,
    /// The rows' path keys by their lower-case form.
    by_folded: HashMap<String, Vec<String>>,
    /// Without a groups CSV, every image's values (`all`).
    everyone: Option<Vec<String>>,
    /// The rows an image took, to list those that fit none.
    used: HashMap<String, String>,
    /// The images looked up, by their lower-case path key, to say what a row that fits
    /// none in its own spelling fits in another.
    images: HashMap<String, Vec<String>>,
    /// The images no row fits, as the folder names them (`train/Male/1.jpg`).
    unmatched: Vec<String>,
}

impl SideGroups {
    fn new(names: Vec<String>, by_path: HashMap<String, Vec<String>>) -> Self {
        let mut by_folded: HashMap<String, Vec<String>> = HashMap::new();
        for key in by_path.keys() {
            by_folded
                .entry(key.to_lowercase())
                .or_default()
                .push(key.clone());
        }
        Self {
            names,
            by_path,
            by_folded,
            everyone: None,
            used: Default::default(),
            images: Default::default(),
            unmatched: Vec::new(),
        }
    }

    /// The values of the image at `relative` (`train/Male/1.jpg`): its row however the row
    /// spells the path, and in any letter case where one row alone fits and `exact_only`
    /// is not set (a CSV written on Windows or macOS, whose disks match names in any case;
    /// set where the folder holds two names differing only in case, which one row cannot
    /// tell apart).
    fn values_of(&mut self, relative: &str, exact_only: bool) -> Option<Vec<String>> {
        let values = self.row_of(relative, exact_only);
        if values.is_none() {
            self.unmatched.push(relative.to_owned());
        }
        values
    }

    /// [`Self::values_of`], without noting the images no row fits.
    fn row_of(&mut self, relative: &str, exact_only: bool) -> Option<Vec<String>> {
        if let Some(everyone) = &self.everyone {
            return Some(everyone.clone());
        }
        let key = super::label_values::path_key(relative);
        let folded = key.to_lowercase();
        self.images
            .entry(folded.clone())
            .or_default()
            .push(relative.to_owned());
        let row = if self.by_path.contains_key(&key) {
            key
        } else {
            match self.by_folded.get(&folded)?.as_slice() {
                [one] if !exact_only => one.clone(),
                _ => return None,
            }
        };
        let values = self.by_path.get(&row).cloned();
        self.used.insert(row, relative.to_owned());
        values
    }

    /// The rows no image took (paths as keyed: the root's path removed), each skipped
    /// with what it fits in another letter case: nothing, or several images.
    ///
    /// # Errors
    /// A row that is another row's image in another letter case (`TRAIN/MALE/1.JPG` beside
    /// `train/male/1.jpg`): one image's groups given twice.
    fn unused(&self, csv: &Path) -> Result<Vec<Skipped>> {
        let taken: HashMap<&String, &String> =
            self.used.iter().map(|(row, image)| (image, row)).collect();
        let mut rows: Vec<&String> = self
            .by_path
            .keys()
            .filter(|k| !self.used.contains_key(*k))
            .collect();
        rows.sort();
        let mut skipped = Vec::new();
        for row in rows {
            let fits = self
                .images
                .get(&row.to_lowercase())
                .map_or(&[][..], Vec::as_slice);
            let reason = match fits {
                [] => "a row of the groups CSV that fits no image".to_owned(),
                [image] => {
                    return Err(DataError::ListedTwice {
                        dataset: "imagefolder",
                        listings: Box::new(TwoListings {
                            first: taken.get(image).map_or_else(String::new, |r| (*r).clone()),
                            first_in: csv.display().to_string(),
                            second: row.clone(),
                            second_in: csv.display().to_string(),
                        }),
                        image: PathBuf::from(image),
                    });
                }
                many => format!(
                    "a row of the groups CSV that fits {} images differing only in letter \
                     case ({}): write it as the disk spells the one meant",
                    many.len(),
                    many.iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            skipped.push(Skipped {
                lost: None,
                split: None,
                file: row.clone(),
                reason,
            });
        }
        Ok(skipped)
    }
}

impl ImageFolder {
    /// Default settings for `root`.
    pub fn new(root: PathBuf) -> Self {
        Self {
            root,
            groups_csv: None,
            sensitive: Vec::new(),
        }
    }

    /// The root's split folders, named as the tools that write them do (`train/`,
    /// `valid/` as Roboflow exports, `Test/`; see [`Split::parse`]).
    fn split_folders(&self) -> Result<BTreeMap<Split, PathBuf>> {
        if !self.root.exists() {
            return Err(DataError::MissingFile {
                dataset: "imagefolder",
                expected: "the dataset folder, holding train/<class>/<image>",
                path: self.root.clone(),
                hint: "arrange images as <root>/{train,val,test}/<class>/<image>",
            });
        }
        let entries = std::fs::read_dir(&self.root).map_err(|e| DataError::io(&self.root, e))?;
        let mut found: BTreeMap<Split, Vec<PathBuf>> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !is_folder(&entry) {
                continue;
            }
            match name.to_str().and_then(Split::parse) {
                Some(split) => found.entry(split).or_default().push(entry.path()),
                None if !not_a_class(&name.to_string_lossy()) => tracing::warn!(
                    folder = %entry.path().display(),
                    "imagefolder: not a split folder (train, val or test, or training, valid, \
                     validation, dev, testing): left out"
                ),
                None => {}
            }
        }
        let mut folders = BTreeMap::new();
        for (split, mut dirs) in found {
            dirs.sort();
            // The exact name wins over the other spellings (`val/` beside `valid/`), which
            // are left out, saying so: the layouts read before keep their splits.
            let exact = dirs
                .iter()
                .position(|d| d.file_name().is_some_and(|n| n == split.name()));
            if let Some(exact) = exact.filter(|_| dirs.len() > 1) {
                let chosen = dirs.remove(exact);
                for other in &dirs {
                    tracing::warn!(
                        folder = %other.display(),
                        chosen = %chosen.display(),
                        "imagefolder: another folder of the {} split, left out",
                        split.name()
                    );
                }
                dirs = vec![chosen];
            }
            if let [one] = &dirs[..] {
                folders.insert(split, one.clone());
                continue;
            }
            let names: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
            return Err(DataError::Config(format!(
                "imagefolder: {} folders hold the {} split: {}; keep one (or merge them)",
                dirs.len(),
                split.name(),
                names.join(", ")
            )));
        }
        if !folders.contains_key(&Split::Train) {
            return Err(self.no_train_folder());
        }
        Ok(folders)
    }

    /// The error for a root without a train folder: what it holds, and the folder one
    /// level down that holds one (an archive's own top folder).
    fn no_train_folder(&self) -> DataError {
        let below: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                std::fs::read_dir(e.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|f| f.file_name().to_str().and_then(Split::parse) == Some(Split::Train))
            })
            .map(|e| format!(" (`{}` holds one: give that folder)", e.path().display()))
            .collect();
        DataError::ImagesNotFound {
            dataset: "imagefolder",
            expected: "train folder (train/<class>/<image>; also training/, Train/)".to_owned(),
            looked_in: self.root.display().to_string(),
            found: format!(
                "{}{}",
                super::layout::describe(&self.root),
                below.first().map_or("", String::as_str)
            ),
            hint: "arrange images as <root>/{train,val,test}/<class>/<image>",
        }
    }

    /// The images of one split folder, a class per subfolder. Folders that are no class
    /// ([`not_a_class`]) are passed over; files beside the class folders are skipped with
    /// the reason.
    fn read_split(
        &self,
        dir: &Path,
        side: &mut SideGroups,
        images: &mut HashMap<PathBuf, String>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<Vec<FaceSample>> {
        let split_name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut samples = Vec::new();
        // The split folder itself counts as read: a class linking back to it is a loop.
        let mut visited = std::collections::HashSet::from_iter(dir.canonicalize().ok());
        for entry in sorted_entries(dir)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = format!("{split_name}/{name}");
            if !is_folder(&entry) {
                if let Some(why) = broken_link(&entry) {
                    // A class folder (or an image) linked from a disk not mounted.
                    skipped.push(Skipped {
                        lost: why.lost(),
                        split: None,
                        file: relative,
                        reason: why.reason("the split folder"),
                    });
                } else if let Some(reason) = no_image_reason(&name) {
                    skipped.push(Skipped {
                        lost: None,
                        split: None,
                        file: relative,
                        reason: reason.to_owned(),
                    });
                } else if super::is_image(&name) {
                    skipped.push(Skipped {
                        lost: None,
                        split: None,
                        file: relative,
                        reason: "an image beside the class folders: in no class".to_owned(),
                    });
                }
                continue;
            }
            if !not_a_class(&name) {
                let mut class = Class {
                    name: &name,
                    side,
                    visited: &mut visited,
                    images,
                };
                class.read(&entry.path(), &relative, &mut samples, skipped)?;
            }
        }
        Ok(samples)
    }

    fn read_groups(&self) -> Result<SideGroups> {
        let Some(csv) = &self.groups_csv else {
            return Ok(SideGroups {
                everyone: Some(vec!["all".to_owned()]),
                ..SideGroups::new(vec!["group".to_owned()], HashMap::new())
            });
        };
        let path = self.root.join(csv);
        let text = crate::text::read_csv(&path)?;
        let (header, mut reader) = text.header(&path)?;
        let path_col = header.require("path", &path)?;
        let names: Vec<String> = if self.sensitive.is_empty() {
            // Every named column but the path's: pandas' index and R's row names are unnamed.
            let others = (0..header.names().len())
                .filter(|&i| i != path_col && !header.names()[i].is_empty());
            others.map(|i| header.names()[i].clone()).collect()
        } else {
            self.sensitive.clone()
        };
        let cols: Vec<usize> = names
            .iter()
            .map(|n| header.require(n, &path))
            .collect::<Result<_>>()?;
        let mut groups = HashMap::new();
        let mut spellings = super::label_values::Spellings::default();
        let mut listed = super::label_values::Listed::default();
        let locator = crate::locate::Locator::new(&self.root);
        for record in reader.records() {
            let record = record.map_err(|e| text.error(&path, &e))?;
            let line = text.line(&record);
            header.refuse_repeat(&record, line, &path)?;
            for (&c, name) in cols.iter().zip(&names) {
                let value = record.get(c).unwrap_or("");
                super::label_values::check_group(value, name, line, &path)?;
                spellings.check(name, value, line, &path)?;
            }
            let written = record.get(path_col).unwrap_or("");
            // An absolute path into the root is the image below it.
            let below = locator.relative(written);
            let key = super::label_values::path_key(below.as_deref().unwrap_or(written));
            // Twice however spelled: `./a.jpg`, `a.jpg` and its absolute path are one row.
            listed.check_as(key.clone(), written, line, &path)?;
            groups.insert(
                key,
                cols.iter()
                    .map(|&c| super::label_values::canonical(record.get(c).unwrap_or("")))
                    .collect(),
            );
        }
        Ok(SideGroups::new(names, groups))
    }

    /// Lists the class folders of each split folder.
    ///
    /// # Errors
    /// No train folder (saying what the root holds, and where a `train/` one level down
    /// is), two folders of one split (`val/` and `valid/`), an unreadable folder, or a
    /// groups CSV that cannot be read or matches no image.
    pub fn load(&self, config: &SplitConfig) -> Result<crate::FaceDataset> {
        let folders = self.split_folders()?;
        let mut side = self.read_groups()?;
        // Every image read, by its path with links resolved: a link to one read before (in
        // another split, too) is the same image twice.
        let mut images: HashMap<PathBuf, String> = HashMap::new();
        let mut official: BTreeMap<Split, Vec<FaceSample>> = BTreeMap::new();
        let mut skipped = Vec::new();
        for (split, dir) in &folders {
            let before = skipped.len();
            let samples = self.read_split(dir, &mut side, &mut images, &mut skipped)?;
            for file in &mut skipped[before..] {
                file.split = Some(*split);
            }
            if !samples.is_empty() {
                official.insert(*split, samples);
            }
        }
        let unmatched = side.unmatched.len();
        if official.is_empty() && unmatched > 0 && !side.by_path.is_empty() {
            let mut rows: Vec<&String> = side.by_path.keys().collect();
            rows.sort();
            return Err(DataError::Config(format!(
                "imagefolder: none of the {unmatched} images has a row in {}: its paths read \
                 like `{}`, the images are `{}`; write each path relative to {} \
                 (split/class/file)",
                self.groups_csv
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display(),
                rows[0],
                side.unmatched[0],
                self.root.display()
            )));
        }
        if official.is_empty() && skipped.is_empty() {
            // Split folders without one image in a class folder: nothing to train on.
            return Err(DataError::ImagesNotFound {
                dataset: "imagefolder",
                expected: "image in a class folder (train/<class>/<image>)".to_owned(),
                looked_in: folders
                    .values()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                found: super::layout::describe(&folders[&Split::Train]),
                hint: "arrange images as <root>/{train,val,test}/<class>/<image>",
            });
        }
        if let Some(csv) = &self.groups_csv {
            let rows = side.unused(&self.root.join(csv))?;
            self.refuse_rows_off(&rows, &side.unmatched, csv)?;
            skipped.extend(rows);
        }
        Ok(assemble(
            "imagefolder",
            &self.root,
            "class",
            side.names.clone(),
            official,
            skipped,
            config,
        ))
    }
}

impl ImageFolder {
    /// Refuses a groups CSV some of whose rows name an image by another path than the
    /// folder's (`Male/1.jpg` for `train/Male/1.jpg`; a path relative to the CSV's own
    /// folder): the image has no row and the row fits no image, so both would be left out
    /// with no error.
    ///
    /// # Errors
    /// [`DataError::ImagesOff`], naming the first such row, its image and what differs.
    fn refuse_rows_off(&self, rows: &[Skipped], unmatched: &[String], csv: &Path) -> Result<()> {
        // Each image without a row by the paths that end it: `train/Male/1.jpg`,
        // `Male/1.jpg`, `1.jpg`.
        let mut by_ending: HashMap<&str, &str> = HashMap::new();
        for file in unmatched {
            let file = file.as_str();
            by_ending.insert(file, file);
            for (i, _) in file.match_indices('/') {
                by_ending.entry(&file[i + 1..]).or_insert(file);
            }
        }
        let found: Vec<(&Skipped, Offset)> = rows
            .iter()
            .take(20)
            .filter_map(|row| {
                let (ending, image) = image_ending(&row.file, &by_ending)?;
                let extra = row.file[..row.file.len() - ending.len()].trim_end_matches('/');
                let folder = image[..image.len() - ending.len()].trim_end_matches('/');
                let shift = match (extra.is_empty(), folder.is_empty()) {
                    (true, _) => Shift::Lacks {
                        folder: folder.to_owned(),
                    },
                    (false, true) => Shift::Carries {
                        extra: extra.to_owned(),
                    },
                    (false, false) => Shift::Replaces {
                        extra: extra.to_owned(),
                        folder: folder.to_owned(),
                    },
                };
                Some((
                    row,
                    Offset {
                        at: image.to_owned(),
                        shift,
                        every_row: false,
                    },
                ))
            })
            .collect();
        let Some((row, offset)) = super::layout::systematic(&found, rows.len().min(20)) else {
            if let Some((row, offset)) = found.first() {
                // A stale row beside an image of the same name elsewhere: said, not refused.
                tracing::warn!(
                    "{}: {} (no image fits the row)",
                    csv.display(),
                    offset.describe(&row.file)
                );
            }
            return Ok(());
        };
        let hint = format!(
            "{}: the image has no row and the row fits no image",
            offset.describe(&row.file)
        );
        Err(DataError::ImagesOff {
            dataset: "imagefolder",
            listed_in: csv.display().to_string(),
            absent: rows.len(),
            folder: format!("`{}`", self.root.display()),
            hint,
        })
    }
}

/// Why `entry` is a link that names nothing (pointing at nothing, or looping); `None` for
/// anything else.
fn broken_link(entry: &std::fs::DirEntry) -> Option<crate::locate::NotFound> {
    let link = entry.file_type().is_ok_and(|t| t.is_symlink());
    (link && std::fs::metadata(entry.path()).is_err())
        .then(|| crate::locate::unresolved(&entry.path()))
}

impl Class<'_> {
    /// Refuses an image read before under another path: a link to it (`test/male/leak.jpg
    /// -> ../../train/male/1.jpg` would put a training image in the test split).
    ///
    /// # Errors
    /// [`DataError::ListedTwice`] naming both paths.
    fn refuse_seen(&mut self, entry: &std::fs::DirEntry, folder: &Path, file: &str) -> Result<()> {
        let link = entry.file_type().is_ok_and(|t| t.is_symlink());
        // No `stat` per image: a plain file is its folder's resolved path and its name.
        let resolved = match link {
            true => entry
                .path()
                .canonicalize()
                .map_err(|e| DataError::io(&entry.path(), e))?,
            false => folder.join(entry.file_name()),
        };
        let Some(first) = self.images.get(&resolved) else {
            self.images.insert(resolved, file.to_owned());
            return Ok(());
        };
        Err(DataError::ListedTwice {
            dataset: "imagefolder",
            listings: Box::new(TwoListings {
                first: first.clone(),
                first_in: "an image".to_owned(),
                second: file.to_owned(),
                second_in: "a link to it".to_owned(),
            }),
            image: resolved,
        })
    }
}

/// The image without a row that `row` names a folder or two off: the row's whole path ends
/// the image's, or one of the row's endings is it. The row's ending that fits, and the
/// image.
fn image_ending<'r, 'i>(
    row: &'r str,
    by_ending: &HashMap<&str, &'i str>,
) -> Option<(&'r str, &'i str)> {
    std::iter::once(row)
        .chain(row.match_indices('/').map(|(i, _)| &row[i + 1..]))
        .find_map(|ending| by_ending.get(ending).map(|image| (ending, *image)))
}

/// One class folder being read: its name is the label of every image below it.
struct Class<'a> {
    name: &'a str,
    side: &'a mut SideGroups,
    /// The folders read so far, links resolved: a link back to one (`up -> ..`) would
    /// read it again, or forever.
    visited: &'a mut std::collections::HashSet<PathBuf>,
    /// The images read so far, by their path with links resolved.
    images: &'a mut HashMap<PathBuf, String>,
}

impl Class<'_> {
    /// The images of `folder` (`relative`: `train/Male`) and of its subfolders, as
    /// torchvision's `ImageFolder` walks them. Each image gets its row of the groups CSV
    /// (`all` without one); files that are no image are passed over, and image files that
    /// cannot be read (`._` copies, HEIC, names that are not UTF-8) skipped with the reason.
    fn read(
        &mut self,
        folder: &Path,
        relative: &str,
        samples: &mut Vec<FaceSample>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<()> {
        let canonical = folder
            .canonicalize()
            .map_err(|e| DataError::io(folder, e))?;
        if !self.visited.insert(canonical.clone()) {
            skipped.push(Skipped {
                lost: None,
                split: None,
                file: format!("{relative}/"),
                reason: "a link to a folder already read (a loop, or the same images twice)"
                    .to_owned(),
            });
            return Ok(());
        }
        let entries = sorted_entries(folder)?;
        let cased = case_counts(&entries);
        for entry in entries {
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file: format!("{relative}/{}", os_name.to_string_lossy()),
                    reason: "file name is not valid UTF-8".to_owned(),
                });
                continue;
            };
            let file = format!("{relative}/{name}");
            if is_folder(&entry) {
                if !not_a_class(name) {
                    self.read(&entry.path(), &file, samples, skipped)?;
                }
                continue;
            }
            if let Some(reason) = unreadable(name, &entry) {
                skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file,
                    reason,
                });
                continue;
            }
            if !super::is_image(name) {
                continue;
            }
            self.refuse_seen(&entry, &canonical, &file)?;
            let exact_only = cased.get(&name.to_lowercase()).is_some_and(|n| *n > 1);
            let attributes = if let Some(values) = self.side.values_of(&file, exact_only) {
                values
            } else {
                skipped.push(Skipped {
                    lost: None,
                    split: None,
                    file,
                    reason: NO_ROW.to_owned(),
                });
                continue;
            };
            samples.push(FaceSample {
                path: entry.path(),
                file,
                // One class however the disk writes its accents (macOS: decomposed).
                target: self.name.nfc().collect(),
                sensitive: attributes,
            });
        }
        Ok(())
    }
}

/// How many entries of a folder share each lower-case name: names that differ only in
/// letter case are matched to a row only as spelled.
fn case_counts(entries: &[std::fs::DirEntry]) -> HashMap<String, usize> {
    let mut cased: HashMap<String, usize> = HashMap::new();
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_lowercase();
        *cased.entry(name).or_default() += 1;
    }
    cased
}

/// Why a file of a class folder that is no folder cannot be read as an image: a `._` copy,
/// a format not decoded (HEIC, AVIF), or a link that loops or points at nothing (an
/// image's, or a folder's of images whatever its name, said either way).
fn unreadable(name: &str, entry: &std::fs::DirEntry) -> Option<String> {
    if let Some(reason) = no_image_reason(name) {
        return Some(reason.to_owned());
    }
    broken_link(entry).map(|why| why.reason("the class folder"))
}

/// Whether an entry is a folder, following a link: the entry's own type where it is no
/// link (no `stat` per image).
fn is_folder(entry: &std::fs::DirEntry) -> bool {
    match entry.file_type() {
        Ok(t) if t.is_symlink() => entry.path().is_dir(),
        Ok(t) => t.is_dir(),
        Err(_) => false,
    }
}

/// The entries of `folder`, by name.
fn sorted_entries(folder: &Path) -> Result<Vec<std::fs::DirEntry>> {
    let mut entries: Vec<_> = std::fs::read_dir(folder)
        .map_err(|e| DataError::io(folder, e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

/// Folders that are never a class nor hold one: hidden ones (Jupyter's
/// `.ipynb_checkpoints`, `.git`), `__MACOSX` (a macOS zip's), `__pycache__`, a NAS's own
/// (Synology's `@eaDir`, QNAP's `@Recycle`, `#recycle`), Windows' `$RECYCLE.BIN` and
/// `System Volume Information`, `lost+found`.
fn not_a_class(name: &str) -> bool {
    name.starts_with(['.', '@', '#', '$'])
        || name.starts_with("__")
        || ["System Volume Information", "lost+found"].contains(&name)
}

/// Why a file named like an image is none we read: a macOS `._` copy, HEIC or AVIF.
fn no_image_reason(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("._") {
        Some("a macOS metadata file (`._` copy), not an image")
    } else if [".heic", ".heif", ".avif"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        Some("HEIC and AVIF are not read: convert it to JPEG or PNG")
    } else {
        None
    }
}
