//! Parallel batches are reproducible and survive bad images.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::path::PathBuf;

use fineface_data::{
    BadImagePolicy, BatchLoader, DatasetConfig, FaceSample, LoaderConfig, PrepareImage, Split,
    SplitConfig, TransformConfig,
};

fn small() -> TransformConfig {
    TransformConfig {
        resize: 40,
        crop: 32,
        pad: 2,
        // [-1, 1], which the pixel checks rely on.
        mean: Some([0.5; 3]),
        std: Some([0.5; 3]),
        ..TransformConfig::default()
    }
}

#[test]
fn shared_data_utkface_batches_do_not_depend_on_the_worker_count() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/utkface");
    let dataset = DatasetConfig::with_root(fineface_data::DatasetKind::UtkFace, root)
        .load(&SplitConfig::default())
        .unwrap();
    let train = &dataset.split(Split::Train)[..50];
    let config = |workers| LoaderConfig {
        batch_size: 8,
        workers,
        ..LoaderConfig::default()
    };
    let one = BatchLoader::new(train, &dataset.classes, small(), config(1), true, 3);
    let three = BatchLoader::new(train, &dataset.classes, small(), config(3), true, 3);
    assert_eq!(one.n_batches(), 6, "the incomplete last batch is dropped");
    let (a, bad) = one.batch(1, 2).unwrap();
    let (b, _) = three.batch(1, 2).unwrap();
    assert!(bad.is_empty());
    assert_eq!(a, b);
    assert_eq!(a.len(), 8);
    assert_eq!(a.images.len(), 8 * 3 * 32 * 32);
    assert!(a.images.iter().all(|v| (-1.0..=1.0).contains(v)));
    // Targets follow the samples.
    for (&i, &t) in a.indices.iter().zip(&a.targets) {
        assert_eq!(dataset.classes[t], train[i].target);
    }
    // Another epoch, another order and other augmentations.
    assert_ne!(one.order(1), one.order(2));
    let eval = BatchLoader::new(
        train,
        &dataset.classes,
        small(),
        LoaderConfig {
            drop_last: false,
            ..config(2)
        },
        false,
        3,
    );
    assert_eq!(eval.n_batches(), 7);
    assert_eq!(eval.order(5), (0..50).collect::<Vec<_>>());
    assert_eq!(eval.batch(0, 6).unwrap().0.len(), 2);
}

#[test]
fn undecodable_images_are_skipped_and_counted_or_stop_the_run() {
    let dir = std::env::temp_dir().join(format!("fineface-loader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.png");
    image::RgbImage::from_pixel(10, 10, image::Rgb([200, 10, 10]))
        .save(&good)
        .unwrap();
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let sample = |path: PathBuf| FaceSample {
        file: path.display().to_string(),
        path,
        target: "a".into(),
        sensitive: vec!["g".into()],
    };
    let samples = vec![sample(good.clone()), sample(empty.clone()), sample(good)];
    let classes = vec!["a".to_owned()];
    let config = LoaderConfig {
        batch_size: 3,
        ..LoaderConfig::default()
    };
    let loader = BatchLoader::new(&samples, &classes, small(), config.clone(), false, 0);
    let (batch, bad) = loader.batch(0, 0).unwrap();
    assert_eq!(batch.indices, vec![0, 2]);
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].path, empty);
    let strict = LoaderConfig {
        bad_images: BadImagePolicy::Error,
        ..config
    };
    let error = BatchLoader::new(&samples, &classes, small(), strict, false, 0)
        .batch(0, 0)
        .unwrap_err();
    assert_eq!(error.path, empty);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fresh folder with `n` small PNGs, and one sample per image labelled `targets[i]`.
fn pngs(name: &str, targets: &[&str]) -> (PathBuf, Vec<FaceSample>) {
    let dir = std::env::temp_dir().join(format!("fineface-loader-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let samples = targets
        .iter()
        .enumerate()
        .map(|(i, target)| {
            let path = dir.join(format!("{i}.png"));
            image::RgbImage::from_pixel(10, 10, image::Rgb([40 * i as u8, 10, 10]))
                .save(&path)
                .unwrap();
            FaceSample {
                file: format!("{i}.png"),
                path,
                target: (*target).to_owned(),
                sensitive: vec!["g".into()],
            }
        })
        .collect();
    (dir, samples)
}

#[test]
fn an_unknown_target_is_an_error_naming_the_file_the_value_and_the_classes() {
    let (dir, samples) = pngs("unknown-target", &["a", "b", "typo"]);
    let classes = vec!["a".to_owned(), "b".to_owned()];
    let config = LoaderConfig {
        batch_size: 3,
        ..LoaderConfig::default()
    };
    let loader = BatchLoader::new(&samples, &classes, small(), config, false, 0);
    // Before the fix, the batch came back with the third image as class 0 ("a").
    let error = loader.batch(0, 0).unwrap_err();
    assert_eq!(error.path, samples[2].path);
    for part in ["2.png", "\"typo\"", "a, b"] {
        assert!(error.message.contains(part), "{part} in {}", error.message);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_panicking_decode_loses_no_image_silently() {
    // `crop = 0` makes the transform panic (a zero-sized chunk) in every decode thread.
    let (dir, samples) = pngs("panic", &["a", "a", "a", "a"]);
    let classes = vec!["a".to_owned()];
    let broken = TransformConfig { crop: 0, ..small() };
    let config = LoaderConfig {
        batch_size: 4,
        workers: 2,
        ..LoaderConfig::default()
    };
    let loader = BatchLoader::new(&samples, &classes, broken.clone(), config.clone(), false, 0);
    // Before the fix: an empty batch and no bad image, as if the split had no images.
    let (batch, bad) = loader.batch(0, 0).unwrap();
    assert!(batch.is_empty());
    let lost: Vec<&PathBuf> = bad.iter().map(|b| &b.path).collect();
    assert_eq!(lost, samples.iter().map(|s| &s.path).collect::<Vec<_>>());
    assert!(bad[0].message.contains("panicked"), "{}", bad[0].message);
    let strict = LoaderConfig {
        bad_images: BadImagePolicy::Error,
        ..config
    };
    let error = BatchLoader::new(&samples, &classes, broken, strict, false, 0)
        .batch(0, 0)
        .unwrap_err();
    assert_eq!(error.path, samples[0].path);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Keeps images whose red value is below 100, painted white; refuses the others; panics on
/// pure black.
struct WhiteOrRefuse;

impl PrepareImage for WhiteOrRefuse {
    fn prepare(&self, image: image::DynamicImage) -> Result<image::DynamicImage, String> {
        let red = image.to_rgb8().get_pixel(0, 0)[0];
        assert!(red != 0, "a black image");
        if red < 100 {
            let (w, h) = (image.width(), image.height());
            Ok(image::RgbImage::from_pixel(w, h, image::Rgb([255; 3])).into())
        } else {
            Err(format!("red {red} is too much"))
        }
    }
}

#[test]
fn a_prepare_step_changes_refuses_or_panics_per_image_and_loses_none() {
    // Reds 0 (panics), 40 and 80 (white), 120 and 160 (refused).
    let (dir, samples) = pngs("prepare", &["a"; 5]);
    let classes = vec!["a".to_owned()];
    let config = LoaderConfig {
        batch_size: 5,
        workers: 3,
        ..LoaderConfig::default()
    };
    let loader = BatchLoader::new(&samples, &classes, small(), config, false, 0)
        .with_prepare(&WhiteOrRefuse);
    let (batch, bad) = loader.batch(0, 0).unwrap();
    assert_eq!(batch.indices, [1, 2]);
    // White is (1 - 0.5) / 0.5 = 1 after the transform, everywhere.
    assert!(batch.images.iter().all(|&v| (v - 1.0).abs() < 1e-6));
    let reasons: Vec<(&PathBuf, &str)> =
        bad.iter().map(|b| (&b.path, b.message.as_str())).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons[0].0 == &samples[0].path && reasons[0].1.contains("panicked"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1], (&samples[3].path, "red 120 is too much"));
    assert_eq!(reasons[2], (&samples[4].path, "red 160 is too much"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_dataset_kind_is_one_with_root_knows_and_names_back() {
    for kind in fineface_data::DatasetKind::ALL {
        let config = fineface_data::DatasetConfig::with_root(kind, "root".into());
        assert_eq!(config.kind(), kind);
        assert_eq!(kind.name().parse::<fineface_data::DatasetKind>(), Ok(kind));
    }
    assert!("imdb".parse::<fineface_data::DatasetKind>().is_err());
}
