//! The authors' layout: `train/<class>/*.jpg`, `test/<class>/*.jpg` (optional `val/`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
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
        }
    }

    /// The values of the image at `relative` (`train/Male/1.jpg`): its row however the row
    /// spells the path, in any letter case where one row alone fits (a CSV written on
    /// Windows or macOS, whose disks match names in any case).
    fn values_of(&self, relative: &str) -> Option<&Vec<String>> {
        let key = super::label_values::path_key(relative);
        self.by_path.get(&key).or_else(|| {
            match self.by_folded.get(&key.to_lowercase())?.as_slice() {
                [one] => self.by_path.get(one),
                _ => None,
            }
        })
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
        let entries = std::fs::read_dir(&self.root).map_err(|e| DataError::io(&self.root, e))?;
        let mut found: BTreeMap<Split, Vec<PathBuf>> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let split = name.to_str().and_then(Split::parse);
            if let Some(split) = split.filter(|_| entry.path().is_dir()) {
                found.entry(split).or_default().push(entry.path());
            }
        }
        let mut folders = BTreeMap::new();
        for (split, mut dirs) in found {
            dirs.sort();
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

    /// The images of one split folder, a class per subfolder. Hidden folders (Jupyter's
    /// `.ipynb_checkpoints`, `.git`) and macOS's `__MACOSX` are no class; files that are no
    /// image of a class (`._` copies, images beside the class folders, names that are not
    /// UTF-8) are skipped with the reason.
    fn read_split(
        &self,
        dir: &Path,
        side: &SideGroups,
        skipped: &mut Vec<Skipped>,
    ) -> Result<Vec<FaceSample>> {
        let split_name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| DataError::io(dir, e))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        let mut samples = Vec::new();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !entry.path().is_dir() {
                if super::is_image(&name) {
                    skipped.push(Skipped {
                        file: format!("{split_name}/{name}"),
                        reason: "an image beside the class folders: in no class".to_owned(),
                    });
                }
                continue;
            }
            if name.starts_with('.') || name == "__MACOSX" {
                continue;
            }
            self.read_class(
                &entry.path(),
                &format!("{split_name}/{name}"),
                side,
                &mut samples,
                skipped,
            )?;
        }
        Ok(samples)
    }

    /// The images of one class folder (`relative`: `train/Male`).
    fn read_class(
        &self,
        folder: &Path,
        relative: &str,
        side: &SideGroups,
        samples: &mut Vec<FaceSample>,
        skipped: &mut Vec<Skipped>,
    ) -> Result<()> {
        let class_name = folder
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map_err(|e| DataError::io(folder, e))?
            .flatten()
            .collect();
        files.sort_by_key(|e| e.file_name());
        for file in files {
            let os_name = file.file_name();
            let Some(name) = os_name.to_str() else {
                skipped.push(Skipped {
                    file: format!("{relative}/{}", os_name.to_string_lossy()),
                    reason: "file name is not valid UTF-8".to_owned(),
                });
                continue;
            };
            if !super::is_image(name) {
                continue;
            }
            let file_relative = format!("{relative}/{name}");
            if name.starts_with("._") {
                skipped.push(Skipped {
                    file: file_relative,
                    reason: "a macOS metadata file (`._` copy), not an image".to_owned(),
                });
                continue;
            }
            let attributes = if self.groups_csv.is_none() {
                vec!["all".to_owned()]
            } else if let Some(values) = side.values_of(&file_relative) {
                values.clone()
            } else {
                skipped.push(Skipped {
                    file: file_relative,
                    reason: NO_ROW.to_owned(),
                });
                continue;
            };
            samples.push(FaceSample {
                path: file.path(),
                file: file_relative,
                target: class_name.clone(),
                sensitive: attributes,
            });
        }
        Ok(())
    }

    fn read_groups(&self) -> Result<SideGroups> {
        let Some(csv) = &self.groups_csv else {
            return Ok(SideGroups::new(vec!["group".to_owned()], HashMap::new()));
        };
        let path = self.root.join(csv);
        let text = crate::text::read_csv(&path)?;
        let mut reader = crate::text::csv_reader(&text);
        let header = crate::text::Header::read(&mut reader, &path)?;
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
        for record in reader.records() {
            let record = record.map_err(|e| crate::text::csv_error(&path, &e))?;
            header.refuse_repeat(&record, &path)?;
            let line = record.position().map_or(0, |p| p.line());
            listed.check(record.get(path_col).unwrap_or(""), line, &path)?;
            for (&c, name) in cols.iter().zip(&names) {
                let value = record.get(c).unwrap_or("");
                super::label_values::check_group(value, name, line, &path)?;
                spellings.check(name, value, line, &path)?;
            }
            // An absolute path into the root is the image below it.
            let listed = record.get(path_col).unwrap_or("");
            let below = Path::new(listed).strip_prefix(&self.root).ok();
            let key = super::label_values::path_key(below.and_then(Path::to_str).unwrap_or(listed));
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
        let side = self.read_groups()?;
        let mut official: BTreeMap<Split, Vec<FaceSample>> = BTreeMap::new();
        let mut skipped = Vec::new();
        for (split, dir) in &folders {
            let samples = self.read_split(dir, &side, &mut skipped)?;
            if !samples.is_empty() {
                official.insert(*split, samples);
            }
        }
        let unmatched = skipped.iter().filter(|s| s.reason == NO_ROW).count();
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
                skipped
                    .iter()
                    .find(|s| s.reason == NO_ROW)
                    .map_or("", |s| s.file.as_str()),
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
        Ok(assemble(
            "imagefolder",
            &self.root,
            "class",
            side.names,
            official,
            skipped,
            config,
        ))
    }
}
