//! The one data path: files -> [`FaceSample`] -> batches -> predictions -> fairness report.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

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
    /// The split it was listed in, where the dataset lists one (a manifest's `split`
    /// column, FairFace's two CSVs, CelebA's partition file, ImageFolder's split folders);
    /// `None` where the splits are carved after reading.
    pub split: Option<Split>,
    /// For a listed file that is not there, how it was lost ([`Lost`]): what the layout
    /// checks read, never the reason's words. Not written with the reason.
    #[serde(skip)]
    pub lost: Option<Lost>,
}

/// How a listed file was lost, where it matters to the layout checks: a label file whose
/// paths are all absent or outside the folder is read against the wrong folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// Listed, but nothing of that name is there.
    Absent,
    /// The path leaves the dataset folder (absolute elsewhere, `../`, another drive).
    OutsideRoot,
}

impl Skipped {
    /// The file as an evaluation's report lists it.
    pub fn as_bad_image(&self) -> crate::BadImage {
        crate::BadImage {
            path: self.file.clone().into(),
            message: self.reason.clone(),
        }
    }
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

    /// The split a manifest's cell or a folder names, as the tools that write them spell it:
    /// `train`, `training`; `val`, `valid` (Roboflow), `validation`, `dev`; `test`,
    /// `testing`; in any case. `None` for anything else.
    pub fn parse(name: &str) -> Option<Split> {
        match name.to_ascii_lowercase().as_str() {
            "train" | "training" => Some(Split::Train),
            "val" | "valid" | "validation" | "dev" => Some(Split::Val),
            "test" | "testing" => Some(Split::Test),
            _ => None,
        }
    }

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

    /// The files the reader left out that may belong to `split`, as [`BadImage`]s for its
    /// report: those listed in it, and those of a dataset whose splits are carved after
    /// reading (which split they would have had is unknown).
    ///
    /// [`BadImage`]: crate::BadImage
    pub fn skipped_from(&self, split: Split) -> Vec<crate::BadImage> {
        self.skipped
            .iter()
            .filter(|s| s.split.is_none_or(|s| s == split))
            .map(Skipped::as_bad_image)
            .collect()
    }

    /// Number of usable samples over all splits.
    pub fn len(&self) -> usize {
        self.splits.values().map(Vec::len).sum()
    }

    /// Whether no sample is usable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What makes the target unlearnable from the train split: one class only, or classes
    /// that validation or test hold and training does not (an official split, or labels
    /// a manifest gives only its test rows). Empty when training can learn every class.
    pub fn class_problems(&self) -> Vec<ClassProblem> {
        let train: BTreeSet<&str> = self
            .split(Split::Train)
            .iter()
            .map(|s| s.target.as_str())
            .collect();
        let mut problems = Vec::new();
        if let [class] = train.iter().collect::<Vec<_>>()[..] {
            problems.push(ClassProblem::OneClass {
                class: (*class).to_owned(),
            });
        }
        // Each training class by what it looks like, to name the one an unseen class
        // looks like (`Male` in test, `male` or `mаle` in train: two classes to a reader).
        let train_by_look: BTreeMap<String, &str> = train
            .iter()
            .map(|t| (fineface_text::look_key(t), *t))
            .collect();
        for split in [Split::Val, Split::Test] {
            let mut unseen: BTreeMap<&str, usize> = BTreeMap::new();
            for sample in self.split(split) {
                if !train.contains(sample.target.as_str()) {
                    *unseen.entry(&sample.target).or_default() += 1;
                }
            }
            problems.extend(unseen.into_iter().map(|(class, images)| {
                ClassProblem::NotInTrain {
                    class: class.to_owned(),
                    split,
                    images,
                    like: train_by_look
                        .get(&fineface_text::look_key(class))
                        .and_then(|t| {
                            let how = fineface_text::look_alike(class, t)?;
                            Some(LikeClass {
                                class: (*t).to_owned(),
                                how: how.to_string(),
                            })
                        }),
                }
            }));
        }
        problems.extend(self.look_alike_classes(&problems));
        problems
    }

    /// Two classes that look the same (`male` and `Male`, or `mаle` with a Cyrillic `а`;
    /// class folders, codes read as names) but that a classifier tells apart, each pair
    /// once; pairs [`ClassProblem::NotInTrain`] names already are left to it.
    fn look_alike_classes(&self, said: &[ClassProblem]) -> Vec<ClassProblem> {
        let named: BTreeSet<&str> = said
            .iter()
            .filter_map(|p| match p {
                ClassProblem::NotInTrain {
                    class,
                    like: Some(_),
                    ..
                } => Some(class.as_str()),
                _ => None,
            })
            .collect();
        let mut by_look: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for class in self.classes.iter().filter(|c| !named.contains(c.as_str())) {
            by_look
                .entry(fineface_text::look_key(class))
                .or_default()
                .push(class);
        }
        by_look
            .into_values()
            .filter_map(|alike| match alike[..] {
                [first, second, ..] => Some(ClassProblem::LookAlike {
                    first: first.to_owned(),
                    second: second.to_owned(),
                    how: fineface_text::look_alike(first, second)?.to_string(),
                }),
                _ => None,
            })
            .collect()
    }

    /// The classes whose every training image is lost, by `is_decoded` (false for an image
    /// whose header or pixels do not read): [`ClassProblem::Undecodable`] with the images
    /// listed, in class order.
    pub fn classes_lost(&self, is_decoded: impl Fn(&FaceSample) -> bool) -> Vec<ClassProblem> {
        let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
        let mut decoded: BTreeSet<&str> = BTreeSet::new();
        for sample in self.split(Split::Train) {
            *listed.entry(&sample.target).or_default() += 1;
            if is_decoded(sample) {
                decoded.insert(&sample.target);
            }
        }
        listed
            .into_iter()
            .filter(|(class, _)| !decoded.contains(class))
            .map(|(class, images)| ClassProblem::Undecodable {
                class: class.to_owned(),
                images,
            })
            .collect()
    }
}

/// A training class that looks the same as another split's class ([`ClassProblem::NotInTrain`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikeClass {
    /// The training class (`male`).
    pub class: String,
    /// How they differ ([`fineface_text::LookAlike`]): `only in letter case`, `in U+0430
    /// against U+0061, which look alike`.
    pub how: String,
}

/// Why a dataset's target cannot be learned from its train split
/// ([`FaceDataset::class_problems`]): training refuses it, `data check` warns of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClassProblem {
    /// The train split holds one class: there is nothing to tell it from.
    OneClass {
        /// The one class.
        class: String,
    },
    /// A class of validation or test has no training image: the model's output for it is
    /// never trained, and its images are all misclassified.
    NotInTrain {
        /// The class.
        class: String,
        /// Where it is.
        split: Split,
        /// Its images there.
        images: usize,
        /// A training class that looks the same (`male` for `Male`, or for `mаle` with a
        /// Cyrillic `а`).
        like: Option<LikeClass>,
    },
    /// Two classes look the same but are two to a classifier (`male` and `Male` as class
    /// folders).
    LookAlike {
        /// One of them.
        first: String,
        /// The other.
        second: String,
        /// How they differ ([`fineface_text::LookAlike`]).
        how: String,
    },
    /// Every training image of a class failed to decode (found while training).
    Undecodable {
        /// The class.
        class: String,
        /// Its training images, all undecodable.
        images: usize,
    },
}

impl std::fmt::Display for ClassProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OneClass { class } => write!(
                f,
                "the train split holds one class of the target, `{class}`: a classifier needs \
                 two or more (choose another target, or add images of the other classes)"
            ),
            Self::NotInTrain {
                class,
                split,
                images,
                like: Some(like),
            } => write!(
                f,
                "class `{class}` has {images} image(s) in the {} split but none in train, \
                 where `{}` differs from it {}: two classes to a classifier; spell them one \
                 way (the folder or the label)",
                split.name(),
                like.class,
                like.how
            ),
            Self::NotInTrain {
                class,
                split,
                images,
                like: None,
            } => write!(
                f,
                "class `{class}` has {images} image(s) in the {} split but none in train: the \
                 model cannot learn it (add training images of it, or leave its rows out)",
                split.name()
            ),
            Self::LookAlike { first, second, how } => write!(
                f,
                "classes `{first}` and `{second}` look the same but differ {how}: two classes \
                 to a classifier; spell them one way (the folder or the label)"
            ),
            Self::Undecodable { class, images } => write!(
                f,
                "none of the {images} training image(s) of class `{class}` decodes, so the \
                 model cannot learn it (replace the files; the run's log names each)"
            ),
        }
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
