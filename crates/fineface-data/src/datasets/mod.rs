//! Loaders for each dataset's native layout.

pub(crate) mod celeba;
pub(crate) mod fairface;
mod image_folder;
mod label_values;
mod layout;
pub(crate) mod lfwa;
mod manifest;
mod synthface;
pub(crate) mod utkface;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use celeba::CelebA;
pub use fairface::FairFace;
pub use image_folder::ImageFolder;
pub use lfwa::Lfwa;
pub use manifest::Manifest;
pub use synthface::SynthFace;
pub use utkface::UtkFace;

use crate::error::{DataError, Result, RootProblem};
use crate::locate::Locator;
use crate::sample::FaceDataset;
use crate::split::SplitConfig;

/// A dataset as a user's config names it (`kind = "fairface"`, `root = "..."`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DatasetConfig {
    /// FairFace label CSVs and image folders.
    FairFace(FairFace),
    /// The UTKFace folder of labelled file names.
    UtkFace(UtkFace),
    /// CelebA's aligned images and annotation files.
    CelebA(CelebA),
    /// LFW images with the Columbia attribute table (LFWA+).
    Lfwa(Lfwa),
    /// Any dataset described by a CSV.
    Manifest(Manifest),
    /// `train/<class>/*.jpg`, `test/<class>/*.jpg`.
    ImageFolder(ImageFolder),
    /// The generated face-like dataset (made on first use).
    SynthFace(SynthFace),
}

/// The kinds of dataset, as configs (`kind = "fairface"`) and the command line name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// FairFace.
    FairFace,
    /// UTKFace.
    UtkFace,
    /// CelebA.
    CelebA,
    /// LFWA+.
    Lfwa,
    /// A manifest CSV.
    Manifest,
    /// An ImageFolder tree.
    ImageFolder,
    /// The generated SynthFace.
    SynthFace,
}

impl DatasetKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::FairFace,
        Self::UtkFace,
        Self::CelebA,
        Self::Lfwa,
        Self::Manifest,
        Self::ImageFolder,
        Self::SynthFace,
    ];

    /// The kind's name (`fairface`, `utkface`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::FairFace => "fairface",
            Self::UtkFace => "utkface",
            Self::CelebA => "celeba",
            Self::Lfwa => "lfwa",
            Self::Manifest => "manifest",
            Self::ImageFolder => "imagefolder",
            Self::SynthFace => "synthface",
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A dataset kind no loader reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown dataset kind `{0}` (one of fairface, utkface, celeba, lfwa, manifest, imagefolder, synthface)"
)]
pub struct UnknownKind(pub String);

impl std::str::FromStr for DatasetKind {
    type Err = UnknownKind;

    /// A kind's name, in any letter case.
    fn from_str(text: &str) -> std::result::Result<Self, UnknownKind> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownKind(text.to_owned()))
    }
}

impl DatasetConfig {
    /// The default configuration of a dataset kind at `root`.
    pub fn with_root(kind: DatasetKind, root: PathBuf) -> Self {
        match kind {
            DatasetKind::FairFace => Self::FairFace(FairFace::new(root)),
            DatasetKind::UtkFace => Self::UtkFace(UtkFace::new(root)),
            DatasetKind::CelebA => Self::CelebA(CelebA::new(root)),
            DatasetKind::Lfwa => Self::Lfwa(Lfwa::new(root)),
            DatasetKind::Manifest => Self::Manifest(Manifest::new(root)),
            DatasetKind::ImageFolder => Self::ImageFolder(ImageFolder::new(root)),
            DatasetKind::SynthFace => Self::SynthFace(SynthFace::new(root)),
        }
    }

    /// The dataset's kind.
    pub fn kind(&self) -> DatasetKind {
        match self {
            Self::FairFace(_) => DatasetKind::FairFace,
            Self::UtkFace(_) => DatasetKind::UtkFace,
            Self::CelebA(_) => DatasetKind::CelebA,
            Self::Lfwa(_) => DatasetKind::Lfwa,
            Self::Manifest(_) => DatasetKind::Manifest,
            Self::ImageFolder(_) => DatasetKind::ImageFolder,
            Self::SynthFace(_) => DatasetKind::SynthFace,
        }
    }

    /// The folder the dataset is read from.
    pub fn root(&self) -> &Path {
        match self {
            Self::FairFace(d) => &d.root,
            Self::UtkFace(d) => &d.root,
            Self::CelebA(d) => &d.root,
            Self::Lfwa(d) => &d.root,
            Self::Manifest(d) => &d.root,
            Self::ImageFolder(d) => &d.root,
            Self::SynthFace(d) => &d.root,
        }
    }

    /// The folder the dataset is read from, to change it.
    pub fn root_mut(&mut self) -> &mut PathBuf {
        match self {
            Self::FairFace(d) => &mut d.root,
            Self::UtkFace(d) => &mut d.root,
            Self::CelebA(d) => &mut d.root,
            Self::Lfwa(d) => &mut d.root,
            Self::Manifest(d) => &mut d.root,
            Self::ImageFolder(d) => &mut d.root,
            Self::SynthFace(d) => &mut d.root,
        }
    }

    /// Reads the labels, finds the images, and forms the splits.
    ///
    /// # Errors
    /// [`DataError::Root`] when the root is a file, or absent beside a folder whose name
    /// differs only in letter case; each loader's errors otherwise.
    pub fn load(&self, split: &SplitConfig) -> Result<FaceDataset> {
        check_root(self.kind().name(), self.root())?;
        let loaded = match self {
            Self::FairFace(d) => d.load(split),
            Self::UtkFace(d) => d.load(split),
            Self::CelebA(d) => d.load(split),
            Self::Lfwa(d) => d.load(split),
            Self::Manifest(d) => d.load(split),
            Self::ImageFolder(d) => d.load(split),
            Self::SynthFace(d) => d.load(split),
        };
        // Files the layout wants are absent: a library's export in their place says why.
        loaded.map_err(|error| match error {
            // No folder at all: that, not the first file it would hold, is the news.
            DataError::MissingFile { hint, .. } if !self.root().exists() => DataError::Root {
                dataset: self.kind().name(),
                problem: RootProblem::Absent {
                    root: self.root().to_owned(),
                    hint,
                },
            },
            DataError::MissingFile { .. } | DataError::ImagesNotFound { .. } => {
                export_in(self.root(), &error).map_or(error, |problem| DataError::Root {
                    dataset: self.kind().name(),
                    problem,
                })
            }
            other => other,
        })
    }
}

/// Refuses a root that is a file (the label CSV given for its folder), or absent while a
/// folder differing from it only in letter case is there. An absent root is otherwise each
/// loader's to name, with where the dataset is obtained (or SynthFace's to generate).
fn check_root(dataset: &'static str, root: &Path) -> Result<()> {
    let problem = if root.is_dir() {
        return Ok(());
    } else if root.is_file() {
        // The label CSV given for its folder: what holds it is meant.
        let parent = root.parent().filter(|p| !p.as_os_str().is_empty());
        RootProblem::IsAFile {
            root: root.to_owned(),
            parent: parent.unwrap_or(Path::new(".")).to_owned(),
        }
    } else if root.exists() {
        RootProblem::NotAFolder {
            root: root.to_owned(),
        }
    } else if std::fs::symlink_metadata(root).is_ok() {
        match crate::locate::unresolved(root) {
            crate::locate::NotFound::LinkLoop(target) => RootProblem::LinkLoop {
                root: root.to_owned(),
                target,
            },
            _ => RootProblem::BrokenLink {
                root: root.to_owned(),
                target: std::fs::read_link(root).unwrap_or_default(),
            },
        }
    } else {
        let candidates = respellings(root);
        if candidates.is_empty() {
            return Ok(());
        }
        RootProblem::DiffersInCase {
            root: root.to_owned(),
            candidates,
        }
    };
    Err(DataError::Root { dataset, problem })
}

/// The folders on disk that an absent `root` may be meant as: its name in another letter
/// case or Unicode form (one, or each of several that fit).
fn respellings(root: &Path) -> Vec<PathBuf> {
    let Ok(absolute) = std::path::absolute(root) else {
        return Vec::new();
    };
    let mut locator = Locator::new(Path::new("/"));
    let candidates = match locator.on_disk(&absolute.to_string_lossy()) {
        Ok(one) => vec![one],
        Err(crate::locate::NotFound::Ambiguous { folder, names }) => {
            names.iter().map(|n| folder.join(n)).collect()
        }
        Err(_) => Vec::new(),
    };
    candidates.into_iter().filter(|c| c.is_dir()).collect()
}

/// A dataset library's export in `root` or up to two folders below it (`data/`, as the
/// Hugging Face hub lays out a dataset; `celeb_a/2.1.0/` in TensorFlow Datasets' data
/// dir): Parquet, Arrow or TFRecord files. Files are told from folders by their entries'
/// types (no `stat` each), and the search stops at the first export file, level by level.
fn export_in(root: &Path, cause: &DataError) -> Option<RootProblem> {
    let mut level = vec![root.to_owned()];
    for _ in 0..3 {
        let mut below = Vec::new();
        for folder in &level {
            let Ok(listing) = std::fs::read_dir(folder) else {
                continue;
            };
            let mut entries: Vec<_> = listing.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    below.push(entry.path());
                } else if let Some(format) = export_format(&entry.file_name().to_string_lossy()) {
                    return Some(RootProblem::Export {
                        root: root.to_owned(),
                        format,
                        example: entry.path(),
                        cause: cause.to_string(),
                    });
                }
            }
        }
        level = below;
    }
    None
}

/// What a dataset library's file is, in words, by its name.
fn export_format(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    [
        (".parquet", "Parquet files (a Hugging Face dataset)"),
        (
            ".arrow",
            "Arrow files (a Hugging Face dataset saved with save_to_disk)",
        ),
        (".tfrecord", "TFRecord files (a TensorFlow Datasets build)"),
    ]
    .into_iter()
    .find(|(ext, _)| name.contains(ext))
    .map(|(_, format)| format)
}

/// Whether a file name has an image extension we decode.
pub(crate) fn is_image(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::{DatasetConfig, DatasetKind};

    #[test]
    fn each_kind_names_itself_as_configs_spell_it() {
        let names = [
            "fairface",
            "utkface",
            "celeba",
            "lfwa",
            "manifest",
            "imagefolder",
            "synthface",
        ];
        for (kind, name) in DatasetKind::ALL.into_iter().zip(names) {
            let config = DatasetConfig::with_root(kind, "data".into());
            assert_eq!(config.kind(), kind);
            assert_eq!(config.kind().name(), name);
            assert_eq!(config.root(), std::path::Path::new("data"));
            // The same spelling as the `kind` key of a config file, and read back from it in
            // any letter case.
            let value = serde_json::to_value(&config).unwrap();
            assert_eq!(value["kind"], name);
            assert_eq!(serde_json::to_value(kind).unwrap(), name);
            assert_eq!(name.to_uppercase().parse::<DatasetKind>(), Ok(kind));
        }
        let unknown = "imdb".parse::<DatasetKind>().unwrap_err().to_string();
        assert!(
            unknown.contains("`imdb`") && unknown.contains("synthface"),
            "{unknown}"
        );
    }
}
