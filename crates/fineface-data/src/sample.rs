//! The one data path: files -> [`FaceSample`] -> batches -> predictions -> fairness report.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One labelled face image. Sensitive attributes travel with the sample to the report;
/// training code reads only `path` and `target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceSample {
    /// The image on disk.
    pub path: PathBuf,
    /// The image's name as the dataset lists it (relative to the root).
    pub file: String,
    /// The target label (`Male`, `Smiling`, ...).
    pub target: String,
    /// One value per sensitive attribute, in [`FaceDataset::sensitive`] order.
    pub sensitive: Vec<String>,
}

impl FaceSample {
    /// The compound group name, values joined with `|` (`Black|Female`).
    pub fn group(&self) -> String {
        self.sensitive.join("|")
    }
}

/// A file that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The file as listed or found.
    pub file: String,
    /// Why it was left out.
    pub reason: String,
}

/// The three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training images.
    Train,
    /// Model selection (carved from training data unless the dataset has an official one).
    Val,
    /// Final evaluation; never used to choose a checkpoint.
    Test,
}

impl Split {
    /// All splits in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    /// `train`, `val` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

/// A loaded dataset: samples per split, the names of the target and sensitive attributes,
/// and every file that was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceDataset {
    /// `fairface`, `utkface`, `celeba`, `lfwa`, `manifest` or `imagefolder`.
    pub name: String,
    /// The folder the user pointed at.
    pub root: PathBuf,
    /// The attribute the classifier predicts.
    pub target: String,
    /// Its labels, sorted.
    pub classes: Vec<String>,
    /// The sensitive attributes, in group-name order.
    pub sensitive: Vec<String>,
    /// Samples per split.
    pub splits: BTreeMap<Split, Vec<FaceSample>>,
    /// Files left out, with reasons.
    pub skipped: Vec<Skipped>,
    /// Why each empty split is empty (a carved split too small to hold an image); training
    /// refuses an empty split with this reason, `data check` warns with it.
    #[serde(default)]
    pub empty_splits: BTreeMap<Split, String>,
}

impl FaceDataset {
    /// The samples of one split (empty if the split has none).
    pub fn split(&self, split: Split) -> &[FaceSample] {
        self.splits.get(&split).map_or(&[], Vec::as_slice)
    }

    /// Number of usable samples over all splits.
    pub fn len(&self) -> usize {
        self.splits.values().map(Vec::len).sum()
    }

    /// Whether no sample is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The position of `sample`'s target in `classes`.
pub(crate) fn class_index(classes: &[String], sample: &FaceSample) -> crate::Result<usize> {
    classes
        .iter()
        .position(|c| *c == sample.target)
        .ok_or_else(|| crate::DataError::UnknownTarget {
            file: sample.file.clone(),
            value: sample.target.clone(),
            classes: classes.to_vec(),
        })
}

/// `root/relative`, or `None` when `relative` is absolute or climbs out of `root`
/// (`../../x.jpg`): listed paths come from files users download and must stay inside.
pub(crate) fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    // Label files written on Windows separate folders with `\`: one separator on every OS.
    let relative = relative.replace('\\', "/");
    // A drive (`C:/...`) is as absolute as `/...`, whatever the OS.
    let drive =
        relative.as_bytes().get(1) == Some(&b':') && relative.as_bytes()[0].is_ascii_alphabetic();
    let rel = Path::new(&relative);
    let safe = !relative.is_empty()
        && !drive
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    safe.then(|| root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_paths_stay_inside_the_root() {
        let root = Path::new("/data/fairface");
        assert_eq!(inside(root, "train/1.jpg"), Some(root.join("train/1.jpg")));
        assert_eq!(inside(root, "./val/2.jpg"), Some(root.join("./val/2.jpg")));
        assert_eq!(inside(root, "../../etc/passwd"), None);
        assert_eq!(inside(root, "train/../../x.jpg"), None);
        assert_eq!(inside(root, "/etc/passwd"), None);
        assert_eq!(inside(root, ""), None);
    }

    #[test]
    fn windows_separators_are_separators_on_every_os() {
        let root = Path::new("/data/faces");
        assert_eq!(
            inside(root, "images\\face_0.jpg"),
            Some(root.join("images/face_0.jpg"))
        );
        assert_eq!(inside(root, ".\\a\\b.png"), Some(root.join("./a/b.png")));
        assert_eq!(inside(root, "..\\..\\etc\\passwd"), None);
        assert_eq!(inside(root, "C:\\data\\x.jpg"), None);
        assert_eq!(inside(root, "\\\\server\\share\\x.jpg"), None);
    }
}
