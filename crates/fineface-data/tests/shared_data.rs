//! The real samples in `../shared/data` (CI has them beside the clone): counts as stated in
//! `../shared/data/README.md`.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fineface_data::{CelebA, DataCheck, DatasetConfig, FaceDataset, Split, SplitConfig};

fn shared_data() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        dir.is_dir(),
        "{} is missing: these tests need ../shared/data",
        dir.display()
    );
    dir
}

fn all_groups(dataset: &FaceDataset) -> BTreeMap<String, usize> {
    let mut groups = BTreeMap::new();
    for split in Split::ALL {
        for s in dataset.split(split) {
            *groups.entry(s.group()).or_insert(0) += 1;
        }
    }
    groups
}

#[test]
fn shared_data_utkface_sample_has_3000_images_300_per_group() {
    let config = DatasetConfig::with_root(
        fineface_data::DatasetKind::UtkFace,
        shared_data().join("utkface"),
    );
    let dataset = config.load(&SplitConfig::default()).unwrap();
    assert_eq!(dataset.len(), 3000);
    assert!(dataset.skipped.is_empty(), "{:?}", dataset.skipped);
    let groups = all_groups(&dataset);
    assert_eq!(groups.len(), 10);
    assert!(groups.values().all(|&n| n == 300), "{groups:?}");
    assert!(groups.contains_key("Others|Female") && groups.contains_key("White|Male"));
    // Carved 70/10/20 (test 20 % of all, val 10 % of the rest), stratified: each of the 20
    // target x group strata (gender is the target and a group part) splits alike.
    let sizes: Vec<usize> = Split::ALL.iter().map(|s| dataset.split(*s).len()).collect();
    assert_eq!(sizes, vec![2160, 240, 600]);
    let mut files: Vec<&str> = Split::ALL
        .iter()
        .flat_map(|s| dataset.split(*s).iter().map(|x| x.file.as_str()))
        .collect();
    files.sort();
    files.dedup();
    assert_eq!(files.len(), 3000, "every image in exactly one split");
    // The same seed gives the same split.
    assert_eq!(config.load(&SplitConfig::default()).unwrap(), dataset);

    let check = DataCheck::new(&dataset, true);
    assert_eq!(
        check.image_sizes,
        BTreeMap::from([("200x200".to_owned(), 3000)])
    );
    assert_eq!(check.splits["test"].groups["Black|Female"], 60);
    assert!(check.unusable_reason().is_none());
}

#[test]
fn shared_data_celeba_sample_has_4000_images_gender_balanced() {
    let root = shared_data().join("celeba");
    let dataset = CelebA {
        root: root.clone(),
        target: "Smiling".into(),
        sensitive: vec!["Male".into(), "Young".into()],
    }
    .load(&SplitConfig::default())
    .unwrap();
    assert_eq!(dataset.len(), 4000);
    assert!(dataset.skipped.is_empty());
    let groups = all_groups(&dataset);
    let expected = BTreeMap::from([
        ("Female|Young".to_owned(), 1755),
        ("Female|Not_Young".to_owned(), 245),
        ("Male|Young".to_owned(), 1313),
        ("Male|Not_Young".to_owned(), 687),
    ]);
    assert_eq!(groups, expected);
    // Smiling: F 1096/904, M 781/1219.
    let smiling_female = Split::ALL
        .iter()
        .flat_map(|s| dataset.split(*s))
        .filter(|s| s.sensitive[0] == "Female" && s.target == "Smiling")
        .count();
    assert_eq!(smiling_female, 1096);
    // Every image of the sample is partition 0: val and test are carved from it.
    assert!(!dataset.split(Split::Val).is_empty() && !dataset.split(Split::Test).is_empty());

    let gender = DatasetConfig::with_root(fineface_data::DatasetKind::CelebA, root);
    let dataset = gender.load(&SplitConfig::default()).unwrap();
    let check = DataCheck::new(&dataset, true);
    let total: BTreeMap<String, usize> =
        check.splits.values().fold(BTreeMap::new(), |mut acc, s| {
            for (g, n) in &s.groups {
                *acc.entry(g.clone()).or_insert(0) += n;
            }
            acc
        });
    assert_eq!(
        total,
        BTreeMap::from([("Female".to_owned(), 2000), ("Male".to_owned(), 2000)])
    );
    assert_eq!(
        check.image_sizes,
        BTreeMap::from([("89x109".to_owned(), 4000)])
    );
}

#[test]
fn shared_data_fairface_label_csvs_parse_in_full_and_absent_images_are_reported() {
    let root = shared_data().join("fairface-labels-only");
    let train =
        fineface_data::formats::fairface::read_labels(&root.join("fairface_label_train.csv"))
            .unwrap();
    let val = fineface_data::formats::fairface::read_labels(&root.join("fairface_label_val.csv"))
        .unwrap();
    assert_eq!((train.len(), val.len()), (86_744, 10_954));
    assert_eq!(train.iter().filter(|r| r.race == "White").count(), 16_527);
    assert_eq!(
        train.iter().filter(|r| r.race == "Middle Eastern").count(),
        9_216
    );
    assert_eq!(
        train
            .iter()
            .filter(|r| r.service_test == Some(true))
            .count(),
        40_252
    );

    // Labels without their images: refused, saying what the folder holds, rather than a
    // dataset of 97,698 absent images.
    let e = DatasetConfig::with_root(fineface_data::DatasetKind::FairFace, root)
        .load(&SplitConfig::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(
            "fairface: no image listed in fairface_label_train.csv and fairface_label_val.csv \
             (97698 listed, the first `train/1.jpg`) in "
        ) && e.contains("holds 2 files such as fairface_label_train.csv, fairface_label_val.csv"),
        "{e}"
    );
}
