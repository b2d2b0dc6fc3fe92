//! The splits as Burn datasets (`burn_dataset::Dataset<FaceSample>`).

use burn_dataset::Dataset;

use crate::error::Result;
use crate::sample::{FaceDataset, FaceSample, Split, class_index};

/// One split of a [`FaceDataset`] as a Burn [`Dataset`] of [`FaceSample`]s, with the class
/// list its targets index into.
///
/// Every dataset kind of this crate (FairFace, UTKFace, CelebA, LFWA+, manifest,
/// ImageFolder, SynthFace) loads into a [`FaceDataset`], whose splits are these
/// ([`FaceDataset::dataset`]). Items are whole samples, so the sensitive attributes travel
/// with them into the batch. It owns its samples (Burn's data loader keeps its dataset for
/// `'static`) and checks on creation that every target is one of the classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitDataset {
    samples: Vec<FaceSample>,
    classes: Vec<String>,
}

impl SplitDataset {
    /// The samples with the class list their targets index into.
    ///
    /// # Errors
    /// [`DataError::UnknownTarget`](crate::DataError::UnknownTarget) for the first sample
    /// whose target is not in `classes`.
    pub fn new(samples: Vec<FaceSample>, classes: Vec<String>) -> Result<Self> {
        for sample in &samples {
            class_index(&classes, sample)?;
        }
        Ok(Self { samples, classes })
    }

    /// The samples, in the split's order.
    pub fn samples(&self) -> &[FaceSample] {
        &self.samples
    }

    /// The target labels; a sample's class is its target's position here.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }
}

impl Dataset<FaceSample> for SplitDataset {
    fn get(&self, index: usize) -> Option<FaceSample> {
        self.samples.get(index).cloned()
    }

    fn len(&self) -> usize {
        self.samples.len()
    }
}

impl FaceDataset {
    /// One split as a Burn [`Dataset`]: a copy of its samples, with the dataset's classes.
    ///
    /// # Errors
    /// [`DataError::UnknownTarget`](crate::DataError::UnknownTarget) when a sample's target
    /// is not one of [`classes`](FaceDataset::classes), which only a hand-built dataset can
    /// have.
    pub fn dataset(&self, split: Split) -> Result<SplitDataset> {
        SplitDataset::new(self.split(split).to_vec(), self.classes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DataError;

    fn sample(file: &str, target: &str) -> FaceSample {
        FaceSample {
            path: format!("/r/{file}").into(),
            file: file.to_owned(),
            target: target.to_owned(),
            sensitive: vec!["g".to_owned()],
        }
    }

    #[test]
    fn a_split_is_a_burn_dataset_of_its_samples() {
        let samples = vec![sample("0.jpg", "b"), sample("1.jpg", "a")];
        let classes = vec!["a".to_owned(), "b".to_owned()];
        let dataset = SplitDataset::new(samples.clone(), classes).unwrap();
        assert_eq!(Dataset::len(&dataset), 2);
        assert_eq!(dataset.get(1), Some(samples[1].clone()));
        assert_eq!(dataset.get(2), None);
        assert_eq!(dataset.iter().collect::<Vec<_>>(), samples);
    }

    #[test]
    fn an_unknown_target_is_refused_with_the_file_the_value_and_the_classes() {
        let samples = vec![sample("0.jpg", "a"), sample("1.jpg", "c")];
        let error = SplitDataset::new(samples, vec!["a".to_owned(), "b".to_owned()]).unwrap_err();
        assert!(
            matches!(&error, DataError::UnknownTarget { file, value, .. } if file == "1.jpg" && value == "c"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "1.jpg: unknown target label \"c\" (known classes: a, b)"
        );
    }
}
