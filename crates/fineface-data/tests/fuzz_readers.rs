//! Property tests of every reader of this crate (issue 27): on arbitrary bytes and on real
//! files from `../shared/data` with bytes flipped, inserted, deleted or cut, each reader
//! returns its value or a typed error that names the file; none panics.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::{Path, PathBuf};

use fineface_data::formats::{celeba, fairface, lfwa, utkface};
use fineface_data::{Manifest, SplitConfig, image_size, open_image};
use proptest::prelude::*;

#[path = "../../../tests/support/edits.rs"]
mod edits;

use edits::{config, input};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");

/// The first `lines` lines of a real file of the shared data.
fn real_head(path: &str, lines: usize) -> Vec<u8> {
    let path = Path::new(SHARED).join(path);
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared data sits beside the repo)",
            path.display()
        )
    });
    let end = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(lines - 1)
        .map_or(text.len(), |(i, _)| i + 1);
    text[..end].to_vec()
}

/// `bytes` in a fresh file named `name`.
fn written(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A failure must name the file it read.
fn names_file<T>(
    result: Result<T, impl std::fmt::Display>,
    path: &Path,
) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let message = e.to_string();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        prop_assert!(message.contains(&name), "{message}");
    }
    Ok(())
}

/// A reader's error says something (loaders and `predict` put the path before an image's
/// error, as `BadImage` and `<path>: <error>`): typed, and not empty.
fn says_why<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn celeba_attributes(bytes in input(real_head("celeba/list_attr_celeba.txt", 12))) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "list_attr_celeba.txt", &bytes);
        names_file(celeba::read_attributes(&path), &path)?;
    }

    #[test]
    fn celeba_partition(bytes in input(real_head("celeba/list_eval_partition.txt", 12))) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "list_eval_partition.txt", &bytes);
        names_file(celeba::read_partition(&path), &path)?;
    }

    #[test]
    fn fairface_labels(
        bytes in input(real_head("fairface-labels-only/fairface_label_val.csv", 12))
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "fairface_label_val.csv", &bytes);
        names_file(fairface::read_labels(&path), &path)?;
    }

    #[test]
    fn lfwa_attributes(bytes in input(
        b"# created 2009\n#\tperson\timagenum\tMale\tAsian\tWhite\tBlack\n\
          Aaron Eckhart\t1\t1.56\t-1.8\t1.7\t-2.0\nZhu Rongji\t1\t1.2\t2.4\t-0.3\t-1.9\n".to_vec()
    )) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "lfw_attributes.txt", &bytes);
        names_file(lfwa::read_attributes(&path), &path)?;
    }

    #[test]
    fn utkface_names(name in prop_oneof![
        any::<String>(),
        "[0-9]{1,3}_[0-9]_[0-9]_[0-9]{17}\\.jpg(\\.chip\\.jpg)?",
    ]) {
        // Ok or a reason, never a panic (a name is not a file: nothing to name).
        let _ = utkface::parse_name(&name);
    }

    #[test]
    fn manifests(bytes in input(
        b"path,gender,race\nimages/a.jpg,Male,White\nimages/b.jpg,Female,Black\n".to_vec()
    )) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "manifest.csv", &bytes);
        let loaded = Manifest::new(dir.path().to_owned()).load(&SplitConfig::default());
        names_file(loaded, &path)?;
    }

    #[test]
    fn images(bytes in input(real_head(
        "utkface/UTKFace/18_0_1_20170113175821404.jpg.chip.jpg",
        usize::MAX,
    ))) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "photo.jpg", &bytes);
        says_why(image_size(&path).map(|_| ()))?;
        says_why(open_image(&path).map(|_| ()))?;
    }
}

/// A small real PNG (our own chunk walker reads PNGs before the decoder does).
fn png() -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(16, 12, |x, y| image::Rgb([x as u8 * 15, y as u8 * 20, 90]));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pngs(bytes in input(png())) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "chip.png", &bytes);
        says_why(image_size(&path).map(|_| ()))?;
        says_why(open_image(&path).map(|_| ()))?;
    }
}

#[path = "../../../tests/support/variants.rs"]
mod variants;

/// Every variant of the real FairFace CSV's head (`tests/support/variants.rs`: UTF-16,
/// semicolons, quoting, ...), one of them picked by the case, then mutated.
fn fairface_variant() -> impl Strategy<Value = Vec<u8>> {
    let head = String::from_utf8(real_head("fairface-labels-only/fairface_label_val.csv", 12))
        .unwrap()
        .replace('\r', "");
    let all: Vec<Vec<u8>> = variants::csv_variants(&head, "race")
        .into_iter()
        .map(|v| v.bytes)
        .collect();
    (0..all.len()).prop_flat_map(move |i| input(all[i].clone()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fairface_label_variants_mutated(bytes in fairface_variant()) {
        let dir = tempfile::tempdir().unwrap();
        let path = written(dir.path(), "fairface_label_val.csv", &bytes);
        names_file(fairface::read_labels(&path), &path)?;
    }

    /// The FairFace loader as a whole: both CSVs, the images looked for on disk.
    #[test]
    fn fairface_datasets(bytes in fairface_variant()) {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path(), "fairface_label_train.csv", &bytes);
        written(dir.path(), "fairface_label_val.csv", &real_head(
            "fairface-labels-only/fairface_label_val.csv", 4,
        ));
        std::fs::create_dir(dir.path().join("val")).unwrap();
        says_why(
            fineface_data::FairFace::new(dir.path().to_owned()).load(&SplitConfig::default()),
        )?;
    }

    /// The CelebA loader as a whole, its attribute table mutated.
    #[test]
    fn celeba_datasets(bytes in input(real_head("celeba/list_attr_celeba.txt", 12))) {
        let dir = tempfile::tempdir().unwrap();
        written(dir.path(), "list_attr_celeba.txt", &bytes);
        written(dir.path(), "list_eval_partition.txt", &real_head(
            "celeba/list_eval_partition.txt", 10,
        ));
        std::fs::create_dir(dir.path().join("img_align_celeba")).unwrap();
        says_why(
            fineface_data::CelebA::new(dir.path().to_owned()).load(&SplitConfig::default()),
        )?;
    }
}
