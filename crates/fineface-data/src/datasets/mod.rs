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

use crate::error::Result;
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

impl DatasetConfig {
    /// Every kind [`with_root`](Self::with_root) knows, as configs and the command line name
    /// them.
    pub const KINDS: [&'static str; 7] = [
        "fairface",
        "utkface",
        "celeba",
        "lfwa",
        "manifest",
        "imagefolder",
        "synthface",
    ];

    /// The default configuration of a dataset kind at `root`.
    pub fn with_root(kind: &str, root: PathBuf) -> Option<Self> {
        Some(match kind {
            "fairface" => Self::FairFace(FairFace::new(root)),
            "utkface" => Self::UtkFace(UtkFace::new(root)),
            "celeba" => Self::CelebA(CelebA::new(root)),
            "lfwa" => Self::Lfwa(Lfwa::new(root)),
            "manifest" => Self::Manifest(Manifest::new(root)),
            "imagefolder" => Self::ImageFolder(ImageFolder::new(root)),
            "synthface" => Self::SynthFace(SynthFace::new(root)),
            _ => return None,
        })
    }

    /// The kind as configs and the command line name it (`fairface`, `utkface`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FairFace(_) => "fairface",
            Self::UtkFace(_) => "utkface",
            Self::CelebA(_) => "celeba",
            Self::Lfwa(_) => "lfwa",
            Self::Manifest(_) => "manifest",
            Self::ImageFolder(_) => "imagefolder",
            Self::SynthFace(_) => "synthface",
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
    pub fn load(&self, split: &SplitConfig) -> Result<FaceDataset> {
        match self {
            Self::FairFace(d) => d.load(split),
            Self::UtkFace(d) => d.load(split),
            Self::CelebA(d) => d.load(split),
            Self::Lfwa(d) => d.load(split),
            Self::Manifest(d) => d.load(split),
            Self::ImageFolder(d) => d.load(split),
            Self::SynthFace(d) => d.load(split),
        }
    }
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
    use super::DatasetConfig;

    #[test]
    fn each_kind_names_itself_as_configs_spell_it() {
        for kind in [
            "fairface",
            "utkface",
            "celeba",
            "lfwa",
            "manifest",
            "imagefolder",
            "synthface",
        ] {
            let config = DatasetConfig::with_root(kind, "data".into()).unwrap();
            assert_eq!(config.kind(), kind);
            assert_eq!(config.root(), std::path::Path::new("data"));
            // The same spelling as the `kind` key of a config file.
            let value = serde_json::to_value(&config).unwrap();
            assert_eq!(value["kind"], kind);
        }
    }
}
