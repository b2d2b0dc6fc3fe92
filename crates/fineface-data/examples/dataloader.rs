//! fineface-data through Burn's `DataLoader`: one epoch of a split's batches.
//!
//! ```sh
//! cargo run --release -p fineface-data --features burn --example dataloader -- \
//!     --kind utkface --root ../shared/data/utkface
//! ```
//! Prints the shape of each batch and the images left out.

#![allow(clippy::print_stdout)] // The batch shapes are this program's output.

use std::path::PathBuf;

use burn::backend::Flex;
use burn::data::dataloader::DataLoaderBuilder;
use clap::Parser;
use fineface_data::{DatasetConfig, FaceBatcher, Split, SplitConfig, TransformConfig};

#[derive(Parser)]
struct Args {
    /// Dataset kind (`utkface`, `fairface`, `celeba`, `lfwa`, `manifest`, `imagefolder`,
    /// `synthface`).
    #[arg(long, default_value = "synthface")]
    kind: fineface_data::DatasetKind,
    /// The dataset's folder.
    #[arg(long, default_value = "data/synthface")]
    root: PathBuf,
    /// Images per batch.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Loader threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = DatasetConfig::with_root(args.kind, args.root.clone());
    let faces = config.load(&SplitConfig::default())?;
    let train = faces.dataset(Split::Train)?; // a burn Dataset<FaceSample>
    let transform = TransformConfig {
        resize: 230,
        crop: 224,
        ..TransformConfig::default()
    };
    let batcher = FaceBatcher::train(faces.classes.clone(), transform, 42);
    let loader = DataLoaderBuilder::<Flex, _, _>::new(batcher)
        .batch_size(args.batch_size)
        .shuffle(42)
        .num_workers(args.workers)
        .build(train);
    for (k, batch) in loader.iter().enumerate() {
        // images [n, 3, 224, 224]; targets [n], class indices into faces.classes.
        println!(
            "batch {k}: images {:?}, targets {:?}, left out {}",
            batch.images.dims(),
            batch.targets.dims(),
            batch.skipped.len()
        );
        for bad in &batch.skipped {
            println!("  {}: {}", bad.path.display(), bad.message);
        }
    }
    Ok(())
}
