//! Face-attribute datasets in their native layouts.
//!
//! Point a loader at the folder a dataset unpacks to; no re-layout by hand. Each sample
//! carries its target label and its sensitive attributes, which training ignores and
//! evaluation reports on:
//!
//! | dataset | expects under `root` | groups |
//! |---|---|---|
//! | [`FairFace`] | `fairface_label_{train,val}.csv`, `train/`, `val/` | 7 races x 2 genders |
//! | [`UtkFace`] | `UTKFace/[age]_[gender]_[race]_[datetime].jpg.chip.jpg` | 5 races x 2 genders |
//! | [`CelebA`] | `img_align_celeba/`, `list_attr_celeba.txt`, `list_eval_partition.txt` | any attributes (`Male`) |
//! | [`Lfwa`] | `lfw_attributes.txt`, `lfw/<Name>/<Name>_NNNN.jpg` | 4 races + Undefined x 2 genders |
//! | [`Manifest`] | a CSV `path,<target>,<sensitive...>[,split]` | named in the config |
//! | [`ImageFolder`] | `train/<class>/*.jpg`, `test/<class>/*.jpg`, optional groups CSV | from the CSV |
//! | [`SynthFace`] | nothing: generated into `root` on first use | 4 tones x 2 face shapes |
//!
//! Official splits are kept (FairFace's val is the test split); validation, and test where
//! there is none, are carved from training data, seeded and stratified by target x group
//! ([`SplitConfig`]). Files that cannot be used are skipped and listed with a reason, never
//! a panic; listed paths that leave the root (`../../x.jpg`) are rejected.
//!
//! ```no_run
//! use fineface_data::{DatasetConfig, DatasetKind, Split, SplitConfig};
//!
//! let config = DatasetConfig::with_root(DatasetKind::UtkFace, "../shared/data/utkface".into());
//! let dataset = config.load(&SplitConfig::default())?;
//! for sample in dataset.split(Split::Train) {
//!     println!("{} {} {}", sample.file, sample.target, sample.group());
//! }
//! # Ok::<(), fineface_data::DataError>(())
//! ```
//!
//! # Batches
//! [`BatchLoader`] is the loader training uses: parallel, and reproducible whatever the
//! number of threads. For Burn's data API, each split is a `burn_dataset::Dataset` of
//! samples ([`SplitDataset`], from [`FaceDataset::dataset`]), and with the `burn` feature
//! `FaceBatcher` turns samples into image and target tensors, so
//! `DataLoaderBuilder::new(batcher).batch_size(n).build(dataset)` works (see the README).

mod bad_image;
#[cfg(feature = "burn")]
mod batcher;
mod check;
mod dataset;
mod datasets;
mod error;
mod image_file;
mod loader;
mod locate;
mod sample;
mod split;
mod text;
mod transform;

pub use bad_image::BadImage;
#[cfg(feature = "burn")]
pub use batcher::{FaceBatch, FaceBatcher};
pub use check::{DataCheck, SplitCounts};
pub use dataset::SplitDataset;
pub use datasets::{
    CelebA, DatasetConfig, DatasetKind, FairFace, ImageFolder, Lfwa, Manifest, SynthFace,
    UnknownKind, UtkFace,
};
pub use error::{DataError, Result, RootProblem, TwoListings, error_chain};
pub use image_file::{
    FORMATS, ImageFileError, MAX_MEGAPIXELS, broken_link, image_size, open_image,
};
pub use loader::{BadImagePolicy, BatchLoader, ImageBatch, LoaderConfig, PrepareImage};
pub use sample::{ClassProblem, FaceDataset, FaceSample, LikeClass, Lost, Skipped, Split};
pub use split::{SplitConfig, stratified_split};
pub use transform::{IMAGENET_MEAN, IMAGENET_STD, ImageTensor, TransformConfig};

/// The label-file parsers, for tools that need the raw labels.
pub mod formats {
    /// FairFace label CSVs.
    pub mod fairface {
        pub use crate::datasets::fairface::{
            AGES, FairFaceRow, GENDERS, RACES, SERVICE_TEST_SPELLINGS, read_labels,
        };
    }
    /// UTKFace file names.
    pub mod utkface {
        pub use crate::datasets::utkface::{GENDERS, MAX_AGE, RACES, UtkLabels, parse_name};
    }
    /// CelebA annotation files.
    pub mod celeba {
        pub use crate::datasets::celeba::{
            ATTRIBUTES, AttributeTable, attribute_label, read_attributes, read_attributes_csv,
            read_partition, read_partition_csv,
        };
    }
    /// LFWA+'s `lfw_attributes.txt`.
    pub mod lfwa {
        pub use crate::datasets::lfwa::{LfwRow, RACE_COLUMNS, read_attributes};
    }
}
