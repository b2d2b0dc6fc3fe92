//! fineface-data through Burn's data API: `DataLoaderBuilder::new(batcher).build(dataset)`
//! on SynthFace generated into a temporary folder.

#![allow(clippy::unwrap_used)] // Tests panic on failure by design.

use std::sync::Arc;

use burn::backend::Flex;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::Dataset;
use fineface_data::{
    FaceBatch, FaceBatcher, FaceDataset, FaceSample, Split, SplitConfig, SplitDataset, SynthFace,
    TransformConfig,
};

type B = Flex;

fn small() -> TransformConfig {
    TransformConfig {
        resize: 36,
        crop: 32,
        pad: 2,
        // [-1, 1], which the pixel checks below rely on.
        mean: Some([0.5; 3]),
        std: Some([0.5; 3]),
        ..TransformConfig::default()
    }
}

/// 40 SynthFace images of 40 px in a fresh temporary folder (kept while `_dir` lives).
fn synthface() -> (tempfile::TempDir, FaceDataset) {
    let dir = tempfile::tempdir().unwrap();
    let config = SynthFace {
        images: 40,
        size: 40,
        ..SynthFace::new(dir.path().join("synthface"))
    };
    let dataset = config.load(&SplitConfig::default()).unwrap();
    (dir, dataset)
}

/// Every batch of a loader, checked for shapes; returns them.
fn batches(loader: &Arc<dyn DataLoader<B, FaceBatch<B>>>) -> Vec<FaceBatch<B>> {
    let batches: Vec<FaceBatch<B>> = loader.iter().collect();
    for batch in &batches {
        let n = batch.samples.len();
        assert!(batch.skipped.is_empty());
        assert_eq!(batch.images.dims(), [n, 3, 32, 32]);
        assert_eq!(batch.targets.dims(), [n]);
    }
    batches
}

fn targets(batch: &FaceBatch<B>) -> Vec<i64> {
    batch.targets.to_data().convert::<i64>().to_vec().unwrap()
}

fn pixels(batch: &FaceBatch<B>) -> Vec<f32> {
    batch.images.to_data().to_vec().unwrap()
}

fn class(dataset: &SplitDataset, sample: &FaceSample) -> i64 {
    dataset
        .classes()
        .iter()
        .position(|c| *c == sample.target)
        .unwrap() as i64
}

#[test]
fn dataloader_batches_are_the_crates_own_transform_of_each_file() {
    let (_dir, dataset) = synthface();
    let split = dataset.dataset(Split::Train).unwrap();
    assert_eq!(split.len(), dataset.split(Split::Train).len());
    assert_eq!(split.classes(), ["no", "yes"]);
    let batcher = FaceBatcher::eval(split.classes().to_vec(), small());
    let loader = DataLoaderBuilder::new(batcher)
        .batch_size(5)
        .build(split.clone());
    let batches = batches(&loader);
    // Without shuffling, the batches are the split in order, the last one incomplete.
    let n = split.len();
    assert_eq!(batches.len(), n.div_ceil(5));
    let seen: Vec<FaceSample> = batches.iter().flat_map(|b| b.samples.clone()).collect();
    assert_eq!(seen, split.samples());
    for batch in &batches {
        let expected: Vec<i64> = batch.samples.iter().map(|s| class(&split, s)).collect();
        assert_eq!(targets(batch), expected);
        let expected: Vec<f32> = batch
            .samples
            .iter()
            .flat_map(|s| small().eval(&image::open(&s.path).unwrap()).values)
            .collect();
        assert_eq!(pixels(batch), expected);
    }
    // Both labels occur, so the targets check above compared real values.
    let all: Vec<i64> = batches.iter().flat_map(targets).collect();
    assert!(all.contains(&0) && all.contains(&1));
}

#[test]
fn dataloader_with_workers_and_the_training_transform() {
    let (_dir, dataset) = synthface();
    let split = dataset.dataset(Split::Train).unwrap();
    let classes = split.classes().to_vec();
    let train = |seed| FaceBatcher::train(classes.clone(), small(), seed);
    let loader = DataLoaderBuilder::new(train(7))
        .batch_size(4)
        .num_workers(2)
        .build(split.clone());
    let batches = batches(&loader);
    let mut files: Vec<String> = batches
        .iter()
        .flat_map(|b| b.samples.iter().map(|s| s.file.clone()))
        .collect();
    files.sort();
    let mut expected: Vec<String> = split.samples().iter().map(|s| s.file.clone()).collect();
    expected.sort();
    assert_eq!(files, expected, "every image once");
    for batch in &batches {
        let expected: Vec<i64> = batch.samples.iter().map(|s| class(&split, s)).collect();
        assert_eq!(targets(batch), expected);
        assert!(pixels(batch).iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    // One worker and one seed: the same augmentations again.
    let once = |seed| {
        let loader = DataLoaderBuilder::new(train(seed))
            .batch_size(4)
            .build(split.clone());
        loader.iter().flat_map(|b| pixels(&b)).collect::<Vec<f32>>()
    };
    assert_eq!(once(7), once(7));
    assert_ne!(once(7), once(8));
}

#[test]
fn batcher_lists_the_items_it_leaves_out() {
    let (dir, dataset) = synthface();
    let mut samples: Vec<FaceSample> = dataset.split(Split::Test)[..3].to_vec();
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"not a png").unwrap();
    samples[0].path = broken.clone();
    samples[2].target = "maybe".into();
    let batcher = FaceBatcher::eval(dataset.classes.clone(), small());
    let batch: FaceBatch<B> = batcher.batch(samples.clone(), &Default::default());
    assert_eq!(batch.images.dims(), [1, 3, 32, 32]);
    assert_eq!(batch.samples, samples[1..2]);
    let paths: Vec<_> = batch.skipped.iter().map(|b| b.path.clone()).collect();
    assert_eq!(paths, [broken, samples[2].path.clone()]);
    assert!(batch.skipped[1].message.contains("\"maybe\""));
    // All left out: an empty batch of the right rank, not a panic.
    let batch: FaceBatch<B> = batcher.batch(samples[2..].to_vec(), &Default::default());
    assert_eq!(batch.images.dims(), [0, 3, 32, 32]);
    assert_eq!(batch.targets.dims(), [0]);
}
